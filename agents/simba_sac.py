"""SimBa-SAC (Lee et al., ICLR 2025): SAC on SimBa networks with RSNorm, the authors' settings.

The algorithm is agents.sac unchanged; this name selects the `paper` preset (sac's `simba`):
actor 1 block x 128, critic 2 blocks x 512, RSNorm observations, AdamW lr 1e-4 and weight decay
1e-2, batch 256, initial temperature 0.01 with target entropy -|A|/2, tau 0.005.
"""

from agents.sac import SIMBA, Config, Hyperparams, State, act, init, update

PRESETS = {"paper": SIMBA}
DEFAULT_PRESET = "paper"

__all__ = ["Config", "DEFAULT_PRESET", "Hyperparams", "PRESETS", "State", "act", "init", "update"]
