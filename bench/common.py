"""Measurement helpers shared by the throughput benchmarks (not imported by the package or tests)."""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from agents import AGENTS  # noqa: E402
from agents.common import resolve_gamma  # noqa: E402

from agents.engine import off_policy
from agents.engine.batching import broadcast, seed_keys, vmap_runs  # noqa: E402
from agents.engine.loop import TrainConfig  # noqa: E402
from agents.engine.malloc import retain_freed_memory  # noqa: E402
from timing import compile_and_time  # noqa: E402

retain_freed_memory()  # as train.py does (agents/engine/malloc.py): the benchmarks time what train.py runs


def dense_flops(sizes: list[int], batch: int) -> int:
    """Forward FLOPs (multiply + add) of a stack of dense layers with these sizes on `batch` rows."""
    return sum(2 * batch * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def network_flops(spec, d_in: int, d_out: int, batch: int) -> int:
    """Forward matmul FLOPs of a torso built from `spec` plus a d_out head, on `batch` rows."""
    if spec.kind == "mlp":
        return dense_flops([d_in] + [spec.width] * spec.depth + [d_out], batch)
    block = dense_flops([spec.width, spec.expansion * spec.width, spec.width], batch)
    return dense_flops([d_in, spec.width], batch) + spec.depth * block + dense_flops([spec.width, d_out], batch)


def sac_update_flops(config, obs_dim: int, action_dim: int) -> int:
    """Matmul FLOPs of one SAC update (critics, actor; the temperature is negligible).

    A backward pass costs twice its forward pass where both weight and input gradients are needed,
    once where only input gradients are (the critic inside the actor loss).
    """
    batch = config.batch_size
    actor = network_flops(config.actor_spec, obs_dim, 2 * action_dim, batch)
    critic = config.num_critics * network_flops(config.critic_spec, obs_dim + action_dim, 1, batch)
    critic_update = actor + critic + critic + 2 * critic  # next action, target Q, Q, dQ/dparams
    actor_update = actor + critic + critic + 2 * actor  # action, Q, dQ/daction, dpi/dparams
    return critic_update + actor_update


def matmul_gflops(m: int, k: int, n: int, seconds: float = 1.0) -> float:
    """GFLOP/s of a chain of [m, k] @ [k, n] matmuls on this device, compile excluded; for k != n
    each link is [m, k] @ [k, n] @ [n, k] (a SimBa block's expansion and contraction)."""
    x = jnp.ones((m, k), jnp.float32) / k
    w = jnp.ones((k, n), jnp.float32)
    back = jnp.ones((n, k), jnp.float32) / n
    flops = 2 * m * k * n * (1 if k == n else 2)
    repeats = max(1, int(seconds * 100e9 / flops))
    link = (lambda y: y @ w) if k == n else (lambda y: (y @ w) @ back)
    chain = jax.jit(lambda x: jax.lax.fori_loop(0, repeats, lambda _, y: jnp.tanh(link(y)), x))
    jax.block_until_ready(chain(x))
    start = time.perf_counter()
    jax.block_until_ready(chain(x))
    return flops * repeats / (time.perf_counter() - start) / 1e9


def update_loop(agent: str, agent_config, steps: int):
    """(env, init, run_period) of a fused loop whose every env step is an update: learning_starts 0,
    periods of `steps` env steps, the run two periods (or as many as a batch needs) long, which
    only sizes the buffer."""
    periods = max(2, -(-agent_config.batch_size // steps))
    config = TrainConfig(
        agent=agent,
        agent_config=dataclasses.replace(agent_config, learning_starts=0),
        total_steps=steps * periods,
        eval_every=steps,
        eval_episodes=1,
    )
    env = off_policy.jittable_env(config)
    return env, *(functools.partial(fn, config, env) for fn in (off_policy.fresh_run, off_policy.run_period))


def update_loop_and_hp(agent: str, agent_config, hparams, steps: int):
    """(init, run_period, hyperparameters) of `update_loop`, gamma "auto" resolved from its env's time limit."""
    env, init, run_period = update_loop(agent, agent_config, steps)
    return init, run_period, resolve_gamma(hparams, env.spec.max_episode_steps)


def measure(agent: str, agent_config, num_seeds: int, steps: int) -> dict:
    """Times one evaluation period of `steps` env steps per run, every step with an update, after
    an untimed warm-up period. Returns compile seconds (lower().compile()), timed seconds and env
    steps over all runs."""
    _, init, run_period = update_loop(agent, agent_config, steps)
    return measure_loop(init, run_period, AGENTS[agent].Hyperparams(), num_seeds, steps)


def measure_loop(init, run_period, hparams, num_seeds: int, steps: int, repeats: int = 1) -> dict:
    """Times one evaluation period (of `steps` env steps per run) of a loop given by its per-run
    init (hp, key) and run_period (state, hp, period), over `num_seeds` vmapped seeds, after an
    untimed warm-up period (the fastest of `repeats`); compile seconds separate."""
    hp = broadcast(hparams, num_seeds)
    state = jax.jit(vmap_runs(init, num_seeds))(hp, seed_keys(0, num_seeds))
    run_period = vmap_runs(run_period, num_seeds, in_axes=(0, 0, None))
    timed = compile_and_time(run_period, state, hp, jnp.int32(0), repeats=repeats)
    return {**timed, "env_steps": steps * num_seeds}


def report(results: dict[int, dict], flops_per_step: float, matmul_rate: float, steps: int) -> None:
    """Prints one row per seed count and the vmapped-vs-sequential comparison."""
    print(f"{'seeds':>5} {'compile s':>9} {'env-steps/s':>11} {'ms/run-step':>11} {'GFLOP/s':>8} {'of matmul':>9}")
    for num_seeds, r in results.items():
        rate = r["env_steps"] / r["seconds"]
        gflops = rate * flops_per_step / 1e9
        print(
            f"{num_seeds:>5} {r['compile_seconds']:>9.1f} {rate:>11.1f} {1e3 / rate:>11.2f} "
            f"{gflops:>8.0f} {gflops / matmul_rate:>9.0%}"
        )
    if 1 in results and max(results) > 1:
        n = max(results)
        sequential = n * results[1]["seconds"]
        print(
            f"{n} seeds: vmapped {results[n]['seconds']:.2f} s vs {n} sequential single-seed runs "
            f"{sequential:.2f} s ({sequential / results[n]['seconds']:.2f}x) for {steps} env steps each"
        )


def describe_device() -> str:
    device = jax.devices()[0]
    return f"device: {device.platform} {device.device_kind}, jax {jax.__version__}"
