"""SimBa (Lee et al., ICLR 2025): a residual torso with a simplicity bias.

    x -> Dense(W) embedding (orthogonal init)
      -> num_blocks x [h + Dense(W)(ReLU(Dense(expansion * W)(Norm(h))))]   (he-normal init, zero biases)
      -> Norm -> features [batch, W]

Norm is LayerNorm in the paper. RSNorm, the third SimBa component, normalizes observations with
running statistics that actor and critic share; it lives in `networks.rsnorm` and is applied by the
training loops (its statistics are run state, updated from collected observations only).
Switches for ablations: `residual=False` drops the skip connection, `post_norm=False` the final
normalization; `norm` may replace the LayerNorms with batch (re)normalization, for CrossQ.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from networks.normalization import normalize

BLOCK_NORMS = ("layer_norm", "batch_norm", "batch_renorm", "none")


class SimBa(nn.Module):
    """x: [batch, d_in] -> [batch, width]. `train` selects batch or running statistics where a
    batch normalization replaces the LayerNorms; LayerNorm ignores it."""

    width: int
    num_blocks: int
    expansion: int = 4
    norm: str = "layer_norm"
    residual: bool = True
    post_norm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        he_normal = nn.initializers.he_normal()
        h = nn.Dense(self.width, kernel_init=nn.initializers.orthogonal())(x)
        for _ in range(self.num_blocks):
            update = normalize(self.norm, h, train)
            update = nn.relu(nn.Dense(self.expansion * self.width, kernel_init=he_normal)(update))
            update = nn.Dense(self.width, kernel_init=he_normal)(update)
            h = h + update if self.residual else update
        return normalize(self.norm, h, train) if self.post_norm else h
