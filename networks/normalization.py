"""Batch normalization and batch renormalization (Ioffe, 2017) as used by CrossQ.

Training mode normalizes with the statistics of the batch it is given and moves the running
statistics towards them; eval mode normalizes with the running statistics and changes nothing.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchRenorm(nn.Module):
    """x: [batch, features] -> same shape.

    Training mode, with batch statistics mu_B, sigma_B = sqrt(var_B + eps) and running ones
    mu, sigma = sqrt(var + eps):
        y = scale * ((x - mu_B) / sigma_B * r + d) + bias,
        r = clip(sigma_B / sigma, 1 / rmax, rmax),  d = clip((mu_B - mu) / sigma, -dmax, dmax),
    with r and d held constant for the gradient, and r = 1, d = 0 (plain batch norm) for the first
    `warmup_steps` training calls. Running statistics: mu <- momentum mu + (1 - momentum) mu_B
    (likewise var with the biased batch variance). Eval mode: y = scale * (x - mu) / sigma + bias.
    `renorm=False` gives plain batch normalization (r = 1, d = 0 always).
    """

    momentum: float = 0.99
    epsilon: float = 1e-3
    rmax: float = 3.0
    dmax: float = 5.0
    warmup_steps: int = 100_000
    renorm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        features = x.shape[-1]
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
        running_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
        calls = self.variable("batch_stats", "calls", jnp.zeros, (), jnp.int32)
        scale = self.param("scale", nn.initializers.ones, (features,))
        bias = self.param("bias", nn.initializers.zeros, (features,))

        if not train:
            normalized = (x - running_mean.value) * jax.lax.rsqrt(running_var.value + self.epsilon)
            return normalized * scale + bias

        batch_mean = jnp.mean(x, axis=0)
        batch_var = jnp.mean(jnp.square(x - batch_mean), axis=0)
        batch_std = jnp.sqrt(batch_var + self.epsilon)
        normalized = (x - batch_mean) / batch_std
        if self.renorm:
            running_std = jnp.sqrt(running_var.value + self.epsilon)
            r = jnp.clip(batch_std / running_std, 1.0 / self.rmax, self.rmax)
            d = jnp.clip((batch_mean - running_mean.value) / running_std, -self.dmax, self.dmax)
            warmed_up = calls.value >= self.warmup_steps
            r = jax.lax.stop_gradient(jnp.where(warmed_up, r, 1.0))
            d = jax.lax.stop_gradient(jnp.where(warmed_up, d, 0.0))
            normalized = normalized * r + d

        if not self.is_initializing():
            batch_mean, batch_var = jax.lax.stop_gradient((batch_mean, batch_var))
            running_mean.value = self.momentum * running_mean.value + (1.0 - self.momentum) * batch_mean
            running_var.value = self.momentum * running_var.value + (1.0 - self.momentum) * batch_var
            calls.value = calls.value + 1
        return normalized * scale + bias


def normalize(norm: str, x: jax.Array, train: bool) -> jax.Array:
    """Applies the normalization layer named `norm` (none, layer_norm, batch_norm, batch_renorm);
    call it inside a compact module, which then owns the layer."""
    if norm == "none":
        return x
    if norm == "layer_norm":
        return nn.LayerNorm()(x)
    return BatchRenorm(renorm=norm == "batch_renorm")(x, train)
