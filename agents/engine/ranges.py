"""The admissible range of every array hyperparameter, checked once before compiling.

One table for every agent (the same name means the same knob everywhere); a value that is not a
number (e.g. a setting resolved later, like `--gamma auto`) is left to whoever resolves it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from agents.common import ConfigError


class Range(NamedTuple):
    """low < v < high, with `closed_low` / `closed_high` allowing the bound itself."""

    low: float
    high: float = math.inf
    closed_low: bool = False
    closed_high: bool = False

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.closed_low else value > self.low
        below = value <= self.high if self.closed_high else value < self.high
        return math.isfinite(value) and above and below

    def __str__(self) -> str:
        if self.low == -math.inf and self.high == math.inf:
            return "a finite number"
        if self.high == math.inf:
            return f"{'>=' if self.closed_low else '>'} {self.low:g}"
        return f"in {'[' if self.closed_low else '('}{self.low:g}, {self.high:g}{']' if self.closed_high else ')'}"


POSITIVE = Range(0.0)
NON_NEGATIVE = Range(0.0, closed_low=True)
DISCOUNT = Range(0.0, 1.0, closed_high=True)

RANGES = {
    "learning_rate": POSITIVE,
    "final_learning_rate": NON_NEGATIVE,
    "gamma": DISCOUNT,
    "tau": DISCOUNT,
    "gae_lambda": Range(0.0, 1.0, closed_low=True, closed_high=True),
    "initial_alpha": POSITIVE,
    "target_entropy_scale": Range(-math.inf),
    "weight_decay": NON_NEGATIVE,
    "exploration_noise": NON_NEGATIVE,
    "target_noise": NON_NEGATIVE,
    "noise_clip": NON_NEGATIVE,
    "clip_eps": POSITIVE,
    "ent_coef": NON_NEGATIVE,
    "vf_coef": NON_NEGATIVE,
    "max_grad_norm": POSITIVE,
}
"""Hyperparameter name -> the values it accepts; a name not listed accepts any finite number."""


def check(name: str, value, where: str) -> None:
    """Raises ConfigError unless `value` of hyperparameter `name` is admissible; `where` names the
    flag it came from in the message (e.g. "--gamma 1.5" or "--sweep gamma=0.9,1.5")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    accepted = RANGES.get(name, Range(-math.inf))
    if value not in accepted:
        raise ConfigError(f"{where}: {name} must be {accepted}, got {value:g}")
