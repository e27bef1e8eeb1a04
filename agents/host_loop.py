"""The host-stepped off-policy loop: gymnasium MuJoCo on the host, the fused loop's agent code on the device.

One Python loop over env steps drives every run at once. The host steps one gymnasium env per
(run, parallel env); then one jitted call, vmapped over runs, learns from that step
(`LoopParts.learn`: store the transitions in the on-device replay buffer, update the RSNorm
statistics, do the gradient updates, count episodes and NaNs) and acts for the next one
(`LoopParts.act`). Only the actions [runs, num_envs, action_dim] come back to the host and only
the Timesteps go out; the buffer never leaves the device. Divergence freezing and the period's
metrics are the fused loop's own pieces. Evaluation runs the deterministic policy on separate
gymnasium envs reset from the same seeds at every evaluation (as the fused loop reuses its eval keys).

Seeds: env i of the run with seed s is seeded from (s, i) alone, so runs are independent of each
other and of how many run at once, and the same seed replays the same episodes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import envs
from agents import batching
from agents.common import ConfigError
from agents.off_policy import LoopParts, PeriodCarry, RunState, TrainConfig, make_parts

TRAINING, EVALUATION = 0, 1


def env_seeds(seed: int, count: int, purpose: int) -> list[int]:
    """The gymnasium seeds of `count` envs of the run with `seed` (any integer), for TRAINING or EVALUATION."""
    return [int(s) for s in np.random.SeedSequence([seed % 2**64, purpose]).generate_state(count)]


class HostLoop(NamedTuple):
    """A host-stepped run's pieces; `on_runs` batches them over runs for train.py."""

    config: TrainConfig
    env: envs.HostEnv
    parts: LoopParts

    def on_runs(self, hp: Any, keys: jax.Array, seeds: list[int], mesh) -> HostRuns:
        """The loop over a runs axis (hp, keys: leading [num_runs]; seeds: one per run), sharded over `mesh`."""
        return HostRuns(self, hp, keys, seeds, mesh)


def make_host_loop(config: TrainConfig) -> HostLoop:
    env = envs.make(config.env)
    if not isinstance(env, envs.HostEnv):
        raise ConfigError(f"{config.env} is a jittable env: use the fused loop, agents.off_policy.make_loop")
    return HostLoop(config, env, make_parts(config, env.spec))


class HostRuns:
    """Every run of a host-stepped loop, stepped together: see agents.loop.Runs."""

    def __init__(self, loop: HostLoop, hp: Any, keys: jax.Array, seeds: list[int], mesh):
        config, parts, spec = loop.config, loop.parts, loop.env.spec
        self.config, self.env, self.hp, self.keys, self.seeds = config, loop.env, hp, keys, seeds
        num_runs = self.num_runs = len(seeds)
        self.sharded, self.replicated = batching.run_sharding(mesh), batching.replicated(mesh)
        self.actions = None
        """The actions of the next iteration, [num_runs, num_envs, action_dim] on the device."""

        def init(hp, key, obs) -> tuple[RunState, jax.Array]:
            """-> (the run, its actions for iteration 0)"""
            run = parts.init(hp, key, lambda env_key: (None, obs))
            key, act_key = jax.random.split(run.key)
            return run.replace(key=key), parts.act(run, jnp.zeros((), jnp.int32), act_key)

        def step(carry: PeriodCarry, actions, timestep, iteration_index, hp) -> tuple[PeriodCarry, jax.Array]:
            """Learns from iteration `iteration_index` and acts for the next one."""
            key, update_key, act_key = jax.random.split(carry.run.key, 3)
            carry = carry._replace(run=carry.run.replace(key=key))
            carry = parts.learn(carry, actions, timestep, iteration_index, hp, update_key)
            return carry, parts.act(carry.run, iteration_index + 1, act_key)

        def resume(run: RunState, obs, iteration_index) -> tuple[RunState, jax.Array]:
            """-> (the restored run on freshly reset envs, its actions for iteration `iteration_index`)"""
            key, act_key = jax.random.split(run.key)
            run = run.replace(obs=obs, key=key)
            return run, parts.act(run, iteration_index, act_key)

        def close_period(start: RunState, carry: PeriodCarry, period) -> tuple[RunState, PeriodCarry]:
            """-> (the run, frozen at its start if it diverged; the carry without its run, for the metrics)"""
            return parts.end_period(start, carry, period), carry._replace(run=None)

        def eval_act(run: RunState, obs):
            return parts.policy(run, obs, run.key, True)

        runs = lambda fn, in_axes=0: batching.vmap_runs(fn, num_runs, in_axes)  # noqa: E731
        self.init_fn = runs(init)
        self.resume_fn = runs(resume, (0, 0, None))
        self.start_period_fn = runs(parts.start_period)
        self.step_fn = runs(step, (0, 0, 0, None, 0))
        self.close_period_fn = runs(close_period, (0, 0, None))
        self.eval_act_fn = runs(eval_act)
        self.period_metrics_fn = runs(parts.period_metrics, (0, 0, 0, 0, None))

        self.obs_shape = jax.ShapeDtypeStruct((num_runs, config.num_envs, *spec.obs_shape), jnp.float32)
        self.state_shape = jax.eval_shape(self.init_fn, hp, keys, self.obs_shape)[0]

    def compile(self) -> None:
        """Compiles every jitted piece and builds the gymnasium envs (one per run and env)."""
        config, sharded, replicated = self.config, self.sharded, self.replicated
        self.hp, self.keys = jax.device_put(self.hp, sharded), jax.device_put(self.keys, sharded)
        index = jax.ShapeDtypeStruct((), jnp.int32)

        def compiled(fn, *shapes, replicated_args=(), donate=()):
            shardings = tuple(replicated if i in replicated_args else sharded for i in range(len(shapes)))
            jitted = jax.jit(fn, in_shardings=shardings, out_shardings=sharded, donate_argnums=donate)
            return jitted.lower(*shapes).compile()

        state, hp = self.state_shape, self.hp
        carry = jax.eval_shape(self.start_period_fn, state, hp)
        actions = jax.ShapeDtypeStruct((self.num_runs, config.num_envs, self.env.spec.action_dim), jnp.float32)
        timestep = envs.Timestep(
            obs=self.obs_shape,
            reward=jax.ShapeDtypeStruct(actions.shape[:2], jnp.float32),
            terminated=jax.ShapeDtypeStruct(actions.shape[:2], jnp.bool_),
            truncated=jax.ShapeDtypeStruct(actions.shape[:2], jnp.bool_),
            final_obs=self.obs_shape,
            episode_return=jax.ShapeDtypeStruct(actions.shape[:2], jnp.float32),
            episode_length=jax.ShapeDtypeStruct(actions.shape[:2], jnp.int32),
        )
        eval_obs = jax.ShapeDtypeStruct((self.num_runs, config.eval_episodes, *self.env.spec.obs_shape), jnp.float32)
        eval_results = jax.ShapeDtypeStruct((self.num_runs, config.eval_episodes), jnp.float32)
        self.init_compiled = compiled(self.init_fn, hp, self.keys, self.obs_shape)
        self.start_period_compiled = compiled(self.start_period_fn, state, hp)
        self.resume_compiled = compiled(self.resume_fn, state, self.obs_shape, index, replicated_args=(2,))
        self.step_compiled = compiled(self.step_fn, carry, actions, timestep, index, hp, replicated_args=(3,), donate=(0,))
        self.close_period_compiled = compiled(
            self.close_period_fn, state, carry, index, replicated_args=(2,), donate=(1,)
        )
        metrics_carry = jax.eval_shape(self.close_period_fn, state, carry, index)[1]
        self.eval_act_compiled = compiled(self.eval_act_fn, state, eval_obs)
        self.period_metrics_compiled = compiled(
            self.period_metrics_fn, state, metrics_carry, eval_results, eval_results, index, replicated_args=(4,)
        )
        self.train_envs = self.env.batch([s for seed in self.seeds for s in env_seeds(seed, config.num_envs, TRAINING)])
        self.eval_envs = self.env.batch(
            [s for seed in self.seeds for s in env_seeds(seed, config.eval_episodes, EVALUATION)]
        )

    def per_run(self, array: np.ndarray) -> np.ndarray:
        """[num_runs * n, ...] host arrays -> [num_runs, n, ...]."""
        return array.reshape(self.num_runs, -1, *array.shape[1:])

    def init(self) -> RunState:
        obs = self.per_run(self.train_envs.reset())
        state, self.actions = self.init_compiled(self.hp, self.keys, obs)
        return state

    def resume(self, state: RunState, evaluations: int) -> RunState:
        """gymnasium's simulator states are not in the checkpoint: the restored runs go on from
        freshly reset training envs (the episodes under way at the checkpoint are cut short, without
        a transition for the cut), so a resumed gym/ run is not the uninterrupted one."""
        obs = self.per_run(self.train_envs.reset())
        iteration = np.int32(evaluations * self.config.iterations_per_eval)
        state, self.actions = self.resume_compiled(state, obs, iteration)
        return state

    def run_period(self, state: RunState, period: int) -> tuple[RunState, dict]:
        config = self.config
        carry = self.start_period_compiled(state, self.hp)  # a copy: `state` stays the period's start
        carry = self.iterate(carry, period * config.iterations_per_eval, config.iterations_per_eval)
        run, carry = self.close_period_compiled(state, carry, np.int32(period))
        eval_returns, eval_lengths = self.evaluate(run)
        return run, self.period_metrics_compiled(run, carry, eval_returns, eval_lengths, np.int32(period))

    def iterate(self, carry: PeriodCarry, first: int, count: int) -> PeriodCarry:
        """`count` iterations from iteration `first`: step the envs with the pending actions, then
        one jitted call learns from the step and acts for the next."""
        for iteration_index in range(first, first + count):
            flat_actions = np.asarray(self.actions).reshape(-1, self.env.spec.action_dim)
            timestep = jax.tree.map(self.per_run, self.train_envs.step(flat_actions))
            carry, self.actions = self.step_compiled(carry, self.actions, timestep, np.int32(iteration_index), self.hp)
        return carry

    def evaluate(self, run: RunState) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic returns and lengths of eval_episodes full episodes per run: [num_runs, eval_episodes] each."""
        obs = self.eval_envs.reset()
        running = np.ones(len(obs), bool)
        totals = np.zeros(len(obs), np.float32)
        lengths = np.zeros(len(obs), np.float32)
        for _ in range(self.env.spec.max_episode_steps):
            actions = np.asarray(self.eval_act_compiled(run, self.per_run(obs)))
            timestep = self.eval_envs.step(actions.reshape(len(obs), -1))
            totals += np.where(running, timestep.reward, 0.0)
            lengths += running
            running &= ~(timestep.terminated | timestep.truncated)
            if not running.any():
                break
            obs = timestep.obs
        return self.per_run(totals), self.per_run(lengths)
