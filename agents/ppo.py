"""PPO (Schulman et al., 2017): clipped surrogate, GAE(lambda), epochs of minibatches per rollout.

For each rollout of num_envs x num_steps transitions:
    delta_t = r_t + gamma (1 - terminated_t) V(s'_t) - V(s_t)      s'_t: the true next obs (final_obs)
    A_t = delta_t + gamma lambda (1 - done_t) A_{t+1}                 (GAE; done: any episode end)
so a time limit bootstraps V(final_obs) and a terminal state does not. Then num_epochs passes over
num_minibatches shuffled minibatches, each one Adam step on
    L = -E[min(rho A, clip(rho, 1 - eps, 1 + eps) A)] + vf_coef L_V - ent_coef H[pi],  rho = pi / pi_old
with A normalized per minibatch, L_V = 0.5 E[max((V - R)^2, (V_clip - R)^2)] (V_clip: V kept within
eps of the rollout's value; plain squared error without --clip-value) and R = A + V_old, and the
gradient clipped to global norm max_grad_norm.

Policies: categorical for discrete actions; for continuous actions a **clipped Gaussian**, as in
CleanRL, PureJaxRL and rejax: a ~ N(mu(s), exp(log_std)) with a state-independent log_std, the
log-probability of the unclipped sample enters the ratio, and the environment clips the action to
[-1, 1]. (A tanh-squashed Gaussian needs no clipping but its entropy has no closed form.)
Deterministic actions: the most likely action (argmax, or the mean).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import optax

from agents import learner
from agents.common import Agent, NetworkConfig, Preset
from agents.learner import Learner
from envs import EnvSpec
from networks import CategoricalActor, GaussianActor, ValueNetwork

@dataclasses.dataclass(frozen=True)
class Config(NetworkConfig):
    """Static PPO settings (shapes and counts; changing one recompiles). Defaults: PureJaxRL's CartPole."""

    actor_width: int = 64
    """Hidden units per actor layer."""
    critic_width: int = 64
    """Hidden units per critic (value network) layer."""
    num_steps: int = 128
    """Env steps per env in one rollout; a rollout is --num-envs x --num-steps transitions."""
    num_epochs: int = 4
    """Passes over each rollout."""
    num_minibatches: int = 4
    """Minibatches per pass (must divide the rollout); one Adam step each."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over the run's rollouts."""
    clip_value: bool = True
    """Clip the value update to --clip-eps around the rollout's values (PPO2's value clipping)."""
    normalize_advantages: bool = True
    """Standardize advantages within each minibatch."""
    obs_norm: str = "none"
    """Observation normalization, the flag every agent has: none, or rsnorm_clipped (standardized by
    running statistics of all collected observations, clipped to +-10, as baselines' VecNormalize)."""
    normalize_reward: bool = False
    """Divide rewards by the running std of the discounted return (baselines' VecNormalize)."""
    adam_eps: float = 1e-5
    """Adam's epsilon (1e-5 as in the PPO2 and CleanRL implementations)."""


@flax.struct.dataclass
class Hyperparams:
    """Array hyperparameters of PPO (sweepable without recompiling)."""

    learning_rate: float = 2.5e-4
    """Adam learning rate (the start of the schedule with --anneal-lr)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 is one-step TD, 1 is the Monte Carlo return."""
    clip_eps: float = 0.2
    """Clipping range of the probability ratio (and of the value update with --clip-value)."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Gradients are rescaled to at most this global norm."""


PRESETS = {
    "cartpole": Preset(
        Config(),
        Hyperparams(),
        "PureJaxRL's purejaxrl/ppo.py: CartPole-v1, 4 envs x 128 steps, 512k steps (its 5e5 rounded up to "
        "whole evaluations)",
        dict(env="gymnax/CartPole-v1", num_envs=4, total_steps=512_000, eval_every=25_600),
    ),
    "acrobot": Preset(
        Config(num_steps=100, num_epochs=5, num_minibatches=5, anneal_lr=False),
        Hyperparams(learning_rate=7.5e-4),
        "rejax's configs/gymnax/acrobot.yaml without its observation normalization and with 200k steps, "
        "not 100k (see PRESETS' notes); some seeds never find the goal",
        dict(env="gymnax/Acrobot-v1", num_envs=5, total_steps=200_000, eval_every=10_000),
    ),
    "pendulum": Preset(
        Config(num_steps=100, num_epochs=10, num_minibatches=10, anneal_lr=False, obs_norm="rsnorm_clipped"),
        Hyperparams(learning_rate=1e-3, gamma=0.995, ent_coef=0.0, max_grad_norm=10.0),
        "rejax's configs/gymnax/pendulum.yaml",
        dict(env="gymnax/Pendulum-v1", num_envs=100, total_steps=150_000, eval_every=10_000),
    ),
    "brax": Preset(
        Config(actor_width=256, critic_width=256, num_steps=10, num_minibatches=32, anneal_lr=False,
               obs_norm="rsnorm_clipped", normalize_reward=True),
        Hyperparams(learning_rate=3e-4, ent_coef=0.0),
        "PureJaxRL's purejaxrl/ppo_continuous_action.py: hopper, 2048 envs x 10 steps, 32 minibatches, "
        "256x256, observation and reward normalization, 5e7 steps; any brax/<name> via --env",
        dict(env="brax/hopper", num_envs=2048, total_steps=50_176_000, eval_every=1_024_000),
    ),
}
"""Notes on the sources: they use tanh activations (rejax pendulum: swish); the suite's MLP torsos
use ReLU. acrobot drops rejax's observation normalization and runs 200k steps, not 100k: with ReLU
torsos and normalization no run (of 4) found the goal in 200k steps; without, runs that find it
end between -75 and -165, but some never do (`python train.py ppo --preset acrobot --seeds 3`:
-163, -150, -500). Exploration, not the loop, limits it: CartPole learns with or without it."""


@flax.struct.dataclass
class State:
    """The actor and the value network as learners (each with its Adam moments: Adam is elementwise,
    so two states are one joint Adam; the gradient is clipped by the norm of both together)."""

    actor: Learner
    critic: Learner

    @property
    def discrete(self) -> bool:
        return isinstance(self.actor.module, CategoricalActor)


def init(key: jax.Array, env_spec: EnvSpec, config: Config, hp: Hyperparams) -> State:
    if env_spec.is_continuous:
        actor = GaussianActor(config.actor_spec, env_spec.action_dim)
    else:
        actor = CategoricalActor(config.actor_spec, env_spec.num_actions)
    critic = ValueNetwork(config.critic_spec)
    obs = jnp.zeros((1, *env_spec.obs_shape))
    actor_key, critic_key = jax.random.split(key)
    adam = learner.adam(eps=config.adam_eps)
    return State(
        actor=Learner.create(actor, actor.init(actor_key, obs), adam),
        critic=Learner.create(critic, critic.init(critic_key, obs), adam),
    )


def log_prob_and_entropy(policy: Any, action: jax.Array, discrete: bool) -> tuple[jax.Array, jax.Array]:
    """policy: logits [batch, n], or (mean, log_std) [batch, action_dim] -> log pi(action), entropy: [batch]."""
    if discrete:
        log_probs = jax.nn.log_softmax(policy)
        # a one-hot product, not a gather: vmapped over runs, XLA's CPU gather was 2-3x slower overall
        log_prob = jnp.sum(jax.nn.one_hot(action, log_probs.shape[-1]) * log_probs, axis=-1)
        return log_prob, -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)
    mean, log_std = policy
    z = (action - mean) * jnp.exp(-log_std)
    log_prob = jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)
    return log_prob, jnp.sum(log_std + 0.5 * jnp.log(2.0 * jnp.pi * jnp.e), axis=-1)


def choose(policy: Any, key: jax.Array, discrete: bool, deterministic: bool) -> jax.Array:
    """An action from the policy's outputs: the most likely one, or a sample."""
    if discrete:
        return jnp.argmax(policy, -1) if deterministic else jax.random.categorical(key, policy)
    mean, log_std = policy
    return mean if deterministic else mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)


def act(config: Config, hp: Hyperparams, state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    """obs: [batch, *obs_shape] -> actions [batch] (discrete) or [batch, action_dim]."""
    return choose(state.actor(obs), key, state.discrete, deterministic)


def explore(config: Config, state: State, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """obs: [batch, *obs_shape] -> (sampled action, its log-probability [batch], V(obs) [batch])."""
    policy = state.actor(obs)
    action = choose(policy, key, state.discrete, False)
    log_prob, _ = log_prob_and_entropy(policy, action, state.discrete)
    return action, log_prob, state.critic(obs)


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: jax.Array,
    gae_lambda: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Generalized advantage estimation over a rollout; every input [num_steps, ...].

    next_values[t] is V of the true next observation of step t (its final_obs), so a truncated
    step bootstraps from it; terminated[t] cuts the bootstrap, done[t] (terminated or truncated)
    cuts the recursion. Returns (advantages, returns = advantages + values), both [num_steps, ...].
    """
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    def backwards(next_advantage, step):
        delta, episode_ends = step
        advantage = delta + gamma * gae_lambda * (1.0 - episode_ends) * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(backwards, jnp.zeros_like(deltas[0]), (deltas, done), reverse=True)
    return advantages, advantages + values


class Minibatch(NamedTuple):
    """Flattened rollout rows with their targets; leaves [minibatch_size, ...]."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array


def _apply_as_collected(network: Learner, params: Any, x: jax.Array):
    """-> (output in eval mode, as the rollout was collected, so the ratio is 1 at unchanged
    parameters; the normalization statistics updated by a train-mode pass over x, without gradient)."""
    output = network.module.apply({"params": params, "batch_stats": network.stats}, x, train=False)
    if not network.stats:
        return output, {}
    return output, network.apply_train(jax.lax.stop_gradient(params), x)[1]


def loss(params: dict, config: Config, state: State, batch: Minibatch, hp: Hyperparams):
    """The PPO objective on one minibatch -> (loss, (updated statistics, metrics))."""
    policy, actor_statistics = _apply_as_collected(state.actor, params["actor"], batch.obs)
    value, critic_statistics = _apply_as_collected(state.critic, params["critic"], batch.obs)
    log_prob, entropy = log_prob_and_entropy(policy, batch.action, state.discrete)

    advantage = batch.advantage
    if config.normalize_advantages:
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    log_ratio = log_prob - batch.log_prob
    ratio = jnp.exp(log_ratio)
    clipped_ratio = jnp.clip(ratio, 1.0 - hp.clip_eps, 1.0 + hp.clip_eps)
    actor_loss = -jnp.mean(jnp.minimum(ratio * advantage, clipped_ratio * advantage))

    value_loss = (value - batch.target) ** 2
    if config.clip_value:
        clipped_value = batch.value + jnp.clip(value - batch.value, -hp.clip_eps, hp.clip_eps)
        value_loss = jnp.maximum(value_loss, (clipped_value - batch.target) ** 2)
    value_loss = 0.5 * jnp.mean(value_loss)

    total = actor_loss + hp.vf_coef * value_loss - hp.ent_coef * jnp.mean(entropy)
    metrics = {
        "actor_loss": actor_loss,
        "value_loss": value_loss,
        "entropy": jnp.mean(entropy),
        # the low-variance estimator of KL(pi_old || pi) (Schulman's "k3")
        "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
        "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > hp.clip_eps).astype(jnp.float32)),
    }
    return total, ((actor_statistics, critic_statistics), metrics)


def update_minibatch(config: Config, hp: Hyperparams, state: State, batch: Minibatch) -> tuple[State, dict]:
    params = {"actor": state.actor.params, "critic": state.critic.params}
    (total, ((actor_statistics, critic_statistics), metrics)), grads = jax.value_and_grad(loss, has_aux=True)(
        params, config, state, batch, hp
    )
    grad_norm = optax.tree.norm(grads)
    grads, _ = optax.clip_by_global_norm(hp.max_grad_norm).update(grads, optax.EmptyState())
    adam = learner.adam(eps=config.adam_eps)
    actor, _ = state.actor.step(adam, grads["actor"], hp.learning_rate, stats=actor_statistics)
    critic, _ = state.critic.step(adam, grads["critic"], hp.learning_rate, stats=critic_statistics)
    return State(actor=actor, critic=critic), {"loss": total, "grad_norm": grad_norm, **metrics}


def update(config: Config, hp: Hyperparams, state: State, rollout, key: jax.Array) -> tuple[State, dict]:
    """Advantages of the rollout, then num_epochs x num_minibatches minibatch updates.

    rollout: an agents.engine.on_policy.Rollout, leaves [num_steps, num_envs, ...]. Metrics are means over
    all minibatch updates (grad_norm: the global norm before clipping), plus the explained variance
    of the value targets by the values collected with the rollout, 1 - Var(target - value) / Var(target).
    """
    next_values = state.critic(rollout.final_obs)
    advantages, targets = gae(
        rollout.reward, rollout.value, next_values, rollout.terminated, rollout.done, hp.gamma, hp.gae_lambda
    )
    rows = Minibatch(rollout.obs, rollout.action, rollout.log_prob, rollout.value, advantages, targets)
    rows = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), rows)
    num_rows = rows.obs.shape[0]

    def epoch(state, epoch_key):
        order = jax.random.permutation(epoch_key, num_rows)
        minibatches = jax.tree.map(
            lambda x: x[order].reshape(config.num_minibatches, -1, *x.shape[1:]), rows
        )
        return jax.lax.scan(lambda s, batch: update_minibatch(config, hp, s, batch), state, minibatches)

    state, metrics = jax.lax.scan(epoch, state, jax.random.split(key, config.num_epochs))
    explained_variance = 1.0 - jnp.var(targets - rollout.value) / jnp.maximum(jnp.var(targets), 1e-8)
    return state, {**jax.tree.map(jnp.mean, metrics), "explained_variance": explained_variance}


AGENT = Agent(name="ppo", summary=__doc__.splitlines()[0], Config=Config, Hyperparams=Hyperparams, init=init,
              act=act, update=update, presets=PRESETS, default_preset="cartpole", loop="on_policy",
              explore=explore)
