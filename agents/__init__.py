"""Agents: one module per algorithm, plus the shared loop, replay buffer and evaluation."""

from agents import crossq, ddpg, sac, simba_sac, td3
from agents.common import ConfigError, Transition

AGENTS = {"crossq": crossq, "sac": sac, "simba-sac": simba_sac, "td3": td3, "ddpg": ddpg}
"""Agent name (the train.py subcommand) -> module with Config, Hyperparams, init, act, update."""

__all__ = ["AGENTS", "ConfigError", "Transition", "crossq", "ddpg", "sac", "simba_sac", "td3"]
