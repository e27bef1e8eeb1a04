"""The ledger (`python -m reports.ledger`): rows from run directories, verdicts against the published
CI, published presets x tasks without a run, bad input, and the committed docs/results/README.md."""

import dataclasses
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reports.curves import CHECKPOINTS
from reports.ledger import TITLE, ledger, main
from reports.published import ALGORITHM_NAMES, PUBLISHED_CONFIGS, PUBLISHED_PRESETS, config_differences, published_tasks
from rundir import output
from rundir.stats import bootstrap_ci, iqm
from test_reports import published_returns, write_run

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = "python -m reports.ledger docs/results --out docs/results/README.md"
"""The command the committed ledger states (docs/results/README.md)."""


def run_ledger(root: Path, out: Path) -> str:
    """The ledger of `root` written to `out` by the command line; -> its text."""
    assert main([str(root), "--out", str(out)]) == 0
    return out.read_text()


def section(text: str, heading: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under `heading`, as header -> cell."""
    lines = text.split(f"\n{heading}\n", 1)[1].splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    table = list(itertools.takewhile(lambda line: line.startswith("|"), lines[start:]))
    header = [cell.strip() for cell in table[0].strip("|").split(" | ")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split(" | ")))) for line in table[2:]]


def runs(text: str) -> list[dict[str, str]]:
    """The rows of the ledger's Runs table."""
    return section(text, "## Runs")


def coverage(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """(published preset cell, task) -> checkpoint -> cell, from the ledger's published presets table."""
    return {(row["published (train.py preset)"], row["task"]): row for row in section(text, "## Published presets x tasks")}


def interval(returns: np.ndarray) -> str:
    """The ledger's IQM [95% CI] cell of these returns."""
    low, high = bootstrap_ci(returns)
    return f"{iqm(returns):.1f} [{low:.1f}, {high:.1f}]"


def test_the_verdict_says_where_our_iqm_lies_against_the_published_ci(tmp_path):
    """Published SAC at 100k (step 99,996) on HalfCheetah-v4: IQM 6106.6, 95% CI [5658.3, 6624.1]."""
    published = published_returns("sac", "HalfCheetah-v4", 99_996)
    low, high = bootstrap_ci(published)
    assert f"{iqm(published):.1f} [{low:.1f}, {high:.1f}]" == "6106.6 [5658.3, 6624.1]"
    env_steps = [50_000, 100_000]
    recorded = np.array([5474.0, 5480.2, 5395.7, 6251.8, 5839.3])  # docs/results/sac-halfcheetah-v4-100k-mjx-vs-gym/gym
    finals = {
        "gym/HalfCheetah-v4": np.full(5, iqm(published)),  # our IQM on the published one: inside
        "mjx/HalfCheetah-v4": recorded,  # IQM 5597.8 < 5658.3, but our CI holds the published IQM
        "gym/Hopper-v4": np.full(3, 10_000.0),  # far above every published Hopper seed
        "gym/Walker2d-v4": np.full(3, -10.0),  # below
    }
    for index, (env, final) in enumerate(finals.items()):
        write_run(tmp_path / "results" / f"sac-{index}", "sac", env, env_steps, np.stack([final / 2, final], axis=1))
    text = run_ledger(tmp_path / "results", tmp_path / "results" / "README.md")

    rows = {row["task"]: row for row in runs(text)}
    assert list(rows) == ["gym/HalfCheetah-v4", "mjx/HalfCheetah-v4", "gym/Hopper-v4", "gym/Walker2d-v4"]
    assert rows["gym/HalfCheetah-v4"]["verdict"] == "inside the published 95% CI"
    assert rows["mjx/HalfCheetah-v4"]["verdict"] == "below the published 95% CI (the published IQM lies inside ours)"
    assert rows["gym/Hopper-v4"]["verdict"] == "above the published 95% CI (the published IQM lies outside ours)"
    assert rows["gym/Walker2d-v4"]["verdict"] == "below the published 95% CI (the published IQM lies outside ours)"
    row = rows["mjx/HalfCheetah-v4"]
    assert (row["agent (preset)"], row["budget"], row["seeds"]) == ("SAC", "100k", "5")
    assert row["ours: IQM [95% CI]"] == interval(recorded) == "5597.8 [5421.8, 6114.3]"
    assert row["ours: mean ± std"] == "5688.2 ± 321.0" == f"{recorded.mean():.1f} ± {recorded.std(ddof=0):.1f}"
    assert row["published: IQM [95% CI] at env step (seeds)"] == "6106.6 [5658.3, 6624.1] at 99996 (10)"
    assert row["machine"] == "not recorded"  # write_run writes no summary.json
    assert row["run directory"] == "[sac-1/](sac-1/)"
    hopper = published_returns("sac", "Hopper-v4", 99_996)
    assert rows["gym/Hopper-v4"]["published: IQM [95% CI] at env step (seeds)"].startswith(interval(hopper))
    assert text.startswith(f"{TITLE}\n") and f"\n    python -m reports.ledger {tmp_path / 'results'} --out " in text
    assert "population std over runs (ddof 0)" in text and "sample std (ddof 1)" in text


def test_every_published_preset_and_task_without_a_run_says_not_run(tmp_path):
    env_steps = np.arange(50_000, 100_001, 50_000)
    returns = np.full((3, len(env_steps)), 6000.0)
    write_run(tmp_path / "results" / "sac", "sac", "gym/HalfCheetah-v4", env_steps, returns)
    other = {**PUBLISHED_CONFIGS["crossq"], "critic_width": 256}
    write_run(tmp_path / "results" / "crossq-cpu", "crossq", "gym/Hopper-v4", env_steps, returns, config=other)
    text = run_ledger(tmp_path / "results", tmp_path / "ledger.md")

    cells = coverage(text)
    marks = ["100k", "300k", "1M"]
    assert len(cells) == len(ALGORITHM_NAMES) * 5 == 30 and sorted(published_tasks()) == sorted(
        ["HalfCheetah-v4", "Hopper-v4", "Walker2d-v4", "Ant-v4", "Humanoid-v4"])
    sac = cells[("SAC (`sac --preset paper`)", "HalfCheetah-v4")]
    assert sac["100k"] == "inside the published 95% CI (gym/, 3 seeds)"
    assert [sac["300k"], sac["1M"]] == ["not run", "not run"]
    crossq = cells[("CrossQ (`crossq --preset paper`)", "Hopper-v4")]
    assert [crossq[mark] for mark in marks] == ["other configurations only", "not run", "not run"]
    rest = [row[mark] for key, row in cells.items() for mark in marks if key not in {
        ("SAC (`sac --preset paper`)", "HalfCheetah-v4"), ("CrossQ (`crossq --preset paper`)", "Hopper-v4")}]
    assert len(rest) == 28 * len(CHECKPOINTS) and set(rest) == {"not run"}
    assert "SimbaV2 (UTD 2) (`simbav2 --preset utd2`) | Humanoid-v4 | not run | not run | not run |" in text
    assert "The reference also holds droq_utd20, redq_utd20, which no agent of the suite reproduces." in text


def test_rows_of_one_preset_task_and_budget_pool_their_directories_and_name_repeated_seeds(tmp_path):
    env_steps = [50_000, 100_000]
    first, second = np.array([[1.0, 5000.0], [1.0, 5200.0]]), np.array([[1.0, 5400.0], [1.0, 5600.0], [1.0, 5800.0]])
    write_run(tmp_path / "results" / "a", "crossq", "gym/Ant-v4", env_steps, first)
    write_run(tmp_path / "results" / "b", "crossq", "gym/Ant-v4", env_steps, second, first_seed=1)
    write_run(tmp_path / "results" / "c", "crossq", "gym/Ant-v4", [50_000, 100_000, 150_000], np.ones((2, 3)))
    text = run_ledger(tmp_path / "results", tmp_path / "results" / "README.md")

    pooled, longer = runs(text)
    assert (pooled["budget"], pooled["seeds"], longer["budget"], longer["seeds"]) == ("100k", "5", "150k", "2")
    assert pooled["ours: IQM [95% CI]"] == interval(np.concatenate([first[:, -1], second[:, -1]]))
    assert pooled["run directory"] == "[a/](a/)<br>[b/](b/)"
    assert "- `a`, `b`: seeds 1 appear in more than one directory." in text


@pytest.mark.slow
def test_a_run_written_by_train_py_in_another_configuration_is_labelled_so(tmp_path):
    """A tiny `sac --preset paper` run on gym/Hopper-v4 (widths 8, batch 16): the published task, not
    the published configuration; beside it a folder SBX wrote and an unpublished task."""
    import jax

    import train

    results = tmp_path / "results"
    out = results / "side-by-side" / "occam-sac"
    flags = ["sac", "--preset", "paper", "--env", "gym/Hopper-v4", "--seeds", "2", "--total-steps", "300", "--eval-every",
             "150", "--eval-episodes", "1", "--learning-starts", "100", "--batch-size", "16", "--actor-width", "8",
             "--critic-width", "8", "--checkpoint-every", "0", "--out", str(out)]
    assert train.main(flags) == 0
    (results / "side-by-side" / "README.md").write_text("How the side-by-side runs were made.\n")
    sbx = results / "side-by-side" / "sbx-sac-0"
    sbx.mkdir()
    output.write_json(sbx / "config.json", {"agent": "sbx-sac", "run": {"env": "gym/Hopper-v4"}})
    (sbx / "evals.csv").write_text("run,seed,env_step,eval_return,eval_length,wall_seconds\n0,0,150,20.0,30,1.0\n")
    write_run(results / "pendulum", "td3", "gymnax/Pendulum-v1", [1000, 2000], np.array([[-900.0, -200.0]]))
    text = run_ledger(results, results / "README.md")

    hopper, pendulum = runs(text)
    assert (hopper["agent (preset)"], hopper["task"], hopper["budget"], hopper["seeds"]) == (
        "SAC (`--preset paper`)", "gym/Hopper-v4", "300", "2")
    assert hopper["verdict"].startswith("not the published configuration: differs in ")
    for difference in ("actor_width 8 vs 256", "batch_size 16 vs 256", "critic_width 8 vs 256", "learning_starts 100 vs 5000"):
        assert difference in hopper["verdict"]
    assert hopper["published: IQM [95% CI] at env step (seeds)"] == "—"  # the published SAC grid: 1, 16666, ...
    assert hopper["machine"] == f"cpu: cpu, jax {jax.__version__}"
    assert hopper["run directory"] == "[side-by-side/occam-sac/](side-by-side/occam-sac/) ([README](side-by-side/README.md))"
    assert pendulum["verdict"] == "no published reference for td3"
    assert ("Left out, not run directories written by train.py: config.json names agent sbx-sac, not one of "
            "train.py's: `side-by-side/sbx-sac-0`.") in text
    assert coverage(text)[("SAC (`sac --preset paper`)", "Hopper-v4")]["100k"] == "not run"


def test_bad_input_gives_one_error_line_and_exit_code_2(tmp_path, capsys):
    only_sbx = tmp_path / "only-sbx" / "sbx-sac-0"
    only_sbx.mkdir(parents=True)
    output.write_json(only_sbx / "config.json", {"agent": "sbx-sac", "run": {"env": "gym/Hopper-v4"}})
    (only_sbx / "evals.csv").write_text("run,seed,env_step,eval_return\n0,0,1000,20\n")
    (tmp_path / "empty").mkdir()
    broken = tmp_path / "broken" / "run"
    broken.mkdir(parents=True)
    output.write_json(broken / "config.json", {"agent": "sac", "run": {"env": "gymnax/Pendulum-v1"}})
    (broken / "evals.csv").write_text("run,seed,env_step,eval_return\n0,0,1000,oops\n")
    cases = {
        "missing": (tmp_path / "missing", "is not a directory"),
        "empty": (tmp_path / "empty", "holds no run directory written by train.py"),
        "only-sbx": (tmp_path / "only-sbx", "holds no run directory written by train.py"),
        "broken": (tmp_path / "broken", "line 2 is not a complete evaluation row"),
    }
    for name, (root, message) in cases.items():
        assert main([str(root), "--out", str(tmp_path / "ledger.md")]) == 2, name
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (name, lines)
    assert not (tmp_path / "ledger.md").exists()

    write_run(tmp_path / "results" / "run", "sac", "gymnax/Pendulum-v1", [1000], np.array([[-500.0]]))
    (tmp_path / "results" / "README.md").write_text("# Results\n\nWritten by hand.\n")
    assert main([str(tmp_path / "results")]) == 2  # a hand-written page is not overwritten
    assert "is not a ledger" in capsys.readouterr().err
    assert (tmp_path / "results" / "README.md").read_text() == "# Results\n\nWritten by hand.\n"
    (tmp_path / "results" / "README.md").unlink()
    assert main([str(tmp_path / "results")]) == 0 and main([str(tmp_path / "results")]) == 0  # a ledger is rewritten
    command = f"python -m reports.ledger {tmp_path / 'results'} --out {tmp_path / 'results' / 'README.md'}"
    assert f"\n    {command}\n" in (tmp_path / "results" / "README.md").read_text()  # the defaults, spelled out

    finished = subprocess.run([sys.executable, "-m", "reports.ledger", str(tmp_path / "nowhere")], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr == (f"error: {tmp_path / 'nowhere'} is not a directory; pass the folder of recorded run "
                               "directories (docs/results)\n")


def test_the_published_presets_are_the_published_configurations():
    from agents import AGENTS
    from agents.common import resolve_gamma

    for algo, command in PUBLISHED_PRESETS.items():
        agent, _, preset = command.split()
        found = AGENTS[agent].presets[preset]
        hyperparams = resolve_gamma(found.hyperparams, 1000)  # the published tasks end at 1000 steps
        assert config_differences(algo, dataclasses.asdict(found.config), dataclasses.asdict(hyperparams)) == [], algo
    assert set(PUBLISHED_PRESETS) == set(ALGORITHM_NAMES)


def test_the_committed_ledger_is_the_generated_one(monkeypatch):
    """docs/results/README.md is what its command writes from docs/results/ today: no hand edits, no
    run directory added without regenerating it."""
    monkeypatch.chdir(ROOT)
    text, rows, _ = ledger(Path("docs/results"), Path("docs/results"), COMMITTED)
    assert (ROOT / "docs" / "results" / "README.md").read_text() == text, f"regenerate it: {COMMITTED}"
    assert rows and f"\n    {COMMITTED}\n" in text
