"""One functional interface over gymnax and brax: `make("gymnax/Pendulum-v1")`, `make("brax/hopper")`."""

from __future__ import annotations

import difflib

from envs.core import Env, EnvSpec, EnvState, Timestep

__all__ = ["Env", "EnvSpec", "EnvState", "Timestep", "UnknownEnvError", "available", "make"]


class UnknownEnvError(ValueError):
    """An env id that no backend provides."""


def available() -> list[str]:
    """Every id `make` accepts."""
    from envs import brax_envs, gymnax_envs

    return [f"gymnax/{n}" for n in gymnax_envs.available()] + [f"brax/{n}" for n in brax_envs.NAMES]


def make(env_id: str, **kwargs) -> Env:
    """Builds the environment `env_id` ("<backend>/<name>"); kwargs go to the backend.

    gymnax: EnvParams fields (e.g. max_steps_in_episode=100).
    brax: backend= ("generalized", "positional", "spring", "mjx"), max_episode_steps=, and the
    env constructor's arguments.
    """
    ids = available()
    if env_id not in ids:
        close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UnknownEnvError(f"unknown env id {env_id!r}.{hint} Available: {', '.join(ids)}")
    backend, name = env_id.split("/", 1)
    if backend == "gymnax":
        from envs import gymnax_envs

        return gymnax_envs.make(name, **kwargs)
    from envs import brax_envs

    return brax_envs.make(name, **kwargs)
