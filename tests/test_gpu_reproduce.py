"""bench/gpu/reproduce.sh: its plan of the env steps that fit the time left, its refusals, and its CPU
rehearsal (GPU_SMOKE=1) end to end: a run timed, extended to the planned steps, reported, and its
files in $OUT."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu" / "reproduce.sh"


def load_parts():
    spec = importlib.util.spec_from_file_location("gpu_parts", ROOT / "bench" / "gpu" / "parts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("period, grid, expected", [
    (35.0, 10_000, 60_000),  # (400 - 40) // 35 = 10 more periods of 5k: 60k, on the 10k grid
    (35.0, 50_000, 50_000),  # rounded down to the published 50k grid
    (70.0, 50_000, 35_000),  # 5 periods reach 35k, no 50k point: the periods that fit, off the grid
    (1.0, 10_000, 100_000),  # fast: capped at the 100k maximum
    (400.0, 10_000, 10_000),  # not one period more fits: the run stays at its 10k
])
def test_the_extension_fits_the_time_left_on_the_published_grid(period, grid, expected):
    parts = load_parts()
    planned = parts.extension(env_step=10_000, eval_every=5_000, period_seconds=period, start_seconds=40.0,
                              seconds=400.0, max_steps=100_000, grid=grid)
    assert planned == expected
    assert planned % 5_000 == 0


@pytest.mark.parametrize("grid", [10_000, 50_000])
def test_every_planned_extension_fits_the_time_left_and_stays_on_the_evaluation_steps(grid):
    parts = load_parts()
    for period in (0.5, 3.0, 12.0, 20.0, 33.0, 47.0, 61.0, 90.0, 150.0, 370.0, 1000.0):
        planned = parts.extension(env_step=10_000, eval_every=5_000, period_seconds=period, start_seconds=40.0,
                                  seconds=400.0, max_steps=100_000, grid=grid)
        assert 10_000 <= planned <= 100_000 and planned % 5_000 == 0
        assert 40.0 + (planned - 10_000) / 5_000 * period <= 400.0
        if planned >= grid:
            assert planned % grid == 0


def write_run(run: Path, walls: list[float], compile_seconds: float) -> None:
    run.mkdir()
    rows = [f"{5_000 * (i + 1)},{wall}" for i, wall in enumerate(walls)]
    (run / "evals.csv").write_text("env_step,wall_seconds\n" + "\n".join(rows) + "\n")
    (run / "config.json").write_text(json.dumps({"run": {"eval_every": 5_000}}))
    (run / "summary.json").write_text(json.dumps({"compile_seconds": compile_seconds}))


def test_the_plan_reads_the_measured_period_from_the_run(tmp_path, capsys):
    parts = load_parts()
    write_run(tmp_path / "run", walls=[2.0, 32.0], compile_seconds=20.0)  # the 5k-10k period took 30 s
    parts.extend(argparse.Namespace(run=str(tmp_path / "run"), seconds=400.0, max_steps=100_000, grid=10_000,
                                    start_seconds=30.0))
    assert int(capsys.readouterr().out) == 60_000  # (400 - 50) // 30 = 11 periods reach 65k: 60k on the grid
    write_run(tmp_path / "one", walls=[2.0], compile_seconds=20.0)
    with pytest.raises(SystemExit, match="the plan needs two, to time a period"):
        parts.extend(argparse.Namespace(run=str(tmp_path / "one"), seconds=400.0, max_steps=100_000, grid=10_000,
                                        start_seconds=30.0))


def run_script(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GPU_SMOKE": "1", "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, **env}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=600)


def test_bad_arguments_are_refused_in_one_line(tmp_path):
    usage = run_script("crossq", "paper", tmp_path=tmp_path)
    assert usage.returncode == 2 and "usage: bash bench/gpu/reproduce.sh AGENT PRESET TASK" in usage.stderr
    unknown = run_script("crossq", "gpu", "gym/Hopper-v4", tmp_path=tmp_path)
    assert unknown.returncode == 2
    assert "error: crossq has no preset 'gpu'" in (tmp_path / "out" / "reproduce.log").read_text()


def test_a_gpu_run_without_the_wheels_is_refused_in_one_line(tmp_path):
    refused = run_script("crossq", "paper", "gym/Hopper-v4", tmp_path=tmp_path, GPU_SMOKE="0",
                         WHEELS=str(tmp_path / "no-wheels"))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: no wheels in {tmp_path / 'no-wheels'}/: run bash bench/gpu/wheels.sh where a package index is "
        f"reachable, and carry {tmp_path / 'no-wheels'} (GPU_SMOKE=1 runs without)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("OCCAM_SLOW_TESTS"), reason="about 60 s, three train.py processes: the rehearsal "
                    "of the GPU kit, for the session that prepares a GPU call: set OCCAM_SLOW_TESTS=1")
def test_the_cpu_rehearsal_times_a_run_extends_it_and_leaves_its_files(tmp_path):
    done = run_script("crossq", "paper", "gym/Hopper-v4", tmp_path=tmp_path, SEEDS="2")
    assert done.returncode == 0, done.stdout[-2000:]
    out = tmp_path / "out"
    files = sorted(path.name for path in out.iterdir())
    assert len(files) <= 8  # what a device call gives back
    assert {"config.json", "evals.csv", "summary.json", "curves.png", "report.md", "reproduce.log"} <= set(files)
    log = (out / "reproduce.log").read_text()
    planned = int(log.split("planned: ")[1].split()[0])
    assert planned > 400 and planned % 200 == 0  # extended past the first 400 steps, on the grid
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env_steps"] == planned and not summary["interrupted"]
    config = json.loads((out / "config.json").read_text())
    assert config["extensions"] == [{"from_total_steps": 400, "to_total_steps": planned,
                                     "command": config["extensions"][0]["command"]}]
    assert "checkpoints" not in files
