"""Agents: one module per algorithm, plus the shared loop, replay buffer and evaluation."""

from agents import crossq, sac
from agents.common import ConfigError, Transition

AGENTS = {"crossq": crossq, "sac": sac}
"""Agent name (the train.py subcommand) -> module with Config, Hyperparams, init, act, update."""

__all__ = ["AGENTS", "ConfigError", "Transition", "crossq", "sac"]
