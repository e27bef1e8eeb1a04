"""Truncation where it is kept: the transitions the loops store, read back at both kinds of episode end.

The fused off-policy loop and the PPO rollout run on a counting env with a known time limit and
known terminal states, and so does the host-stepped loop, with the counting env behind a `host/` id
(envs/host_envs.py); the host-stepped loop on gym/InvertedPendulum-v4 with a short time limit,
its stored transitions compared with the Timesteps the host envs returned.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import envs
from agents import ddpg, ppo
from agents.engine import on_policy
from agents.engine.batching import broadcast, keys_for, runs_mesh
from agents.engine.host_loop import HostRuns
from agents.engine.loop import TrainConfig
from agents.engine.off_policy import train
from envs import host_envs
from envs.core import EnvSpec, make_env

TIME_LIMIT, TERMINAL_COUNT = 4, 3


def counting_env() -> envs.Env:
    """obs = [steps into the episode, the episode's marker u ~ U(0, 1) drawn at reset]. An episode
    with u < 0.5 terminates on its 3rd step (obs [3, u]); the others hit the time limit, 4 steps."""

    def reset(key):
        marker = jax.random.uniform(key)
        return (jnp.zeros(()), marker), jnp.stack([jnp.zeros(()), marker])

    def step(key, state, action):
        count, marker = state
        count = count + 1
        return (count, marker), jnp.stack([count, marker]), jnp.ones(()), (count == TERMINAL_COUNT) & (marker < 0.5)

    spec = EnvSpec("test/counting", obs_shape=(2,), max_episode_steps=TIME_LIMIT, action_dim=1)
    return make_env(spec, reset, step, jnp.array([-1.0]), jnp.array([1.0]))


def counting_config(env_id: str) -> TrainConfig:
    """DDPG on the counting env: 64 env steps on 2 envs, all of them kept in the replay buffer."""
    return TrainConfig(
        agent="ddpg",
        agent_config=ddpg.Config(actor_width=8, critic_width=8, batch_size=8, learning_starts=40, buffer_size=64),
        env=env_id,
        total_steps=64,
        eval_every=32,
        eval_episodes=1,
        num_envs=2,
    )


def check_episode_ends(obs, next_obs, terminated):
    """obs, next_obs: [n, 2] of the counting env; terminated: [n]. Every stored next observation is the
    one the step reached (never the next episode's first), and only terminal states are terminated."""
    obs, next_obs, terminated = np.asarray(obs), np.asarray(next_obs), np.asarray(terminated)
    np.testing.assert_array_equal(next_obs[:, 0], obs[:, 0] + 1)
    np.testing.assert_array_equal(next_obs[:, 1], obs[:, 1])
    terminal = (next_obs[:, 0] == TERMINAL_COUNT) & (next_obs[:, 1] < 0.5)
    time_limit = next_obs[:, 0] == TIME_LIMIT
    assert terminal.sum() >= 3 and time_limit.sum() >= 3, "both kinds of episode end must be stored"
    np.testing.assert_array_equal(terminated, terminal.astype(np.float32))


@pytest.mark.slow
def test_the_fused_loop_stores_final_obs_and_terminated_at_both_kinds_of_episode_end(monkeypatch):
    monkeypatch.setattr(envs, "make", lambda env_id, **kwargs: counting_env())
    config = counting_config("test/counting")
    state, _ = jax.jit(lambda hp, key: train(config, hp, key))(ddpg.Hyperparams(), jax.random.key(0))
    data = state.buffer.data
    assert int(state.buffer.size) == 64
    check_episode_ends(data.obs, data.next_obs, data.terminated)


@pytest.mark.slow
def test_the_host_loop_stepping_a_jittable_env_stores_final_obs_and_terminated_at_both_kinds_of_episode_end(monkeypatch):
    monkeypatch.setattr(envs, "make", lambda env_id, **kwargs: host_envs.make(counting_env(), "test/counting"))
    config = counting_config("host/test/counting")
    runs = HostRuns(config, broadcast(ddpg.Hyperparams(), 1), keys_for([0]), [0], runs_mesh())
    runs.compile()
    state = runs.run_period(runs.run_period(runs.init(), 0)[0], 1)[0]
    data = jax.tree.map(lambda x: np.asarray(x[0]), state.buffer.data)
    assert int(state.buffer.size[0]) == 64
    check_episode_ends(data.obs, data.next_obs, data.terminated)


@pytest.mark.slow
def test_the_host_loop_stores_final_obs_and_terminated_at_both_kinds_of_episode_end(monkeypatch):
    """InvertedPendulum under uniform random actions falls within 3 to 8 steps: a time limit of 5
    gives both kinds of end. The stored transitions must be the host Timesteps' final_obs and terminated."""
    make = envs.make
    monkeypatch.setattr(envs, "make", lambda env_id, **kwargs: make(env_id, max_episode_steps=5))
    config = TrainConfig(
        agent="ddpg",
        agent_config=ddpg.Config(actor_width=8, critic_width=8, batch_size=8, learning_starts=30, buffer_size=60),
        env="gym/InvertedPendulum-v4",
        total_steps=60,
        eval_every=60,
        eval_episodes=1,
    )
    runs = HostRuns(config, broadcast(ddpg.Hyperparams(), 1), keys_for([0]), [0], runs_mesh())
    runs.compile()
    stepped = []
    host_step = runs.train_envs.step
    runs.train_envs.step = lambda actions: stepped.append(host_step(actions)) or stepped[-1]
    state = runs.init()
    state, _ = runs.run_period(state, 0)
    final_obs = np.concatenate([t.final_obs for t in stepped])
    terminated = np.concatenate([t.terminated for t in stepped])
    truncated = np.concatenate([t.truncated for t in stepped])
    assert terminated.sum() >= 2 and truncated.sum() >= 2, "both kinds of episode end must be stepped"
    data = jax.tree.map(lambda x: np.asarray(x[0]), state.buffer.data)
    np.testing.assert_array_equal(data.next_obs, final_obs)
    np.testing.assert_array_equal(data.terminated, terminated.astype(np.float32))
    # each stored obs is the previous step's obs (the next episode's first after an end)
    np.testing.assert_array_equal(data.obs[1:], np.concatenate([t.obs for t in stepped])[:-1])


@pytest.mark.slow
def test_the_ppo_rollout_holds_final_obs_and_terminated_at_both_kinds_of_episode_end(monkeypatch):
    monkeypatch.setattr(envs, "make", lambda env_id, **kwargs: counting_env())
    rollouts = []

    def update(config, hp, state, rollout, key):
        jax.debug.callback(lambda r: rollouts.append(r), rollout)
        return ppo.update(config, hp, state, rollout, key)

    monkeypatch.setitem(agents.AGENTS, "ppo", dataclasses.replace(ppo.AGENT, update=update))
    config = TrainConfig(
        agent="ppo",
        agent_config=ppo.Config(actor_width=8, critic_width=8, num_steps=16, num_minibatches=2),
        env="test/counting",
        total_steps=64,
        eval_every=32,
        eval_episodes=1,
        num_envs=2,
    )
    jax.block_until_ready(jax.jit(lambda hp, key: on_policy.train(config, hp, key))(ppo.Hyperparams(), jax.random.key(0)))
    assert len(rollouts) == 2  # one per rollout: 2 envs x 16 steps each, 64 env steps
    rollout = jax.tree.map(lambda *rows: np.concatenate([np.asarray(r).reshape(-1, *r.shape[2:]) for r in rows]), *rollouts)
    check_episode_ends(rollout.obs, rollout.final_obs, rollout.terminated)
    episode_end = (np.asarray(rollout.final_obs)[:, 0] == TIME_LIMIT) | (np.asarray(rollout.terminated) == 1)
    np.testing.assert_array_equal(rollout.done, episode_end.astype(np.float32))
