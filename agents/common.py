"""Types shared by every agent and loop."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping, NamedTuple

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
    """Actor torso architecture, one of networks.KINDS: mlp, simba."""
    critic_net: str = "mlp"
    """Critic torso architecture, one of networks.KINDS: mlp, simba."""
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

    @property
    def actor_spec(self) -> NetworkSpec:
        return self.network_spec(self.actor_net, self.actor_width, self.actor_depth, self.actor_norm, "actor")

    @property
    def critic_spec(self) -> NetworkSpec:
        return self.network_spec(self.critic_net, self.critic_width, self.critic_depth, self.critic_norm, "critic")

    def network_spec(self, kind: str, width: int, depth: int, norm: str, role: str) -> NetworkSpec:
        """The spec of the `role` ("actor" or "critic") network; raises ValueError naming the flags to
        change for an impossible spec, or SimBa switches with no simba network."""
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
        switches = (self.simba_expansion, self.simba_residual, self.simba_post_norm) if kind == "simba" else ()
        try:
            return NetworkSpec(kind, width, depth, norm, *switches)
        except ValueError as error:  # NetworkSpec's checks, said in this network's flags
            hint = f"; layer_norm needs --{role}-net simba" if norm == "layer_norm" else ""
            raise ValueError(f"{role} network ({kind}): {error}{hint}") from None


class Preset(NamedTuple):
    """A named starting point of an agent's settings; explicit flags override it."""

    config: Any
    """The static Config."""
    hyperparams: Any
    """The array Hyperparams."""
    source: str
    """Where the settings come from (paper, code), shown by --help."""
    run: Mapping[str, Any] = MappingProxyType({})
    """Run flags it sets (RunArgs field -> value, e.g. env, num_envs)."""


@dataclasses.dataclass(frozen=True)
class Agent:
    """One agent as train.py, the loops and the sweeps see it; each agent module defines `AGENT`.

    The static Config reaches `act` and `update` as an argument, so no setting or hyperparameter is
    kept in the agent's State, which holds only arrays (learners, agents/learner.py) and modules.
    """

    name: str
    """The train.py subcommand."""
    Config: type
    """Static settings (a frozen dataclass; changing one recompiles)."""
    Hyperparams: type
    """Array hyperparameters (a flax struct dataclass; --sweep takes them)."""
    init: Callable
    """(key, env_spec, config, hp) -> State"""
    act: Callable
    """(config, hp, state, obs [batch, *obs_shape], key, deterministic) -> actions [batch, ...]"""
    update: Callable
    """off_policy: (config, hp, state, batch: Transition [batch_size], key, update_index) -> (state, metrics);
    on_policy: (config, hp, state, rollout [num_steps, num_envs], key) -> (state, metrics)"""
    summary: str
    """One line for --help."""
    presets: Mapping[str, "Preset"] = dataclasses.field(default_factory=dict)
    """Named settings with their sources."""
    default_preset: str | None = None
    """The preset train.py starts from when --preset is not given (None: the dataclass defaults)."""
    loop: Literal["off_policy", "on_policy"] = "off_policy"
    """agents/engine/off_policy.py (replay buffer; also host-stepped gym/ ids) or agents/engine/on_policy.py (rollouts)."""
    explore: Callable | None = None
    """on_policy: (config, state, obs, key) -> (action, log_prob, value) of the collecting policy."""
    observe: Callable | None = None
    """off_policy, optional: (config, hp, state, transition, done) -> state, for statistics of the
    collected data (SimbaV2's reward scaler). agents/engine/off_policy.learn calls it with every
    iteration's stored transitions (Transition [num_envs]) and done [num_envs] (terminated or
    truncated), after that iteration's updates; off_policy.init calls it once first with transition
    None and done all False, so the state can size its per-env parts for num_envs."""


def auto_gamma(max_episode_steps: int) -> float:
    """TD-MPC2's discount heuristic, used by the SimBa and SimbaV2 authors (action repeat 1):
    clip((T/5 - 1) / (T/5), 0.95, 0.995) for episodes of T steps (0.995 for T = 1000)."""
    horizon = max_episode_steps / 5
    return float(min(max((horizon - 1) / horizon, 0.95), 0.995))


def resolve_gamma(hp: Any, max_episode_steps: int) -> Any:
    """`hp` with gamma "auto" replaced by auto_gamma(max_episode_steps); unchanged otherwise."""
    if isinstance(getattr(hp, "gamma", None), str) and hp.gamma == "auto":
        return hp.replace(gamma=auto_gamma(max_episode_steps))
    return hp


class ConfigError(ValueError):
    """A configuration that cannot run; the message says what is wrong and how to fix it."""


def require_continuous(env_spec, agent_name: str) -> None:
    """Raises ConfigError unless the environment has continuous actions."""
    if not env_spec.is_continuous:
        raise ConfigError(
            f"{agent_name} needs continuous actions but {env_spec.env_id} has {env_spec.num_actions} discrete ones"
        )
