"""The real gymnasium MuJoCo tasks (ids `gym/<Name>-v4`, `gym/<Name>-v5`), stepped on the host.

MuJoCo runs in C on the host, so these environments are not jittable: `make` returns a `HostEnv`
whose `batch(seeds)` builds one gymnasium env per seed, stepped in lockstep with the contract of
`envs.core` (actions in [-1, 1] rescaled to the bounds, auto-reset to a fresh episode, the true
last observation in `final_obs`, episode counters), returning numpy `Timestep`s. Termination and
truncation are gymnasium's own (its `TimeLimit` sets `truncated`); where both are set at once
(an episode that fails on its last allowed step) the step counts as terminated only.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import warnings
from typing import Sequence

import numpy as np

from envs.core import EnvSpec, Timestep, to_env_action

TASKS = (
    "HalfCheetah",
    "Hopper",
    "Walker2d",
    "Ant",
    "Humanoid",
    "InvertedPendulum",
    "InvertedDoublePendulum",
    "Reacher",
    "Swimmer",
)
NAMES = tuple(f"{task}-{version}" for task in TASKS for version in ("v4", "v5"))


class MujocoWarning(UserWarning):
    """A warning of MuJoCo's C library (e.g. about a deprecated attribute of a task's model)."""


def route_mujoco_warnings() -> None:
    """Turns MuJoCo's own warnings into Python warnings (MujocoWarning), each text once per process,
    unless a handler is set already: by default MuJoCo prints each one on every model load (twice
    per gymnasium env of HalfCheetah, whose model uses the deprecated `settotalmass`) and appends it
    to MUJOCO_LOG.TXT in the working directory."""
    import mujoco

    if mujoco.get_mju_user_warning() is not None:
        return
    seen = set()

    def warn_once(text: str) -> None:
        if text not in seen:
            seen.add(text)
            warnings.warn(f"MuJoCo: {text}", MujocoWarning, stacklevel=2)

    mujoco.set_mju_user_warning(warn_once)


def _make_gymnasium_env(name: str, kwargs: dict):
    import gymnasium

    route_mujoco_warnings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # gymnasium asks v4 users to move to v5
        return gymnasium.make(name, disable_env_checker=True, **kwargs)


@dataclasses.dataclass(frozen=True)
class HostEnv:
    """A host-stepped environment: its static spec and a factory of seeded batches."""

    spec: EnvSpec
    name: str
    kwargs: dict = dataclasses.field(hash=False)
    """gymnasium.make's keyword arguments (e.g. max_episode_steps=50, reset_noise_scale=0.1)."""

    def batch(self, seeds: Sequence[int]) -> EnvBatch:
        """One gymnasium env per seed; env i's episodes are drawn from seeds[i] only."""
        return EnvBatch([_make_gymnasium_env(self.name, self.kwargs) for _ in seeds], seeds)


class EnvBatch:
    """n gymnasium envs stepped in lockstep; every array has a leading [n] axis.

    A plain list, not gymnasium's SyncVectorEnv: the same stepping costs about 25% less without
    the vector env's info merging (bench/README.md). With `threads` > 1 the envs are split into
    contiguous slices, one per thread (MuJoCo's mj_step releases the GIL, so the slices' physics can
    run at once; each env is stepped by one thread only, so the results are those of stepping them
    one after another). The default is 1: on the 2-core CPU, 8 HalfCheetah envs took 0.65 ms per
    step on 2 threads against 0.49 ms on one (bench/host_loop.py's second table measures it).
    """

    def __init__(self, envs: list, seeds: Sequence[int], threads: int = 1):
        self.envs = envs
        self.seeds = [int(seed) for seed in seeds]
        space = envs[0].action_space
        self.action_low = np.asarray(space.low, np.float32)
        self.action_high = np.asarray(space.high, np.float32)
        self.episode_return = np.zeros(len(envs), np.float32)
        self.episode_length = np.zeros(len(envs), np.int32)
        threads = min(len(envs), threads)
        bounds = np.linspace(0, len(envs), threads + 1).astype(int)
        self.slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        self.pool = concurrent.futures.ThreadPoolExecutor(threads) if threads > 1 else None

    def reset(self) -> np.ndarray:
        """Starts every env afresh from its seed (the same seed, the same first episode): obs [n, *obs_shape]."""
        self.episode_return[:] = 0.0
        self.episode_length[:] = 0
        return np.stack([env.reset(seed=seed)[0] for env, seed in zip(self.envs, self.seeds)]).astype(np.float32)

    def step(self, actions: np.ndarray) -> Timestep:
        """actions: [n, action_dim] in [-1, 1] (NaN, from a diverged run, acts as 0) -> numpy Timestep [n, ...]."""
        env_actions = to_env_action(np.nan_to_num(np.asarray(actions, np.float32)), self.action_low, self.action_high)
        if self.pool is None:
            steps = step_envs(self.envs, env_actions)
        else:
            parts = self.pool.map(lambda part: step_envs(self.envs[part], env_actions[part]), self.slices)
            steps = [step for part in parts for step in part]
        obs, final_obs, rewards, terminated, truncated = zip(*steps)
        reward = np.asarray(rewards, np.float32)
        self.episode_return += reward
        self.episode_length += 1
        timestep = Timestep(
            obs=np.asarray(obs, np.float32),
            reward=reward,
            terminated=np.asarray(terminated),
            truncated=np.asarray(truncated),
            final_obs=np.asarray(final_obs, np.float32),
            episode_return=self.episode_return.copy(),
            episode_length=self.episode_length.copy(),
        )
        done = timestep.terminated | timestep.truncated
        self.episode_return[done] = 0.0
        self.episode_length[done] = 0
        return timestep


def step_envs(envs: list, env_actions: np.ndarray) -> list[tuple]:
    """(obs, final_obs, reward, terminated, truncated) of each env stepped with its action; an
    ended episode is followed by gymnasium's own reset (the next episode from the env's seeded
    generator), whose first observation is `obs`."""
    steps = []
    for env, action in zip(envs, env_actions):
        last, reward, ended, timed_out, _ = env.step(action)
        steps.append((env.reset()[0] if ended or timed_out else last, last, reward, ended, timed_out and not ended))
    return steps


def make(name: str, **kwargs) -> HostEnv:
    """`kwargs` go to gymnasium.make (e.g. max_episode_steps=50, reset_noise_scale=0.1)."""
    env = _make_gymnasium_env(name, kwargs)
    spec = EnvSpec(
        env_id=f"gym/{name}",
        obs_shape=tuple(env.observation_space.shape),
        max_episode_steps=int(env.spec.max_episode_steps),
        action_dim=math.prod(env.action_space.shape),
    )
    env.close()
    return HostEnv(spec, name, kwargs)
