"""Published per-seed curves (reference/gymnasium_mujoco_v4_curves.csv, see reference/SOURCE.md) and
the map from our agents and env ids to theirs."""

from __future__ import annotations

import csv
import functools
from importlib import resources

import numpy as np

from reports.curves import Curves

REFERENCE_FILE = "gymnasium_mujoco_v4_curves.csv"
ALGORITHM_NAMES = {"sac": "SAC", "crossq": "CrossQ", "simba_utd1": "SimBa-SAC"}
"""Published `algo` -> our name for the same agent."""


def published_algo(agent: str, config: dict) -> str | None:
    """Our agent and its config.json "config" -> the published `algo` it reproduces, or None.

    SimBa-SAC is agent simba-sac, or agent sac with SimBa actor and critic; sac and crossq count
    only with their own (non-SimBa) networks.
    """
    nets = {config.get("actor_net", "mlp"), config.get("critic_net", "mlp")}
    if agent == "simba-sac" or (agent == "sac" and nets == {"simba"}):
        return "simba_utd1"
    if agent in ("sac", "crossq") and "simba" not in nets:
        return agent
    return None


def published_task(env_id: str) -> str | None:
    """Our env id -> the published `env` ("gym/HalfCheetah-v4" -> "HalfCheetah-v4"), None if unpublished.

    mjx/<Task>-vN counts as the published task too: the same MJCF and rules in MJX, checked step by
    step against gymnasium's C MuJoCo (envs/README.md, "gymnasium's tasks in JAX")."""
    family, _, name = env_id.partition("/")
    return name if family in ("gym", "mjx") and name in published_tasks() else None


@functools.cache
def _rows() -> dict[tuple[str, str], dict[int, dict[int, float]]]:
    """(algo, env) -> seed -> env_step -> avg_return, read once from the package's copy."""
    rows: dict[tuple[str, str], dict[int, dict[int, float]]] = {}
    with resources.files("reports").joinpath("reference", REFERENCE_FILE).open() as file:
        for row in csv.DictReader(file):
            seeds = rows.setdefault((row["algo"], row["env"]), {})
            seeds.setdefault(int(row["seed"]), {})[int(row["env_step"])] = float(row["avg_return"])
    return rows


def published_tasks() -> set[str]:
    return {env for _, env in _rows()}


def published_curves(algo: str, task: str) -> Curves | None:
    """Every seed's curve for (algo, task), on the env steps all seeds evaluated; None if unpublished."""
    seeds = _rows().get((algo, task))
    if seeds is None:
        return None
    steps = sorted(set.intersection(*(set(curve) for curve in seeds.values())))
    returns = np.array([[curve[step] for step in steps] for curve in seeds.values()])
    return Curves(np.array(steps), returns)
