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

from agents import actor_critic, learner
from agents.common import Agent, Preset, Transition
from agents.learner import Learner
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


@flax.struct.dataclass
class State:
    """Actor and critics as learners, and the target networks' variables ({"params", "batch_stats"})."""

    actor: Learner
    critic: Learner
    target_actor: dict
    target_critic: dict


_adam = learner.adam()


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    actor_module = DeterministicActor(config.actor_spec, env_spec.action_dim)
    critic_module = CriticEnsemble(config.critic_spec, config.num_critics)
    actor_key, critic_key = jax.random.split(key)
    obs = jnp.zeros((1, *env_spec.obs_shape))
    actor = Learner.create(actor_module, actor_module.init(actor_key, obs), _adam)
    critic = Learner.create(critic_module, critic_module.init(critic_key, obs, jnp.zeros((1, env_spec.action_dim))), _adam)
    return State(actor=actor, critic=critic, target_actor=actor.variables, target_critic=critic.variables)


def act(config: Config, hp: Hyperparams, state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]; exploration adds
    N(0, exploration_noise^2) and clips; the actor in eval mode."""
    action = state.actor(obs)
    if deterministic:
        return action
    noise = hp.exploration_noise * jax.random.normal(key, action.shape)
    return jnp.clip(action + noise, -1.0, 1.0)


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams):
    """Returns (loss, (new critic batch_stats, mean Q)); targets in eval mode, the critics in train mode."""
    next_action = state.actor.module.apply(state.target_actor, batch.next_obs, train=False)
    noise = jnp.clip(hp.target_noise * jax.random.normal(key, next_action.shape), -hp.noise_clip, hp.noise_clip)
    next_action = jnp.clip(next_action + noise, -1.0, 1.0)
    next_q = state.critic.module.apply(state.target_critic, batch.next_obs, next_action, train=False).min(axis=0)
    target = jax.lax.stop_gradient(batch.reward + hp.gamma * (1.0 - batch.terminated) * next_q)
    q, critic_stats = state.critic.apply_train(critic_params, batch.obs, batch.action)
    return 0.5 * jnp.sum(jnp.mean((q - target) ** 2, axis=-1)), (critic_stats, q.mean())


def actor_loss(actor_params, state: State, batch: Transition):
    """Returns (loss, new actor batch_stats); the actor in train mode, critic 1 in eval mode."""
    action, actor_stats = state.actor.apply_train(actor_params, batch.obs)
    return -jnp.mean(state.critic(batch.obs, action)[0]), actor_stats


def update_actor_and_targets(hp: Hyperparams, state: State, batch: Transition) -> tuple[State, dict]:
    (loss, actor_stats), grads = jax.value_and_grad(actor_loss, has_aux=True)(state.actor.params, state, batch)
    actor, grad_norm = state.actor.step(_adam, grads, hp.learning_rate, stats=actor_stats)
    state = state.replace(
        actor=actor,
        target_actor=actor_critic.polyak(actor.variables, state.target_actor, hp.tau),
        target_critic=actor_critic.polyak(state.critic.variables, state.target_critic, hp.tau),
    )
    return state, {"actor_loss": loss, "actor_grad_norm": grad_norm}


def update(
    config: Config, hp: Hyperparams, state: State, batch: Transition, key: jax.Array, update_index: jax.Array
) -> tuple[State, dict]:
    """One critic update, plus the actor and target updates when (update_index + 1) % policy_delay == 0.

    update_index: the global count of updates before this one (unbatched across runs, so the delay
    is a real branch). The actor's metrics are NaN in updates that skip the actor.
    """
    (c_loss, (critic_stats, mean_q)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic.params, state, batch, key, hp
    )
    critic, grad_norm = state.critic.step(_adam, grads, hp.learning_rate, stats=critic_stats)
    state = state.replace(critic=critic)
    skipped = {"actor_loss": jnp.float32(jnp.nan), "actor_grad_norm": jnp.float32(jnp.nan)}
    state, actor_metrics = jax.lax.cond(
        (update_index + 1) % config.policy_delay == 0,
        lambda: update_actor_and_targets(hp, state, batch),
        lambda: (state, skipped),
    )
    return state, {"critic_loss": c_loss, "mean_q": mean_q, "critic_grad_norm": grad_norm, **actor_metrics}


AGENT = Agent(name="td3", summary=__doc__.splitlines()[0], Config=Config, Hyperparams=Hyperparams, init=init,
              act=act, update=update, presets=PRESETS, default_preset="cpu")
