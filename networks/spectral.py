"""The Fourier spectral probe of simplicity bias (Teney et al., CVPR 2024; SimBa, Lee et al., ICLR 2025).

A function f sampled on an N x N uniform grid has the 2-D DFT F(kx, ky), kx, ky in cycles per grid
length (the integers -N/2 .. N/2 - 1 of the full FFT, both signs). Magnitudes are binned by the
radial frequency k = round(sqrt(kx^2 + ky^2)) for k = 0 .. N // 2 (the Nyquist limit; the corners
beyond it are left out), A(k) = sum of |F| in bin k, and
    complexity c(f) = sum_k k A(k) / sum_k A(k),     simplicity score s = mean over inits of 1 / c.
So sin(2 pi m x / L) over a grid of side L has c = m once the DC term is dropped, and a sum of sines
the amplitude-weighted mean of their frequencies. The grid holds the N cell centers of [-E, E] per
axis, endpoint excluded, so that periodic functions are sampled without leakage.

Open choices of the protocol (the authors did not publish the probe), each an option here:
`drop_dc` (default False: keep k = 0, as the paper's formula), `normalize_frequency` (default
False: divide c by the largest frequency N // 2, putting it in [0, 1]), the grid size N (300) and
the input range [-E, E]^2 (E = 100).

Run `python -m networks.spectral --help` for the comparison of the suite's architectures.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from networks.rsnorm import init as rsnorm_init
from networks.rsnorm import normalize as rsnorm_normalize
from networks.rsnorm import update as rsnorm_update
from networks.spec import NetworkSpec, make_torso

MEMORY_BUDGET_BYTES = 2**30
"""Activations of the networks evaluated at once on the grid stay near this size."""


@dataclasses.dataclass(frozen=True)
class ProbeSettings:
    """How a function is sampled and its complexity measured (the published protocol by default)."""

    grid_size: int = 300
    """N: grid points per axis; frequencies count up to N // 2."""
    extent: float = 100.0
    """E: the grid covers [-E, E]^2 (at initialization; a trained network's plane spans `span`)."""
    drop_dc: bool = False
    """Leave out the k = 0 (mean) term; the paper's formula keeps it."""
    normalize_frequency: bool = False
    """Divide the complexity by the largest frequency N // 2, so that it lies in [0, 1]."""
    span: float = 3.0
    """Trained networks: the plane covers [-span, span] standard deviations of the data around its center."""

    def __post_init__(self):
        if self.grid_size < 2 or self.extent <= 0 or self.span <= 0:
            raise ValueError(
                f"grid size must be at least 2 and extent and span positive, got {self.grid_size}, {self.extent}, {self.span}"
            )


def grid_coordinates(grid_size: int, extent: float) -> jax.Array:
    """The `grid_size` cell centers of [-extent, extent]: [grid_size]."""
    cell = 2.0 * extent / grid_size
    return -extent + cell * (jnp.arange(grid_size) + 0.5)


def input_grid(settings: ProbeSettings) -> jax.Array:
    """points[i, j] = (x_i, x_j): [N, N, 2]."""
    x = grid_coordinates(settings.grid_size, settings.extent)
    return jnp.stack(jnp.meshgrid(x, x, indexing="ij"), axis=-1)


def radial_bins(grid_size: int) -> np.ndarray:
    """round(|k|) of every coefficient of the full N x N FFT, in cycles per grid length: [N, N] int."""
    k = np.fft.fftfreq(grid_size, d=1.0 / grid_size)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    return np.rint(np.hypot(kx, ky)).astype(np.int32)


def radial_spectrum(values: jax.Array) -> jax.Array:
    """values [..., N, N] -> A [..., N // 2 + 1]: |F| summed over each radial frequency bin k."""
    grid_size = values.shape[-1]
    nyquist = grid_size // 2
    # bins beyond the Nyquist radius (the corners) go to one extra segment that is dropped
    bins = np.minimum(radial_bins(grid_size), nyquist + 1).ravel()
    magnitudes = jnp.abs(jnp.fft.fft2(values)).reshape(*values.shape[:-2], -1)
    summed = jax.vmap(lambda m: jax.ops.segment_sum(m, bins, num_segments=nyquist + 2))(
        magnitudes.reshape(-1, magnitudes.shape[-1])
    )
    return summed[:, : nyquist + 1].reshape(*values.shape[:-2], nyquist + 1)


def complexity(values: jax.Array, drop_dc: bool = False, normalize_frequency: bool = False) -> jax.Array:
    """values [..., N, N] on a uniform grid -> c [...] = sum_k k A(k) / sum_k A(k), k = 0 .. N // 2.

    drop_dc leaves out k = 0; normalize_frequency divides by N // 2. A constant function (every
    value equal), and any function with no magnitude in the counted bins, has c = 0 by definition
    (its simplicity 1 / c is then inf): without this, float rounding noise of the FFT would decide
    the complexity of a constant once its DC term is dropped.
    """
    spectrum = radial_spectrum(values)
    frequencies = jnp.arange(spectrum.shape[-1], dtype=spectrum.dtype)
    if drop_dc:
        spectrum, frequencies = spectrum[..., 1:], frequencies[1:]
    total = spectrum.sum(axis=-1)
    constant = jnp.all(values == values[..., :1, :1], axis=(-2, -1))
    empty = constant | (total <= 0)
    c = jnp.where(empty, 0.0, (spectrum * frequencies).sum(axis=-1) / jnp.where(empty, 1.0, total))
    return c / (values.shape[-1] // 2) if normalize_frequency else c


class ScalarNetwork(nn.Module):
    """The probed network: the torso of `spec` and a Dense(1) head initialized like the suite's
    heads (as a critic): x [batch, d_in] -> [batch]."""

    spec: NetworkSpec

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        features = make_torso(self.spec)(x, train)
        return nn.Dense(1, kernel_init=self.spec.head_init)(features)[..., 0]


def uses_batch_stats(spec: NetworkSpec) -> bool:
    return spec.resolved_norm in ("batch_norm", "batch_renorm")


def widest_layer(spec: NetworkSpec) -> int:
    return spec.width * spec.expansion if spec.kind == "simba" else spec.width


def parameter_count(spec: NetworkSpec) -> int:
    """Trainable parameters of ScalarNetwork(spec) on 2-D inputs (running statistics not counted)."""
    shapes = jax.eval_shape(ScalarNetwork(spec).init, jax.random.key(0), jnp.zeros((1, 2)))
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))


@functools.partial(jax.jit, static_argnames=("spec", "rsnorm", "settings"))
def values_at_init(spec: NetworkSpec, key: jax.Array, rsnorm: bool, settings: ProbeSettings) -> jax.Array:
    """The freshly initialized ScalarNetwork(spec) (init key `key`) on the input grid: [N, N].

    rsnorm: normalize the grid with RSNorm statistics of the grid itself (a fresh RSNorm is
    the identity). Batch (re)normalization layers use the grid's statistics too: the network runs
    in training mode with the whole grid as its one batch, which at initialization (renorm warm-up,
    r = 1, d = 0) is exactly eval mode with running statistics set to the grid's statistics.
    """
    points = input_grid(settings).reshape(-1, 2)
    if rsnorm:
        points = rsnorm_normalize(rsnorm_update(rsnorm_init((2,)), points), points)
    network = ScalarNetwork(spec)
    variables = network.init(key, points[:1])
    if uses_batch_stats(spec):
        values, _ = network.apply(variables, points, train=True, mutable=["batch_stats"])
    else:
        values = network.apply(variables, points)
    return values.reshape(settings.grid_size, settings.grid_size)


def inits_per_step(spec: NetworkSpec, settings: ProbeSettings) -> int:
    """How many initializations are evaluated at once (vmapped) within the memory budget."""
    activation_bytes = settings.grid_size**2 * widest_layer(spec) * 4
    return max(1, MEMORY_BUDGET_BYTES // (4 * activation_bytes))


@functools.partial(jax.jit, static_argnames=("spec", "n_init", "rsnorm", "settings"))
def simplicity_scores(
    spec: NetworkSpec,
    key: jax.Array,
    n_init: int = 100,
    rsnorm: bool = False,
    settings: ProbeSettings = ProbeSettings(),
) -> jax.Array:
    """1 / c of `n_init` fresh initializations of ScalarNetwork(spec) on 2-D inputs: [n_init].

    One compiled call: the initializations are vmapped, in groups that fit MEMORY_BUDGET_BYTES
    (`lax.map` with a batch size). RSNorm inputs (`rsnorm`) and batch normalization use the statistics
    of the probe's own input grid, see `values_at_init`. Deterministic given `key`.
    """

    def one_init(init_key):
        values = values_at_init(spec, init_key, rsnorm, settings)
        return 1.0 / complexity(values, settings.drop_dc, settings.normalize_frequency)

    return jax.lax.map(one_init, jax.random.split(key, n_init), batch_size=inits_per_step(spec, settings))


def simplicity_score(
    spec: NetworkSpec,
    key: jax.Array,
    n_init: int = 100,
    rsnorm: bool = False,
    settings: ProbeSettings = ProbeSettings(),
) -> float:
    """The simplicity score of `spec`: the mean of `simplicity_scores` over `n_init` initializations."""
    return float(simplicity_scores(spec, key, n_init, rsnorm, settings).mean())


def plane_points(center: jax.Array, scale: jax.Array, key: jax.Array, settings: ProbeSettings) -> jax.Array:
    """A random 2-D plane through input space: center + scale * (a u + b v) for (a, b) on the N x N
    grid over [-span, span]^2, u, v random orthonormal directions. center, scale: [d] -> [N, N, d]."""
    directions, _ = jnp.linalg.qr(jax.random.normal(key, (center.shape[-1], 2)))
    a = grid_coordinates(settings.grid_size, settings.span)
    offsets = a[:, None, None] * directions[:, 0] + a[None, :, None] * directions[:, 1]
    return center + scale * offsets


def probe_function(
    function: Callable[[jax.Array], jax.Array],
    center: jax.Array,
    scale: jax.Array,
    key: jax.Array,
    n_planes: int = 10,
    settings: ProbeSettings = ProbeSettings(),
) -> jax.Array:
    """1 / c of a trained network on `n_planes` random planes (see `plane_points`) through `center`.

    function: inputs [batch, d] -> outputs [batch, k] (each output is probed as its own scalar
    function); center, scale: [d]. Returns [n_planes, k]. Planes are evaluated one at a time.
    """

    def one_plane(plane_key):
        points = plane_points(center, scale, plane_key, settings)
        values = function(points.reshape(-1, center.shape[-1]))
        values = jnp.moveaxis(values.reshape(settings.grid_size, settings.grid_size, -1), -1, 0)
        return 1.0 / complexity(values, settings.drop_dc, settings.normalize_frequency)

    return jax.lax.map(one_plane, jax.random.split(key, n_planes))


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One row of the comparison: a torso spec and whether RSNorm normalizes the inputs."""

    name: str
    spec: NetworkSpec
    rsnorm: bool


def default_architectures(simba_width: int, blocks: int) -> list[Architecture]:
    """SimBa's components added one at a time (the paper's ablation), and CrossQ's BatchRenorm MLP.

    Parameter counts are matched by construction at two blocks: an MLP of two hidden layers of
    4 x simba_width has exactly the parameters of SimBa with two blocks of simba_width (both
    16 W^2 + 20 W + 1); the ablations lose only LayerNorm scales and biases, BatchRenorm adds a
    scale and bias per normalized feature. Other block counts are not matched (the table prints
    the counts).
    """
    mlp = NetworkSpec("mlp", 4 * simba_width, blocks)
    return [
        Architecture("mlp", mlp, False),
        Architecture("mlp + rsnorm", mlp, True),
        Architecture("rsnorm + residual", NetworkSpec("simba", simba_width, blocks, "none", post_norm=False), True),
        Architecture(
            "rsnorm + residual + block layernorm", NetworkSpec("simba", simba_width, blocks, post_norm=False), True
        ),
        Architecture("simba (+ post layernorm)", NetworkSpec("simba", simba_width, blocks), True),
        Architecture("crossq batchrenorm mlp", dataclasses.replace(mlp, norm="batch_renorm"), False),
    ]


@dataclasses.dataclass(frozen=True)
class Command:
    """Simplicity scores of the suite's architectures at initialization, as in SimBa's ablation.

    Prints architecture, parameters, mean score and its 95% bootstrap CI over initializations, and
    compile and run seconds; writes a PNG with each architecture's function on the grid (its first
    initialization) and that function's radial spectrum.
    """

    simba_width: int = 64
    """SimBa residual-stream width W; the MLPs get 4 W hidden units, which matches the parameters."""
    blocks: int = 2
    """SimBa residual blocks, and hidden layers of the MLPs."""
    n_init: int = 100
    """Random initializations per architecture."""
    seed: int = 0
    """PRNG seed of the initializations (the same keys for every architecture)."""
    grid_size: int = 300
    """N: grid points per axis."""
    extent: float = 100.0
    """The grid covers [-extent, extent]^2."""
    drop_dc: bool = False
    """Leave out the k = 0 term of the complexity."""
    normalize_frequency: bool = False
    """Divide the complexity by N // 2."""
    out: Path = Path("spectral_probe.png")
    """Where the figure is written."""


def plot_functions(path: Path, names: list[str], values: list[np.ndarray], settings: ProbeSettings) -> None:
    """Per architecture: the function on the grid as a heat map, and its radial spectrum A(k)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(names), 2, figsize=(8, 2.6 * len(names)), dpi=110, squeeze=False)
    bounds = (-settings.extent, settings.extent, -settings.extent, settings.extent)
    for row, (name, grid_values) in enumerate(zip(names, values)):
        image = axes[row, 0].imshow(grid_values.T, origin="lower", extent=bounds, cmap="viridis")
        figure.colorbar(image, ax=axes[row, 0])
        axes[row, 0].set_title(f"{name}: f on the grid", fontsize=8)
        spectrum = np.asarray(radial_spectrum(jnp.asarray(grid_values)))
        c = float(complexity(jnp.asarray(grid_values), settings.drop_dc, settings.normalize_frequency))
        axes[row, 1].semilogy(np.arange(len(spectrum)), spectrum)
        axes[row, 1].set_title(f"radial spectrum A(k), c = {c:.2f}", fontsize=8)
        axes[row, 1].set_xlabel("k (cycles per grid length)", fontsize=7)
        axes[row, 1].grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> None:
    import tyro

    from rundir.stats import bootstrap_ci

    command = tyro.cli(Command)
    settings = ProbeSettings(command.grid_size, command.extent, command.drop_dc, command.normalize_frequency)
    key = jax.random.key(command.seed)
    architectures = default_architectures(command.simba_width, command.blocks)
    print(f"{'architecture':37} {'parameters':>10} {'score':>8} {'95% CI':>19} {'compile s':>9} {'run s':>6}")
    names, functions = [], []
    for architecture in architectures:
        start = time.perf_counter()
        compiled = simplicity_scores.lower(architecture.spec, key, command.n_init, architecture.rsnorm, settings).compile()
        compiled_at = time.perf_counter()
        scores = np.asarray(compiled(key))
        finished_at = time.perf_counter()
        low, high = bootstrap_ci(scores, statistic=np.mean)
        print(
            f"{architecture.name:37} {parameter_count(architecture.spec):>10,} {scores.mean():8.5f} "
            f"{f'{low:.5f} .. {high:.5f}':>19} {compiled_at - start:9.1f} {finished_at - compiled_at:6.1f}",
            flush=True,
        )
        names.append(architecture.name)
        init_key = jax.random.split(key, command.n_init)[0]
        functions.append(np.asarray(values_at_init(architecture.spec, init_key, architecture.rsnorm, settings)))
    plot_functions(command.out, names, functions, settings)
    print(f"figure: {command.out}\ncommand: python -m networks.spectral {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
