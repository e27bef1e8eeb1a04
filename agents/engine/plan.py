"""The one place that decides what a run will be, before anything compiles: the run's static
config, gamma "auto" resolved from the env's time limit, the hyperparameters checked against their
ranges, the sweep's settings x seeds laid out as the runs axis (padded to the devices, with their
keys), the loop the agent and the env call for (`make_runs`), and the memory the runs need.

train.py parses the command line and calls `plan_runs` once; what is left to it is the run
directory (rundir/) and the command line's own flags.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import envs
from agents import AGENTS, ConfigError
from agents.common import resolve_gamma
from agents.engine import batching, host_loop, off_policy, on_policy, ranges, sweep
from agents.engine.loop import RunConfig, Runs, TrainConfig


@dataclasses.dataclass
class RunsPlan:
    """The runs of a command, decided and checked; `runs` compiles and trains them."""

    config: TrainConfig
    hp: Any
    """The command's hyperparameters, gamma "auto" resolved to its number (config.json records it)."""
    runs: Runs
    """The batched loop (loop.Runs, or its host-stepped HostRuns)."""
    settings: list[dict]
    """The sweep's settings of the swept hyperparameters ([{}] without a sweep)."""
    swept: list[str]
    runs_of: list[tuple[int, int]]
    """(setting index, seed) of every run, in the order of the runs axis."""
    num_devices: int
    padded: int
    """Runs on the runs axis: num_runs padded to a multiple of the devices."""
    extended_from: int | None = None
    """An extension of a run: the total env steps it had."""

    @property
    def num_runs(self) -> int:
        return len(self.runs_of)

    @property
    def rows(self) -> list[tuple[int, dict]]:
        """(seed, swept values) of every run."""
        return [(seed, {name: self.settings[index][name] for name in self.swept}) for index, seed in self.runs_of]

    def state_bytes(self, with_buffer: bool = True) -> int:
        """Bytes of the batched run state (a checkpoint's arrays), with or without the replay buffer."""
        shape = self.runs.state_shape
        return batching.tree_bytes(shape) - (0 if with_buffer else batching.tree_bytes(shape.buffer))


def plan_runs(agent_name: str, agent_config: Any, hp: Any, run: RunConfig, refill_buffer: bool = False,
              extended_from: int | None = None) -> RunsPlan:
    """The runs of `agent_name` with `agent_config` and `hp` as `run` asks for them: its RunConfig
    fields and seeds, seed, sweep, sweep_random (train.RunArgs). extended_from: the total env steps
    of the run that this one extends to run.total_steps. Raises ConfigError for anything that
    cannot run."""
    if run.seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {run.seeds}")
    if not -(2**31) <= run.seed <= 2**31 - run.seeds:
        raise ConfigError(
            f"--seed {run.seed} with --seeds {run.seeds} uses seeds {run.seed} .. {run.seed + run.seeds - 1}; "
            f"seeds are 32-bit: --seed must lie in {-(2**31)} .. {2**31 - run.seeds}"
        )
    config = dataclasses.replace(TrainConfig.of(agent_name, agent_config, run), refill_buffer=refill_buffer)
    try:
        max_steps = envs.make(config.env).spec.max_episode_steps
    except ValueError as error:  # unknown env ids
        raise ConfigError(str(error)) from None
    hp = resolve_gamma(hp, max_steps)
    static = [field.name for field in dataclasses.fields(agent_config)] + [field.name for field in dataclasses.fields(run)]
    settings, swept, runs_of, batched_hp = hyperparameter_runs(hp, run, static)
    mesh = batching.runs_mesh()
    padded = batching.padded_runs(len(runs_of), mesh.size)
    seeds = [seed for _, seed in runs_of]
    keys = batching.pad_runs(batching.keys_for(seeds), padded)
    try:
        runs = make_runs(config, batching.pad_runs(batched_hp, padded), keys, seeds + seeds[-1:] * (padded - len(seeds)), mesh)
    except ValueError as error:  # bad network specs included
        raise ConfigError(str(error)) from None
    check_memory(runs.state_shape, padded, mesh.size, config)
    if extended_from:
        check_extension(config, extended_from)
    return RunsPlan(config, hp, runs, settings, swept, runs_of, mesh.size, padded, extended_from)


def check_extension(config: TrainConfig, extended_from: int) -> None:
    """Checks that a run of extended_from env steps can go on to config.total_steps as if it had
    been started with them (a replay buffer whose capacity was the run's total steps grows:
    loop.Runs.resized)."""
    if config.total_steps < extended_from:
        raise ConfigError(f"--total-steps {config.total_steps} is below the run's {extended_from}: a run is extended, "
                          "never shortened")
    if AGENTS[config.agent].loop == "on_policy" and config.agent_config.anneal_lr:
        raise ConfigError(f"{config.agent} anneals its learning rate to zero over --total-steps, so the run's "
                          f"{extended_from} steps followed a schedule that a {config.total_steps}-step run would not "
                          "have: it cannot be extended (a run with --no-anneal-lr can)")


def hyperparameter_runs(hp: Any, run: Any, static: list[str]) -> tuple[list[dict], list[str], list[tuple[int, int]], Any]:
    """-> (sweep settings, swept names, (setting index, seed) per run, hp with a leading runs axis);
    static: the names a sweep may not take (they change the program)."""
    settings = sweep.settings(run.sweep, type(hp), static, run.sweep_random, run.seed)
    swept = list(settings[0])
    for field in dataclasses.fields(hp):
        if field.name not in swept:
            ranges.check(field.name, getattr(hp, field.name), "--" + field.name.replace("_", "-"))
    runs = [(index, seed) for index in range(len(settings)) for seed in range(run.seed, run.seed + run.seeds)]
    values = {
        field.name: jnp.asarray(
            np.asarray([settings[index].get(field.name, getattr(hp, field.name)) for index, _ in runs], np.float32)
        )
        for field in dataclasses.fields(hp)
    }
    return settings, swept, runs, hp.replace(**values)


def make_runs(config: TrainConfig, hp: Any, keys: jax.Array, seeds: list[int], mesh) -> Runs:
    """The runs of `config` (hp, keys: leading [num_runs]; seeds: one per run, for host-stepped
    envs), in the loop the agent and the env call for; raises ConfigError for settings it cannot run."""
    if AGENTS[config.agent].loop == "on_policy":
        if envs.is_host_stepped(config.env):
            raise ConfigError(f"{config.agent} runs on jittable envs only; {config.env} is stepped on the host")
        return on_policy.make_runs(config, hp, keys, mesh)
    if envs.is_host_stepped(config.env):
        return host_loop.HostRuns(config, hp, keys, seeds, mesh)
    return off_policy.make_runs(config, hp, keys, mesh)


def check_memory(state_shape, num_runs: int, num_devices: int, config: TrainConfig) -> None:
    """Stops before compiling when the runs' states (buffers, networks, optimizers) cannot fit."""
    per_run = batching.tree_bytes(state_shape) / num_runs
    replay = getattr(state_shape, "buffer", None)  # on-policy runs keep no replay buffer
    runs_per_device = num_runs // num_devices
    needed = per_run * runs_per_device
    available = batching.device_memory_bytes()
    if available is not None and needed > 0.9 * available:
        if replay is None:
            parts, shrink = "", "or shrink the networks or --num-envs"
        else:
            parts = f", of which the replay buffer is {batching.tree_bytes(replay) / num_runs / 2**20:.0f} MiB"
            shrink = f"or shrink the buffer (--buffer-size, now {off_policy.buffer_capacity(config)} transitions)"
        raise ConfigError(
            f"the runs need about {needed / 2**30:.2f} GiB per device ({runs_per_device} runs x "
            f"{per_run / 2**20:.0f} MiB{parts}) but a device has {available / 2**30:.2f} GiB free; "
            f"run fewer runs at once (--seeds, --sweep) {shrink}"
        )
