"""Agents: one module per algorithm, each defining one `Agent` record (agents/common.py), and what
only the algorithms share (actor_critic, learner, distributional, normalizers). The engine that
trains them is the subpackage agents/engine/."""

from agents import crossq, crossq_wn, ddpg, ppo, sac, simba_sac, simbav2, td3, xqc
from agents.common import Agent, ConfigError, Preset, Transition

AGENTS = {agent.name: agent for agent in (crossq.AGENT, sac.AGENT, simba_sac.AGENT, simbav2.AGENT, xqc.AGENT,
                                         crossq_wn.AGENT, td3.AGENT, ddpg.AGENT, ppo.AGENT)}
"""Agent name (the train.py subcommand) -> its Agent record."""

__all__ = ["AGENTS", "Agent", "ConfigError", "Preset", "Transition"]
