"""The spectral probe (probe.fourier) applied to a trained agent's actor or critic.

The network is evaluated in eval mode (running statistics where it has batch normalization) on
random 2-D planes through its input space: centered on the mean of the replayed inputs and spanning
`settings.span` of their standard deviations along each input axis. Inputs are the network's own:
observations normalized by the run's RSNorm statistics when the run uses RSNorm (so the plane
spans the RSNorm scale), and for the critic the actions appended. The critic ensemble's members and
the actor's action dimensions are each probed as one scalar function; the score is their mean.

The run state comes from the caller (e.g. `agents.engine.off_policy.train` in-process) or from a run
directory's newest checkpoint (`load_run`, and the command line):

    python -m probe.trained RUN_DIR [--network critic|actor] [--planes 10] [--protocol simba-hann]

The protocol (probe.fourier.PROTOCOLS) sets how c is measured on each plane's grid; its extent
does not apply (the plane spans `span` standard deviations).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np

from agents import AGENTS
from agents.common import ConfigError
from agents.engine.loop import RunState, TrainConfig
from networks import rsnorm
from probe.fourier import PROTOCOLS, ProbeSettings, probe_function
from rundir.policy import RunDirectory

NETWORKS = ("critic", "actor")
COLUMNS = tuple(f"{network}_simplicity" for network in NETWORKS)
"""The metrics.csv columns of the probe in training (train.py --probe-every)."""


def network_function(config: TrainConfig, agent_state, network: str, obs_dim: int):
    """inputs [batch, d] -> outputs [batch, k] of the trained actor or critic (eval mode).

    The actor's inputs are observations and its outputs the deterministic actions; the critic's
    inputs are (obs, action) concatenated and its outputs one Q-value per ensemble member.
    """
    if network not in NETWORKS:
        raise ValueError(f"probe network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if network == "actor":
        # deterministic actions read no hyperparameter
        return lambda obs: AGENTS[config.agent].act(config.agent_config, None, agent_state, obs, jax.random.key(0), True)

    def critic(inputs):
        obs, action = inputs[:, :obs_dim], inputs[:, obs_dim:]
        return agent_state.critic(obs, action).T  # the critic learner, in eval mode

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


TRAINING_PLANES = 4
"""Planes per network of the probe during training (train.py --probe-every)."""


def simplicity_scores(config: TrainConfig, state: RunState, key: jax.Array, grid_size: int) -> dict:
    """Each run's simplicity score (mean 1/c over TRAINING_PLANES planes of the simba-hann protocol on
    a grid_size x grid_size grid) of its critic and actor: {"critic_simplicity", "actor_simplicity"}:
    [num_runs] each (state: batched [num_runs, ...]). The same key gives the same planes every time."""
    settings = dataclasses.replace(PROTOCOLS["simba-hann"], grid_size=grid_size)

    def score(run: RunState, network: str) -> jax.Array:
        return probe_run(config, run, key, network, TRAINING_PLANES, settings).mean()

    return {f"{network}_simplicity": jax.vmap(functools.partial(score, network=network))(state) for network in NETWORKS}


def training_probe(config: TrainConfig, grid_size: int):
    """simplicity_scores of `config`'s runs as one compiled program: (state, key) -> {COLUMNS: [num_runs]}."""
    return jax.jit(functools.partial(simplicity_scores, config, grid_size=grid_size))


def load_run(directory: str) -> tuple[TrainConfig, RunState]:
    """(config, batched run state [num_runs, ...]) of an off-policy run directory, from its newest
    readable checkpoint (which must hold the replay buffer: the planes are centered on its inputs)."""
    run_directory = RunDirectory.read(directory)
    name = run_directory.config.agent
    if AGENTS[name].loop != "off_policy":
        raise ConfigError(f"{directory} is a {name} run; the probe reads off-policy actors and critics")
    if not run_directory.recorded.run["buffer_checkpoint"]:
        raise ConfigError(f"{directory} was run with --no-buffer-checkpoint; the probe needs the replay buffer")
    return run_directory.config, run_directory.restore()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simplicity score (mean 1/c) of each run's trained actor or critic.")
    parser.add_argument("run_dir", help="a run directory of train.py with checkpoints")
    parser.add_argument("--network", choices=NETWORKS, default="critic", help="which network to probe")
    parser.add_argument("--planes", type=int, default=10, help="random 2-D planes per run")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed of the planes")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default="simba-hann",
                        help="how c is measured (probe.fourier; simba-hann: SimBa's formula, Hann window, mean removed)")
    parser.add_argument("--grid-size", type=int, default=300, help="grid points per axis of each plane")
    args = parser.parse_args(argv)
    if args.planes < 1:
        print(f"error: --planes must be at least 1, got {args.planes}", file=sys.stderr)
        return 2
    try:
        settings = dataclasses.replace(PROTOCOLS[args.protocol], grid_size=args.grid_size)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        config, state = load_run(args.run_dir)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    num_runs = state.diverged_at.shape[0]
    print(f"{config.agent} on {config.env}, {args.network}, {args.planes} planes per run, protocol {args.protocol}:")
    for index in range(num_runs):
        run = jax.tree.map(lambda x: x[index], state)
        scores = np.asarray(probe_run(config, run, jax.random.key(args.seed), args.network, args.planes, settings))
        print(f"  run {index}: simplicity score {scores.mean():.5f} (1/c over planes and outputs: "
              f"min {scores.min():.5f}, max {scores.max():.5f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
