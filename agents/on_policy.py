"""The fused on-policy training loop (PPO): rollouts, normalization statistics and updates in one scan.

Each iteration collects a rollout of `num_steps` steps in `num_envs` environments with the current
policy, then hands it to the agent's `update` (advantages, epochs of minibatches). Observation and
reward normalization statistics live in the run state and move with every collected step. An
evaluation period is `eval_every` env steps (a whole number of rollouts) followed by the shared
deterministic evaluation; `train(config, hparams, key)` is pure and vmaps over seeds and hyperparameters.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

import envs
from agents import AGENTS, loop
from agents.common import ConfigError
from agents.normalizers import ReturnScaler, normalize_clipped
from networks import rsnorm


OBS_NORMS = ("none", "rsnorm_clipped")
"""--obs-norm of on-policy agents: none, or running statistics with the result clipped to +-10."""


@dataclasses.dataclass(frozen=True)
class OnPolicyConfig(loop.RunConfig):
    """Static settings of one on-policy run; a rollout is num_envs x agent_config.num_steps env steps."""

    @property
    def rollout_steps(self) -> int:
        return self.num_envs * self.agent_config.num_steps

    @property
    def rollouts_per_eval(self) -> int:
        return self.eval_every // self.rollout_steps

    @property
    def num_rollouts(self) -> int:
        return self.total_steps // self.rollout_steps


def validate(config: OnPolicyConfig) -> None:
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
    rollout = config.rollout_steps
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


@flax.struct.dataclass
class RunState:
    """Everything that defines a run between evaluations (a checkpoint is this state)."""

    agent: Any
    env_state: envs.EnvState
    obs: jax.Array
    """[num_envs, *obs_shape] the raw observations to act on next."""
    obs_stats: rsnorm.RunningStats
    """Running mean and variance of the collected observations (used with --obs-norm rsnorm_clipped)."""
    return_scaler: ReturnScaler
    """Discounted returns and their running variance (used with --normalize-reward)."""
    key: jax.Array
    eval_key: jax.Array
    diverged_at: jax.Array
    """-1 while healthy; else the env step at which a loss or parameter became NaN/Inf (the run is frozen)."""


def make_loop(config: OnPolicyConfig) -> loop.Loop:
    validate(config)
    agent = AGENTS[config.agent]
    agent_config = config.agent_config
    env = envs.make(config.env)
    spec = env.spec
    num_envs = config.num_envs
    vmapped_step = jax.vmap(env.step)
    normalizing = agent_config.obs_norm == "rsnorm_clipped"

    def normalized(stats: rsnorm.RunningStats, obs: jax.Array) -> jax.Array:
        return normalize_clipped(stats, obs) if normalizing else obs

    def init(hp, key: jax.Array) -> RunState:
        agent_key, env_key, eval_key, key = jax.random.split(key, 4)
        env_state, obs = jax.vmap(env.reset)(jax.random.split(env_key, num_envs))
        return RunState(
            agent=agent.init(agent_key, spec, agent_config, hp),
            env_state=env_state,
            obs=obs,
            obs_stats=rsnorm.init(spec.obs_shape),
            return_scaler=ReturnScaler.create(num_envs),
            key=key,
            eval_key=eval_key,
            diverged_at=jnp.array(-1, jnp.int32),
        )

    def env_step(run: RunState, hp):
        key, act_key, step_key = jax.random.split(run.key, 3)
        obs_stats = rsnorm.update(run.obs_stats, run.obs) if normalizing else run.obs_stats
        obs = normalized(obs_stats, run.obs)
        action, log_prob, value = agent.explore(run.agent, obs, act_key)
        env_state, timestep = vmapped_step(jax.random.split(step_key, num_envs), run.env_state, action)
        done = timestep.done
        return_scaler, reward = run.return_scaler, timestep.reward
        if agent_config.normalize_reward:
            return_scaler = return_scaler.update(reward, done, hp.gamma)
            reward = return_scaler.scale(reward)
        transition = agent.Rollout(
            obs=obs,
            action=action,
            log_prob=log_prob,
            value=value,
            reward=reward,
            terminated=timestep.terminated.astype(jnp.float32),
            done=done.astype(jnp.float32),
            final_obs=normalized(obs_stats, timestep.final_obs),
        )
        run = run.replace(
            env_state=env_state, obs=timestep.obs, obs_stats=obs_stats, return_scaler=return_scaler, key=key
        )
        return run, (transition, jnp.where(done, timestep.episode_return, 0.0), done)

    def iteration(carry, rollout_index, hp):
        run, finished_return, finished_count, first_bad_step = carry
        run, (rollout, episode_returns, episode_ends) = jax.lax.scan(
            lambda r, _: env_step(r, hp), run, None, length=agent_config.num_steps
        )
        key, update_key = jax.random.split(run.key)
        if agent_config.anneal_lr:
            hp = hp.replace(learning_rate=hp.learning_rate * (1.0 - rollout_index / config.num_rollouts))
        agent_state, metrics = agent.update(run.agent, rollout, update_key, hp)
        bad = ~jnp.isfinite(metrics["loss"])
        env_steps_after = (rollout_index + 1) * config.rollout_steps
        return (
            run.replace(agent=agent_state, key=key),
            finished_return + jnp.sum(episode_returns),
            finished_count + jnp.sum(episode_ends),
            jnp.where((first_bad_step < 0) & bad, env_steps_after, first_bad_step),
        ), metrics

    def run_period(start: RunState, hp, period) -> tuple[RunState, dict]:
        """One evaluation period; a run whose loss, parameters or statistics turn NaN/Inf is frozen
        (see agents.loop.freeze_if_diverged) and its eval returns read NaN."""
        first = period * config.rollouts_per_eval
        carry = (start, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32), jnp.array(-1, jnp.int32))
        (run, finished_return, finished_count, first_bad_step), metrics = jax.lax.scan(
            lambda c, i: iteration(c, i, hp), carry, first + jnp.arange(config.rollouts_per_eval)
        )
        period_end = (period + 1) * config.eval_every
        finite = loop.all_finite((run.agent, run.obs_stats, run.return_scaler))
        run = loop.freeze_if_diverged(start, run, first_bad_step, period_end, finite)
        eval_returns, eval_lengths = loop.evaluate(
            env,
            lambda obs, key: agent.act(run.agent, normalized(run.obs_stats, obs), key, True),
            config.eval_episodes,
            run.eval_key,
        )
        last_metrics = jax.tree.map(lambda m: m[-1], metrics)
        return run, loop.period_metrics(
            run, last_metrics, eval_returns, eval_lengths, finished_return, finished_count, period_end
        )

    return loop.compose(init, run_period, config.num_evals)


def train(config: OnPolicyConfig, hparams: Any, key: jax.Array) -> tuple[RunState, dict]:
    """One run, pure and jittable (config static): (final state, metrics [num_evals, ...])."""
    return make_loop(config).train(loop.as_arrays(hparams), key)
