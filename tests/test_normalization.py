"""BatchRenorm against a numpy reference (Ioffe, 2017; CrossQ's settings)."""

import jax
import jax.numpy as jnp
import numpy as np

from networks import BatchRenorm

EPS, MOMENTUM = 1e-3, 0.99
X = np.random.default_rng(0).normal(loc=[2.0, -1.0, 0.0], scale=[3.0, 0.5, 1.0], size=(64, 3)).astype(np.float32)


def variables(mean, var, calls, scale=(1.5, 0.5, 2.0), bias=(0.1, -0.2, 0.3)):
    return {
        "params": {"scale": jnp.array(scale, jnp.float32), "bias": jnp.array(bias, jnp.float32)},
        "batch_stats": {
            "mean": jnp.array(mean, jnp.float32),
            "var": jnp.array(var, jnp.float32),
            "calls": jnp.array(calls, jnp.int32),
        },
    }


def reference(x, running_mean, running_var, scale, bias, warmed_up, rmax=3.0, dmax=5.0):
    x = x.astype(np.float64)
    mu, var = x.mean(0), x.var(0)
    sigma = np.sqrt(var + EPS)
    running_sigma = np.sqrt(np.asarray(running_var) + EPS)
    r = np.clip(sigma / running_sigma, 1 / rmax, rmax) if warmed_up else 1.0
    d = np.clip((mu - np.asarray(running_mean)) / running_sigma, -dmax, dmax) if warmed_up else 0.0
    y = ((x - mu) / sigma * r + d) * np.asarray(scale) + np.asarray(bias)
    new_mean = MOMENTUM * np.asarray(running_mean) + (1 - MOMENTUM) * mu
    new_var = MOMENTUM * np.asarray(running_var) + (1 - MOMENTUM) * var
    return y, new_mean, new_var


def test_init_gives_zero_mean_unit_variance_and_zero_calls():
    v = BatchRenorm().init(jax.random.key(0), X, train=True)
    np.testing.assert_array_equal(v["batch_stats"]["mean"], 0.0)
    np.testing.assert_array_equal(v["batch_stats"]["var"], 1.0)
    assert int(v["batch_stats"]["calls"]) == 0


def test_training_mode_during_warmup_is_batch_norm_and_updates_running_statistics():
    module = BatchRenorm(warmup_steps=100_000)
    v = variables(mean=[0.5, 0.5, 0.5], var=[2.0, 2.0, 2.0], calls=99_999)
    y, updated = module.apply(v, jnp.asarray(X), train=True, mutable=["batch_stats"])
    expected, new_mean, new_var = reference(X, [0.5] * 3, [2.0] * 3, (1.5, 0.5, 2.0), (0.1, -0.2, 0.3), False)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(updated["batch_stats"]["mean"], new_mean, rtol=1e-5)
    np.testing.assert_allclose(updated["batch_stats"]["var"], new_var, rtol=1e-5)
    assert int(updated["batch_stats"]["calls"]) == 100_000


def test_after_warmup_r_and_d_are_clipped():
    module = BatchRenorm(warmup_steps=100_000)
    # running stats far from the batch's: feature 0 hits r = rmax, feature 1 d = -dmax, feature 2 r = 1/rmax
    running_mean, running_var = [2.0, 3.0, 0.0], [0.01, 0.05, 25.0]
    v = variables(running_mean, running_var, calls=100_000)
    y, _ = module.apply(v, jnp.asarray(X), train=True, mutable=["batch_stats"])
    expected, _, _ = reference(X, running_mean, running_var, (1.5, 0.5, 2.0), (0.1, -0.2, 0.3), True)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    sigma = np.sqrt(X.astype(np.float64).var(0) + EPS)
    running_sigma = np.sqrt(np.array(running_var) + EPS)
    assert sigma[0] / running_sigma[0] > 3.0 and sigma[2] / running_sigma[2] < 1 / 3.0
    assert (X[:, 1].mean() - 3.0) / running_sigma[1] < -5.0


def test_r_and_d_carry_no_gradient():
    module = BatchRenorm(warmup_steps=0)
    v = variables([1.0, 0.0, 0.5], [4.0, 0.3, 1.0], calls=0)
    loss = lambda x: jnp.sum(module.apply(v, x, train=True, mutable=["batch_stats"])[0] * jnp.arange(1.0, 4.0))
    grad = jax.grad(loss)(jnp.asarray(X))

    def frozen(x):  # the same output with r and d as constants from X's statistics
        x64 = X.astype(np.float64)
        sigma = np.sqrt(x64.var(0) + EPS)
        running_sigma = np.sqrt(np.array([4.0, 0.3, 1.0]) + EPS)
        r = np.clip(sigma / running_sigma, 1 / 3, 3)
        d = np.clip((x64.mean(0) - np.array([1.0, 0.0, 0.5])) / running_sigma, -5, 5)
        mu = jnp.mean(x, 0)
        normalized = (x - mu) / jnp.sqrt(jnp.mean((x - mu) ** 2, 0) + EPS) * r + d
        return jnp.sum((normalized * v["params"]["scale"] + v["params"]["bias"]) * jnp.arange(1.0, 4.0))

    np.testing.assert_allclose(grad, jax.grad(frozen)(jnp.asarray(X)), rtol=1e-4, atol=1e-5)


def test_eval_mode_uses_running_statistics_and_changes_nothing():
    module = BatchRenorm()
    v = variables(mean=[1.0, -1.0, 0.0], var=[4.0, 0.25, 1.0], calls=5)
    y, updated = module.apply(v, jnp.asarray(X), train=False, mutable=["batch_stats"])
    expected = (X - np.array([1.0, -1.0, 0.0])) / np.sqrt(np.array([4.0, 0.25, 1.0]) + EPS)
    expected = expected * np.array([1.5, 0.5, 2.0]) + np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    for name in ("mean", "var", "calls"):
        np.testing.assert_array_equal(updated["batch_stats"][name], v["batch_stats"][name])


def test_plain_batch_norm_never_renormalizes():
    module = BatchRenorm(renorm=False, warmup_steps=0)
    v = variables([2.0, 3.0, 0.0], [0.01, 0.05, 25.0], calls=10**6)
    y, _ = module.apply(v, jnp.asarray(X), train=True, mutable=["batch_stats"])
    expected, _, _ = reference(X, [2.0, 3.0, 0.0], [0.01, 0.05, 25.0], (1.5, 0.5, 2.0), (0.1, -0.2, 0.3), False)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
