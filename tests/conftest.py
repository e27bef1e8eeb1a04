import os
import tempfile

import pytest
import sys
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# one compilation cache for the whole session (subprocesses included): tests that compile the same
# program twice (a run and its resumption, the same command twice) compile it once
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="occam-jax-cache-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.engine.malloc import retain_freed_memory  # noqa: E402

retain_freed_memory()  # as train.py does: jitted calls reuse freed memory instead of paging it in again


def final_eval_returns(agent: str, agent_config, hparams, total_steps: int, eval_every: int, seeds: int = 3):
    """Final deterministic eval returns [seeds] of `seeds` vmapped runs on gymnax/Pendulum-v1;
    asserts that no run diverged."""
    import jax
    import numpy as np

    from agents.engine.batching import broadcast, seed_keys
    from agents.common import resolve_gamma
    from agents.engine.loop import TrainConfig
    from agents.engine.off_policy import train

    config = TrainConfig(agent=agent, agent_config=agent_config, total_steps=total_steps, eval_every=eval_every, eval_episodes=5)
    hparams = resolve_gamma(hparams, 200)  # gamma "auto" from Pendulum-v1's 200-step limit
    _, metrics = jax.jit(jax.vmap(lambda h, k: train(config, h, k)))(broadcast(hparams, seeds), seed_keys(0, seeds))
    assert (np.asarray(metrics["diverged_at"]) == -1).all()
    return np.asarray(metrics["eval_return"][:, -1])


@pytest.fixture
def pendulum_returns():
    """The function final_eval_returns, for learning tests."""
    return final_eval_returns
