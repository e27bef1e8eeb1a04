"""The architecture stays readable: the call chain from the command line to CrossQ's critic loss
is short, train.py's functions are small, and the layers of docs/architecture.md hold (import-linter's
contracts in pyproject.toml)."""

import ast
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import train
from agents import crossq

ROOT = Path(__file__).resolve().parents[1]


class Traced(Exception):
    """Raised from inside crossq.critic_loss with the project frames that led there."""


def test_at_most_eight_frames_from_the_command_line_to_crossq_s_critic_loss(monkeypatch, tmp_path):
    """The frames of the project's own files on the stack when the fused period is traced (jax's
    frames between them are not counted); tracing stops there, so nothing compiles."""
    real = crossq.critic_loss

    def spy(*args, **kwargs):
        chain = [
            f"{Path(frame.filename).relative_to(ROOT)}:{frame.function}"
            for frame in reversed(inspect.stack()[1:])
            if Path(frame.filename).is_relative_to(ROOT) and ".venv" not in frame.filename and "tests" not in frame.filename
        ]
        if any(name.endswith(":iteration") for name in chain):  # the period's scan, not the metrics' shapes
            raise Traced([*chain, "agents/crossq.py:critic_loss"])
        return real(*args, **kwargs)

    monkeypatch.setattr(crossq, "critic_loss", spy)
    argv = ["crossq", "--seeds", "2", "--total-steps", "200", "--eval-every", "100", "--learning-starts", "50",
            "--batch-size", "8", "--out", str(tmp_path / "run")]
    with pytest.raises(Traced) as traced:
        train.main(argv)
    chain = traced.value.args[0]
    assert chain[0] == "train.py:main" and len(chain) <= 8, chain


def test_no_function_in_train_py_is_longer_than_60_lines():
    tree = ast.parse((ROOT / "train.py").read_text())
    lengths = {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    assert max(lengths.values()) <= 60, {name: n for name, n in lengths.items() if n > 60}


PACKAGES = ("agents", "envs", "networks", "probe", "reports", "rundir")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter's check of the contracts in root/pyproject.toml, on the packages under root."""
    command = Path(sys.executable).parent / "lint-imports"
    return subprocess.run([str(command), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PATH": str(command.parent), "PYTHONPATH": str(root)})


def test_the_layers_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("networks/mlp.py", "from rundir import output", "The suite's layers"),
    ("agents/sac.py", "from agents.engine import loop", "agents: the engine runs the algorithms"),
    ("envs/core.py", "import train", "Nothing imports train.py"),
    ("agents/engine/buffer.py", "from agents.engine import batching", "No import circles"),
])
def test_an_upward_import_or_a_circle_breaks_a_contract(tmp_path, module, line, broken):
    """The same check on a copy of the packages with one import added: the check can fail."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.csv"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / module, "a") as file:
        file.write(f"\n{line}\n")
    if "batching" in line:  # batching imports buffer back: a circle between siblings of one layer
        with open(tmp_path / "agents/engine/batching.py", "a") as file:
            file.write("\nfrom agents.engine import buffer\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout.replace("\n", " "), result.stdout
