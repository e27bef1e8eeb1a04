"""The functional environment interface every part of the suite talks to.

A backend (gymnax, brax) supplies a *raw* environment: reset, and a step that never resets and
knows nothing of time limits. `make_env` wraps it once, here, with what every agent needs:
actions in [-1, 1] rescaled to the env's bounds, a time limit that sets `truncated` (never
`terminated`), automatic reset to a **fresh** initial state drawn from the step key, the true last
observation of a finished episode in `final_obs`, and episode return/length for logging.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Static description of an environment (hashable, usable as a jit static argument)."""

    env_id: str
    obs_shape: tuple[int, ...]
    max_episode_steps: int
    action_dim: int | None = None
    """Continuous actions: the action vector length (agents act in [-1, 1]); None if discrete."""
    num_actions: int | None = None
    """Discrete actions: the number of actions; None if continuous."""

    @property
    def is_continuous(self) -> bool:
        return self.action_dim is not None


class Timestep(NamedTuple):
    """What one `step` returns besides the new state (all leaves batched alike under vmap).

    obs: the observation to act on next; after an episode ended it is already the first
        observation of the next episode.
    final_obs: the true observation reached by this step (equal to `obs` unless the episode ended).
    terminated: the episode ended in a terminal state (do not bootstrap).
    truncated: the episode hit the time limit (bootstrap through it).
    episode_return, episode_length: running totals of the episode this step belongs to, so at
        the step where it ends they are the episode's final return and length.
    """

    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


class EnvState(NamedTuple):
    """Wrapper state: the backend's own state plus the episode counters."""

    inner: Any
    episode_return: jax.Array
    episode_length: jax.Array


RawReset = Callable[[jax.Array], tuple[Any, jax.Array]]
"""key -> (inner_state, obs)"""
RawStep = Callable[[jax.Array, Any, jax.Array], tuple[Any, jax.Array, jax.Array, jax.Array]]
"""(key, inner_state, env_action) -> (inner_state, obs, reward, terminated); never resets."""


@dataclasses.dataclass(frozen=True)
class Env:
    """A functional environment: `reset(key)` and `step(key, state, action)`, pure and jittable.

    Works under `jax.vmap` (batch envs by vmapping both functions) and inside `lax.scan`.
    """

    spec: EnvSpec
    reset: Callable[[jax.Array], tuple[EnvState, jax.Array]]
    step: Callable[[jax.Array, EnvState, jax.Array], tuple[EnvState, Timestep]]


def to_env_action(action, low, high):
    """Continuous actions [..., action_dim] in [-1, 1] clipped and mapped affinely onto [low, high]
    (numpy or jax arrays alike)."""
    return low + 0.5 * (action.clip(-1.0, 1.0) + 1.0) * (high - low)


def any_cond(pred: jax.Array, true_fun: Callable, false_fun: Callable, *operands):
    """`lax.cond(pred, true_fun, false_fun, *operands)` that stays a branch under `jax.vmap`.

    Under vmap, `lax.cond` with a batched `pred` computes both branches for every element and
    selects. Here the batch takes one branch: `true_fun` for every element when `pred` holds for any
    of them, `false_fun` for every element otherwise (through any number of nested vmaps, inside
    scans too). So an element whose own `pred` is false may get `true_fun`'s result: the caller
    selects per element. The auto-reset uses it to compute fresh states only on steps where an
    episode of the batch ends.
    """

    @custom_vmap
    def branch(pred, *operands):
        return jax.lax.cond(pred, true_fun, false_fun, *operands)

    @branch.def_vmap
    def one_branch_for_the_batch(axis_size, in_batched, pred, *operands):
        def batched(x, is_batched):
            return x if is_batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x)))

        pred = batched(pred, in_batched[0])
        operands = jax.tree.map(batched, operands, tuple(in_batched[1:]))
        out = any_cond(pred.any(), jax.vmap(true_fun), jax.vmap(false_fun), *operands)
        return out, jax.tree.map(lambda _: True, out)

    return branch(pred, *operands)


def make_env(
    spec: EnvSpec,
    raw_reset: RawReset,
    raw_step: RawStep,
    action_low: jax.Array | None = None,
    action_high: jax.Array | None = None,
) -> Env:
    """Builds the contract of docs/architecture.md around a raw backend environment.

    action_low, action_high: [action_dim] bounds of the backend's continuous actions; the agent's
    action in [-1, 1] is clipped and mapped affinely onto them.
    """

    def reset(key: jax.Array) -> tuple[EnvState, jax.Array]:
        inner, obs = raw_reset(key)
        return EnvState(inner, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)), obs

    def step(key: jax.Array, state: EnvState, action: jax.Array) -> tuple[EnvState, Timestep]:
        step_key, reset_key = jax.random.split(key)
        env_action = to_env_action(action, action_low, action_high) if spec.is_continuous else action
        inner, final_obs, reward, terminated = raw_step(step_key, state.inner, env_action)
        reward = jnp.asarray(reward, jnp.float32).reshape(())
        terminated = jnp.asarray(terminated).astype(bool).reshape(())
        episode_return = state.episode_return + reward
        episode_length = state.episode_length + 1
        truncated = jnp.logical_and(episode_length >= spec.max_episode_steps, ~terminated)
        done = jnp.logical_or(terminated, truncated)

        # the reset is computed only on steps where an episode of the (vmapped) batch ends: for
        # MJX it is one more forward pass with the constraint solver
        fresh_inner, fresh_obs = any_cond(done, lambda key, inner, obs: raw_reset(key), lambda key, inner, obs: (inner, obs),
                                          reset_key, inner, final_obs)
        next_inner = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh_inner, inner)
        obs = jnp.where(done, fresh_obs, final_obs)
        next_state = EnvState(
            next_inner,
            jnp.where(done, 0.0, episode_return),
            jnp.where(done, 0, episode_length),
        )
        return next_state, Timestep(
            obs=obs,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            final_obs=final_obs,
            episode_return=episode_return,
            episode_length=episode_length,
        )

    return Env(spec=spec, reset=reset, step=step)
