"""CrossQ+WN (agents/crossq_wn.py, XQC's algorithm with squared-error critics) learns gymnax/Pendulum-v1."""

import pytest

from agents import crossq_wn
from rundir.stats import iqm


@pytest.mark.slow
def test_crossq_wn_learns_pendulum(pendulum_returns):
    """The cpu preset (critics 2x128, actor 2x64, UTD 1, 1000 random steps), 3 seeds, 10k steps: the
    IQM of the final return > -400 (a random policy scores about -1200). Seeds 0-8 of this budget,
    run as these triplets, ended between -128 and -610 (triplet IQMs -190, -201, -331); about 2-3
    min with the compile on the 2-core CPU."""
    preset = crossq_wn.PRESETS["cpu"]
    final = pendulum_returns("crossq-wn", preset.config, preset.hyperparams, total_steps=10_000, eval_every=2000)
    assert iqm(final) > -400, final
