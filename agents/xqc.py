"""XQC (Palenicek et al., ICLR 2026): CrossQ's joint batch with pre-activation batch norm, weight normalization and a categorical critic.

Read from the authors' code, danielpalenicek/xqc at commit 9a6832bb (xqc/agents/xqc/xqc_learner.py,
critic.py, actor.py, temperature.py, xqc/networks/mlp.py, critic_net.py, policies.py, common.py,
xqc/normalization/normalization.py, conf/config.yaml, conf/agent/base_agent.yaml and xqc.yaml).
Differences from CrossQ (agents/crossq.py, the ICLR 2024 agent), each with where it comes from:
- **Batch normalization** (networks/mlp.py): plain batch norm (flax BatchNorm, momentum 0.99,
  epsilon 1e-3) on the input and in every hidden layer, not BatchRenorm. XQC puts it before the
  ReLU, Dense without bias -> BN -> ReLU (mlp.py XQCBlock; xqc.yaml pre_activation_bn 1); CrossQ+WN
  after it, Dense -> ReLU -> BN (CrossQBlock; crossq_wn.yaml pre_activation_bn 0). Kernels are
  orthogonal with gain sqrt(2), the log-std layer's with gain 1 (mlp.py default_init,
  TanhGaussPredictor).
- **Weight normalization** (networks/weight_norm.py): each hidden Dense layer's output units,
  bias included, are scaled to unit norm at initialization and after every optimizer step of the
  actor and the critics; the output layers' kernels too where normalize_last_layer is set (XQC:
  yes, CrossQ+WN: no) (common.py norm_network; xqc_learner.py, critic.py update_critic, actor.py
  update_actor).
- **The critic loss**: XQC's critics predict a categorical distribution over 101 atoms on [-5, 5]
  (xqc_learner.py n_outputs; base_agent.yaml min_v, max_v), trained by cross-entropy to the
  projected soft target of the target critic's distribution with the smallest mean
  (critic.py categorical_critic_loss_fn; agents/distributional.py), summed over the critics and
  averaged over the batch. CrossQ+WN keeps CrossQ's squared error (critic.py mse_critic_loss_fn).
- **A target network**: both agents bootstrap from a target critic, Polyak-averaged with tau
  0.005 after every critic step (base_agent.yaml tau, target_net_update_freq 1; utils.py
  target_update: parameters only). As in CrossQ, current and next state-action pairs pass through
  the critic in one joint train-mode batch; the target critic is applied the same way, in train
  mode on the joint batch (so with that batch's statistics), and its outputs at the next pairs
  form the target.
- **Reward normalization** (XQC only; xqc.yaml reward_normalization): rewards are divided by the
  running standard deviation of the discounted return G <- gamma (1 - done) G + r, when a batch is
  sampled (normalization.py RewardNormalizer; train_parallel.py). Here BoundedReturnScaler
  (agents/normalizers.py) without its bound: r / sqrt(var(G) + 1e-8) against the authors'
  r / (sqrt(var(G)) + 1e-8), and RSNorm's prior count against none; both negligible once the
  5,000 random steps are in.
- **Learning rates**: Adam (AdamW where weight_decay > 0) from 3e-4 decayed linearly to 3e-5 over
  2M updates, the run's env steps x UTD (base_agent.yaml actor_lr, critic_lr, lr_end;
  xqc_learner.py lr_schedule_fn with num_interactions x updates_per_step). The temperature uses
  the actor's schedule. The actor and the temperature step only at every policy_delay-th update,
  the first at update 0 (optax.conditionally_mask on step % 3 == 0), and their schedules count
  their own steps, so they decay policy_delay times slower than the critics'.
- **The actor's statistics** move at every update: its train-mode pass runs every update and only
  the optimizer step is masked (actor.py update_actor).
- **Weight decay** (CrossQ+WN: 0.01; crossq_wn.yaml weight_decay, decay_bn): only on the batch
  norms' scales and biases (decay_bn) and on output layers whose kernels are not normalized
  (xqc_learner.py weight_decay_mask); hidden Dense layers are never decayed.
- **Sizes and the rest**: XQC's critics 4 x 512 and actor 4 x 256 (base_agent.yaml), CrossQ+WN's
  2 x 512 and 2 x 256 (crossq_wn.yaml); initial temperature 0.01, target entropy -|A|/2
  (target_entropy auto); policy delay 3; 2 updates per env step, batch 256, 5,000 random steps,
  buffer 1M (conf/config.yaml); gamma from the episode length, 0.995 for 1000-step tasks
  (xqc/utils.py get_discount, the TD-MPC2 heuristic: gamma auto); log-std clipped to [-10, 2]
  (mlp.py LOG_STD_MIN, LOG_STD_MAX); the alpha-scaled temperature loss (temperature.py).
Acting is CrossQ's (the actor in eval mode); the learning-rate schedule and the reward scaler's
`observe` hook are SimbaV2's (agents/simbav2.py), the same rules under the same field names.
The update order (xqc_learner.py _update): critics, target critics, actor (on the updated critics,
in eval mode), temperature (on the actor's entropy before its step).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import flax.struct
import jax
import jax.numpy as jnp

from agents import actor_critic, learner
from agents.crossq import act
from agents.common import Agent, ConfigError, Preset, Transition, require_continuous
from agents.distributional import categorical_cross_entropy, categorical_projection, min_q_log_probs
from agents.learner import Learner
from agents.normalizers import BoundedReturnScaler
from agents.simbav2 import learning_rate, observe
from envs import EnvSpec
from networks import CategoricalCriticEnsemble, CriticEnsemble, NetworkSpec, TanhGaussianActor, tanh_gaussian_sample
from networks.weight_norm import TORSO, project

AUTHORS_UPDATES = 2_000_000
"""The authors' runs: 1M env steps x 2 updates per env step (conf/config.yaml max_steps, updates_per_step)."""
BATCH_NORMS = ("batch_norm", "batch_renorm")


@dataclasses.dataclass(frozen=True)
class Config(actor_critic.MaxEntConfig):
    """Static XQC settings (shapes and counts; changing one recompiles). Defaults: the authors' XQC
    (--preset paper); train.py starts from the cpu preset."""

    actor_width: int = 256
    actor_depth: int = 4
    critic_width: int = 512
    critic_depth: int = 4
    actor_norm: str = "batch_norm"
    """Actor normalization: batch_norm (the authors'), batch_renorm, none (or layer_norm for simba)."""
    critic_norm: str = "batch_norm"
    """Critic normalization: batch_norm (the authors'), batch_renorm, none (or layer_norm for simba)."""
    norm_position: Literal["pre", "post"] = "pre"
    """Where mlp networks normalize each hidden layer: pre (Dense without bias -> norm -> ReLU, XQC) or
    post (Dense -> ReLU -> norm, CrossQ and CrossQ+WN)."""
    weight_norm: bool = True
    """Scale each hidden unit's weights (with its bias) to unit norm at init and after every step (mlp networks only)."""
    normalize_last_layer: bool = True
    """With --weight-norm, also scale the output layers' kernels to unit norm (XQC: yes; CrossQ+WN: no)."""
    critic_loss: Literal["categorical", "mse"] = "categorical"
    """categorical: cross-entropy to the projected target distribution (XQC); mse: squared error (CrossQ+WN)."""
    num_bins: int = 101
    """Atoms of the categorical critic's support (critic_loss categorical)."""
    v_max: float = 5.0
    """The categorical critic's support is [-v_max, v_max]."""
    reward_norm: bool = True
    """Divide sampled rewards by the running standard deviation of the discounted return."""
    decay_bn: bool = False
    """Apply weight_decay to the batch norms' scales and biases too (CrossQ+WN: yes)."""
    policy_delay: int = 3
    """Updates per actor and temperature step (the steps at updates 0, policy_delay, 2 policy_delay, ...)."""
    utd: int = 2
    log_std_min: float = -10.0
    temperature_loss: Literal["log_alpha", "alpha"] = "alpha"
    """Temperature loss: alpha * (H - H_target) (the authors') or log_alpha * (H - H_target) (SBX)."""
    lr_decay_updates: int = AUTHORS_UPDATES
    """Updates over which the learning rates decay linearly to final_learning_rate (the authors': the
    run's env steps x utd); the actor's and the temperature's count their own steps."""

    @property
    def actor_spec(self) -> NetworkSpec:
        return self._authors_mlp(super().actor_spec, "actor")

    @property
    def critic_spec(self) -> NetworkSpec:
        return self._authors_mlp(super().critic_spec, "critic")

    def _authors_mlp(self, spec: NetworkSpec, role: str) -> NetworkSpec:
        """An mlp spec with the authors' orthogonal init and norm_position; other kinds as given."""
        if spec.kind != "mlp":
            return spec
        position = self.norm_position if spec.resolved_norm in BATCH_NORMS else "post"
        if self.norm_position == "pre" and position == "post":
            raise ValueError(f"{role} network (mlp): --norm-position pre needs --{role}-norm batch_norm or batch_renorm")
        return dataclasses.replace(spec, norm_position=position, init="orthogonal")

    def check(self) -> None:
        """Raises ConfigError for settings that cannot run."""
        super().check()
        if self.weight_norm and "simba" in (self.actor_net, self.critic_net):
            raise ConfigError("--weight-norm normalizes mlp torsos only; with a simba network add --no-weight-norm")
        if self.critic_loss == "categorical" and self.num_bins < 2:
            raise ConfigError(f"--num-bins must be at least 2, got {self.num_bins}")
        if not self.v_max > 0:
            raise ConfigError(f"--v-max must be positive (the support is [-v-max, v-max]), got {self.v_max}")
        if self.policy_delay < 1 or self.lr_decay_updates < 1:
            raise ConfigError(
                f"--policy-delay and --lr-decay-updates must be positive, got {self.policy_delay}, {self.lr_decay_updates}"
            )


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of XQC (sweepable without recompiling)."""

    learning_rate: float = 3e-4
    """Adam learning rate of actor, critics and temperature at their first step."""
    final_learning_rate: float = 3e-5
    """The learning rate after lr_decay_updates steps (linear decay in between)."""
    gamma: float | Literal["auto"] = "auto"
    """Discount factor; auto: TD-MPC2's heuristic from the env's time limit T, clip(1 - 5/T, 0.95, 0.995)."""
    tau: float = 0.005
    """Polyak averaging rate of the target critics."""
    initial_alpha: float = 0.01
    """Initial entropy temperature."""
    target_entropy_scale: float = 0.5
    """The temperature is tuned towards entropy -target_entropy_scale * |A|."""
    weight_decay: float = 0.0
    """Decoupled (AdamW) weight decay of the output layers whose kernels are not normalized, and of the batch norms with --decay-bn."""


_XQC_SOURCE = (
    "Palenicek et al., ICLR 2026, and the authors' code danielpalenicek/xqc@9a6832bb (conf/agent/base_agent.yaml, "
    "xqc.yaml, conf/config.yaml): critics 4x512 and actor 4x256, Dense without bias -> BatchNorm -> ReLU, weight "
    "normalization of every layer, a categorical critic on 101 atoms in [-5, 5], reward normalization, Adam lr 3e-4 "
    "decayed to 3e-5 over 2M updates, policy delay 3, UTD 2, batch 256, 5000 random steps, target critic tau 0.005, "
    "initial temperature 0.01 towards -|A|/2, gamma 0.995 on 1000-step tasks, log-std clipped to [-10, 2]"
)
PRESETS = {
    "paper": Preset(Config(), Hyperparams(), _XQC_SOURCE),
    "cpu": Preset(
        Config(actor_width=64, critic_width=128, utd=1, learning_starts=1000),
        Hyperparams(),
        "the paper's settings with critics 4x128, actor 4x64, UTD 1 and 1000 random steps: trains in minutes on a CPU",
    ),
}


@flax.struct.dataclass
class State:
    """Actor, critics and log-temperature as learners, the target critics' parameters, and the reward scaler."""

    actor: Learner
    critic: Learner
    target_critic: Any
    log_alpha: Learner
    reward_scaler: BoundedReturnScaler
    """Running scale of the discounted return of the collected rewards (see observe)."""


_adam = learner.adam()


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    """Networks weight-normalized (with --weight-norm), the target critics equal to the critics, the
    temperature at initial_alpha; the reward scaler is sized by the loop's first `observe` call."""
    require_continuous(env_spec, "XQC")
    actor = TanhGaussianActor(
        config.actor_spec, env_spec.action_dim, config.log_std_min, config.log_std_max, config.log_std_mode,
        log_std_gain=1.0,
    )
    if config.critic_loss == "categorical":
        critic = CategoricalCriticEnsemble(config.critic_spec, config.num_critics, config.num_bins, config.v_max)
    else:
        critic = CriticEnsemble(config.critic_spec, config.num_critics)
    obs = jnp.zeros((1, *env_spec.obs_shape))
    action = jnp.zeros((1, env_spec.action_dim))
    actor_key, critic_key = jax.random.split(key)
    actor_variables = dict(actor.init(actor_key, obs))
    critic_variables = dict(critic.init(critic_key, obs, action))
    if config.weight_norm:
        actor_variables["params"] = project(actor_variables["params"], config.normalize_last_layer)
        critic_variables["params"] = project(critic_variables["params"], config.normalize_last_layer)
    critic_learner = Learner.create(critic, critic_variables, _adam)
    return State(
        actor=Learner.create(actor, actor_variables, _adam),
        critic=critic_learner,
        target_critic=critic_learner.params,
        log_alpha=Learner.create(None, jnp.log(jnp.asarray(hp.initial_alpha, jnp.float32)), _adam),
        reward_scaler=BoundedReturnScaler.create(1),
    )


def decay_mask(params: Any, config: Config, weight_decay: jax.Array, in_torso: bool = False) -> Any:
    """weight_decay where the authors decay (xqc_learner.py weight_decay_mask), 0 elsewhere, as one
    scalar per parameter array: batch norm parameters with decay_bn, output layers (outside the
    torso) unless their kernels are normalized."""
    decayed = {}
    for name, child in params.items():
        if not isinstance(child, dict):
            decayed[name] = 0.0
        elif name.startswith("BatchRenorm"):
            decayed[name] = jax.tree.map(lambda _: weight_decay * config.decay_bn, child)
        elif "kernel" in child and not in_torso:
            last = not (config.weight_norm and config.normalize_last_layer)
            decayed[name] = jax.tree.map(lambda _: weight_decay * last, child)
        else:
            decayed[name] = decay_mask(child, config, weight_decay, in_torso or name in (TORSO, "SimBa_0"))
    return decayed


def expected_q(config: Config, outputs: Any) -> jax.Array:
    """Q [num_critics, batch] from a critic's outputs (categorical: (Q, log-probabilities))."""
    return outputs[0] if config.critic_loss == "categorical" else outputs


def critic_loss(critic_params, state: State, batch: Transition, key, hp: Hyperparams, config: Config):
    """The joint train-mode pass of current and next pairs through the critics and the target
    critics; returns (loss, (moved critic statistics, mean Q))."""
    alpha = jnp.exp(state.log_alpha.params)
    mean, log_std = state.actor(batch.next_obs)
    next_action, next_log_prob = tanh_gaussian_sample(mean, log_std, key)
    joint_obs = jnp.concatenate([batch.obs, batch.next_obs])
    joint_action = jnp.concatenate([batch.action, jax.lax.stop_gradient(next_action)])
    target_outputs, _ = state.critic.module.apply(
        {"params": state.target_critic, "batch_stats": state.critic.stats}, joint_obs, joint_action, train=True,
        mutable=["batch_stats"],
    )
    outputs, critic_stats = state.critic.apply_train(critic_params, joint_obs, joint_action)
    size = batch.reward.shape[0]
    q = expected_q(config, outputs)[:, :size]
    next_q = expected_q(config, target_outputs)[:, size:]
    if config.critic_loss == "categorical":
        next_probs = jnp.exp(min_q_log_probs(next_q, target_outputs[1][:, size:]))
        target = categorical_projection(
            next_probs, batch.reward, batch.terminated, hp.gamma, config.v_max, alpha * next_log_prob
        )
        loss = jnp.sum(jnp.mean(categorical_cross_entropy(target, outputs[1][:, :size]), axis=-1))
    else:
        next_value = next_q.min(axis=0) - alpha * next_log_prob
        target = jax.lax.stop_gradient(batch.reward + hp.gamma * (1.0 - batch.terminated) * next_value)
        loss = 0.5 * jnp.sum(jnp.mean((q - target) ** 2, axis=-1))
    return loss, (critic_stats, q.mean())


def actor_loss(actor_params, state: State, batch: Transition, key, config: Config):
    """mean(alpha log pi(a|s) - min_i Q_i(s, a)), the actor in train mode and the critics in eval
    mode; returns (loss, (moved actor statistics, log pi))."""
    alpha = jnp.exp(state.log_alpha.params)
    (mean, log_std), actor_stats = state.actor.apply_train(actor_params, batch.obs)
    action, log_prob = tanh_gaussian_sample(mean, log_std, key)
    q = expected_q(config, state.critic(batch.obs, action)).min(axis=0)
    return jnp.mean(alpha * log_prob - q), (actor_stats, log_prob)


def masked_step(step: jax.Array, stepped: Learner, kept: Learner) -> Learner:
    """`stepped`'s parameters and optimizer state where `step`, `kept`'s otherwise; `stepped`'s
    statistics always (optax.conditionally_mask leaves the inner state as it was)."""
    chosen = jax.tree.map(lambda new, old: jnp.where(step, new, old), (stepped.params, stepped.opt_state),
                          (kept.params, kept.opt_state))
    return stepped.replace(params=chosen[0], opt_state=chosen[1])


def update(
    config: Config, hp: Hyperparams, state: State, batch: Transition, key: jax.Array, update_index: jax.Array
) -> tuple[State, dict]:
    """One update on `batch` (leaves [batch_size, ...], raw rewards) in the authors' order: critics,
    target critics, actor, temperature. update_index: the global count of updates before this one
    (the critics' schedule step; the actor and the temperature step when it is a multiple of
    policy_delay, their schedule at update_index // policy_delay)."""
    critic_lr = learning_rate(config, hp, update_index)
    actor_lr = learning_rate(config, hp, update_index // config.policy_delay)
    actor_steps = update_index % config.policy_delay == 0
    if config.reward_norm:
        batch = batch._replace(reward=state.reward_scaler.scale(batch.reward, jnp.inf))
    critic_key, actor_key = jax.random.split(key)

    (c_loss, (critic_stats, mean_q)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        state.critic.params, state, batch, critic_key, hp, config
    )
    critic, critic_grad_norm = state.critic.step(
        _adam, grads, critic_lr, decay_mask(state.critic.params, config, hp.weight_decay), stats=critic_stats
    )
    if config.weight_norm:
        critic = critic.replace(params=project(critic.params, config.normalize_last_layer))
    target_critic = actor_critic.polyak(critic.params, state.target_critic, hp.tau)
    state = state.replace(critic=critic, target_critic=target_critic)

    (a_loss, (actor_stats, log_prob)), grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor.params, state, batch, actor_key, config
    )
    stepped, actor_grad_norm = state.actor.step(
        _adam, grads, actor_lr, decay_mask(state.actor.params, config, hp.weight_decay), stats=actor_stats
    )
    actor = masked_step(actor_steps, stepped, state.actor)
    if config.weight_norm:
        actor = actor.replace(params=project(actor.params, config.normalize_last_layer))
    target_entropy = -hp.target_entropy_scale * actor.module.action_dim
    alpha_grad = jax.grad(actor_critic.temperature_loss)(
        state.log_alpha.params, log_prob, target_entropy, config.temperature_loss
    )
    log_alpha = masked_step(actor_steps, state.log_alpha.step(_adam, alpha_grad, actor_lr)[0], state.log_alpha)
    state = state.replace(actor=actor, log_alpha=log_alpha)
    return state, {
        "critic_loss": c_loss,
        "mean_q": mean_q,
        "critic_grad_norm": critic_grad_norm,
        "actor_loss": a_loss,
        "entropy": -jnp.mean(log_prob),
        "actor_grad_norm": actor_grad_norm,
        "alpha": jnp.exp(log_alpha.params),
        "learning_rate": critic_lr,
        "mean_scaled_reward": jnp.mean(batch.reward),
    }


AGENT = Agent(name="xqc", summary=__doc__.splitlines()[0], Config=Config, Hyperparams=Hyperparams, init=init,
              act=act, update=update, presets=PRESETS, default_preset="cpu", observe=observe)
