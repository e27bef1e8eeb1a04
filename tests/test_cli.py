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


def test_a_run_that_cannot_fit_on_disk_is_refused(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from agents import ConfigError
    from rundir.directory import check_disk

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(ConfigError, match="MiB free but the run writes about"):
        check_disk(tmp_path / "run", num_runs=4, num_evals=10)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sac", "--total-steps", "1e6"], "error: --total-steps takes an integer: 1000000"),
        (["sac", "--batch-size", "abc"], "error: --batch-size takes an integer, got 'abc'"),
        (["sac", "--learning-rate", "abc"], "error: --learning-rate takes a number, got 'abc'"),
        (["sac", "--learnin-rate", "3e-4"], "error: sac has no flag --learnin-rate; did you mean --learning-rate?"),
        (["--seeds", "2", "sac"], "error: the agent name comes before the flags: python train.py sac [flags]"),
        (["ppo", "--anneal-lr", "yes"], "error: unexpected value 'yes' (a switch such as --overwrite takes no value)"),
        (["sac", "--seed", "4294967296", "--seeds", "1"], "error: --seed 4294967296 with --seeds 1 uses seeds"),
        (["sac", "--seed", "2147483647", "--seeds", "2"], "error: --seed 2147483647 with --seeds 2 uses seeds 2147483647 .. 2147483648"),
        (["sac", "--learning-rate", "-1"], "error: --learning-rate: learning_rate must be > 0, got -1"),
        (["simbav2", "--final-learning-rate", "-1e-5"], "error: --final-learning-rate: final_learning_rate must be >= 0, got -1e-05"),
        (["crossq", "--gamma", "1.5"], "error: --gamma: gamma must be in (0, 1], got 1.5"),
        (["td3", "--tau", "0"], "error: --tau: tau must be in (0, 1], got 0"),
        (["ddpg", "--exploration-noise", "-0.1"], "error: --exploration-noise: exploration_noise must be >= 0"),
        (["ppo", "--gae-lambda", "nan"], "error: --gae-lambda: gae_lambda must be in [0, 1], got nan"),
        (["sac", "--sweep", "learning_rate=1e-3,-1"], "error: --sweep learning_rate=1e-3,-1: learning_rate must be > 0"),
        (["sac", "--sweep-random", "2", "--sweep", "gamma=lin:0.9:1.1"], "error: --sweep gamma=lin:0.9:1.1: gamma must be in (0, 1], got 1.1"),
        (["--preset", "paper", "--preset", "cpu"], "error: --preset is given more than once; pick one"),
        (["ppo", "--obs-norm", "rsnorm"], "error: --obs-norm must be one of none, rsnorm_clipped for ppo, got 'rsnorm'"),
        (["sac", "--wandb", " "], "error: --wandb takes the name of a W&B project, got an empty one"),
        (["sac", "--compile-cache", "/proc/occam-cache"], "error: --compile-cache /proc/occam-cache: cannot create /proc/occam-cache"),
    ],
)
def test_parse_and_range_errors_are_one_line_with_exit_code_2(argv, message, capsys, tmp_path):
    import train

    assert train.main([*argv, "--out", str(tmp_path / "run")], check_only=True) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), captured.err
    assert captured.out == ""


def test_wandb_without_the_package_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    import train

    monkeypatch.setitem(sys.modules, "wandb", None)  # importlib.util.find_spec("wandb") -> None: not installed
    assert train.main(["sac", "--wandb", "occam", "--out", str(tmp_path / "run")], check_only=True) == 2
    assert capsys.readouterr().err == 'error: --wandb needs the wandb package: pip install -e ".[wandb]" (or pip install wandb)\n'


def test_the_edges_of_the_ranges_are_accepted(tmp_path):
    import train

    for argv in (
        ["sac", "--gamma", "1", "--tau", "1", "--seed", "2147483646", "--seeds", "2"],
        ["td3", "--exploration-noise", "0", "--target-noise", "0", "--seed", "-2147483648", "--seeds", "1"],
        ["ppo", "--gae-lambda", "0", "--ent-coef", "0", "--sweep", "learning_rate=1e-4,1e-3"],
        ["simbav2", "--final-learning-rate", "0"],
    ):
        assert train.main([*argv, "--out", str(tmp_path / "run")], check_only=True) == 0, argv


TINY_SAC = ["sac", "--seeds", "1", "--total-steps", "200", "--eval-every", "100", "--eval-episodes", "1",
            "--learning-starts", "50", "--batch-size", "16", "--actor-width", "8", "--critic-width", "8"]


def test_ctrl_c_while_compiling_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import train
    from agents.engine.loop import Runs

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Runs, "compile", interrupted)
    out = tmp_path / "run"
    assert train.main([*TINY_SAC, "--out", str(out)]) == 130
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: interrupted (a run directory is written only once the program has compiled)"]
    assert not out.exists()


def test_a_wandb_refusal_is_one_line_and_leaves_no_directory(tmp_path, monkeypatch, capsys):
    import wandb

    import train
    from agents.engine.loop import Runs

    def refuse(**settings):
        raise wandb.errors.UsageError("No API key configured. Use `wandb login` to log in.")

    monkeypatch.setattr(Runs, "compile", lambda self: None)  # the refusal comes before compiled code runs
    monkeypatch.setattr(Runs, "init", lambda self: None)
    monkeypatch.setattr(wandb, "init", refuse)
    out = tmp_path / "run"
    assert train.main([*TINY_SAC, "--wandb", "occam", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --wandb occam: No API key configured. Use `wandb login` to log in. "
        "(or set WANDB_MODE=offline to log to OUT/wandb only)"
    ]
    assert not out.exists()


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_a_run_stopped_before_its_first_evaluation_does_not_block_the_same_command(failure, tmp_path, monkeypatch):
    import train
    from agents.engine.loop import Runs

    def fails(self, state, period, on_chunk=None, resume_at=None):
        raise failure

    monkeypatch.setattr(Runs, "compile", lambda self: None)  # the failure comes before compiled code runs
    monkeypatch.setattr(Runs, "init", lambda self: None)
    monkeypatch.setattr(Runs, "run_period", fails)
    out = tmp_path / "run"
    if failure is KeyboardInterrupt:
        assert train.main([*TINY_SAC, "--out", str(out)]) == 130
    else:
        with pytest.raises(RuntimeError):
            train.main([*TINY_SAC, "--out", str(out)])
    assert not out.exists()
    assert train.main([*TINY_SAC, "--out", str(out)], check_only=True) == 0


def documented_commands() -> list[str]:
    """The flags of every `python train.py ...` command line that starts a run in README.md and the
    pages docs/*.md (not docs/results/)."""
    import re

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [flags for page in pages for flags in re.findall(r"python train\.py([^`#\n]*)", page.read_text())]
    return sorted({flags.strip() for flags in found if not any(skip in flags for skip in ("[", "--help", "--resume"))})


@pytest.mark.parametrize("flags", documented_commands())
def test_every_command_line_of_the_readme_and_docs_pages_parses_and_validates(flags, capsys):
    import shlex

    import train

    assert train.main(shlex.split(flags), check_only=True) == 0, capsys.readouterr().err


def test_help_titles_its_groups_for_users_and_lists_the_network_kinds(capsys, monkeypatch):
    import train
    from networks import KINDS

    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_:
        train.main(["sac", "--help"])
    assert exit_.value.code == 0
    page = capsys.readouterr().out
    for title in ("run options", "agent (static settings", "hyperparameters (arrays"):
        assert title in page, title
    assert "config options" not in page and "hp options" not in page
    for flag in ("--actor-net", "--critic-net"):
        line = next(line for line in page.splitlines() if flag in line)
        assert all(kind in line for kind in KINDS), line
