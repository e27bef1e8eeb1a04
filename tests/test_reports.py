import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reports.__main__ import main
from reports.curves import Curves
from reports.published import PUBLISHED_CONFIGS, config_differences, published_algo, published_task
from reports.runs import ReportError, load_runs
from rundir import output
from rundir.stats import bootstrap_ci, iqm, stratified_bootstrap_ci

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reports" / "reference" / "gymnasium_mujoco_v4_curves.csv"
PNG = b"\x89PNG\r\n\x1a\n"


def write_run(directory: Path, agent: str, env: str, env_steps, returns, config=None, settings=None, first_seed=0):
    """A run directory as train.py writes it: returns [num_runs, num_evals] at env_steps [num_evals];
    settings: per run, its swept hyperparameters (a sweep) or None. config: its settings, by default
    the published configuration of `agent` where there is one."""
    directory.mkdir(parents=True)
    num_runs = len(returns)
    seeds = list(range(first_seed, first_seed + num_runs))
    output.write_json(directory / "config.json", {
        "command": f"python train.py {agent} --env {env}",
        "agent": agent,
        "run": {"env": env, "seeds": num_runs},
        "config": config or PUBLISHED_CONFIGS.get(agent, {"actor_net": "mlp", "critic_net": "mlp"}),
        "hyperparams": {},
        "seeds": seeds,
        "sweep": None,
    })
    settings = settings or [{} for _ in range(num_runs)]
    log = output.EvalLog(directory / "evals.csv", list(settings[0]))
    for index, step in enumerate(env_steps):
        metrics = {"eval_return": returns[:, index], "eval_length": np.full(num_runs, 1000.0), "train_return": returns[:, index]}
        log.write(list(zip(seeds, settings)), int(step), metrics, 1.0)


def published_returns(algo: str, env: str, env_step: int) -> np.ndarray:
    with REFERENCE.open() as file:
        return np.array([float(row["avg_return"]) for row in csv.DictReader(file)
                         if (row["algo"], row["env"], int(row["env_step"])) == (algo, env, env_step)])


def run_report(tmp_path: Path, *directories: Path) -> dict:
    assert main([*map(str, directories), "--out", str(tmp_path / "report")]) == 0
    return json.loads((tmp_path / "report" / "report.json").read_text())


def test_a_sac_halfcheetah_report_holds_every_table_and_figure_with_the_published_numbers(tmp_path):
    env_steps = np.arange(50_000, 1_000_001, 50_000)
    returns = np.random.default_rng(0).normal(env_steps / 100.0, 300.0, size=(5, len(env_steps))).round(1)  # exact at %.6g
    write_run(tmp_path / "hc", "sac", "gym/HalfCheetah-v4", env_steps, returns)
    report = run_report(tmp_path, tmp_path / "hc")
    out = tmp_path / "report"

    (group,) = report["groups"]
    assert (group["algorithm"], group["task"], group["published_algo"], group["published_seeds"]) == ("SAC", "gym/HalfCheetah-v4", "sac", 10)
    assert (out / group["figure"]).read_bytes().startswith(PNG)
    assert (out / "aggregate.png").read_bytes().startswith(PNG)
    rows = group["checkpoints"]
    assert [row["mark"] for row in rows] == [100_000, 300_000, 1_000_000]
    # The published SAC grid evaluates every 16,666 steps: 99,996 stands for 100k, 999,960 for 1M.
    assert [row["published"]["env_step"] for row in rows] == [99_996, 299_988, 999_960]
    hundred_k = published_returns("sac", "HalfCheetah-v4", 99_996)
    assert len(hundred_k) == 10
    published = rows[0]["published"]
    np.testing.assert_allclose([published["mean"], published["std"], published["iqm"]], [hundred_k.mean(), hundred_k.std(), iqm(hundred_k)])
    assert (round(published["mean"]), round(published["std"])) == (6156, 700)  # reference README: 6156 ± 700
    ours = rows[0]["ours"]
    at_100k = returns[:, 1]
    assert ours["env_step"] == 100_000
    np.testing.assert_allclose([ours["mean"], ours["std"], ours["iqm"]], [at_100k.mean(), at_100k.std(), iqm(at_100k)])
    np.testing.assert_allclose(ours["iqm_ci95"], bootstrap_ci(at_100k))

    final = published_returns("sac", "HalfCheetah-v4", 999_960)
    aggregate = {row["mark"]: row for row in report["aggregate"]}
    assert list(aggregate) == [100_000, 300_000, 1_000_000]
    np.testing.assert_allclose(aggregate[100_000]["ours"]["iqm"], iqm(at_100k / final.mean()))
    np.testing.assert_allclose(aggregate[1_000_000]["published"]["iqm"], iqm(final / final.mean()))
    assert aggregate[1_000_000]["tasks"] == ["gym/HalfCheetah-v4"]

    markdown = (out / "report.md").read_text()
    low, high = published["iqm_ci95"]
    assert f"| 100k | 100000 | {at_100k.mean():.1f} ± {at_100k.std():.1f} |" in markdown
    assert f"| 99996 | 6156.3 ± 699.8 | {published['iqm']:.1f} [{low:.1f}, {high:.1f}] |" in markdown
    assert f"![SAC on gym/HalfCheetah-v4]({group['figure']})" in markdown and "![aggregate](aggregate.png)" in markdown
    assert "python train.py sac --env gym/HalfCheetah-v4" in markdown


def test_a_run_without_a_published_reference_shows_ours_and_says_so(tmp_path):
    env_steps = np.arange(2_000, 20_001, 2_000)
    returns = np.linspace(-1200.0, -150.0, len(env_steps)) + np.arange(3)[:, None]
    write_run(tmp_path / "pendulum", "sac", "gymnax/Pendulum-v1", env_steps, returns)
    report = run_report(tmp_path, tmp_path / "pendulum")

    (group,) = report["groups"]
    assert group["published_seeds"] == 0
    (row,) = group["checkpoints"]  # no checkpoint reached: our last evaluation only
    assert (row["mark"], row["ours"]["env_step"], row["published"]) == (20_000, 20_000, None)
    np.testing.assert_allclose(row["ours"]["mean"], -149.0)
    assert report["aggregate"] == [] and not (tmp_path / "report" / "aggregate.png").exists()
    assert (tmp_path / "report" / group["figure"]).read_bytes().startswith(PNG)
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "No published reference exists for SAC on gymnax/Pendulum-v1: ours only." in markdown
    assert "| last (20k) | 20000 | -149.0 ± 0.8 |" in markdown


def test_runs_of_one_algorithm_merge_and_the_aggregate_stratifies_over_tasks(tmp_path):
    env_steps = np.arange(10_000, 300_001, 10_000)
    rng = np.random.default_rng(1)
    cheetah = rng.normal(5000.0, 500.0, size=(5, len(env_steps))).round(1)
    hopper = rng.normal(2000.0, 300.0, size=(3, len(env_steps))).round(1)
    write_run(tmp_path / "hc-a", "crossq", "gym/HalfCheetah-v4", env_steps, cheetah[:2])
    write_run(tmp_path / "hc-b", "crossq", "gym/HalfCheetah-v4", env_steps, cheetah[2:], first_seed=2)
    write_run(tmp_path / "hop", "crossq", "gym/Hopper-v4", env_steps, hopper)
    report = run_report(tmp_path, tmp_path / "hc-a", tmp_path / "hc-b", tmp_path / "hop")

    assert [(g["task"], g["seeds"]) for g in report["groups"]] == [("gym/HalfCheetah-v4", [0, 1, 2, 3, 4]), ("gym/Hopper-v4", [0, 1, 2])]
    row = {row["mark"]: row for row in report["aggregate"]}[300_000]
    assert row["tasks"] == ["gym/HalfCheetah-v4", "gym/Hopper-v4"] and row["ours"]["runs"] == 8
    strata = [cheetah[:, -1] / published_returns("crossq", "HalfCheetah-v4", 1_000_000).mean(),
              hopper[:, -1] / published_returns("crossq", "Hopper-v4", 1_000_000).mean()]
    np.testing.assert_allclose(row["ours"]["iqm"], iqm(np.concatenate(strata)))
    np.testing.assert_allclose(row["ours"]["iqm_ci95"], stratified_bootstrap_ci(strata))


def test_a_run_of_another_configuration_is_drawn_beside_the_published_curve_and_says_how_it_differs(tmp_path):
    """The default crossq run (the cpu preset: 256-wide critics, 1000 random steps) is not the published CrossQ."""
    from agents import crossq

    config = {**PUBLISHED_CONFIGS["crossq"], "critic_width": 256, "learning_starts": 1000}
    assert config_differences("crossq", config, {}) == ["critic_width 256 vs 2048", "learning_starts 1000 vs 5000"]
    env_steps = np.arange(10_000, 100_001, 10_000)
    write_run(tmp_path / "cpu", "crossq", "gym/Hopper-v4", env_steps, np.full((3, len(env_steps)), 2000.0), config=config)
    report = run_report(tmp_path, tmp_path / "cpu")
    (group,) = report["groups"]
    assert group["published_seeds"] == 10 and group["differs"] == ["critic_width 256 vs 2048", "learning_starts 1000 vs 5000"]
    assert report["aggregate"] == []  # no claim about the published band
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "crossq (not the published configuration)" in markdown
    assert "Not the published configuration: differs in critic_width 256 vs 2048; learning_starts 1000 vs 5000." in markdown
    # a field an older version did not record counts as different
    assert config_differences("crossq", {k: v for k, v in PUBLISHED_CONFIGS["crossq"].items() if k != "log_std_mode"}, {}) == [
        "log_std_mode (not recorded) vs clip"
    ]
    cpu = crossq.PRESETS["cpu"]
    assert config_differences("crossq", dataclasses.asdict(cpu.config), dataclasses.asdict(cpu.hyperparams))
    # runs of the published configuration are not pooled with these, in either order
    write_run(tmp_path / "paper", "crossq", "gym/Hopper-v4", env_steps, np.full((3, len(env_steps)), 3000.0), first_seed=3)
    for order in (["paper", "cpu"], ["cpu", "paper"]):
        with pytest.raises(ReportError, match="in different configurations .* report them separately"):
            load_runs([tmp_path / name for name in order])


def test_runs_of_one_task_on_gym_and_mjx_share_a_figure_and_aggregate_per_family(tmp_path):
    env_steps = np.arange(10_000, 100_001, 10_000)
    rng = np.random.default_rng(2)
    host, fused, crossq = (rng.normal(5000.0, 400.0, size=(n, len(env_steps))).round(1) for n in (5, 4, 3))
    write_run(tmp_path / "gym", "sac", "gym/HalfCheetah-v4", env_steps, host)
    write_run(tmp_path / "mjx", "sac", "mjx/HalfCheetah-v4", env_steps, fused)
    write_run(tmp_path / "cq", "crossq", "gym/HalfCheetah-v4", env_steps, crossq)
    write_run(tmp_path / "hop", "sac", "gym/Hopper-v4", env_steps, host)
    report = run_report(tmp_path, tmp_path / "gym", tmp_path / "mjx", tmp_path / "cq", tmp_path / "hop")

    (together,) = report["together"]  # Hopper has one group: no side-by-side figure
    assert together["task"] == "HalfCheetah-v4"
    assert together["groups"] == ["SAC on gym/HalfCheetah-v4", "SAC on mjx/HalfCheetah-v4", "CrossQ on gym/HalfCheetah-v4"]
    assert (tmp_path / "report" / together["figure"]).read_bytes().startswith(PNG)
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert f"## HalfCheetah-v4: side by side\n\n{', '.join(together['groups'])} on one axis" in markdown

    # SAC ran both physics: a row per family, each published task counted once in each
    rows = {row["algorithm"]: row for row in report["aggregate"] if row["mark"] == 100_000}
    assert sorted(rows) == ["CrossQ", "SAC (gym/)", "SAC (mjx/)"]
    assert rows["SAC (gym/)"]["tasks"] == ["gym/HalfCheetah-v4", "gym/Hopper-v4"] and rows["SAC (gym/)"]["ours"]["runs"] == 10
    assert rows["SAC (mjx/)"]["tasks"] == ["mjx/HalfCheetah-v4"]
    final = published_returns("sac", "HalfCheetah-v4", 999_960).mean()
    np.testing.assert_allclose(rows["SAC (mjx/)"]["ours"]["iqm"], iqm(fused[:, -1] / final))
    assert rows["SAC (mjx/)"]["published"]["runs"] == 10


def test_the_paper_presets_are_the_published_configurations():
    from agents import crossq, sac
    from agents.common import resolve_gamma

    for algo, preset in (("sac", sac.PAPER), ("crossq", crossq.PRESETS["paper"]), ("simba_utd1", sac.SIMBA)):
        hyperparams = resolve_gamma(preset.hyperparams, 1000)  # the published tasks end at 1000 steps
        assert config_differences(algo, dataclasses.asdict(preset.config), dataclasses.asdict(hyperparams)) == [], algo


def test_a_sweep_gives_one_group_per_setting(tmp_path):
    returns = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    settings = [{"learning_rate": 1e-3}, {"learning_rate": 1e-3}, {"learning_rate": 3e-4}, {"learning_rate": 3e-4}]
    write_run(tmp_path / "sweep", "sac", "gymnax/Pendulum-v1", [1000, 2000], returns, settings=settings)
    report = run_report(tmp_path, tmp_path / "sweep")
    groups = {g["algorithm"]: g["checkpoints"][0]["ours"]["mean"] for g in report["groups"]}
    assert groups == {"SAC (learning_rate=0.001)": 3.0, "SAC (learning_rate=0.0003)": 7.0}


def test_agents_and_env_ids_map_to_the_published_names():
    assert published_algo("sac", {"actor_net": "mlp", "critic_net": "mlp"}) == "sac"
    assert published_algo("crossq", {}) == "crossq"
    assert published_algo("sac", {"actor_net": "simba", "critic_net": "simba"}) == "simba_utd1"
    assert published_algo("simba-sac", {}) == "simba_utd1"
    assert published_algo("sac", {"actor_net": "mlp", "critic_net": "simba"}) is None
    assert published_algo("td3", {}) is None
    assert published_task("gym/HalfCheetah-v4") == "HalfCheetah-v4" == published_task("mjx/HalfCheetah-v4")
    assert published_task("host/mjx/Hopper-v4") == "Hopper-v4" and published_task("host/gymnax/Pendulum-v1") is None
    assert published_task("brax/halfcheetah") is None and published_task("gymnax/Pendulum-v1") is None


def test_a_checkpoint_takes_the_last_evaluation_at_or_before_it_within_two_percent():
    returns = np.arange(4.0)[None]
    assert Curves(np.array([50_000, 99_996, 100_010, 150_000]), returns).at(100_000)[0] == 99_996
    assert Curves(np.array([50_000, 98_000, 150_000, 200_000]), returns).at(100_000)[0] == 98_000
    assert Curves(np.array([50_000, 97_000, 150_000, 200_000]), returns).at(100_000) is None
    assert Curves(np.array([10, 20, 30, 40]), returns).at(100_000) is None


def bad_directories(tmp_path: Path) -> dict[str, Path]:
    good_config = '{"agent": "sac", "run": {"env": "gymnax/Pendulum-v1"}}'
    layouts = {
        "missing": {},
        "empty": {"": None},
        "no-evals": {"config.json": good_config},
        "no-config": {"evals.csv": "run,seed,env_step,eval_return\n0,0,1000,-500\n"},
        "bad-config": {"config.json": "{not json", "evals.csv": "run,seed,env_step,eval_return\n"},
        "header-only": {"config.json": good_config, "evals.csv": "run,seed,env_step,eval_return,eval_length\n"},
        "no-columns": {"config.json": good_config, "evals.csv": "step,return\n1000,-500\n"},
        "bad-row": {"config.json": good_config, "evals.csv": "run,seed,env_step,eval_return\n0,0,1000,oops\n"},
        "not-utf8": {"config.json": good_config, "evals.csv": "run,seed,env_step,eval_return\n0,0,1000,\udcff\n"},
    }
    directories = {}
    for name, files in layouts.items():
        directories[name] = tmp_path / name
        for file, text in files.items():
            directories[name].mkdir(exist_ok=True)
            if text is not None:
                (directories[name] / file).write_text(text, errors="surrogateescape")
    return directories


def test_a_bad_run_directory_gives_one_line_and_exit_code_2(tmp_path, capsys):
    for name, directory in bad_directories(tmp_path).items():
        assert main([str(directory), "--out", str(tmp_path / "report")]) == 2, name
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and str(directory) in lines[0], (name, captured.err)
    assert not (tmp_path / "report").exists()


def test_the_command_line_exits_2_without_a_traceback(tmp_path):
    finished = subprocess.run([sys.executable, "-m", "reports", str(tmp_path / "nowhere")],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 2
    assert finished.stderr == f"error: {tmp_path / 'nowhere'} is not a directory; pass run directories written by train.py\n"


def test_a_diverged_run_is_left_out_and_the_report_says_so(tmp_path):
    returns = np.array([[-900.0, -200.0], [-900.0, -5000.0], [-800.0, -150.0]])
    write_run(tmp_path / "run", "crossq", "gymnax/Pendulum-v1", [1000, 2000], returns)
    output.write_json(tmp_path / "run" / "summary.json", {"diverged": [{"run": 1, "seed": 1, "hyperparams": {}, "env_step": 1500}]})
    report = run_report(tmp_path, tmp_path / "run")
    (group,) = report["groups"]
    assert group["seeds"] == [0, 2] and group["checkpoints"][0]["ours"]["mean"] == -175.0
    assert "Note: left out run(s) 1: diverged (summary.json)." in (tmp_path / "report" / "report.md").read_text()


def test_compare_gives_the_textbook_tests_of_two_sets_of_runs(tmp_path, capsys):
    """Values whose tests are worked by hand: finals [1, 2, 3] against [4, 5, 6] give Welch's t -3.674
    on 4 degrees of freedom (p 0.0213) and Mann-Whitney U 0 (exact p 2 / C(6, 3) = 0.1); 2 of 5
    against 5 of 5 runs at 1000 give Fisher's exact p 1/6."""
    from reports import compare

    steps = np.array([500, 1000])
    write_run(tmp_path / "a", "sac", "mjx/InvertedPendulum-v4", steps, np.array([[0.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    write_run(tmp_path / "b", "sac", "gym/InvertedPendulum-v4", steps, np.array([[4.0, 4.0], [5.0, 5.0], [6.0, 6.0]]))
    a, b = compare.load_side([tmp_path / "a"]), compare.load_side([tmp_path / "b"])
    step = compare.common_step(a, b, None)
    assert step == 1000
    text, figures = compare.compare(compare.side("mjx/", a, step), compare.side("gym/", b, step), step, None, "cmd")
    assert figures["at"]["welch_t"] == pytest.approx(-3 / np.sqrt(2 / 3), rel=1e-9)
    assert figures["at"]["welch_df"] == pytest.approx(4.0)
    assert figures["at"]["welch_p"] == pytest.approx(0.0213, abs=1e-4)
    assert figures["at"]["mann_whitney_u"] == 0 and figures["at"]["mann_whitney_p"] == pytest.approx(0.1)
    # the area: each run's mean over its evaluations, [0.5, 2, 3] against [4, 5, 6]
    assert figures["area"]["welch_t"] == pytest.approx(
        (np.mean([0.5, 2, 3]) - 5) / np.sqrt(np.var([0.5, 2, 3], ddof=1) / 3 + 1 / 3), rel=1e-9
    )
    assert "| mjx/ | 3 | 1.0, 2.0, 3.0 | 2.0 ± 1.0 | 2.0 | 2.0 |" in text

    write_run(tmp_path / "c", "sac", "mjx/InvertedPendulum-v4", steps, np.array([[0.0, x] for x in (0, 0, 0, 1000, 1000)]))
    write_run(tmp_path / "d", "sac", "gym/InvertedPendulum-v4", steps, np.full((5, 2), 1000.0))
    out = tmp_path / "compare.md"
    assert compare.main([str(tmp_path / "c"), "--vs", str(tmp_path / "d"), "--threshold", "1000", "--out", str(out)]) == 0
    assert "Runs at or above 1000: 2 of 5 (A), 5 of 5 (B); Fisher's exact test p 0.167" in out.read_text()
    assert out.read_text() == capsys.readouterr().out

    # a diverged run is left out as the report leaves it out, and named
    write_run(tmp_path / "e", "sac", "gym/InvertedPendulum-v4", steps, np.array([[1.0, 1.0], [9.0, 5000.0], [2.0, 2.0], [3.0, 3.0]]))
    output.write_json(tmp_path / "e" / "summary.json", {"diverged": [{"run": 1, "seed": 1, "hyperparams": {}, "env_step": 800}]})
    e = compare.load_side([tmp_path / "e"])
    text, _ = compare.compare(compare.side("gym/", e, 1000), compare.side("mjx/", a, 1000), 1000, None, "cmd")
    assert "| gym/ | 3 | 1.0, 2.0, 3.0 |" in text and "gym/: left out run(s) 1: diverged (summary.json)." in text


def test_compare_refuses_sides_it_cannot_compare_in_one_line(tmp_path, capsys):
    steps = np.array([500, 1000])
    write_run(tmp_path / "a", "sac", "mjx/InvertedPendulum-v4", steps, np.ones((2, 2)))
    write_run(tmp_path / "b", "sac", "gym/Hopper-v4", steps, np.ones((2, 2)))
    write_run(tmp_path / "c", "sac", "gym/InvertedPendulum-v4", np.array([400, 800]), np.ones((2, 2)))
    from reports import compare

    for argv, message in (
        ([str(tmp_path / "a"), str(tmp_path / "b"), "--vs", str(tmp_path / "c")], "hold 2 algorithm/task pairs"),
        ([str(tmp_path / "a"), "--vs", str(tmp_path / "c")], "share no evaluation step"),
        ([str(tmp_path / "a"), "--vs", str(tmp_path / "b"), "--at", "700"], "--at 700 is not an evaluation step of both"),
    ):
        assert compare.main(argv) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, error


def test_c_vs_mjx_takes_runs_on_gymnasium_mujoco_tasks_only(tmp_path, capsys):
    from agents.common import ConfigError
    from reports import c_vs_mjx

    assert c_vs_mjx.task_of("gym/Hopper-v4") == "Hopper-v4"
    assert c_vs_mjx.task_of("host/mjx/Hopper-v4:playground") == "Hopper-v4:playground"
    with pytest.raises(ConfigError, match="brax/hopper is not a gymnasium MuJoCo task"):
        c_vs_mjx.task_of("brax/hopper")
    assert c_vs_mjx.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {tmp_path}: no config.json there; is it a run directory of train.py?"]
    assert c_vs_mjx.main([str(tmp_path), "--starts", "0"]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: --starts must be at least 1, got 0"]
