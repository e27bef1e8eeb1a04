"""The real gymnasium MuJoCo tasks, host-stepped: the step contract, seeds, the loop and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import envs

ROOT = Path(__file__).resolve().parents[1]
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
