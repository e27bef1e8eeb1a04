"""Training metrics of an evaluation period, gathered inside the compiled program.

The agents report one metrics dict per gradient update (critic_loss, mean_q, actor_loss, alpha,
entropy, gradient norms...). `Totals` sums them over a period, skipping NaN entries (an actor
update that a policy delay skipped) and updates that did not happen, so `means` is the mean over
the updates that did. Values the mean would misread (the temperature, which only moves one way
between two evaluations) are reported again as their last value, `<name>_last`. `network_metrics`
reads the state at the period's end: each network's parameter norm and its batch (re)normalization
running statistics; `rsnorm_metrics` the observation statistics.
"""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
import optax

from agents.learner import Learner
from networks import rsnorm

LAST = ("alpha",)
"""Metrics also reported as their last value (`alpha_last`): where the period's mean lags behind."""


@flax.struct.dataclass
class Totals:
    """Per metric: the sum of its finite values over the period's updates, how many, and the last one."""

    sums: dict
    counts: dict
    last: dict


def start(metric_shapes: dict) -> Totals:
    """Empty totals for metrics shaped like `metric_shapes` (scalars; arrays or ShapeDtypeStructs)."""
    zeros = {name: jnp.zeros((), jnp.float32) for name in metric_shapes}
    return Totals(sums=zeros, counts={name: jnp.zeros((), jnp.int32) for name in metric_shapes},
                  last={name: jnp.full((), jnp.nan, jnp.float32) for name in metric_shapes})


def add(totals: Totals, metrics: dict, happened: jax.Array) -> Totals:
    """Adds the metrics of a batch of updates: metrics leaves [n], happened: bool (all n updates
    happened, or none did)."""
    sums, counts, last = {}, {}, {}
    for name, values in metrics.items():
        values = values.astype(jnp.float32)
        kept = happened & jnp.isfinite(values)
        sums[name] = totals.sums[name] + jnp.sum(jnp.where(kept, values, 0.0))
        counts[name] = totals.counts[name] + jnp.sum(kept, dtype=jnp.int32)
        newest = jnp.max(jnp.where(kept, jnp.arange(values.shape[0]), -1))
        last[name] = jnp.where(newest >= 0, values[jnp.maximum(newest, 0)], totals.last[name])
    return Totals(sums=sums, counts=counts, last=last)


def means(totals: Totals) -> dict:
    """The period's mean of each metric (NaN where no update reported it), plus `<name>_last` for LAST."""
    result = {
        name: jnp.where(count > 0, totals.sums[name] / jnp.maximum(count, 1), jnp.nan)
        for name, count in totals.counts.items()
    }
    result.update({f"{name}_last": totals.last[name] for name in LAST if name in totals.last})
    return result


def learners(agent_state) -> dict[str, Learner]:
    """The networks of an agent state (its Learner fields with a module), by field name."""
    return {
        field.name: value
        for field in dataclasses.fields(agent_state)
        if isinstance(value := getattr(agent_state, field.name), Learner) and value.module is not None
    }


def _stat_leaves(stats, name: str) -> list[jax.Array]:
    leaves = jax.tree_util.tree_flatten_with_path(stats)[0]
    return [leaf.ravel() for path, leaf in leaves if getattr(path[-1], "key", None) == name]


def network_metrics(agent_state) -> dict:
    """Per network: `<network>_param_norm` (global L2 norm of its parameters) and, when it has batch
    (re)normalization layers, `<network>_bn_abs_mean` (mean |running mean|) and `<network>_bn_sigma`
    (mean running standard deviation) over all their features."""
    result = {}
    for name, network in learners(agent_state).items():
        result[f"{name}_param_norm"] = optax.tree.norm(network.params)
        means_, variances = _stat_leaves(network.stats, "mean"), _stat_leaves(network.stats, "var")
        if means_ and variances:
            result[f"{name}_bn_abs_mean"] = jnp.mean(jnp.abs(jnp.concatenate(means_)))
            result[f"{name}_bn_sigma"] = jnp.mean(jnp.sqrt(jnp.concatenate(variances)))
    return result


def rsnorm_metrics(stats: rsnorm.RunningStats) -> dict:
    """The observation statistics: how many observations they hold and their mean |mean|."""
    return {"rsnorm_count": stats.count, "rsnorm_abs_mean": jnp.mean(jnp.abs(stats.mean))}


def of_period(totals: Totals, agent_state, obs_stats: rsnorm.RunningStats | None) -> dict:
    """A period's training metrics: the means over its updates, the networks at its end and, where
    the agent normalizes observations with them (obs_stats, else None), the observation statistics."""
    metrics = {**means(totals), **network_metrics(agent_state)}
    if obs_stats is not None:
        metrics.update(rsnorm_metrics(obs_stats))
    return metrics
