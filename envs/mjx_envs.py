"""The gymnasium MuJoCo tasks as pure-JAX environments (ids `mjx/<Task>-v4`, `mjx/<Task>-v5`).

The physics is `mujoco.mjx` with its pure-JAX implementation (`impl="jax"`), on the MJCF model
that the installed gymnasium ships (loaded from the gymnasium package, with its own solver
options) and gymnasium's `frame_skip`. The task rules (observation, reward terms and weights,
healthy ranges, reset noise) follow `gymnasium/envs/mujoco/<task>_v4.py` and `_v5.py` with their
default arguments. The physics state carried between steps is the whole `mjx.Data` (its non-empty
arrays), as gymnasium keeps its `data`, so rules that read derived quantities (body positions,
constraint forces) see what gymnasium's `data` holds: those of the last substep's start, MuJoCo's
`mj_step` convention.
`envs.core.make_env` adds the time limit, auto-reset and episode counters.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, EnvSpec, make_env

EPISODE_STEPS = 1000
"""gymnasium registers every task here with max_episode_steps=1000 (Reacher: 50, see `Task`)."""


def _xml_path(xml_file: str) -> str:
    import gymnasium.envs.mujoco

    return os.path.join(os.path.dirname(gymnasium.envs.mujoco.__file__), "assets", xml_file)


@dataclasses.dataclass(frozen=True)
class Task:
    """gymnasium's rules for one task and version.

    observe: mjx.Data -> obs [obs_dim].
    reward: (data before the step, data after it, ctrl [nu], dt) -> (reward, terminated).
    reset_noise: (key, init_qpos [nq], init_qvel [nv]) -> (qpos, qvel) of a fresh episode.
    """

    xml_file: str
    frame_skip: int
    observe: Callable
    reward: Callable
    reset_noise: Callable
    episode_steps: int = EPISODE_STEPS


def _uniform_noise(scale: float, qvel_normal: bool = False) -> Callable:
    """qpos + U(-scale, scale); qvel + U(-scale, scale), or + scale * N(0, 1) where `qvel_normal`."""

    def reset_noise(key, qpos, qvel):
        pos_key, vel_key = jax.random.split(key)
        qpos = qpos + jax.random.uniform(pos_key, qpos.shape, minval=-scale, maxval=scale)
        if qvel_normal:
            return qpos, qvel + scale * jax.random.normal(vel_key, qvel.shape)
        return qpos, qvel + jax.random.uniform(vel_key, qvel.shape, minval=-scale, maxval=scale)

    return reset_noise


def _positions_velocities(skip: int, clip_velocity: float | None = None) -> Callable:
    """obs = qpos[skip:] ++ qvel (clipped to +-clip_velocity where given)."""

    def observe(data):
        qvel = data.qvel if clip_velocity is None else jnp.clip(data.qvel, -clip_velocity, clip_velocity)
        return jnp.concatenate([data.qpos[skip:], qvel])

    return observe


def _control_cost(weight: float, ctrl):
    return weight * jnp.sum(jnp.square(ctrl))


def _half_cheetah(version: str) -> Task:
    def reward(before, after, ctrl, dt):
        x_velocity = (after.qpos[0] - before.qpos[0]) / dt
        return 1.0 * x_velocity - _control_cost(0.1, ctrl), jnp.array(False)

    return Task("half_cheetah.xml", 5, _positions_velocities(1), reward, _uniform_noise(0.1, qvel_normal=True))


def _planar_walker(version: str, xml_file: str, healthy) -> Task:
    """Hopper and Walker2d: forward velocity + healthy reward - 1e-3 |ctrl|^2, end when unhealthy.

    v4 pays the healthy reward on the failing step too (terminate_when_unhealthy makes it
    unconditional); v5 pays it only while healthy.
    """

    def reward(before, after, ctrl, dt):
        is_healthy = healthy(after)
        x_velocity = (after.qpos[0] - before.qpos[0]) / dt
        healthy_reward = 1.0 if version == "v4" else is_healthy.astype(jnp.float32)
        return x_velocity + healthy_reward - _control_cost(1e-3, ctrl), ~is_healthy

    return Task(xml_file, 4, _positions_velocities(1, clip_velocity=10.0), reward, _uniform_noise(5e-3))


def _hopper_healthy(data):
    z, angle = data.qpos[1], data.qpos[2]
    state = jnp.concatenate([data.qpos, data.qvel])[2:]
    return jnp.all((-100.0 < state) & (state < 100.0)) & (0.7 < z) & (-0.2 < angle) & (angle < 0.2)


def _walker_healthy(data):
    z, angle = data.qpos[1], data.qpos[2]
    return (0.8 < z) & (z < 2.0) & (-1.0 < angle) & (angle < 1.0)


def _hopper(version: str) -> Task:
    return _planar_walker(version, "hopper.xml", _hopper_healthy)


def _walker2d(version: str) -> Task:
    return _planar_walker(version, "walker2d.xml" if version == "v4" else "walker2d_v5.xml", _walker_healthy)


def _inverted_pendulum(version: str) -> Task:
    observe = _positions_velocities(0)

    def reward(before, after, ctrl, dt):
        obs = observe(after)
        terminated = ~jnp.all(jnp.isfinite(obs)) | (jnp.abs(obs[1]) > 0.2)
        return (1.0 if version == "v4" else (~terminated).astype(jnp.float32)), terminated

    return Task("inverted_pendulum.xml", 2, observe, reward, _uniform_noise(0.01))


def _inverted_double_pendulum(version: str) -> Task:
    """v4 observes all three constraint forces, v5 only the cart's; v5 pays the alive bonus only while alive."""
    constraint_forces = 3 if version == "v4" else 1

    def observe(data):
        return jnp.concatenate([
            data.qpos[:1],
            jnp.sin(data.qpos[1:]),
            jnp.cos(data.qpos[1:]),
            jnp.clip(data.qvel, -10.0, 10.0),
            jnp.clip(data.qfrc_constraint, -10.0, 10.0)[:constraint_forces],
        ])

    def reward(before, after, ctrl, dt):
        x, _, y = after.site_xpos[0]
        terminated = y <= 1.0
        dist_penalty = 0.01 * x**2 + (y - 2.0) ** 2
        vel_penalty = 1e-3 * after.qvel[1] ** 2 + 5e-3 * after.qvel[2] ** 2
        alive_bonus = 10.0 if version == "v4" else 10.0 * (~terminated).astype(jnp.float32)
        return alive_bonus - dist_penalty - vel_penalty, terminated

    return Task("inverted_double_pendulum.xml", 5, observe, reward, _uniform_noise(0.1, qvel_normal=True))


def _swimmer(version: str) -> Task:
    def reward(before, after, ctrl, dt):
        x_velocity = (after.qpos[0] - before.qpos[0]) / dt
        return x_velocity - _control_cost(1e-4, ctrl), jnp.array(False)

    return Task("swimmer.xml", 4, _positions_velocities(2), reward, _uniform_noise(0.1))


def _body_ids(xml_file: str, *names: str) -> list[int]:
    import mujoco

    model = mujoco.MjModel.from_xml_path(_xml_path(xml_file))
    return [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name) for name in names]


def _reacher(version: str) -> Task:
    """v4 rewards the distance before the step (gymnasium computes it before simulating) and observes
    the 3-d fingertip-target vector; v5 rewards the distance after the step and observes 2 of it."""
    vector_dims = 3 if version == "v4" else 2
    fingertip, target = _body_ids("reacher.xml", "fingertip", "target")

    def fingertip_to_target(data):
        return data.xpos[fingertip] - data.xpos[target]

    def observe(data):
        theta = data.qpos[:2]
        return jnp.concatenate([
            jnp.cos(theta), jnp.sin(theta), data.qpos[2:], data.qvel[:2], fingertip_to_target(data)[:vector_dims]
        ])

    def reward(before, after, ctrl, dt):
        distance = jnp.linalg.norm(fingertip_to_target(before if version == "v4" else after))
        return -distance - jnp.sum(jnp.square(ctrl)), jnp.array(False)

    def reset_noise(key, qpos, qvel):
        pos_key, goal_key, vel_key = jax.random.split(key, 3)
        qpos = qpos + jax.random.uniform(pos_key, qpos.shape, minval=-0.1, maxval=0.1)

        def draw(state):
            key, _ = state
            key, sample_key = jax.random.split(key)
            return key, jax.random.uniform(sample_key, (2,), minval=-0.2, maxval=0.2)

        # gymnasium draws the goal uniformly in the square until it lies inside the disc of radius 0.2
        _, goal = jax.lax.while_loop(lambda state: jnp.linalg.norm(state[1]) >= 0.2, draw, draw((goal_key, None)))
        qpos = qpos.at[-2:].set(goal)
        qvel = qvel + jax.random.uniform(vel_key, qvel.shape, minval=-0.005, maxval=0.005)
        return qpos, qvel.at[-2:].set(0.0)

    return Task("reacher.xml", 2, observe, reward, reset_noise, episode_steps=50)


TASKS: dict[str, Callable[[str], Task]] = {
    "HalfCheetah": _half_cheetah,
    "Hopper": _hopper,
    "Walker2d": _walker2d,
    "InvertedPendulum": _inverted_pendulum,
    "InvertedDoublePendulum": _inverted_double_pendulum,
    "Reacher": _reacher,
    "Swimmer": _swimmer,
}
VERSIONS = ("v4", "v5")
NAMES = tuple(f"{task}-{version}" for task in TASKS for version in VERSIONS)


def task_rules(name: str) -> Task:
    """The rules of `name` ("Hopper-v4")."""
    task, version = name.rsplit("-", 1)
    return TASKS[task](version)


def load_model(xml_file: str):
    """The MuJoCo model gymnasium ships (C `MjModel`) and its MJX copy (pure-JAX implementation)."""
    import mujoco
    from mujoco import mjx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mj_model = mujoco.MjModel.from_xml_path(_xml_path(xml_file))
    return mj_model, mjx.put_model(mj_model, impl="jax")


def make_physics(name: str):
    """(task, mj_model, mjx_model, reset_data, step_data, blank) for `name`; the raw physics the tests compare.

    reset_data(key) -> mjx.Data of a fresh episode (gymnasium's set_state: qpos, qvel, then forward).
    step_data(data, ctrl) -> (data, reward, terminated): frame_skip MuJoCo steps with ctrl [nu].
    blank: the model's mjx.Data at qpos0, at rest, before any forward pass.
    """
    from mujoco import mjx

    task = task_rules(name)
    mj_model, model = load_model(task.xml_file)
    dt = float(mj_model.opt.timestep) * task.frame_skip
    blank = mjx.make_data(model, impl="jax")
    init_qpos, init_qvel = jnp.asarray(mj_model.qpos0, jnp.float32), jnp.zeros(mj_model.nv, jnp.float32)

    def reset_data(key):
        qpos, qvel = task.reset_noise(key, init_qpos, init_qvel)
        return mjx.forward(model, blank.replace(qpos=qpos, qvel=qvel))

    def step_data(data, ctrl):
        def substep(data, _):
            return mjx.step(model, data), None

        after, _ = jax.lax.scan(substep, data.replace(ctrl=ctrl), None, length=task.frame_skip)
        reward, terminated = task.reward(data, after, ctrl, dt)
        return after, jnp.asarray(reward, jnp.float32), terminated

    return task, mj_model, model, reset_data, step_data, blank


def _packing(blank):
    """(pack, unpack) between mjx.Data and the tuple of its non-empty arrays: the env state carries
    only those, since checkpoints (orbax) cannot save zero-size arrays (e.g. `act` of a model without
    activations)."""
    leaves, treedef = jax.tree.flatten(blank)
    empty = [leaf.size == 0 for leaf in leaves]

    def pack(data) -> tuple:
        return tuple(leaf for leaf, is_empty in zip(jax.tree.leaves(data), empty) if not is_empty)

    def unpack(packed: tuple):
        arrays = iter(packed)
        return treedef.unflatten([leaf if is_empty else next(arrays) for leaf, is_empty in zip(leaves, empty)])

    return pack, unpack


def make(name: str, max_episode_steps: int | None = None) -> Env:
    """`mjx/<name>` in the contract of envs.core; max_episode_steps defaults to gymnasium's limit.

    The env state's `inner` is the tuple of mjx.Data's non-empty arrays (see `_packing`)."""
    task, mj_model, _, reset_data, step_data, blank = make_physics(name)
    pack, unpack = _packing(blank)
    low, high = (np.asarray(bound, np.float32) for bound in np.asarray(mj_model.actuator_ctrlrange).T)
    obs_dim = jax.eval_shape(task.observe, blank).shape[0]
    spec = EnvSpec(
        env_id=f"mjx/{name}",
        obs_shape=(obs_dim,),
        max_episode_steps=int(max_episode_steps or task.episode_steps),
        action_dim=int(mj_model.nu),
    )

    def raw_reset(key):
        data = reset_data(key)
        return pack(data), task.observe(data)

    def raw_step(key, packed, ctrl):
        del key  # the physics is deterministic
        data, reward, terminated = step_data(unpack(packed), ctrl)
        return pack(data), task.observe(data), reward, terminated

    return make_env(spec, raw_reset, raw_step, jnp.asarray(low), jnp.asarray(high))
