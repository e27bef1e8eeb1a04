import numpy as np

from rundir.stats import bootstrap_ci, iqm


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
