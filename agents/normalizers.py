"""Running statistics for observation and reward normalization, kept as explicit run state.

Both follow OpenAI baselines' `VecNormalize` (also gymnasium's `NormalizeObservation` and
`NormalizeReward`): observations are standardized by the running mean and variance of every
observation collected so far and clipped to [-10, 10]; rewards are divided by the running standard
deviation of the discounted return, which is reset at episode boundaries.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

EPSILON = 1e-8
CLIP = 10.0


@flax.struct.dataclass
class RunningMeanStd:
    """Mean and (population) variance of every sample seen, merged batch by batch (Chan et al.)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, shape: tuple[int, ...]) -> "RunningMeanStd":
        # baselines starts at count 1e-4 so that the first batch sets the statistics almost alone
        return cls(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.asarray(1e-4, jnp.float32))

    def update(self, batch: jax.Array) -> "RunningMeanStd":
        """batch: [n, *shape]."""
        batch_mean, batch_var, batch_count = batch.mean(axis=0), batch.var(axis=0), batch.shape[0]
        total = self.count + batch_count
        delta = batch_mean - self.mean
        mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        return RunningMeanStd(mean, m2 / total, total)

    def normalize(self, x: jax.Array) -> jax.Array:
        """x: [..., *shape] -> standardized and clipped to [-CLIP, CLIP]."""
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + EPSILON), -CLIP, CLIP)


@flax.struct.dataclass
class ReturnScaler:
    """Scales rewards by the running standard deviation of the discounted return of each env."""

    returns: jax.Array
    """[num_envs] discounted return of the episode each env is in."""
    stats: RunningMeanStd

    @classmethod
    def create(cls, num_envs: int) -> "ReturnScaler":
        return cls(jnp.zeros((num_envs,), jnp.float32), RunningMeanStd.create(()))

    def update(self, reward: jax.Array, done: jax.Array, gamma: jax.Array) -> "ReturnScaler":
        """reward, done: [num_envs]; the returns restart after an episode boundary."""
        returns = gamma * self.returns + reward
        return ReturnScaler(jnp.where(done, 0.0, returns), self.stats.update(returns))

    def scale(self, reward: jax.Array) -> jax.Array:
        return reward / jnp.sqrt(self.stats.var + EPSILON)
