"""Construction shared by the SAC-family agents: a tanh-Gaussian actor and a critic ensemble."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from agents.common import NetworkConfig, require_continuous
from envs import EnvSpec
from networks import CriticEnsemble, TanhGaussianActor


OBS_NORMS = ("auto", "rsnorm", "none")


@dataclasses.dataclass(frozen=True)
class Config(NetworkConfig):
    """Static settings every actor-critic agent shares (shapes and counts; changing one recompiles)."""

    obs_norm: str = "auto"
    """Observation normalization: rsnorm (SimBa's running statistics of collected observations, shared by
    actor and critic), none, or auto (rsnorm when the actor or the critic is a simba network)."""
    num_critics: int = 2
    """Critics in the ensemble; the target uses their minimum."""
    batch_size: int = 256
    """Transitions per gradient update."""
    learning_starts: int = 5000
    """Env steps of uniformly random actions before the first update."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions (capped at the run's total steps)."""
    utd: int = 1
    """Update-to-data ratio: gradient updates per env step."""

    @property
    def uses_rsnorm(self) -> bool:
        """Whether the loop normalizes observations with RSNorm (see obs_norm)."""
        if self.obs_norm not in OBS_NORMS:
            raise ValueError(f"--obs-norm must be one of {', '.join(OBS_NORMS)}, got {self.obs_norm!r}")
        if self.obs_norm == "auto":
            return "simba" in (self.actor_net, self.critic_net)
        return self.obs_norm == "rsnorm"


def build(key: jax.Array, env_spec: EnvSpec, config, agent_name: str):
    """-> (actor, critic, actor variables, critic variables) from config.actor_spec / critic_spec."""
    require_continuous(env_spec, agent_name)
    actor = TanhGaussianActor(config.actor_spec, env_spec.action_dim)
    critic = CriticEnsemble(config.critic_spec, config.num_critics)
    obs = jnp.zeros((1, *env_spec.obs_shape))
    action = jnp.zeros((1, env_spec.action_dim))
    actor_key, critic_key = jax.random.split(key)
    return actor, critic, actor.init(actor_key, obs), critic.init(critic_key, obs, action)


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: jax.Array) -> jax.Array:
    """Moves alpha up when the policy's entropy (-log_prob) is below the target, down when above."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))
