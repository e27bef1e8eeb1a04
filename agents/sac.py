"""Soft Actor-Critic (Haarnoja et al., 2018) with automatic entropy tuning.

Twin critics with independent initialization and Polyak-averaged targets; a tanh-Gaussian actor;
the temperature alpha is learned towards the target entropy -scale * |A|. Bootstraps through
truncation (time limits) and not through termination: `batch.terminated` is the only cut.
"""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
import optax

from agents import actor_critic, optim
from agents.common import Preset, Transition
from envs import EnvSpec
from networks import CriticEnsemble, TanhGaussianActor, tanh_gaussian_sample


@dataclasses.dataclass(frozen=True)
class Config(actor_critic.Config):
    """Static SAC settings (shapes and counts; changing one recompiles)."""


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of SAC (sweepable without recompiling)."""

    learning_rate: float = 3e-4
    """Adam learning rate of actor, critics and temperature."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak averaging rate of the target critics."""
    initial_alpha: float = 1.0
    """Initial entropy temperature."""
    target_entropy_scale: float = 1.0
    """The temperature is tuned towards entropy -target_entropy_scale * |A|."""
    weight_decay: float = 0.0
    """Decoupled (AdamW) weight decay of actor and critic parameters; the temperature has none."""


SIMBA = Preset(
    Config(
        actor_net="simba",
        critic_net="simba",
        actor_width=128,
        actor_depth=1,
        critic_width=512,
        critic_depth=2,
        num_critics=1,
    ),
    Hyperparams(learning_rate=1e-4, weight_decay=1e-2, initial_alpha=0.01, target_entropy_scale=0.5),
    "SimBa-SAC, Lee et al., ICLR 2025, and the authors' code SonyResearch/simba: one critic, as the authors "
    "use on tasks without failure termination; pass --num-critics 2 for clipped double Q on tasks that "
    "terminate on failure (Hopper, Walker2d, Ant, Humanoid)",
)
PAPER = Preset(
    Config(),
    Hyperparams(learning_rate=1e-3),
    "the SAC baseline of the CrossQ authors' code adityab/CrossQ, whose runs are the published SAC curves "
    "(shared/reference): Adam lr 1e-3, 256x256 ReLU, tau 0.005, UTD 1, batch 256, buffer 1M, 5000 random "
    "steps, gamma 0.99, 2 critics with targets, alpha learned from 1.0 towards -|A|",
)
PRESETS = {"paper": PAPER, "simba": SIMBA}
"""sac's named settings; with no --preset, sac runs with the dataclass defaults (SB3's SAC: lr 3e-4)."""


@flax.struct.dataclass
class State:
    actor_params: dict
    critic_params: dict
    target_critic_params: dict
    log_alpha: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState
    actor: TanhGaussianActor = flax.struct.field(pytree_node=False)
    critic: CriticEnsemble = flax.struct.field(pytree_node=False)


_adam = optim.adam()


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    actor, critic, actor_params, critic_params = actor_critic.build(key, env_spec, config, "SAC")
    log_alpha = jnp.log(jnp.asarray(hp.initial_alpha, jnp.float32))
    return State(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=critic_params,
        log_alpha=log_alpha,
        actor_opt=_adam.init(actor_params),
        critic_opt=_adam.init(critic_params),
        alpha_opt=_adam.init(log_alpha),
        actor=actor,
        critic=critic,
    )


def act(state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs: [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]."""
    mean, log_std = state.actor.apply(state.actor_params, obs)
    if deterministic:
        return jnp.tanh(mean)
    return tanh_gaussian_sample(mean, log_std, key)[0]


def sample_action(state: State, actor_params: dict, obs: jax.Array, key: jax.Array):
    mean, log_std = state.actor.apply(actor_params, obs)
    return tanh_gaussian_sample(mean, log_std, key)


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams):
    alpha = jnp.exp(state.log_alpha)
    next_action, next_log_prob = sample_action(state, state.actor_params, batch.next_obs, key)
    next_q = state.critic.apply(state.target_critic_params, batch.next_obs, next_action).min(axis=0)
    soft_next_value = next_q - alpha * next_log_prob
    target = batch.reward + hp.gamma * (1.0 - batch.terminated) * soft_next_value
    q = state.critic.apply(critic_params, batch.obs, batch.action)
    loss = 0.5 * jnp.sum(jnp.mean((q - jax.lax.stop_gradient(target)) ** 2, axis=-1))
    return loss, q.mean()


def actor_loss(actor_params, state: State, batch: Transition, key):
    alpha = jnp.exp(state.log_alpha)
    action, log_prob = sample_action(state, actor_params, batch.obs, key)
    q = state.critic.apply(state.critic_params, batch.obs, action).min(axis=0)
    return jnp.mean(alpha * log_prob - q), log_prob


def update(
    state: State, batch: Transition, key: jax.Array, hp: Hyperparams, update_index: jax.Array
) -> tuple[State, dict]:
    """One gradient step of critics, actor and temperature on `batch` (leaves [batch_size, ...]).

    update_index (the global count of updates before this one) is unused: SAC has no policy delay.
    """
    del update_index
    critic_key, actor_key = jax.random.split(key)
    (c_loss, mean_q), critic_grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic_params, state, batch, critic_key, hp
    )
    critic_params, critic_opt = optim.apply(
        _adam, critic_grads, state.critic_opt, state.critic_params, hp.learning_rate, hp.weight_decay
    )
    state = state.replace(critic_params=critic_params, critic_opt=critic_opt)

    (a_loss, log_prob), actor_grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor_params, state, batch, actor_key
    )
    actor_params, actor_opt = optim.apply(
        _adam, actor_grads, state.actor_opt, state.actor_params, hp.learning_rate, hp.weight_decay
    )

    target_entropy = -hp.target_entropy_scale * state.actor.action_dim
    t_loss, alpha_grad = jax.value_and_grad(actor_critic.temperature_loss)(
        state.log_alpha, log_prob, target_entropy
    )
    log_alpha, alpha_opt = optim.apply(_adam, alpha_grad, state.alpha_opt, state.log_alpha, hp.learning_rate)

    target_critic_params = optax.incremental_update(critic_params, state.target_critic_params, hp.tau)
    state = state.replace(
        actor_params=actor_params,
        actor_opt=actor_opt,
        log_alpha=log_alpha,
        alpha_opt=alpha_opt,
        target_critic_params=target_critic_params,
    )
    metrics = {
        "critic_loss": c_loss,
        "actor_loss": a_loss,
        "alpha_loss": t_loss,
        "alpha": jnp.exp(log_alpha),
        "mean_q": mean_q,
        "entropy": -jnp.mean(log_prob),
    }
    return state, metrics
