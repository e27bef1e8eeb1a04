"""SimBa-SAC (Lee et al., ICLR 2025): SAC on SimBa networks with RSNorm, the authors' settings.

The algorithm is agents.sac unchanged; this name selects the `paper` preset (sac's `simba`), the
configuration of the published simba_utd1 curves (see agents.sac.SIMBA for every value and source).
"""

from agents.sac import SIMBA, Config, Hyperparams, State, act, init, update

PRESETS = {"paper": SIMBA}
DEFAULT_PRESET = "paper"

__all__ = ["Config", "DEFAULT_PRESET", "Hyperparams", "PRESETS", "State", "act", "init", "update"]
