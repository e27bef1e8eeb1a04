"""Construction shared by the SAC-family agents: a tanh-Gaussian actor and a critic ensemble."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs import EnvSpec
from networks import CriticEnsemble, TanhGaussianActor


def build(key: jax.Array, env_spec: EnvSpec, config, agent_name: str):
    """-> (actor, critic, actor variables, critic variables) from config.actor_spec / critic_spec."""
    if not env_spec.is_continuous:
        raise ValueError(
            f"{agent_name} needs continuous actions but {env_spec.env_id} has {env_spec.num_actions} discrete ones"
        )
    actor = TanhGaussianActor(config.actor_spec, env_spec.action_dim)
    critic = CriticEnsemble(config.critic_spec, config.num_critics)
    obs = jnp.zeros((1, *env_spec.obs_shape))
    action = jnp.zeros((1, env_spec.action_dim))
    actor_key, critic_key = jax.random.split(key)
    return actor, critic, actor.init(actor_key, obs), critic.init(critic_key, obs, action)


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: jax.Array) -> jax.Array:
    """Moves alpha up when the policy's entropy (-log_prob) is below the target, down when above."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))
