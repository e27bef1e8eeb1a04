"""Plain multilayer perceptron torso."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax


class MLP(nn.Module):
    """Dense -> ReLU for each hidden width. x: [..., d_in] -> [..., widths[-1]]."""

    widths: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.widths:
            x = nn.relu(nn.Dense(width)(x))
        return x
