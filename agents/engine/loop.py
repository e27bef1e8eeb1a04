"""What every training loop shares: the run settings, the run state, `Runs` (the loops batched over
the runs axis, compiled and sharded, with the one chunk driver of every loop), the deterministic evaluation, and
the freezing of diverged runs.

The off-policy loop (`agents/engine/off_policy.py`, and its host-stepped variant `agents/engine/host_loop.py`)
and the on-policy loop (`agents/engine/on_policy.py`) differ in what happens between two evaluations;
everything around that is here, written once.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

import envs
from agents.common import ConfigError
from agents.engine import batching, buffer
from networks import rsnorm


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The run fields the loops read, declared once (train.RunArgs adds the command line's own)."""

    env: str = "gymnax/Pendulum-v1"
    """Environment id, e.g. gymnax/Pendulum-v1, brax/hopper or gym/HalfCheetah-v4 (host-stepped MuJoCo);
    host/ before a jittable id (host/mjx/Hopper-v4) steps that env from the host loop; a wrong id lists them all."""
    total_steps: int = 10_000
    """Env steps per run (a multiple of --eval-every)."""
    eval_every: int = 1_000
    """Env steps between deterministic evaluations (a multiple of --num-envs; ppo: of --num-envs x --num-steps)."""
    eval_episodes: int = 5
    """Full episodes per evaluation, on separate envs with fixed keys."""
    num_envs: int = 1
    """Parallel envs per run (off-policy: --utd is kept per env step; ppo: the envs of a rollout)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig(RunConfig):
    """Static settings of one run (hashable: a jit static argument): the run fields, the agent's
    name and its static Config."""

    agent: str
    """Agent name, a key of agents.AGENTS."""
    agent_config: Any
    """The agent's static Config."""
    refill_buffer: bool = False
    """Off-policy: the run resumes from a checkpoint without its replay buffer, so updates wait
    until the buffer again holds learning_starts transitions."""

    @classmethod
    def of(cls, agent: str, agent_config: Any, run: RunConfig) -> "TrainConfig":
        """The config of `agent` with the run fields of `run` (e.g. a train.RunArgs)."""
        fields = {field.name: getattr(run, field.name) for field in dataclasses.fields(RunConfig)}
        return cls(agent=agent, agent_config=agent_config, **fields)

    @property
    def num_evals(self) -> int:
        return self.total_steps // self.eval_every


def run_keys(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """A run's key split, the same in every loop: (agent init, training env reset, evaluation, the
    run's own key carried on)."""
    agent_key, env_key, eval_key, key = jax.random.split(key, 4)
    return agent_key, env_key, eval_key, key


def require_positive(**values: int) -> None:
    """Raises ConfigError naming the first flag whose value is below 1."""
    for name, value in values.items():
        if value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")


def validate_run(config: TrainConfig) -> None:
    """The checks every loop needs: positive sizes, network specs, and evaluations that tile the run."""
    require_positive(
        total_steps=config.total_steps,
        eval_every=config.eval_every,
        eval_episodes=config.eval_episodes,
        num_envs=config.num_envs,
    )
    try:
        config.agent_config.actor_spec, config.agent_config.critic_spec
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if config.eval_every > config.total_steps:
        raise ConfigError(
            f"--eval-every {config.eval_every} is larger than --total-steps {config.total_steps}; "
            "the run would never evaluate"
        )
    if config.total_steps % config.eval_every:
        lower = config.num_evals * config.eval_every
        raise ConfigError(
            f"--total-steps {config.total_steps} must be a multiple of --eval-every {config.eval_every} "
            f"(e.g. --total-steps {lower} or {lower + config.eval_every})"
        )


@flax.struct.dataclass
class RunState:
    """Everything that defines one run between evaluations, in either loop (a checkpoint is this state)."""

    agent: Any
    env_state: envs.EnvState
    """The training envs' states ([num_envs]; None for host-stepped envs, whose state stays on the host)."""
    obs: jax.Array
    """[num_envs, *obs_shape] the raw observations to act on next."""
    obs_stats: rsnorm.RunningStats
    """Running statistics of the collected observations (used when the agent normalizes them)."""
    key: jax.Array
    eval_key: jax.Array
    diverged_at: jax.Array
    """-1 while healthy; else the env step at which a loss or parameter became NaN/Inf (the run is frozen)."""
    buffer: Any = None
    """off-policy: the replay buffer (agents/engine/buffer.py)."""
    return_scaler: Any = None
    """on-policy: the discounted returns and their running variance (--normalize-reward)."""


def chunk_length(iterations: int, chunks: int = 10) -> int:
    """Iterations per chunk of a period of `iterations`: the largest divisor that is at most
    iterations / chunks, so every chunk has the same length (one compiled program runs them all)."""
    return max(d for d in range(1, max(1, iterations // chunks) + 1) if iterations % d == 0)


class PeriodParts(NamedTuple):
    """An evaluation period in pieces, so it runs in chunks between which the host reports progress
    and stops on a signal: begin (hp, start state) -> carry; chunk (hp, carry, first iteration) ->
    carry after `chunk_length` iterations; finish (start state, carry, hp, period) -> (state, the
    period's metrics, ending with its evaluation). The carry is a NamedTuple whose `run` field is
    the run state."""

    begin: Callable
    chunk: Callable
    finish: Callable
    iterations: int
    """Iterations per period (env steps / num_envs off-policy; rollouts on-policy)."""
    chunk_length: int
    replay_rows: int = 0
    """Replay buffer rows a period adds (off-policy: eval_every; on-policy: none)."""


class Stopped(Exception):
    """Raised by run_period when on_chunk asks to stop inside a period. start, carry: the period's
    start state and its carry after `done` iterations, to go on from (None where the loop cannot:
    the host-stepped one, whose env states live on the host)."""

    def __init__(self, start: Any = None, carry: Any = None, done: int = 0):
        super().__init__(f"stopped after {done} iterations of the period")
        self.start, self.carry, self.done = start, carry, done


def start_record(rows: int, start: RunState) -> RunState:
    """The period's start state as a stop checkpoint keeps it beside the carry: its replay buffer cut
    to the `rows` rows the period overwrites (the others are in the carry's buffer, stored once)."""
    if start.buffer is None:
        return start
    return start.replace(buffer=buffer.rows_to_overwrite(start.buffer, min(rows, start.buffer.capacity)))


def start_from_record(record: RunState, carry: Any) -> RunState:
    """The period's start state from start_record's record and the carry (whose .run holds the buffer)."""
    if record.buffer is None:
        return record
    return record.replace(buffer=buffer.before_adds(carry.run.buffer, record.buffer))


class Runs:
    """The runs of a training (a leading [num_runs] axis on hp, keys and the state), vmapped in one
    compiled program per piece and sharded over the devices of `mesh`; the fused loops as they are.

    init: (hp, key) -> RunState; run_period: (state, hp, period) -> (state, metrics of the period,
    ending with its evaluation), the whole period in one function (shape checks, benchmarks);
    parts: the same period in chunks (PeriodParts), which is what runs. train.py calls compile(),
    init() (or resume(...)), then run_period(state, period, on_chunk) once per evaluation; a
    period stopped inside (Stopped) is stored with stop_record and goes on with from_stop_record
    and run_period's resume_at.
    `run_period` is the one chunk driver of every loop: agents/engine/host_loop.py's HostRuns
    overrides only its steps (begin, advance, finish, stopped) and reuses the batching and
    sharding of `jitted`.
    """

    def __init__(self, hp: Any, keys: jax.Array, mesh, init: Callable, run_period: Callable | None, state_shape=None,
                 parts: PeriodParts | None = None):
        self.num_runs = keys.shape[0]
        self.sharded, self.replicated = batching.run_sharding(mesh), batching.replicated(mesh)
        self.hp, self.keys = hp, keys
        self.init_fn, self.run_period_fn, self.parts = init, run_period, parts
        if parts is not None:
            self.iterations, self.chunk_length = parts.iterations, parts.chunk_length
        self.state_shape = state_shape or jax.eval_shape(batching.vmap_runs(init, self.num_runs), hp, keys)
        """The batched run state's shapes (jax.ShapeDtypeStruct leaves), known before compiling."""

    def jitted(self, fn: Callable, in_axes: tuple, donate: tuple = ()) -> Callable:
        """`fn` vmapped over the runs axis (in_axes: 0, or None for a replicated argument) and
        jitted with the runs sharding; `.lower(*shapes).compile()` compiles it."""
        shardings = tuple(self.replicated if axis is None else self.sharded for axis in in_axes)
        return jax.jit(
            batching.vmap_runs(fn, self.num_runs, in_axes),
            in_shardings=shardings,
            out_shardings=self.sharded,
            donate_argnums=donate,
        )

    def compile(self) -> None:
        self.hp, self.keys = batching.global_runs((self.hp, self.keys), self.sharded)
        self.init_compiled = self.jitted(self.init_fn, (0, 0)).lower(self.hp, self.keys).compile()
        index = jax.ShapeDtypeStruct((), jnp.int32)
        parts = self.parts
        carry = jax.eval_shape(batching.vmap_runs(parts.begin, self.num_runs), self.hp, self.state_shape)
        self.carry_shape = carry
        self.begin_compiled = self.jitted(parts.begin, (0, 0)).lower(self.hp, self.state_shape).compile()
        chunk = self.jitted(parts.chunk, (0, 0, None), donate=(1,))
        self.chunk_compiled = chunk.lower(self.hp, carry, index).compile()
        # finish donates the carry's run alone (its replay buffer becomes the new state's); the
        # carry's other leaves, per-period counters, have no output of their shape to alias
        finish = self.jitted(self.finish_on_run, (0, 0, 0, 0, None), donate=(1,))
        self.finish_compiled = finish.lower(self.state_shape, carry.run, carry._replace(run=None), self.hp, index).compile()

    def finish_on_run(self, start: RunState, run: RunState, rest: Any, hp: Any, period: jax.Array):
        """parts.finish with the carry's run passed apart from the rest of the carry."""
        return self.parts.finish(start, rest._replace(run=run), hp, period)

    def init(self) -> RunState:
        return self.init_compiled(self.hp, self.keys)

    def resume(self, state: RunState, evaluations: int) -> RunState:
        """The checkpoint holds everything, env states included: nothing to restore."""
        return state

    def run_period(self, state: RunState, period: int, on_chunk: Callable[[float], bool] | None = None,
                   resume_at: tuple[Any, int] | None = None) -> tuple[RunState, dict]:
        """One evaluation period of `iterations`, `chunk_length` iterations per chunk; on_chunk(fraction
        of the period done) runs after each chunk has finished and returns True to stop there
        (raising `stopped(...)`, unless the period is done). resume_at: (carry, iterations done) of a
        period stopped inside, to go on from."""
        carry, done = resume_at if resume_at is not None else (self.begin(state), 0)
        first = period * self.iterations
        while done < self.iterations:
            carry = self.advance(carry, first + done, wait=on_chunk is not None)
            done += self.chunk_length
            if on_chunk is not None and on_chunk(done / self.iterations) and done < self.iterations:
                raise self.stopped(state, carry, done)
        return self.finish(state, carry, period)

    def begin(self, state: RunState) -> Any:
        """The carry of a period that starts from `state` (a copy: `state` stays the period's start)."""
        return self.begin_compiled(self.hp, state)

    def advance(self, carry: Any, first: int, wait: bool) -> Any:
        """The carry after the chunk of iterations from `first` (finished if `wait`: on_chunk sees it done)."""
        carry = self.chunk_compiled(self.hp, carry, jnp.int32(first))
        return jax.block_until_ready(carry) if wait else carry

    def finish(self, start: RunState, carry: Any, period: int) -> tuple[RunState, dict]:
        """The divergence check and the evaluation -> (run state, the period's metrics)."""
        return self.finish_compiled(start, carry.run, carry._replace(run=None), self.hp, jnp.int32(period))

    def stopped(self, start: RunState, carry: Any, done: int) -> "Stopped":
        """What run_period raises when on_chunk stops it after `done` iterations."""
        return Stopped(start, carry, done)

    def resized(self, state: RunState, capacity: int) -> RunState:
        """The runs' state with replay buffers of `capacity` rows (buffer.resized): a run extended to
        more steps than its buffer had rows for."""
        return self.jitted(lambda run: run.replace(buffer=buffer.resized(run.buffer, capacity)), (0,))(state)

    def stop_record(self, stopped: Stopped) -> dict:
        """What a stop checkpoint holds: {"start": start_record of the period's start, "carry"}."""
        record = self.jitted(functools.partial(start_record, self.parts.replay_rows), (0,))(stopped.start)
        return {"start": record, "carry": stopped.carry}

    def stop_record_shape(self) -> dict:
        """stop_record's shapes (jax.ShapeDtypeStruct leaves), the layout to restore."""
        record = batching.vmap_runs(functools.partial(start_record, self.parts.replay_rows), self.num_runs)
        return {"start": jax.eval_shape(record, self.state_shape), "carry": self.carry_shape}

    def from_stop_record(self, record: dict) -> tuple[RunState, Any]:
        """-> (the stopped period's start state, its carry) from a restored stop_record."""
        return self.jitted(start_from_record, (0, 0))(record["start"], record["carry"]), record["carry"]


def select(keep_new: jax.Array, new: Any, old: Any) -> Any:
    """Leafwise `new if keep_new else old` (PRNG keys included)."""

    def pick(a, b):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            data = jnp.where(keep_new, jax.random.key_data(a), jax.random.key_data(b))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
        return jnp.where(keep_new, a, b)

    return jax.tree.map(pick, new, old)


def all_finite(tree: Any) -> jax.Array:
    """Whether every floating-point value of `tree` is finite.

    The leaves of one dtype are flattened into one vector and checked at once: one check per leaf
    made XLA's CPU compiler emit thousands of reductions for a vmapped agent state (CrossQ's Pendulum
    learning test compiled in 13 s instead of 8.4 s), at the cost of a few MB of temporary memory.
    """
    by_dtype: dict[Any, list[jax.Array]] = {}
    for x in jax.tree.leaves(tree):
        if jnp.issubdtype(x.dtype, jnp.floating):
            by_dtype.setdefault(x.dtype, []).append(x.ravel())
    checks = [jnp.all(jnp.isfinite(jnp.concatenate(flat))) for flat in by_dtype.values()]
    return jnp.all(jnp.stack(checks)) if checks else jnp.array(True)


def evaluate(
    env: envs.Env, act: Callable[[jax.Array, jax.Array], jax.Array], num_episodes: int, eval_key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Returns and lengths of `num_episodes` full episodes: [num_episodes] each.

    act: (obs [num_episodes, *obs_shape], key) -> actions, the deterministic policy. The same
    eval_key gives the same initial states and env randomness at every evaluation.
    """
    vmapped_step = jax.vmap(env.step)
    reset_key, step_key = jax.random.split(eval_key)
    env_state, obs = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))
    running = jnp.ones((num_episodes,), bool)
    totals = jnp.zeros((num_episodes,), jnp.float32)
    lengths = jnp.zeros((num_episodes,), jnp.int32)

    def eval_step(carry, key):
        env_state, obs, running, totals, lengths = carry
        env_state, timestep = vmapped_step(jax.random.split(key, num_episodes), env_state, act(obs, key))
        totals = totals + jnp.where(running, timestep.reward, 0.0)
        lengths = lengths + running.astype(jnp.int32)
        running = jnp.logical_and(running, ~timestep.done)
        return (env_state, timestep.obs, running, totals, lengths), None

    (_, _, _, totals, lengths), _ = jax.lax.scan(
        eval_step,
        (env_state, obs, running, totals, lengths),
        jax.random.split(step_key, env.spec.max_episode_steps),
    )
    return totals, lengths


def freeze_if_diverged(start: Any, end: Any, first_bad_step: jax.Array, period_end_step: int, healthy_now: jax.Array):
    """The run state after a period: `end`, or `start` (frozen) if the run diverged in it or before.

    start, end: run states with a `diverged_at` leaf (-1 while healthy). first_bad_step: the env
    step of the first non-finite loss in the period, or -1. healthy_now: whether everything
    checked at the period's end (parameters, statistics) is finite. A run that diverges keeps the
    state it had at the period's start from then on, so it cannot poison anything shared, and
    `diverged_at` records the env step.
    """
    healthy = start.diverged_at < 0
    bad = (first_bad_step >= 0) | ~healthy_now
    step_of_divergence = jnp.where(first_bad_step >= 0, first_bad_step, period_end_step)
    run = select(healthy & ~bad, end, start)
    return run.replace(diverged_at=jnp.where(healthy & bad, step_of_divergence, start.diverged_at))


def period_metrics(
    run: Any,
    metrics: dict,
    eval_returns: jax.Array,
    eval_lengths: jax.Array,
    finished_return: jax.Array,
    finished_count: jax.Array,
    env_steps: jax.Array,
    finished_length: jax.Array,
) -> dict:
    """The training metrics plus what `train.py` reads: diverged_at, eval_return (NaN once diverged),
    eval_length, train_return and train_length (mean return and length of the episodes finished in
    the period) and env_steps."""
    return dict(
        metrics,
        diverged_at=run.diverged_at,
        eval_return=jnp.where(run.diverged_at >= 0, jnp.nan, eval_returns.mean()),
        eval_length=eval_lengths.astype(jnp.float32).mean(),
        train_return=jnp.where(finished_count > 0, finished_return / jnp.maximum(finished_count, 1), jnp.nan),
        train_length=jnp.where(finished_count > 0, finished_length / jnp.maximum(finished_count, 1), jnp.nan),
        env_steps=env_steps,
    )


def as_arrays(hp: Any) -> Any:
    """Hyperparameters as float32 array leaves."""
    return jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), hp)
