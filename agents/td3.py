"""TD3 (Fujimoto et al., 2018): twin delayed deep deterministic policy gradient.

A deterministic tanh actor explores with Gaussian noise (std `exploration_noise`, actions clipped
to [-1, 1]). The critics regress to
    y = r + gamma (1 - terminated) min_i Q'_i(s', clip(pi'(s') + clip(eps, -c, c), -1, 1)),
    eps ~ N(0, target_noise^2), c = noise_clip          (target policy smoothing)
and every `policy_delay` critic updates the actor ascends Q_1(s, pi(s)) and the target actor and
critics move towards the online ones by Polyak averaging (rate tau). Actions live in [-1, 1]; the
environment rescales them, so the noise scales are fractions of the action range, as in the paper.
The first actor update comes at the `policy_delay`-th critic update (the authors' `total_it %
policy_freq == 0` with total_it counted from 1).

Any network of the suite works: only the variables' "params" are differentiated; the network being
updated runs in train mode (its batch statistics move), every other pass in eval mode, and the targets
Polyak-average the online statistics with the parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

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
    """Static TD3 settings (shapes and counts; changing one recompiles). Defaults: the paper's, with
    256-wide layers (the authors' repository; --preset paper); train.py starts from the cpu preset."""

    policy_delay: int = 2
    """Critic updates per actor and target update."""
    learning_starts: int = 25_000
    """Env steps of uniformly random actions before the first update."""


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of TD3 (sweepable without recompiling)."""

    learning_rate: float = 3e-4
    """Adam learning rate of actor and critics."""
    gamma: float | Literal["auto"] = 0.99
    """Discount factor; auto: TD-MPC2's heuristic from the env's time limit T, clip(1 - 5/T, 0.95, 0.995)."""
    tau: float = 0.005
    """Polyak averaging rate of the target actor and critics."""
    exploration_noise: float = 0.1
    """Std of the Gaussian noise added to the actor's actions while collecting data."""
    target_noise: float = 0.2
    """Std of the target policy smoothing noise."""
    noise_clip: float = 0.5
    """The smoothing noise is clipped to [-noise_clip, noise_clip]."""


PRESETS = {
    "paper": Preset(
        Config(),
        Hyperparams(),
        "Fujimoto et al., ICML 2018, and the authors' code sfujim/TD3 (main.py, TD3.py): 256x256, Adam lr 3e-4, "
        "batch 256, 25,000 random steps, exploration noise 0.1, smoothing noise 0.2 clipped at 0.5, policy "
        "delay 2, tau 0.005, gamma 0.99; 1M env steps evaluated every 5000",
        {"total_steps": 1_000_000, "eval_every": 5_000},
    ),
    "cpu": Preset(
        Config(learning_starts=1000),
        Hyperparams(),
        "the paper's settings with 1000 random steps, for short runs on small tasks",
    ),
}
DEFAULT_PRESET = "cpu"


@flax.struct.dataclass
class State:
    """Actor, critic and target variables ({"params", "batch_stats"})."""

    actor_vars: dict
    critic_vars: dict
    target_actor_vars: dict
    target_critic_vars: dict
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
    actor_vars = actor_critic.with_stats(actor.init(actor_key, obs))
    critic_vars = actor_critic.with_stats(critic.init(critic_key, obs, jnp.zeros((1, env_spec.action_dim))))
    return State(
        actor_vars=actor_vars,
        critic_vars=critic_vars,
        target_actor_vars=actor_vars,
        target_critic_vars=critic_vars,
        actor_opt=_adam.init(actor_vars["params"]),
        critic_opt=_adam.init(critic_vars["params"]),
        exploration_noise=jnp.asarray(hp.exploration_noise, jnp.float32),
        actor=actor,
        critic=critic,
        policy_delay=config.policy_delay,
    )


def act(state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]; exploration adds
    N(0, exploration_noise^2) and clips; the actor in eval mode."""
    action = state.actor.apply(state.actor_vars, obs, train=False)
    if deterministic:
        return action
    noise = state.exploration_noise * jax.random.normal(key, action.shape)
    return jnp.clip(action + noise, -1.0, 1.0)


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams):
    """Returns (loss, (new critic batch_stats, mean Q)); targets in eval mode, the critics in train mode."""
    next_action = state.actor.apply(state.target_actor_vars, batch.next_obs, train=False)
    noise = jnp.clip(hp.target_noise * jax.random.normal(key, next_action.shape), -hp.noise_clip, hp.noise_clip)
    next_action = jnp.clip(next_action + noise, -1.0, 1.0)
    next_q = state.critic.apply(state.target_critic_vars, batch.next_obs, next_action, train=False).min(axis=0)
    target = jax.lax.stop_gradient(batch.reward + hp.gamma * (1.0 - batch.terminated) * next_q)
    q, critic_stats = actor_critic.apply_train(state.critic, critic_params, state.critic_vars, batch.obs, batch.action)
    return 0.5 * jnp.sum(jnp.mean((q - target) ** 2, axis=-1)), (critic_stats, q.mean())


def actor_loss(actor_params, state: State, batch: Transition):
    """Returns (loss, new actor batch_stats); the actor in train mode, critic 1 in eval mode."""
    action, actor_stats = actor_critic.apply_train(state.actor, actor_params, state.actor_vars, batch.obs)
    return -jnp.mean(state.critic.apply(state.critic_vars, batch.obs, action, train=False)[0]), actor_stats


def update_actor_and_targets(state: State, batch: Transition, hp: Hyperparams) -> tuple[State, jax.Array]:
    (loss, actor_stats), grads = jax.value_and_grad(actor_loss, has_aux=True)(state.actor_vars["params"], state, batch)
    params, actor_opt = optim.apply(_adam, grads, state.actor_opt, state.actor_vars["params"], hp.learning_rate)
    actor_vars = {"params": params, "batch_stats": actor_stats}
    state = state.replace(
        actor_vars=actor_vars,
        actor_opt=actor_opt,
        target_actor_vars=actor_critic.polyak(actor_vars, state.target_actor_vars, hp.tau),
        target_critic_vars=actor_critic.polyak(state.critic_vars, state.target_critic_vars, hp.tau),
    )
    return state, loss


def update(
    state: State, batch: Transition, key: jax.Array, hp: Hyperparams, update_index: jax.Array
) -> tuple[State, dict]:
    """One critic update, plus the actor and target updates when (update_index + 1) % policy_delay == 0.

    update_index: the global count of updates before this one (unbatched across runs, so the delay
    is a real branch). actor_loss is NaN in the metrics of updates that skip the actor.
    """
    (c_loss, (critic_stats, mean_q)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic_vars["params"], state, batch, key, hp
    )
    params, critic_opt = optim.apply(_adam, grads, state.critic_opt, state.critic_vars["params"], hp.learning_rate)
    state = state.replace(critic_vars={"params": params, "batch_stats": critic_stats}, critic_opt=critic_opt)
    state, a_loss = jax.lax.cond(
        (update_index + 1) % state.policy_delay == 0,
        lambda: update_actor_and_targets(state, batch, hp),
        lambda: (state, jnp.float32(jnp.nan)),
    )
    return state, {"critic_loss": c_loss, "actor_loss": a_loss, "mean_q": mean_q}
