"""What every fused training loop shares: the run settings, the `Loop` interface `train.py` drives,
the deterministic evaluation, and the freezing of diverged runs.

The off-policy loop (`agents/off_policy.py`) and the on-policy loop (`agents/on_policy.py`) differ
in what happens between two evaluations; everything around that is here, written once.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Protocol

import jax
import jax.numpy as jnp

import envs
from agents.common import ConfigError


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Static settings of one run (hashable: a jit static argument)."""

    agent: str
    """Agent name, a key of agents.AGENTS."""
    agent_config: Any
    """The agent's static Config."""
    env: str = "gymnax/Pendulum-v1"
    """Environment id (see envs.available())."""
    total_steps: int = 20_000
    """Env steps per run, summed over its parallel envs."""
    eval_every: int = 2_000
    """Env steps between deterministic evaluations."""
    eval_episodes: int = 5
    """Full episodes per evaluation."""
    num_envs: int = 1
    """Parallel envs per run."""

    @property
    def num_evals(self) -> int:
        return self.total_steps // self.eval_every


def require_positive(**values: int) -> None:
    """Raises ConfigError naming the first flag whose value is below 1."""
    for name, value in values.items():
        if value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")


def validate_run(config: RunConfig) -> None:
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


class Loop(NamedTuple):
    """The pieces of a run; `train` composes them, `train.py` drives `run_period` to show progress."""

    init: Callable[[Any, jax.Array], Any]
    """(hparams, key) -> run state"""
    run_period: Callable[[Any, Any, jax.Array], tuple[Any, dict]]
    """(state, hparams, period index) -> (state, metrics of the period, ending with its evaluation)"""
    train: Callable[[Any, jax.Array], tuple[Any, dict]]
    """(hparams, key) -> (final state, metrics stacked over evaluations [num_evals, ...])"""

    def on_runs(self, hp: Any, keys: jax.Array, seeds: list[int], mesh) -> "Runs":
        """The loop over a runs axis (hp, keys: leading [num_runs]), sharded over `mesh`."""
        del seeds  # the keys alone seed a fused run
        return FusedRuns(self, hp, keys, mesh)


class Runs(Protocol):
    """A loop batched over the runs axis, as `train.py` drives it: `state_shape` (before
    compiling), `compile()`, `init()`, then `run_period(state, period)` once per evaluation."""

    state_shape: Any
    """The batched run state's shapes (jax.ShapeDtypeStruct leaves)."""

    def compile(self) -> None: ...

    def init(self) -> Any: ...

    def resume(self, state: Any, evaluations: int) -> Any:
        """-> the state restored from a checkpoint after `evaluations` periods, ready to go on."""

    def run_period(self, state: Any, period: int) -> tuple[Any, dict]:
        """-> (state, metrics [num_runs] of the period, ending with its evaluation)"""


class FusedRuns:
    """The fused loop: one compiled program per period, every env step inside it."""

    def __init__(self, loop: Loop, hp: Any, keys: jax.Array, mesh):
        from agents import batching

        num_runs = keys.shape[0]
        self.sharded, self.replicated = batching.run_sharding(mesh), batching.replicated(mesh)
        self.loop, self.hp, self.keys = loop, hp, keys
        self.init_fn = batching.vmap_runs(loop.init, num_runs)
        self.run_period_fn = batching.vmap_runs(loop.run_period, num_runs, in_axes=(0, 0, None))
        self.state_shape = jax.eval_shape(self.init_fn, hp, keys)

    def compile(self) -> None:
        sharded, replicated = self.sharded, self.replicated
        self.hp, self.keys = jax.device_put(self.hp, sharded), jax.device_put(self.keys, sharded)
        self.compiled_init = (
            jax.jit(self.init_fn, in_shardings=(sharded, sharded), out_shardings=sharded)
            .lower(self.hp, self.keys)
            .compile()
        )
        self.compiled_period = (
            jax.jit(
                self.run_period_fn,
                in_shardings=(sharded, sharded, replicated),
                out_shardings=sharded,
                donate_argnums=0,
            )
            .lower(self.state_shape, self.hp, jnp.zeros((), jnp.int32))
            .compile()
        )

    def init(self) -> Any:
        return self.compiled_init(self.hp, self.keys)

    def resume(self, state: Any, evaluations: int) -> Any:
        """The checkpoint holds everything, env states included: nothing to restore."""
        return state

    def run_period(self, state: Any, period: int) -> tuple[Any, dict]:
        return self.compiled_period(state, self.hp, jnp.int32(period))


def compose(init: Callable, run_period: Callable, num_evals: int) -> Loop:
    """The Loop of init and run_period; its train runs num_evals periods in one lax.scan."""

    def train(hp, key):
        run = init(hp, key)
        return jax.lax.scan(lambda r, p: run_period(r, hp, p), run, jnp.arange(num_evals))

    return Loop(init=init, run_period=run_period, train=train)


def select(keep_new: jax.Array, new: Any, old: Any) -> Any:
    """Leafwise `new if keep_new else old` (PRNG keys included)."""

    def pick(a, b):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            data = jnp.where(keep_new, jax.random.key_data(a), jax.random.key_data(b))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
        return jnp.where(keep_new, a, b)

    return jax.tree.map(pick, new, old)


def all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


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
) -> dict:
    """The agent's metrics plus what `train.py` reads: diverged_at, eval_return (NaN once diverged),
    eval_length, train_return (mean return of the episodes finished in the period) and env_steps."""
    return dict(
        metrics,
        diverged_at=run.diverged_at,
        eval_return=jnp.where(run.diverged_at >= 0, jnp.nan, eval_returns.mean()),
        eval_length=eval_lengths.astype(jnp.float32).mean(),
        train_return=jnp.where(finished_count > 0, finished_return / jnp.maximum(finished_count, 1), jnp.nan),
        env_steps=env_steps,
    )


def as_arrays(hp: Any) -> Any:
    """Hyperparameters as float32 array leaves."""
    return jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), hp)
