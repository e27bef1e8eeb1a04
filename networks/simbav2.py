"""SimbaV2 (Lee et al., ICML 2025, "Hyperspherical Normalization for Scalable Deep RL").

Every hidden activation and every weight column lives on a unit hypersphere:

    embedder:  x -> [x, c_shift] / ||.|| -> W x -> scaler -> / ||.||
    block:     h -> h + alpha * (mlp(h) - h) -> / ||.||            (LERP toward the block's output)
    mlp:       h -> W2 (ReLU(scaler * W1 h) + eps) -> / ||.||       (inner width 4 x width)
    heads:     h -> W2 (scaler * W1 h) + bias                       (inner width = width)

W are bias-free Dense layers, orthogonally initialized and projected back to unit-norm columns
(`project_to_sphere`) after initialization and after every optimizer step. A scaler is a learned
per-unit vector stored at `scale` and multiplied by `init / scale` in the forward pass, so it starts
at `init` while its Adam steps move it by `scale`-sized parameter steps (the authors' reparameterization).
Sizes and scaler settings follow configs/agent/simbaV2.yaml: scaler_init = scaler_scale = sqrt(2 / width),
alpha_init = 1 / (depth + 1), alpha_scale = 1 / sqrt(width), c_shift 3; the heads' scalers use 1, 1.

Authors' code (dojeon-ai/SimbaV2): scale_rl/agents/simbaV2/simbaV2_layer.py (Scaler, HyperDense,
HyperMLP, HyperEmbedder, HyperLERPBlock, HyperNormalTanhPolicy, HyperCategoricalValue),
simbaV2_network.py (SimbaV2Actor, SimbaV2Critic, SimbaV2DoubleCritic) and simbaV2_update.py
(l2normalize, l2normalize_network).
Observation normalization (RSNorm) and reward scaling happen outside the networks, as in the suite.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

C_SHIFT = 3.0
EXPANSION = 4
NORM_EPS = 1e-8
"""Floor of the norm in l2_normalize (the authors' EPS)."""
RELU_EPS = 1e-8
"""Added after the MLP's ReLU so its output is never the zero vector (the authors' HyperMLP eps)."""
LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0
NUM_BINS = 101
V_MAX = 5.0
"""Support of the value distribution, [-V_MAX, V_MAX] (the authors' normalized_g_max)."""


def l2_normalize(x: jax.Array, axis: int = -1) -> jax.Array:
    """x / max(||x||_2, 1e-8) along `axis`."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=axis, keepdims=True), NORM_EPS)


def value_support(num_bins: int = NUM_BINS, v_max: float = V_MAX) -> jax.Array:
    """[num_bins] equally spaced atoms on [-v_max, v_max]."""
    return jnp.linspace(-v_max, v_max, num_bins)


def orthonormal_columns(z: jax.Array) -> jax.Array:
    """Gram-Schmidt (each column orthogonalized twice against the ones before it, for float32
    accuracy) of z [rows, k], rows >= k: the Q of z = QR with diag(R) > 0."""

    def column(j, q):
        earlier = jnp.arange(q.shape[1]) < j
        v = q[:, j]
        for _ in range(2):
            v = v - q @ jnp.where(earlier, q.T @ v, 0.0)
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, z.shape[1], column, z)


def orthogonal_kernel(key: jax.Array, shape: tuple[int, int], dtype=jnp.float32) -> jax.Array:
    """jax.nn.initializers.orthogonal(1.0, column_axis=0) for a kernel [in, out], the same matrix
    from the same key (the same normal draw, its QR's sign-corrected Q), computed by Gram-Schmidt
    in XLA instead of LAPACK's QR: jaxlib's batched CPU QR (under vmap over runs or critics) can
    deadlock XLA's thread pool on a 2-core machine (seen in `train.py simbav2` runs and benches)."""
    fan_in, fan_out = shape
    z = jax.random.normal(key, (max(fan_in, fan_out), min(fan_in, fan_out)), dtype)
    q = orthonormal_columns(z)  # [out, in] as jax.random.orthogonal(key, out, m=in)
    return q.T if fan_out >= fan_in else q


def hyper_dense(features: int, name: str) -> nn.Dense:
    """Bias-free Dense whose kernel [in, out] is orthogonal with orthonormal rows or columns
    (jax's orthogonal with column_axis 0, the authors' HyperDense, see orthogonal_kernel);
    project_to_sphere then makes each output unit's weight vector (a column) unit-norm."""
    return nn.Dense(features, use_bias=False, kernel_init=orthogonal_kernel, name=name)


def project_to_sphere(params):
    """`params` with every Dense kernel l2-normalized over its input axis: axis 0 of a kernel
    [in, out], axis 1 of a vmapped ensemble's kernel [num_critics, in, out] (the authors'
    l2normalize_network, which normalizes every `hyper_dense` layer). Scalers and biases are left
    as they are. Every Dense in this module is a hyper_dense, so every "kernel" leaf is projected.
    Call it on freshly initialized parameters and after every optimizer step."""

    def project(path, leaf):
        if getattr(path[-1], "key", None) == "kernel":
            return l2_normalize(leaf, axis=-2)
        return leaf

    return jax.tree_util.tree_map_with_path(project, params)


class Scaler(nn.Module):
    """x [..., dim] -> s * (init_value / scale) * x, with the parameter s [dim] initialized to
    `scale` (the authors' Scaler, whose `init` is init_value here): the effective scale starts at
    init_value."""

    dim: int
    init_value: float
    scale: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        scaler = self.param("scaler", nn.initializers.constant(self.scale), (self.dim,))
        return scaler * (self.init_value / self.scale) * x


class HyperEmbedder(nn.Module):
    """x [batch, d_in] -> [batch, width] on the unit sphere: append c_shift, normalize, project,
    scale, normalize (the authors' HyperEmbedder). The constant keeps the input's norm, which the
    first normalization would otherwise discard."""

    width: int
    scaler_init: float
    scaler_scale: float
    c_shift: float = C_SHIFT

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.concatenate([x, jnp.full(x.shape[:-1] + (1,), self.c_shift, x.dtype)], axis=-1)
        x = hyper_dense(self.width, "w")(l2_normalize(x))
        return l2_normalize(Scaler(self.width, self.scaler_init, self.scaler_scale)(x))


class HyperMLP(nn.Module):
    """h [batch, width] -> [batch, out] on the sphere: W2 (ReLU(scaler * W1 h) + eps), normalized
    (the authors' HyperMLP)."""

    hidden: int
    out: int
    scaler_init: float
    scaler_scale: float

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        h = Scaler(self.hidden, self.scaler_init, self.scaler_scale)(hyper_dense(self.hidden, "w1")(h))
        h = nn.relu(h) + RELU_EPS
        return l2_normalize(hyper_dense(self.out, "w2")(h))


class HyperLERPBlock(nn.Module):
    """h [batch, width] on the sphere -> normalize(h + alpha * (mlp(h) - h)) (the authors'
    HyperLERPBlock): alpha is a learned per-unit Scaler(alpha_init, alpha_scale); the MLP's inner
    width is EXPANSION x width and its scaler's init and scale are divided by sqrt(EXPANSION)."""

    width: int
    scaler_init: float
    scaler_scale: float
    alpha_init: float
    alpha_scale: float

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        root = math.sqrt(EXPANSION)
        update = HyperMLP(EXPANSION * self.width, self.width, self.scaler_init / root, self.scaler_scale / root)(h)
        return l2_normalize(h + Scaler(self.width, self.alpha_init, self.alpha_scale)(update - h))


class SimbaV2Torso(nn.Module):
    """x [batch, d_in] -> [batch, width] on the unit sphere: HyperEmbedder, then `depth`
    HyperLERPBlocks, with the scaler settings of configs/agent/simbaV2.yaml derived from width and
    depth (the encoder of the authors' SimbaV2Actor / SimbaV2Critic)."""

    width: int
    depth: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        scaler = math.sqrt(2.0 / self.width)
        h = HyperEmbedder(self.width, scaler, scaler)(x)
        for _ in range(self.depth):
            h = HyperLERPBlock(self.width, scaler, scaler, 1.0 / (self.depth + 1), 1.0 / math.sqrt(self.width))(h)
        return h


class HyperHead(nn.Module):
    """h [batch, width] -> W2 (Scaler(1, 1) * W1 h) + bias [batch, out]: the two-layer linear head
    of the authors' HyperNormalTanhPolicy (once for the mean, once for the log-std) and
    HyperCategoricalValue. `bias_name` is the authors' name of the bias."""

    width: int
    out: int
    bias_name: str

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        h = Scaler(self.width, 1.0, 1.0)(hyper_dense(self.width, "w1")(h))
        return hyper_dense(self.out, "w2")(h) + self.param(self.bias_name, nn.initializers.zeros, (self.out,))


class SimbaV2Actor(nn.Module):
    """obs [batch, obs_dim] -> (mean, log_std) [batch, action_dim] of a pre-tanh Gaussian (the
    authors' SimbaV2Actor with HyperNormalTanhPolicy): log_std = -10 + 6 (tanh(raw) + 1), squashed
    into [LOG_STD_MIN, LOG_STD_MAX]; sample with networks.tanh_gaussian_sample. `train` is accepted
    for the suite's actor interface and unused (no batch statistics)."""

    width: int
    depth: int
    action_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
        h = SimbaV2Torso(self.width, self.depth)(obs)
        mean = HyperHead(self.width, self.action_dim, "mean_bias", name="mean")(h)
        raw_log_std = HyperHead(self.width, self.action_dim, "std_bias", name="log_std")(h)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw_log_std) + 1.0)
        return mean, log_std


class SimbaV2Critic(nn.Module):
    """(obs [batch, obs_dim], action [batch, action_dim]) -> (q [batch], log_probs [batch, num_bins]):
    a categorical distribution over value_support(num_bins, v_max) and its mean (the authors'
    SimbaV2Critic with HyperCategoricalValue)."""

    width: int
    depth: int
    num_bins: int = NUM_BINS
    v_max: float = V_MAX

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
        h = SimbaV2Torso(self.width, self.depth)(jnp.concatenate([obs, action], axis=-1))
        log_probs = jax.nn.log_softmax(HyperHead(self.width, self.num_bins, "value_bias", name="value")(h), axis=-1)
        q = jnp.sum(jnp.exp(log_probs) * value_support(self.num_bins, self.v_max), axis=-1)
        return q, log_probs


class SimbaV2CriticEnsemble(nn.Module):
    """`num_critics` independently initialized SimbaV2Critics as one vmapped network (the authors'
    SimbaV2DoubleCritic): (obs, action) -> (q [num_critics, batch], log_probs [num_critics, batch,
    num_bins]); every parameter gains a leading [num_critics] axis. Unlike networks.CriticEnsemble's
    separate members (chosen there for batch-normalized critics on CPU), SimbaV2 has no batch
    statistics, so the members are fused into batched matmuls."""

    width: int
    depth: int
    num_bins: int = NUM_BINS
    v_max: float = V_MAX
    num_critics: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
        ensemble = nn.vmap(
            SimbaV2Critic,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
        )
        return ensemble(self.width, self.depth, self.num_bins, self.v_max, name="critics")(obs, action)
