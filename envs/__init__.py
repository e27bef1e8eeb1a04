"""One interface over gymnax, brax and gymnasium MuJoCo: `make("gymnax/Pendulum-v1")`, `make("brax/hopper")`,
`make("mjx/HalfCheetah-v4")` (gymnasium's task in pure JAX, envs/mjx_envs.py) and `make("gym/HalfCheetah-v4")`
(host-stepped: a `HostEnv`, see envs/gym_envs.py); `make("host/mjx/HalfCheetah-v4")` steps a jittable env
from the host as a `HostEnv` (envs/host_envs.py)."""

from __future__ import annotations

import difflib

from envs.core import Env, EnvSpec, EnvState, Timestep
from envs.gym_envs import HostEnv

__all__ = ["Env", "EnvSpec", "EnvState", "HostEnv", "Timestep", "UnknownEnvError", "available", "is_host_stepped", "make"]


class UnknownEnvError(ValueError):
    """An env id that no backend provides."""


BACKENDS = ("gymnax", "brax", "mjx", "gym")  # "<backend>/<name>" ids; each backend's module is envs/<backend>_envs.py


def _module(backend: str):
    """envs/<backend>_envs.py, which imports its package only when asked for an env (or gymnax's names)."""
    import importlib

    return importlib.import_module(f"envs.{backend}_envs")


def _names(backend: str) -> tuple[str, ...]:
    """The names `make` accepts after "<backend>/"; only gymnax's need the package (2-3 s to import)."""
    if backend not in BACKENDS:
        return ()
    module = _module(backend)
    return tuple(module.available()) if backend == "gymnax" else module.NAMES


def available() -> list[str]:
    """Every id `make` accepts."""
    return [f"{backend}/{name}" for backend in BACKENDS for name in _names(backend)]


HOST = "host/"
"""The prefix of a jittable env's id that steps it from the host (envs/host_envs.py)."""


def is_host_stepped(env_id: str) -> bool:
    """Whether `make(env_id)` gives a host-stepped `HostEnv` (gymnasium MuJoCo, or a `host/` id)
    rather than a jittable `Env`."""
    return env_id.startswith(("gym/", HOST))


def make(env_id: str, **kwargs) -> Env | HostEnv:
    """Builds the environment `env_id` ("<backend>/<name>"); kwargs go to the backend.

    gymnax: EnvParams fields (e.g. max_steps_in_episode=100).
    brax: backend= ("generalized", "positional", "spring", "mjx"), max_episode_steps=, and the
    env constructor's arguments.
    mjx: max_episode_steps= (default gymnasium's limit); the id may cap the constraint solver,
    "mjx/HalfCheetah-v4:playground" (envs/mjx_envs.solver_caps).
    gym: gymnasium.make's arguments (e.g. max_episode_steps=50); returns a host-stepped `HostEnv`.
    host/<jittable id>: that env's arguments; returns it behind the host-stepped interface.
    """
    if env_id.startswith(HOST):
        inner_id = env_id.removeprefix(HOST)
        if is_host_stepped(inner_id):
            raise UnknownEnvError(f"{env_id}: host/ takes a jittable env's id (gymnax/, brax/, mjx/); {inner_id} is host-stepped already")
        from envs import host_envs

        return host_envs.make(make(inner_id, **kwargs), inner_id)
    backend, _, name = env_id.partition("/")
    task = name.partition(":")[0] if backend == "mjx" else name  # solver caps after the ':', checked by mjx_envs
    if task not in _names(backend):  # a brax, mjx or gym id never imports gymnax
        ids = available()
        close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UnknownEnvError(f"unknown env id {env_id!r}.{hint} Available: {', '.join(ids)}; and host/ before any "
                             "gymnax/, brax/ or mjx/ id (that env stepped from the host loop)")
    return _module(backend).make(name, **kwargs)
