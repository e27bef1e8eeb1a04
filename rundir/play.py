"""Evaluate and watch the trained policies of a run directory.

    python -m rundir.play RUN_DIR [--run i|all] [--episodes N] [--seed S] [--checkpoint K]
                                  [--stochastic] [--env ID] [--video FILE.mp4]

prints the mean and standard deviation of the episodes' returns and lengths of each run played
(default: every run), at the newest checkpoint or checkpoint K (the evaluations done before it,
the name of its folder in RUN_DIR/checkpoints/). The episodes are run through the envs' own
interface: jittable envs by agents.engine.loop.evaluate (vmapped reset and step in a lax.scan),
gym/ ids by the host batch of gymnasium envs, as the training's evaluations run them.

By default each run plays its own evaluation: --episodes defaults to the run's --eval-episodes,
the episodes are drawn from the run's evaluation key (the run state's eval_key; gym/ ids: the
gymnasium seeds agents.engine.host_loop.env_seeds(seed, N, EVALUATION) of the run's seed), and
the actions are deterministic, so the returns' mean is evals.csv's eval_return at the checkpoint's
env step. --seed S plays, for every run, the episodes a run trained with seed S evaluates on
(the evaluation key of jax.random.key(S), or the gymnasium evaluation seeds of S); --stochastic
samples the actions (from the same evaluation key); --env ID plays on another env with the same
observation shape and action space (e.g. mjx/HalfCheetah-v4 for a gym/HalfCheetah-v4 run).

--video FILE.mp4 records the episodes played, one after another (run by run), one frame per step
(the state the policy acted in): gym/ and mjx/ tasks through MuJoCo's renderer with gymnasium's
camera for the task, brax tasks through brax's own rendering (brax.io.image, MuJoCo's renderer on
brax's model), and gymnax's classic-control tasks as small matplotlib drawings. MuJoCo renders
headless through EGL unless MUJOCO_GL says otherwise (osmesa: software rendering).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
import types
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import jax
import numpy as np

import envs
from agents.common import ConfigError
from agents.engine import host_loop, loop
from rundir.output import setting_label
from rundir.directory import read_config
from rundir.policy import Policy, RunDirectory, actions

FRAME_SIZE = 480
"""Width and height of a video's frames in pixels (gymnasium's default render size; ffmpeg's H.264
wants a multiple of 16)."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one `error:` line (and exit code 2), like every other error here."""

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def run_choice(text: str) -> int | None:
    """--run: an index, or "all" (None)."""
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a run index or all, got {text!r}") from None


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line's flags (module docstring)."""
    parser = Parser(prog="python -m rundir.play", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a run directory of train.py with checkpoints")
    parser.add_argument("--run", type=run_choice, default=None, help="a run's index (evals.csv's run column), or all (default)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes per run (default: the run's --eval-episodes)")
    parser.add_argument("--seed", type=int, default=None,
                        help="play the evaluation episodes of a run trained with this seed (default: each run's own)")
    parser.add_argument("--checkpoint", type=int, default=None,
                        help="the checkpoint after this many evaluations (a folder of RUN_DIR/checkpoints; default: the newest)")
    parser.add_argument("--stochastic", action="store_true", help="sample the actions instead of the policy's mode")
    parser.add_argument("--env", default=None, help="play on this env id (same observation shape and action space)")
    parser.add_argument("--video", default=None, metavar="FILE.mp4", help="record the episodes played to this mp4 file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Plays the command line's runs -> exit code (2 after one `error:` line for bad input)."""
    args = parse(argv)
    try:
        return play(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def play(args: argparse.Namespace) -> int:
    """The command line's work, once parsed; raises ConfigError for bad input, before the checkpoint is read."""
    if args.video is not None:
        headless_gl([read_config(args.run_dir).run["env"], args.env or ""])
    directory = RunDirectory.read(args.run_dir)
    indices = list(range(directory.num_runs)) if args.run is None else [args.run]
    for index in indices:
        directory.check_run(index)
    directory.check_checkpoint(args.checkpoint)
    episodes = directory.config.eval_episodes if args.episodes is None else args.episodes
    if episodes < 1:
        raise ConfigError(f"--episodes must be at least 1, got {episodes}")
    env = directory.env if args.env is None else compatible_env(directory, args.env)
    video = Video.open(args.video, env) if args.video is not None else None
    policies = directory.policies(indices, args.checkpoint, deterministic=not args.stochastic)
    print(describe(directory, policies[0], env, episodes, args.seed))
    try:
        for policy in policies:
            returns, lengths = play_episodes(env, policy, episodes, args.seed, video)
            seed, setting = directory.rows[policy.index]
            label = f", {setting_label(setting)}" if setting else ""
            print(f"  run {policy.index} (seed {seed}{label}): return {returns.mean():.6g} ± {returns.std():.3g}, "
                  f"length {lengths.mean():.6g} ± {lengths.std():.3g}")
    finally:
        if video is not None:
            video.close()
    if video is not None:
        print(f"video: {video.path}, {video.count} frames of {FRAME_SIZE}x{FRAME_SIZE} at {video.fps:.4g} fps")
    return 0


def describe(directory: RunDirectory, policy: Policy, env, episodes: int, seed: int | None) -> str:
    """The header line: what is played, and whether it is the runs' own evaluation."""
    config = directory.config
    own = (env.spec.env_id == config.env and episodes == config.eval_episodes and seed is None and policy.deterministic)
    episodes_of = f"the evaluation episodes of seed {seed}" if seed is not None else "each run's evaluation episodes"
    note = f"evals.csv's eval_return at env step {policy.env_step}" if own else f"{episodes_of}, {episodes} per run"
    return (f"{config.agent} on {env.spec.env_id}, checkpoint {policy.checkpoint} ({policy.env_step} env steps), "
            f"{'deterministic' if policy.deterministic else 'stochastic'} actions; {note}:")


def spaces(spec: envs.EnvSpec) -> str:
    """What a policy must fit: the observation shape and the action space, in words."""
    actions_of = f"{spec.action_dim}-d continuous actions" if spec.is_continuous else f"{spec.num_actions} discrete actions"
    return f"observations of shape {spec.obs_shape}, {actions_of}"


def compatible_env(directory: RunDirectory, env_id: str):
    """The env `env_id`, refused unless the run's policies can act in it."""
    try:
        env = envs.make(env_id)
    except ValueError as error:  # an unknown id, with the close matches
        raise ConfigError(f"--env: {error}") from None
    trained = directory.env.spec
    if spaces(env.spec) != spaces(trained):
        raise ConfigError(f"--env {env_id} has {spaces(env.spec)}; the run's policies act on {trained.env_id}'s "
                          f"{spaces(trained)}")
    return env


def evaluation_key(policy: Policy, seed: int | None) -> jax.Array:
    """The key of the episodes: the run's own evaluation key, or that of a run trained with `seed`."""
    if seed is None:
        return policy.run.eval_key
    return loop.run_keys(jax.random.key(seed))[2]


def play_episodes(env, policy: Policy, episodes: int, seed: int | None = None, video: "Video | None" = None):
    """(returns [episodes], lengths [episodes]) of the policy's episodes on `env` (seed: see
    evaluation_key; gym/ ids: the gymnasium evaluation seeds of `seed`, default the run's), each
    recorded to `video` when given."""
    key = evaluation_key(policy, seed)
    if isinstance(env, envs.HostEnv):
        seeds = host_loop.env_seeds(policy.seed if seed is None else seed, episodes, host_loop.EVALUATION)
        return host_episodes(env, policy, seeds, key, video)
    returns, lengths = fused_evaluation(env, policy.config, episodes, policy.deterministic, policy.hp, policy.run, key)
    returns, lengths = np.asarray(returns), np.asarray(lengths)
    if video is not None:
        states = fused_states(env, policy.config, episodes, policy.deterministic, video.scene.capture, policy.hp, policy.run, key)
        for episode, length in enumerate(lengths):
            video.add(jax.tree.map(lambda x: np.asarray(x[:length, episode]), states))
    return returns, lengths


@functools.partial(jax.jit, static_argnames=("env", "config", "episodes", "deterministic"))
def fused_evaluation(env: envs.Env, config, episodes: int, deterministic: bool, hp, run, key):
    """agents.engine.loop.evaluate of one run's policy: the training's own evaluation when
    deterministic, with the run's eval key and eval_episodes."""
    act = lambda obs, step_key: actions(config, hp, run, obs, step_key, deterministic)  # noqa: E731
    return loop.evaluate(env, act, episodes, key)


@functools.partial(jax.jit, static_argnames=("env", "config", "episodes", "deterministic", "capture"))
def fused_states(env: envs.Env, config, episodes: int, deterministic: bool, capture: Callable, hp, run, key):
    """capture(env states [episodes]) before every step of fused_evaluation's episodes: [max_episode_steps,
    episodes, ...]. loop.evaluate returns no states, so its episodes are stepped again with its keys
    (split as it splits them: the same keys, the same episodes)."""
    reset_key, step_key = jax.random.split(key)
    env_state, obs = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))

    def step(carry, step_key):
        env_state, obs = carry
        action = actions(config, hp, run, obs, step_key, deterministic)
        next_state, timestep = jax.vmap(env.step)(jax.random.split(step_key, episodes), env_state, action)
        return (next_state, timestep.obs), capture(env_state)

    _, states = jax.lax.scan(step, (env_state, obs), jax.random.split(step_key, env.spec.max_episode_steps))
    return states


def host_episodes(env: envs.HostEnv, policy: Policy, seeds: list[int], key: jax.Array, video: "Video | None" = None):
    """(returns, lengths) of one episode per gymnasium seed, stepped in lockstep on the host as
    agents.engine.host_loop.HostRuns.evaluate steps the evaluations; key: the stochastic actions'."""
    batch = env.batch(seeds)
    states = [[] for _ in seeds]

    def draw(running):
        for index in np.flatnonzero(running):
            states[index].append(video.scene.host_state(batch.envs[index]))

    def act(obs, step):
        return policy.act(obs) if policy.deterministic else policy.act(obs, jax.random.fold_in(key, step))

    totals, lengths = host_loop.episodes(batch, act, env.spec.max_episode_steps, draw if video is not None else None)
    if video is not None:
        for episode in states:
            video.add(np.stack(episode))
    return totals, lengths


class Video:
    """An mp4 file of episodes, written as they come (frames are never all in memory)."""

    def __init__(self, path: Path, scene: Any):
        self.path, self.scene, self.fps = path, scene, scene.fps
        self.count = 0
        self._writer = None

    @classmethod
    def open(cls, path: str, env) -> "Video":
        """Checks the path and the rendering before anything is played; raises ConfigError."""
        target = Path(path)
        if target.suffix.lower() != ".mp4":
            raise ConfigError(f"--video takes an .mp4 file name, got {path}")
        existed = target.exists()
        try:
            target.open("ab").close()
        except OSError as error:
            raise ConfigError(f"--video {path} cannot be written: {error.strerror}") from None
        if not existed:
            target.unlink()
        if importlib.util.find_spec("imageio_ffmpeg") is None:  # imageio's ffmpeg plugin, which writes mp4
            raise ConfigError("--video needs imageio-ffmpeg: pip install imageio-ffmpeg (or pip install -e . in the repository)")
        return cls(target, scene_of(env))

    def add(self, states: Any) -> None:
        """Appends one episode: the scene's states of its steps (leading axis: the steps)."""
        if self._writer is None:
            import imageio

            self._writer = imageio.get_writer(self.path, format="FFMPEG", mode="I", fps=self.fps, codec="libx264",
                                              macro_block_size=16, ffmpeg_log_level="error")
        with warnings.catch_warnings():
            # the writer starts ffmpeg on its first frame: a fork followed at once by an exec, which
            # jax's warning of a forked child going on with the parent's threads does not concern
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            for frame in self.scene.frames(states):
                self._writer.append_data(frame)
                self.count += 1

    def close(self) -> None:
        """Finishes the file (ffmpeg writes its index last)."""
        if self._writer is not None:
            self._writer.close()


def video_scene(env_id: str):
    """What draws `env_id`'s frames into an mp4 file (train.py --video-every), checked before the
    training compiles: the encoder and a renderer for the env; raises ConfigError."""
    if importlib.util.find_spec("imageio_ffmpeg") is None:  # imageio's ffmpeg plugin, which writes mp4
        raise ConfigError("--video-every needs imageio-ffmpeg: pip install imageio-ffmpeg (or pip install -e . in the repository)")
    return scene_of(envs.make(env_id))


def scene_of(env):
    """What draws the frames of `env`'s states; raises ConfigError where none can."""
    backend, _, name = env.spec.env_id.partition("/")
    if backend == "host":
        raise ConfigError(f"--video draws no host/ ids: add --env {name} to play the run on the same env, "
                          "stepped in the fused loop's way, with a video")
    if backend in ("gym", "mjx"):
        return MujocoScene(name, mjx=backend == "mjx")
    if backend == "brax":
        return BraxScene(name)
    return ClassicControlDrawing(name)


def headless_gl(env_ids: list[str]) -> None:
    """MuJoCo's OpenGL library for envs it draws (gym/, mjx/ and brax/ ids): EGL, which needs no
    display, unless MUJOCO_GL names another. MuJoCo picks it when first imported (by the first such
    env made), where a library that does not load fails; so it is imported here first."""
    if not any(env_id.partition("/")[0] in ("gym", "mjx", "brax") for env_id in env_ids):
        return
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco  # noqa: F401
    except Exception as error:  # PyOpenGL raises AttributeError, others ImportError or OSError
        raise gl_context_error(error) from None


def gl_context_error(error: Exception) -> ConfigError:
    """A failed OpenGL context of MuJoCo's renderer, with what to install."""
    gl = os.environ.get("MUJOCO_GL", "")
    detail = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
    return ConfigError(
        f"--video: MuJoCo's renderer has no OpenGL context (MUJOCO_GL={gl}: {detail}); install EGL "
        "(apt-get install libegl1 libgl1) or OSMesa (apt-get install libosmesa6, then MUJOCO_GL=osmesa)"
    )


class MujocoScene:
    """gymnasium's MuJoCo tasks (gym/ and mjx/ ids) drawn by mujoco.Renderer from gymnasium's model,
    with gymnasium's camera: the model's "track" camera where it has one, else its free camera set
    by the task's default_camera_config. A state is the joint positions qpos."""

    def __init__(self, name: str, mjx: bool):
        import mujoco

        task = envs.make(f"gym/{name}").batch([0]).envs[0].unwrapped
        self.model, self.fps = task.model, 1.0 / task.dt
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        try:
            self.renderer = mujoco.Renderer(self.model, FRAME_SIZE, FRAME_SIZE)
        except Exception as error:  # mujoco raises several types when no GL library or device answers
            raise gl_context_error(error) from None
        if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, "track") >= 0:
            self.camera = "track"
        else:  # as gymnasium's offscreen viewer sets its free camera up
            self.camera = mujoco.MjvCamera()
            self.camera.lookat[:] = np.median(self.data.geom_xpos, axis=0)
            self.camera.distance = self.model.stat.extent
            for field, value in (task.mujoco_renderer.default_cam_config or {}).items():
                if isinstance(value, np.ndarray):
                    getattr(self.camera, field)[:] = value
                else:
                    setattr(self.camera, field, value)
        task.close()
        if mjx:
            from envs import mjx_envs

            blank = mjx_envs.make_physics(name)[-1]
            self.unpack = mjx_envs.packing(blank)[1]

    def capture(self, env_state: envs.EnvState) -> jax.Array:
        """qpos [episodes, nq] of mjx/ env states (their inner state is mjx.Data's non-empty arrays)."""
        return jax.vmap(lambda inner: self.unpack(inner).qpos)(env_state.inner)

    def host_state(self, env) -> np.ndarray:
        """qpos of a gymnasium env of a host batch."""
        return env.unwrapped.data.qpos.copy()

    def frames(self, qpos: np.ndarray) -> Iterator[np.ndarray]:
        """The frames of one episode's qpos [steps, nq] (the positions of every body follow from them)."""
        import mujoco

        for q in qpos:
            self.data.qpos[:] = q
            mujoco.mj_forward(self.model, self.data)
            self.renderer.update_scene(self.data, self.camera)
            yield self.renderer.render()


class BraxScene:
    """brax tasks drawn by brax's own rendering (brax.io.image.render_array: MuJoCo's renderer on
    brax's model), from the model's "track" camera where it has one. A state is (q, qd)."""

    CHUNK = 100
    """States per call of render_array, which returns its frames all at once."""

    def __init__(self, name: str):
        import mujoco

        from envs.mjx_envs import import_mjx

        import_mjx()  # brax imports it: without its lines about the Warp implementation
        from brax import envs as brax_envs

        env = brax_envs.get_environment(name)
        self.system, self.fps = env.sys, 1.0 / float(env.dt)
        model = self.system.mj_model
        self.camera = "track" if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "track") >= 0 else None
        try:
            mujoco.Renderer(model, FRAME_SIZE, FRAME_SIZE).close()
        except Exception as error:  # mujoco raises several types when no GL library or device answers
            raise gl_context_error(error) from None

    def capture(self, env_state: envs.EnvState):
        """(q, qd) [episodes, ...] of brax env states."""
        physics = env_state.inner.pipeline_state
        return physics.q, physics.qd

    def frames(self, states) -> Iterator[np.ndarray]:
        """The frames of one episode's (q [steps, ...], qd [steps, ...])."""
        from brax.io import image

        q, qd = states
        for start in range(0, len(q), self.CHUNK):
            chunk = [types.SimpleNamespace(q=q[t], qd=qd[t]) for t in range(start, min(start + self.CHUNK, len(q)))]
            yield from image.render_array(self.system, chunk, FRAME_SIZE, FRAME_SIZE, self.camera)


def _pendulum(state):
    return [[(0.0, 0.0), (np.sin(state.theta), np.cos(state.theta))]]


def _cart_pole(state):
    x, theta = float(state.x), float(state.theta)
    return [[(x - 0.25, 0.0), (x + 0.25, 0.0)], [(x, 0.0), (x + np.sin(theta), np.cos(theta))]]


def _acrobot(state):
    first, both = float(state.joint_angle1), float(state.joint_angle1 + state.joint_angle2)
    elbow = (np.sin(first), -np.cos(first))
    return [[(0.0, 0.0), elbow, (elbow[0] + np.sin(both), elbow[1] - np.cos(both))]]


def _hill(x):
    """The mountain cars' track height (gymnasium's drawing of it)."""
    return np.sin(3 * x) * 0.45 + 0.55


def _mountain_car(state):
    x = float(state.position)
    return [[(x - 0.04, _hill(x - 0.04)), (x + 0.04, _hill(x + 0.04))]]


def _mountain(goal: float) -> list:
    """The track and the goal's flagpole."""
    x = np.linspace(-1.2, 0.6, 100)
    return [list(zip(x, _hill(x))), [(goal, _hill(goal)), (goal, _hill(goal) + 0.1)]]


class ClassicControlDrawing:
    """gymnax's classic-control tasks drawn with matplotlib: the moving parts as thick lines over a
    fixed background (the track, the goal). A state is gymnax's env state."""

    TASKS = {
        # name: (parts of a state, axis limits, background lines, frames per second (gymnasium's render_fps))
        "Pendulum-v1": (_pendulum, (-1.2, 1.2, -1.2, 1.2), [], 30),
        "CartPole-v1": (_cart_pole, (-2.6, 2.6, -2.0, 2.0), [[(-2.4, 0.0), (2.4, 0.0)]], 50),
        "Acrobot-v1": (_acrobot, (-2.2, 2.2, -2.2, 2.2), [[(-2.2, 1.0), (2.2, 1.0)]], 15),
        "MountainCar-v0": (_mountain_car, (-1.2, 0.6, 0.0, 1.1), _mountain(0.5), 30),
        "MountainCarContinuous-v0": (_mountain_car, (-1.2, 0.6, 0.0, 1.1), _mountain(0.45), 30),
    }

    def __init__(self, name: str):
        if name not in self.TASKS:
            raise ConfigError(f"--video draws gymnax's {', '.join(self.TASKS)} only; gymnax/{name} has no drawing")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.parts, limits, background, self.fps = self.TASKS[name]
        figure = Figure(figsize=(FRAME_SIZE / 100, FRAME_SIZE / 100), dpi=100)
        self.canvas = FigureCanvasAgg(figure)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(*limits[:2])
        axes.set_ylim(*limits[2:])
        axes.set_axis_off()
        for points in background:
            axes.plot(*zip(*points), color="0.6", linewidth=2)
        self.lines = None
        self.axes = axes

    def capture(self, env_state: envs.EnvState):
        """gymnax's env states [episodes] as they are (a few numbers each)."""
        return env_state.inner

    def frames(self, states) -> Iterator[np.ndarray]:
        """The frames of one episode's env states (leaves [steps])."""
        steps = len(jax.tree.leaves(states)[0])
        for t in range(steps):
            parts = self.parts(jax.tree.map(lambda x: x[t], states))
            if self.lines is None:
                self.lines = [self.axes.plot([], [], "-o", color="tab:blue", linewidth=8, markersize=10)[0] for _ in parts]
            for line, points in zip(self.lines, parts):
                line.set_data(*zip(*points))
            self.canvas.draw()
            yield np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


if __name__ == "__main__":
    sys.exit(main())
