"""brax environments behind the suite's interface (ids `brax/<name>`).

brax's own `AutoResetWrapper` returns to a cached first state and loses the final observation, so
the raw brax env is used unwrapped and `envs.core.make_env` does the resetting.
"""

from __future__ import annotations

import numpy as np

from envs.core import Env, EnvSpec, make_env

NAMES = (
    "ant",
    "halfcheetah",
    "hopper",
    "humanoid",
    "humanoidstandup",
    "inverted_pendulum",
    "inverted_double_pendulum",
    "pusher",
    "reacher",
    "walker2d",
    "swimmer",
)
BACKENDS = ("generalized", "positional", "spring", "mjx")
DEFAULT_BACKEND = "spring"
"""The fastest backend on CPU in every task measured (envs/README.md); positional is more faithful."""
DEFAULT_EPISODE_STEPS = 1000


def make(
    name: str,
    backend: str = DEFAULT_BACKEND,
    max_episode_steps: int = DEFAULT_EPISODE_STEPS,
    **env_kwargs,
) -> Env:
    """`env_kwargs` go to the brax env constructor (e.g. terminate_when_unhealthy=False)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown brax backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    import warnings

    from envs.mjx_envs import import_mjx

    import_mjx()  # brax imports it: without its lines about the Warp implementation
    from brax import envs as brax_envs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        env = brax_envs.get_environment(name, backend=backend, **env_kwargs)
    low, high = (np.asarray(bound, np.float32) for bound in np.asarray(env.sys.actuator.ctrl_range).T)
    spec = EnvSpec(
        env_id=f"brax/{name}",
        obs_shape=(int(env.observation_size),),
        max_episode_steps=int(max_episode_steps),
        action_dim=int(env.action_size),
    )

    def raw_reset(key):
        state = env.reset(key)
        return state, state.obs

    def raw_step(key, state, action):
        del key  # brax dynamics are deterministic
        state = env.step(state, action)
        return state, state.obs, state.reward, state.done

    return make_env(spec, raw_reset, raw_step, low, high)
