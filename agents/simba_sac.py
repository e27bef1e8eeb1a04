"""SimBa-SAC (Lee et al., ICLR 2025): SAC on SimBa networks with RSNorm, the authors' settings.

The algorithm is agents.sac unchanged; this name selects the `paper` preset (sac's `simba`), the
configuration of the published simba_utd1 curves (see agents.sac.SIMBA for every value and source).
"""

import dataclasses

from agents import sac

AGENT = dataclasses.replace(
    sac.AGENT, name="simba-sac", summary=__doc__.splitlines()[0], presets={"paper": sac.SIMBA}, default_preset="paper"
)
