"""Agents: one module per algorithm, plus the shared loop, replay buffer and evaluation."""

from agents import sac
from agents.common import ConfigError, Transition

AGENTS = {"sac": sac}
"""Agent name (the train.py subcommand) -> module with Config, Hyperparams, init, act, update."""

__all__ = ["AGENTS", "ConfigError", "Transition", "sac"]
