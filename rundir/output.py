"""Writes the files of a run directory; evals.csv grows one evaluation at a time so nothing is lost."""

from __future__ import annotations

import csv
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from rundir.stats import bootstrap_ci, iqm

EVAL_COLUMNS = ("run", "seed", "env_step", "eval_return", "eval_length", "train_return", "wall_seconds")


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
    partial.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    partial.replace(path)


class EvalLog:
    """evals.csv, one row per (run, evaluation), flushed after every evaluation."""

    def __init__(self, path: Path):
        self._file = path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(EVAL_COLUMNS)
        self._file.flush()

    def write(self, seeds: list[int], env_step: int, metrics: dict, wall_seconds: float) -> None:
        for run, seed in enumerate(seeds):
            self._writer.writerow(
                (
                    run,
                    seed,
                    env_step,
                    f"{metrics['eval_return'][run]:.6g}",
                    f"{metrics['eval_length'][run]:.6g}",
                    f"{metrics['train_return'][run]:.6g}",
                    f"{wall_seconds:.3f}",
                )
            )
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def summarize_returns(final_returns: np.ndarray) -> dict:
    """final_returns: [num_runs] -> mean, std, IQM with its 95% bootstrap CI, per-run values."""
    low, high = bootstrap_ci(final_returns)
    return {
        "mean": float(np.mean(final_returns)),
        "std": float(np.std(final_returns)),
        "iqm": float(iqm(final_returns)),
        "iqm_ci95": [float(low), float(high)],
        "per_run": [float(v) for v in final_returns],
    }


def plot_curves(path: Path, env_steps: np.ndarray, returns: np.ndarray, title: str) -> None:
    """curves.png: each run thin, the IQM bold, its 95% bootstrap CI as a band.

    env_steps: [num_evals]; returns: [num_runs, num_evals].
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
    for run_returns in returns:
        axis.plot(env_steps, run_returns, color="tab:blue", linewidth=0.7, alpha=0.4)
    low, high = bootstrap_ci(returns)
    axis.fill_between(env_steps, low, high, color="tab:blue", alpha=0.2, label="95% bootstrap CI")
    axis.plot(env_steps, iqm(returns), color="tab:blue", linewidth=2.2, label=f"IQM of {len(returns)} runs")
    axis.set_xlabel("env steps")
    axis.set_ylabel("deterministic eval return")
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def command_line() -> str:
    return " ".join([Path(sys.executable).name, *sys.argv])
