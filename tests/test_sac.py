import jax
import jax.numpy as jnp
import numpy as np

import envs
from agents import Transition, sac
from networks import CriticEnsemble, NetworkSpec, tanh_gaussian_sample


def test_tanh_gaussian_log_prob_matches_numpy_change_of_variables():
    mean = jnp.array([[0.3, -1.2], [2.5, 0.0]])
    log_std = jnp.array([[-0.5, 0.1], [0.4, -2.0]])
    key = jax.random.key(7)
    action, log_prob = tanh_gaussian_sample(mean, log_std, key)
    noise = np.asarray(jax.random.normal(key, mean.shape), np.float64)
    std = np.exp(np.asarray(log_std, np.float64))
    u = np.asarray(mean, np.float64) + std * noise
    gaussian = -0.5 * ((u - np.asarray(mean)) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    expected = np.sum(gaussian - np.log(1.0 - np.tanh(u) ** 2), axis=-1)
    np.testing.assert_allclose(action, np.tanh(u), rtol=1e-5)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4)


def test_critics_are_initialized_independently():
    critic = CriticEnsemble(NetworkSpec(width=16), num_critics=2)
    params = critic.init(jax.random.key(0), jnp.zeros((1, 3)), jnp.zeros((1, 1)))["params"]
    first, second = jax.tree.leaves(params["QNetwork_0"]), jax.tree.leaves(params["QNetwork_1"])
    assert len(first) == len(second) == 6
    for a, b in zip(first, second):
        assert a.shape == b.shape
        if np.any(a != 0):  # biases start at zero in both
            assert not np.allclose(a, b)


CONFIG = sac.Config(actor_width=16, critic_width=16)


def make_state():
    spec = envs.make("gymnax/Pendulum-v1").spec
    return sac.init(jax.random.key(0), spec, CONFIG, sac.Hyperparams())


def batch(next_obs, terminated):
    return Transition(
        obs=jnp.ones((4, 3)),
        action=jnp.zeros((4, 1)),
        reward=jnp.ones((4,)),
        next_obs=next_obs,
        terminated=jnp.full((4,), terminated),
    )


def test_bootstraps_through_truncation_but_not_termination():
    state, hp = make_state(), sac.Hyperparams()
    key = jax.random.key(1)
    loss = lambda b: sac.critic_loss(state.critic.params, state, b, key, hp)[0]
    obs_a, obs_b = jnp.zeros((4, 3)), jnp.full((4, 3), 5.0)
    # terminated: target = reward, whatever the next observation
    np.testing.assert_allclose(loss(batch(obs_a, 1.0)), loss(batch(obs_b, 1.0)))
    q = state.critic(jnp.ones((4, 3)), jnp.zeros((4, 1)))
    np.testing.assert_allclose(loss(batch(obs_a, 1.0)), 0.5 * jnp.sum(jnp.mean((q - 1.0) ** 2, -1)), rtol=1e-5)
    # not terminated (e.g. truncated by the time limit): the next state's value enters the target
    assert not np.allclose(loss(batch(obs_a, 0.0)), loss(batch(obs_b, 0.0)))


def test_update_moves_every_parameter_group_and_polyak_averages_the_target():
    state, hp = make_state(), sac.Hyperparams(tau=0.5)
    new_state, metrics = jax.jit(sac.update, static_argnums=0)(CONFIG, hp, state, batch(jnp.zeros((4, 3)), 0.0), jax.random.key(2), 0)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    for name in ("actor", "critic", "log_alpha"):
        before, after = jax.tree.leaves(getattr(state, name)), jax.tree.leaves(getattr(new_state, name))
        assert any(not np.allclose(b, a) for b, a in zip(before, after)), name
    for old, new, target in zip(
        jax.tree.leaves(state.critic.variables),
        jax.tree.leaves(new_state.critic.variables),
        jax.tree.leaves(new_state.target_critic),
    ):
        np.testing.assert_allclose(target, 0.5 * old + 0.5 * new, rtol=1e-5, atol=1e-7)
