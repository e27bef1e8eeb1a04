"""Aggregate statistics over runs: IQM (as rliable) and percentile-bootstrap confidence intervals,
plain over the runs of one task or stratified over the runs of several tasks."""

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


def stratified_bootstrap(
    strata: list[np.ndarray],
    statistic=iqm,
    num_resamples: int = 2000,
    seed: int = 0,
) -> np.ndarray:
    """The bootstrap distribution of `statistic` over the pooled runs of several tasks (strata).

    strata: per task, [num_runs_task, ...] (one trailing shape for all) -> [num_resamples, ...].
    Each resample draws, for every task independently, as many of its runs as it has, with
    replacement, and applies `statistic` along axis 0 to the pooled draws: rliable's
    StratifiedBootstrap, which keeps each task's share of the runs fixed. With one stratum this is
    the plain bootstrap over runs.
    """
    strata = [np.asarray(stratum, dtype=np.float64) for stratum in strata]
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, len(stratum), size=(num_resamples, len(stratum))) for stratum in strata]
    return np.stack(
        [
            statistic(np.concatenate([stratum[pick[r]] for stratum, pick in zip(strata, picks)]), axis=0)
            for r in range(num_resamples)
        ]
    )


def stratified_bootstrap_ci(
    strata: list[np.ndarray],
    statistic=iqm,
    num_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile CI of `statistic` from stratified_bootstrap: strata as there -> (low, high), each
    [...]. The fixed seed makes the interval reproducible."""
    resampled = stratified_bootstrap(strata, statistic, num_resamples, seed)
    tail = 100.0 * (1.0 - confidence) / 2.0
    return np.percentile(resampled, tail, axis=0), np.percentile(resampled, 100.0 - tail, axis=0)


def bootstrap_ci(
    values: np.ndarray,
    statistic=iqm,
    num_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of `statistic` over the runs of one task.

    values: [num_runs, ...] -> (low, high), each [...]; runs are resampled with replacement.
    """
    return stratified_bootstrap_ci([values], statistic, num_resamples, confidence, seed)
