"""The Fourier spectral probe of simplicity bias (Teney et al., CVPR 2024; SimBa, Lee et al., ICLR 2025).

A scalar function f of 2-D inputs is sampled on an N x N grid over [-E, E]^2 and its 2-D DFT
F(k) taken, k = (kx, ky) in cycles per grid length. Its complexity is the magnitude-weighted mean
frequency
    c(f) = sum_k |k| |F(k)| / sum_k |F(k)|,      simplicity score s = mean over inits of 1 / c,
so sin(2 pi m x / L) on a periodic grid has c = m once the k = 0 term is left out. Two published
protocols are named modes (`PROTOCOLS`), and a third adds the standard remedies:

- "simba": SimBa (arXiv 2410.09754, App. B, eqs. 10-15): a 300 x 300 grid (90,000 points) over
  [-100, 100]^2, c over every coefficient of the DFT with weight |k| (k = 0 kept: it weighs 0 in
  the numerator and counts in the denominator), s averaged over 100 random initializations of the
  network as the agent initializes it. Not written down, chosen here: grid points include the
  endpoints (as torch.linspace in Teney et al.'s code), the full two-sided FFT, exact |k| (no
  binning: the paper's k is a 1-D index), no window, no mean removal.
- "redshift": Teney et al.'s published code (github.com/ArmandNM/neural-redshift,
  scripts/visualization.py and inductive_biases/spectral_analysis.py): a 300-point linspace over
  [-1, 1]^2; |rfft2| keeping the quadrant of non-negative (kx, ky) (rows 0 .. N/2), the DC term
  zeroed, magnitudes summed in bins round(|k|), the mean frequency divided by the largest bin
  (round(sqrt(2) N / 2)), so c lies in [0, 1]. Their networks (`RedshiftMLP`) draw every weight
  and bias from U(-A, A). Not in their repository: how many networks are averaged per cell (the
  script draws one), and the module that builds the grid (inductive_biases/data/synthetic.py).
- "simba-hann": SimBa's grid and formula with the remedies for a function that is not periodic on
  the grid (the DFT's periodic extension puts a jump at the border whose slowly decaying spectrum
  dominates every network's c): mean removal, a separable Hann window, the DC term left out.

Every choice is also an option (`ProbeSettings`, and `python -m probe.fourier --help`):
window "hann" or "mirror" (even extension to 2N x 2N before the DFT, which removes the jump),
`remove_mean`, `drop_dc`, `bias_init` (U(-b, b) biases in place of the suite's zero biases: a
zero-bias ReLU network is positively homogeneous, so without biases the extent cannot matter),
the extent and the grid size.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path
from typing import Callable, Literal, Optional

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

WINDOWS = ("none", "hann", "mirror")
SPECTRA = ("full", "quadrant")
BINNINGS = ("exact", "round")


@dataclasses.dataclass(frozen=True)
class ProbeSettings:
    """How a function is sampled and its complexity measured (SimBa's protocol by default)."""

    grid_size: int = 300
    """N: grid points per axis."""
    extent: float = 100.0
    """E: the grid covers [-E, E]^2 (at initialization; a trained network's plane spans `span`)."""
    endpoint: bool = True
    """Grid points are linspace(-E, E, N) with both ends; False: the N cell centers of [-E, E]."""
    spectrum: str = "full"
    """"full": every coefficient of the two-sided FFT; "quadrant": rfft2 rows 0 .. N/2 (Teney et al.)."""
    binning: str = "exact"
    """Weight of a coefficient: "exact" |k|, or "round" round(|k|) (Teney et al.'s radial bins)."""
    drop_dc: bool = False
    """Leave out the k = 0 coefficient (Teney et al. zero it; SimBa's formula keeps it)."""
    normalize_frequency: bool = False
    """Divide c by the largest weight counted, so that it lies in [0, 1] (Teney et al.)."""
    remove_mean: bool = False
    """Subtract f's mean over the grid before the window."""
    window: str = "none"
    """Before the DFT: "none", "hann" (separable symmetric Hann window), "mirror" (even extension to 2N x 2N)."""
    bias_init: float = 0.0
    """Suite networks: draw Dense biases from U(-b, b) instead of their zero init (0 keeps the init)."""
    span: float = 3.0
    """Trained networks: the plane covers [-span, span] standard deviations of the data around its center."""

    def __post_init__(self):
        if self.grid_size < 2:
            raise ValueError(f"grid size must be at least 2, got {self.grid_size}")
        if not self.extent > 0 or not self.span > 0:
            raise ValueError(f"extent and span must be positive, got {self.extent} and {self.span}")
        if self.bias_init < 0:
            raise ValueError(f"bias init must be non-negative, got {self.bias_init}")
        for name, value, allowed in (("window", self.window, WINDOWS), ("spectrum", self.spectrum, SPECTRA),
                                     ("binning", self.binning, BINNINGS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


PROTOCOLS = {
    "simba": ProbeSettings(),
    "redshift": ProbeSettings(
        extent=1.0, spectrum="quadrant", binning="round", drop_dc=True, normalize_frequency=True
    ),
    "simba-hann": ProbeSettings(remove_mean=True, window="hann", drop_dc=True),
}
"""The named protocols, see the module docstring."""


def grid_coordinates(grid_size: int, extent: float, endpoint: bool = True) -> jax.Array:
    """The grid points of [-extent, extent] along one axis: [grid_size]."""
    if endpoint:
        return jnp.linspace(-extent, extent, grid_size)
    cell = 2.0 * extent / grid_size
    return -extent + cell * (jnp.arange(grid_size) + 0.5)


def input_grid(settings: ProbeSettings) -> jax.Array:
    """points[i, j] = (x_i, x_j): [N, N, 2]."""
    x = grid_coordinates(settings.grid_size, settings.extent, settings.endpoint)
    return jnp.stack(jnp.meshgrid(x, x, indexing="ij"), axis=-1)


def frequency_weights(grid_size: int, settings: ProbeSettings) -> np.ndarray:
    """|k| (or round(|k|)) of each coefficient `spectrum_magnitudes` returns, in cycles per length
    of the original grid (a mirrored grid has twice the samples and half the frequency per index)."""
    length = 2 * grid_size if settings.window == "mirror" else grid_size
    if settings.spectrum == "full":
        k = np.fft.fftfreq(length, d=1.0 / length)
        kx, ky = np.meshgrid(k, k, indexing="ij")
    else:
        k = np.arange(length // 2 + 1)
        kx, ky = np.meshgrid(k, k, indexing="ij")
    magnitude = np.hypot(kx, ky) * grid_size / length
    return np.rint(magnitude) if settings.binning == "round" else magnitude


def spectrum_magnitudes(values: jax.Array, settings: ProbeSettings) -> jax.Array:
    """values [..., N, N] -> |F| [..., M, M] after mean removal and window, as `frequency_weights`."""
    grid_size = values.shape[-1]
    if settings.remove_mean:
        values = values - values.mean(axis=(-2, -1), keepdims=True)
    if settings.window == "hann":
        hann = jnp.asarray(np.hanning(grid_size), values.dtype)
        values = values * hann[:, None] * hann[None, :]
    elif settings.window == "mirror":
        values = jnp.concatenate([values, values[..., ::-1]], axis=-1)
        values = jnp.concatenate([values, values[..., ::-1, :]], axis=-2)
    length = values.shape[-1]
    if settings.spectrum == "full":
        return jnp.abs(jnp.fft.fft2(values))
    return jnp.abs(jnp.fft.rfft2(values))[..., : length // 2 + 1, :]


def complexity(values: jax.Array, settings: ProbeSettings = ProbeSettings()) -> jax.Array:
    """values [..., N, N] on the grid -> c [...] = sum_k w(k) |F(k)| / sum_k |F(k)| (see ProbeSettings).

    A constant function (every value equal), and any function with no magnitude in the counted
    coefficients, has c = 0 by definition (its simplicity 1 / c is then inf): without this, float
    rounding noise of the FFT would decide the complexity of a constant once its DC term is dropped.
    """
    magnitudes = spectrum_magnitudes(values, settings)
    weights = frequency_weights(values.shape[-1], settings)
    counted = np.ones_like(weights, dtype=bool)
    if settings.drop_dc:
        counted[0, 0] = False
    magnitudes = jnp.where(counted, magnitudes, 0.0)
    total = magnitudes.sum(axis=(-2, -1))
    constant = jnp.all(values == values[..., :1, :1], axis=(-2, -1))
    empty = constant | (total <= 0)
    weighted = (magnitudes * jnp.asarray(weights, magnitudes.dtype)).sum(axis=(-2, -1))
    c = jnp.where(empty, 0.0, weighted / jnp.where(empty, 1.0, total))
    return c / weights[counted].max() if settings.normalize_frequency else c


def radial_spectrum(values: jax.Array, settings: ProbeSettings = ProbeSettings()) -> tuple[np.ndarray, jax.Array]:
    """values [..., N, N] -> (k [K], A [..., K]): |F| summed over each bin round(|k|), for plots."""
    magnitudes = spectrum_magnitudes(values, settings)
    bins = np.rint(frequency_weights(values.shape[-1], settings)).astype(np.int32).ravel()
    flat = magnitudes.reshape(-1, bins.size)
    summed = jax.vmap(lambda m: jax.ops.segment_sum(m, bins, num_segments=bins.max() + 1))(flat)
    return np.arange(bins.max() + 1), summed.reshape(*magnitudes.shape[:-2], -1)


ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "sine": jnp.sin, "gelu": jax.nn.gelu}


@dataclasses.dataclass(frozen=True)
class RedshiftMLP:
    """Teney et al.'s random MLP: 2 -> width (x depth hidden layers, `activation`) -> 1, every
    weight and bias from U(-amplitude, amplitude) (their scripts/visualization.py: width 64)."""

    activation: str = "relu"
    width: int = 64
    depth: int = 1
    amplitude: float = 1.0

    @property
    def widest(self) -> int:
        return self.width

    def __call__(self, key: jax.Array, points: jax.Array) -> jax.Array:
        """points [n, 2] -> f [n] of the network drawn with `key`."""
        sizes = (2,) + (self.width,) * self.depth + (1,)
        x = points
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            weight_key, bias_key = jax.random.split(jax.random.fold_in(key, layer))
            weight = jax.random.uniform(weight_key, (fan_in, fan_out), minval=-self.amplitude, maxval=self.amplitude)
            bias = jax.random.uniform(bias_key, (fan_out,), minval=-self.amplitude, maxval=self.amplitude)
            x = x @ weight + bias
            if layer < self.depth:
                x = ACTIVATIONS[self.activation](x)
        return x[:, 0]


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


def parameter_count(spec: NetworkSpec) -> int:
    """Trainable parameters of ScalarNetwork(spec) on 2-D inputs (running statistics not counted)."""
    shapes = jax.eval_shape(ScalarNetwork(spec).init, jax.random.key(0), jnp.zeros((1, 2)))
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))


def with_random_dense_biases(params, key: jax.Array, bias_init: float):
    """params with every Dense layer's bias drawn from U(-bias_init, bias_init) (norm layers kept)."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    keys = iter(jax.random.split(key, len(leaves)))

    def redraw(path, leaf):
        key = next(keys)
        is_dense_bias = path[-1].key == "bias" and str(path[-2].key).startswith("Dense")
        return jax.random.uniform(key, leaf.shape, leaf.dtype, -bias_init, bias_init) if is_dense_bias else leaf

    return jax.tree_util.tree_map_with_path(redraw, params)


@dataclasses.dataclass(frozen=True)
class SuiteNetwork:
    """ScalarNetwork(spec) as the suite initializes it; `rsnorm` normalizes its inputs."""

    spec: NetworkSpec
    rsnorm: bool = False
    bias_init: float = 0.0

    @property
    def widest(self) -> int:
        return self.spec.width * self.spec.expansion if self.spec.kind == "simba" else self.spec.width

    def __call__(self, key: jax.Array, points: jax.Array) -> jax.Array:
        """points [n, 2] -> f [n] of the network initialized with `key`.

        RSNorm normalizes the grid with the grid's own statistics (a fresh RSNorm is the identity).
        Batch (re)normalization layers use the grid's statistics too: the network runs in training
        mode with the whole grid as its one batch, which at initialization (renorm warm-up, r = 1,
        d = 0) is exactly eval mode with running statistics set to the grid's statistics.
        """
        if self.rsnorm:
            points = rsnorm_normalize(rsnorm_update(rsnorm_init((2,)), points), points)
        network = ScalarNetwork(self.spec)
        init_key, bias_key = jax.random.split(key)
        variables = dict(network.init(init_key, points[:1]))
        if self.bias_init > 0:
            variables["params"] = with_random_dense_biases(variables["params"], bias_key, self.bias_init)
        if uses_batch_stats(self.spec):
            values, _ = network.apply(variables, points, train=True, mutable=["batch_stats"])
            return values
        return network.apply(variables, points)


RandomNetwork = Callable[[jax.Array, jax.Array], jax.Array]
"""(key, points [n, 2]) -> f [n]: a network family, one function per key (hashable: a jit static)."""


@functools.partial(jax.jit, static_argnames=("network", "settings"))
def values_at_init(network: RandomNetwork, key: jax.Array, settings: ProbeSettings) -> jax.Array:
    """The network drawn with `key` on the input grid: [N, N]."""
    points = input_grid(settings).reshape(-1, 2)
    return network(key, points).reshape(settings.grid_size, settings.grid_size)


def inits_per_step(network: RandomNetwork, settings: ProbeSettings) -> int:
    """How many initializations are evaluated at once (vmapped) within the memory budget."""
    activation_bytes = settings.grid_size**2 * getattr(network, "widest", 256) * 4
    return max(1, MEMORY_BUDGET_BYTES // (4 * activation_bytes))


@functools.partial(jax.jit, static_argnames=("network", "n_init", "settings"))
def complexities(network: RandomNetwork, key: jax.Array, n_init: int, settings: ProbeSettings) -> jax.Array:
    """c of `n_init` draws of `network` (keys split from `key`): [n_init]. One compiled call, the
    draws vmapped in groups that fit MEMORY_BUDGET_BYTES. Deterministic given `key`."""

    def one_init(init_key):
        return complexity(values_at_init(network, init_key, settings), settings)

    return jax.lax.map(one_init, jax.random.split(key, n_init), batch_size=inits_per_step(network, settings))


def simplicity_scores(network: RandomNetwork, key: jax.Array, n_init: int = 100,
                      settings: ProbeSettings = ProbeSettings()) -> jax.Array:
    """SimBa's 1 / c of `n_init` initializations: [n_init]; their mean is the simplicity score."""
    return 1.0 / complexities(network, key, n_init, settings)


def plane_points(center: jax.Array, scale: jax.Array, key: jax.Array, settings: ProbeSettings) -> jax.Array:
    """A random 2-D plane through input space: center + scale * (a u + b v) for (a, b) on the N x N
    grid over [-span, span]^2, u, v random orthonormal directions. center, scale: [d] -> [N, N, d]."""
    directions, _ = jnp.linalg.qr(jax.random.normal(key, (center.shape[-1], 2)))
    a = grid_coordinates(settings.grid_size, settings.span, settings.endpoint)
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
        return 1.0 / complexity(values, settings)

    return jax.lax.map(one_plane, jax.random.split(key, n_planes))


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One row of a table: a name and the network family."""

    name: str
    network: RandomNetwork


def default_architectures(simba_width: int, blocks: int, bias_init: float = 0.0) -> list[Architecture]:
    """SimBa's components added one at a time (the paper's ablation), and CrossQ's BatchRenorm MLP.

    Parameter counts are matched by construction at two blocks: an MLP of two hidden layers of
    4 x simba_width has exactly the parameters of SimBa with two blocks of simba_width (both
    16 W^2 + 20 W + 1); the ablations lose only LayerNorm scales and biases, BatchRenorm adds a
    scale and bias per normalized feature. Other block counts are not matched (the table prints
    the counts).
    """
    mlp = NetworkSpec("mlp", 4 * simba_width, blocks)
    rows = [
        ("mlp", mlp, False),
        ("mlp + rsnorm", mlp, True),
        ("rsnorm + residual", NetworkSpec("simba", simba_width, blocks, "none", post_norm=False), True),
        ("rsnorm + residual + block layernorm", NetworkSpec("simba", simba_width, blocks, post_norm=False), True),
        ("simba (+ post layernorm)", NetworkSpec("simba", simba_width, blocks), True),
        ("crossq batchrenorm mlp", dataclasses.replace(mlp, norm="batch_renorm"), False),
    ]
    return [Architecture(name, SuiteNetwork(spec, rsnorm, bias_init)) for name, spec, rsnorm in rows]


def redshift_checks(width: int = 64) -> list[Architecture]:
    """Teney et al.'s findings as rows (their Fig. 1; networks of their scripts/visualization.py):
    ReLU against sine and tanh as the amplitude A of U(-A, A) grows, and tanh with depth."""
    rows = [(activation, 1, amplitude) for activation in ("relu", "tanh", "sine") for amplitude in (1.0, 32.0)]
    rows += [("tanh", depth, 2.0) for depth in (1, 4)]
    return [
        Architecture(f"{activation}, {depth} hidden, U(-{amplitude:g}, {amplitude:g})",
                     RedshiftMLP(activation, width, depth, amplitude))
        for activation, depth, amplitude in rows
    ]


@functools.partial(jax.jit, static_argnames=("network", "n_init", "settings"))
def values_of_inits(network: RandomNetwork, key: jax.Array, n_init: int, settings: ProbeSettings) -> jax.Array:
    """`n_init` draws of `network` (keys split from `key`) on the grid: [n_init, N, N], vmapped in
    groups that fit MEMORY_BUDGET_BYTES."""
    return jax.lax.map(
        lambda init_key: values_at_init(network, init_key, settings),
        jax.random.split(key, n_init),
        batch_size=inits_per_step(network, settings),
    )


ProtocolName = Literal["simba", "redshift", "simba-hann"]


@dataclasses.dataclass(frozen=True)
class Command:
    """Complexity c and simplicity score s = mean 1 / c of random networks, under one or more
    protocols applied to the same sampled functions; mean and 95% bootstrap CI over initializations.

    The grid (size, extent, endpoints) and the networks' bias init are shared by the protocols of a
    run: SimBa's 300 x 300 over [-100, 100]^2 unless changed (Teney et al.'s own grid: --extent 1).
    A measurement flag given here (window, mean removal, ...) overrides it in every protocol listed.
    Writes a PNG with each row's first function and its radial spectrum (first protocol).
    """

    protocols: tuple[ProtocolName, ...] = ("simba", "simba-hann")
    """Measurement protocols (module docstring): simba (SimBa App. B), redshift (Teney et al.'s code), simba-hann (remedies)."""
    networks: Literal["suite", "redshift"] = "suite"
    """suite: SimBa's ablation and CrossQ's MLP as the suite initializes them; redshift: Teney et al.'s checks."""
    simba_width: int = 64
    """SimBa residual-stream width W; the MLPs get 4 W hidden units, which matches the parameters."""
    blocks: int = 2
    """SimBa residual blocks, and hidden layers of the MLPs."""
    n_init: int = 100
    """Random initializations per network (SimBa: 100)."""
    seed: int = 0
    """PRNG seed of the initializations (the same keys for every network)."""
    grid_size: int = 300
    """N: grid points per axis (SimBa and Teney et al.: 300)."""
    extent: float = 100.0
    """The grid covers [-extent, extent]^2 (SimBa: 100; Teney et al.: 1)."""
    endpoint: bool = True
    """Grid points include both ends (linspace, as Teney et al.'s code); --no-endpoint: cell centers."""
    bias_init: float = 0.0
    """Suite networks: Dense biases from U(-b, b) instead of zeros (0: the suite's own init)."""
    window: Optional[Literal["none", "hann", "mirror"]] = None
    """Override: none, hann (separable Hann window) or mirror (even extension to 2N x 2N) before the DFT."""
    remove_mean: Optional[bool] = None
    """Override: subtract the mean of f over the grid before the window."""
    drop_dc: Optional[bool] = None
    """Override: leave out the k = 0 coefficient."""
    spectrum: Optional[Literal["full", "quadrant"]] = None
    """Override: full (two-sided FFT) or quadrant (rfft2 rows 0 .. N/2, Teney et al.)."""
    binning: Optional[Literal["exact", "round"]] = None
    """Override: exact |k| or round(|k|) (Teney et al.) as a coefficient's frequency."""
    normalize_frequency: Optional[bool] = None
    """Override: divide c by the largest frequency counted (Teney et al.)."""
    out: Path = Path("spectral_probe.png")
    """Where the figure is written."""

    def settings(self) -> list[ProbeSettings]:
        """One ProbeSettings per protocol, with the shared grid and the overrides (ValueError if invalid)."""
        if self.n_init < 1 or self.simba_width < 1 or self.blocks < 1:
            raise ValueError(f"n-init, simba-width and blocks must be positive, got {self.n_init}, "
                             f"{self.simba_width}, {self.blocks}")
        if not self.protocols:
            raise ValueError(f"give at least one protocol: {', '.join(PROTOCOLS)}")
        if not self.out.parent.is_dir():
            raise ValueError(f"the folder of --out does not exist: {self.out.parent}")
        shared = dict(grid_size=self.grid_size, extent=self.extent, endpoint=self.endpoint, bias_init=self.bias_init)
        overrides = {field: getattr(self, field) for field in
                     ("window", "remove_mean", "drop_dc", "spectrum", "binning", "normalize_frequency")
                     if getattr(self, field) is not None}
        return [dataclasses.replace(PROTOCOLS[name], **shared, **overrides) for name in self.protocols]


def plot_functions(path: Path, names: list[str], values: list[np.ndarray], settings: ProbeSettings) -> None:
    """Per row: the function on the grid as a heat map, and its radial spectrum A(k)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(names), 2, figsize=(8, 2.6 * len(names)), dpi=110, squeeze=False)
    bounds = (-settings.extent, settings.extent, -settings.extent, settings.extent)
    for row, (name, grid_values) in enumerate(zip(names, values)):
        image = axes[row, 0].imshow(grid_values.T, origin="lower", extent=bounds, cmap="viridis")
        figure.colorbar(image, ax=axes[row, 0])
        axes[row, 0].set_title(f"{name}: f on the grid", fontsize=8)
        frequencies, spectrum = radial_spectrum(jnp.asarray(grid_values), settings)
        c = float(complexity(jnp.asarray(grid_values), settings))
        axes[row, 1].semilogy(frequencies, np.asarray(spectrum))
        axes[row, 1].set_title(f"radial spectrum A(k), c = {c:.3g}", fontsize=8)
        axes[row, 1].set_xlabel("k (cycles per grid length)", fontsize=7)
        axes[row, 1].grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> int:
    import tyro

    from rundir.stats import bootstrap_ci

    command = tyro.cli(Command)
    try:
        protocols = command.settings()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    key = jax.random.key(command.seed)
    if command.networks == "suite":
        rows = default_architectures(command.simba_width, command.blocks, command.bias_init)
    else:
        rows = redshift_checks()
    measure = jax.jit(complexity, static_argnames="settings")
    header = "".join(f" {name + ': c (95% CI)':>30} {'s = mean 1/c':>12}" for name in command.protocols)
    print(f"{'network':37} {'parameters':>10}{header} {'compile s':>9} {'run s':>6}")
    names, functions = [], []
    for row in rows:
        start = time.perf_counter()
        compiled = values_of_inits.lower(row.network, key, command.n_init, protocols[0]).compile()
        compiled_at = time.perf_counter()
        values = compiled(key)
        cells = []
        for settings in protocols:
            c = np.asarray(measure(values, settings=settings))
            low, high = bootstrap_ci(c, statistic=np.mean)
            cells.append(f" {f'{c.mean():.4g} ({low:.4g} .. {high:.4g})':>30} {np.mean(1.0 / c):12.5g}")
        finished_at = time.perf_counter()
        parameters = parameter_count(row.network.spec) if isinstance(row.network, SuiteNetwork) else ""
        print(f"{row.name:37} {parameters:>10}{''.join(cells)} {compiled_at - start:9.1f} "
              f"{finished_at - compiled_at:6.1f}", flush=True)
        names.append(row.name)
        functions.append(np.asarray(values[0]))
    plot_functions(command.out, names, functions, protocols[0])
    print(f"figure: {command.out}\ncommand: python -m probe.fourier {' '.join(sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
