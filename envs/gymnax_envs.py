"""gymnax environments behind the suite's interface (ids `gymnax/<name>`)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from envs.core import Env, EnvSpec, make_env


def available() -> list[str]:
    import gymnax

    return list(gymnax.registered_envs)


def make(name: str, **env_params) -> Env:
    """`env_params` override fields of the gymnax EnvParams (e.g. max_steps_in_episode=100)."""
    import gymnax
    from gymnax.environments import spaces

    env, params = gymnax.make(name)
    unknown = set(env_params) - set(params.__dataclass_fields__)
    if unknown:
        raise ValueError(
            f"gymnax/{name} has no parameter(s) {sorted(unknown)}; "
            f"its parameters are {sorted(params.__dataclass_fields__)}"
        )
    params = params.replace(**env_params)
    action_space = env.action_space(params)
    obs_shape = tuple(env.observation_space(params).shape)

    if isinstance(action_space, spaces.Discrete):
        spec_kwargs = dict(num_actions=int(action_space.n))
        low = high = None
    elif isinstance(action_space, spaces.Box):
        action_shape = tuple(action_space.shape) or (1,)
        spec_kwargs = dict(action_dim=math.prod(action_shape))
        low = np.broadcast_to(np.asarray(action_space.low, np.float32), action_shape)
        high = np.broadcast_to(np.asarray(action_space.high, np.float32), action_shape)
    else:
        raise ValueError(f"gymnax/{name} has an action space the suite does not support: {action_space}")
    scalar_action = spec_kwargs.get("action_dim") and action_space.shape == ()

    spec = EnvSpec(
        env_id=f"gymnax/{name}",
        obs_shape=obs_shape,
        max_episode_steps=int(params.max_steps_in_episode),
        **spec_kwargs,
    )

    def raw_reset(key):
        obs, state = env.reset_env(key, params)
        return state, jnp.asarray(obs, jnp.float32)

    def raw_step(key, state, action):
        if scalar_action:
            action = action[0]
        obs, state, reward, terminated, _ = env.step_env(key, state, action, params)
        return state, jnp.asarray(obs, jnp.float32), reward, terminated

    return make_env(spec, raw_reset, raw_step, low, high)
