"""SimbaV2 (Lee et al., ICML 2025): SAC on hyperspherical networks with a categorical critic.

The networks are networks/simbav2.py's (weights projected back onto the unit sphere at init and
after every optimizer step). The critic predicts a categorical distribution over `num_bins` atoms on
[-v_max, v_max]; its target is the soft Bellman target of the target critic's distribution projected
onto the support (agents/distributional.py), trained by cross-entropy, summed over the critics and
averaged over the batch. Where the task terminates on failure the authors use clipped double Q
(`critic_use_cdq: ${env.episodic}`, true for every MuJoCo task): of the `num_critics` critics, the
target takes per sample the distribution of the one with the smallest mean, and the actor ascends
the smallest expected Q; num_critics 1 is the authors' single critic.

One update, in the authors' order (scale_rl/agents/simbaV2/simbaV2_agent.py, _update_simbav2_networks):
the actor (on the critics' expected Q), the temperature (towards -target_entropy_scale |A|, the
alpha-scaled loss), the critics (their target from the updated actor and temperature), the Polyak
step of the target critics (initialized equal to the critics; not projected, as the authors').
All three optimizers are Adam with one learning rate decayed linearly from learning_rate to
final_learning_rate over `lr_decay_updates` updates (optax.linear_schedule on the update count),
then held. The authors decay over the run's updates, num_env_steps x updates_per_interaction_step
(configs/agent/simbaV2.yaml learning_rate_decay_step); as the agent does not know the run's length,
the presets set it from the authors' 1M-step runs; a shorter run decays over its own updates with
--lr-decay-updates TOTAL_STEPS x UTD.

Observations are RSNorm-normalized by the loop (always: the authors' normalize_observation).
Rewards are divided by BoundedReturnScaler's scale (agents/normalizers.py, the authors'
RewardNormalizer) when a batch is sampled; the buffer keeps raw rewards. The scaler sees every
collected transition through the `observe` hook (agents/common.py), after the updates of the
iteration that collected it, so an update sees the rewards of earlier steps: the authors' wrapper
updates it in the next sample_actions call, after that step's updates.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct
import jax
import jax.numpy as jnp

from agents import actor_critic, learner
from agents.common import Agent, ConfigError, Preset, Transition, require_continuous
from agents.distributional import categorical_cross_entropy, categorical_projection, min_q_log_probs
from agents.learner import Learner
from agents.normalizers import BoundedReturnScaler
from envs import EnvSpec
from networks import tanh_gaussian_sample
from networks.simbav2 import SimbaV2Actor, SimbaV2CriticEnsemble, SimbaV2Torso, project_to_sphere

AUTHORS_STEPS = 1_000_000
"""The length of the authors' MuJoCo runs in env steps (configs/env/mujoco.yaml num_env_steps)."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Static SimbaV2 settings (shapes and counts; changing one recompiles). Defaults: the authors'
    (the utd1 preset)."""

    actor_width: int = 128
    """Hidden units of the actor (the residual stream's width)."""
    critic_width: int = 512
    """Hidden units of each critic."""
    actor_depth: int = 1
    """LERP residual blocks of the actor."""
    critic_depth: int = 2
    """LERP residual blocks of each critic."""
    num_critics: int = 2
    """Critics in the ensemble: 2 is clipped double Q (the authors' on terminating tasks), 1 a single critic."""
    num_bins: int = 101
    """Atoms of the categorical value distribution."""
    v_max: float = 5.0
    """The support is [-v_max, v_max]; the reward scaler keeps every seen return's scale within it."""
    batch_size: int = 256
    """Transitions per gradient update."""
    learning_starts: int = 5000
    """Env steps of uniformly random actions before the first update."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions (capped at the run's total steps)."""
    utd: int = 1
    """Update-to-data ratio: gradient updates per env step."""
    lr_decay_updates: int = AUTHORS_STEPS
    """Updates over which the learning rate decays linearly to final_learning_rate (the authors': the
    run's env steps x utd); set it to total_steps x utd to decay over a run of another length."""

    @property
    def uses_rsnorm(self) -> bool:
        """The loop normalizes observations with RSNorm, always (the authors' normalize_observation)."""
        return True

    @property
    def actor_spec(self) -> SimbaV2Torso:
        """The actor's torso; raises ValueError for a non-positive width or depth."""
        return self._torso("actor", self.actor_width, self.actor_depth)

    @property
    def critic_spec(self) -> SimbaV2Torso:
        """Each critic's torso; raises ValueError for a non-positive width or depth."""
        return self._torso("critic", self.critic_width, self.critic_depth)

    @staticmethod
    def _torso(role: str, width: int, depth: int) -> SimbaV2Torso:
        if width < 1 or depth < 1:
            raise ValueError(
                f"{role} network (simbav2): --{role}-width and --{role}-depth must be positive, got {width}, {depth}"
            )
        return SimbaV2Torso(width, depth)

    def check(self) -> None:
        """Raises ConfigError for settings that cannot run."""
        if self.num_bins < 2:
            raise ConfigError(f"--num-bins must be at least 2, got {self.num_bins}")
        if not self.v_max > 0:
            raise ConfigError(f"--v-max must be positive, got {self.v_max}")
        if self.lr_decay_updates < 1:
            raise ConfigError(f"--lr-decay-updates must be a positive integer, got {self.lr_decay_updates}")


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of SimbaV2 (sweepable without recompiling)."""

    learning_rate: float = 1e-4
    """Adam learning rate of actor, critics and temperature at the first update."""
    final_learning_rate: float = 5e-5
    """The learning rate after lr_decay_updates updates (linear decay in between)."""
    gamma: float | Literal["auto"] = "auto"
    """Discount factor; auto: TD-MPC2's heuristic from the env's time limit T, clip(1 - 5/T, 0.95, 0.995)."""
    tau: float = 0.005
    """Polyak averaging rate of the target critics."""
    initial_alpha: float = 0.01
    """Initial entropy temperature."""
    target_entropy_scale: float = 0.5
    """The temperature is tuned towards entropy -target_entropy_scale * |A|."""


_SOURCES = (
    "dojeon-ai/SimbaV2 (Lee et al., ICML 2025) configs/agent/simbaV2.yaml: actor_num_blocks 1 x actor_hidden_dim 128, "
    "critic_num_blocks 2 x critic_hidden_dim 512, critic_num_bins 101 on +-normalized_g_max 5, critic_use_cdq "
    "${env.episodic} (configs/env/mujoco.yaml episodic true: 2 critics), learning_rate_init 1e-4 to learning_rate_end "
    "5e-5 over learning_rate_decay_step = num_interaction_steps x updates_per_interaction_step, target_tau 0.005, "
    "temp_initial_value 0.01, temp_target_entropy_coef -0.5, normalize_observation and normalize_reward true; "
    "configs/online_rl.yaml: gamma by the TD-MPC2 heuristic (0.995 on 1000-step tasks); "
    "configs/buffer/numpy_uniform.yaml: sample_batch_size 256, min_length 5000 random steps, max_length 1M; configs/env/mujoco.yaml num_env_steps 1M"
)
PRESETS = {
    "utd1": Preset(
        Config(),
        Hyperparams(),
        f"the published simbav2_utd1 curves: {_SOURCES}; configs/online_rl.yaml updates_per_interaction_step "
        "${action_repeat} = 1, so the learning rate decays over 1M updates",
    ),
    "utd2": Preset(
        Config(utd=2, lr_decay_updates=2 * AUTHORS_STEPS),
        Hyperparams(),
        "the published simbav2_utd2 curves (results/results_baseline_simbaV2_utd2.csv): utd1's settings with "
        "configs/online_rl.yaml updates_per_interaction_step overridden to 2 (the repository has no UTD-2 file), "
        "so 2 updates per env step and the learning rate decaying over 2M updates",
    ),
}


@flax.struct.dataclass
class State:
    """Actor, critics and log-temperature as learners, the target critics' variables, and the reward scaler."""

    actor: Learner
    critic: Learner
    target_critic: dict
    log_alpha: Learner
    reward_scaler: BoundedReturnScaler
    """Running scale of the discounted return of the collected rewards (see observe)."""


_adam = learner.adam()


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    """Networks projected onto the sphere, the target critics equal to the critics, the temperature
    at initial_alpha; the reward scaler is sized by the loop's first `observe` call."""
    require_continuous(env_spec, "SimbaV2")
    actor = SimbaV2Actor(config.actor_width, config.actor_depth, env_spec.action_dim)
    critic = SimbaV2CriticEnsemble(
        config.critic_width, config.critic_depth, config.num_bins, config.v_max, config.num_critics
    )
    obs = jnp.zeros((1, *env_spec.obs_shape))
    action = jnp.zeros((1, env_spec.action_dim))
    actor_key, critic_key = jax.random.split(key)
    actor_params = project_to_sphere(actor.init(actor_key, obs)["params"])
    critic_params = project_to_sphere(critic.init(critic_key, obs, action)["params"])
    critic_learner = Learner.create(critic, {"params": critic_params}, _adam)
    log_alpha = jnp.log(jnp.asarray(hp.initial_alpha, jnp.float32))
    return State(
        actor=Learner.create(actor, {"params": actor_params}, _adam),
        critic=critic_learner,
        target_critic=critic_learner.variables,
        log_alpha=Learner.create(None, log_alpha, _adam),
        reward_scaler=BoundedReturnScaler.create(1),
    )


def observe(config: Config, hp: Hyperparams, state: State, transition: Transition | None, done: jax.Array) -> State:
    """The reward scaler after the collected transitions (reward, done: [num_envs]); with transition
    None (the loop's call from init), a fresh scaler for done.shape[0] envs."""
    if transition is None:
        return state.replace(reward_scaler=BoundedReturnScaler.create(done.shape[0]))
    scaler = state.reward_scaler.update(transition.reward, done.astype(jnp.float32), hp.gamma)
    return state.replace(reward_scaler=scaler)


def act(config: Config, hp: Hyperparams, state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs: [batch, *obs_shape] -> actions [batch, action_dim] in [-1, 1]."""
    mean, log_std = state.actor(obs)
    if deterministic:
        return jnp.tanh(mean)
    return tanh_gaussian_sample(mean, log_std, key)[0]


def learning_rate(config: Config, hp: Hyperparams, update_index: jax.Array) -> jax.Array:
    """learning_rate decayed linearly to final_learning_rate over lr_decay_updates updates, then held
    (optax.linear_schedule at the update count)."""
    fraction = jnp.minimum(update_index, config.lr_decay_updates) / config.lr_decay_updates
    return hp.learning_rate + (hp.final_learning_rate - hp.learning_rate) * fraction


def actor_loss(actor_params, state: State, batch: Transition, key):
    """mean(alpha log pi(a|s) - min_i Q_i(s, a)), a ~ pi(.|s); returns (loss, log pi)."""
    alpha = jnp.exp(state.log_alpha.params)
    mean, log_std = state.actor.module.apply({"params": actor_params}, batch.obs)
    action, log_prob = tanh_gaussian_sample(mean, log_std, key)
    q, _ = state.critic(batch.obs, action)
    return jnp.mean(alpha * log_prob - q.min(axis=0)), log_prob


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams, config: Config):
    """Sum over critics of the batch mean cross-entropy to the projected soft target; returns
    (loss, mean Q). The target: the target critics' distribution of the smallest mean at
    (s', a' ~ pi(.|s')), atoms z shifted to r + gamma (1 - terminated) (z - alpha log pi(a'|s'))."""
    alpha = jnp.exp(state.log_alpha.params)
    mean, log_std = state.actor(batch.next_obs)
    next_action, next_log_prob = tanh_gaussian_sample(mean, log_std, key)
    next_q, next_log_probs = state.critic.module.apply(state.target_critic, batch.next_obs, next_action)
    target = categorical_projection(
        jnp.exp(min_q_log_probs(next_q, next_log_probs)), batch.reward, batch.terminated, hp.gamma, config.v_max,
        alpha * next_log_prob,
    )
    q, log_probs = state.critic.module.apply({"params": critic_params}, batch.obs, batch.action)
    loss = jnp.sum(jnp.mean(categorical_cross_entropy(target, log_probs), axis=-1))
    return loss, q.mean()


def update(
    config: Config, hp: Hyperparams, state: State, batch: Transition, key: jax.Array, update_index: jax.Array
) -> tuple[State, dict]:
    """One update on `batch` (leaves [batch_size, ...], raw rewards): actor, temperature, critics,
    target critics (the authors' order), each optimizer step followed by the projection onto the
    sphere. update_index: the global count of updates before this one (the schedule's step)."""
    lr = learning_rate(config, hp, update_index)
    batch = batch._replace(reward=state.reward_scaler.scale(batch.reward, config.v_max))
    actor_key, critic_key = jax.random.split(key)

    (a_loss, log_prob), grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor.params, state, batch, actor_key
    )
    actor, actor_grad_norm = state.actor.step(_adam, grads, lr)
    actor = actor.replace(params=project_to_sphere(actor.params))
    target_entropy = -hp.target_entropy_scale * actor.module.action_dim
    alpha_grad = jax.grad(actor_critic.temperature_loss)(state.log_alpha.params, log_prob, target_entropy, "alpha")
    log_alpha, _ = state.log_alpha.step(_adam, alpha_grad, lr)
    state = state.replace(actor=actor, log_alpha=log_alpha)

    (c_loss, mean_q), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic.params, state, batch, critic_key, hp, config
    )
    critic, critic_grad_norm = state.critic.step(_adam, grads, lr)
    critic = critic.replace(params=project_to_sphere(critic.params))
    target_critic = actor_critic.polyak(critic.variables, state.target_critic, hp.tau)
    state = state.replace(critic=critic, target_critic=target_critic)
    return state, {
        "critic_loss": c_loss,
        "mean_q": mean_q,
        "critic_grad_norm": critic_grad_norm,
        "actor_loss": a_loss,
        "entropy": -jnp.mean(log_prob),
        "actor_grad_norm": actor_grad_norm,
        "alpha": jnp.exp(log_alpha.params),
        "learning_rate": lr,
        "mean_scaled_reward": jnp.mean(batch.reward),
    }


AGENT = Agent(name="simbav2", summary=__doc__.splitlines()[0], Config=Config, Hyperparams=Hyperparams, init=init,
              act=act, update=update, presets=PRESETS, default_preset="utd1", observe=observe)
