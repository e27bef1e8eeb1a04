"""Running statistics for observation and reward normalization, kept as explicit run state.

Both follow OpenAI baselines' `VecNormalize` (also gymnasium's `NormalizeObservation` and
`NormalizeReward`): observations are standardized by the running mean and variance of every
observation collected so far and clipped to [-10, 10]; rewards are divided by the running standard
deviation of the discounted return, which is reset at episode boundaries. The running statistics
are RSNorm's (`networks.rsnorm`: the same prior and parallel update as baselines' RunningMeanStd).
BoundedReturnScaler is SimbaV2's variant of the reward scaling, bounded so returns fit its critic's support.
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


@flax.struct.dataclass
class BoundedReturnScaler:
    """SimbaV2's reward scaling (dojeon-ai/SimbaV2, scale_rl/agents/wrappers/normalization.py,
    RewardNormalizer): rewards are divided by
        max(sqrt(var(G) + 1e-8), max |G| / g_max),
    the running standard deviation of the discounted return G, floored so that no return seen so far
    scales beyond g_max (the edge of the critic's support). Unlike ReturnScaler, G restarts at the
    step that ends an episode (terminated or truncated) and includes that step's reward:
        G <- gamma * (1 - done) * G + reward,
    the authors' (and gymnasium NormalizeReward's) order.
    """

    returns: jax.Array
    """[num_envs] discounted return G of each env."""
    stats: rsnorm.RunningStats
    """Running mean and variance of G over all envs and steps."""
    max_abs_return: jax.Array
    """max |G| so far."""

    @classmethod
    def create(cls, num_envs: int) -> "BoundedReturnScaler":
        return cls(jnp.zeros((num_envs,), jnp.float32), rsnorm.init(()), jnp.zeros((), jnp.float32))

    def update(self, reward: jax.Array, done: jax.Array, gamma: jax.Array) -> "BoundedReturnScaler":
        """reward, done (terminated or truncated): [num_envs], one env step."""
        returns = gamma * (1.0 - done) * self.returns + reward
        max_abs_return = jnp.maximum(self.max_abs_return, jnp.max(jnp.abs(returns)))
        return BoundedReturnScaler(returns, rsnorm.update(self.stats, returns), max_abs_return)

    def scale(self, reward: jax.Array, g_max: jax.Array) -> jax.Array:
        """reward [...] divided by the larger of G's standard deviation and max |G| / g_max."""
        return reward / jnp.maximum(jnp.sqrt(self.stats.var + rsnorm.EPSILON), self.max_abs_return / g_max)
