"""CrossQ (Bhatt et al., ICLR 2024): SAC without target networks, with batch renormalization.

The critic sees the current and the next state-action pairs in **one joint forward pass**, so its
batch statistics are those of the joint batch, and the next-state value needs no target network:
    target = r + gamma (1 - terminated) (min_i Q_i(s', a') - alpha log pi(a'|s')),   a' ~ pi(.|s')
    critic loss = 0.5 sum_i mean_batch (Q_i(s, a) - sg(target))^2
Normalization modes follow the authors' code: acting and sampling a' use the actor in eval mode;
the actor loss uses the actor in train mode and the critic in eval mode; only the critic update
moves the critic's running statistics and only the actor update moves the actor's. The actor and
the temperature are updated every `policy_delay` critic updates, the first time at the
`policy_delay`-th (the authors' `(n + 1) % policy_delay == 0`).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct
import jax
import jax.numpy as jnp

from agents import actor_critic, learner
from agents.common import Agent, Preset, Transition
from agents.learner import Learner
from envs import EnvSpec
from networks import tanh_gaussian_sample


@dataclasses.dataclass(frozen=True)
class Config(actor_critic.MaxEntConfig):
    """Static CrossQ settings (shapes and counts; changing one recompiles). Defaults: the paper's
    (--preset paper); train.py starts from the cpu preset."""

    critic_width: int = 2048
    """Hidden units per critic layer."""
    actor_norm: str = "batch_renorm"
    """Actor normalization (mlp: of the input and hidden layers; simba: in place of its LayerNorms):
    batch_renorm, batch_norm, none (or layer_norm for simba)."""
    critic_norm: str = "batch_renorm"
    """Critic normalization (mlp: of the input and hidden layers; simba: in place of its LayerNorms):
    batch_renorm, batch_norm, none (or layer_norm for simba)."""
    policy_delay: int = 3
    """Critic updates per actor and temperature update."""
    adam_b1: float = 0.5
    """Adam's first-moment decay for actor and critics (the temperature uses 0.9)."""
    temperature_loss: Literal["log_alpha", "alpha"] = "alpha"
    """Temperature loss: alpha * (H - H_target) (the authors' code) or log_alpha * (H - H_target) (SBX)."""


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of CrossQ (sweepable without recompiling)."""

    learning_rate: float = 1e-3
    """Adam learning rate of actor, critics and temperature."""
    gamma: float | Literal["auto"] = 0.99
    """Discount factor; auto: TD-MPC2's heuristic from the env's time limit T, clip(1 - 5/T, 0.95, 0.995)."""
    initial_alpha: float = 1.0
    """Initial entropy temperature."""
    target_entropy_scale: float = 1.0
    """The temperature is tuned towards entropy -target_entropy_scale * |A|."""


PRESETS = {
    "paper": Preset(
        Config(),
        Hyperparams(),
        "Bhatt et al., ICLR 2024, and the authors' code adityab/CrossQ (train.py -algo crossq, sbx/sac/): "
        "critics 2x2048 and actor 2x256 with BatchRenorm, Adam lr 1e-3 with beta1 0.5, policy delay 3, "
        "UTD 1, batch 256, 5000 random steps, gamma 0.99, alpha learned from 1.0 towards -|A| with the "
        "alpha-scaled loss, log-std clipped to [-20, 2]",
    ),
    "cpu": Preset(
        Config(critic_width=256, learning_starts=1000),
        Hyperparams(),
        "the paper's settings with 256-wide critics and 1000 random steps: trains in minutes on a CPU",
    ),
}


@flax.struct.dataclass
class State:
    """Actor, critics and log-temperature as learners; no target networks."""

    actor: Learner
    critic: Learner
    log_alpha: Learner


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    adam = learner.adam(b1=config.adam_b1)
    actor, critic = actor_critic.build(key, env_spec, config, "CrossQ", adam)
    log_alpha = jnp.log(jnp.asarray(hp.initial_alpha, jnp.float32))
    return State(actor=actor, critic=critic, log_alpha=Learner.create(None, log_alpha, learner.adam()))


def act(config: Config, hp: Hyperparams, state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs: [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]; the actor in eval mode."""
    mean, log_std = state.actor(obs)
    if deterministic:
        return jnp.tanh(mean)
    return tanh_gaussian_sample(mean, log_std, key)[0]


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams):
    """The joint forward pass; returns (loss, (new critic batch_stats, mean Q))."""
    alpha = jnp.exp(state.log_alpha.params)
    mean, log_std = state.actor(batch.next_obs)
    next_action, next_log_prob = tanh_gaussian_sample(mean, log_std, key)
    joint_obs = jnp.concatenate([batch.obs, batch.next_obs])
    joint_action = jnp.concatenate([batch.action, jax.lax.stop_gradient(next_action)])
    joint_q, critic_stats = state.critic.apply_train(critic_params, joint_obs, joint_action)
    q, next_q = jnp.split(joint_q, 2, axis=-1)
    next_value = next_q.min(axis=0) - alpha * next_log_prob
    target = jax.lax.stop_gradient(batch.reward + hp.gamma * (1.0 - batch.terminated) * next_value)
    loss = 0.5 * jnp.sum(jnp.mean((q - target) ** 2, axis=-1))
    return loss, (critic_stats, q.mean())


def actor_loss(actor_params, state: State, batch: Transition, key):
    """Returns (loss, (new actor batch_stats, log pi of the sampled actions))."""
    alpha = jnp.exp(state.log_alpha.params)
    (mean, log_std), actor_stats = state.actor.apply_train(actor_params, batch.obs)
    action, log_prob = tanh_gaussian_sample(mean, log_std, key)
    q = state.critic(batch.obs, action).min(axis=0)
    return jnp.mean(alpha * log_prob - q), (actor_stats, log_prob)


def update_actor_and_alpha(config: Config, hp: Hyperparams, state: State, batch: Transition, key) -> tuple[State, dict]:
    (a_loss, (actor_stats, log_prob)), grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor.params, state, batch, key
    )
    actor, grad_norm = state.actor.step(learner.adam(b1=config.adam_b1), grads, hp.learning_rate, stats=actor_stats)
    target_entropy = -hp.target_entropy_scale * actor.module.action_dim
    alpha_grad = jax.grad(actor_critic.temperature_loss)(
        state.log_alpha.params, log_prob, target_entropy, config.temperature_loss
    )
    log_alpha, _ = state.log_alpha.step(learner.adam(), alpha_grad, hp.learning_rate)
    metrics = {"actor_loss": a_loss, "entropy": -jnp.mean(log_prob), "actor_grad_norm": grad_norm}
    return state.replace(actor=actor, log_alpha=log_alpha), metrics


def update(
    config: Config, hp: Hyperparams, state: State, batch: Transition, key: jax.Array, update_index: jax.Array
) -> tuple[State, dict]:
    """One critic update, plus an actor and temperature update when (update_index + 1) % policy_delay == 0.

    batch: leaves [batch_size, ...]. update_index: the global count of updates before this one
    (unbatched across runs, so the delay is a real branch). The actor's metrics are NaN in updates
    that skip the actor.
    """
    critic_key, actor_key = jax.random.split(key)
    (c_loss, (critic_stats, mean_q)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic.params, state, batch, critic_key, hp
    )
    critic, grad_norm = state.critic.step(learner.adam(b1=config.adam_b1), grads, hp.learning_rate, stats=critic_stats)
    state = state.replace(critic=critic)
    skipped = {name: jnp.float32(jnp.nan) for name in ("actor_loss", "entropy", "actor_grad_norm")}
    state, actor_metrics = jax.lax.cond(
        (update_index + 1) % config.policy_delay == 0,
        lambda: update_actor_and_alpha(config, hp, state, batch, actor_key),
        lambda: (state, skipped),
    )
    return state, {
        "critic_loss": c_loss,
        "mean_q": mean_q,
        "alpha": jnp.exp(state.log_alpha.params),
        "critic_grad_norm": grad_norm,
        **actor_metrics,
    }


AGENT = Agent(name="crossq", summary=__doc__.splitlines()[0], Config=Config, Hyperparams=Hyperparams,
              init=init, act=act, update=update, presets=PRESETS, default_preset="cpu")
