"""The spectral probe (networks.spectral) applied to a trained agent's actor or critic.

The network is evaluated in eval mode (running statistics where it has batch normalization) on
random 2-D planes through its input space: centered on the mean of the replayed inputs and spanning
`settings.span` of their standard deviations along each input axis. Inputs are the network's own:
observations normalized by the run's RSNorm statistics when the run uses RSNorm (so the plane
spans the RSNorm scale), and for the critic the actions appended. The critic ensemble's members and
the actor's action dimensions are each probed as one scalar function; the score is their mean.

The run state comes from the caller (e.g. `agents.off_policy.train` in-process); loading one from a
checkpoint directory plugs in here once checkpoints exist.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents import AGENTS
from agents.off_policy import RunState, TrainConfig
from networks import rsnorm
from networks.spectral import ProbeSettings, probe_function

NETWORKS = ("critic", "actor")


def network_function(config: TrainConfig, agent_state, network: str, obs_dim: int):
    """inputs [batch, d] -> outputs [batch, k] of the trained actor or critic (eval mode).

    The actor's inputs are observations and its outputs the deterministic actions; the critic's
    inputs are (obs, action) concatenated and its outputs one Q-value per ensemble member.
    """
    if network not in NETWORKS:
        raise ValueError(f"probe network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if network == "actor":
        return lambda obs: AGENTS[config.agent].act(agent_state, obs, jax.random.key(0), True)
    # CrossQ keeps {"params", "batch_stats"} as critic_vars, the other agents the variables as critic_params
    variables = getattr(agent_state, "critic_vars", None) or agent_state.critic_params

    def critic(inputs):
        obs, action = inputs[:, :obs_dim], inputs[:, obs_dim:]
        return agent_state.critic.apply(variables, obs, action, train=False).T

    return critic


def replayed_inputs(config: TrainConfig, run: RunState, network: str) -> tuple[jax.Array, jax.Array]:
    """The network's inputs at the filled replay rows: (inputs [capacity, d], weights [capacity] 0/1)."""
    data = run.buffer.data
    obs = rsnorm.normalize(run.obs_stats, data.obs) if config.agent_config.uses_rsnorm else data.obs
    inputs = obs if network == "actor" else jnp.concatenate([obs, data.action], axis=-1)
    weights = (jnp.arange(inputs.shape[0]) < run.buffer.size).astype(jnp.float32)
    return inputs, weights


def probe_run(
    config: TrainConfig,
    run: RunState,
    key: jax.Array,
    network: str = "critic",
    n_planes: int = 10,
    settings: ProbeSettings = ProbeSettings(),
) -> jax.Array:
    """1 / c of the run's trained actor or critic on `n_planes` random planes: [n_planes, k]
    (k: critics in the ensemble, or action dimensions). Its mean is the network's score."""
    inputs, weights = replayed_inputs(config, run, network)
    count = weights.sum()
    center = (weights[:, None] * inputs).sum(axis=0) / count
    scale = jnp.sqrt((weights[:, None] * (inputs - center) ** 2).sum(axis=0) / count)
    function = network_function(config, run.agent, network, run.buffer.data.obs.shape[-1])
    return probe_function(function, center, scale, key, n_planes, settings)
