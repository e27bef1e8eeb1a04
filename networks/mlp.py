"""Multilayer perceptron torso, optionally batch-(re)normalized as in CrossQ."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from networks.normalization import normalize

NORMS = ("none", "batch_norm", "batch_renorm")
NORM_POSITIONS = ("post", "pre")
INITS = ("default", "orthogonal")


def orthogonal(gain: float = 1.0) -> nn.initializers.Initializer:
    """A kernel initializer [in, out] with orthonormal rows or columns (whichever are fewer) times
    `gain`: the distribution of flax's nn.initializers.orthogonal (Haar, through the Q of a Gaussian
    matrix with R's diagonal positive), computed by Gram-Schmidt with one re-orthogonalization in
    matrix-vector products. flax's draws it with a QR decomposition, a LAPACK call that the runs
    axis batches; on a CPU, jaxlib splits large batched LAPACK calls over the intra-op thread pool
    and two at once can block every thread of it (envs/README.md): `python train.py xqc --seeds 2`
    hung at initialization with flax's initializer on a 2-core CPU."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        rows, cols = shape
        tall, narrow = max(rows, cols), min(rows, cols)
        matrix = jax.random.normal(key, (tall, narrow), jnp.float32)

        def orthonormalize(i, q):
            earlier = (jnp.arange(narrow) < i).astype(q.dtype)
            column = q[:, i]
            for _ in range(2):
                column = column - q @ (earlier * (q.T @ column))
            return q.at[:, i].set(column / jnp.linalg.norm(column))

        q = jax.lax.fori_loop(0, narrow, orthonormalize, matrix)
        return (gain * (q if rows >= cols else q.T)).astype(dtype)

    return init


class MLP(nn.Module):
    """Dense -> ReLU for each hidden width. x: [batch, d_in] -> [batch, widths[-1]].

    With norm "batch_norm" or "batch_renorm", the input is normalized too, and norm_position
    places each hidden layer's normalization: "post", Dense -> ReLU -> norm (CrossQ's networks), or
    "pre", Dense without bias -> norm -> ReLU (XQC's pre-activation blocks). `train` selects batch
    (True) or running statistics (False). init "orthogonal" draws the kernels orthogonal with gain
    sqrt(2) (the XQC authors'), "default" uses flax's LeCun normal.
    """

    widths: Sequence[int]
    norm: str = "none"
    norm_position: str = "post"
    init: str = "default"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        kernel_init = orthogonal(2**0.5) if self.init == "orthogonal" else nn.linear.default_kernel_init
        x = normalize(self.norm, x, train)
        for width in self.widths:
            if self.norm_position == "pre":
                x = nn.relu(normalize(self.norm, nn.Dense(width, use_bias=False, kernel_init=kernel_init)(x), train))
            else:
                x = normalize(self.norm, nn.relu(nn.Dense(width, kernel_init=kernel_init)(x)), train)
        return x
