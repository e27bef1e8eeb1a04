"""The report: learning curves beside the published ones, checkpoint tables, aggregate scores.

Computes every table as data first (report.json), then renders it (report.md, PNGs).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from reports.curves import CHECKPOINTS, Curves
from reports.runs import RunGroup
from rundir.output import curves_axis, draw_iqm, summarize_returns, write_json
from rundir.stats import iqm, stratified_bootstrap_ci

FINAL_MARK = CHECKPOINTS[-1]
"""Returns are normalized per task by the published algorithm's mean return at this mark."""


def checkpoint_rows(group: RunGroup) -> list[dict]:
    """Ours vs published at each checkpoint our runs reached, and at our last evaluation."""
    last_step = int(group.curves.env_steps[-1])
    marks = [mark for mark in CHECKPOINTS if group.curves.at(mark) is not None]
    if last_step not in marks:
        marks.append(last_step)
    return [
        {
            "mark": mark,
            "ours": at_mark(group.curves, mark),
            "published": None if group.published is None else at_mark(group.published, mark),
        }
        for mark in marks
    ]


def at_mark(curves: Curves, mark: int) -> dict | None:
    """Statistics over runs of the evaluation Curves.at picks for `mark`, with its env step."""
    found = curves.at(mark)
    if found is None:
        return None
    env_step, returns = found
    return {"env_step": env_step, **summarize_returns(returns)}


def family(task: str) -> str:
    """"mjx/HalfCheetah-v4" -> "mjx"."""
    return task.partition("/")[0]


def aggregate_rows(groups: list[RunGroup]) -> list[dict]:
    """Per algorithm and checkpoint: IQM and stratified-bootstrap CI over tasks (strata) and runs of
    returns normalized by the published mean at FINAL_MARK of the same algorithm on the same task,
    ours and published over the same tasks; groups not in the published configuration are left out.
    An algorithm run on both gym/ and mjx/ tasks gets a row per family ("SAC (mjx/)"), so that no
    published task is counted twice and the two physics are not pooled."""
    rows = []
    comparable = [group for group in groups if group.published is not None and not group.differs]
    for algorithm in dict.fromkeys(group.algorithm for group in comparable):
        families = list(dict.fromkeys(family(group.task) for group in comparable if group.algorithm == algorithm))
        for name in families:
            label = algorithm if len(families) == 1 else f"{algorithm} ({name}/)"
            members = [group for group in comparable if group.algorithm == algorithm and family(group.task) == name]
            rows += aggregate_of(label, members)
    return rows


def aggregate_of(algorithm: str, members: list[RunGroup]) -> list[dict]:
    """aggregate_rows' rows of one algorithm over `members`, its groups on distinct tasks."""
    rows = []
    for mark in CHECKPOINTS:
        ours, published, tasks = [], [], []
        for group in members:
            final, reached, reference = group.published.at(FINAL_MARK), group.curves.at(mark), group.published.at(mark)
            if final is None or reached is None or reference is None:
                continue
            scale = np.mean(final[1])
            ours.append(reached[1] / scale)
            published.append(reference[1] / scale)
            tasks.append(group.task)
        if tasks:
            rows.append({"algorithm": algorithm, "mark": mark, "tasks": tasks,
                         "ours": interval(ours), "published": interval(published)})
    return rows


def interval(strata: list[np.ndarray]) -> dict:
    low, high = stratified_bootstrap_ci(strata)
    return {"iqm": float(iqm(np.concatenate(strata))), "iqm_ci95": [float(low), float(high)], "runs": sum(map(len, strata))}


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", "_".join(parts)).strip("_")


def plot_group(path: Path, group: RunGroup) -> None:
    """Our IQM and 95% CI band beside the published one (dashed), over the steps our runs covered."""
    reference = "" if group.published is not None else " (no published reference)"
    with curves_axis(path, f"{group.algorithm} on {group.task}{reference}") as axis:
        draw_iqm(axis, group.curves.env_steps, group.curves.returns, "tab:blue", f"ours: IQM of {len(group.seeds)} runs")
        if group.published is not None:
            published = group.published.until(int(group.curves.env_steps[-1]))
            label = f"published {group.published_algo}: IQM of {len(published.returns)} seeds"
            if group.differs:
                label += f"\n(not the published configuration: differs in {', '.join(field.split()[0] for field in group.differs)})"
            draw_iqm(axis, published.env_steps, published.returns, "tab:orange", label, linestyle="--")


def side_by_side(groups: list[RunGroup]) -> dict[str, list[RunGroup]]:
    """Task name (the env id without its family: "HalfCheetah-v4") -> its groups, where several
    groups (algorithms, or gym/ and mjx/ physics) ran the same task."""
    by_task: dict[str, list[RunGroup]] = {}
    for group in groups:
        by_task.setdefault(group.task.partition("/")[2] or group.task, []).append(group)
    return {task: members for task, members in by_task.items() if len(members) > 1}


def plot_together(path: Path, task: str, groups: list[RunGroup]) -> None:
    """Every group's IQM and 95% CI band on one axis, with each published algorithm's curve (dashed)
    once, over the steps the longest of our runs covered."""
    import itertools

    from matplotlib import colormaps

    colours = itertools.cycle(colormaps["tab10"].colors)  # a sweep's settings can be more than ten groups
    last_step = max(int(group.curves.env_steps[-1]) for group in groups)
    published = {group.published_algo: group.published for group in groups if group.published is not None}
    with curves_axis(path, f"{task}: side by side") as axis:
        for group in groups:
            label = f"{group.algorithm} on {group.task}: IQM of {len(group.seeds)} runs"
            if group.differs:
                label += " (not the published configuration)"
            draw_iqm(axis, group.curves.env_steps, group.curves.returns, next(colours), label)
        for algo, curves in published.items():
            shown = curves.until(last_step)
            draw_iqm(axis, shown.env_steps, shown.returns, next(colours), f"published {algo}: IQM of {len(shown.returns)} seeds",
                     linestyle="--")


def plot_aggregate(path: Path, rows: list[dict]) -> None:
    """One line per (algorithm, checkpoint): our normalized IQM and CI above the published one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 1.0 + 0.6 * len(rows)), dpi=120)
    for position, row in enumerate(reversed(rows)):
        for offset, (who, colour) in enumerate((("published", "tab:orange"), ("ours", "tab:blue"))):
            low, high = row[who]["iqm_ci95"]
            y = position + 0.18 * (offset * 2 - 1)
            axis.plot([low, high], [y, y], color=colour, linewidth=5, alpha=0.4, solid_capstyle="butt")
            axis.plot(row[who]["iqm"], y, "|", color=colour, markersize=12, label=who if position == 0 else None)
    axis.set_yticks(range(len(rows)), [f"{row['algorithm']} @ {steps(row['mark'])}" for row in reversed(rows)], fontsize=8)
    axis.set_xlabel(f"IQM of return / published mean at {steps(FINAL_MARK)} (95% stratified bootstrap CI)")
    axis.grid(alpha=0.3, axis="x")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def steps(env_steps: int) -> str:
    """100000 -> 100k, 1000000 -> 1M, 20000 -> 20k, 12345 -> 12345."""
    if env_steps % 1_000_000 == 0:
        return f"{env_steps // 1_000_000}M"
    if env_steps % 1_000 == 0:
        return f"{env_steps // 1_000}k"
    return str(env_steps)


def describe(stats: dict | None) -> tuple[str, str, str]:
    """(env step, mean ± std, IQM [95% CI]) cells of a table; dashes where there is nothing."""
    if stats is None:
        return "—", "—", "—"
    low, high = stats["iqm_ci95"]
    return str(stats["env_step"]), f"{stats['mean']:.1f} ± {stats['std']:.1f}", f"{stats['iqm']:.1f} [{low:.1f}, {high:.1f}]"


def describe_interval(stats: dict) -> str:
    low, high = stats["iqm_ci95"]
    return f"{stats['iqm']:.3f} [{low:.3f}, {high:.3f}]"


HOW_TO_READ = f"""\
How to read it: returns are the deterministic evaluation returns in each run directory's
evals.csv. IQM is the interquartile mean over runs (seeds); its 95% confidence interval is a
percentile stratified bootstrap (2000 resamples, runs drawn with replacement within each task, as
in rliable). Mean ± std is over runs (population std, as in the published summary). A checkpoint
(100k, 300k, 1M env steps) uses, for ours and the published runs alike, the last evaluation at or
before the mark if it lies within 2% of it (the published SAC grid evaluates every 16,666 steps,
so 99,996 stands for 100k); the column "step" says which. Published curves are per-seed
evaluations from reports/reference/ (source: reports/reference/SOURCE.md); they are drawn over the
steps our runs covered. Runs on `mjx/<Task>-vN` (MJX in the fused loop) count as the published
gymnasium task, like `gym/<Task>-vN`: envs/README.md gives their one-step and reset agreement with
C MuJoCo.
"""


def render(report: dict) -> str:
    lines = ["# Occam report", "", f"`{report['command']}`", "", HOW_TO_READ, "## Runs", "",
             "| algorithm | task | published as | runs (seeds) | evaluations | last env step | run directories |",
             "|---|---|---|---|---|---|---|"]
    for entry in report["groups"]:
        published = entry["published_algo"] if entry["published_seeds"] else "— (no published reference)"
        if entry["published_seeds"] and entry["differs"]:
            published += " (not the published configuration)"
        lines.append(
            f"| {entry['algorithm']} | {entry['task']} | {published} | {len(entry['seeds'])} "
            f"({', '.join(map(str, entry['seeds']))}) | {entry['evaluations']} | {entry['last_env_step']} | "
            f"{', '.join(f'`{d}`' for d in entry['directories'])} |"
        )
    lines += ["", "Commands that produced them:", ""]
    lines += [f"- `{command}`" for entry in report["groups"] for command in entry["commands"]]
    for entry in report["together"]:
        lines += ["", f"## {entry['task']}: side by side", "",
                  f"{', '.join(entry['groups'])} on one axis (each group's own section below has its tables).", "",
                  f"![{entry['task']}: side by side]({entry['figure']})"]
    for entry in report["groups"]:
        lines += ["", f"## {entry['algorithm']} on {entry['task']}", "", f"![{entry['algorithm']} on {entry['task']}]({entry['figure']})", ""]
        if not entry["published_seeds"]:
            lines += [f"No published reference exists for {entry['algorithm']} on {entry['task']}: ours only.", ""]
        if entry["published_seeds"] and entry["differs"]:
            lines += [f"Not the published configuration: differs in {'; '.join(entry['differs'])}. The published "
                      "curve is drawn for orientation only: no claim that these runs match it, and the aggregate "
                      "leaves them out.", ""]
        lines += [f"Note: {note}." for note in entry["notes"]] + ([""] if entry["notes"] else [])
        lines += ["| mark | step | ours: mean ± std | ours: IQM [95% CI] | published step | published: mean ± std | published: IQM [95% CI] |",
                  "|---|---|---|---|---|---|---|"]
        for row in entry["checkpoints"]:
            mark = steps(row["mark"]) if row["mark"] in CHECKPOINTS else f"last ({steps(row['mark'])})"
            lines.append(f"| {mark} | {' | '.join(describe(row['ours']))} | {' | '.join(describe(row['published']))} |")
    lines += ["", "## Aggregate across tasks", ""]
    if report["aggregate"]:
        lines += [
            f"Returns normalized per task by the published algorithm's mean return at {steps(FINAL_MARK)} on that task",
            "(1.0: as good as the published runs at the end of their budget), pooled over tasks and runs;",
            "IQM with a 95% stratified bootstrap CI (tasks are the strata). Published: the same statistic of",
            "the published seeds over the same tasks.",
            "",
            f"![aggregate]({report['aggregate_figure']})",
            "",
            "| algorithm | mark | tasks | ours: runs | ours: normalized IQM [95% CI] | published: runs | published: normalized IQM [95% CI] |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in report["aggregate"]:
            lines.append(
                f"| {row['algorithm']} | {steps(row['mark'])} | {', '.join(row['tasks'])} | {row['ours']['runs']} | "
                f"{describe_interval(row['ours'])} | {row['published']['runs']} | {describe_interval(row['published'])} |"
            )
    else:
        lines.append(f"None: no run in the published configuration of a published reference reached a checkpoint of "
                     f"({', '.join(map(steps, CHECKPOINTS))}).")
    return "\n".join(lines) + "\n"


def write_report(groups: list[RunGroup], out: Path, command: str) -> Path:
    """Writes out/report.md, out/report.json, a curves PNG per group, a side-by-side PNG per task that
    several groups ran, and aggregate.png; -> report.md."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for group in groups:
        figure = f"curves_{slug(group.algorithm, group.task)}.png"
        plot_group(out / figure, group)
        entries.append({
            "algorithm": group.algorithm,
            "task": group.task,
            "published_algo": group.published_algo,
            "published_seeds": 0 if group.published is None else len(group.published.returns),
            "seeds": list(group.seeds),
            "evaluations": len(group.curves.env_steps),
            "last_env_step": int(group.curves.env_steps[-1]),
            "directories": list(group.directories),
            "commands": list(group.commands),
            "notes": list(group.notes),
            "differs": list(group.differs),
            "figure": figure,
            "checkpoints": checkpoint_rows(group),
        })
    together = []
    for task, members in side_by_side(groups).items():
        figure = f"side_by_side_{slug(task)}.png"
        plot_together(out / figure, task, members)
        together.append({"task": task, "groups": [f"{g.algorithm} on {g.task}" for g in members], "figure": figure})
    report = {"command": command, "groups": entries, "together": together, "aggregate": aggregate_rows(groups),
              "aggregate_figure": None}
    if report["aggregate"]:
        report["aggregate_figure"] = "aggregate.png"
        plot_aggregate(out / "aggregate.png", report["aggregate"])
    write_json(out / "report.json", report)
    (out / "report.md").write_text(render(report))
    return out / "report.md"
