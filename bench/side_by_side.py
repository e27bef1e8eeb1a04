"""Two implementations at equal configuration, compared at the last evaluation every run reached:
per-seed returns, IQM with its 95% percentile-bootstrap CI (rundir/stats.py), and whether each
IQM lies inside the other's CI.

    python bench/side_by_side.py --ours runs/ours-sac --theirs runs/sbx-sac-* --name SAC --out sac.md

Each side is one or more run directories holding evals.csv (train.py's, or bench/sbx_baseline.py's).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rundir.stats import bootstrap_ci, iqm  # noqa: E402


def curves(directories: list[Path]) -> dict[tuple[str, int], dict[int, float]]:
    """(directory, seed) -> env_step -> mean eval return."""
    runs: dict[tuple[str, int], dict[int, float]] = {}
    for directory in directories:
        with (directory / "evals.csv").open(newline="") as file:
            for row in csv.DictReader(file):
                runs.setdefault((str(directory), int(row["seed"])), {})[int(row["env_step"])] = float(row["eval_return"])
    return runs


def compare(ours: list[Path], theirs: list[Path], name: str, label: str) -> tuple[str, bool]:
    """(markdown, whether our IQM lies inside their 95% CI)."""
    sides = {"Occam": curves(ours), label: curves(theirs)}
    common = set.intersection(*(set(steps) for runs in sides.values() for steps in runs.values()))
    if not common:
        raise SystemExit("error: the two sides share no evaluation step reached by every run")
    step = max(common)
    stats = {}
    for side, runs in sides.items():
        returns = np.array([steps[step] for _, steps in sorted(runs.items(), key=lambda item: item[0][1])])
        low, high = bootstrap_ci(returns)
        stats[side] = (returns, float(iqm(returns)), float(low), float(high))
    (_, our_iqm, our_low, our_high), (_, their_iqm, their_low, their_high) = stats["Occam"], stats[label]
    inside = their_low <= our_iqm <= their_high
    lines = [f"### {name} at {step} env steps", "",
             "| implementation | runs | per-seed return | IQM | 95% bootstrap CI |", "|---|---|---|---|---|"]
    for side, (returns, value, low, high) in stats.items():
        lines.append(f"| {side} | {len(returns)} | {', '.join(f'{r:.1f}' for r in returns)} | {value:.1f} | {low:.1f} .. {high:.1f} |")
    lines += ["", f"Occam's IQM {our_iqm:.1f} is {'inside' if inside else 'outside'} {label}'s 95% CI "
              f"({their_low:.1f} .. {their_high:.1f}); {label}'s IQM {their_iqm:.1f} is "
              f"{'inside' if our_low <= their_iqm <= our_high else 'outside'} Occam's ({our_low:.1f} .. {our_high:.1f}).", ""]
    return "\n".join(lines), inside


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", nargs="+", type=Path, required=True, help="Occam run directories")
    parser.add_argument("--theirs", nargs="+", type=Path, required=True, help="the other implementation's run directories")
    parser.add_argument("--name", required=True, help="what is compared, e.g. SAC on Hopper-v4")
    parser.add_argument("--label", default="SBX", help="the other implementation's name")
    parser.add_argument("--out", type=Path, help="also append the markdown to this file")
    args = parser.parse_args()
    markdown, _ = compare(args.ours, args.theirs, args.name, args.label)
    print(markdown)
    if args.out:
        with args.out.open("a") as file:
            file.write(markdown + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
