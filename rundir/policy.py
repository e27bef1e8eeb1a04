"""A trained run read back from its run directory: the run state at a checkpoint, and a run's policy.

`RunDirectory.read(OUT)` reads what train.py recorded (config.json: the agent, its Config, the
hyperparameters of every run, the env) and lists the checkpoints; `restore` reads one checkpoint
into a state laid out by the engine's own init (the one loader of every reader of trained runs:
the policies here and the spectral probe, probe.trained). `load_policy` is the one call for a
policy:

    from rundir.policy import load_policy

    policy = load_policy("runs/halfcheetah")             # run 0, newest checkpoint, deterministic
    actions = policy.act(obs)                            # obs [n, *obs_shape] -> actions [n, action_dim]
    policy = load_policy("runs/halfcheetah", run=2, checkpoint=10, deterministic=False)
    actions = policy.act(obs, jax.random.key(0))         # sampled from the policy

A policy acts on raw observations: it normalizes them as its run did (RSNorm statistics of
off-policy agents, PPO's clipped running statistics) and runs the actor in eval mode (batch
normalization with its running statistics). The checkpoint is read onto this machine's devices,
whatever the devices that wrote it; the replay buffer and the training envs' states are left on disk.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

import envs
from agents import AGENTS
from agents.common import ConfigError
from agents.engine import batching, off_policy, on_policy, plan
from agents.engine.loop import RunConfig, RunState, TrainConfig
from rundir import checkpoint
from rundir.directory import Recorded, read_config

POLICY_LEAVES_OUT = ("buffer", "env_state")
"""Run state fields a policy does not need, so they are not read (the replay buffer can be GBs)."""


def actions(config: TrainConfig, hp: Any, run: RunState, obs: jax.Array, key: jax.Array | None, deterministic: bool) -> jax.Array:
    """The actions of one run's agent on raw observations obs [n, *obs_shape], normalized as its loop
    does: [n, action_dim] in [-1, 1], or [n] integers for discrete actions. key: unused (may be None)
    when deterministic."""
    agent = AGENTS[config.agent]
    if agent.loop == "on_policy":
        action = agent.act(config.agent_config, hp, run.agent, on_policy.normalized(config, run.obs_stats, obs), key, deterministic)
    else:
        action = off_policy.policy(config, hp, run, obs, key, deterministic)
    # PPO's Gaussian actions are unbounded; the envs clip them to [-1, 1] too, so no step changes
    return action.clip(-1.0, 1.0) if jnp.issubdtype(action.dtype, jnp.floating) else action


jitted_actions = jax.jit(actions, static_argnames=("config", "deterministic"))
"""`actions` compiled (Policy.act): once per config, mode and shapes, whichever run's state it is given."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """One run's trained policy at a checkpoint."""

    config: TrainConfig
    """The run's static settings (agent, its Config, env id, evaluation settings)."""
    hp: Any
    """The run's hyperparameters (its sweep setting's)."""
    run: RunState
    """The run's state at the checkpoint, without the replay buffer and the training envs' states."""
    spec: envs.EnvSpec
    """The spec of the env it was trained on."""
    deterministic: bool
    """Whether `act` takes the policy's mode (the actions of the runs' evaluations) or samples."""
    index: int
    """The run's index (evals.csv's run column)."""
    seed: int
    """The run's seed."""
    checkpoint: int
    """Evaluations done before the checkpoint: the name of its folder in OUT/checkpoints/."""

    @property
    def env_id(self) -> str:
        """The id of the env it was trained on."""
        return self.config.env

    @property
    def env_step(self) -> int:
        """The run's env steps at the checkpoint."""
        return self.checkpoint * self.config.eval_every

    def act(self, obs: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """obs [n, *obs_shape] -> actions [n, action_dim] in [-1, 1] ([n] integers for discrete
        actions), compiled once per shape; a stochastic policy needs `key`."""
        if not self.deterministic and key is None:
            raise ValueError("a stochastic policy (deterministic=False) samples its actions: pass a key")
        return jitted_actions(self.config, self.hp, self.run, jnp.asarray(obs), key, self.deterministic)


def _runs_of(recorded: Recorded) -> tuple[list[tuple[int, dict]], Any]:
    """((seed, swept values) of every run in the order of the runs axis, their hyperparameters [num_runs])
    as the plan laid them out (agents.engine.plan.hyperparameter_runs on the recorded command)."""
    run = types.SimpleNamespace(**recorded.run)
    settings, swept, runs_of, hp = plan.hyperparameter_runs(recorded.hp, run, static=[])
    return [(seed, {name: settings[index][name] for name in swept}) for index, seed in runs_of], hp


def _placement(num_runs: int) -> jax.sharding.Sharding:
    """Where a restored state goes: split over this machine's devices like a training's runs axis
    where they divide it, else whole on the first device (a run trained on more devices than here)."""
    mesh = batching.runs_mesh()
    if num_runs % mesh.size == 0:
        return batching.run_sharding(mesh)
    return jax.sharding.SingleDeviceSharding(jax.local_devices()[0])


@dataclasses.dataclass(frozen=True)
class RunDirectory:
    """A run directory of train.py, read: the recorded command, its runs and its checkpoints."""

    path: Path
    recorded: Recorded
    config: TrainConfig
    env: Any
    """The env it was trained on (envs.Env, or envs.HostEnv for gym/ ids)."""
    rows: list[tuple[int, dict]]
    """(seed, swept hyperparameters) of every run, in the order of evals.csv's run column."""
    hp: Any
    """Every run's hyperparameters: [num_runs] leaves."""
    checkpoints: tuple[int, ...]
    """The checkpoints after evaluations, oldest first: the evaluations done before each."""

    @classmethod
    def read(cls, directory: str | Path) -> "RunDirectory":
        """Raises ConfigError (one line) for a directory that is not a run directory of train.py."""
        path = Path(directory)
        recorded = read_config(str(path))
        run = RunConfig(**{field.name: recorded.run[field.name] for field in dataclasses.fields(RunConfig)})
        config = TrainConfig.of(recorded.agent, recorded.config, run)
        rows, hp = _runs_of(recorded)
        folder = path / checkpoint.DIRECTORY
        # complete checkpoints only: orbax writes into a temporary folder and renames it when done
        steps = sorted(int(step.name) for step in folder.iterdir() if step.name.isdigit()) if folder.is_dir() else []
        return cls(path, recorded, config, envs.make(config.env), rows, hp, tuple(steps))

    @property
    def num_runs(self) -> int:
        return len(self.rows)

    def check_run(self, index: int) -> None:
        """Raises ConfigError unless `index` is one of the runs."""
        if not 0 <= index < self.num_runs:
            raise ConfigError(f"{self.path} has runs 0 to {self.num_runs - 1}; there is no run {index}")

    def check_checkpoint(self, number: int | None) -> None:
        """Raises ConfigError unless the checkpoint exists (None: the newest, so any)."""
        if not self.checkpoints:
            raise ConfigError(
                f"{self.path} has no checkpoint after an evaluation: it stopped before its first one or ran "
                "with --checkpoint-every 0"
            )
        if number is not None and number not in self.checkpoints:
            raise ConfigError(
                f"{self.path} has no checkpoint {number}; its checkpoints (evaluations done): "
                f"{', '.join(map(str, self.checkpoints))}"
            )

    def template(self, num_runs: int) -> RunState:
        """The shapes of a fresh batched run state of `num_runs` runs (jax.ShapeDtypeStruct leaves),
        from the loop's own init."""
        config, env = self.config, self.env
        if AGENTS[config.agent].loop == "on_policy":
            init = functools.partial(on_policy.init, config, env)
        elif isinstance(env, envs.HostEnv):  # gymnasium's env states live on the host, not in the state
            observation = jnp.zeros((config.num_envs, *env.spec.obs_shape))
            init = lambda hp, key: off_policy.init(config, env.spec, hp, key, None, observation)  # noqa: E731
        else:
            init = functools.partial(off_policy.fresh_run, config, env)
        seeds = [seed for seed, _ in self.rows]
        hp = batching.pad_runs(self.hp, num_runs)
        keys = batching.pad_runs(batching.keys_for(seeds), num_runs)
        return jax.eval_shape(batching.vmap_runs(init, num_runs), hp, keys)

    def restore(self, number: int | None = None, without: tuple[str, ...] = ()) -> tuple[int, RunState]:
        """(checkpoint, batched run state [runs, ...]) of checkpoint `number` (None: the newest readable
        one, falling back to older ones with a warning). The runs axis is as saved: the runs padded to
        the devices of the training. without: state fields left unread (None in the state)."""
        self.check_checkpoint(number)
        saved_runs = checkpoint.Checkpoints(self.path).num_runs()
        if saved_runs is None or saved_runs < self.num_runs:
            raise ConfigError(f"{self.path}: no checkpoint whose layout reads as {self.num_runs} runs")
        template = self.template(saved_runs).replace(**{name: None for name in without})
        target = checkpoint.storage_layout(template, _placement(saved_runs))
        impl = jax.random.key_impl(batching.keys_for([0]))
        failures = []
        for step in [number] if number is not None else reversed(self.checkpoints):
            folder = self.path / checkpoint.DIRECTORY / str(step) / "state"
            try:  # a partial restore: the fields left out are not read
                restored = ocp.PyTreeCheckpointer().restore(folder, args=ocp.args.PyTreeRestore(
                    target, restore_args=ocp.checkpoint_utils.construct_restore_args(target), partial_restore=True))
            except Exception as error:  # orbax raises many types for unreadable files
                failures.append(f"{folder}: {type(error).__name__}: {str(error)[:200]}")
                continue
            if failures:
                print("warning: skipped unreadable checkpoint(s):\n  " + "\n  ".join(failures))
            return step, checkpoint.with_keys(restored, template, impl)
        raise ConfigError("no readable checkpoint: " + "; ".join(failures))

    def policies(self, indices: list[int], number: int | None = None, deterministic: bool = True) -> list[Policy]:
        """The policies of runs `indices` at checkpoint `number` (None: the newest), from one restore."""
        for index in indices:
            self.check_run(index)
        step, state = self.restore(number, without=POLICY_LEAVES_OUT)
        spec = self.env.spec
        return [
            Policy(
                config=self.config,
                hp=jax.tree.map(lambda x: x[index], self.hp),
                run=jax.tree.map(lambda x: x[index], state),
                spec=spec,
                deterministic=deterministic,
                index=index,
                seed=self.rows[index][0],
                checkpoint=step,
            )
            for index in indices
        ]


def load_policy(run_dir: str | Path, run: int = 0, checkpoint: int | None = None, deterministic: bool = True) -> Policy:
    """The policy of run `run` of the run directory `run_dir` at checkpoint `checkpoint` (the number
    of evaluations done before it, the name of its folder in OUT/checkpoints/; None: the newest).
    deterministic: the policy's mode, as the runs' evaluations act; False: sampled actions (act
    then takes a key). Raises ConfigError (one line) for a directory that is not a run, a run or a
    checkpoint it does not have."""
    return RunDirectory.read(run_dir).policies([run], checkpoint, deterministic)[0]
