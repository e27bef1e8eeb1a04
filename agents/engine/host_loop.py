"""The host-stepped off-policy loop: gymnasium MuJoCo on the host, the fused loop's agent code on the device.

One Python loop over env steps drives every run at once. The host steps one gymnasium env per
(run, parallel env); then one jitted call, vmapped over runs, learns from that step
(`off_policy.learn`: store the transitions in the on-device replay buffer, update the RSNorm
statistics, do the gradient updates, count episodes and NaNs) and acts for the next one
(`off_policy.act`). Only the actions [runs, num_envs, action_dim] come back to the host and only
the Timesteps go out; the buffer never leaves the device. Divergence freezing and the period's
metrics are the fused loop's own functions, and batching and sharding are `loop.Runs`'s.
Evaluation runs the deterministic policy on separate gymnasium envs reset from the same seeds at
every evaluation (as the fused loop reuses its eval keys).

Seeds: env i of the run with seed s is seeded from (s, i) alone, so runs are independent of each
other and of how many run at once, and the same seed replays the same episodes.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import envs
from agents.engine import batching, loop, off_policy
from agents.common import ConfigError
from agents.engine.loop import RunState, TrainConfig
from agents.engine.off_policy import Period

TRAINING, EVALUATION = 0, 1


def env_seeds(seed: int, count: int, purpose: int) -> list[int]:
    """The gymnasium seeds of `count` envs of the run with `seed` (any integer), for TRAINING or EVALUATION."""
    return [int(s) for s in np.random.SeedSequence([seed % 2**64, purpose]).generate_state(count)]


def first_step(config: TrainConfig, spec: envs.EnvSpec, hp, key, obs) -> tuple[RunState, jax.Array]:
    """-> (a fresh run on the host's reset envs, its actions for iteration 0)"""
    run = off_policy.init(config, spec, hp, key, None, obs)
    key, act_key = jax.random.split(run.key)
    return run.replace(key=key), off_policy.act(config, spec, hp, run, jnp.zeros((), jnp.int32), act_key)


def step(config: TrainConfig, spec: envs.EnvSpec, carry: Period, actions, timestep, index, hp) -> tuple[Period, jax.Array]:
    """Learns from iteration `index` and acts for the next one."""
    key, update_key, act_key = jax.random.split(carry.run.key, 3)
    carry = off_policy.learn(config, hp, carry._replace(run=carry.run.replace(key=key)), actions, timestep, index, update_key)
    return carry, off_policy.act(config, spec, hp, carry.run, index + 1, act_key)


def restart(config: TrainConfig, spec: envs.EnvSpec, run: RunState, obs, index, hp) -> tuple[RunState, jax.Array]:
    """-> (the restored run on freshly reset envs, its actions for iteration `index`)"""
    key, act_key = jax.random.split(run.key)
    run = run.replace(obs=obs, key=key)
    return run, off_policy.act(config, spec, hp, run, index, act_key)


def close_period(config: TrainConfig, start: RunState, carry: Period, period) -> tuple[RunState, Period]:
    """-> (the run, frozen at its start if it diverged; the carry without its run, for the metrics)"""
    return off_policy.end_period(config, start, carry, period), carry._replace(run=None)


def evaluation_actions(config: TrainConfig, run: RunState, obs, hp):
    return off_policy.policy(config, hp, run, obs, run.key, True)


class HostRuns(loop.Runs):
    """Every run of a host-stepped loop, stepped together: loop.Runs's chunk driver (run_period)
    with host-stepped begin, advance, finish and stopped."""

    def __init__(self, config: TrainConfig, hp: Any, keys: jax.Array, seeds: list[int], mesh):
        env = envs.make(config.env)
        if not isinstance(env, envs.HostEnv):
            raise ConfigError(f"{config.env} is a jittable env: use the fused loop, agents.engine.plan.make_runs")
        if jax.process_count() > 1:  # the host loop reads every run's actions, which span the processes
            raise ConfigError(
                f"{config.env} is stepped on the host, which runs in one process only: run gym/ ids without "
                f"jax.distributed (this is one of {jax.process_count()} processes)"
            )
        off_policy.validate(config, env.spec)
        self.config, self.env, self.seeds = config, env, seeds
        spec = env.spec
        self.obs_shape = jax.ShapeDtypeStruct((len(seeds), config.num_envs, *spec.obs_shape), jnp.float32)
        init = functools.partial(first_step, config, spec)
        super().__init__(hp, keys, mesh, init, None, jax.eval_shape(jax.vmap(init), hp, keys, self.obs_shape)[0])
        self.iterations = off_policy.iterations_per_eval(config)
        self.chunk_length = loop.chunk_length(self.iterations)
        self.actions = None
        """The actions of the next iteration, [num_runs, num_envs, action_dim] on the device."""

    def compile(self) -> None:
        """Compiles every jitted piece and builds the gymnasium envs (one per run and env)."""
        config, spec, num_runs = self.config, self.env.spec, self.num_runs
        self.hp, self.keys = batching.global_runs((self.hp, self.keys), self.sharded)
        state, hp, index = self.state_shape, self.hp, jax.ShapeDtypeStruct((), jnp.int32)
        per_env = lambda dtype: jax.ShapeDtypeStruct((num_runs, config.num_envs), dtype)  # noqa: E731
        actions = jax.ShapeDtypeStruct((num_runs, config.num_envs, spec.action_dim), jnp.float32)
        timestep = envs.Timestep(
            obs=self.obs_shape,
            reward=per_env(jnp.float32),
            terminated=per_env(jnp.bool_),
            truncated=per_env(jnp.bool_),
            final_obs=self.obs_shape,
            episode_return=per_env(jnp.float32),
            episode_length=per_env(jnp.int32),
        )
        start = functools.partial(off_policy.start_period, config)
        carry = jax.eval_shape(jax.vmap(start), hp, state)
        eval_obs = jax.ShapeDtypeStruct((num_runs, config.eval_episodes, *spec.obs_shape), jnp.float32)
        eval_results = jax.ShapeDtypeStruct((num_runs, config.eval_episodes), jnp.float32)
        close = functools.partial(close_period, config)
        self.init_compiled = self.jitted(self.init_fn, (0, 0, 0)).lower(hp, self.keys, self.obs_shape).compile()
        self.start_compiled = self.jitted(start, (0, 0)).lower(hp, state).compile()
        restart_fn = self.jitted(functools.partial(restart, config, spec), (0, 0, None, 0))
        self.restart_compiled = restart_fn.lower(state, self.obs_shape, index, hp).compile()
        step_fn = self.jitted(functools.partial(step, config, spec), (0, 0, 0, None, 0), donate=(0,))
        self.step_compiled = step_fn.lower(carry, actions, timestep, index, hp).compile()
        self.close_compiled = self.jitted(close, (0, 0, None), donate=(1,)).lower(state, carry, index).compile()
        eval_fn = self.jitted(functools.partial(evaluation_actions, config), (0, 0, 0))
        self.eval_compiled = eval_fn.lower(state, eval_obs, hp).compile()
        metrics_carry = jax.eval_shape(jax.vmap(close, in_axes=(0, 0, None)), state, carry, index)[1]
        metrics_fn = self.jitted(functools.partial(off_policy.period_metrics, config), (0, 0, 0, 0, None))
        self.metrics_compiled = metrics_fn.lower(state, metrics_carry, eval_results, eval_results, index).compile()
        self.train_envs = self.env.batch([s for seed in self.seeds for s in env_seeds(seed, config.num_envs, TRAINING)])
        self.eval_envs = self.env.batch(
            [s for seed in self.seeds for s in env_seeds(seed, config.eval_episodes, EVALUATION)]
        )

    def per_run(self, array: np.ndarray) -> np.ndarray:
        """[num_runs * n, ...] host arrays -> [num_runs, n, ...]."""
        return array.reshape(self.num_runs, -1, *array.shape[1:])

    def init(self) -> RunState:
        state, self.actions = self.init_compiled(self.hp, self.keys, self.per_run(self.train_envs.reset()))
        return state

    def resume(self, state: RunState, evaluations: int) -> RunState:
        """gymnasium's simulator states are not in the checkpoint: the restored runs go on from
        freshly reset training envs (the episodes under way at the checkpoint are cut short, without
        a transition for the cut), so a resumed gym/ run is not the uninterrupted one."""
        obs = self.per_run(self.train_envs.reset())
        index = np.int32(evaluations * self.iterations)
        state, self.actions = self.restart_compiled(state, obs, index, self.hp)
        return state

    def begin(self, state: RunState) -> Period:
        return self.start_compiled(self.hp, state)  # a copy: `state` stays the period's start

    def advance(self, carry: Period, first: int, wait: bool) -> Period:
        """The chunk's iterations from iteration `first`: step the envs with the pending actions,
        then one jitted call learns from the step and acts for the next (the actions come back to
        the host each step, so a chunk always ends finished)."""
        for index in range(first, first + self.chunk_length):
            flat_actions = np.asarray(self.actions).reshape(-1, self.env.spec.action_dim)
            timestep = jax.tree.map(self.per_run, self.train_envs.step(flat_actions))
            carry, self.actions = self.step_compiled(carry, self.actions, timestep, np.int32(index), self.hp)
        return carry

    def finish(self, start: RunState, carry: Period, period: int) -> tuple[RunState, dict]:
        run, carry = self.close_compiled(start, carry, np.int32(period))
        eval_returns, eval_lengths = self.evaluate(run)
        return run, self.metrics_compiled(run, carry, eval_returns, eval_lengths, np.int32(period))

    def stopped(self, start: RunState, carry: Period, done: int) -> loop.Stopped:
        """A stop inside the period, without its carry: gymnasium's env states cannot be stored, so
        the run resumes at the period's start (run_period's resume_at is always None here)."""
        return loop.Stopped()

    def evaluate(self, run: RunState) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic returns and lengths of eval_episodes full episodes per run: [num_runs, eval_episodes] each."""
        act = lambda obs, step: self.eval_compiled(run, self.per_run(obs), self.hp).reshape(len(obs), -1)  # noqa: E731
        totals, lengths = episodes(self.eval_envs, act, self.env.spec.max_episode_steps)
        return self.per_run(totals), self.per_run(lengths)


def episodes(batch, act, max_steps: int, before_step=None) -> tuple[np.ndarray, np.ndarray]:
    """Returns and lengths [n] of one episode per gymnasium env of `batch` (reset here), stepped in
    lockstep until every one has ended: act(obs [n, ...], step) -> actions [n, ...];
    before_step(running [n] bool), if given, sees the envs before each step (rundir.play draws them)."""
    obs = batch.reset()
    running = np.ones(len(obs), bool)
    totals = np.zeros(len(obs), np.float32)
    lengths = np.zeros(len(obs), np.float32)
    for step in range(max_steps):
        if before_step is not None:
            before_step(running)
        timestep = batch.step(np.asarray(act(obs, step)))
        totals += np.where(running, timestep.reward, 0.0)
        lengths += running
        running &= ~(timestep.terminated | timestep.truncated)
        if not running.any():
            break
        obs = timestep.obs
    return totals, lengths
