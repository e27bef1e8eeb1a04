"""Agents: one module per algorithm, plus the shared loops, replay buffer and evaluation."""

from agents import crossq, ddpg, ppo, sac, simba_sac, td3
from agents.common import ConfigError, Preset, Transition

AGENTS = {"crossq": crossq, "sac": sac, "simba-sac": simba_sac, "td3": td3, "ddpg": ddpg, "ppo": ppo}
"""Agent name (the train.py subcommand) -> module with Config, Hyperparams, init, act, update.

A module with LOOP = "on_policy" is trained by agents.on_policy, the others by agents.off_policy."""

__all__ = ["AGENTS", "ConfigError", "Preset", "Transition", "crossq", "ddpg", "ppo", "sac", "simba_sac", "td3"]
