"""DDPG (Lillicrap et al., 2016) as the special case of TD3 it honestly is.

This is Fujimoto et al.'s "OurDDPG" (the DDPG baseline of the TD3 paper and repository): one
critic, no target policy smoothing, no policy delay, Gaussian exploration noise 0.1 and 256-wide
layers, trained with TD3's code path (agents.td3) with those settings. It differs from the 2016
paper, which used Ornstein-Uhlenbeck noise, 400-300 layers, learning rates 1e-4 / 1e-3 and an L2
penalty on the critic; those settings are not reproduced here.
"""

from __future__ import annotations

import dataclasses

import flax.struct

from agents import td3
from agents.common import Preset


@dataclasses.dataclass(frozen=True)
class Config(td3.Config):
    """Static DDPG settings: TD3's with one critic and no policy delay."""

    num_critics: int = 1
    """Critics in the ensemble (DDPG: one)."""
    policy_delay: int = 1
    """Critic updates per actor and target update (DDPG: every update)."""


@flax.struct.dataclass
class Hyperparams(td3.Hyperparams):
    """Array hyperparameters of DDPG: TD3's without target policy smoothing."""

    target_noise: float = 0.0
    """Std of the target policy smoothing noise (DDPG: none)."""


PRESETS = {
    "paper": Preset(
        Config(),
        Hyperparams(),
        "Fujimoto et al.'s OurDDPG (sfujim/TD3, OurDDPG.py, main.py): 1M env steps evaluated every 5000",
        {"total_steps": 1_000_000, "eval_every": 5_000},
    ),
    "cpu": Preset(
        Config(learning_starts=1000),
        Hyperparams(),
        "OurDDPG with 1000 random steps, for short runs on small tasks",
    ),
}


AGENT = dataclasses.replace(
    td3.AGENT,
    name="ddpg",
    summary=__doc__.splitlines()[0],
    Config=Config,
    Hyperparams=Hyperparams,
    presets=PRESETS,
    default_preset="cpu",
)
