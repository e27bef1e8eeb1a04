"""Construction shared by the SAC-family agents: a tanh-Gaussian actor and a critic ensemble."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from agents.common import require_continuous
from envs import EnvSpec
from networks import CriticEnsemble, NetworkSpec, TanhGaussianActor


OBS_NORMS = ("auto", "rsnorm", "none")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static settings every actor-critic agent shares (shapes and counts; changing one recompiles)."""

    actor_net: str = "mlp"
    """Actor torso architecture (see networks.KINDS)."""
    critic_net: str = "mlp"
    """Critic torso architecture (see networks.KINDS)."""
    actor_width: int = 256
    """Hidden units per actor layer."""
    critic_width: int = 256
    """Hidden units per critic layer."""
    actor_depth: int = 2
    """Hidden actor layers (simba: residual blocks)."""
    critic_depth: int = 2
    """Hidden critic layers (simba: residual blocks)."""
    actor_norm: str = "auto"
    """Actor normalization: auto (mlp none, simba layer_norm), none, batch_norm, batch_renorm, layer_norm (simba)."""
    critic_norm: str = "auto"
    """Critic normalization: auto (mlp none, simba layer_norm), none, batch_norm, batch_renorm, layer_norm (simba)."""
    simba_expansion: int = 4
    """SimBa residual blocks' inner width as a multiple of the width."""
    simba_residual: bool = True
    """SimBa ablation switch: the residual connection of each block."""
    simba_post_norm: bool = True
    """SimBa ablation switch: the normalization after the last block."""
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
    def actor_spec(self) -> NetworkSpec:
        return self.network_spec(self.actor_net, self.actor_width, self.actor_depth, self.actor_norm)

    @property
    def critic_spec(self) -> NetworkSpec:
        return self.network_spec(self.critic_net, self.critic_width, self.critic_depth, self.critic_norm)

    def network_spec(self, kind: str, width: int, depth: int, norm: str) -> NetworkSpec:
        if kind != "simba":
            return NetworkSpec(kind, width, depth, norm)
        return NetworkSpec(kind, width, depth, norm, self.simba_expansion, self.simba_residual, self.simba_post_norm)

    def check_simba_switches(self) -> None:
        """Raises ValueError when a SimBa switch is set but neither network is a simba network."""
        changed = [
            flag
            for flag, value, default in (
                ("--simba-expansion", self.simba_expansion, 4),
                ("--no-simba-residual", self.simba_residual, True),
                ("--no-simba-post-norm", self.simba_post_norm, True),
            )
            if value != default
        ]
        if changed and "simba" not in (self.actor_net, self.critic_net):
            raise ValueError(f"{', '.join(changed)} only affect simba networks; add --actor-net simba or --critic-net simba")

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
