"""SimbaV2's pieces: the hypersphere projection, activations on the sphere, the layers against numpy,
the categorical (C51) target against numpy, the bounded reward scaler against numpy, and the
parameter count at the authors' sizes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agents.distributional import categorical_cross_entropy, categorical_projection, min_q_log_probs
from agents.normalizers import BoundedReturnScaler
from networks.simbav2 import (
    HyperEmbedder,
    HyperLERPBlock,
    Scaler,
    SimbaV2Actor,
    SimbaV2CriticEnsemble,
    SimbaV2Torso,
    hyper_dense,
    orthogonal_kernel,
    project_to_sphere,
)


def kernels(params):
    return [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params) if path[-1].key == "kernel"]


def random_params(seed, module, *inputs):
    """Parameters of `module`'s structure (from eval_shape, so no orthogonal initialization to
    compile): normal kernels projected onto the sphere, positive scalers and biases in [0.5, 1.5]."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(module.init, jax.random.key(0), *inputs)
    params = jax.tree_util.tree_map_with_path(
        lambda path, leaf: rng.normal(size=leaf.shape) if path[-1].key == "kernel" else rng.uniform(0.5, 1.5, leaf.shape),
        shapes,
    )
    return jax.jit(project_to_sphere)(jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), params))


def unit_norm_error(params):
    """Largest | ||column|| - 1 | over every kernel's input axis (numpy, so nothing to compile)."""
    return max(np.max(np.abs(np.linalg.norm(np.asarray(k), axis=-2) - 1.0)) for k in kernels(params))


@pytest.mark.slow
def test_projection_keeps_every_kernel_on_the_sphere_after_adam_steps():
    """Actor (2D kernels) and vmapped critics (3D kernels, normalized along axis 1 as the authors
    do): unit columns after projection and after each of 3 Adam steps on random gradients;
    scalers and biases take Adam's update untouched."""
    obs, action = jnp.ones((2, 5)), jnp.ones((2, 3))
    params = {
        "actor": random_params(0, SimbaV2Actor(width=16, depth=1, action_dim=3), obs),
        "critic": random_params(1, SimbaV2CriticEnsemble(width=16, depth=1, num_bins=11), obs, action),
    }
    # embedder + 2 per block + 2 per head: actor 1 + 2 + 4, critic 1 + 2 + 2
    assert [k.ndim for k in kernels(params["actor"])] == [2] * 7
    assert [k.ndim for k in kernels(params["critic"])] == [3] * 5
    assert unit_norm_error(params) < 1e-5
    optimizer = optax.adam(0.1)

    @jax.jit
    def adam_steps(params, grads):
        """grads: 3 steps stacked -> the parameters after each step, before and after projection."""

        def step(carry, grad):
            params, opt_state = carry
            updates, opt_state = optimizer.update(grad, opt_state)
            stepped = optax.apply_updates(params, updates)
            projected = project_to_sphere(stepped)
            return (projected, opt_state), (stepped, projected)

        return jax.lax.scan(step, (params, optimizer.init(params)), grads)[1]

    rng = np.random.default_rng(2)
    grads = jax.tree.map(lambda leaf: jnp.asarray(rng.normal(size=(3, *leaf.shape)), jnp.float32), params)
    stepped, projected = adam_steps(params, grads)
    for t in range(3):
        stepped_t, projected_t = jax.tree.map(lambda x: x[t], (stepped, projected))
        assert unit_norm_error(stepped_t) > 0.01  # the step leaves the sphere ...
        assert unit_norm_error(projected_t) < 1e-5  # ... and the projection brings it back
        for (path, before), after in zip(jax.tree_util.tree_leaves_with_path(stepped_t), jax.tree.leaves(projected_t)):
            if path[-1].key != "kernel":
                np.testing.assert_array_equal(before, after)


def test_projection_normalizes_columns_like_numpy():
    kernel = np.random.default_rng(0).normal(size=(2, 4, 3))
    projected = project_to_sphere({"w": {"kernel": jnp.asarray(kernel)}, "bias": jnp.ones(3)})
    np.testing.assert_allclose(projected["w"]["kernel"], kernel / np.linalg.norm(kernel, axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(projected["bias"], np.ones(3))


def test_initialization_scalers_start_at_init_value_and_kernels_are_orthogonal():
    """The authors' reparameterization: the parameter starts at `scale`, the forward value at
    `init_value`; HyperDense kernels [in, out] are orthogonal (orthonormal rows when in <= out)."""
    x = jnp.asarray([[1.0, -2.0, 3.0]])
    scaler = Scaler(3, init_value=0.3, scale=0.1)
    variables = scaler.init(jax.random.key(0), x)
    np.testing.assert_allclose(variables["params"]["scaler"], 0.1)
    np.testing.assert_allclose(scaler.apply(variables, x), 0.3 * x, rtol=1e-6)
    kernel = hyper_dense(12, "w").init(jax.random.key(0), jnp.ones((1, 4)))["params"]["kernel"]
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(4), atol=1e-5)


def test_orthogonal_kernel_is_jax_orthogonal_without_lapack():
    """The same kernels as jax's orthogonal(column_axis=0) from the same key, for wide, tall and
    square kernels, batched under vmap, with no LAPACK call in the compiled init (jaxlib's batched
    CPU QR can deadlock XLA's thread pool on 2 cores)."""
    keys = jax.random.split(jax.random.key(1), 3)
    for shape in [(4, 12), (12, 4), (8, 8)]:
        init = jax.vmap(lambda key: orthogonal_kernel(key, shape))
        reference = [jax.nn.initializers.orthogonal(1.0, column_axis=0)(key, shape) for key in keys]
        np.testing.assert_allclose(init(keys), np.stack(reference), atol=1e-6)
        assert "lapack" not in jax.jit(init).lower(keys).as_text().lower()


def numpy_l2(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def test_torso_matches_numpy_and_stays_on_the_sphere():
    """Width 8, depth 1, random scalers: the embedder and LERP block against numpy, each scaler's
    forward value param * init / scale with the authors' settings: sqrt(2 / 8) for the embedder,
    init and scale both divided by sqrt(4) in the block's MLP (ratio 1), alpha init 1 / 2 over
    scale 1 / sqrt(8)."""
    x = np.random.default_rng(0).normal(size=(4, 3)) * np.array([100.0, 1.0, 0.01])
    torso = SimbaV2Torso(width=8, depth=1)
    params = random_params(1, torso, jnp.asarray(x, jnp.float32))
    out = np.asarray(jax.jit(torso.apply)(params, jnp.asarray(x, jnp.float32)))
    p = jax.tree.map(np.asarray, params["params"])
    embed, block = p["HyperEmbedder_0"], p["HyperLERPBlock_0"]
    h = numpy_l2(np.concatenate([x, np.full((4, 1), 3.0)], axis=1)) @ embed["w"]["kernel"]
    h = numpy_l2(h * embed["Scaler_0"]["scaler"])
    mlp = block["HyperMLP_0"]
    inner = (h @ mlp["w1"]["kernel"]) * mlp["Scaler_0"]["scaler"]
    update = numpy_l2((np.maximum(inner, 0.0) + 1e-8) @ mlp["w2"]["kernel"])
    alpha = block["Scaler_0"]["scaler"] * 0.5 * np.sqrt(8)
    expected = numpy_l2(h + alpha * (update - h))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, rtol=1e-6)


def test_embedder_and_blocks_keep_activations_on_the_sphere_and_the_embedder_sees_the_input_scale():
    x = jax.random.normal(jax.random.key(0), (64, 6)) * 50.0
    embedder = HyperEmbedder(width=32, scaler_init=0.25, scaler_scale=0.25)
    block = HyperLERPBlock(width=32, scaler_init=0.25, scaler_scale=0.25, alpha_init=0.5, alpha_scale=0.2)
    e_params, b_params = random_params(0, embedder, x), random_params(1, block, jnp.ones((1, 32)))

    @jax.jit
    def activations(x):
        h = [embedder.apply(e_params, x)]
        for _ in range(3):
            h.append(block.apply(b_params, h[-1]))
        return jnp.stack(h), embedder.apply(e_params, 2 * x)

    h, h_doubled = activations(x)
    np.testing.assert_allclose(jnp.linalg.norm(h, axis=-1), 1.0, rtol=1e-5)
    # without c_shift, x and 2x would embed identically
    assert float(jnp.min(jnp.max(jnp.abs(h_doubled - h[0]), axis=-1))) > 1e-3


def test_actor_log_std_is_squashed_into_minus_10_to_2_and_critic_q_is_the_mean_of_its_bins():
    obs, action = jnp.ones((3, 4)), jnp.ones((3, 2))
    actor = SimbaV2Actor(width=8, depth=1, action_dim=2)
    params = random_params(0, actor, obs)
    biased = [jax.tree.map(lambda x: x, params) for _ in range(2)]
    biased[0]["params"]["log_std"]["std_bias"] = jnp.full((2,), 100.0)
    biased[1]["params"]["log_std"]["std_bias"] = jnp.full((2,), -100.0)
    _, log_std = jax.jit(jax.vmap(actor.apply, in_axes=(0, None)))(jax.tree.map(lambda *x: jnp.stack(x), *biased), obs)
    np.testing.assert_allclose(log_std[0], 2.0, atol=1e-5)
    np.testing.assert_allclose(log_std[1], -10.0, atol=1e-5)
    critic = SimbaV2CriticEnsemble(width=8, depth=1, num_bins=7, v_max=3.0, num_critics=3)
    q, log_probs = jax.jit(critic.apply)(random_params(1, critic, obs, action), obs, action)
    assert q.shape == (3, 3) and log_probs.shape == (3, 3, 7)
    np.testing.assert_allclose(jnp.exp(log_probs).sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(q, (jnp.exp(log_probs) * jnp.linspace(-3.0, 3.0, 7)).sum(-1), rtol=1e-5)


def test_parameter_count_at_the_authors_sizes():
    """configs/agent/simbaV2.yaml: actor 1 block x 128, critic 2 blocks x 512, 101 bins, two
    critics (critic_use_cdq on episodic MuJoCo); HalfCheetah dims obs 17, action 6. From
    simbaV2_layer.py (every HyperDense bias-free, a Scaler is one vector of its width):
      actor   embedder (17 + 1) * 128 + 128                       =   2,432
              block    128 * 512 + 512 + 512 * 128 + 128 (alpha)   = 131,712
              heads    2 * (128 * 128 + 128 + 128 * 6 + 6)         =  34,572   -> 168,716
      critic  embedder (17 + 6 + 1) * 512 + 512                   =  12,800
              blocks   2 * (512 * 2048 + 2048 + 2048 * 512 + 512) = 4,199,424
              head     512 * 512 + 512 + 512 * 101 + 101          =   314,469  -> 4,526,693, x 2 = 9,053,386
    """
    obs, action = jnp.zeros((1, 17)), jnp.zeros((1, 6))
    count = lambda shapes: sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes))  # noqa: E731
    key = jax.random.key(0)
    assert count(jax.eval_shape(SimbaV2Actor(128, 1, 6).init, key, obs)) == 168_716
    assert count(jax.eval_shape(SimbaV2CriticEnsemble(512, 2).init, key, obs, action)) == 9_053_386


def numpy_c51(next_probs, reward, terminated, gamma, v_max, entropy_term):
    """Algorithm 1 of Bellemare et al. (2017), one atom at a time, float64."""
    batch, bins = next_probs.shape
    support, dz = np.linspace(-v_max, v_max, bins), 2 * v_max / (bins - 1)
    target = np.zeros((batch, bins))
    for i in range(batch):
        for j in range(bins):
            t = reward[i] + gamma * (1 - terminated[i]) * (support[j] - entropy_term[i])
            b = (np.clip(t, -v_max, v_max) + v_max) / dz
            lower, upper = int(np.floor(b)), int(np.ceil(b))
            if lower == upper:
                target[i, lower] += next_probs[i, j]
            else:
                target[i, lower] += next_probs[i, j] * (upper - b)
                target[i, upper] += next_probs[i, j] * (b - lower)
    return target


def test_categorical_projection_matches_numpy_with_terminals_and_targets_beyond_the_support():
    rng = np.random.default_rng(0)
    batch, bins, v_max, gamma = 32, 11, 5.0, 0.9
    next_probs = rng.dirichlet(np.ones(bins), size=batch)
    reward = rng.uniform(-8.0, 8.0, size=batch)  # a third beyond [-5, 5] before discounting
    terminated = (rng.uniform(size=batch) < 0.3).astype(np.float64)
    entropy_term = rng.normal(size=batch)
    target = categorical_projection(
        jnp.asarray(next_probs, jnp.float32), jnp.asarray(reward, jnp.float32), jnp.asarray(terminated, jnp.float32),
        gamma, v_max, jnp.asarray(entropy_term, jnp.float32),
    )  # fmt: skip
    np.testing.assert_allclose(target, numpy_c51(next_probs, reward, terminated, gamma, v_max, entropy_term), atol=2e-6)
    np.testing.assert_allclose(target.sum(-1), 1.0, rtol=1e-5)


def test_categorical_projection_analytic_cases():
    probs = jnp.asarray([[0.1, 0.2, 0.3, 0.4, 0.0]] * 4)  # atoms -2, -1, 0, 1, 2
    reward = jnp.asarray([0.0, 1.5, 9.0, -0.25])
    terminated = jnp.asarray([0.0, 1.0, 0.0, 1.0])
    target = categorical_projection(probs, reward, terminated, gamma=1.0, v_max=2.0)
    np.testing.assert_allclose(target[0], probs[0], atol=1e-6)  # r = 0, gamma 1: unchanged
    np.testing.assert_allclose(target[1], [0, 0, 0, 0.5, 0.5], atol=1e-6)  # terminal: all mass at r, split
    np.testing.assert_allclose(target[2], [0, 0, 0, 0, 1], atol=1e-6)  # beyond v_max: the last atom
    np.testing.assert_allclose(target[3], [0, 0.25, 0.75, 0, 0], atol=1e-6)


def test_cross_entropy_and_min_q_selection():
    rng = np.random.default_rng(1)
    target = rng.dirichlet(np.ones(5), size=4)
    log_probs = np.log(rng.dirichlet(np.ones(5), size=(2, 4)))
    loss = categorical_cross_entropy(jnp.asarray(target), jnp.asarray(log_probs))
    np.testing.assert_allclose(loss, -(target[None] * log_probs).sum(-1), rtol=1e-6)
    q = np.array([[1.0, -2.0, 3.0, 0.0], [2.0, -3.0, 1.0, 0.5]])
    chosen = min_q_log_probs(jnp.asarray(q), jnp.asarray(log_probs))
    np.testing.assert_allclose(chosen, log_probs[[0, 1, 1, 0], np.arange(4)], rtol=1e-6)


def numpy_reward_normalizer(rewards, dones, gamma, g_max):
    """The authors' RewardNormalizer in float64: G = gamma (1 - done) G + r over [num_envs], then
    RunningMeanStd (mean 0, var 1, count 1e-4) of G over the envs, max |G|; returns each step's
    divisor max(sqrt(var + 1e-8), max |G| / g_max) and its first term."""
    g, mean, var, count, g_max_seen, divisors, stds = np.zeros(rewards.shape[1]), 0.0, 1.0, 1e-4, 0.0, [], []
    for reward, done in zip(rewards, dones):
        g = gamma * (1 - done) * g + reward
        delta, n = g.mean() - mean, len(g)
        total = count + n
        mean, var = mean + delta * n / total, (var * count + g.var() * n + delta**2 * count * n / total) / total
        count, g_max_seen = total, max(g_max_seen, np.abs(g).max())
        stds.append(np.sqrt(var + 1e-8))
        divisors.append(max(stds[-1], g_max_seen / g_max))
    return np.array(divisors), np.array(stds)


def test_bounded_return_scaler_matches_numpy():
    """Two envs, 300 steps, episodes of random lengths; the bound max |G| / g_max is the divisor
    early (rewards grow steadily, small variance) and the standard deviation later."""
    rng = np.random.default_rng(0)
    steps, gamma, g_max = 300, 0.97, 5.0
    rewards = np.where(np.arange(steps)[:, None] < 100, 1.0, rng.normal(0.0, 20.0, size=(steps, 2)))
    dones = (rng.uniform(size=(steps, 2)) < 0.05).astype(np.float64)
    expected, stds = numpy_reward_normalizer(rewards, dones, gamma, g_max)

    def step(scaler, row):
        scaler = scaler.update(row[0], row[1], gamma)
        return scaler, jnp.asarray(1.0) / scaler.scale(jnp.asarray(1.0), g_max)

    data = (jnp.asarray(rewards, jnp.float32), jnp.asarray(dones, jnp.float32))
    _, divisors = jax.lax.scan(step, BoundedReturnScaler.create(2), data)
    np.testing.assert_allclose(divisors, expected, rtol=2e-5)
    bound_active = expected > stds
    assert bound_active[:100].any() and not bound_active[-50:].any()


def test_bounded_return_scaler_restarts_the_return_at_the_step_that_ends_an_episode():
    scaler = BoundedReturnScaler.create(3)
    scaler = scaler.update(jnp.full((3,), 2.0), jnp.zeros(3), 0.5)
    scaler = scaler.update(jnp.full((3,), 1.0), jnp.ones(3), 0.5)
    np.testing.assert_allclose(scaler.returns, 1.0)  # not 0.5 * 2 + 1
    np.testing.assert_allclose(scaler.max_abs_return, 2.0)
