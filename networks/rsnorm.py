"""RSNorm: observations normalized with running statistics of everything the agent has collected.

    normalize(o) = (o - mean) / sqrt(var + 1e-8),   no clipping,
with mean 0, var 1 and a pseudo-count of 1e-4 at the start (SimBa; the same prior as gym's
RunningMeanStd). A chunk of n observations with mean m_B and biased variance v_B merges in with the
parallel update of Chan et al. (1979):
    delta = m_B - mean,  N = count + n
    mean <- mean + delta * n / N
    var  <- (var * count + v_B * n + delta^2 * count * n / N) / N
The chunk's variance is a two-pass mean of squared deviations (never E[o^2] - E[o]^2), and the
merge adds only differences, so a large offset common to all observations does not cancel
catastrophically in float32.
The statistics are explicit state: loops update them from collected observations only, never
inside gradient updates.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

EPSILON = 1e-8
INITIAL_COUNT = 1e-4


@flax.struct.dataclass
class RunningStats:
    mean: jax.Array
    var: jax.Array
    count: jax.Array


def init(shape: tuple[int, ...]) -> RunningStats:
    """Statistics of observations of `shape`: mean 0, var 1, count 1e-4, all float32."""
    return RunningStats(
        mean=jnp.zeros(shape, jnp.float32),
        var=jnp.ones(shape, jnp.float32),
        count=jnp.asarray(INITIAL_COUNT, jnp.float32),
    )


def update(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Merges `batch` [n, *shape] into the statistics."""
    batch = batch.astype(jnp.float32)
    n = batch.shape[0]
    batch_mean = batch.mean(axis=0)
    batch_var = jnp.mean((batch - batch_mean) ** 2, axis=0)
    delta = batch_mean - stats.mean
    total = stats.count + n
    mean = stats.mean + delta * (n / total)
    var = (stats.var * stats.count + batch_var * n + delta**2 * (stats.count * n / total)) / total
    return RunningStats(mean=mean, var=var, count=total)


def normalize(stats: RunningStats, obs: jax.Array) -> jax.Array:
    """obs [..., *shape] -> (obs - mean) / sqrt(var + 1e-8)."""
    return (obs - stats.mean) / jnp.sqrt(stats.var + EPSILON)
