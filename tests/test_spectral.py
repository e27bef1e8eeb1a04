"""The Fourier spectral probe: complexity of known functions and numpy references of each protocol,
its invariances, Neural Redshift's findings as validation (Teney et al., CVPR 2024), the probe of
every network of the suite at initialization, and the probe of a trained agent."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import crossq
from agents.engine.loop import TrainConfig
from agents.engine.off_policy import train
from probe.trained import probe_run
from networks import NetworkSpec
from probe.fourier import (
    PROTOCOLS,
    ProbeSettings,
    RedshiftMLP,
    ScalarNetwork,
    SuiteNetwork,
    complexity,
    input_grid,
    simplicity_scores,
    values_at_init,
)

PERIODIC = ProbeSettings(endpoint=False, drop_dc=True)
"""SimBa's grid and formula on the cell centers, where sin(2 pi m x / L) is exactly periodic."""
SIDE = 2.0 * PERIODIC.extent


def sine(m_x: int, m_y: int = 0, amplitude: float = 1.0) -> jax.Array:
    """amplitude * sin(2 pi (m_x x + m_y y) / L) on the 300 x 300 cell centers over [-100, 100]^2."""
    points = input_grid(PERIODIC)
    return amplitude * jnp.sin(2 * jnp.pi * (m_x * points[..., 0] + m_y * points[..., 1]) / SIDE)


@pytest.fixture
def float64():
    """The known-function tests run in float64, where the formula's exactness is visible; float32
    rounding of the FFT alone moves c by up to ~2e-4 relative (test_float32_reads_a_sine_to_1e_3)."""
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("m_x, m_y, frequency", [(1, 0, 1), (7, 0, 7), (0, 40, 40), (3, 4, 5), (149, 0, 149)])
def test_a_sine_has_the_complexity_of_its_frequency(float64, m_x, m_y, frequency):
    np.testing.assert_allclose(complexity(sine(m_x, m_y), PERIODIC), frequency, rtol=1e-9)


def test_float32_reads_a_sine_to_1e_3():
    for m in (1, 7, 40):
        np.testing.assert_allclose(complexity(sine(m), PERIODIC), m, rtol=1e-3)


def test_a_sum_of_sines_has_the_amplitude_weighted_mean_frequency(float64):
    values = sine(7, amplitude=3.0) + sine(0, 40, amplitude=1.0)
    np.testing.assert_allclose(complexity(values, PERIODIC), (3 * 7 + 1 * 40) / 4, rtol=1e-9)


def test_the_dc_term_and_the_frequency_normalization(float64):
    """f = 2 + sin(2 pi 30 x / L): |F(0)| = 2 N^2, the two sine coefficients N^2 / 2 each, so
    c = 30 N^2 / (2 N^2 + N^2) = 10 with the DC term, 30 without, and divided by the largest |k|
    (the corner, 150 sqrt 2) when normalized; mean removal is dropping the DC term."""
    values = 2.0 + sine(30)
    with_dc = dataclasses.replace(PERIODIC, drop_dc=False)
    np.testing.assert_allclose(complexity(values, with_dc), 10.0, rtol=1e-9)
    np.testing.assert_allclose(complexity(values, PERIODIC), 30.0, rtol=1e-9)
    np.testing.assert_allclose(complexity(values, dataclasses.replace(with_dc, remove_mean=True)), 30.0, rtol=1e-9)
    normalized = dataclasses.replace(with_dc, normalize_frequency=True)
    np.testing.assert_allclose(complexity(values, normalized), 10.0 / (150 * np.sqrt(2)), rtol=1e-9)


def test_a_constant_function_has_complexity_zero_without_dividing_by_zero():
    constant = jnp.full((300, 300), 3.0)
    for settings in PROTOCOLS.values():
        assert float(complexity(constant, settings)) == 0.0
    assert float(complexity(jnp.zeros((300, 300)), PERIODIC)) == 0.0


def redshift_reference(values: np.ndarray) -> float:
    """Teney et al.'s mean frequency, step by step in float64 numpy: |rfft2|, DC zeroed, rows
    0 .. N/2, magnitudes summed in bins round(|(i, j)|), normalized to sum 1, the mean bin divided
    by the largest bin round(|(N/2, N/2)|)."""
    coefficients = np.abs(np.fft.rfft2(values))
    coefficients[0, 0] = 0.0
    coefficients = coefficients[: values.shape[0] // 2 + 1]
    rows, columns = coefficients.shape
    largest = round(np.hypot(rows - 1, columns - 1))
    i, j = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    binned = np.bincount(np.rint(np.hypot(i, j)).astype(int).ravel(), coefficients.ravel(), minlength=largest + 1)
    return float((binned / binned.sum() * np.arange(largest + 1)).sum() / largest)


def windowed_reference(values: np.ndarray, window: str) -> float:
    """Mean removed, Hann-windowed or mirrored (np.pad symmetric), full FFT, exact |k| in cycles per
    original grid length, DC left out: float64 numpy."""
    size = values.shape[0]
    values = values - values.mean()
    if window == "hann":
        values = values * np.outer(np.hanning(size), np.hanning(size))
    else:
        values = np.pad(values, ((0, size), (0, size)), mode="symmetric")
    magnitudes = np.abs(np.fft.fft2(values))
    k = np.fft.fftfreq(values.shape[0], d=1.0 / values.shape[0]) * size / values.shape[0]
    frequency = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    magnitudes[0, 0] = 0.0
    return float((magnitudes * frequency).sum() / magnitudes.sum())


def test_each_protocol_matches_its_numpy_reference():
    values = np.random.default_rng(0).normal(size=(3, 40, 40)).cumsum(axis=1)
    redshift = complexity(jnp.asarray(values, jnp.float32), dataclasses.replace(PROTOCOLS["redshift"], grid_size=40))
    np.testing.assert_allclose(redshift, [redshift_reference(v) for v in values], rtol=1e-4)
    for window in ("hann", "mirror"):
        settings = dataclasses.replace(PROTOCOLS["simba-hann"], window=window)
        np.testing.assert_allclose(
            complexity(jnp.asarray(values, jnp.float32), settings), [windowed_reference(v, window) for v in values],
            rtol=1e-4,
        )


def test_scaling_a_function_leaves_its_complexity_unchanged():
    values = values_at_init(SuiteNetwork(NetworkSpec("mlp", 32, 2)), jax.random.key(0), ProbeSettings())
    for settings in PROTOCOLS.values():
        c = complexity(values, settings)
        for factor in (1e-3, -7.0, 1e3):
            np.testing.assert_allclose(complexity(factor * values, settings), c, rtol=1e-5)


# Neural Redshift's findings (Teney et al., Fig. 1: their random MLPs, every weight and bias from
# U(-A, A)), on a 64 x 64 grid over [-1, 1]^2, 24 networks of width 32 per row.
CHECK_GRID = ProbeSettings(grid_size=64, extent=1.0)
CHECK_INITS = 24


@functools.partial(jax.jit, static_argnames=("activation", "depth"))
def redshift_values(activation: str, depth: int, amplitudes: jax.Array) -> jax.Array:
    """[len(amplitudes), CHECK_INITS, 64, 64]: the same keys for every amplitude (one compilation)."""
    points = input_grid(CHECK_GRID).reshape(-1, 2)
    keys = jax.random.split(jax.random.key(0), CHECK_INITS)

    def one(amplitude, key):
        return RedshiftMLP(activation, 32, depth, amplitude)(key, points).reshape(64, 64)

    return jax.vmap(lambda amplitude: jax.vmap(lambda key: one(amplitude, key))(keys))(amplitudes)


@pytest.fixture(scope="module")
def redshift_networks():
    """name -> values [CHECK_INITS, 64, 64]."""
    amplitudes = jnp.array([1.0, 32.0])
    networks = {}
    for activation in ("relu", "tanh", "sine"):
        low, high = redshift_values(activation, 1, amplitudes)
        networks[f"{activation} A=1"], networks[f"{activation} A=32"] = low, high
    networks["tanh depth 1"], = redshift_values("tanh", 1, jnp.array([2.0]))
    networks["tanh depth 4"], = redshift_values("tanh", 4, jnp.array([2.0]))
    return networks


def confidence_interval(c: np.ndarray) -> tuple[float, float]:
    """95% bootstrap CI of the mean (2000 resamples, fixed seed)."""
    resampled = np.random.default_rng(0).choice(c, size=(2000, c.size)).mean(axis=1)
    return float(np.quantile(resampled, 0.025)), float(np.quantile(resampled, 0.975))


def clearly_above(settings: ProbeSettings, high, low) -> bool:
    """The 95% CIs of the mean c do not overlap, `high` above `low`."""
    return confidence_interval(np.asarray(complexity(high, settings)))[0] > \
        confidence_interval(np.asarray(complexity(low, settings)))[1]


VALIDATED = [dataclasses.replace(PROTOCOLS["simba-hann"], grid_size=64, extent=1.0),
             dataclasses.replace(PROTOCOLS["simba-hann"], grid_size=64, extent=1.0, window="mirror")]


@pytest.mark.slow
@pytest.mark.parametrize("settings", VALIDATED, ids=["hann", "mirror"])
def test_windowed_probes_reproduce_neural_redshift(redshift_networks, settings):
    """Sine and tanh networks grow more complex with the weight amplitude, far above ReLU at
    A = 32 (measured: hann c 3.1 for ReLU, 6.2 tanh, sine more); ReLU networks do not change
    (one hidden layer: A scales f and shifts its mean, exactly); deeper tanh networks are more complex."""
    n = redshift_networks
    assert clearly_above(settings, n["sine A=32"], n["relu A=32"])
    assert clearly_above(settings, n["tanh A=32"], n["relu A=32"])
    assert clearly_above(settings, n["tanh A=32"], n["tanh A=1"])
    assert clearly_above(settings, n["sine A=32"], n["sine A=1"])
    np.testing.assert_allclose(complexity(n["relu A=32"], settings), complexity(n["relu A=1"], settings), rtol=1e-3)
    assert clearly_above(settings, n["tanh depth 4"], n["tanh depth 1"])


@pytest.mark.slow
def test_without_a_window_the_border_jump_inverts_neural_redshift(redshift_networks):
    """SimBa's and Teney et al.'s formulas without a window, on this 64-point grid: the jump of the
    periodic extension at the border dominates every spectrum, and tanh at A = 32 scores below ReLU
    (measured: simba 9.18 against 9.85, redshift 0.209 against 0.228; with the Hann window 6.17
    against 3.11), the opposite of Teney et al.'s finding."""
    for name in ("simba", "redshift"):
        settings = dataclasses.replace(PROTOCOLS[name], grid_size=64, extent=1.0)
        tanh = float(complexity(redshift_networks["tanh A=32"], settings).mean())
        relu = float(complexity(redshift_networks["relu A=32"], settings).mean())
        assert tanh < relu, name


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


@pytest.mark.slow
def test_every_network_of_the_suite_has_a_finite_positive_score():
    """SimBa variants with RSNorm inputs (as the agents run them), MLPs without; every protocol."""
    for spec in SUITE:
        values = values_at_init(SuiteNetwork(spec, spec.kind == "simba"), jax.random.key(1), SMALL)
        for settings in PROTOCOLS.values():
            score = 1.0 / complexity(values, settings)
            assert np.isfinite(score) and score > 0, (spec, settings)


@pytest.mark.slow
def test_bias_init_redraws_only_the_dense_biases():
    """bias_init = b: Dense biases in U(-b, b), LayerNorm parameters and kernels as initialized;
    a ReLU MLP with zero biases is positively homogeneous (f(t x) = t f(x)), with biases it is not."""
    network = SuiteNetwork(NetworkSpec("simba", 8, 1), rsnorm=False, bias_init=0.5)
    points = jnp.stack([jnp.linspace(-1.0, 1.0, 16), jnp.linspace(1.0, -2.0, 16)], axis=-1)
    homogeneous = SuiteNetwork(NetworkSpec("mlp", 16, 2))
    np.testing.assert_allclose(homogeneous(jax.random.key(0), 3.0 * points),
                               3.0 * homogeneous(jax.random.key(0), points), rtol=1e-5, atol=1e-6)
    biased = dataclasses.replace(homogeneous, bias_init=0.5)
    assert not np.allclose(biased(jax.random.key(0), 3.0 * points), 3.0 * biased(jax.random.key(0), points))
    from probe.fourier import with_random_dense_biases

    params = ScalarNetwork(network.spec).init(jax.random.key(0), points[:1])["params"]
    redrawn = with_random_dense_biases(params, jax.random.key(1), 0.5)
    flat, new = jax.tree_util.tree_flatten_with_path(params)[0], jax.tree.leaves(redrawn)
    for (path, old), value in zip(flat, new):
        if path[-1].key == "bias" and str(path[-2].key).startswith("Dense"):
            assert np.all(np.abs(value) <= 0.5) and np.any(value != 0)
        else:
            np.testing.assert_array_equal(old, value)


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

    key = jax.random.key(3)
    eval_values = eval_mode_with_grid_statistics(jax.random.split(key)[0])
    probed = values_at_init(SuiteNetwork(spec), key, SMALL).ravel()
    np.testing.assert_allclose(eval_values, probed, rtol=2e-3, atol=2e-3 * float(jnp.abs(probed).max()))


def test_the_score_is_deterministic_given_the_key():
    network = SuiteNetwork(NetworkSpec("simba", 8, 1), rsnorm=True)
    first = simplicity_scores(network, jax.random.key(0), 3, SMALL)
    np.testing.assert_array_equal(first, simplicity_scores(network, jax.random.key(0), 3, SMALL))
    assert not np.allclose(first, simplicity_scores(network, jax.random.key(1), 3, SMALL))


@pytest.mark.slow
def test_the_probe_of_a_trained_agent_returns_finite_scores():
    """A 16-step CrossQ run of tiny networks with RSNorm observations (batch statistics, RSNorm
    and the critic ensemble in one run), probed on 32 x 32 planes: a score per critic and per
    action dimension."""
    agent_config = crossq.Config(
        actor_width=8, critic_width=8, batch_size=4, learning_starts=4, obs_norm="rsnorm"
    )
    config = TrainConfig(agent="crossq", agent_config=agent_config, total_steps=16, eval_every=16, eval_episodes=1)
    run, _ = jax.jit(lambda hp, key: train(config, hp, key))(crossq.Hyperparams(), jax.random.key(0))
    settings = dataclasses.replace(PROTOCOLS["simba-hann"], grid_size=32)
    critic_scores = probe_run(config, run, jax.random.key(1), "critic", n_planes=2, settings=settings)
    actor_scores = probe_run(config, run, jax.random.key(1), "actor", n_planes=2, settings=settings)
    assert critic_scores.shape == (2, 2) and actor_scores.shape == (2, 1)
    assert np.all(np.isfinite(critic_scores)) and np.all(critic_scores > 0)
    assert np.all(np.isfinite(actor_scores)) and np.all(actor_scores > 0)


@pytest.mark.parametrize("argv", [["--n-init", "0"], ["--grid-size", "0"], ["--extent", "-1"],
                                  ["--out", "/no/such/folder/probe.png"]])
def test_bad_probe_arguments_stop_with_one_error_line(argv, monkeypatch, capsys):
    from probe import fourier

    monkeypatch.setattr("sys.argv", ["fourier", *argv])
    assert fourier.main() == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_zero_planes_stop_the_trained_probe_with_one_error_line(capsys):
    from probe import trained

    assert trained.main(["/no/such/run", "--planes", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
