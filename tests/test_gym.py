"""The real gymnasium MuJoCo tasks, host-stepped: the step contract, seeds, the loop and the CLI."""

import csv
import pytest
import json

import gymnasium
import jax
import numpy as np

import envs
import train
from agents import sac
from agents.engine.batching import broadcast, keys_for, runs_mesh
from agents.engine.host_loop import HostRuns
from agents.engine.loop import TrainConfig

PUSH = np.ones((2, 1), np.float32)  # full force to one side: the pole falls (termination) in a few steps


def rollout(batch, actions, steps):
    """Steps `batch` with the same actions `steps` times; the Timestep fields stacked [steps, n, ...]."""
    timesteps = [batch.step(actions) for _ in range(steps)]
    return type(timesteps[0])(*(np.stack(field) for field in zip(*timesteps)))


def test_termination_is_gymnasium_s_and_the_final_observation_is_the_true_last_one():
    env = envs.make("gym/InvertedPendulum-v4")
    assert env.spec.obs_shape == (4,) and env.spec.action_dim == 1 and env.spec.max_episode_steps == 1000
    batch = env.batch([3, 4])
    first = batch.reset()
    steps = rollout(batch, PUSH, 12)
    assert not steps.truncated.any()
    ends = np.flatnonzero(steps.terminated[:, 0])
    assert len(ends) >= 1, "full force must topple the pole within 12 steps"
    end = ends[0]
    # replay the same seed in plain gymnasium: the action 1 in [-1, 1] is the bound 3.0 of [-3, 3]
    raw = gymnasium.make("InvertedPendulum-v4")
    obs, _ = raw.reset(seed=3)
    np.testing.assert_allclose(first[0], obs, rtol=1e-6)
    for t in range(end + 1):
        obs, reward, terminated, truncated, _ = raw.step(np.array([3.0], np.float32))
        np.testing.assert_allclose(steps.final_obs[t, 0], obs, rtol=1e-5, atol=1e-7)
        assert steps.terminated[t, 0] == terminated and steps.reward[t, 0] == reward
    assert steps.episode_length[end, 0] == end + 1 and steps.episode_return[end, 0] == steps.reward[: end + 1, 0].sum()
    # obs is already the next episode's first observation, a fresh reset near upright and at rest
    assert not np.allclose(steps.obs[end, 0], steps.final_obs[end, 0])
    assert np.abs(steps.obs[end, 0]).max() < 0.011 and np.abs(steps.final_obs[end, 0, 1]) > 0.2
    # the following episode's counters start again
    assert steps.episode_length[end + 1, 0] == 1


def test_the_time_limit_truncates_and_is_not_termination():
    batch = envs.make("gym/InvertedPendulum-v4", max_episode_steps=5).batch([0, 1])
    batch.reset()
    steps = rollout(batch, np.zeros((2, 1), np.float32), 12)
    np.testing.assert_array_equal(np.flatnonzero(steps.truncated[:, 0]), [4, 9])
    assert steps.truncated[[4, 9]].all() and not steps.terminated.any()
    np.testing.assert_array_equal(steps.episode_length[4], [5, 5])
    np.testing.assert_array_equal(steps.obs[:4], steps.final_obs[:4])
    assert not np.allclose(steps.obs[4], steps.final_obs[4])
    assert not np.allclose(steps.obs[4], steps.obs[9]), "each reset draws a fresh initial state"


def test_seeds_give_independent_episodes_and_the_same_seed_replays_them():
    env = envs.make("gym/HalfCheetah-v4", max_episode_steps=3)
    actions = np.random.default_rng(0).uniform(-1, 1, (3, 6)).astype(np.float32)
    actions[2] = actions[0]
    batch = env.batch([7, 8, 7])
    first = batch.reset()
    steps = rollout(batch, actions, 7)  # two resets on the way
    assert not np.allclose(first[0], first[1]) and not np.allclose(steps.obs[:, 0], steps.obs[:, 1])
    np.testing.assert_array_equal(steps.obs[:, 0], steps.obs[:, 2])
    again = env.batch([7])
    np.testing.assert_array_equal(again.reset()[0], first[0])
    np.testing.assert_array_equal(rollout(again, actions[:1], 7).obs[:, 0], steps.obs[:, 0])
    # resetting from the seeds again (as every evaluation does) replays the same first episode
    np.testing.assert_array_equal(batch.reset(), first)


def test_envs_stepped_on_threads_give_what_they_give_stepped_one_after_another():
    """EnvBatch(threads=3) steps 5 Hopper envs (terminations and resets included) exactly as one thread does."""
    from envs.gym_envs import EnvBatch

    env = envs.make("gym/Hopper-v4", max_episode_steps=12)
    actions = np.random.default_rng(1).uniform(-1, 1, (60, 5, 3)).astype(np.float32)
    results = []
    for threads in (1, 3):
        batch = env.batch(range(5))
        batch = EnvBatch(batch.envs, batch.seeds, threads)
        assert len(batch.slices) == threads and (batch.pool is None) == (threads == 1)
        batch.reset()
        results.append([batch.step(a) for a in actions])
    serial, threaded = (type(r[0])(*(np.stack(field) for field in zip(*r))) for r in results)
    assert serial.terminated.any() and serial.truncated.any()
    for name, field in serial._asdict().items():
        np.testing.assert_array_equal(getattr(threaded, name), field, err_msg=name)


def test_mujoco_s_warnings_become_one_python_warning_and_no_log_file(tmp_path, monkeypatch):
    """HalfCheetah's model uses the deprecated `settotalmass`: MuJoCo warns at every model load,
    printing and appending to MUJOCO_LOG.TXT in the working directory, unless a handler is set."""
    import warnings

    import mujoco

    from envs.gym_envs import MujocoWarning

    monkeypatch.chdir(tmp_path)
    mujoco.set_mju_user_warning(None)  # as in a fresh process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        envs.make("mjx/HalfCheetah-v4")
        env = envs.make("gym/HalfCheetah-v4")
        env.batch([0, 1, 2]).reset()
    assert mujoco.get_mju_user_warning() is not None
    (warning,) = [w for w in caught if issubclass(w.category, MujocoWarning)]  # several model loads, one warning
    assert "settotalmass" in str(warning.message)
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_an_unknown_gym_id_stops_with_suggestions(capsys):
    assert train.main(["sac", "--env", "gym/HalfCheetah-v3"], check_only=True) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: unknown env id 'gym/HalfCheetah-v3'. Did you mean gym/HalfCheetah-v5 or gym/HalfCheetah-v4")


@pytest.mark.slow
def test_the_cli_writes_a_run_directory_and_freezes_a_diverging_run(tmp_path, capsys):
    out = tmp_path / "run"
    code = train.main([
        "sac", "--env", "gym/InvertedPendulum-v4", "--seeds", "2", "--total-steps", "200", "--eval-every", "100",
        "--eval-episodes", "2", "--learning-starts", "50", "--batch-size", "32", "--actor-width", "16",
        "--critic-width", "16", "--sweep", "learning_rate=1e-3,1e9", "--out", str(out),
    ])
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"config.json", "evals.csv", "summary.json", "curves.png"}
    assert json.loads((out / "config.json").read_text())["run"]["env"] == "gym/InvertedPendulum-v4"
    with open(out / "evals.csv") as file:
        rows = list(csv.DictReader(file))
    assert [(r["run"], r["env_step"]) for r in rows] == [(str(run), str(step)) for step in (100, 200) for run in range(4)]
    healthy = [r for r in rows if r["learning_rate"] == "0.001"]
    # InvertedPendulum pays 1 per step the pole stays up: the return is the episode's length
    assert all(float(r["eval_return"]) == float(r["eval_length"]) >= 1 for r in healthy), healthy
    summary = json.loads((out / "summary.json").read_text())
    assert sorted((d["run"], d["seed"]) for d in summary["diverged"]) == [(2, 0), (3, 1)]
    assert all(r["eval_return"] == "nan" for r in rows if r["learning_rate"] == "1e+09")
    printed = capsys.readouterr().out
    assert "sac on gym/InvertedPendulum-v4: 2 seeds x 2 settings" in printed and "diverged (NaN/Inf)" in printed


@pytest.mark.slow
def test_sac_balances_the_inverted_pendulum_and_the_same_seed_replays_its_run():
    """Runs of seeds 0, 1 and 0 again, vmapped; about 40 s on a 2-core CPU. Each seed must reach the
    maximum return 1000 at one of the evaluations (every 1000 steps) within 6000 env steps.

    Measured with these settings, seeds 0-5 first reach 1000 at 5000, 4000, 6000, 4000, 4000 and
    5000 steps, seeds 6-11 at 3000, 6000, 3000, 5000, 4000 and 5000 (12 of 12 by 6000; seeds 0 and 1
    with 1000 and 2000 steps to spare). With UTD 1 instead of 4, 4 of 6 seeds stay below 300 at 8000 steps.
    """
    config = TrainConfig(
        agent="sac",
        agent_config=sac.Config(actor_width=64, critic_width=64, batch_size=128, learning_starts=1000, utd=4),
        env="gym/InvertedPendulum-v4",
        total_steps=6000,
        eval_every=1000,
        eval_episodes=2,
    )
    seeds = [0, 1, 0]
    hp = broadcast(sac.Hyperparams(learning_rate=1e-3), len(seeds))
    runs = HostRuns(config, hp, keys_for(seeds), seeds, runs_mesh())
    runs.compile()
    state, returns = runs.init(), []
    for period in range(config.num_evals):
        state, metrics = runs.run_period(state, period)
        returns.append(np.asarray(metrics["eval_return"]))
    returns = np.stack(returns, axis=1)
    assert (returns.max(axis=1) == 1000).all(), returns
    np.testing.assert_array_equal(returns[0], returns[2])
    for leaf in jax.tree.leaves(state.agent):
        np.testing.assert_array_equal(leaf[0], leaf[2])
    assert not np.array_equal(jax.tree.leaves(state.agent)[0][0], jax.tree.leaves(state.agent)[0][1])
