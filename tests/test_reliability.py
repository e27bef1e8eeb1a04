"""Divergence is contained, interruption keeps the logs, the same command gives the same results."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ("sac", "--eval-episodes", "1", "--learning-starts", "50", "--batch-size", "16",
        "--actor-width", "8", "--critic-width", "8")


def command(out, *args):
    return [sys.executable, str(ROOT / "train.py"), *TINY, "--out", str(out), *args]


def evals_without_wall_time(out):
    with (out / "evals.csv").open() as f:
        return [{k: v for k, v in row.items() if k != "wall_seconds"} for row in csv.DictReader(f)]


def test_a_diverging_run_is_frozen_and_reported_while_the_others_go_on(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        command(out, "--total-steps", "400", "--eval-every", "200", "--seeds", "2",
                "--sweep", "learning_rate=1e-3,1e9"),
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert sorted((d["run"], d["seed"], d["hyperparams"]["learning_rate"]) for d in summary["diverged"]) == [
        (2, 0, 1e9), (3, 1, 1e9)
    ]
    assert all(d["env_step"] > 0 for d in summary["diverged"])
    assert "diverged (NaN/Inf) at env step" in result.stdout
    rows = evals_without_wall_time(out)
    healthy = [float(r["eval_return"]) for r in rows if r["learning_rate"] == "0.001"]
    assert len(healthy) == 4 and all(v == v for v in healthy)  # no NaN in the healthy runs
    assert all(r["eval_return"] == "nan" for r in rows if r["learning_rate"] == "1e+09")
    ranked = summary["settings"]
    assert ranked[0]["hyperparams"]["learning_rate"] == 1e-3 and ranked[1]["final_eval_return"]["iqm"] is None


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


def test_the_same_command_twice_gives_identical_evals(tmp_path):
    args = ("--total-steps", "300", "--eval-every", "100", "--seeds", "2")
    for name in ("first", "second"):
        result = subprocess.run(command(tmp_path / name, *args), capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert result.returncode == 0, result.stderr
    assert evals_without_wall_time(tmp_path / "first") == evals_without_wall_time(tmp_path / "second")


def test_a_diverged_run_is_frozen_at_the_start_of_the_period_it_diverged_in():
    """No updates in period 0 (learning starts at 150), so the 1e9 learning rate diverges in period 1:
    the run's whole state (buffer, parameters, keys, env states) stays the state after period 0."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from agents import sac
    from agents.batching import broadcast, keys_for
    from agents.off_policy import TrainConfig, make_loop

    config = TrainConfig("sac", sac.Config(actor_width=8, critic_width=8, batch_size=16, learning_starts=150),
                         total_steps=300, eval_every=100, eval_episodes=1)
    loop = make_loop(config)
    hp = broadcast(sac.Hyperparams(), 2).replace(learning_rate=jnp.array([1e-3, 1e9]))
    run_period = jax.jit(jax.vmap(loop.run_period, in_axes=(0, 0, None)))
    states = [jax.jit(jax.vmap(loop.init))(hp, keys_for([0, 1]))]
    for period in range(config.num_evals):
        state, metrics = run_period(states[-1], hp, jnp.int32(period))
        states.append(state)
    assert 100 < int(metrics["diverged_at"][1]) <= 200 and int(metrics["diverged_at"][0]) == -1

    def leaves(state, run):
        state = jax.tree.map(lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x, state)
        return [np.asarray(leaf[run]) for leaf in jax.tree.leaves(state.replace(diverged_at=None))]

    for frozen, at_start in zip(leaves(states[-1], 1), leaves(states[1], 1)):
        np.testing.assert_array_equal(frozen, at_start)
    assert int(states[1].buffer.size[1]) == 100, "period 0 filled the buffer: the check is not against init"
    assert not all(np.array_equal(a, b) for a, b in zip(leaves(states[-1], 0), leaves(states[1], 0))), "run 0 went on"
