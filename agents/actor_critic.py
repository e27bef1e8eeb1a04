"""What the actor-critic agents share: their settings, building a tanh-Gaussian actor and a critic
ensemble as learners (agents/learner.py), Polyak averaging, and the temperature loss."""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp

from agents.common import ConfigError, NetworkConfig, require_continuous
from agents.learner import Learner
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


@dataclasses.dataclass(frozen=True)
class MaxEntConfig(Config):
    """Static settings of the maximum-entropy agents (SAC, CrossQ): a tanh-Gaussian actor and a
    learned temperature."""

    log_std_min: float = -20.0
    """Lower bound of the actor's log-std (SB3, SBX, CrossQ: -20; SimBa: -10)."""
    log_std_max: float = 2.0
    """Upper bound of the actor's log-std."""
    log_std_mode: Literal["clip", "tanh"] = "clip"
    """How the actor's log-std is bounded: clip (SB3, SBX, CrossQ) or tanh, a smooth squash (SimBa)."""
    temperature_loss: Literal["log_alpha", "alpha"] = "log_alpha"
    """Temperature loss: log_alpha * (H - H_target) (SB3, SBX) or alpha * (H - H_target), whose gradient
    is scaled by alpha (the CrossQ and SimBa authors)."""

    def check(self) -> None:
        """Raises ConfigError for settings that cannot run."""
        if not self.log_std_min < self.log_std_max:
            raise ConfigError(
                f"--log-std-min {self.log_std_min} must be below --log-std-max {self.log_std_max}"
            )


def build(key: jax.Array, env_spec: EnvSpec, config: MaxEntConfig, agent_name: str, optimizer) -> tuple[Learner, Learner]:
    """-> (actor, critic) learners of a tanh-Gaussian actor and a critic ensemble built from
    config.actor_spec / critic_spec, each with its optimizer state."""
    require_continuous(env_spec, agent_name)
    actor = TanhGaussianActor(
        config.actor_spec, env_spec.action_dim, config.log_std_min, config.log_std_max, config.log_std_mode
    )
    critic = CriticEnsemble(config.critic_spec, config.num_critics)
    obs = jnp.zeros((1, *env_spec.obs_shape))
    action = jnp.zeros((1, env_spec.action_dim))
    actor_key, critic_key = jax.random.split(key)
    return (
        Learner.create(actor, actor.init(actor_key, obs), optimizer),
        Learner.create(critic, critic.init(critic_key, obs, action), optimizer),
    )


def polyak(online: dict, target: dict, tau: jax.Array) -> dict:
    """target <- tau online + (1 - tau) target for floating leaves (parameters, running statistics);
    integer leaves (BatchRenorm's call counter) are copied from the online network."""
    return jax.tree.map(
        lambda new, old: tau * new + (1.0 - tau) * old if jnp.issubdtype(new.dtype, jnp.floating) else new,
        online,
        target,
    )


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: jax.Array, form: str) -> jax.Array:
    """Moves alpha up when the policy's entropy H = -log_prob is below the target, down when above:
    form "log_alpha": log_alpha (H - H_target); "alpha": alpha (H - H_target). Both are differentiated
    with respect to log_alpha; the second scales the step by alpha."""
    entropy_gap = jax.lax.stop_gradient(jnp.mean(-log_prob - target_entropy))
    scale = jnp.exp(log_alpha) if form == "alpha" else log_alpha
    return scale * entropy_gap

