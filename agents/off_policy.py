"""The fused off-policy training loop, written once for every off-policy agent.

Each iteration acts in `num_envs` environments, steps them, writes the transitions to the
on-device replay buffer and performs `utd * num_envs` gradient updates, all inside `lax.scan`; an
evaluation period is `eval_every` env steps followed by a deterministic evaluation on separate
environments with fixed keys. `train(config, hparams, key)` is pure: N seeds are `jax.vmap` over
keys (and hyperparameters) of this one function.

The act / learn / divergence pieces of an iteration (`LoopParts`, `make_parts`) are written once
here and shared with the host-stepped loop of agents/host_loop.py, which steps gymnasium MuJoCo
on the host instead of inside `lax.scan`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

import envs
from agents import AGENTS, buffer, loop
from agents.common import ConfigError, Transition, require_continuous, resolve_gamma
from networks import rsnorm


@dataclasses.dataclass(frozen=True)
class TrainConfig(loop.RunConfig):
    """Static settings of one off-policy run; each iteration does utd * num_envs updates."""

    @property
    def iterations_per_eval(self) -> int:
        return self.eval_every // self.num_envs

    @property
    def buffer_capacity(self) -> int:
        return min(self.agent_config.buffer_size, self.total_steps)


def validate(config: TrainConfig) -> None:
    """Raises ConfigError with a fix for any setting the loop cannot run."""
    agent_config = config.agent_config
    loop.validate_run(config)
    loop.require_positive(
        batch_size=agent_config.batch_size,
        buffer_size=agent_config.buffer_size,
        utd=agent_config.utd,
        num_critics=getattr(agent_config, "num_critics", 1),
        policy_delay=getattr(agent_config, "policy_delay", 1),
    )
    try:
        agent_config.uses_rsnorm
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if hasattr(agent_config, "check"):
        agent_config.check()
    if agent_config.batch_size > config.buffer_capacity:
        raise ConfigError(
            f"--batch-size {agent_config.batch_size} is larger than the replay buffer "
            f"({config.buffer_capacity} transitions); lower --batch-size or raise --buffer-size/--total-steps"
        )
    if agent_config.learning_starts < 0:
        raise ConfigError(f"--learning-starts must be >= 0, got {agent_config.learning_starts}")
    if config.eval_every % config.num_envs:
        raise ConfigError(
            f"--eval-every {config.eval_every} must be a multiple of --num-envs {config.num_envs}"
        )
    if config.num_envs > config.buffer_capacity:
        raise ConfigError(
            f"--num-envs {config.num_envs} exceeds the replay buffer capacity {config.buffer_capacity}"
        )
    if agent_config.learning_starts >= config.total_steps:
        raise ConfigError(
            f"--learning-starts {agent_config.learning_starts} is not below --total-steps "
            f"{config.total_steps}: the agent would never learn"
        )


@flax.struct.dataclass
class RunState:
    """Everything that defines a run between evaluations (a checkpoint is this state)."""

    agent: Any
    buffer: buffer.ReplayBuffer
    env_state: envs.EnvState
    obs: jax.Array
    obs_stats: rsnorm.RunningStats
    """RSNorm statistics of every collected observation (unchanged when the agent does not use RSNorm)."""
    key: jax.Array
    eval_key: jax.Array
    diverged_at: jax.Array
    """-1 while healthy; else the env step at which a loss or parameter became NaN/Inf (the run is frozen)."""


class PeriodCarry(NamedTuple):
    """What an evaluation period carries from step to step besides the run itself."""

    run: RunState
    metrics: dict
    """The metrics of the last gradient update."""
    finished_return: jax.Array
    """Sum of the returns of the training episodes finished in this period."""
    finished_count: jax.Array
    """How many training episodes finished in this period."""
    first_bad_step: jax.Array
    """The env step of the first NaN/Inf critic loss in this period; -1 if none."""


class LoopParts(NamedTuple):
    """The act / learn / divergence pieces of one run, written once and shared by the fused loop
    (envs stepped inside `lax.scan`) and the host-stepped loop (agents/host_loop.py). Every
    function is pure and works on one run; loops vmap them over runs. iteration_index counts the
    loop's iterations from 0 (one iteration: num_envs env steps), unbatched across runs."""

    init: Callable[[Any, jax.Array, Callable], RunState]
    """(hparams, key, reset) -> RunState; reset(env key) -> (env state, first obs [num_envs, *obs_shape])"""
    act: Callable[[RunState, jax.Array, jax.Array], jax.Array]
    """(run, iteration_index, key) -> actions [num_envs, action_dim] in [-1, 1]: uniform before
    learning_starts, then the stochastic policy on RSNorm-normalized observations"""
    policy: Callable[[RunState, jax.Array, jax.Array, bool], jax.Array]
    """(run, obs [n, *obs_shape], key, deterministic) -> actions [n, action_dim]: the agent on normalized obs"""
    start_period: Callable[[RunState, Any], PeriodCarry]
    """(run, hparams) -> the carry of a fresh period"""
    learn: Callable[[PeriodCarry, jax.Array, envs.Timestep, jax.Array, Any, jax.Array], PeriodCarry]
    """(carry, actions, timestep [num_envs], iteration_index, hparams, key) -> carry: stores the
    transitions, updates the RSNorm statistics, does the gradient updates, counts episodes and NaNs"""
    end_period: Callable[[RunState, PeriodCarry, jax.Array], RunState]
    """(run at the period's start, carry, period) -> the run, frozen at its start if it diverged"""
    period_metrics: Callable[[RunState, PeriodCarry, jax.Array, jax.Array, jax.Array], dict]
    """(run, carry, eval returns [eval_episodes], eval lengths [eval_episodes], period) -> metrics"""


def make_parts(config: TrainConfig, spec: envs.EnvSpec) -> LoopParts:
    validate(config)
    require_continuous(spec, config.agent)
    agent = AGENTS[config.agent]
    agent_config = config.agent_config
    num_envs = config.num_envs
    updates_per_iteration = agent_config.utd * num_envs
    # observations reach the agent normalized; the buffer keeps them raw and batches are normalized
    # with the statistics current at sampling time
    if agent_config.uses_rsnorm:
        observe, normalize = rsnorm.update, rsnorm.normalize
    else:
        observe, normalize = (lambda stats, obs: stats), (lambda stats, obs: obs)

    def init(hp, key: jax.Array, reset: Callable) -> RunState:
        agent_key, env_key, eval_key, key = jax.random.split(key, 4)
        env_state, obs = reset(env_key)
        agent_state = agent.init(agent_key, spec, agent_config, hp)
        example = Transition(
            obs=obs[0],
            action=jnp.zeros((spec.action_dim,), jnp.float32),
            reward=jnp.zeros((), jnp.float32),
            next_obs=obs[0],
            terminated=jnp.zeros((), jnp.float32),
        )
        return RunState(
            agent=agent_state,
            buffer=buffer.init(example, config.buffer_capacity),
            env_state=env_state,
            obs=obs,
            obs_stats=observe(rsnorm.init(spec.obs_shape), obs),
            key=key,
            eval_key=eval_key,
            diverged_at=jnp.array(-1, jnp.int32),
        )

    # the first iteration after which the buffer holds learning_starts transitions
    first_learning_iteration = max(0, -(-(agent_config.learning_starts - num_envs) // num_envs))
    refilled = min(agent_config.learning_starts, config.buffer_capacity)

    def gradient_updates(agent_state, replay, obs_stats, key, hp, iteration_index):
        def one_update(agent_state, inputs):
            update_key, update_index = inputs
            sample_key, step_key = jax.random.split(update_key)
            batch = buffer.sample(replay, sample_key, agent_config.batch_size)
            batch = batch._replace(obs=normalize(obs_stats, batch.obs), next_obs=normalize(obs_stats, batch.next_obs))
            return agent.update(agent_state, batch, step_key, hp, update_index)

        # the global index of each update, the same in every run: policy delays stay real branches
        first_index = (iteration_index - first_learning_iteration) * updates_per_iteration
        agent_state, metrics = jax.lax.scan(
            one_update,
            agent_state,
            (jax.random.split(key, updates_per_iteration), first_index + jnp.arange(updates_per_iteration)),
        )
        return agent_state, jax.tree.map(lambda m: m[-1], metrics)

    def policy(run: RunState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        return agent.act(run.agent, normalize(run.obs_stats, obs), key, deterministic)

    def act(run: RunState, iteration_index: jax.Array, key: jax.Array) -> jax.Array:
        return jax.lax.cond(
            iteration_index * num_envs < agent_config.learning_starts,
            lambda: jax.random.uniform(key, (num_envs, spec.action_dim), minval=-1.0, maxval=1.0),
            lambda: policy(run, run.obs, key, False),
        )

    def learn(carry: PeriodCarry, actions, timestep: envs.Timestep, iteration_index, hp, key) -> PeriodCarry:
        run = carry.run
        replay = buffer.add(
            run.buffer,
            Transition(
                obs=run.obs,
                action=actions,
                reward=timestep.reward,
                next_obs=timestep.final_obs,
                terminated=timestep.terminated.astype(jnp.float32),
            ),
        )
        # the size test only matters after a resume without the buffer in the checkpoint: updates
        # wait until the buffer again holds learning_starts transitions
        agent_state, metrics = jax.lax.cond(
            (iteration_index >= first_learning_iteration) & (replay.size >= refilled),
            lambda: gradient_updates(run.agent, replay, run.obs_stats, key, hp, iteration_index),
            lambda: (run.agent, carry.metrics),
        )
        done = timestep.done
        # every agent reports a critic loss; other metrics may be NaN by design (skipped delayed updates)
        bad = ~jnp.isfinite(metrics["critic_loss"])
        return PeriodCarry(
            run=run.replace(
                agent=agent_state, buffer=replay, obs=timestep.obs, obs_stats=observe(run.obs_stats, timestep.obs)
            ),
            metrics=metrics,
            finished_return=carry.finished_return + jnp.sum(jnp.where(done, timestep.episode_return, 0.0)),
            finished_count=carry.finished_count + jnp.sum(done),
            first_bad_step=jnp.where(
                (carry.first_bad_step < 0) & bad, (iteration_index + 1) * num_envs, carry.first_bad_step
            ),
        )

    def start_period(run: RunState, hp) -> PeriodCarry:
        batch = jax.tree.map(
            lambda x: jnp.zeros((agent_config.batch_size, *x.shape[1:]), x.dtype), run.buffer.data
        )
        shapes = jax.eval_shape(agent.update, run.agent, batch, run.key, hp, jnp.zeros((), jnp.int32))[1]
        metrics = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        no_step = jnp.array(-1, jnp.int32)
        return PeriodCarry(run, metrics, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32), no_step)

    def end_period(start: RunState, carry: PeriodCarry, period) -> RunState:
        """The run after a period, frozen at its start if it diverged (see loop.freeze_if_diverged)."""
        period_end = (period + 1) * config.eval_every
        return loop.freeze_if_diverged(start, carry.run, carry.first_bad_step, period_end, loop.all_finite(carry.run.agent))

    def period_metrics(run: RunState, carry: PeriodCarry, eval_returns, eval_lengths, period) -> dict:
        """The last update's metrics and the period's evaluation; a diverged run's eval return reads NaN."""
        return loop.period_metrics(
            run, carry.metrics, eval_returns, eval_lengths, carry.finished_return, carry.finished_count,
            (period + 1) * config.eval_every,
        )

    return LoopParts(init, act, policy, start_period, learn, end_period, period_metrics)


def make_loop(config: TrainConfig) -> loop.Loop:
    env = envs.make(config.env)
    if isinstance(env, envs.HostEnv):
        raise ConfigError(f"{config.env} is stepped on the host: use agents.host_loop.make_host_loop")
    parts = make_parts(config, env.spec)
    num_envs = config.num_envs
    vmapped_step = jax.vmap(env.step)
    vmapped_reset = jax.vmap(env.reset)

    def init(hp, key: jax.Array) -> RunState:
        return parts.init(hp, key, lambda env_key: vmapped_reset(jax.random.split(env_key, num_envs)))

    def iteration(carry: PeriodCarry, iteration_index, hp):
        key, act_key, step_key, update_key = jax.random.split(carry.run.key, 4)
        actions = parts.act(carry.run, iteration_index, act_key)
        env_state, timestep = vmapped_step(jax.random.split(step_key, num_envs), carry.run.env_state, actions)
        carry = carry._replace(run=carry.run.replace(env_state=env_state, key=key))
        return parts.learn(carry, actions, timestep, iteration_index, hp, update_key), None

    def run_period(start: RunState, hp, period) -> tuple[RunState, dict]:
        """One evaluation period: iterations_per_eval iterations, the divergence check, the evaluation."""
        first = period * config.iterations_per_eval
        carry, _ = jax.lax.scan(
            lambda c, i: iteration(c, i, hp),
            parts.start_period(start, hp),
            first + jnp.arange(config.iterations_per_eval),
        )
        run = parts.end_period(start, carry, period)
        eval_returns, eval_lengths = loop.evaluate(
            env, lambda obs, key: parts.policy(run, obs, key, True), config.eval_episodes, run.eval_key
        )
        return run, parts.period_metrics(run, carry, eval_returns, eval_lengths, period)

    return loop.compose(init, run_period, config.num_evals)


def train(config: TrainConfig, hparams: Any, key: jax.Array) -> tuple[RunState, dict]:
    """One run, pure and jittable (config static): (final state, metrics [num_evals, ...]);
    gamma "auto" is resolved from the env's time limit (agents.common.resolve_gamma)."""
    if isinstance(getattr(hparams, "gamma", None), str):  # "auto" needs the env's time limit
        hparams = resolve_gamma(hparams, envs.make(config.env).spec.max_episode_steps)
    return make_loop(config).train(loop.as_arrays(hparams), key)
