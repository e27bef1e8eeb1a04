"""XQC's weight normalization (networks/weight_norm.py) against a numpy reference, the weight decay
mask of agents/xqc.py, and the LAPACK-free orthogonal initializer (networks/mlp.py)."""

import jax
import jax.numpy as jnp
import numpy as np

from agents import crossq_wn, xqc
from networks import NetworkSpec, TanhGaussianActor
from networks.mlp import orthogonal
from networks.weight_norm import project


def actor_params():
    actor = TanhGaussianActor(NetworkSpec("mlp", 6, 2, "batch_norm"), 3)
    return actor.init(jax.random.key(1), jnp.ones((2, 4)))["params"]


def unit_rows(kernel, bias=None):
    """numpy: each output unit's weights [in] (bias appended) divided by their norm."""
    weights = kernel if bias is None else np.concatenate([kernel, bias[None]], axis=0)
    norm = np.sqrt((weights.astype(np.float64) ** 2).sum(axis=0))
    return kernel / norm, None if bias is None else bias / norm


def test_hidden_layers_with_their_biases_and_the_output_kernels_have_unit_norm():
    params = jax.tree.map(lambda p: p + 0.3, actor_params())  # nonzero biases
    for last_layer in (True, False):
        projected = project(params, last_layer)
        for name in ("Dense_0", "Dense_1"):  # the torso's hidden layers, bias included
            kernel, bias = unit_rows(np.asarray(params["MLP_0"][name]["kernel"]), np.asarray(params["MLP_0"][name]["bias"]))
            np.testing.assert_allclose(projected["MLP_0"][name]["kernel"], kernel, rtol=1e-5)
            np.testing.assert_allclose(projected["MLP_0"][name]["bias"], bias, rtol=1e-5)
        for head in ("Dense_0", "Dense_1"):  # mean and log-std: kernel alone, bias untouched
            expected = unit_rows(np.asarray(params[head]["kernel"]))[0] if last_layer else params[head]["kernel"]
            np.testing.assert_allclose(projected[head]["kernel"], expected, rtol=1e-5)
            np.testing.assert_array_equal(projected[head]["bias"], params[head]["bias"])
        np.testing.assert_array_equal(projected["MLP_0"]["BatchRenorm_0"]["scale"], params["MLP_0"]["BatchRenorm_0"]["scale"])


def test_weight_decay_reaches_the_batch_norms_and_unnormalized_output_layers_only():
    params = actor_params()
    wn = crossq_wn.PRESETS["paper"].config  # decay_bn, output kernels not normalized
    mask = xqc.decay_mask(params, wn, 0.01)
    assert jax.tree.structure(mask) == jax.tree.structure(params)
    assert all(np.ndim(leaf) == 0 for leaf in jax.tree.leaves(mask))  # a scalar per array, nothing built at full size
    assert float(mask["MLP_0"]["Dense_0"]["kernel"]) == 0.0 and float(mask["MLP_0"]["Dense_0"]["bias"]) == 0.0
    assert float(mask["MLP_0"]["BatchRenorm_1"]["scale"]) == 0.01
    assert float(mask["Dense_1"]["kernel"]) == 0.01 and float(mask["Dense_1"]["bias"]) == 0.01
    paper = xqc.PRESETS["paper"].config  # output kernels normalized, no decay_bn: nothing decayed
    assert all(float(leaf) == 0.0 for leaf in jax.tree.leaves(xqc.decay_mask(params, paper, 0.01)))


def test_orthogonal_kernels_under_the_runs_axis():
    keys = jax.random.split(jax.random.key(0), 3)
    for shape in ((48, 32), (32, 48)):
        kernels = np.asarray(jax.jit(jax.vmap(lambda key: orthogonal(2**0.5)(key, shape)))(keys), np.float64)
        for kernel in kernels:
            gram = kernel.T @ kernel if shape[0] >= shape[1] else kernel @ kernel.T
            np.testing.assert_allclose(gram, 2.0 * np.eye(32), atol=1e-5)
        assert not np.allclose(kernels[0], kernels[1])
