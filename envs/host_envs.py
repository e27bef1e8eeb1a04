"""Any jittable env stepped from the host, as the host loop steps gymnasium: ids `host/<jittable id>`,
e.g. `host/mjx/Hopper-v4`.

The control that splits an env from the loop that steps it. `gym/Hopper-v4` (C MuJoCo, host loop)
and `mjx/Hopper-v4` (MJX, fused loop) differ in both; `host/mjx/Hopper-v4` is MJX's env in the
host loop (agents.engine.host_loop.HostRuns), so a difference that follows it names the env and
one that does not names the loop. The env is the jittable one unchanged: its jitted reset and step,
vmapped over the batch, with its own auto-reset, `final_obs` and episode counters (envs/core.py),
called once per host step; its states stay on the device between calls. Env i of a batch draws
its episodes from seeds[i] alone (`jax.random.key(seeds[i])`), as a gymnasium env does from its
seed, so the host loop's seeding (agents.engine.host_loop.env_seeds) carries over.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, EnvSpec, Timestep
from envs.gym_envs import HostEnv


@dataclasses.dataclass(frozen=True)
class HostSteppedEnv(HostEnv):
    """A jittable env behind the host-stepped interface: `name` is its id, `env` the env itself."""

    env: Env | None = dataclasses.field(default=None, hash=False)

    def batch(self, seeds: Sequence[int]) -> JittedBatch:
        return JittedBatch(self.env, seeds)


class JittedBatch:
    """n copies of a jittable env, stepped together by one compiled call per host step (compiled
    here, before the first step): numpy in, numpy Timesteps out, as envs.gym_envs.EnvBatch."""

    def __init__(self, env: Env, seeds: Sequence[int]):
        self.seeds = [int(seed) for seed in seeds]
        spec = env.spec
        keys = jax.ShapeDtypeStruct((len(self.seeds),), jax.random.key(0).dtype)
        states = jax.eval_shape(jax.vmap(env.reset), keys)[0]
        actions = jax.ShapeDtypeStruct((len(self.seeds), spec.action_dim), jnp.float32)
        self._reset = jax.jit(lambda keys: _reset(env, keys)).lower(keys).compile()
        self._step = jax.jit(lambda keys, states, actions: _step(env, keys, states, actions)).lower(keys, states, actions).compile()
        self.keys = self.states = None

    def reset(self) -> np.ndarray:
        """Starts every env afresh from its seed (the same seed, the same first episode): obs [n, *obs_shape]."""
        keys = jnp.stack([jax.random.key(seed % 2**32) for seed in self.seeds])
        self.keys, self.states, obs = self._reset(keys)
        return np.asarray(obs, np.float32)

    def step(self, actions: np.ndarray) -> Timestep:
        """actions: [n, action_dim] in [-1, 1] (NaN, from a diverged run, acts as 0) -> numpy Timestep [n, ...]."""
        actions = np.nan_to_num(np.asarray(actions, np.float32))
        self.keys, self.states, timestep = self._step(self.keys, self.states, actions)
        return jax.tree.map(np.asarray, timestep)


def _reset(env: Env, keys):
    keys, reset_keys = _split(keys)
    states, obs = jax.vmap(env.reset)(reset_keys)
    return keys, states, obs


def _step(env: Env, keys, states, actions):
    keys, step_keys = _split(keys)
    states, timestep = jax.vmap(env.step)(step_keys, states, actions)
    return keys, states, timestep


def _split(keys):
    """Each env's key -> (its key carried on, the key of this call)."""
    pairs = jax.vmap(jax.random.split)(keys)
    return pairs[:, 0], pairs[:, 1]


def make(env: Env, env_id: str) -> HostSteppedEnv:
    """The jittable `env` (whose id is `env_id`) behind the host-stepped interface."""
    if not env.spec.is_continuous:
        raise ValueError(f"host/{env_id}: the host loop takes continuous actions only, and {env_id}'s are discrete")
    spec = dataclasses.replace(env.spec, env_id=f"host/{env_id}")
    return HostSteppedEnv(spec, env_id, {}, env)
