"""Soft Actor-Critic (Haarnoja et al., 2018) with automatic entropy tuning.

Twin critics with independent initialization and Polyak-averaged targets; a tanh-Gaussian actor;
the temperature alpha is learned towards the target entropy -scale * |A|. Bootstraps through
truncation (time limits) and not through termination: `batch.terminated` is the only cut.

Any network of the suite works: only the variables' "params" are differentiated. The network being
updated runs in train mode, so its batch (re)normalization statistics move; every other pass (acting,
the next actions, the target critics, the critics inside the actor loss) runs in eval mode, as in the
CrossQ authors' code. The target critics Polyak-average the online critics' statistics with their
parameters. The critic loss is 0.5 * sum over critics of the mean squared error; the SimBa authors'
is the plain sum, which Adam's scale invariance makes the same update.
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
    """Static SAC settings (shapes and counts; changing one recompiles). Defaults: SB3's SAC."""

    actor_first: bool = False
    """Update the actor and the temperature before the critics, whose target then uses the updated
    actor and temperature (the SimBa authors' order); by default the critics go first (SB3, SBX, CrossQ)."""
    temperature_weight_decay: bool = False
    """Apply --weight-decay to the temperature too (the SimBa authors' AdamW decays every parameter)."""


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of SAC (sweepable without recompiling)."""

    learning_rate: float = 3e-4
    """Adam learning rate of actor, critics and temperature."""
    gamma: float | Literal["auto"] = 0.99
    """Discount factor; auto: TD-MPC2's heuristic from the env's time limit T, clip(1 - 5/T, 0.95, 0.995)."""
    tau: float = 0.005
    """Polyak averaging rate of the target critics."""
    initial_alpha: float = 1.0
    """Initial entropy temperature."""
    target_entropy_scale: float = 1.0
    """The temperature is tuned towards entropy -target_entropy_scale * |A|."""
    weight_decay: float = 0.0
    """Decoupled (AdamW) weight decay of actor and critic parameters (and the temperature's with
    --temperature-weight-decay)."""


SIMBA = Preset(
    Config(
        actor_net="simba",
        critic_net="simba",
        actor_width=128,
        actor_depth=1,
        critic_width=512,
        critic_depth=2,
        num_critics=2,
        log_std_min=-10.0,
        log_std_mode="tanh",
        temperature_loss="alpha",
        actor_first=True,
        temperature_weight_decay=True,
    ),
    Hyperparams(
        learning_rate=1e-4, gamma="auto", weight_decay=1e-2, initial_alpha=0.01, target_entropy_scale=0.5
    ),
    "SimBa-SAC as run for the published simba_utd1 curves: dojeon-ai/SimbaV2 configs/agent/simba.yaml, "
    "configs/env/mujoco.yaml, configs/online_rl.yaml and scale_rl/agents/simba/ (Lee et al., ICLR 2025): "
    "actor 1 block x 128, critic 2 blocks x 512, RSNorm, AdamW lr 1e-4 and weight decay 1e-2 on every "
    "parameter, batch 256, 5000 random steps, 2 critics (clipped double Q on the episodic MuJoCo tasks, "
    "HalfCheetah included), gamma auto (0.995 on 1000-step tasks), tau 0.005, temperature from 0.01 towards "
    "-|A|/2 with the alpha-scaled loss, log-std squashed by tanh into [-10, 2], actor and temperature updated "
    "before the critic",
)
PAPER = Preset(
    Config(temperature_loss="alpha"),
    Hyperparams(learning_rate=1e-3),
    "the SAC baseline of the CrossQ authors' code adityab/CrossQ (train.py, sbx/sac/), whose runs are the "
    "published sac curves (reports/reference/SOURCE.md): Adam lr 1e-3 (beta1 0.9), 256x256 ReLU, tau 0.005, "
    "UTD 1, batch 256, buffer 1M, 5000 random steps, gamma 0.99, 2 critics with targets, alpha learned from "
    "1.0 towards -|A| with the alpha-scaled loss, log-std clipped to [-20, 2]",
)
PRESETS = {"paper": PAPER, "simba": SIMBA}
"""sac's named settings; with no --preset, sac runs with the dataclass defaults (SB3's SAC: lr 3e-4)."""


@flax.struct.dataclass
class State:
    """Actor, critics and log-temperature as learners, and the target critics' variables
    ({"params", "batch_stats"}): only parameters are differentiated; the statistics move in
    train-mode forward passes (see update)."""

    actor: Learner
    critic: Learner
    target_critic: dict
    log_alpha: Learner


_adam = learner.adam()


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    actor, critic = actor_critic.build(key, env_spec, config, "SAC", _adam)
    log_alpha = jnp.log(jnp.asarray(hp.initial_alpha, jnp.float32))
    return State(actor=actor, critic=critic, target_critic=critic.variables, log_alpha=Learner.create(None, log_alpha, _adam))


def act(config: Config, hp: Hyperparams, state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs: [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]; the actor in eval mode."""
    mean, log_std = state.actor(obs)
    if deterministic:
        return jnp.tanh(mean)
    return tanh_gaussian_sample(mean, log_std, key)[0]


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams):
    """Returns (loss, (new critic batch_stats, mean Q)); next actions from the actor in eval mode,
    their values from the target critics in eval mode, the online critics in train mode."""
    alpha = jnp.exp(state.log_alpha.params)
    mean, log_std = state.actor(batch.next_obs)
    next_action, next_log_prob = tanh_gaussian_sample(mean, log_std, key)
    next_q = state.critic.module.apply(state.target_critic, batch.next_obs, next_action, train=False).min(axis=0)
    soft_next_value = next_q - alpha * next_log_prob
    target = jax.lax.stop_gradient(batch.reward + hp.gamma * (1.0 - batch.terminated) * soft_next_value)
    q, critic_stats = state.critic.apply_train(critic_params, batch.obs, batch.action)
    loss = 0.5 * jnp.sum(jnp.mean((q - target) ** 2, axis=-1))
    return loss, (critic_stats, q.mean())


def actor_loss(actor_params, state: State, batch: Transition, key):
    """Returns (loss, (new actor batch_stats, log pi)); the actor in train mode, the critics in eval mode."""
    alpha = jnp.exp(state.log_alpha.params)
    (mean, log_std), actor_stats = state.actor.apply_train(actor_params, batch.obs)
    action, log_prob = tanh_gaussian_sample(mean, log_std, key)
    q = state.critic(batch.obs, action).min(axis=0)
    return jnp.mean(alpha * log_prob - q), (actor_stats, log_prob)


def update_critic(hp: Hyperparams, state: State, batch: Transition, key) -> tuple[State, dict]:
    (loss, (critic_stats, mean_q)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic.params, state, batch, key, hp
    )
    critic, grad_norm = state.critic.step(_adam, grads, hp.learning_rate, hp.weight_decay, critic_stats)
    return state.replace(critic=critic), {"critic_loss": loss, "mean_q": mean_q, "critic_grad_norm": grad_norm}


def update_actor_and_alpha(config: Config, hp: Hyperparams, state: State, batch: Transition, key) -> tuple[State, dict]:
    (a_loss, (actor_stats, log_prob)), grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor.params, state, batch, key
    )
    actor, grad_norm = state.actor.step(_adam, grads, hp.learning_rate, hp.weight_decay, actor_stats)
    target_entropy = -hp.target_entropy_scale * actor.module.action_dim
    t_loss, alpha_grad = jax.value_and_grad(actor_critic.temperature_loss)(
        state.log_alpha.params, log_prob, target_entropy, config.temperature_loss
    )
    alpha_decay = hp.weight_decay if config.temperature_weight_decay else 0.0
    log_alpha, _ = state.log_alpha.step(_adam, alpha_grad, hp.learning_rate, alpha_decay)
    metrics = {"actor_loss": a_loss, "alpha_loss": t_loss, "entropy": -jnp.mean(log_prob), "actor_grad_norm": grad_norm}
    return state.replace(actor=actor, log_alpha=log_alpha), metrics


def update(
    config: Config, hp: Hyperparams, state: State, batch: Transition, key: jax.Array, update_index: jax.Array
) -> tuple[State, dict]:
    """One gradient step of critics, actor and temperature on `batch` (leaves [batch_size, ...]),
    then the Polyak step of the target critics. Critics first, the actor then ascending the updated
    critics (SB3, SBX, CrossQ), or with Config.actor_first the actor and temperature first and the
    critics' target from them (SimBa).

    update_index (the global count of updates before this one) is unused: SAC has no policy delay.
    """
    del update_index
    critic_key, actor_key = jax.random.split(key)
    if config.actor_first:
        state, actor_metrics = update_actor_and_alpha(config, hp, state, batch, actor_key)
        state, critic_metrics = update_critic(hp, state, batch, critic_key)
    else:
        state, critic_metrics = update_critic(hp, state, batch, critic_key)
        state, actor_metrics = update_actor_and_alpha(config, hp, state, batch, actor_key)
    state = state.replace(target_critic=actor_critic.polyak(state.critic.variables, state.target_critic, hp.tau))
    return state, {**critic_metrics, **actor_metrics, "alpha": jnp.exp(state.log_alpha.params)}


AGENT = Agent(name="sac", summary=__doc__.splitlines()[0], Config=Config, Hyperparams=Hyperparams, init=init,
              act=act, update=update, presets=PRESETS)
