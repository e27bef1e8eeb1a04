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

import contextlib
import dataclasses
import io
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, EnvSpec, make_env
from envs.gym_envs import route_mujoco_warnings

EPISODE_STEPS = 1000
"""gymnasium registers every task here with max_episode_steps=1000 (Reacher: 50, see `Task`)."""


def _xml_path(xml_file: str) -> str:
    """The path of a model file gymnasium ships (loading it routes MuJoCo's warnings to Python's)."""
    import gymnasium.envs.mujoco

    route_mujoco_warnings()
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
    contact_forces: bool = False
    """Whether the rules read `cfrc_ext` (gymnasium computes it after every step with mj_rnePostConstraint)."""
    solver: str | None = None
    """The constraint solver MJX runs where it lacks the model's own ("newton"), None for the model's."""


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


def _ant(version: str) -> Task:
    """v4 (use_contact_forces=False) neither observes nor costs the contact forces and pays the healthy
    reward on the failing step too; v5 observes cfrc_ext of every body but the world, clipped to
    [-1, 1], costs 5e-4 of their squares and pays the healthy reward only while healthy."""
    (torso,) = _body_ids("ant.xml", "torso")

    def contact_forces(data):
        return jnp.clip(data.cfrc_ext, -1.0, 1.0)

    def observe(data):
        parts = [data.qpos[2:], data.qvel]
        return jnp.concatenate(parts if version == "v4" else parts + [contact_forces(data)[1:].ravel()])

    def reward(before, after, ctrl, dt):
        state = jnp.concatenate([after.qpos, after.qvel])
        is_healthy = jnp.all(jnp.isfinite(state)) & (0.2 <= state[2]) & (state[2] <= 1.0)
        x_velocity = (after.xpos[torso, 0] - before.xpos[torso, 0]) / dt
        if version == "v4":
            return x_velocity + 1.0 - _control_cost(0.5, ctrl), ~is_healthy
        contact_cost = 5e-4 * jnp.sum(jnp.square(contact_forces(after)))
        return x_velocity + is_healthy.astype(jnp.float32) - _control_cost(0.5, ctrl) - contact_cost, ~is_healthy

    return Task("ant.xml", 5, observe, reward, _uniform_noise(0.1, qvel_normal=True), contact_forces=version == "v5")


def _humanoid(version: str) -> Task:
    """Observes qpos[2:], qvel, cinert, cvel, qfrc_actuator and cfrc_ext (v5 drops the world body's
    rows and the free joint's actuator forces); reward 1.25 x-velocity of the centre of mass + 5
    healthy - 0.1 |ctrl|^2, v5 also - min(5e-7 |cfrc_ext|^2, 10) and the healthy reward only while
    healthy (1 < z < 2). The model's PGS solver is missing from MJX's JAX implementation: Newton."""
    import mujoco

    body_mass = np.asarray(mujoco.MjModel.from_xml_path(_xml_path("humanoid.xml")).body_mass, np.float32)
    first = 0 if version == "v4" else 1

    def observe(data):
        return jnp.concatenate([
            data.qpos[2:],
            data.qvel,
            data.cinert[first:].ravel(),
            data.cvel[first:].ravel(),
            data.qfrc_actuator[6 * first :],
            data.cfrc_ext[first:].ravel(),
        ])

    def mass_center_x(data):
        return jnp.dot(body_mass, data.xipos[:, 0]) / body_mass.sum()

    def reward(before, after, ctrl, dt):
        is_healthy = (1.0 < after.qpos[2]) & (after.qpos[2] < 2.0)
        forward_reward = 1.25 * (mass_center_x(after) - mass_center_x(before)) / dt
        if version == "v4":
            return forward_reward + 5.0 - _control_cost(0.1, ctrl), ~is_healthy
        contact_cost = jnp.minimum(5e-7 * jnp.sum(jnp.square(after.cfrc_ext)), 10.0)
        healthy_reward = 5.0 * is_healthy.astype(jnp.float32)
        return forward_reward + healthy_reward - _control_cost(0.1, ctrl) - contact_cost, ~is_healthy

    return Task("humanoid.xml", 5, observe, reward, _uniform_noise(1e-2), contact_forces=True, solver="newton")


TASKS: dict[str, Callable[[str], Task]] = {
    "HalfCheetah": _half_cheetah,
    "Hopper": _hopper,
    "Walker2d": _walker2d,
    "Ant": _ant,
    "Humanoid": _humanoid,
    "InvertedPendulum": _inverted_pendulum,
    "InvertedDoublePendulum": _inverted_double_pendulum,
    "Reacher": _reacher,
    "Swimmer": _swimmer,
}
VERSIONS = ("v4", "v5")
NAMES = tuple(f"{task}-{version}" for task in TASKS for version in VERSIONS)

SOLVER_CAPS = {"playground": (4, 8), "brax": (1, 4)}
"""Named caps (iterations, ls_iterations) of the constraint solver: MuJoCo Playground's (4 Newton
iterations, 8 line-search steps: the options of google-deepmind/mujoco_playground's
`_src/dm_control_suite/xmls/cheetah.xml` and `humanoid.xml`; its hopper.xml has 4 and 10, walker.xml
2 and 5) and brax's MJX models' (1 and 4: `brax/envs/ant.py` and
`humanoid.py` set opt.iterations 1, opt.ls_iterations 4). gymnasium's models: 100 and 50 (Humanoid 50 and 50)."""


def solver_caps(name: str) -> tuple[str, tuple[int | None, int | None]]:
    """("Task-v4", (iterations, ls_iterations)) of an id's name: "HalfCheetah-v4" keeps the model's
    solver settings (None, None); "HalfCheetah-v4:playground" and ":brax" are SOLVER_CAPS;
    "HalfCheetah-v4:iterations=4,ls_iterations=8" (either key alone too) sets them. Raises
    ValueError, with the accepted forms, for anything else (an unknown task included)."""
    task, colon, caps = name.partition(":")
    if task not in NAMES:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(NAMES)}")
    if not colon:
        return task, (None, None)
    if caps in SOLVER_CAPS:
        return task, SOLVER_CAPS[caps]
    forms = (f"mjx/{task}:{' or :'.join(SOLVER_CAPS)} or :iterations=I,ls_iterations=L (positive integers; "
             "either key alone leaves the other at the model's value)")
    values = {}
    for item in caps.split(","):
        key, _, value = item.partition("=")
        if key not in ("iterations", "ls_iterations") or key in values:
            raise ValueError(f"solver caps {caps!r} in mjx/{name}: expected {forms}")
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"solver caps of mjx/{name}: {key} must be a positive integer, got {value!r}; expected {forms}")
        values[key] = int(value)
    return task, (values.get("iterations"), values.get("ls_iterations"))


def task_rules(name: str) -> Task:
    """The rules of `name` ("Hopper-v4")."""
    task, version = name.rsplit("-", 1)
    return TASKS[task](version)


def import_mjx():
    """`mujoco.mjx`, imported without the two lines it prints to stdout when its optional Warp
    implementation (NVIDIA GPUs only; the suite uses the pure-JAX one) is not installed."""
    import sys

    if "mujoco.mjx" not in sys.modules:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            import mujoco.mjx  # noqa: F401
        for line in printed.getvalue().splitlines():
            if not line.startswith(("Failed to import warp:", "Failed to import mujoco_warp:")):
                print(line)
    from mujoco import mjx

    return mjx


def load_model(xml_file: str, solver: str | None = None, caps: tuple[int | None, int | None] = (None, None)):
    """The MuJoCo model gymnasium ships (C `MjModel`, with `solver` in place of its own where given:
    "newton", and the solver's iterations and line-search iterations where `caps` gives them) and its
    MJX copy (pure-JAX implementation)."""
    import mujoco

    mjx = import_mjx()

    mj_model = mujoco.MjModel.from_xml_path(_xml_path(xml_file))
    if solver is not None:
        mj_model.opt.solver = getattr(mujoco.mjtSolver, f"mjSOL_{solver.upper()}")
    iterations, ls_iterations = caps
    if iterations is not None:
        mj_model.opt.iterations = iterations
    if ls_iterations is not None:
        mj_model.opt.ls_iterations = ls_iterations
    return mj_model, mjx.put_model(mj_model, impl="jax")


def _c_capsule_frames(collide: Callable) -> Callable:
    """`collide` (MJX's collision pass) with C MuJoCo's tangent frame on plane-capsule contacts.

    C takes the capsule's axis projected onto the plane, normalized, as the first tangent at any
    tilt; MJX replaces it by the world y axis once the projection is shorter than 0.5 (a capsule
    steeper than 60 degrees). The pyramidal friction cone's edges follow the tangents, so in 3-d
    (Ant, Humanoid) MJX's pyramid turned about the normal and its contact forces differed from C's
    (a foot's cfrc_ext 47.7 against 71.8 N); planar models' pyramids are the same either way.
    """
    import mujoco

    def collide_like_c(m, d):
        d = collide(m, d)
        contact = d._impl.contact
        if contact.geom.shape[0] == 0:
            return d
        geom_type = jnp.asarray(m.geom_type)
        plane_capsule = (geom_type[contact.geom[:, 0]] == int(mujoco.mjtGeom.mjGEOM_PLANE)) & (
            geom_type[contact.geom[:, 1]] == int(mujoco.mjtGeom.mjGEOM_CAPSULE)
        )
        normal = contact.frame[:, 0]
        axis = d.geom_xmat[contact.geom[:, 1]][:, :, 2]
        tangent = axis - normal * jnp.sum(normal * axis, axis=-1, keepdims=True)
        norm = jnp.linalg.norm(tangent, axis=-1, keepdims=True)
        # C's mju_normalize3 turns a vanishing vector into the x axis
        tangent = jnp.where(norm > 1e-15, tangent / jnp.maximum(norm, 1e-15), jnp.array([1.0, 0.0, 0.0]))
        frame = jnp.stack([normal, tangent, jnp.cross(normal, tangent)], axis=1)
        frame = jnp.where(plane_capsule[:, None, None], frame, contact.frame)
        return d.tree_replace({"_impl.contact": contact.replace(frame=frame)})

    return collide_like_c


_NEWTON_CONTINUES: list = []
"""While `_gated_linesearch` traces a line search inside the Newton loop: whether each env's loop is
still running."""


def _gated_linesearch(linesearch: Callable) -> Callable:
    """MJX's `solver._linesearch` told whether the env's Newton loop goes on.

    Under vmap, MJX's Newton `while_loop` runs its body for every env of the batch until the slowest
    converges, and discards the results of the envs that have converged; the line search nested in
    it ran for those too, from their final state, where the cost is flat to float32 precision and
    the search bisects until its bracket collapses (about 24 steps). Its loop then ran that long for
    the whole batch. With the flag, a converged env's line search stops at once: each running env's
    search is the same computation as before, and the converged ones' results were discarded anyway.
    The flag is MJX's own stopping rule (`solver.solve`'s `cond`), on the state the loop's body gets.
    """
    from mujoco.mjx._src import math, solver

    def run(m, d, ctx):
        if m.opt.iterations == 1:  # solve runs the body once, without a loop
            return linesearch(m, d, ctx)
        improvement = solver._rescale(m, d, ctx.prev_cost - ctx.cost)
        gradient = solver._rescale(m, d, math.norm(ctx.grad))
        done = ctx.solver_niter >= m.opt.iterations
        done |= improvement < m.opt.tolerance
        done |= gradient < m.opt.tolerance
        _NEWTON_CONTINUES.append(~done)
        try:
            return linesearch(m, d, ctx)
        finally:
            _NEWTON_CONTINUES.pop()

    return run


def _line_search(cond_fun, body_fun, init_val, max_iter):
    """MJX's line search (`solver._while_loop_scan`) as a `lax.while_loop`, which does not bisect a
    first bracket that already holds the minimum.

    MJX runs it as a `lax.scan` of `ls_iterations` steps (50 in gymnasium's models) with a `lax.cond`
    in each, so that it can be differentiated in reverse mode; under vmap the cond becomes a select,
    so every Newton iteration paid all 50 steps of every env. The while loop stops once every env of
    the batch whose Newton loop goes on (`_gated_linesearch`) has converged: `cond_fun` itself stops
    at `ls_iterations`. The suite never differentiates through the physics.

    The first bracket is the start (alpha 0) and the Newton point. Where the derivative at either is
    within the search's tolerance, C MuJoCo (engine_solver.c, CGsearch) stops there. MJX stops only
    if that point's cost is also below the start's, which float32 cannot show once the Newton step
    gains less than one rounding unit of the cost: it then bisected the bracket until it collapsed
    (about 24 steps, for the whole batch), and moved only if a midpoint came out a rounding unit
    lower. Now such a search stops at once, and MJX's caller moves as it does from any converged
    search: to the Newton point if its cost is below the start's, else nowhere. `cond_fun` gives the
    tolerance test: with both costs at -inf it stops exactly where a derivative is within tolerance.
    """
    del max_iter
    lowest = lambda point: point.replace(cost=jnp.full_like(point.cost, -jnp.inf))  # noqa: E731
    searches = cond_fun(init_val.replace(lo=lowest(init_val.lo), hi=lowest(init_val.hi)))
    if _NEWTON_CONTINUES:
        searches = searches & _NEWTON_CONTINUES[-1]
    return jax.lax.while_loop(lambda value: searches & cond_fun(value), body_fun, init_val)


@contextlib.contextmanager
def _patched():
    """While MJX functions are traced inside: its collision pass makes C's plane-capsule frames
    (`_c_capsule_frames`), and its line search is a while loop (`_line_search`) that converged envs
    leave at once (`_gated_linesearch`). MJX looks these functions up in their modules at trace
    time, and there is no option for any of them."""
    from mujoco.mjx._src import collision_driver, solver

    collide, line_search, linesearch = collision_driver.collision, solver._while_loop_scan, solver._linesearch
    collision_driver.collision = _c_capsule_frames(collide)
    solver._while_loop_scan = _line_search
    solver._linesearch = _gated_linesearch(linesearch)
    try:
        yield
    finally:
        collision_driver.collision = collide
        solver._while_loop_scan = line_search
        solver._linesearch = linesearch


def forward(model, data):
    """MJX's forward pass as C's mj_forward: C's contact frames, and `qpos` left as given (MJX writes
    the normalized free-joint quaternion back into it, C normalizes a copy: gymnasium's reset keeps
    the un-normalized noisy quaternion in qpos and in the first observation)."""
    mjx = import_mjx()

    with _patched():
        return mjx.forward(model, data).replace(qpos=data.qpos)


def step(model, data):
    """One MJX step with C's contact frames (the step's integration normalizes the quaternion, as C's)."""
    mjx = import_mjx()

    with _patched():
        return mjx.step(model, data)


def make_physics(name: str):
    """(task, mj_model, mjx_model, reset_data, step_data, blank) for `name` (solver caps included,
    see `solver_caps`); the raw physics the tests compare.

    reset_data(key) -> mjx.Data of a fresh episode (gymnasium's set_state: qpos, qvel, then forward).
    step_data(data, ctrl) -> (data, reward, terminated): frame_skip MuJoCo steps with ctrl [nu].
    blank: the model's mjx.Data at qpos0, at rest, before any forward pass.
    """
    mjx = import_mjx()

    task_name, caps = solver_caps(name)
    task = task_rules(task_name)
    mj_model, model = load_model(task.xml_file, task.solver, caps)
    dt = float(mj_model.opt.timestep) * task.frame_skip
    blank = mjx.make_data(model, impl="jax")
    init_qpos, init_qvel = jnp.asarray(mj_model.qpos0, jnp.float32), jnp.zeros(mj_model.nv, jnp.float32)

    def reset_data(key):
        qpos, qvel = task.reset_noise(key, init_qpos, init_qvel)
        return forward(model, blank.replace(qpos=qpos, qvel=qvel))

    def step_data(data, ctrl):
        def substep(data, _):
            return step(model, data), None

        after, _ = jax.lax.scan(substep, data.replace(ctrl=ctrl), None, length=task.frame_skip)
        if task.contact_forces:
            after = mjx.rne_postconstraint(model, after)
        reward, terminated = task.reward(data, after, ctrl, dt)
        return after, jnp.asarray(reward, jnp.float32), terminated

    return task, mj_model, model, reset_data, step_data, blank


def packing(blank):
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

    The env state's `inner` is the tuple of mjx.Data's non-empty arrays (see `packing`)."""
    task, mj_model, _, reset_data, step_data, blank = make_physics(name)
    pack, unpack = packing(blank)
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
