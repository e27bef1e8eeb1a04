"""Types shared by every agent and loop."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax

from networks import NetworkSpec


class Transition(NamedTuple):
    """One stored step; under a batch, every leaf gains a leading [batch] axis.

    next_obs is the true next observation (`Timestep.final_obs`), never the first observation of
    the following episode; terminated is 1.0 where the value of next_obs must not be bootstrapped.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """The actor's and the critic's torsos, the same flags in every agent."""

    actor_net: str = "mlp"
    """Actor torso architecture (see networks.KINDS)."""
    critic_net: str = "mlp"
    """Critic torso architecture (see networks.KINDS)."""
    actor_width: int = 256
    """Hidden units per actor layer."""
    critic_width: int = 256
    """Hidden units per critic layer."""
    actor_depth: int = 2
    """Number of hidden actor layers."""
    critic_depth: int = 2
    """Number of hidden critic layers."""

    @property
    def actor_spec(self) -> NetworkSpec:
        return NetworkSpec(self.actor_net, self.actor_width, self.actor_depth)

    @property
    def critic_spec(self) -> NetworkSpec:
        return NetworkSpec(self.critic_net, self.critic_width, self.critic_depth)


class Preset(NamedTuple):
    """A named starting point of an agent: its Config, its Hyperparams, and run flags (RunArgs
    field -> value, e.g. env, num_envs) that explicit flags override."""

    config: Any
    hyperparams: Any
    run: dict


class ConfigError(ValueError):
    """A configuration that cannot run; the message says what is wrong and how to fix it."""


def require_continuous(env_spec, agent_name: str) -> None:
    """Raises ConfigError unless the environment has continuous actions."""
    if not env_spec.is_continuous:
        raise ConfigError(
            f"{agent_name} needs continuous actions but {env_spec.env_id} has {env_spec.num_actions} discrete ones"
        )
