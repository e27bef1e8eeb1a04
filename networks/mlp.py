"""Multilayer perceptron torso, optionally batch-(re)normalized as in CrossQ."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from networks.normalization import normalize

NORMS = ("none", "batch_norm", "batch_renorm")


class MLP(nn.Module):
    """Dense -> ReLU for each hidden width. x: [batch, d_in] -> [batch, widths[-1]].

    With norm "batch_norm" or "batch_renorm", the input and every hidden activation are
    normalized (CrossQ's networks); `train` selects batch (True) or running statistics (False).
    """

    widths: Sequence[int]
    norm: str = "none"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = normalize(self.norm, x, train)
        for width in self.widths:
            x = normalize(self.norm, nn.relu(nn.Dense(width)(x)), train)
        return x
