"""Writes the files of a run directory; evals.csv grows one evaluation at a time so nothing is lost."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from agents.common import ConfigError
from rundir.stats import bootstrap_ci, iqm

RUN_COLUMNS = ("run", "seed")
EVAL_COLUMNS = ("env_step", "eval_return", "eval_length", "train_return", "wall_seconds")


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("jax", "jaxlib", "flax", "optax", "gymnax", "brax", "numpy", "occam-rl"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def write_json(path: Path, payload: dict) -> None:
    """Writes atomically: a reader never sees a half-written file."""
    partial = path.with_suffix(path.suffix + ".tmp")
    try:
        partial.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def csv_lines(rows: list[list]) -> list[str]:
    """Each row as one line of CSV text, as csv.writer writes it."""
    lines = []
    for row in rows:
        text = io.StringIO()
        csv.writer(text).writerow(row)
        lines.append(text.getvalue())
    return lines


def record_extension(path: Path, from_steps: int, to_steps: int) -> None:
    """config.json of a run extended from `from_steps` to `to_steps` env steps: its total steps
    become the new ones (a later --resume goes on to them), and `extensions` records each one."""
    resolved = json.loads(path.read_text())
    resolved["run"]["total_steps"] = to_steps
    resolved.setdefault("extensions", []).append(
        {"from_total_steps": from_steps, "to_total_steps": to_steps, "command": command_line()})
    write_json(path, resolved)


class CsvLog:
    """A CSV log that grows after every evaluation; `lines` is what the file holds, header first.
    A checkpoint keeps the lines, so that --resume can give back a file that lost rows and refuse
    one that contradicts it (`check_history`). An append that fails (a full disk, a vanished
    directory) is cut off again, so the file never ends in half a row."""

    def __init__(self, path: Path, lines: list[str] | None = None):
        """A log that starts empty, or (resuming) the file rewritten to hold exactly `lines`."""
        self.path, self.lines = path, []
        if lines:
            self.rewrite(lines)

    def rewrite(self, lines: list[str]) -> None:
        """The file made to hold `lines`, atomically: the old file survives an interruption here."""
        partial = self.path.with_suffix(self.path.suffix + ".tmp")
        try:
            partial.write_text("".join(lines), newline="")
            partial.replace(self.path)
        finally:
            partial.unlink(missing_ok=True)
        self.lines = list(lines)

    def append(self, rows: list[list]) -> None:
        """Adds rows at the end of the file (raises OSError, the file as it was, if it cannot)."""
        text = csv_lines(rows)
        size = self.path.stat().st_size if self.path.exists() else 0
        try:
            with self.path.open("a", newline="") as file:
                file.write("".join(text))
        except OSError:
            with contextlib.suppress(OSError):
                os.truncate(self.path, size)
            raise
        self.lines += text


class EvalLog(CsvLog):
    """evals.csv, one row per (run, evaluation): run, seed, one column per swept hyperparameter,
    env_step, eval_return, eval_length, train_return, wall_seconds."""

    def __init__(self, path: Path, swept: list[str], lines: list[str] | None = None):
        super().__init__(path, lines or csv_lines([[*RUN_COLUMNS, *swept, *EVAL_COLUMNS]]))
        self._swept = swept

    def write(self, runs: list[tuple[int, dict]], env_step: int, metrics: dict, wall_seconds: float) -> None:
        """runs: (seed, swept values) per run, in the order of the metrics' runs axis."""
        self.append([
            [
                run,
                seed,
                *(f"{values[name]:.6g}" for name in self._swept),
                env_step,
                f"{metrics['eval_return'][run]:.6g}",
                f"{metrics['eval_length'][run]:.6g}",
                f"{metrics['train_return'][run]:.6g}",
                f"{wall_seconds:.3f}",
            ]
            for run, (seed, values) in enumerate(runs)
        ])


def file_lines(path: Path, after_step: int) -> list[str] | None:
    """The header and the rows up to env step after_step of an existing log, as lines (None if
    there is no file): what --resume keeps of a log its checkpoint holds no copy of."""
    if not path.exists():
        return None
    with path.open(newline="") as existing:
        lines = existing.read().splitlines(keepends=True)
    if not lines:
        return None
    step = next(csv.reader(lines[:1])).index("env_step")
    return lines[:1] + [line for line in lines[1:] if int(next(csv.reader([line]))[step]) <= after_step]


def check_history(path: Path, recorded: list[str]) -> str | None:
    """Checks a log against the lines its checkpoint recorded: the file may hold them and rows
    written after the checkpoint (dropped on resume), or lack rows (given back from the checkpoint:
    -> a note saying so); anything else contradicts the checkpoint (ConfigError)."""
    lines = []
    if path.exists():
        with path.open(newline="") as existing:
            lines = existing.read().splitlines(keepends=True)
    if lines[: len(recorded)] == recorded:
        return None
    if recorded[: len(lines)] == lines:
        return f"{path.name} had {max(len(lines) - 1, 0)} of the checkpoint's {len(recorded) - 1} rows: given back from the checkpoint"
    row = next(index for index, (line, kept) in enumerate(zip(lines, recorded)) if line != kept)
    raise ConfigError(
        f"{path} contradicts its checkpoint at line {row + 1} ({lines[row].strip()!r} where the checkpoint has "
        f"{recorded[row].strip()!r}); put the file back as it was, or move it away to have it rebuilt from the checkpoint"
    )


NOT_TRAINING = ("diverged_at", "env_steps", "eval_return", "eval_length")
"""Keys of the period's metrics that are not training metrics (evals.csv has the evaluation)."""


def training_names(metrics: dict) -> list[str]:
    """The training metrics among a period's metrics, sorted by name."""
    return sorted(name for name in metrics if name not in NOT_TRAINING)


class MetricsLog(CsvLog):
    """metrics.csv, one row per (run, evaluation): run, seed, one column per swept hyperparameter,
    env_step, one column per training metric of the period (see agents/engine/training_metrics.py),
    env_steps_per_second (all runs, host clock), wall_seconds."""

    def __init__(self, path: Path, swept: list[str], lines: list[str] | None = None, sometimes: tuple[str, ...] = ()):
        """A new file, started at the first write (its columns are the first period's metrics), or
        `lines` to go on from. sometimes: metrics not in every row (the probe's), columns from the
        start and empty where a row lacks them."""
        super().__init__(path, lines)
        self._swept, self._sometimes = swept, sometimes

    def write(self, runs: list[tuple[int, dict]], env_step: int, metrics: dict, steps_per_second: float,
              wall_seconds: float) -> None:
        """runs: (seed, swept values) per run; metrics: [num_runs] host arrays per name."""
        names = training_names(metrics)
        if not self.lines:
            columns = sorted({*names, *self._sometimes})
            self.rewrite(csv_lines([[*RUN_COLUMNS, *self._swept, "env_step", *columns, "env_steps_per_second",
                                     "wall_seconds"]]))
        header = next(csv.reader(self.lines[:1]))
        rows = []
        for run, (seed, values) in enumerate(runs):
            row = {"run": run, "seed": seed, "env_step": env_step, "env_steps_per_second": f"{steps_per_second:.6g}",
                   "wall_seconds": f"{wall_seconds:.3f}"}
            row.update({name: f"{values[name]:.6g}" for name in self._swept})
            row.update({name: f"{float(metrics[name][run]):.9g}" for name in names})  # float32 round-trips
            rows.append([row.get(name, "") for name in header])
        self.append(rows)


def describe_returns(values: np.ndarray) -> str:
    """Every run's return for a few runs, else the IQM and range."""
    if len(values) <= 8:
        return " ".join(f"{v:8.1f}" for v in values)
    return f"IQM {iqm(values):.1f} over {len(values)} runs (min {np.min(values):.1f}, max {np.max(values):.1f})"


def describe_stats(stats: dict) -> str:
    """One line of summarize_returns' statistics."""
    if stats["iqm"] is None:
        return "every run diverged"
    low, high = stats["iqm_ci95"]
    return f"IQM {stats['iqm']:9.1f} (95% CI {low:.1f} .. {high:.1f})  mean {stats['mean']:.1f} +- {stats['std']:.1f}"


def setting_label(setting: dict) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in setting.items()) or "defaults"


def rank_settings(settings: list[dict], groups: list[tuple[str, list[int]]], final_returns: np.ndarray) -> list[dict]:
    """Per setting: its hyperparameters and final-return statistics, best IQM first, with a rank."""
    entries = [
        {"hyperparams": setting, "final_eval_return": summarize_returns(final_returns[indices])}
        for setting, (_, indices) in zip(settings, groups)
    ]
    entries.sort(key=lambda entry: -np.inf if entry["final_eval_return"]["iqm"] is None else entry["final_eval_return"]["iqm"], reverse=True)
    return [{"rank": rank, **entry} for rank, entry in enumerate(entries, start=1)]


def summarize_returns(final_returns: np.ndarray) -> dict:
    """final_returns: [num_runs] -> mean, std, IQM with its 95% bootstrap CI over the runs that did
    not diverge (NaN), and every run's value (None where diverged)."""
    healthy = final_returns[np.isfinite(final_returns)]
    per_run = [float(v) if np.isfinite(v) else None for v in final_returns]
    if len(healthy) == 0:
        return {"mean": None, "std": None, "iqm": None, "iqm_ci95": [None, None], "per_run": per_run}
    low, high = bootstrap_ci(healthy)
    return {
        "mean": float(np.mean(healthy)),
        "std": float(np.std(healthy)),
        "iqm": float(iqm(healthy)),
        "iqm_ci95": [float(low), float(high)],
        "per_run": per_run,
    }


def plot_curves(
    path: Path,
    env_steps: np.ndarray,
    returns: np.ndarray,
    title: str,
    groups: list[tuple[str, list[int]]] | None = None,
) -> None:
    """curves.png: each run thin, the IQM bold, its 95% bootstrap CI as a band; one colour a group.

    env_steps: [num_evals]; returns: [num_runs, num_evals]; groups: (label, run indices) per
    setting of a sweep (None: all runs are one group).
    """
    from matplotlib import colormaps

    groups = groups or [(f"IQM of {len(returns)} runs", list(range(len(returns))))]
    colours = colormaps["tab10"]
    with curves_axis(path, title) as axis:
        for number, (label, indices) in enumerate(groups):
            colour = colours(number % 10)
            group = returns[indices]
            for run_returns in group:
                axis.plot(env_steps, run_returns, color=colour, linewidth=0.7, alpha=0.35)
            draw_iqm(axis, env_steps, group, colour, label)


@contextlib.contextmanager
def curves_axis(path: Path, title: str):
    """Yields the axis of a learning-curve figure (returns over env steps), saved to `path` on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        yield axis
        axis.set_xlabel("env steps")
        axis.set_ylabel("deterministic eval return (IQM, 95% bootstrap CI)")
        axis.set_title(title, fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(path)
    finally:
        plt.close(figure)


def draw_iqm(axis, env_steps: np.ndarray, returns: np.ndarray, colour, label: str, linestyle: str = "-") -> None:
    """The IQM over runs as a bold line with its 95% bootstrap CI as a band on a matplotlib axis.

    env_steps: [num_evals]; returns: [num_runs, num_evals].
    """
    low, high = bootstrap_ci(returns)
    axis.fill_between(env_steps, low, high, color=colour, alpha=0.18)
    axis.plot(env_steps, iqm(returns), color=colour, linewidth=2.2, linestyle=linestyle, label=label)


TRAINING_PANELS = (
    "critic_loss", "actor_loss", "value_loss", "loss", "mean_q", "alpha", "entropy",
    "critic_grad_norm", "actor_grad_norm", "grad_norm", "approx_kl", "explained_variance",
)
"""The metrics.csv columns training.png draws, those the agent reports, in this order."""


def read_metrics(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """metrics.csv -> (env steps [num_evals], {metric: [num_runs, num_evals]}) for TRAINING_PANELS."""
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    steps = sorted({int(row["env_step"]) for row in rows})
    runs = sorted({int(row["run"]) for row in rows})
    names = [name for name in TRAINING_PANELS if rows and name in rows[0]]
    table = {name: np.full((len(runs), len(steps)), np.nan) for name in names}
    for row in rows:
        for name in names:
            table[name][runs.index(int(row["run"])), steps.index(int(row["env_step"]))] = float(row[name])
    return np.asarray(steps), table


def plot_training(path: Path, metrics_path: Path, title: str) -> None:
    """training.png: one panel per training metric of metrics.csv (losses, Q, temperature, entropy,
    gradient norms), the IQM over runs bold with its 95% bootstrap CI as a band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, table = read_metrics(metrics_path)
    if not table:
        return
    columns = 3
    rows = -(-len(table) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(11, 2.8 * rows), dpi=110, squeeze=False)
    for axis, (name, values) in zip(axes.flat, table.items()):
        draw_iqm(axis, steps, values, "tab:blue", f"IQM of {len(values)} runs")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("env steps", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(table):]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def command_line() -> str:
    return " ".join([Path(sys.executable).name, *sys.argv])


def finish(plan, env_steps: list[int], returns: np.ndarray, diverged: list[dict], interrupted: bool,
           compile_seconds: float, wall_seconds: float) -> dict:
    """Writes summary.json, curves.png and training.png of a finished or interrupted training and prints its
    final returns. returns: [num_runs, evaluations done]. -> the summary."""
    import jax

    groups = [
        (setting_label(setting), [i for i, (index, _) in enumerate(plan.runs_of) if index == setting_index])
        for setting_index, setting in enumerate(plan.settings)
    ]
    final = summarize_returns(returns[:, -1])
    device = jax.devices()[0]
    done_steps, num_runs = env_steps[-1], plan.num_runs
    summary = {
        "final_eval_return": final,
        "env_steps": done_steps,
        "interrupted": interrupted,
        "resumed": bool(plan.run.resume),
        "diverged": diverged,
        "steps_per_second": done_steps * num_runs / wall_seconds,
        "steps_per_second_per_run": done_steps / wall_seconds,
        "compile_seconds": compile_seconds,
        "wall_seconds": wall_seconds,
        "num_runs": num_runs,
        "num_devices": plan.num_devices,
        "versions": versions(),
        "device": f"{device.platform}: {device.device_kind}",
        "command": plan.resolved["command"],
    }
    if plan.swept:
        summary["settings"] = rank_settings(plan.settings, groups, returns[:, -1])
    if jax.process_index() != 0:  # under jax.distributed, process 0 writes and prints the results
        return summary
    write_json(plan.out / "summary.json", summary)
    title = f"{plan.config.agent} on {plan.config.env}\n{plan.resolved['command']}"
    plot_curves(plan.out / "curves.png", np.asarray(env_steps), returns, title, groups if plan.swept else None)
    if (plan.out / "metrics.csv").exists():
        plot_training(plan.out / "training.png", plan.out / "metrics.csv", title)
    print(f"\nfinal deterministic eval return ({done_steps} env steps; diverged runs excluded):")
    if plan.swept:
        for entry in summary["settings"]:
            print(f"  #{entry['rank']:<3} {setting_label(entry['hyperparams']):40s} {describe_stats(entry['final_eval_return'])}")
    else:
        for (seed, _), value in zip(plan.rows, final["per_run"]):
            print(f"  seed {seed:<4} {'diverged' if value is None else f'{value:10.1f}'}")
    print(f"  all {num_runs} runs: {describe_stats(final)}")
    print(
        f"compile {compile_seconds:.1f} s, run {wall_seconds:.1f} s, "
        f"{summary['steps_per_second']:.0f} env-steps/s over all runs; wrote {plan.out}"
    )
    return summary
