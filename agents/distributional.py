"""The categorical (C51) critic target: Bellman-shifted atoms projected back onto a fixed support.

With atoms z_j = -v_max + j * dz on [-v_max, v_max] (dz = 2 v_max / (num_bins - 1)) and a next-state
distribution p_j, each shifted atom
    t_j = clip(r + gamma * (1 - terminated) * (z_j - entropy_term), -v_max, v_max)
sits at fractional index b_j = (t_j + v_max) / dz and gives its mass to its two neighbours in
proportion to closeness:
    m_i = sum_j p_j * max(0, 1 - |b_j - i|),
which is C51's split (Bellemare et al., 2017) written as a triangular kernel: p_j (ceil(b_j) - b_j)
to floor(b_j), p_j (b_j - floor(b_j)) to ceil(b_j), everything to b_j when it is an integer. SimbaV2
(dojeon-ai/SimbaV2, scale_rl/agents/simbaV2/simbaV2_update.py, categorical_td_loss) uses this target
with SAC's soft value: entropy_term = temperature * log pi(a' | s').
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def categorical_projection(
    next_probs: jax.Array,
    reward: jax.Array,
    terminated: jax.Array,
    gamma: jax.Array,
    v_max: float,
    entropy_term: jax.Array | float = 0.0,
) -> jax.Array:
    """The target distribution [batch, num_bins] of r + gamma (1 - terminated) (z - entropy_term).

    next_probs: [batch, num_bins] probabilities over the support at the next state; reward,
    terminated (1.0 where the next state's value is not bootstrapped): [batch]; entropy_term:
    [batch] or a scalar, subtracted from every next atom. Targets beyond the support are clipped to
    its ends. Each row of the result sums to the row of next_probs (1 for a distribution).
    """
    num_bins = next_probs.shape[-1]
    support = jnp.linspace(-v_max, v_max, num_bins)
    entropy_term = jnp.broadcast_to(entropy_term, reward.shape)
    bootstrap = gamma * (1.0 - terminated)
    targets = reward[:, None] + bootstrap[:, None] * (support[None, :] - entropy_term[:, None])
    index = (jnp.clip(targets, -v_max, v_max) + v_max) / (2.0 * v_max / (num_bins - 1))
    weights = jnp.maximum(0.0, 1.0 - jnp.abs(index[:, :, None] - jnp.arange(num_bins)))  # [batch, from, to]
    return jnp.einsum("bj,bji->bi", next_probs, weights)


def categorical_cross_entropy(target_probs: jax.Array, log_probs: jax.Array) -> jax.Array:
    """-sum_i target_i log p_i over the last axis: [..., num_bins] -> [...]; no gradient flows into
    the target. The authors average it over the batch and sum it over the two critics."""
    return -jnp.sum(jax.lax.stop_gradient(target_probs) * log_probs, axis=-1)


def min_q_log_probs(q: jax.Array, log_probs: jax.Array) -> jax.Array:
    """Per sample, the distribution of the critic with the smallest mean: q [num_critics, batch],
    log_probs [num_critics, batch, num_bins] -> [batch, num_bins] (the authors' clipped double Q
    for a distributional critic)."""
    return jnp.take_along_axis(log_probs, jnp.argmin(q, axis=0)[None, :, None], axis=0)[0]
