"""Types shared by every agent and loop."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax


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
