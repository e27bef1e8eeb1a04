"""python -m reports.compare A_DIR [A_DIR ...] --vs B_DIR [B_DIR ...]: do two sets of runs learn alike?

Each side is one algorithm on one task (one or more run directories of train.py, merged as
`python -m reports` merges them). At one evaluation step (the last both sides have, or --at) it
compares the evaluation returns of the runs, and their mean over the evaluations up to that step
(the area under the curve, which the bimodal final returns of tasks like InvertedPendulum hide):
per-run values, mean and standard deviation, median, IQM, Welch's t-test and the Mann-Whitney U
test, both two-sided; with --threshold, also the runs at or above it on each side and Fisher's
exact test on those counts. Diverged runs and runs with non-finite returns are left out as
`python -m reports` leaves them out (reports/runs.py), and its notes say which.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from reports.runs import ReportError, RunGroup, load_runs
from rundir.stats import iqm


@dataclasses.dataclass(frozen=True)
class Side:
    label: str
    group: RunGroup
    final: np.ndarray
    """The evaluation return of each run at the compared step."""
    area: np.ndarray
    """Each run's mean evaluation return over the evaluations up to the compared step."""


def load_side(directories: list[Path]) -> RunGroup:
    groups = load_runs(directories)
    if len(groups) != 1:
        found = "; ".join(f"{g.algorithm} on {g.task}" for g in groups)
        raise ReportError(f"{', '.join(map(str, directories))} hold {len(groups)} algorithm/task pairs ({found}); "
                          "pass the directories of one algorithm on one task per side")
    return groups[0]


def common_step(a: RunGroup, b: RunGroup, env_step: int | None) -> int:
    shared = sorted(set(a.curves.env_steps.tolist()) & set(b.curves.env_steps.tolist()))
    if not shared:
        raise ReportError(f"the two sides share no evaluation step ({a.curves.env_steps.tolist()} against "
                          f"{b.curves.env_steps.tolist()})")
    if env_step is None:
        return int(shared[-1])
    if env_step not in shared:
        raise ReportError(f"--at {env_step} is not an evaluation step of both sides; choose from {shared}")
    return env_step


def side(label: str, group: RunGroup, env_step: int) -> Side:
    index = int(np.flatnonzero(group.curves.env_steps == env_step)[0])
    returns = np.asarray(group.curves.returns, np.float64)[:, : index + 1]
    if len(returns) < 2:
        raise ReportError(f"{label} has {len(returns)} run(s) with finite returns; a test needs at least 2 per side")
    return Side(label, group, returns[:, -1], returns.mean(axis=1))


def describe(values: np.ndarray) -> str:
    return (f"{values.mean():.1f} ± {values.std(ddof=1):.1f} | {np.median(values):.1f} | "
            f"{float(iqm(values)):.1f}")


def tests(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Welch's t (statistic, degrees of freedom, two-sided p) and Mann-Whitney U (statistic, two-sided p)."""
    welch = stats.ttest_ind(a, b, equal_var=False)
    mann_whitney = stats.mannwhitneyu(a, b, alternative="two-sided")
    return {"welch_t": float(welch.statistic), "welch_df": float(welch.df), "welch_p": float(welch.pvalue),
            "mann_whitney_u": float(mann_whitney.statistic), "mann_whitney_p": float(mann_whitney.pvalue)}


def threshold_test(a: np.ndarray, b: np.ndarray, threshold: float) -> dict[str, float]:
    """Runs at or above `threshold` on each side, and Fisher's exact test (two-sided) on the counts."""
    hits_a, hits_b = int((a >= threshold).sum()), int((b >= threshold).sum())
    _, p = stats.fisher_exact([[hits_a, len(a) - hits_a], [hits_b, len(b) - hits_b]])
    return {"hits_a": hits_a, "hits_b": hits_b, "fisher_p": float(p)}


def compare(a: Side, b: Side, env_step: int, threshold: float | None, command: str) -> tuple[str, dict]:
    """(the markdown text, the figures) of the comparison."""
    lines = [f"`{command}`", "",
             f"{a.label}: {a.group.algorithm} on {a.group.task} ({', '.join(a.group.directories)}); "
             f"{b.label}: {b.group.algorithm} on {b.group.task} ({', '.join(b.group.directories)}).", ""]
    figures: dict = {"env_step": env_step}
    for name, values in (("at", lambda s: s.final), ("area", lambda s: s.area)):
        title = (f"evaluation return at env step {env_step}" if name == "at"
                 else f"mean evaluation return over the evaluations up to env step {env_step}")
        lines += [f"**{title.capitalize()}**", "",
                  "| side | runs | per run (sorted) | mean ± std | median | IQM |", "|---|---:|---|---|---:|---:|"]
        for s in (a, b):
            per_run = ", ".join(f"{v:.1f}" for v in np.sort(values(s)))
            lines.append(f"| {s.label} | {len(values(s))} | {per_run} | {describe(values(s))} |")
        result = tests(values(a), values(b))
        lines += ["", f"Welch's t {result['welch_t']:.2f} ({result['welch_df']:.1f} degrees of freedom), "
                      f"p {result['welch_p']:.3g}; Mann-Whitney U {result['mann_whitney_u']:.1f}, "
                      f"p {result['mann_whitney_p']:.3g} (both two-sided).", ""]
        if name == "at" and threshold is not None:
            counts = threshold_test(values(a), values(b), threshold)
            result |= counts
            lines += [f"Runs at or above {threshold:g}: {counts['hits_a']} of {len(a.final)} ({a.label}), "
                      f"{counts['hits_b']} of {len(b.final)} ({b.label}); Fisher's exact test p "
                      f"{counts['fisher_p']:.3g} (two-sided).", ""]
        figures[name] = result
    lines += [f"{s.label}: {note}." for s in (a, b) for note in s.group.notes]
    return "\n".join(lines).rstrip() + "\n", figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.compare", description=__doc__.split("\n\n")[1])
    parser.add_argument("a_dirs", nargs="+", type=Path, metavar="A_DIR", help="run directories of the first side")
    parser.add_argument("--vs", nargs="+", type=Path, required=True, metavar="B_DIR",
                        help="run directories of the second side")
    parser.add_argument("--at", type=int, default=None, metavar="ENV_STEP",
                        help="the evaluation step to compare (default: the last both sides have)")
    parser.add_argument("--threshold", type=float, default=None, metavar="RETURN",
                        help="also count the runs at or above this return (e.g. 1000, InvertedPendulum's maximum)")
    parser.add_argument("--labels", nargs=2, default=("A", "B"), metavar=("A", "B"), help="the sides' names in the text")
    parser.add_argument("--out", type=Path, default=None, help="also write the text to this markdown file")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    try:
        group_a, group_b = load_side(args.a_dirs), load_side(args.vs)
        env_step = common_step(group_a, group_b, args.at)
        a, b = side(args.labels[0], group_a, env_step), side(args.labels[1], group_b, env_step)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text, _ = compare(a, b, env_step, args.threshold, f"python -m reports.compare {shlex.join(argv)}")
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
