import numpy as np

from rundir.stats import bootstrap_ci, iqm, stratified_bootstrap, stratified_bootstrap_ci


def test_iqm_drops_a_quarter_at_each_end():
    assert iqm(np.array([1.0, 2.0, 3.0])) == 2.0  # n=3: int(0.75) = 0 dropped
    assert iqm(np.array([100.0, 1.0, 2.0, 3.0, -50.0])) == 2.0  # one dropped at each end
    np.testing.assert_allclose(iqm(np.array([[0.0, 1.0], [4.0, 5.0], [8.0, 9.0], [10.0, 50.0]])), [6.0, 7.0])


def test_bootstrap_ci_brackets_the_statistic_and_collapses_on_constants():
    low, high = bootstrap_ci(np.full(6, 3.0))
    assert low == high == 3.0
    values = np.random.default_rng(0).normal(size=40)
    low, high = bootstrap_ci(values)
    assert low < iqm(values) < high


def test_iqm_matches_a_numpy_trimmed_mean():
    values = np.random.default_rng(1).normal(size=(13, 4))
    kept = np.sort(values, axis=0)[3:10]  # int(13 / 4) = 3 dropped at each end
    np.testing.assert_allclose(iqm(values), kept.mean(axis=0))


def test_stratified_bootstrap_resamples_each_task_on_its_own():
    # Task A has one run (0), task B two (10, 20); the mean of a resample pools 1 + 2 draws, so it is
    # (0 + 10 + 10) / 3, (0 + 10 + 20) / 3 or (0 + 20 + 20) / 3 with probabilities 1/4, 1/2, 1/4.
    # A plain bootstrap over the pooled runs would also draw resamples without task A's run.
    means = stratified_bootstrap([np.array([0.0]), np.array([10.0, 20.0])], np.mean, num_resamples=4000)
    outcomes, counts = np.unique(np.round(means, 6), return_counts=True)
    np.testing.assert_allclose(outcomes, [20 / 3, 10.0, 40 / 3])
    np.testing.assert_allclose(counts / 4000, [0.25, 0.5, 0.25], atol=0.03)
    low, high = stratified_bootstrap_ci([np.array([0.0]), np.array([10.0, 20.0])], np.mean)
    np.testing.assert_allclose([low, high], [20 / 3, 40 / 3])


def test_stratified_bootstrap_of_one_task_is_the_plain_bootstrap():
    values = np.random.default_rng(2).normal(size=(9, 3))
    plain = bootstrap_ci(values)
    np.testing.assert_array_equal(stratified_bootstrap_ci([values]), plain)
    picks = np.random.default_rng(0).integers(0, 9, size=(2000, 9))  # the plain bootstrap by hand
    by_hand = np.stack([iqm(values[p]) for p in picks])
    np.testing.assert_allclose(plain, np.percentile(by_hand, [2.5, 97.5], axis=0))
