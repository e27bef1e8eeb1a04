"""python -m reports.ledger [RESULTS_DIR] [--out FILE]: the ledger of every recorded result.

Reads every run directory train.py wrote under RESULTS_DIR (docs/results by default) and writes one
Markdown page (RESULTS_DIR/README.md by default): a row per agent, preset, task and budget with our
IQM and its 95% CI beside the published ones at the same env step and where ours lies against them,
then which published preset x task x checkpoint has no run yet. The page is generated, never edited
by hand: it states the command that regenerates it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np

from agents import AGENTS
from reports.curves import CHECKPOINTS, TOLERANCE, Curves
from reports.published import ALGORITHM_NAMES, PUBLISHED_PRESETS, published_algos, published_task, published_tasks
from reports.report import at_mark, describe, family, steps
from reports.runs import ReportError, RunGroup, read_config, read_run
from rundir.output import summarize_returns
from rundir.stats import bootstrap_ci, iqm

TITLE = "# The ledger: every recorded result"
"""The first line of every ledger: a file at --out that starts otherwise is not overwritten."""


@dataclasses.dataclass(frozen=True)
class Row:
    """The runs of one agent, preset and setting on one task that were all evaluated up to one env
    step (the budget), pooled over the directories that hold them."""

    algorithm: str
    """As reports names it: SAC, CrossQ, SimBa-SAC, SimbaV2 (UTD 1), else the agent; a sweep's setting appended."""
    preset: str | None
    """config.json's run.preset; None when the run used none."""
    task: str
    budget: int
    """The last env step at which every run of the row was evaluated."""
    published_algo: str | None
    published: Curves | None
    differs: tuple[str, ...]
    """The fields in which the runs differ from the published configuration (RunGroup.differs)."""
    groups: tuple[RunGroup, ...]
    """One per directory."""
    names: tuple[str, ...]
    """The directories, relative to the results folder."""
    links: tuple[str, ...]
    """Markdown links to the directories (and to the README.md that describes each, if any)."""
    machines: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def seeds(self) -> tuple[int, ...]:
        """Every run's seed, directory by directory."""
        return tuple(seed for group in self.groups for seed in group.seeds)

    def returns_at(self, mark: int) -> np.ndarray | None:
        """Every run's return at the evaluation Curves.at picks for `mark`; None if a directory's runs never got there."""
        found = [group.curves.at(mark) for group in self.groups]
        return None if any(at is None for at in found) else np.concatenate([at[1] for at in found])


def find_run_directories(root: Path) -> tuple[list[Path], dict[str, list[Path]]]:
    """The folders under `root` (itself included) that hold config.json and evals.csv, in path order:
    -> (those train.py wrote, the others by the reason they are left out). train.py's config.json
    names one of its agents; a run directory's own subfolders (checkpoints/) are not searched."""
    if not root.is_dir():
        raise ReportError(f"{root} is not a directory; pass the folder of recorded run directories (docs/results)")
    runs: list[Path] = []
    others: dict[str, list[Path]] = {}
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        if "config.json" not in files or "evals.csv" not in files:
            continue
        subfolders.clear()
        directory = Path(folder)
        try:
            agent = read_config(directory)["agent"]
        except ReportError:
            others.setdefault("config.json is not one train.py writes", []).append(directory)
            continue
        if agent in AGENTS:
            runs.append(directory)
        else:
            others.setdefault(f"config.json names agent {agent}, not one of train.py's", []).append(directory)
    if not runs:
        raise ReportError(f"{root} holds no run directory written by train.py (a folder with config.json and evals.csv)")
    return runs, others


def read_summary(directory: Path) -> dict:
    """summary.json as a dict; empty without one (a run that never finished a period) or when unreadable."""
    try:
        summary = json.loads((directory / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def machine(summary: dict) -> str:
    """summary.json's device, device count and jax version: "gpu: NVIDIA H200, jax 0.11.2"."""
    if not summary:
        return "not recorded"
    parts = [str(summary.get("device", "device not recorded"))]
    if isinstance(summary.get("num_devices"), int) and summary["num_devices"] > 1:
        parts.append(f"{summary['num_devices']} devices")
    versions = summary.get("versions")
    if isinstance(versions, dict) and versions.get("jax"):
        parts.append(f"jax {versions['jax']}")
    return ", ".join(parts)


def link(directory: Path, root: Path, out_dir: Path) -> str:
    """A Markdown link to `directory` relative to the page's folder, and one to the README.md of the
    directory or of the nearest folder above it inside `root`, which says how the runs were made."""
    name = directory.relative_to(root).as_posix()
    text = f"[{name}/]({Path(os.path.relpath(directory, out_dir)).as_posix()}/)"
    for folder in (directory, *directory.parents):
        if folder == root or root not in folder.parents:
            break
        if (folder / "README.md").is_file():
            return f"{text} ([README]({Path(os.path.relpath(folder / 'README.md', out_dir)).as_posix()}))"
    return text


def rows_of(directory: Path, root: Path, out_dir: Path) -> list[Row]:
    """One row per setting (one unless the directory holds a sweep) of one run directory."""
    config = read_config(directory)
    summary = read_summary(directory)
    name = directory.relative_to(root).as_posix()
    rows = []
    for group in read_run(directory):
        budget = int(group.curves.env_steps[-1])
        notes = [f"`{name}`: {note}" for note in group.notes]
        total = config["run"].get("total_steps")
        if isinstance(total, int) and budget < total:
            stopped = " (stopped early: summary.json says interrupted)" if summary.get("interrupted") else ""
            notes.append(f"`{name}`: evaluated up to env step {budget} of its --total-steps {total}{stopped}")
        rows.append(Row(
            algorithm=group.algorithm, preset=config["run"].get("preset"), task=group.task, budget=budget,
            published_algo=group.published_algo, published=group.published, differs=group.differs, groups=(group,),
            names=(name,), links=(link(directory, root, out_dir),), machines=(machine(summary),), notes=tuple(notes),
        ))
    return rows


def pool(first: Row, second: Row) -> Row:
    """The runs of two rows of the same agent, preset, setting, task, budget and configuration as one."""
    notes = first.notes + second.notes
    repeated = sorted(set(first.seeds) & set(second.seeds))
    if repeated:
        notes += (f"{', '.join(f'`{name}`' for name in first.names + second.names)}: seeds "
                  f"{', '.join(map(str, repeated))} appear in more than one directory",)
    return dataclasses.replace(
        first, groups=first.groups + second.groups, names=first.names + second.names, links=first.links + second.links,
        machines=tuple(dict.fromkeys(first.machines + second.machines)), notes=notes,
    )


def build_rows(directories: list[Path], root: Path, out_dir: Path) -> list[Row]:
    """Every directory's rows, pooled per (agent, preset, setting, task, budget, configuration); the
    published tasks first (task, then gym/ before mjx/), then the others."""
    pooled: dict[tuple, Row] = {}
    for directory in directories:
        for row in rows_of(directory, root, out_dir):
            key = (row.algorithm, row.preset, row.task, row.budget, row.differs)
            pooled[key] = pool(pooled[key], row) if key in pooled else row
    return sorted(pooled.values(), key=lambda row: (
        published_task(row.task) is None, row.task.partition("/")[2] or row.task, family(row.task), row.algorithm,
        row.preset or "", row.budget, row.names,
    ))


def verdict(row: Row, mark: int) -> str:
    """Where our IQM at `mark` lies against the published 95% CI there (inside, above, below), or why
    the row makes no such claim."""
    if row.published_algo is None:
        return f"no published reference for {row.algorithm}"
    if row.published is None:
        return f"no published reference on {row.task}"
    if row.differs:
        return f"not the published configuration: differs in {'; '.join(row.differs)}"
    published = at_mark(row.published, mark)
    if published is None:
        return f"no published evaluation at or within {TOLERANCE:.0%} before env step {mark}"
    returns = row.returns_at(mark)
    ours = iqm(returns)
    low, high = published["iqm_ci95"]
    if low <= ours <= high:
        return "inside the published 95% CI"
    ours_low, ours_high = bootstrap_ci(returns)
    converse = "inside" if ours_low <= published["iqm"] <= ours_high else "outside"
    return f"{'below' if ours < low else 'above'} the published 95% CI (the published IQM lies {converse} ours)"


def coverage(rows: list[Row], algo: str, task: str, mark: int) -> str:
    """A cell of the published presets table: the verdict at `mark` of every row in the published
    configuration of `algo` on `task` (gym/ or mjx/) that got there; else whether any run did."""
    reached = [row for row in rows if row.published_algo == algo and published_task(row.task) == task
               and row.returns_at(mark) is not None]
    if not reached:
        return "not run"
    faithful = [row for row in reached if not row.differs]
    if not faithful:
        return "other configurations only"
    return "; ".join(f"{verdict(row, mark)} ({family(row.task)}/, {len(row.seeds)} seeds)" for row in faithful)


def published_table(rows: list[Row]) -> list[tuple[str, str, list[str]]]:
    """(algo, task, coverage at each of CHECKPOINTS) for each published algo a preset reproduces and each published task."""
    return [(algo, task, [coverage(rows, algo, task, mark) for mark in CHECKPOINTS])
            for algo in ALGORITHM_NAMES for task in sorted(published_tasks())]


HOW_TO_READ = f"""\
How to read it:

- **Spread**: the suite's ± is the population std over runs (ddof 0), as everywhere in the suite;
  papers usually give the sample std (ddof 1), larger by sqrt(n / (n - 1)): 1.12 times for 5 seeds,
  1.05 for 10.
- **Row**: the runs of one agent and preset (one setting of a sweep) on one task, evaluated up to
  one budget, the last env step at which every run of the row was evaluated; runs of the same row
  in several directories are pooled. Returns are the deterministic evaluation returns of each run
  directory's evals.csv at that step, diverged runs left out (summary.json).
- **IQM [95% CI]**: the interquartile mean over runs and its percentile bootstrap CI over runs
  (2,000 resamples, fixed seed: the stratified bootstrap of `python -m reports` with one task as the
  one stratum).
- **Published**: the same statistics of the published seeds (reports/reference/, source in
  reports/reference/SOURCE.md) at their last evaluation at or before the budget, if it lies within
  {TOLERANCE:.0%} of it (the published SAC grid evaluates every 16,666 steps: 99996 stands for 100k);
  `mjx/<Task>-v4` counts as the published task, like `gym/<Task>-v4`.
- **Verdict**: where our IQM lies against the published IQM's 95% CI: inside, above or below it
  (and then whether the published IQM lies inside our CI). Claimed only for runs in the published
  configuration (reports/published.py, PUBLISHED_CONFIGS, field for field); a run in any other
  configuration names the fields that differ (ours vs published), and its published numbers are
  for orientation only.
- **Machine**: summary.json's device and jax version; the README a row links to says more (CPU
  model, load, date, what the runs were for).
"""


def render(rows: list[Row], others: dict[str, list[Path]], table: list[tuple[str, str, list[str]]], root: Path,
           command: str) -> str:
    """The ledger page: how to regenerate and read it, the rows, the folders left out, and the
    published presets x tasks x checkpoints with their coverage (published_table)."""
    lines = [TITLE, "", f"Generated from the run directories under `{root.as_posix()}/` by", "", f"    {command}", "",
             "from the repository root; do not edit it by hand: rerun the command after adding or changing a run "
             "directory.", "", HOW_TO_READ, "## Runs", "",
             "| agent (preset) | task | budget | seeds | ours: IQM [95% CI] | ours: mean ± std | "
             "published: IQM [95% CI] at env step (seeds) | verdict | machine | run directory |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        _, spread, interval = describe({"env_step": row.budget, **summarize_returns(row.returns_at(row.budget))})
        published = None if row.published is None else at_mark(row.published, row.budget)
        reference = "—"
        if published is not None:
            reference = f"{describe(published)[2]} at {published['env_step']} ({len(row.published.returns)})"
        preset = f" (`--preset {row.preset}`)" if row.preset else ""
        lines.append(f"| {row.algorithm}{preset} | {row.task} | {steps(row.budget)} | {len(row.seeds)} | {interval} | "
                     f"{spread} | {reference} | {verdict(row, row.budget)} | {'; '.join(row.machines)} | "
                     f"{'<br>'.join(row.links)} |")
    notes = list(dict.fromkeys(note for row in rows for note in row.notes))
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}." for note in notes]
    if others:
        left_out = "; ".join(
            f"{reason}: {', '.join(f'`{directory.relative_to(root).as_posix()}`' for directory in directories)}"
            for reason, directories in others.items()
        )
        lines += ["", f"Left out, not run directories written by train.py: {left_out}."]
    unreproduced = sorted(published_algos() - set(ALGORITHM_NAMES))
    lines += ["", "## Published presets x tasks", "",
              "Each published algorithm of reports/reference/ that a train.py preset reproduces, on each published "
              f"task, at the checkpoints of `python -m reports` ({', '.join(map(steps, CHECKPOINTS))} env steps): the "
              "verdict of every row in the published configuration that was evaluated there (gym/ or mjx/, at the "
              f"last evaluation at or within {TOLERANCE:.0%} before the checkpoint), \"other configurations only\" "
              "where only runs that differ from it were, else \"not run\"."
              + (f" The reference also holds {', '.join(unreproduced)}, which no agent of the suite reproduces."
                 if unreproduced else ""),
              "", f"| published (train.py preset) | task | {' | '.join(map(steps, CHECKPOINTS))} |",
              f"|---|---|{'---|' * len(CHECKPOINTS)}"]
    for algo, task, cells in table:
        lines.append(f"| {ALGORITHM_NAMES[algo]} (`{PUBLISHED_PRESETS[algo]}`) | {task} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def ledger(root: Path, out_dir: Path, command: str) -> tuple[str, list[Row], list[tuple[str, str, list[str]]]]:
    """The ledger page of the run directories under `root`, linking them relative to `out_dir`, that
    names `command` as the one that regenerates it; -> (page, its rows, its published_table)."""
    directories, others = find_run_directories(root)
    rows = build_rows(directories, root, out_dir)
    table = published_table(rows)
    return render(rows, others, table, root, command), rows, table


def check_overwrite(out: Path) -> None:
    """Refuses an --out that exists and is not a ledger (a hand-written page)."""
    if not out.exists():
        return
    try:
        first = out.read_text().partition("\n")[0] if out.is_file() else None
    except (OSError, UnicodeDecodeError):
        first = None
    if first != TITLE:
        raise ReportError(f"{out} exists and is not a ledger (its first line is not \"{TITLE}\"); pass another --out")


def main(argv: list[str] | None = None) -> int:
    """The command line; -> the exit code: 0, or 2 after one `error:` line."""
    parser = argparse.ArgumentParser(
        prog="python -m reports.ledger",
        description="Write the ledger of every run directory under RESULTS_DIR: our IQM and 95% CI beside the "
        "published ones at the same env step, the verdict, the seeds, the machine, and the published presets x "
        "tasks without a run.",
    )
    parser.add_argument("results", nargs="?", type=Path, default=Path("docs/results"), metavar="RESULTS_DIR",
                        help="the folder of recorded run directories (default: docs/results)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the ledger (default: RESULTS_DIR/README.md)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    out = args.out or args.results / "README.md"
    try:
        command = shlex.join(["python", "-m", "reports.ledger", args.results.as_posix(), "--out", out.as_posix()])
        text, rows, table = ledger(args.results, out.parent, command)
        check_overwrite(out)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as error:
        print(f"error: cannot write the ledger to {out}: {error.strerror or error}", file=sys.stderr)
        return 2
    not_run = sum(cell == "not run" for _, _, cells in table for cell in cells)
    print(f"wrote {out}: {len(rows)} rows; {not_run} of {len(table) * len(CHECKPOINTS)} published preset x task x "
          "checkpoint cells not run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
