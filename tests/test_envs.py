"""The environment contract of docs/architecture.md, for one gymnax and one brax environment."""

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.brax_envs import DEFAULT_BACKEND

ROOT = Path(__file__).resolve().parents[1]


def rollout(env, key, actions):
    """Steps one env through `actions` [T, ...] inside lax.scan; returns the stacked Timesteps."""
    state, _ = env.reset(key)

    def body(state, inputs):
        step_key, action = inputs
        state, timestep = env.step(step_key, state, action)
        return state, timestep

    return jax.lax.scan(body, state, (jax.random.split(key, len(actions)), actions))[1]


def test_unknown_id_lists_the_available_ones():
    with pytest.raises(envs.UnknownEnvError) as error:
        envs.make("gymnax/Pendulum-v9")
    message = str(error.value)
    assert "Did you mean gymnax/Pendulum-v1" in message
    assert "brax/hopper" in message and "gymnax/CartPole-v1" in message


def test_unknown_ids_of_every_backend_are_refused_and_only_gymnax_ids_import_gymnax():
    for env_id in ("gym/Nope-v4", "mjx/Nope-v4", "brax/nope", "nope/Pendulum-v1", "Pendulum-v1"):
        with pytest.raises(envs.UnknownEnvError, match="unknown env id"):
            envs.make(env_id)
    # gymnax's import (2-3 s: it imports seaborn and scipy) is paid only by gymnax ids; a fresh process
    # because this one has imported gymnax already
    probe = "import sys, envs; envs.make('gym/InvertedPendulum-v4'); print('gymnax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stdout + out.stderr


def test_gymnax_truncation_autoreset_and_final_obs():
    env = envs.make("gymnax/Pendulum-v1", max_steps_in_episode=5)
    assert env.spec.max_episode_steps == 5 and env.spec.action_dim == 1
    steps = jax.jit(lambda key: rollout(env, key, jnp.zeros((12, 1))))(jax.random.key(3))
    ends = np.flatnonzero(np.asarray(steps.done))
    np.testing.assert_array_equal(ends, [4, 9])
    assert not np.asarray(steps.terminated).any()
    assert np.asarray(steps.truncated)[ends].all()
    np.testing.assert_array_equal(np.asarray(steps.episode_length)[ends], [5, 5])
    np.testing.assert_allclose(
        np.asarray(steps.episode_return)[4], np.asarray(steps.reward)[:5].sum(), rtol=1e-6
    )
    # final_obs is the pre-reset observation; obs is already the next episode's first one
    obs, final_obs = np.asarray(steps.obs), np.asarray(steps.final_obs)
    not_done = np.setdiff1d(np.arange(12), ends)
    np.testing.assert_array_equal(obs[not_done], final_obs[not_done])
    for end in ends:
        assert not np.allclose(obs[end], final_obs[end])
    # each reset draws a fresh initial state from the step key
    assert not np.allclose(obs[4], obs[9])


def test_a_host_id_steps_the_jittable_env_from_the_host_with_its_contract_and_seeds():
    env = envs.make("host/gymnax/Pendulum-v1", max_steps_in_episode=5)
    assert isinstance(env, envs.HostEnv) and envs.is_host_stepped(env.spec.env_id)
    assert env.spec == envs.EnvSpec("host/gymnax/Pendulum-v1", (3,), 5, action_dim=1)
    batch = env.batch([7, 8, 7])
    first = batch.reset()
    steps = [batch.step(np.full((3, 1), 0.5, np.float32)) for _ in range(7)]
    obs = np.stack([t.obs for t in steps])  # [steps, envs, 3]
    # the same seed replays the same episodes, another seed draws others, and so does a reset
    np.testing.assert_array_equal(obs[:, 0], obs[:, 2])
    assert not np.allclose(obs[:, 0], obs[:, 1])
    np.testing.assert_array_equal(batch.reset(), first)
    # the jittable env's own contract, in numpy: truncation at 5, final_obs the true last one, counters
    truncated = np.stack([t.truncated for t in steps])
    np.testing.assert_array_equal(np.flatnonzero(truncated[:, 0]), [4])
    assert isinstance(truncated, np.ndarray) and not np.stack([t.terminated for t in steps]).any()
    assert not np.allclose(steps[4].obs, steps[4].final_obs)
    np.testing.assert_array_equal(steps[3].obs, steps[3].final_obs)
    np.testing.assert_allclose(steps[4].episode_return, sum(t.reward for t in steps[:5]), rtol=1e-6)
    np.testing.assert_array_equal(steps[5].episode_length, [1, 1, 1])
    for env_id, message in (("host/gym/Hopper-v4", "host-stepped already"), ("host/mjx/Nope-v4", "unknown env id"),
                            ("host/gymnax/CartPole-v1", "continuous actions only")):
        with pytest.raises(ValueError, match=message):
            envs.make(env_id)


def test_gymnax_action_is_rescaled_to_the_bounds():
    import gymnax

    env = envs.make("gymnax/Pendulum-v1")
    raw_env, params = gymnax.make("Pendulum-v1")
    state, _ = env.reset(jax.random.key(0))
    _, timestep = env.step(jax.random.key(1), state, jnp.array([0.5]))
    step_key = jax.random.split(jax.random.key(1))[0]
    raw_obs, *_ = raw_env.step_env(step_key, state.inner, jnp.array(1.0), params)  # 0.5 * max torque 2
    np.testing.assert_allclose(timestep.obs, raw_obs, rtol=1e-6)


def test_termination_is_not_truncation_and_vmap_works():
    env = envs.make("gymnax/CartPole-v1")
    assert env.spec.num_actions == 2 and not env.spec.is_continuous
    keys = jax.random.split(jax.random.key(0), 4)
    steps = jax.jit(jax.vmap(lambda key: rollout(env, key, jnp.ones((60,), jnp.int32))))(keys)
    terminated = np.asarray(steps.terminated)
    assert terminated.any(axis=1).all(), "always pushing right must topple the pole within 60 steps"
    assert not np.asarray(steps.truncated).any()


def counting_env(limit, resets):
    """An env (time limit 5) whose state counts steps and terminates on reaching `limit`; its reset
    draws a key-dependent start in [0, 0.5) and appends to `resets` each time it is computed (a host
    callback: a reset computed and thrown away is counted too)."""
    from envs.core import EnvSpec, make_env

    def raw_reset(key):
        jax.debug.callback(lambda: resets.append(1))
        start = jax.random.uniform(key, (), maxval=0.5)
        return start, jnp.stack([start, 0.0])

    def raw_step(key, state, action):
        state = jnp.floor(state) + 1.0
        return state, jnp.stack([state, action[0]]), 1.0, state >= limit

    return make_env(EnvSpec("count", (2,), 5, action_dim=1), raw_reset, raw_step, jnp.array([-1.0]), jnp.array([1.0]))


def test_the_reset_is_computed_only_on_steps_where_an_episode_of_the_batch_ends():
    """3 vmapped envs end episodes at different steps (termination after 3 and 4 steps, a time limit
    of 5); the reset runs, for the whole batch, on exactly the steps where any env is done, and each
    env follows the contract: a fresh initial state from the step key where done, the true last
    observation in final_obs, the state carried on otherwise."""
    resets = []
    keys = jax.random.split(jax.random.key(0), 3)
    run = jax.jit(jax.vmap(lambda limit, key: rollout(counting_env(limit, resets), key, jnp.zeros((12, 1)))))
    steps = run(jnp.array([3.0, 4.0, 9.0]), keys)
    jax.effects_barrier()
    done = np.asarray(steps.done)  # [3 envs, 12 steps]
    assert [np.flatnonzero(row).tolist() for row in done] == [[2, 5, 8, 11], [3, 7, 11], [4, 9]]
    assert np.asarray(steps.truncated)[2].sum() == 2 and not np.asarray(steps.truncated)[:2].any()
    steps_with_a_done = int(done.any(axis=0).sum())  # 8 of 12
    # the callback takes no batched argument, so it runs once per batched reset: the first one, then
    # once per step with a done (a reset on every step would make 13)
    assert len(resets) == 1 + steps_with_a_done, (len(resets), steps_with_a_done)
    obs, final_obs, length = np.asarray(steps.obs), np.asarray(steps.final_obs), np.asarray(steps.episode_length)
    np.testing.assert_array_equal(obs[~done], final_obs[~done])
    np.testing.assert_array_equal(final_obs[..., 0][done], length[done])
    for row, key in enumerate(keys):
        step_keys = jax.random.split(key, 12)
        for t in np.flatnonzero(done[row]):
            fresh = jax.random.uniform(jax.random.split(step_keys[t])[1], (), maxval=0.5)
            np.testing.assert_array_equal(obs[row, t], [fresh, 0.0])
        assert len(set(obs[row, done[row], 0].tolist())) == done[row].sum()  # a fresh state per episode


@pytest.mark.slow
def test_brax_contract():
    env = envs.make("brax/inverted_pendulum", max_episode_steps=7)
    low, high = -3.0, 3.0  # the actuator's ctrl_range in brax's inverted_pendulum
    assert env.spec.action_dim == 1 and env.spec.obs_shape == (4,)
    key = jax.random.key(0)

    def check(key):
        steps = rollout(env, key, jnp.zeros((16, 1)))
        state, _ = env.reset(key)
        _, scaled = env.step(key, state, jnp.array([0.5]))
        return steps, scaled, state

    steps, scaled, state = jax.jit(check)(key)
    ends = np.flatnonzero(np.asarray(steps.done))
    np.testing.assert_array_equal(ends, [6, 13])
    assert np.asarray(steps.truncated)[ends].all() and not np.asarray(steps.terminated).any()
    obs, final_obs = np.asarray(steps.obs), np.asarray(steps.final_obs)
    assert not np.allclose(obs[6], final_obs[6])
    assert not np.allclose(obs[6], obs[13]), "auto-reset must draw a fresh initial state"

    from brax import envs as brax_envs

    raw = brax_envs.get_environment("inverted_pendulum", backend=DEFAULT_BACKEND)
    expected = raw.step(state.inner, jnp.array([low + 0.75 * (high - low)]))
    np.testing.assert_allclose(scaled.obs, expected.obs, rtol=1e-5, atol=1e-6)
