"""The fused off-policy training loop, written once for every off-policy agent.

Each iteration acts in `num_envs` environments, steps them, writes the transitions to the
on-device replay buffer and performs `utd * num_envs` gradient updates, all inside `lax.scan`; an
evaluation period is `eval_every` env steps followed by a deterministic evaluation on separate
environments with fixed keys. `train(config, hparams, key)` is pure: N seeds are `jax.vmap` over
keys (and hyperparameters) of this one function.

Read `run_period` top to bottom: `iteration` is act -> env step -> `learn` (store, update); every
function here works on one run. The host-stepped loop (agents/engine/host_loop.py) steps gymnasium MuJoCo
on the host and calls the same `init`, `act`, `learn`, `end_period` and `period_metrics`.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import envs
from agents import AGENTS
from agents.engine import buffer, loop, training_metrics
from agents.common import ConfigError, Transition, require_continuous, resolve_gamma
from agents.engine.loop import RunState, TrainConfig
from networks import rsnorm


def iterations_per_eval(config: TrainConfig) -> int:
    return config.eval_every // config.num_envs


def buffer_capacity(config: TrainConfig) -> int:
    return min(config.agent_config.buffer_size, config.total_steps)


def validate(config: TrainConfig, spec: envs.EnvSpec) -> None:
    """Raises ConfigError with a fix for any setting the loop cannot run."""
    agent_config = config.agent_config
    loop.validate_run(config)
    require_continuous(spec, config.agent)
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
    capacity = buffer_capacity(config)
    if agent_config.batch_size > capacity:
        raise ConfigError(
            f"--batch-size {agent_config.batch_size} is larger than the replay buffer "
            f"({capacity} transitions); lower --batch-size or raise --buffer-size/--total-steps"
        )
    if agent_config.learning_starts < 0:
        raise ConfigError(f"--learning-starts must be >= 0, got {agent_config.learning_starts}")
    if config.eval_every % config.num_envs:
        raise ConfigError(
            f"--eval-every {config.eval_every} must be a multiple of --num-envs {config.num_envs}"
        )
    if config.num_envs > capacity:
        raise ConfigError(f"--num-envs {config.num_envs} exceeds the replay buffer capacity {capacity}")
    if agent_config.learning_starts >= config.total_steps:
        raise ConfigError(
            f"--learning-starts {agent_config.learning_starts} is not below --total-steps "
            f"{config.total_steps}: the agent would never learn"
        )


class Period(NamedTuple):
    """What an evaluation period carries from iteration to iteration besides the run itself."""

    run: RunState
    metrics: dict
    """The metrics of the last gradient update."""
    finished_return: jax.Array
    """Sum of the returns of the training episodes finished in this period."""
    finished_count: jax.Array
    """How many training episodes finished in this period."""
    first_bad_step: jax.Array
    """The env step of the first NaN/Inf critic loss in this period; -1 if none."""
    totals: training_metrics.Totals
    """The sums of the metrics of this period's updates (their means go to metrics.csv)."""
    finished_length: jax.Array
    """Sum of the lengths of the training episodes finished in this period."""


def normalize(config: TrainConfig, stats: rsnorm.RunningStats, obs: jax.Array) -> jax.Array:
    """Observations as the agent sees them: RSNorm-normalized if it uses RSNorm. The buffer keeps
    them raw; batches are normalized with the statistics current at sampling time."""
    return rsnorm.normalize(stats, obs) if config.agent_config.uses_rsnorm else obs


def observe(config: TrainConfig, stats: rsnorm.RunningStats, obs: jax.Array) -> rsnorm.RunningStats:
    return rsnorm.update(stats, obs) if config.agent_config.uses_rsnorm else stats


def init(config: TrainConfig, spec: envs.EnvSpec, hp, key: jax.Array, env_state, obs: jax.Array) -> RunState:
    """A fresh run on envs already reset (env_state: None for host-stepped envs; obs [num_envs, ...])."""
    agent_key, _, eval_key, key = loop.run_keys(key)  # env key: fresh_run resets with it; gym/ seeds on the host
    example = Transition(
        obs=obs[0],
        action=jnp.zeros((spec.action_dim,), jnp.float32),
        reward=jnp.zeros((), jnp.float32),
        next_obs=obs[0],
        terminated=jnp.zeros((), jnp.float32),
    )
    agent = AGENTS[config.agent]
    agent_state = agent.init(agent_key, spec, config.agent_config, hp)
    if agent.observe is not None:  # sizes its per-env state (agents/common.py, Agent.observe)
        agent_state = agent.observe(config.agent_config, hp, agent_state, None, jnp.zeros(obs.shape[0], bool))
    return RunState(
        agent=agent_state,
        env_state=env_state,
        obs=obs,
        obs_stats=observe(config, rsnorm.init(spec.obs_shape), obs),
        key=key,
        eval_key=eval_key,
        diverged_at=jnp.array(-1, jnp.int32),
        buffer=buffer.init(example, buffer_capacity(config)),
    )


def policy(config: TrainConfig, hp, run: RunState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """The agent's actions on the normalized observations obs [n, *obs_shape]."""
    return AGENTS[config.agent].act(config.agent_config, hp, run.agent, normalize(config, run.obs_stats, obs), key, deterministic)


def act(config: TrainConfig, spec: envs.EnvSpec, hp, run: RunState, index: jax.Array, key: jax.Array) -> jax.Array:
    """Actions [num_envs, action_dim] of iteration `index`: uniform in [-1, 1] before learning_starts,
    then the stochastic policy."""
    return jax.lax.cond(
        index * config.num_envs < config.agent_config.learning_starts,
        lambda: jax.random.uniform(key, (config.num_envs, spec.action_dim), minval=-1.0, maxval=1.0),
        lambda: policy(config, hp, run, run.obs, key, False),
    )


def first_learning_iteration(config: TrainConfig) -> int:
    """The first iteration after which the buffer holds learning_starts transitions."""
    return max(0, -(-(config.agent_config.learning_starts - config.num_envs) // config.num_envs))


def keep(metrics: dict, hp, agent_state, batch, key, index) -> tuple[Any, dict]:
    """The no-update branch: the agent as it is, the last update's metrics."""
    return agent_state, metrics


def update_step(config: TrainConfig, hp, replay: buffer.ReplayBuffer, obs_stats, learning: jax.Array, carry, inputs):
    """One gradient update on a sampled batch (scan body; carry: (agent state, last metrics); output:
    its metrics), skipped while `learning` is False."""
    agent_state, metrics = carry
    key, index = inputs
    sample_key, update_key = jax.random.split(key)
    batch = buffer.sample(replay, sample_key, config.agent_config.batch_size)
    batch = batch._replace(obs=normalize(config, obs_stats, batch.obs), next_obs=normalize(config, obs_stats, batch.next_obs))
    update = functools.partial(AGENTS[config.agent].update, config.agent_config)
    agent_state, metrics = jax.lax.cond(learning, update, functools.partial(keep, metrics), hp, agent_state, batch, update_key, index)
    return (agent_state, metrics), metrics


def learn(config: TrainConfig, hp, carry: Period, actions, timestep: envs.Timestep, index: jax.Array, key) -> Period:
    """Stores iteration `index`'s transitions, updates the RSNorm statistics, does the utd * num_envs
    gradient updates (once the buffer holds learning_starts transitions), counts episodes and NaNs."""
    run = carry.run
    stored = Transition(
        obs=run.obs,
        action=actions,
        reward=timestep.reward,
        next_obs=timestep.final_obs,
        terminated=timestep.terminated.astype(jnp.float32),
    )
    replay = buffer.add(run.buffer, stored)
    # unbatched across runs, so that skipping the updates before learning starts is a real branch
    learning = index >= first_learning_iteration(config)
    if config.refill_buffer:  # resumed without the replay buffer: updates wait until it holds
        # learning_starts transitions again (the size is batched: under vmap the branch becomes a select)
        learning &= replay.size >= min(config.agent_config.learning_starts, buffer_capacity(config))
    updates = config.agent_config.utd * config.num_envs
    # the global index of each update, the same in every run: policy delays stay real branches
    first_update = (index - first_learning_iteration(config)) * updates
    step = functools.partial(update_step, config, hp, replay, run.obs_stats, learning)
    (agent_state, metrics), each_update = jax.lax.scan(
        step, (run.agent, carry.metrics), (jax.random.split(key, updates), first_update + jnp.arange(updates))
    )
    done = timestep.done
    if AGENTS[config.agent].observe is not None:  # after the updates (agents/common.py, Agent.observe)
        agent_state = AGENTS[config.agent].observe(config.agent_config, hp, agent_state, stored, done)
    # every agent reports a critic loss; other metrics may be NaN by design (skipped delayed updates)
    bad = ~jnp.isfinite(metrics["critic_loss"])
    return Period(
        run=run.replace(agent=agent_state, buffer=replay, obs=timestep.obs, obs_stats=observe(config, run.obs_stats, timestep.obs)),
        metrics=metrics,
        finished_return=carry.finished_return + jnp.sum(jnp.where(done, timestep.episode_return, 0.0)),
        finished_count=carry.finished_count + jnp.sum(done),
        first_bad_step=jnp.where((carry.first_bad_step < 0) & bad, (index + 1) * config.num_envs, carry.first_bad_step),
        totals=training_metrics.add(carry.totals, each_update, learning),
        finished_length=carry.finished_length + jnp.sum(jnp.where(done, timestep.episode_length, 0)),
    )


def start_period(config: TrainConfig, hp, run: RunState) -> Period:
    """The carry of a fresh period (metrics zero until the first update)."""
    batch = jax.tree.map(lambda x: jnp.zeros((config.agent_config.batch_size, *x.shape[1:]), x.dtype), run.buffer.data)
    update = functools.partial(AGENTS[config.agent].update, config.agent_config)
    shapes = jax.eval_shape(update, hp, run.agent, batch, run.key, jnp.zeros((), jnp.int32))[1]
    metrics = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    zero = jnp.zeros((), jnp.int32)
    return Period(run, metrics, jnp.zeros((), jnp.float32), zero, jnp.array(-1, jnp.int32), training_metrics.start(shapes), zero)


def end_period(config: TrainConfig, start: RunState, carry: Period, period) -> RunState:
    """The run after a period, frozen at its start if it diverged (see loop.freeze_if_diverged)."""
    period_end = (period + 1) * config.eval_every
    return loop.freeze_if_diverged(start, carry.run, carry.first_bad_step, period_end, loop.all_finite(carry.run.agent))


def period_metrics(config: TrainConfig, run: RunState, carry: Period, eval_returns, eval_lengths, period) -> dict:
    """The training metrics of the period (means over its updates, the networks and statistics at
    its end) and its evaluation; a diverged run's eval return reads NaN."""
    obs_stats = run.obs_stats if config.agent_config.uses_rsnorm else None
    metrics = training_metrics.of_period(carry.totals, run.agent, obs_stats)
    return loop.period_metrics(
        run, metrics, eval_returns, eval_lengths, carry.finished_return, carry.finished_count,
        (period + 1) * config.eval_every, carry.finished_length,
    )


def iteration(config: TrainConfig, env: envs.Env, hp, carry: Period, index: jax.Array) -> tuple[Period, None]:
    """Act -> env step -> learn (scan body over the iterations of a period)."""
    key, act_key, step_key, update_key = jax.random.split(carry.run.key, 4)
    actions = act(config, env.spec, hp, carry.run, index, act_key)
    env_state, timestep = jax.vmap(env.step)(jax.random.split(step_key, config.num_envs), carry.run.env_state, actions)
    carry = carry._replace(run=carry.run.replace(env_state=env_state, key=key))
    return learn(config, hp, carry, actions, timestep, index, update_key), None


def run_chunk(config: TrainConfig, env: envs.Env, length: int, hp, carry: Period, first) -> Period:
    """`length` iterations from iteration `first`."""
    carry, _ = jax.lax.scan(functools.partial(iteration, config, env, hp), carry, first + jnp.arange(length))
    return carry


def finish_period(config: TrainConfig, env: envs.Env, start: RunState, carry: Period, hp, period) -> tuple[RunState, dict]:
    """The divergence check and the evaluation that end a period -> (run, the period's metrics)."""
    run = end_period(config, start, carry, period)
    deterministic = functools.partial(policy, config, hp, run, deterministic=True)
    eval_returns, eval_lengths = loop.evaluate(env, deterministic, config.eval_episodes, run.eval_key)
    return run, period_metrics(config, run, carry, eval_returns, eval_lengths, period)


def run_period(config: TrainConfig, env: envs.Env, start: RunState, hp, period) -> tuple[RunState, dict]:
    """One evaluation period: iterations_per_eval iterations, the divergence check, the evaluation."""
    count = iterations_per_eval(config)
    carry = run_chunk(config, env, count, hp, start_period(config, hp, start), period * count)
    return finish_period(config, env, start, carry, hp, period)


def period_parts(config: TrainConfig, env: envs.Env) -> loop.PeriodParts:
    """run_period in chunks (see loop.PeriodParts)."""
    count = iterations_per_eval(config)
    length = loop.chunk_length(count)
    return loop.PeriodParts(
        functools.partial(start_period, config), functools.partial(run_chunk, config, env, length),
        functools.partial(finish_period, config, env), count, length, replay_rows=config.eval_every,
    )


def fresh_run(config: TrainConfig, env: envs.Env, hp, key: jax.Array) -> RunState:
    """A new run on freshly reset jittable envs."""
    env_state, obs = jax.vmap(env.reset)(jax.random.split(loop.run_keys(key)[1], config.num_envs))
    return init(config, env.spec, hp, key, env_state, obs)


def jittable_env(config: TrainConfig) -> envs.Env:
    """The run's env, checked to be jittable, and the settings checked against it."""
    env = envs.make(config.env)
    if isinstance(env, envs.HostEnv):
        raise ConfigError(f"{config.env} is stepped on the host: use agents.engine.host_loop.HostRuns")
    validate(config, env.spec)
    return env


def make_runs(config: TrainConfig, hp: Any, keys: jax.Array, mesh, env: envs.Env | None = None) -> loop.Runs:
    """The fused loop over a runs axis (hp, keys: leading [num_runs]), on config.env, or on `env` in
    its place (bench/host_loop.py's stand-in with a host task's sizes)."""
    if env is None:
        env = jittable_env(config)
    else:
        validate(config, env.spec)
    return loop.Runs(
        hp, keys, mesh, functools.partial(fresh_run, config, env), functools.partial(run_period, config, env),
        parts=period_parts(config, env),
    )


def train(config: TrainConfig, hparams: Any, key: jax.Array) -> tuple[RunState, dict]:
    """One run, pure and jittable (config static): (final state, metrics [num_evals, ...]);
    gamma "auto" is resolved from the env's time limit (agents.common.resolve_gamma)."""
    env = jittable_env(config)
    hp = loop.as_arrays(resolve_gamma(hparams, env.spec.max_episode_steps))
    run = fresh_run(config, env, hp, key)
    return jax.lax.scan(lambda r, period: run_period(config, env, r, hp, period), run, jnp.arange(config.num_evals))
