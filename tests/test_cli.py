import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


COMMON_FLAGS = ("--env", "--seeds", "--seed", "--total-steps", "--eval-every", "--eval-episodes", "--out", "--preset",
                "--num-envs", "--learning-rate", "--batch-size", "--learning-starts", "--gamma", "--critic-width",
                "--actor-width", "--actor-net", "--critic-net", "--utd")


@pytest.mark.parametrize(
    "agent, own_flags",
    [("sac", ("--tau",)), ("crossq", ("--policy-delay", "--critic-norm", "--actor-norm", "--adam-b1"))],
)
def test_help_documents_every_knob(agent, own_flags):
    result = run_cli(agent, "--help")
    assert result.returncode == 0
    for flag in COMMON_FLAGS + own_flags:
        assert flag in result.stdout, flag


@pytest.mark.parametrize(
    "args, message",
    [
        (("--env", "gymnax/Pendulum-v2"), "Did you mean gymnax/Pendulum-v1"),
        (("--total-steps", "1000", "--eval-every", "300"), "multiple of --eval-every"),
        (("--seeds", "0"), "--seeds must be a positive integer"),
        (("--preset", "gpu"), "crossq has no preset 'gpu'; its presets: paper, cpu"),
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_code_2(args, message, tmp_path):
    result = run_cli(*args, "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_tiny_run_writes_the_whole_run_directory(tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "sac", "--seeds", "2", "--total-steps", "200", "--eval-every", "100", "--eval-episodes", "1",
        "--learning-starts", "50", "--batch-size", "16", "--actor-width", "8", "--critic-width", "8",
        "--out", str(out),
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} >= {"config.json", "evals.csv", "summary.json", "curves.png"}
    config = json.loads((out / "config.json").read_text())
    assert "--total-steps 200" in config["command"] and config["config"]["batch_size"] == 16
    rows = (out / "evals.csv").read_text().splitlines()
    assert rows[0].startswith("run,seed,env_step,eval_return,eval_length")
    assert len(rows) == 1 + 2 * 2
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["final_eval_return"]["per_run"]) == 2
    for key in ("mean", "std", "iqm"):
        assert key in summary["final_eval_return"]
    for key in ("steps_per_second", "compile_seconds", "wall_seconds", "versions", "device"):
        assert key in summary
    assert run_cli("--seeds", "1", "--out", str(out)).returncode == 2, "an existing run directory is refused"


def test_a_run_that_cannot_fit_on_disk_is_refused(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    import train
    from agents import ConfigError, sac
    from agents.off_policy import TrainConfig

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    config = TrainConfig(agent="sac", agent_config=sac.Config(), total_steps=10_000, eval_every=1000)
    with pytest.raises(ConfigError, match="MiB free but the run writes about"):
        train.check_disk(tmp_path / "run", num_runs=4, config=config)
