"""The fused on-policy training loop (PPO): rollouts, normalization statistics and updates in one scan.

Each iteration collects a rollout of `num_steps` steps in `num_envs` environments with the current
policy, then hands it to the agent's `update` (advantages, epochs of minibatches). Observation and
reward normalization statistics live in the run state and move with every collected step. An
evaluation period is `eval_every` env steps (a whole number of rollouts) followed by the shared
deterministic evaluation; `train(config, hparams, key)` is pure and vmaps over seeds and hyperparameters.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import envs
from agents import AGENTS
from agents.engine import loop, training_metrics
from agents.common import ConfigError
from agents.engine.loop import RunState, TrainConfig
from agents.normalizers import ReturnScaler, normalize_clipped
from networks import rsnorm


OBS_NORMS = ("none", "rsnorm_clipped")
"""--obs-norm of on-policy agents: none, or running statistics with the result clipped to +-10."""


OnPolicyConfig = TrainConfig
"""The static settings of an on-policy run: a rollout is num_envs x agent_config.num_steps env steps."""


def rollout_steps(config: TrainConfig) -> int:
    return config.num_envs * config.agent_config.num_steps


class Rollout(NamedTuple):
    """One rollout; every leaf has leading axes [num_steps, num_envs].

    obs and final_obs are as the networks saw them (normalized with --obs-norm rsnorm_clipped); final_obs is
    the true next observation (`Timestep.final_obs`); reward is as learned from (scaled when
    --normalize-reward); done = terminated or truncated.
    """

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    final_obs: jax.Array


def validate(config: TrainConfig) -> None:
    """Raises ConfigError with a fix for any setting the loop cannot run."""
    agent_config = config.agent_config
    loop.validate_run(config)
    loop.require_positive(
        num_steps=agent_config.num_steps,
        num_epochs=agent_config.num_epochs,
        num_minibatches=agent_config.num_minibatches,
    )
    if agent_config.obs_norm not in OBS_NORMS:
        raise ConfigError(f"--obs-norm must be one of {', '.join(OBS_NORMS)} for {config.agent}, got {agent_config.obs_norm!r}")
    rollout = rollout_steps(config)
    if config.eval_every % rollout:
        lower = max(1, config.eval_every // rollout) * rollout
        raise ConfigError(
            f"--eval-every {config.eval_every} must be a multiple of a rollout: --num-envs {config.num_envs} x "
            f"--num-steps {agent_config.num_steps} = {rollout} env steps (e.g. --eval-every {lower})"
        )
    if rollout % agent_config.num_minibatches:
        raise ConfigError(
            f"--num-minibatches {agent_config.num_minibatches} does not divide the rollout of --num-envs "
            f"{config.num_envs} x --num-steps {agent_config.num_steps} = {rollout} transitions"
        )


def normalized(config: TrainConfig, stats: rsnorm.RunningStats, obs: jax.Array) -> jax.Array:
    return normalize_clipped(stats, obs) if config.agent_config.obs_norm == "rsnorm_clipped" else obs


def init(config: TrainConfig, env: envs.Env, hp, key: jax.Array) -> RunState:
    agent_key, env_key, eval_key, key = loop.run_keys(key)
    env_state, obs = jax.vmap(env.reset)(jax.random.split(env_key, config.num_envs))
    return RunState(
        agent=AGENTS[config.agent].init(agent_key, env.spec, config.agent_config, hp),
        env_state=env_state,
        obs=obs,
        obs_stats=rsnorm.init(env.spec.obs_shape),
        key=key,
        eval_key=eval_key,
        diverged_at=jnp.array(-1, jnp.int32),
        return_scaler=ReturnScaler.create(config.num_envs),
    )


def env_step(config: TrainConfig, env: envs.Env, hp, run: RunState, _) -> tuple[RunState, tuple]:
    """One step of the num_envs envs with the collecting policy (scan body over a rollout)."""
    agent_config = config.agent_config
    key, act_key, step_key = jax.random.split(run.key, 3)
    obs_stats = rsnorm.update(run.obs_stats, run.obs) if agent_config.obs_norm == "rsnorm_clipped" else run.obs_stats
    obs = normalized(config, obs_stats, run.obs)
    action, log_prob, value = AGENTS[config.agent].explore(agent_config, run.agent, obs, act_key)
    env_state, timestep = jax.vmap(env.step)(jax.random.split(step_key, config.num_envs), run.env_state, action)
    done = timestep.done
    return_scaler, reward = run.return_scaler, timestep.reward
    if agent_config.normalize_reward:
        return_scaler = return_scaler.update(reward, done, hp.gamma)
        reward = return_scaler.scale(reward)
    transition = Rollout(
        obs=obs,
        action=action,
        log_prob=log_prob,
        value=value,
        reward=reward,
        terminated=timestep.terminated.astype(jnp.float32),
        done=done.astype(jnp.float32),
        final_obs=normalized(config, obs_stats, timestep.final_obs),
    )
    run = run.replace(env_state=env_state, obs=timestep.obs, obs_stats=obs_stats, return_scaler=return_scaler, key=key)
    return run, (transition, jnp.where(done, timestep.episode_return, 0.0), jnp.where(done, timestep.episode_length, 0), done)


class Period(NamedTuple):
    """What an evaluation period carries from rollout to rollout besides the run itself."""

    run: RunState
    finished_return: jax.Array
    """Sum of the returns of the training episodes finished in this period."""
    finished_length: jax.Array
    finished_count: jax.Array
    first_bad_step: jax.Array
    """The env step after the first rollout whose loss was NaN/Inf in this period; -1 if none."""
    totals: training_metrics.Totals
    """The sums of the metrics of this period's updates (their means go to metrics.csv)."""


def collect(config: TrainConfig, env: envs.Env, hp, run: RunState):
    """A rollout of num_steps steps -> (run, (rollout, episode returns, episode lengths, episode ends))."""
    return jax.lax.scan(functools.partial(env_step, config, env, hp), run, None, length=config.agent_config.num_steps)


def start_period(config: TrainConfig, env: envs.Env, hp, run: RunState) -> Period:
    """The carry of a fresh period."""
    update = functools.partial(AGENTS[config.agent].update, config.agent_config, hp)
    shapes = jax.eval_shape(lambda: update(run.agent, collect(config, env, hp, run)[1][0], run.key)[1])
    zero = jnp.zeros((), jnp.int32)
    return Period(run, jnp.zeros((), jnp.float32), zero, zero, jnp.array(-1, jnp.int32), training_metrics.start(shapes))


def iteration(config: TrainConfig, env: envs.Env, hp, carry: Period, rollout_index) -> tuple[Period, None]:
    """Collect a rollout, then the agent's update on it (scan body over a period's rollouts)."""
    run, (rollout, episode_returns, episode_lengths, episode_ends) = collect(config, env, hp, carry.run)
    key, update_key = jax.random.split(run.key)
    if config.agent_config.anneal_lr:
        num_rollouts = config.total_steps // rollout_steps(config)
        hp = hp.replace(learning_rate=hp.learning_rate * (1.0 - rollout_index / num_rollouts))
    agent_state, metrics = AGENTS[config.agent].update(config.agent_config, hp, run.agent, rollout, update_key)
    bad = ~jnp.isfinite(metrics["loss"])
    env_steps_after = (rollout_index + 1) * rollout_steps(config)
    return Period(
        run.replace(agent=agent_state, key=key),
        carry.finished_return + jnp.sum(episode_returns),
        carry.finished_length + jnp.sum(episode_lengths),
        carry.finished_count + jnp.sum(episode_ends),
        jnp.where((carry.first_bad_step < 0) & bad, env_steps_after, carry.first_bad_step),
        # each rollout's metrics are means over as many minibatch updates: they weigh the same
        training_metrics.add(carry.totals, jax.tree.map(lambda m: m[None], metrics), jnp.array(True)),
    ), None


def run_chunk(config: TrainConfig, env: envs.Env, length: int, hp, carry: Period, first) -> Period:
    """`length` rollouts and updates from rollout `first`."""
    carry, _ = jax.lax.scan(functools.partial(iteration, config, env, hp), carry, first + jnp.arange(length))
    return carry


def finish_period(config: TrainConfig, env: envs.Env, start: RunState, carry: Period, hp, period) -> tuple[RunState, dict]:
    """The divergence check (a run whose loss, parameters or statistics turned NaN/Inf is frozen, see
    agents.engine.loop.freeze_if_diverged, and its eval returns read NaN) and the evaluation that end a period."""
    period_end = (period + 1) * config.eval_every
    run = carry.run
    finite = loop.all_finite((run.agent, run.obs_stats, run.return_scaler))
    run = loop.freeze_if_diverged(start, run, carry.first_bad_step, period_end, finite)
    act = functools.partial(AGENTS[config.agent].act, config.agent_config, hp, run.agent)
    eval_returns, eval_lengths = loop.evaluate(
        env, lambda obs, key: act(normalized(config, run.obs_stats, obs), key, True), config.eval_episodes, run.eval_key
    )
    obs_stats = run.obs_stats if config.agent_config.obs_norm == "rsnorm_clipped" else None
    metrics = training_metrics.of_period(carry.totals, run.agent, obs_stats)
    return run, loop.period_metrics(
        run, metrics, eval_returns, eval_lengths, carry.finished_return, carry.finished_count, period_end,
        carry.finished_length,
    )


def rollouts_per_eval(config: TrainConfig) -> int:
    return config.eval_every // rollout_steps(config)


def run_period(config: TrainConfig, env: envs.Env, start: RunState, hp, period) -> tuple[RunState, dict]:
    """One evaluation period: its rollouts and updates, the divergence check, the evaluation."""
    count = rollouts_per_eval(config)
    carry = run_chunk(config, env, count, hp, start_period(config, env, hp, start), period * count)
    return finish_period(config, env, start, carry, hp, period)


def make_env(config: TrainConfig) -> envs.Env:
    validate(config)
    return envs.make(config.env)


def make_runs(config: TrainConfig, hp: Any, keys: jax.Array, mesh) -> loop.Runs:
    """The on-policy loop over a runs axis (hp, keys: leading [num_runs])."""
    env = make_env(config)
    count = rollouts_per_eval(config)
    length = loop.chunk_length(count)
    parts = loop.PeriodParts(
        functools.partial(start_period, config, env), functools.partial(run_chunk, config, env, length),
        functools.partial(finish_period, config, env), count, length,
    )
    return loop.Runs(
        hp, keys, mesh, functools.partial(init, config, env), functools.partial(run_period, config, env), parts=parts
    )


def train(config: TrainConfig, hparams: Any, key: jax.Array) -> tuple[RunState, dict]:
    """One run, pure and jittable (config static): (final state, metrics [num_evals, ...])."""
    env = make_env(config)
    hp = loop.as_arrays(hparams)
    run = init(config, env, hp, key)
    return jax.lax.scan(lambda r, period: run_period(config, env, r, hp, period), run, jnp.arange(config.num_evals))
