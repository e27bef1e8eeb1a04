"""The Fourier spectral probe: complexity of known functions (numpy references), its invariances,
the probe of every network of the suite at initialization, the published ordering, and the probe
of a trained agent."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import crossq
from agents.off_policy import TrainConfig, make_loop
from agents.spectral_probe import probe_run
from networks import NetworkSpec
from networks.spectral import (
    ProbeSettings,
    ScalarNetwork,
    complexity,
    default_architectures,
    input_grid,
    parameter_count,
    radial_spectrum,
    simplicity_scores,
    values_at_init,
)

SETTINGS = ProbeSettings()
SIDE = 2.0 * SETTINGS.extent


def sine(m_x: int, m_y: int = 0, amplitude: float = 1.0) -> jax.Array:
    """amplitude * sin(2 pi (m_x x + m_y y) / L) on the default 300 x 300 grid over [-100, 100]^2."""
    points = input_grid(SETTINGS)
    return amplitude * jnp.sin(2 * jnp.pi * (m_x * points[..., 0] + m_y * points[..., 1]) / SIDE)


@pytest.fixture
def float64():
    """The known-function tests run in float64, where the binning's exactness is visible; float32
    rounding of the FFT alone moves c by up to ~2e-4 relative (test_float32_reads_a_sine_to_1e_3)."""
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("m_x, m_y, frequency", [(1, 0, 1), (7, 0, 7), (0, 40, 40), (3, 4, 5), (149, 0, 149)])
def test_a_sine_has_the_complexity_of_its_frequency(float64, m_x, m_y, frequency):
    np.testing.assert_allclose(complexity(sine(m_x, m_y), drop_dc=True), frequency, rtol=1e-9)


def test_float32_reads_a_sine_to_1e_3():
    for m in (1, 7, 40):
        np.testing.assert_allclose(complexity(sine(m), drop_dc=True), m, rtol=1e-3)


def test_a_sum_of_sines_has_the_amplitude_weighted_mean_frequency(float64):
    values = sine(7, amplitude=3.0) + sine(0, 40, amplitude=1.0)
    np.testing.assert_allclose(complexity(values, drop_dc=True), (3 * 7 + 1 * 40) / 4, rtol=1e-9)


def test_the_dc_term_and_the_frequency_normalization(float64):
    """f = 2 + sin(2 pi 30 x / L): |F(0)| = 2 N^2, the two sine coefficients N^2 / 2 each, so
    c = 30 N^2 / (2 N^2 + N^2) = 10 with the DC term, 30 without, and /150 normalized."""
    values = 2.0 + sine(30)
    np.testing.assert_allclose(complexity(values), 10.0, rtol=1e-9)
    np.testing.assert_allclose(complexity(values, drop_dc=True), 30.0, rtol=1e-9)
    np.testing.assert_allclose(complexity(values, normalize_frequency=True), 10.0 / 150, rtol=1e-9)


def test_a_constant_function_has_complexity_zero_without_dividing_by_zero():
    constant = jnp.full((300, 300), 3.0)
    assert float(complexity(constant)) == 0.0
    assert float(complexity(constant, drop_dc=True)) == 0.0
    assert float(complexity(jnp.zeros((300, 300)), drop_dc=True)) == 0.0


def test_the_radial_spectrum_matches_a_numpy_reference():
    """float64 numpy: |fft2| summed by round(|k|) over both signs of each frequency, k <= N // 2."""
    values = np.random.default_rng(0).normal(size=(3, 40, 40))
    k = np.fft.fftfreq(40, d=1 / 40)
    bins = np.rint(np.hypot(*np.meshgrid(k, k, indexing="ij"))).astype(int).ravel()
    reference = [np.bincount(bins, np.abs(np.fft.fft2(v)).ravel())[:21] for v in values]
    np.testing.assert_allclose(radial_spectrum(jnp.asarray(values, jnp.float32)), reference, rtol=1e-4)


def test_scaling_a_function_leaves_its_complexity_unchanged():
    values = values_at_init(NetworkSpec("mlp", 32, 2), jax.random.key(0), False, SETTINGS)
    for drop_dc in (False, True):
        c = complexity(values, drop_dc)
        for factor in (1e-3, -7.0, 1e3):
            np.testing.assert_allclose(complexity(factor * values, drop_dc), c, rtol=1e-5)


SMALL = ProbeSettings(grid_size=32)
SUITE = [
    NetworkSpec("mlp", 16, 2),
    NetworkSpec("mlp", 16, 3, "batch_norm"),
    NetworkSpec("mlp", 16, 1, "batch_renorm"),
    NetworkSpec("simba", 8, 1),
    NetworkSpec("simba", 8, 2, residual=False),
    NetworkSpec("simba", 8, 2, post_norm=False),
    NetworkSpec("simba", 8, 3, "none", expansion=2),
    NetworkSpec("simba", 8, 1, "batch_renorm"),
]


def test_every_network_of_the_suite_has_a_finite_positive_score():
    """SimBa variants with RSNorm inputs (as the agents run them), MLPs without."""
    for spec in SUITE:
        values = values_at_init(spec, jax.random.key(1), spec.kind == "simba", SMALL)
        score = 1.0 / complexity(values)
        assert np.isfinite(score) and score > 0, spec


def test_batch_normalized_networks_are_probed_in_eval_mode_with_the_grid_statistics():
    """Running statistics recovered from one training step over the grid (momentum 0.99 from
    mean 0, var 1) and then used in eval mode give the probe's function."""
    spec = NetworkSpec("mlp", 16, 2, "batch_renorm")
    network = ScalarNetwork(spec)
    points = input_grid(SMALL).reshape(-1, 2)

    def grid_statistics(path, moved):
        start = {"mean": 0.0, "var": 1.0}.get(path[-1].key)
        return moved if start is None else (moved - 0.99 * start) / 0.01

    @jax.jit
    def eval_mode_with_grid_statistics(key):
        variables = network.init(key, points[:1])
        _, updated = network.apply(variables, points, train=True, mutable=["batch_stats"])
        stats = jax.tree_util.tree_map_with_path(grid_statistics, updated["batch_stats"])
        return network.apply({"params": variables["params"], "batch_stats": stats}, points)

    eval_values = eval_mode_with_grid_statistics(jax.random.key(3))
    probed = values_at_init(spec, jax.random.key(3), False, SMALL).ravel()
    np.testing.assert_allclose(eval_values, probed, rtol=2e-3, atol=2e-3 * float(jnp.abs(probed).max()))


def test_the_score_is_deterministic_given_the_key():
    spec = NetworkSpec("simba", 8, 1)
    first = simplicity_scores(spec, jax.random.key(0), 3, True, SMALL)
    np.testing.assert_array_equal(first, simplicity_scores(spec, jax.random.key(0), 3, True, SMALL))
    assert not np.allclose(first, simplicity_scores(spec, jax.random.key(1), 3, True, SMALL))


def test_simba_scores_higher_than_the_mlp_at_the_published_protocol():
    """The published grid (300 x 300 over [-100, 100]^2, DC kept), the default comparison's
    architectures at a quarter of its width and 20 initializations instead of 100 (for time); the
    full default is in README's table. The margin is small (0.0299 against 0.0285 here, about one
    standard error of the difference): the fixed key keeps the test deterministic, it does not
    make the published gap large."""
    architectures = {a.name: a for a in default_architectures(simba_width=16, blocks=2)}
    mlp, simba = architectures["mlp"], architectures["simba (+ post layernorm)"]
    assert parameter_count(mlp.spec) == parameter_count(simba.spec)
    key = jax.random.key(0)
    mlp_scores = simplicity_scores(mlp.spec, key, 20, mlp.rsnorm, SETTINGS)
    simba_scores = simplicity_scores(simba.spec, key, 20, simba.rsnorm, SETTINGS)
    assert float(simba_scores.mean()) > float(mlp_scores.mean())


def test_the_probe_of_a_trained_agent_returns_finite_scores():
    """A 16-step CrossQ run of tiny networks with RSNorm observations (batch statistics, RSNorm
    and the critic ensemble in one run), probed on 32 x 32 planes: a score per critic and per
    action dimension."""
    agent_config = crossq.Config(
        actor_width=8, critic_width=8, batch_size=4, learning_starts=4, obs_norm="rsnorm"
    )
    config = TrainConfig("crossq", agent_config, total_steps=16, eval_every=16, eval_episodes=1)
    loop = make_loop(config)
    run, _ = jax.jit(loop.train)(jax.tree.map(jnp.asarray, crossq.Hyperparams()), jax.random.key(0))
    critic_scores = probe_run(config, run, jax.random.key(1), "critic", n_planes=2, settings=SMALL)
    actor_scores = probe_run(config, run, jax.random.key(1), "actor", n_planes=2, settings=SMALL)
    assert critic_scores.shape == (2, 2) and actor_scores.shape == (2, 1)
    assert np.all(np.isfinite(critic_scores)) and np.all(critic_scores > 0)
    assert np.all(np.isfinite(actor_scores)) and np.all(actor_scores > 0)
