"""Live views of a training beside the CSV logs: TensorBoard event files (--tensorboard) and
Weights & Biases runs (--wandb PROJECT), one per Occam run, fed after every evaluation with the
evaluation and every training metric of the period (the columns of evals.csv and metrics.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.common import ConfigError
from rundir import output


def run_name(index: int, seed: int, values: dict) -> str:
    """The name of run `index` in the trackers: run<index>-seed<seed>[-<swept>=<value>...]."""
    setting = "".join(f"-{name}={value:.4g}" for name, value in values.items())
    return f"run{index}-seed{seed}{setting}"


def scalars(metrics: dict, run: int) -> dict[str, float]:
    """The period's values of run `run` under tracker tags: eval/return, eval/length, train/<metric>."""
    values = {"eval/return": metrics["eval_return"][run], "eval/length": metrics["eval_length"][run]}
    values.update({f"train/{name}": metrics[name][run] for name in output.training_names(metrics)})
    return {tag: float(value) for tag, value in values.items() if np.isfinite(value)}


class TensorBoardLog:
    """OUT/tensorboard/<run name>/ event files (tensorboardX), one directory per run: `tensorboard
    --logdir OUT` shows every run. Resuming after env step S purges the later steps of the first
    session, so the curves do not fork."""

    def __init__(self, out: Path, rows: list[tuple[int, dict]], after_step: int | None = None):
        from tensorboardX import SummaryWriter

        purge = None if after_step is None else after_step + 1
        self.writers = [
            SummaryWriter(str(out / "tensorboard" / run_name(index, seed, values)), purge_step=purge)
            for index, (seed, values) in enumerate(rows)
        ]

    def write(self, env_step: int, metrics: dict, steps_per_second: float) -> None:
        for run, writer in enumerate(self.writers):
            for tag, value in scalars(metrics, run).items():
                writer.add_scalar(tag, value, env_step)
            writer.add_scalar("time/env_steps_per_second", steps_per_second, env_step)
            writer.flush()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


class WandbLog:
    """One Weights & Biases run per Occam run in project `project` (wandb, the `[wandb]` extra),
    grouped by the run directory's name, named as in TensorBoard, with config.json's settings and
    the run's seed and swept values as its config; its files go under OUT/wandb. WANDB_MODE=offline
    keeps them on disk (`wandb sync OUT/wandb/offline-run-*` uploads them later). A resumed session
    starts new W&B runs in the same group, from the first evaluation after the checkpoint."""

    def __init__(self, project: str, out: Path, rows: list[tuple[int, dict]], config: dict):
        import wandb

        self.runs = []
        try:
            for index, (seed, values) in enumerate(rows):
                self.runs.append(wandb.init(
                    project=project, group=out.name, name=run_name(index, seed, values), dir=str(out),
                    config={**config, "run_index": index, "seed": seed, **values}, reinit="create_new",
                ))
        except wandb.errors.Error as error:  # not logged in, say
            self.close()
            raise ConfigError(f"--wandb {project}: {error} (or set WANDB_MODE=offline to log to OUT/wandb only)") from None

    def write(self, env_step: int, metrics: dict, steps_per_second: float) -> None:
        for index, run in enumerate(self.runs):
            run.log({**scalars(metrics, index), "time/env_steps_per_second": steps_per_second}, step=env_step)

    def video(self, path: Path, env_step: int) -> None:
        """A video of run 0's policy (train.py --video-every), logged to run 0's W&B run."""
        import wandb

        self.runs[0].log({"video": wandb.Video(str(path), format="mp4")}, step=env_step)

    def close(self) -> None:
        for run in self.runs:
            run.finish()
