"""Aggregate statistics over runs: IQM (as rliable) and percentile-bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np


def iqm(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Interquartile mean along `axis`: the mean after dropping int(n / 4) values at each end.

    Matches scipy.stats.trim_mean(values, 0.25), the IQM of rliable (Agarwal et al., 2021).
    """
    values = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    n = values.shape[axis]
    cut = int(0.25 * n)
    return np.take(values, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def bootstrap_ci(
    values: np.ndarray,
    statistic=iqm,
    num_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of `statistic` over runs.

    values: [num_runs, ...] -> (low, high), each [...]. Resamples runs with replacement; the
    fixed seed makes the interval reproducible.
    """
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.shape[0], size=(num_resamples, values.shape[0]))
    resampled = np.stack([statistic(values[p], axis=0) for p in picks])
    tail = 100.0 * (1.0 - confidence) / 2.0
    return np.percentile(resampled, tail, axis=0), np.percentile(resampled, 100.0 - tail, axis=0)
