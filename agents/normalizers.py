"""Running statistics for observation and reward normalization, kept as explicit run state.

Both follow OpenAI baselines' `VecNormalize` (also gymnasium's `NormalizeObservation` and
`NormalizeReward`): observations are standardized by the running mean and variance of every
observation collected so far and clipped to [-10, 10]; rewards are divided by the running standard
deviation of the discounted return, which is reset at episode boundaries. The running statistics
are RSNorm's (`networks.rsnorm`: the same prior and parallel update as baselines' RunningMeanStd).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from networks import rsnorm

CLIP = 10.0


def normalize_clipped(stats: rsnorm.RunningStats, obs: jax.Array) -> jax.Array:
    """obs [..., *shape] standardized with the running statistics and clipped to [-CLIP, CLIP]."""
    return jnp.clip(rsnorm.normalize(stats, obs), -CLIP, CLIP)


@flax.struct.dataclass
class ReturnScaler:
    """Scales rewards by the running standard deviation of the discounted return of each env."""

    returns: jax.Array
    """[num_envs] discounted return of the episode each env is in."""
    stats: rsnorm.RunningStats

    @classmethod
    def create(cls, num_envs: int) -> "ReturnScaler":
        return cls(jnp.zeros((num_envs,), jnp.float32), rsnorm.init(()))

    def update(self, reward: jax.Array, done: jax.Array, gamma: jax.Array) -> "ReturnScaler":
        """reward, done: [num_envs]; the returns restart after an episode boundary."""
        returns = gamma * self.returns + reward
        return ReturnScaler(jnp.where(done, 0.0, returns), rsnorm.update(self.stats, returns))

    def scale(self, reward: jax.Array) -> jax.Array:
        return reward / jnp.sqrt(self.stats.var + rsnorm.EPSILON)
