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
import optax

from agents import actor_critic, optim
from agents.common import Preset, Transition
from envs import EnvSpec
from networks import CriticEnsemble, TanhGaussianActor, tanh_gaussian_sample


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
DEFAULT_PRESET = "cpu"


@flax.struct.dataclass
class State:
    """Actor and critic variables ({"params", "batch_stats"}); no target networks."""

    actor_vars: dict
    critic_vars: dict
    log_alpha: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState
    actor: TanhGaussianActor = flax.struct.field(pytree_node=False)
    critic: CriticEnsemble = flax.struct.field(pytree_node=False)
    config: Config = flax.struct.field(pytree_node=False)


_alpha_adam = optim.adam()


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    actor, critic, actor_vars, critic_vars = actor_critic.build(key, env_spec, config, "CrossQ")
    log_alpha = jnp.log(jnp.asarray(hp.initial_alpha, jnp.float32))
    adam = optim.adam(b1=config.adam_b1)
    return State(
        actor_vars=actor_vars,
        critic_vars=critic_vars,
        log_alpha=log_alpha,
        actor_opt=adam.init(actor_vars["params"]),
        critic_opt=adam.init(critic_vars["params"]),
        alpha_opt=_alpha_adam.init(log_alpha),
        actor=actor,
        critic=critic,
        config=config,
    )


def act(state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs: [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]; the actor in eval mode."""
    mean, log_std = state.actor.apply(state.actor_vars, obs, train=False)
    if deterministic:
        return jnp.tanh(mean)
    return tanh_gaussian_sample(mean, log_std, key)[0]


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams):
    """The joint forward pass; returns (loss, (new critic batch_stats, mean Q))."""
    alpha = jnp.exp(state.log_alpha)
    mean, log_std = state.actor.apply(state.actor_vars, batch.next_obs, train=False)
    next_action, next_log_prob = tanh_gaussian_sample(mean, log_std, key)
    joint_obs = jnp.concatenate([batch.obs, batch.next_obs])
    joint_action = jnp.concatenate([batch.action, jax.lax.stop_gradient(next_action)])
    joint_q, critic_stats = actor_critic.apply_train(state.critic, critic_params, state.critic_vars, joint_obs, joint_action)
    q, next_q = jnp.split(joint_q, 2, axis=-1)
    next_value = next_q.min(axis=0) - alpha * next_log_prob
    target = jax.lax.stop_gradient(batch.reward + hp.gamma * (1.0 - batch.terminated) * next_value)
    loss = 0.5 * jnp.sum(jnp.mean((q - target) ** 2, axis=-1))
    return loss, (critic_stats, q.mean())


def actor_loss(actor_params, state: State, batch: Transition, key):
    """Returns (loss, (new actor batch_stats, log pi of the sampled actions))."""
    alpha = jnp.exp(state.log_alpha)
    (mean, log_std), actor_stats = actor_critic.apply_train(state.actor, actor_params, state.actor_vars, batch.obs)
    action, log_prob = tanh_gaussian_sample(mean, log_std, key)
    q = state.critic.apply(state.critic_vars, batch.obs, action, train=False).min(axis=0)
    return jnp.mean(alpha * log_prob - q), (actor_stats, log_prob)


def update_actor_and_alpha(state: State, batch: Transition, key, hp: Hyperparams) -> tuple[State, dict]:
    adam = optim.adam(b1=state.config.adam_b1)
    (a_loss, (actor_stats, log_prob)), grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor_vars["params"], state, batch, key
    )
    actor_params, actor_opt = optim.apply(adam, grads, state.actor_opt, state.actor_vars["params"], hp.learning_rate)
    target_entropy = -hp.target_entropy_scale * state.actor.action_dim
    alpha_grad = jax.grad(actor_critic.temperature_loss)(
        state.log_alpha, log_prob, target_entropy, state.config.temperature_loss
    )
    log_alpha, alpha_opt = optim.apply(_alpha_adam, alpha_grad, state.alpha_opt, state.log_alpha, hp.learning_rate)
    state = state.replace(
        actor_vars={"params": actor_params, "batch_stats": actor_stats},
        actor_opt=actor_opt,
        log_alpha=log_alpha,
        alpha_opt=alpha_opt,
    )
    return state, {"actor_loss": a_loss, "entropy": -jnp.mean(log_prob)}


def update(
    state: State, batch: Transition, key: jax.Array, hp: Hyperparams, update_index: jax.Array
) -> tuple[State, dict]:
    """One critic update, plus an actor and temperature update when (update_index + 1) % policy_delay == 0.

    batch: leaves [batch_size, ...]. update_index: the global count of updates before this one
    (unbatched across runs, so the delay is a real branch). actor_loss and entropy are NaN in the
    metrics of updates that skip the actor.
    """
    critic_key, actor_key = jax.random.split(key)
    adam = optim.adam(b1=state.config.adam_b1)
    (c_loss, (critic_stats, mean_q)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic_vars["params"], state, batch, critic_key, hp
    )
    critic_params, critic_opt = optim.apply(
        adam, grads, state.critic_opt, state.critic_vars["params"], hp.learning_rate
    )
    state = state.replace(critic_vars={"params": critic_params, "batch_stats": critic_stats}, critic_opt=critic_opt)
    state, actor_metrics = jax.lax.cond(
        (update_index + 1) % state.config.policy_delay == 0,
        lambda: update_actor_and_alpha(state, batch, actor_key, hp),
        lambda: (state, {"actor_loss": jnp.float32(jnp.nan), "entropy": jnp.float32(jnp.nan)}),
    )
    return state, {"critic_loss": c_loss, "mean_q": mean_q, "alpha": jnp.exp(state.log_alpha), **actor_metrics}
