"""The architecture stays readable: the call chain from the command line to CrossQ's critic loss
is short, and train.py's functions are small (docs/architecture.md)."""

import ast
import inspect
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
