"""Sweeps: parsing, invariance of a run inside a sweep, the CLI's outputs, sharding and memory."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from agents import ConfigError, sac

from agents.engine import sweep
from agents.engine.batching import broadcast, keys_for
from agents.engine.loop import TrainConfig
from agents.engine.off_policy import train

ROOT = Path(__file__).resolve().parents[1]
STATIC = ["batch_size", "critic_width", "total_steps"]


def test_grid_is_the_product_of_the_axes():
    grid = sweep.settings(("learning_rate=1e-3,3e-4", "gamma=0.98,0.99"), sac.Hyperparams, STATIC)
    assert len(grid) == 4
    assert {(s["learning_rate"], s["gamma"]) for s in grid} == {(1e-3, 0.98), (1e-3, 0.99), (3e-4, 0.98), (3e-4, 0.99)}
    assert sweep.settings((), sac.Hyperparams, STATIC) == [{}]
    assert sweep.settings(("learning-rate=0.1",), sac.Hyperparams, STATIC) == [{"learning_rate": 0.1}]


def test_random_search_is_reproducible_and_within_its_ranges():
    specs = ("learning_rate=log:1e-4:1e-2", "tau=lin:0.001:0.01", "gamma=0.98,0.99")
    first = sweep.settings(specs, sac.Hyperparams, STATIC, num_random=50, seed=3)
    assert first == sweep.settings(specs, sac.Hyperparams, STATIC, num_random=50, seed=3)
    rates = np.array([s["learning_rate"] for s in first])
    assert len(first) == 50 and rates.min() >= 1e-4 and rates.max() <= 1e-2
    assert (rates < 1e-3).sum() > 10 and (rates > 1e-3).sum() > 10  # log-uniform: both decades drawn
    assert all(0.001 <= s["tau"] <= 0.01 and s["gamma"] in (0.98, 0.99) for s in first)


@pytest.mark.parametrize(
    "specs, num_random, message",
    [
        (("batch_size=32,64",), 0, "batch_size is static"),
        (("learnin_rate=1e-3",), 0, "unknown hyperparameter 'learnin_rate'; sweepable: learning_rate, gamma"),
        (("learning_rate=log:1e-4:1e-2",), 0, "need --sweep-random"),
        (("learning_rate=fast",), 0, "values must be numbers"),
        (("gamma=0.9", "gamma=0.99"), 0, "twice"),
        ((), 4, "needs at least one --sweep"),
    ],
)
def test_bad_sweeps_say_why(specs, num_random, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("'", "'")):
        sweep.settings(specs, sac.Hyperparams, STATIC, num_random=num_random)


PARAMS_ATOL, RETURNS_RTOL = 5e-5, 1e-4


@pytest.mark.slow
def test_a_run_of_a_sweep_is_its_solo_run_until_the_first_update_then_drifts_by_rounding():
    """Bitwise until the first gradient update: the same keys, the same random-action transitions.
    Not bitwise after it: XLA lowers a batch of 4 runs and a single run to different matmul kernels
    on CPU, so sums differ in their last bits and learning amplifies that. Measured here after 300
    updates: parameters within PARAMS_ATOL (measured at most 1.2e-5 apart with SAC's log-std clipped to
    [-20, 2]; 3.2e-6 with the earlier tanh squash into [-5, 2]), eval returns within
    RETURNS_RTOL (SAC on Pendulum drifts further with more updates: 0.2-0.7% after 500, up to 1.6%
    after 1,500, in a 2x2 grid of 2 seeds)."""
    config = TrainConfig(
        agent="sac",
        agent_config=sac.Config(actor_width=16, critic_width=16, batch_size=16, learning_starts=100),
        total_steps=400,
        eval_every=200,
        eval_episodes=2,
    )
    rates, seeds = [1e-3, 1e-3, 3e-3, 3e-3], [0, 1, 0, 1]
    hp = broadcast(sac.Hyperparams(), 4).replace(learning_rate=np.asarray(rates, np.float32))
    swept_state, swept = jax.jit(jax.vmap(lambda h, k: train(config, h, k)))(hp, keys_for(seeds))
    solo_state, solo = jax.jit(lambda k: train(config, sac.Hyperparams(learning_rate=3e-3), k))(keys_for([1])[0])
    run_three = jax.tree.map(lambda x: x[3], swept_state)
    np.testing.assert_array_equal(jax.random.key_data(solo_state.key), jax.random.key_data(run_three.key))
    before_learning = slice(0, config.agent_config.learning_starts)
    for stored, solo_stored in zip(jax.tree.leaves(run_three.buffer.data), jax.tree.leaves(solo_state.buffer.data)):
        np.testing.assert_array_equal(stored[before_learning], solo_stored[before_learning])
    params = lambda state: jax.tree.leaves((state.agent.actor.variables, state.agent.critic.variables))  # noqa: E731
    for leaf, solo_leaf in zip(params(run_three), params(solo_state)):
        np.testing.assert_allclose(leaf, solo_leaf, rtol=0, atol=PARAMS_ATOL)
    np.testing.assert_allclose(np.asarray(solo["eval_return"]), np.asarray(swept["eval_return"][3]), rtol=RETURNS_RTOL)
    assert not np.allclose(swept["eval_return"][2], swept["eval_return"][3]), "seeds differ within a setting"


def run_cli(tmp_path, name, *args, devices=None):
    env = dict(os.environ)
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    out = tmp_path / name
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "sac", "--total-steps", "200", "--eval-every", "100",
         "--eval-episodes", "1", "--learning-starts", "50", "--batch-size", "16", "--actor-width", "8",
         "--critic-width", "8", "--out", str(out), *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    return result, out


def read_evals(out):
    with (out / "evals.csv").open() as f:
        return list(csv.DictReader(f))


SWEEP = ("--seeds", "2", "--sweep", "learning_rate=1e-3,3e-4", "--sweep", "gamma=0.9,0.99")


@pytest.fixture(scope="module")
def cli_sweep(tmp_path_factory):
    """The 2 x 2 sweep of 2 seeds (8 runs) on one device: (completed process, run directory)."""
    return run_cli(tmp_path_factory.mktemp("sweep"), "one", *SWEEP)


@pytest.mark.slow
def test_cli_sweep_writes_one_column_per_swept_name_and_ranks_the_settings(cli_sweep):
    result, out = cli_sweep
    assert result.returncode == 0, result.stderr
    rows = read_evals(out)
    assert list(rows[0])[:4] == ["run", "seed", "learning_rate", "gamma"]
    assert len(rows) == 8 * 2  # 2 x 2 settings x 2 seeds, 2 evaluations
    summary = json.loads((out / "summary.json").read_text())
    ranked = summary["settings"]
    assert [entry["rank"] for entry in ranked] == [1, 2, 3, 4]
    iqms = [entry["final_eval_return"]["iqm"] for entry in ranked]
    assert iqms == sorted(iqms, reverse=True)
    assert {tuple(sorted(entry["hyperparams"].items())) for entry in ranked} == {
        (("gamma", g), ("learning_rate", lr)) for lr in (1e-3, 3e-4) for g in (0.9, 0.99)
    }
    assert "#1" in result.stdout


def test_cli_refuses_a_static_sweep_and_a_sweep_that_cannot_fit_in_memory(tmp_path, capsys):
    import train as command_line

    tiny = ["sac", "--total-steps", "200", "--eval-every", "100", "--learning-starts", "50", "--batch-size", "16"]
    assert command_line.main([*tiny, "--out", str(tmp_path / "static"), "--sweep", "batch_size=16,32"]) == 2
    error = capsys.readouterr().err
    assert "batch_size is static" in error and len(error.splitlines()) == 1, error
    huge = ["--seeds", "8", "--total-steps", "2000000000", "--eval-every", "1000000000", "--buffer-size", "1000000000"]
    assert command_line.main([*tiny, "--out", str(tmp_path / "huge"), *huge]) == 2
    error = capsys.readouterr().err
    assert "GiB per device" in error and "--buffer-size" in error and len(error.splitlines()) == 1, error


@pytest.mark.slow
def test_three_devices_pad_the_runs_and_match_one_device(cli_sweep, tmp_path, capsys):
    """The 8 runs of the sweep over 3 forced host devices (padded to 9, the copy dropped) against
    1 device; equal within float tolerance (each device runs a batch of 3 instead of 8: other kernels)."""
    (one, out_one), (three, out_three) = cli_sweep, run_cli(tmp_path, "three", *SWEEP, devices=3)
    assert one.returncode == 0 and three.returncode == 0, three.stderr
    assert "on 3 device(s)" in three.stdout
    rows_one, rows_three = read_evals(out_one), read_evals(out_three)
    assert len(rows_one) == len(rows_three) == 16
    for a, b in zip(rows_one, rows_three):
        assert (a["run"], a["seed"], a["learning_rate"], a["gamma"], a["env_step"]) == (
            b["run"], b["seed"], b["learning_rate"], b["gamma"], b["env_step"])
        np.testing.assert_allclose(float(a["eval_return"]), float(b["eval_return"]), rtol=1e-4)
    # its checkpoint holds 9 runs: one device here (8 runs, no padding) refuses it before compiling
    import train as command_line

    assert command_line.main(["--resume", str(out_three)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {out_three}: its checkpoint holds 9 runs") and len(error.splitlines()) == 1, error
