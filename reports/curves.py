"""Evaluation curves of several runs on one grid of env steps, ours or published."""

from __future__ import annotations

import dataclasses

import numpy as np

CHECKPOINTS = (100_000, 300_000, 1_000_000)
"""The env steps the tables compare at (those a run reached)."""
TOLERANCE = 0.02
"""An evaluation counts for a mark when it lies at or before the mark by at most this fraction of it
(the published SAC grid evaluates every 16,666 steps: 99,996 stands for 100k, 999,960 for 1M)."""


@dataclasses.dataclass(frozen=True)
class Curves:
    """env_steps: [num_evals], increasing; returns: [num_runs, num_evals]."""

    env_steps: np.ndarray
    returns: np.ndarray

    def at(self, mark: int) -> tuple[int, np.ndarray] | None:
        """(env step, returns [num_runs]) of the last evaluation at or before `mark`, if it lies
        within TOLERANCE of it; None when the curves never got that close."""
        reached = np.flatnonzero(self.env_steps <= mark)
        if len(reached) == 0 or self.env_steps[reached[-1]] < (1.0 - TOLERANCE) * mark:
            return None
        index = reached[-1]
        return int(self.env_steps[index]), self.returns[:, index]

    def until(self, last_step: int) -> Curves:
        """The evaluations up to `last_step`, and the first one past it so a plot spans the range."""
        count = min(int(np.searchsorted(self.env_steps, last_step, side="right")) + 1, len(self.env_steps))
        return Curves(self.env_steps[:count], self.returns[:, :count])
