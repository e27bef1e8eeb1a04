"""Divergence is contained, interruption keeps the logs, the same command gives the same results."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ("sac", "--eval-episodes", "1", "--learning-starts", "50", "--batch-size", "16",
        "--actor-width", "8", "--critic-width", "8")


def command(out, *args):
    return [sys.executable, str(ROOT / "train.py"), *TINY, "--out", str(out), *args]


def evals_without_wall_time(out):
    with (out / "evals.csv").open() as f:
        return [{k: v for k, v in row.items() if k != "wall_seconds"} for row in csv.DictReader(f)]


SWEEP = ["sac", "--seeds", "2", "--total-steps", "300", "--eval-every", "100", "--eval-episodes", "1",
         "--learning-starts", "250", "--batch-size", "16", "--actor-width", "8", "--critic-width", "8",
         "--sweep", "learning_rate=1e-3,1e9"]


@pytest.mark.slow
def test_a_diverging_sweep_is_frozen_reported_stopped_by_sigterm_resumed_and_reported(tmp_path, monkeypatch, capsys):
    """One sweep, learning rates 1e-3 and 1e9 x 2 seeds, updates from step 250 on, so the 1e9 runs
    diverge in the third period. Written whole (every file of the run directory), it freezes the diverged runs at their state at the
    period's start (checkpoint 2), the others go on, and the summary and evals.csv say which; the
    report shows the healthy setting and names the diverged one. The same sweep stopped by SIGTERM
    after its first evaluation keeps that evaluation; resumed, it reports what the whole sweep reports.
    (One test, one compiled program: the run directory's promises at the cost of one tiny sweep.)"""
    import jax
    import numpy as np
    import orbax.checkpoint as ocp

    import train
    from reports.__main__ import main as report_main
    from rundir import output

    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    monkeypatch.setattr(sys, "argv", ["train.py", *SWEEP, "--out", str(whole)])  # the recorded command
    assert train.main([*SWEEP, "--out", str(whole)]) == 0
    assert "diverged (NaN/Inf) at env step" in capsys.readouterr().out
    # the whole run directory
    assert {p.name for p in whole.iterdir()} >= {"config.json", "evals.csv", "summary.json", "curves.png", "checkpoints"}
    config = json.loads((whole / "config.json").read_text())
    assert "--total-steps 300" in config["command"] and config["config"]["batch_size"] == 16
    assert (whole / "evals.csv").read_text().startswith("run,seed,learning_rate,env_step,eval_return,eval_length")
    summary = json.loads((whole / "summary.json").read_text())
    assert len(summary["final_eval_return"]["per_run"]) == 4 and {"mean", "std", "iqm"} <= summary["final_eval_return"].keys()
    assert {"steps_per_second", "compile_seconds", "wall_seconds", "versions", "device"} <= summary.keys()
    assert train.main([*SWEEP, "--out", str(whole)], check_only=True) == 2, "an existing run directory is refused"
    assert capsys.readouterr().err.strip().endswith(f"pass --overwrite, or continue its run with --resume {whole}")
    diverged = sorted((d["run"], d["seed"], d["hyperparams"]["learning_rate"], d["env_step"]) for d in summary["diverged"])
    assert [entry[:3] for entry in diverged] == [(2, 0, 1e9), (3, 1, 1e9)]
    assert all(200 < entry[3] <= 300 for entry in diverged)
    rows = evals_without_wall_time(whole)
    assert all(r["eval_return"] != "nan" for r in rows if r["learning_rate"] == "0.001")
    assert [r["eval_return"] == "nan" for r in rows if r["learning_rate"] == "1e+09"] == [False] * 4 + [True] * 2
    ranked = summary["settings"]
    assert ranked[0]["hyperparams"]["learning_rate"] == 1e-3 and ranked[1]["final_eval_return"]["iqm"] is None

    # frozen: each diverged run's whole state is its state after period 2 (before its first update)
    def stored(step):
        state = ocp.StandardCheckpointer().restore((whole / "checkpoints" / str(step) / "state").resolve())
        state.pop("diverged_at")
        return jax.tree.leaves(state)

    for before, after in zip(stored(2), stored(3)):
        np.testing.assert_array_equal(np.asarray(before)[2:], np.asarray(after)[2:])
    assert not all(np.array_equal(np.asarray(b)[:2], np.asarray(a)[:2]) for b, a in zip(stored(2), stored(3)))

    describe = output.describe_returns

    def terminate_after_the_checkpoint(returns):  # the progress line follows the period's checkpoint
        os.kill(os.getpid(), signal.SIGTERM)
        return describe(returns)

    monkeypatch.setattr(output, "describe_returns", terminate_after_the_checkpoint)
    assert train.main([*SWEEP, "--out", str(stopped)]) == 130
    monkeypatch.setattr(output, "describe_returns", describe)
    assert json.loads((stopped / "summary.json").read_text())["interrupted"] is True

    def report(directory):
        """-> (groups of report.json, report.md) of `directory`."""
        out = tmp_path / f"report-{directory.name}"
        assert report_main([str(directory), "--out", str(out)]) == 0
        return json.loads((out / "report.json").read_text())["groups"], (out / "report.md").read_text()

    groups, _ = report(stopped)  # before the third period, no run had diverged
    assert [(g["evaluations"], g["last_env_step"], g["seeds"]) for g in groups] == [(1, 100, [0, 1])] * 2
    assert train.main(["--resume", str(stopped)]) == 0
    capsys.readouterr()
    for directory in (whole, stopped):
        (group,), notes = report(directory)
        assert "Note: left out setting learning_rate=1e+09: every run diverged or has non-finite returns." in notes
        assert "learning_rate=0.001" in group["algorithm"] and group["seeds"] == [0, 1]
        assert (group["evaluations"], group["last_env_step"]) == (3, 300)
    assert report(stopped)[0][0]["checkpoints"] == report(whole)[0][0]["checkpoints"]
    assert evals_without_wall_time(stopped) == rows


@pytest.mark.slow
def test_sigint_writes_the_logs_so_far_and_exits_nonzero(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(
        command(out, "--total-steps", "2000000", "--eval-every", "200", "--seeds", "1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        if (out / "evals.csv").exists() and len((out / "evals.csv").read_text().splitlines()) >= 3:
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and str(out) in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and 400 <= summary["env_steps"] < 2_000_000
    assert len(evals_without_wall_time(out)) == summary["env_steps"] // 200
    assert (out / "curves.png").exists()


@pytest.mark.slow
def test_the_same_command_twice_gives_identical_evals(tmp_path):
    """Once as its own process, once in this one: two processes, one command, the same evaluations.
    The first stores its programs in the compilation cache (the session's, tests/conftest.py); the
    second loads them from there."""
    import jax

    import train
    from rundir import compile_cache

    args = ("--total-steps", "300", "--eval-every", "100", "--seeds", "2")
    result = subprocess.run(command(tmp_path / "first", *args), capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    assert list(compile_cache.directory_for("auto").glob("*-cache"))
    hits = []

    def count_hits(event, **_):
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)

    jax.monitoring.register_event_listener(count_hits)
    try:
        assert train.main([*command(tmp_path / "second", *args)[2:]]) == 0
    finally:
        jax.monitoring.unregister_event_listener(count_hits)
    assert hits, "the second run compiled everything again"
    assert evals_without_wall_time(tmp_path / "first") == evals_without_wall_time(tmp_path / "second")


def test_the_compile_cache_keeps_one_private_directory_per_machine_and_jax_build(tmp_path, monkeypatch):
    import jaxlib

    from agents import ConfigError
    from rundir import compile_cache

    monkeypatch.setattr(sys, "platform", "linux")
    assert compile_cache.root_of("none") is None and compile_cache.root_of("None") is None
    with pytest.raises(ConfigError, match="empty value"):
        compile_cache.root_of(" ")
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    assert compile_cache.root_of("auto") == compile_cache.DEFAULT_ROOT.expanduser().resolve()
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax"))
    assert compile_cache.root_of("auto") == tmp_path / "jax"  # jax's own setting is kept

    here = compile_cache.directory_for(str(tmp_path / "c"))
    assert here == tmp_path / "c" / compile_cache.machine_fingerprint() and here.stat().st_mode & 0o777 == 0o700
    with monkeypatch.context() as older:
        older.setattr(jaxlib, "__version__", "0.9.2")
        assert compile_cache.machine_fingerprint() != here.name  # another jaxlib never reads this one's entries
        older.setattr(sys, "platform", "darwin")
        assert compile_cache.directory_for("auto") is None  # macOS jaxlib < 0.10 crashed loading cached programs

    # unused fingerprint directories go after PRUNE_DAYS; others stay
    stale, fresh, other = tmp_path / "c" / ("0" * 16), tmp_path / "c" / ("1" * 16), tmp_path / "c" / "mine"
    for directory in (stale, fresh, other):
        directory.mkdir()
        (directory / "entry-cache").write_bytes(b"x")
    old = time.time() - (compile_cache.PRUNE_DAYS + 1) * 86400
    os.utime(stale / "entry-cache", (old, old))
    os.utime(other / "entry-cache", (old, old))
    compile_cache.directory_for(str(tmp_path / "c"))
    assert not stale.exists() and fresh.exists() and other.exists()

    # a directory others may write into is refused: jax runs what it finds there
    os.chmod(here, 0o770)
    with pytest.raises(ConfigError, match="chmod go-w"):
        compile_cache.directory_for(str(tmp_path / "c"))
    # auto where nothing can be created (here: under a file, which stops root too): no cache and a
    # warning; an explicit directory there is an error
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "file" / "cache"))
    with pytest.warns(RuntimeWarning, match="no compilation cache: cannot create"):
        assert compile_cache.directory_for("auto") is None
    with pytest.raises(ConfigError, match="cannot create"):
        compile_cache.directory_for(str(tmp_path / "file" / "cache"))


def test_all_finite_finds_one_non_finite_value_in_any_floating_leaf():
    import jax.numpy as jnp
    import numpy as np

    from agents.engine.loop import all_finite

    tree = {"w": np.ones((3, 4), np.float32), "b": np.zeros(2, jnp.bfloat16), "step": np.array([7], np.int32)}
    assert bool(all_finite(tree)) and bool(all_finite({"step": tree["step"]})) and bool(all_finite({}))
    for name, index, bad in (("w", (2, 1), np.nan), ("w", (0, 0), -np.inf), ("b", (1,), np.inf)):
        broken = dict(tree, **{name: tree[name].copy()})
        broken[name][index] = bad
        assert not bool(all_finite(broken)), (name, bad)
