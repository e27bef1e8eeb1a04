"""TD3 and DDPG: target policy smoothing, the policy delay, exploration noise, learning Pendulum."""

import dataclasses
import functools
import pytest

import jax
import jax.numpy as jnp
import numpy as np

import envs
from agents import Transition, ddpg, td3
from rundir.stats import iqm

SPEC = envs.make("gymnax/Pendulum-v1").spec
SMALL = td3.Config(actor_width=16, critic_width=16, batch_size=8)


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    return Transition(
        obs=jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
        action=jnp.asarray(rng.uniform(-1, 1, size=(8, 1)), jnp.float32),
        reward=jnp.asarray(rng.normal(size=(8,)), jnp.float32),
        next_obs=jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
        terminated=jnp.asarray([0, 1] * 4, jnp.float32),
    )


def test_critic_target_without_smoothing_is_the_min_of_target_critics_at_the_target_action():
    hp = td3.Hyperparams(target_noise=0.0, gamma=0.9)
    state = td3.init(jax.random.key(0), SPEC, SMALL, hp)
    # make the targets differ from the online networks
    state = state.replace(
        target_actor=jax.tree.map(lambda p: p * 1.5, state.actor.variables),
        target_critic=jax.tree.map(lambda p: p * 0.5, state.critic.variables),
    )
    batch = make_batch()
    next_action = state.actor.module.apply(state.target_actor, batch.next_obs)
    next_q = np.asarray(state.critic.module.apply(state.target_critic, batch.next_obs, next_action)).min(axis=0)
    target = np.asarray(batch.reward) + 0.9 * (1 - np.asarray(batch.terminated)) * next_q
    q = np.asarray(state.critic(batch.obs, batch.action))
    expected = 0.5 * np.sum(np.mean((q - target) ** 2, axis=-1))
    loss, _ = td3.critic_loss(state.critic.params, state, batch, jax.random.key(1), hp)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_smoothing_noise_is_clipped():
    """With a huge noise std the smoothed target action is pi'(s') +- noise_clip, clipped to [-1, 1]."""
    hp = td3.Hyperparams(target_noise=1e6, noise_clip=0.3)
    state = td3.init(jax.random.key(0), SPEC, SMALL, hp)
    batch = make_batch()
    next_action = np.asarray(state.actor.module.apply(state.target_actor, batch.next_obs))
    noise = np.sign(np.asarray(jax.random.normal(jax.random.key(1), next_action.shape))) * 0.3
    smoothed = np.clip(next_action + noise, -1, 1)
    next_q = np.asarray(state.critic.module.apply(state.target_critic, batch.next_obs, smoothed)).min(axis=0)
    target = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * next_q
    q = np.asarray(state.critic(batch.obs, batch.action))
    loss, _ = td3.critic_loss(state.critic.params, state, batch, jax.random.key(1), hp)
    np.testing.assert_allclose(loss, 0.5 * np.sum(np.mean((q - target) ** 2, axis=-1)), rtol=1e-5)


def test_actor_and_targets_move_only_every_policy_delay_updates():
    """As the authors' code: the first actor update comes at the second critic update (index 1)."""
    hp = td3.Hyperparams(tau=0.5)
    state = td3.init(jax.random.key(0), SPEC, SMALL, hp)
    update = jax.jit(functools.partial(td3.update, SMALL))
    skipped, metrics = update(hp, state, make_batch(), jax.random.key(1), jnp.int32(0))
    assert np.isnan(metrics["actor_loss"])
    for name in ("actor", "target_actor", "target_critic"):
        for a, b in zip(jax.tree.leaves(getattr(skipped, name)), jax.tree.leaves(getattr(state, name))):
            np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(skipped.critic.variables), jax.tree.leaves(state.critic.variables)))
    updated, metrics = update(hp, state, make_batch(), jax.random.key(1), jnp.int32(1))
    assert np.isfinite(metrics["actor_loss"])
    for online, target, before in zip(
        jax.tree.leaves(updated.critic.variables), jax.tree.leaves(updated.target_critic), jax.tree.leaves(state.critic.variables)
    ):
        np.testing.assert_allclose(target, 0.5 * online + 0.5 * before, rtol=1e-6, atol=1e-7)


def test_exploration_adds_clipped_gaussian_noise_of_the_given_scale():
    hp = td3.Hyperparams(exploration_noise=0.1)
    state = td3.init(jax.random.key(0), SPEC, SMALL, hp)
    obs = jnp.zeros((4096, 3))
    greedy = np.asarray(td3.act(SMALL, hp, state, obs, jax.random.key(1), True))
    noisy = np.asarray(td3.act(SMALL, hp, state, obs, jax.random.key(1), False))
    assert np.all(np.abs(noisy) <= 1.0)
    np.testing.assert_allclose(np.std(noisy - greedy), 0.1, rtol=0.05)


def test_ddpg_is_td3_with_one_critic_no_smoothing_and_no_delay():
    config, hp = ddpg.PRESETS["paper"].config, ddpg.PRESETS["paper"].hyperparams
    assert (config.num_critics, config.policy_delay, hp.target_noise) == (1, 1, 0.0)
    state = ddpg.AGENT.init(jax.random.key(0), SPEC, dataclasses.replace(config, actor_width=8, critic_width=8), hp)
    assert set(state.critic.params) == {"QNetwork_0"}


@pytest.mark.slow
def test_td3_solves_pendulum(pendulum_returns):
    """64-wide networks, batch 128, learning rate 1e-3, 14k steps, 3 seeds; the IQM of the final
    return > -250. Seeds 0-8, run as these triplets, ended between -123 and -263 (triplet IQMs -184,
    -193, -182); at batch 256, between -144 and -257 at twice the run time."""
    config = td3.Config(actor_width=64, critic_width=64, learning_starts=1000, batch_size=128)
    final = pendulum_returns("td3", config, td3.Hyperparams(learning_rate=1e-3), 14000, 3500)
    assert iqm(final) > -250, final


@pytest.mark.slow
def test_ddpg_solves_pendulum(pendulum_returns):
    """64-wide networks, batch 128, learning rate 1e-3, 14k steps, 3 seeds; the IQM of the final
    return > -250. Seeds 0-8, run as these triplets, ended between -124 and -253 (triplet IQMs -182,
    -180, -180); at batch 256, between -128 and -252."""
    config = ddpg.Config(actor_width=64, critic_width=64, learning_starts=1000, batch_size=128)
    final = pendulum_returns("ddpg", config, ddpg.Hyperparams(learning_rate=1e-3), 14000, 3500)
    assert iqm(final) > -250, final
