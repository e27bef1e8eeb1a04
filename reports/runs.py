"""Reading run directories (config.json, evals.csv; see docs/architecture.md) into one group of runs per
(algorithm, task), each paired with the published curves it reproduces."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from reports.curves import Curves
from reports.published import ALGORITHM_NAMES, config_differences, published_algo, published_curves, published_task
from rundir.output import EVAL_COLUMNS, RUN_COLUMNS, setting_label


class ReportError(Exception):
    """A problem with the input that the user can fix; the message is one line."""


@dataclasses.dataclass(frozen=True)
class RunGroup:
    """The runs of one algorithm (one setting of a sweep) on one task, from one or more directories."""

    algorithm: str
    """Our name for it: SAC, CrossQ, SimBa-SAC, else the agent name; a sweep's setting appended."""
    task: str
    """Our env id, e.g. gym/HalfCheetah-v4."""
    published_algo: str | None
    """The published `algo` it reproduces (sac, crossq, simba_utd1), None if none."""
    published: Curves | None
    """The published curves of that algo on this task, None if unpublished."""
    curves: Curves
    seeds: tuple[int, ...]
    directories: tuple[str, ...]
    commands: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """What the reader should know: runs left out, seeds repeated across directories."""
    differs: tuple[str, ...] = ()
    """Where the runs' configuration differs from the published one ("field ours vs published");
    empty when it is the published configuration. A differing group is drawn beside the published
    curve, labelled so, and makes no claim about it."""


def load_runs(directories: list[Path]) -> list[RunGroup]:
    """Every directory's runs, merged per (algorithm, task) when their evaluation steps and configurations match."""
    merged: dict[tuple[str, str], RunGroup] = {}
    for directory in directories:
        for group in read_run(directory):
            key = (group.algorithm, group.task)
            merged[key] = merge(merged[key], group) if key in merged else group
    return list(merged.values())


def read_run(directory: Path) -> list[RunGroup]:
    """load_run, with a file it cannot read (missing permissions, not UTF-8, broken CSV) as a ReportError."""
    try:
        return load_run(directory)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ReportError(f"cannot read {directory}: {getattr(error, 'strerror', None) or error}") from None


def merge(first: RunGroup, second: RunGroup) -> RunGroup:
    if not np.array_equal(first.curves.env_steps, second.curves.env_steps):
        raise ReportError(
            f"{', '.join(first.directories)} and {second.directories[0]} both hold {first.algorithm} on "
            f"{first.task} but evaluate at different env steps; report them separately"
        )
    if first.differs != second.differs:
        raise ReportError(
            f"{', '.join(first.directories)} and {second.directories[0]} both hold {first.algorithm} on "
            f"{first.task} but in different configurations ({'; '.join(first.differs) or 'the published one'} against "
            f"{'; '.join(second.differs) or 'the published one'}); report them separately"
        )
    notes = first.notes + second.notes
    repeated = sorted(set(first.seeds) & set(second.seeds))
    if repeated:
        notes += (f"seeds {', '.join(map(str, repeated))} appear in more than one directory",)
    return dataclasses.replace(
        first,
        curves=Curves(first.curves.env_steps, np.concatenate([first.curves.returns, second.curves.returns])),
        seeds=first.seeds + second.seeds,
        directories=first.directories + second.directories,
        commands=first.commands + second.commands,
        notes=notes,
    )


def load_run(directory: Path) -> list[RunGroup]:
    """One group per setting (one unless the directory holds a sweep)."""
    if not directory.is_dir():
        raise ReportError(f"{directory} is not a directory; pass run directories written by train.py")
    config = read_config(directory)
    agent, env = config["agent"], config["run"]["env"]
    agent_config = config.get("config") or {}
    algo = published_algo(agent, agent_config)
    task = published_task(env)
    published = published_curves(algo, task) if algo and task else None
    diverged = diverged_runs(directory)
    name = ALGORITHM_NAMES[algo] if algo else agent_label(agent, agent_config)
    groups = []
    hyperparams = config.get("hyperparams") or {}
    for setting, (seeds, curves, notes) in read_evals(directory, diverged).items():
        differs = tuple(config_differences(algo, agent_config, {**hyperparams, **dict(setting)})) if algo else ()
        groups.append(
            RunGroup(
                algorithm=f"{name} ({setting_label(dict(setting))})" if setting else name,
                task=env,
                published_algo=algo,
                published=published,
                curves=curves,
                seeds=seeds,
                directories=(str(directory),),
                commands=(config.get("command", "(not recorded)"),),
                notes=notes,
                differs=differs,
            )
        )
    return groups


def agent_label(agent: str, agent_config: dict) -> str:
    nets = (agent_config.get("actor_net", "mlp"), agent_config.get("critic_net", "mlp"))
    return agent if nets == ("mlp", "mlp") else f"{agent} (actor {nets[0]}, critic {nets[1]})"


def read_config(directory: Path) -> dict:
    path = directory / "config.json"
    if not path.is_file():
        raise ReportError(f"{directory} has no config.json; is it a run directory written by train.py?")
    try:
        config = json.loads(path.read_text())
        config["agent"], config["run"]["env"]
    except (ValueError, KeyError, TypeError):  # ValueError: not JSON, or not UTF-8
        raise ReportError(f"{path} is not a train.py config (it needs JSON with \"agent\" and \"run\": {{\"env\"}})") from None
    return config


def diverged_runs(directory: Path) -> set[int]:
    """The runs summary.json reports as diverged (frozen at their last healthy state); none without it."""
    path = directory / "summary.json"
    try:
        return {int(entry["run"]) for entry in json.loads(path.read_text()).get("diverged", [])}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return set()


def read_evals(directory: Path, diverged: set[int]) -> dict[tuple, tuple[tuple[int, ...], Curves, tuple[str, ...]]]:
    """evals.csv -> per setting ((name, value) pairs of the swept columns): (seeds, curves, notes).

    Keeps the evaluations every run of the setting finished (an interrupted run may stop mid-way)
    and leaves out diverged runs and runs with a non-finite return; a setting with no run left
    (every seed diverged: the usual end of a too-large learning rate) is left out and named in the
    notes of the others.
    """
    path = directory / "evals.csv"
    if not path.is_file():
        raise ReportError(f"{directory} has no evals.csv; is it a run directory written by train.py?")
    returns: dict[tuple, dict[int, dict[int, float]]] = {}
    seeds: dict[int, int] = {}
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        missing = [column for column in (*RUN_COLUMNS, "env_step", "eval_return") if column not in header]
        if missing:
            raise ReportError(f"{path} lacks the column(s) {', '.join(missing)}; is it an evals.csv written by train.py?")
        swept = [column for column in header if column not in (*RUN_COLUMNS, *EVAL_COLUMNS)]
        for line, row in enumerate(reader, start=2):
            try:
                run, step, value = int(row["run"]), int(row["env_step"]), float(row["eval_return"])
                seeds[run] = int(row["seed"])
                setting = tuple((name, float(row[name])) for name in swept)
            except (TypeError, ValueError):
                raise ReportError(f"{path} line {line} is not a complete evaluation row") from None
            returns.setdefault(setting, {}).setdefault(run, {})[step] = value
    if not returns:
        raise ReportError(f"{path} holds no evaluation yet; report a run that finished at least one")
    per_setting = {setting: setting_curves(path, runs, seeds, diverged) for setting, runs in returns.items()}
    failed = [setting for setting, kept in per_setting.items() if kept is None]
    if len(failed) == len(per_setting):
        raise ReportError(f"{path}: every run diverged or has non-finite returns; nothing to report")
    left_out = tuple(
        f"left out setting {setting_label(dict(setting))}: every run diverged or has non-finite returns"
        for setting in failed
    )
    return {
        setting: (kept[0], kept[1], kept[2] + left_out) for setting, kept in per_setting.items() if kept is not None
    }


def setting_curves(path: Path, runs: dict[int, dict[int, float]], seeds: dict[int, int], diverged: set[int]):
    """-> (seeds, curves, notes) of the setting's healthy runs, or None if none is left."""
    notes = []
    left_out = sorted(run for run in runs if run in diverged)
    if left_out:
        notes.append(f"left out run(s) {', '.join(map(str, left_out))}: diverged (summary.json)")
    steps = sorted(set.intersection(*(set(curve) for curve in runs.values())))
    if not steps:
        raise ReportError(f"{path} has no evaluation step that every run finished")
    kept = {run: curve for run, curve in runs.items() if run not in diverged}
    broken = sorted(run for run, curve in kept.items() if not np.all(np.isfinite([curve[s] for s in steps])))
    if broken:
        notes.append(f"left out run(s) {', '.join(map(str, broken))}: non-finite returns")
    kept = {run: curve for run, curve in kept.items() if run not in broken}
    if not kept:
        return None
    returns = np.array([[curve[step] for step in steps] for curve in kept.values()])
    return tuple(seeds[run] for run in kept), Curves(np.array(steps), returns), tuple(notes)
