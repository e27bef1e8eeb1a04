"""TD3 (Fujimoto et al., 2018): twin delayed deep deterministic policy gradient.

A deterministic tanh actor explores with Gaussian noise (std `exploration_noise`, actions clipped
to [-1, 1]). The critics regress to
    y = r + gamma (1 - terminated) min_i Q'_i(s', clip(pi'(s') + clip(eps, -c, c), -1, 1)),
    eps ~ N(0, target_noise^2), c = noise_clip          (target policy smoothing)
and every `policy_delay` critic updates the actor ascends Q_1(s, pi(s)) and the target actor and
critics move towards the online ones by Polyak averaging (rate tau). Actions live in [-1, 1]; the
environment rescales them, so the noise scales are fractions of the action range, as in the paper.
"""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
import optax

from agents import actor_critic, optim
from agents.common import Preset, Transition, require_continuous
from envs import EnvSpec
from networks import CriticEnsemble, DeterministicActor


@dataclasses.dataclass(frozen=True)
class Config(actor_critic.Config):
    """Static TD3 settings (shapes and counts; changing one recompiles). Defaults: the paper's,
    with 256-wide layers (the authors' repository)."""

    policy_delay: int = 2
    """Critic updates per actor and target update."""
    learning_starts: int = 25_000
    """Env steps of uniformly random actions before the first update."""


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of TD3 (sweepable without recompiling)."""

    learning_rate: float = 3e-4
    """Adam learning rate of actor and critics."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak averaging rate of the target actor and critics."""
    exploration_noise: float = 0.1
    """Std of the Gaussian noise added to the actor's actions while collecting data."""
    target_noise: float = 0.2
    """Std of the target policy smoothing noise."""
    noise_clip: float = 0.5
    """The smoothing noise is clipped to [-noise_clip, noise_clip]."""


PRESETS = {
    "paper": Preset(Config(), Hyperparams(), "Fujimoto et al., ICML 2018, and the authors' code sfujim/TD3"),
    "cpu": Preset(
        Config(learning_starts=1000),
        Hyperparams(),
        "the paper's settings with 1000 random steps, for short runs on small tasks",
    ),
}
DEFAULT_PRESET = "cpu"


@flax.struct.dataclass
class State:
    actor_params: dict
    critic_params: dict
    target_actor_params: dict
    target_critic_params: dict
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    exploration_noise: jax.Array
    """Hyperparams.exploration_noise, kept in the state because acting does not see the hyperparameters."""
    actor: DeterministicActor = flax.struct.field(pytree_node=False)
    critic: CriticEnsemble = flax.struct.field(pytree_node=False)
    policy_delay: int = flax.struct.field(pytree_node=False)


_adam = optim.adam()


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams, agent_name: str = "TD3") -> State:
    require_continuous(env_spec, agent_name)
    actor = DeterministicActor(config.actor_spec, env_spec.action_dim)
    critic = CriticEnsemble(config.critic_spec, config.num_critics)
    actor_key, critic_key = jax.random.split(key)
    obs = jnp.zeros((1, *env_spec.obs_shape))
    actor_params = actor.init(actor_key, obs)
    critic_params = critic.init(critic_key, obs, jnp.zeros((1, env_spec.action_dim)))
    return State(
        actor_params=actor_params,
        critic_params=critic_params,
        target_actor_params=actor_params,
        target_critic_params=critic_params,
        actor_opt=_adam.init(actor_params),
        critic_opt=_adam.init(critic_params),
        exploration_noise=jnp.asarray(hp.exploration_noise, jnp.float32),
        actor=actor,
        critic=critic,
        policy_delay=config.policy_delay,
    )


def act(state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]; exploration adds
    N(0, exploration_noise^2) and clips."""
    action = state.actor.apply(state.actor_params, obs)
    if deterministic:
        return action
    noise = state.exploration_noise * jax.random.normal(key, action.shape)
    return jnp.clip(action + noise, -1.0, 1.0)


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams):
    next_action = state.actor.apply(state.target_actor_params, batch.next_obs)
    noise = jnp.clip(hp.target_noise * jax.random.normal(key, next_action.shape), -hp.noise_clip, hp.noise_clip)
    next_action = jnp.clip(next_action + noise, -1.0, 1.0)
    next_q = state.critic.apply(state.target_critic_params, batch.next_obs, next_action).min(axis=0)
    target = jax.lax.stop_gradient(batch.reward + hp.gamma * (1.0 - batch.terminated) * next_q)
    q = state.critic.apply(critic_params, batch.obs, batch.action)
    return 0.5 * jnp.sum(jnp.mean((q - target) ** 2, axis=-1)), q.mean()


def actor_loss(actor_params, state: State, batch: Transition):
    action = state.actor.apply(actor_params, batch.obs)
    return -jnp.mean(state.critic.apply(state.critic_params, batch.obs, action)[0])


def update_actor_and_targets(state: State, batch: Transition, hp: Hyperparams) -> tuple[State, jax.Array]:
    loss, grads = jax.value_and_grad(actor_loss)(state.actor_params, state, batch)
    actor_params, actor_opt = optim.apply(_adam, grads, state.actor_opt, state.actor_params, hp.learning_rate)
    state = state.replace(
        actor_params=actor_params,
        actor_opt=actor_opt,
        target_actor_params=optax.incremental_update(actor_params, state.target_actor_params, hp.tau),
        target_critic_params=optax.incremental_update(state.critic_params, state.target_critic_params, hp.tau),
    )
    return state, loss


def update(
    state: State, batch: Transition, key: jax.Array, hp: Hyperparams, update_index: jax.Array
) -> tuple[State, dict]:
    """One critic update, plus the actor and target updates when update_index % policy_delay == 0.

    update_index: the global count of updates before this one (unbatched across runs, so the delay
    is a real branch). actor_loss is NaN in the metrics of updates that skip the actor.
    """
    (c_loss, mean_q), grads = jax.value_and_grad(critic_loss, has_aux=True)(state.critic_params, state, batch, key, hp)
    critic_params, critic_opt = optim.apply(_adam, grads, state.critic_opt, state.critic_params, hp.learning_rate)
    state = state.replace(critic_params=critic_params, critic_opt=critic_opt)
    state, a_loss = jax.lax.cond(
        update_index % state.policy_delay == 0,
        lambda: update_actor_and_targets(state, batch, hp),
        lambda: (state, jnp.float32(jnp.nan)),
    )
    return state, {"critic_loss": c_loss, "actor_loss": a_loss, "mean_q": mean_q}
