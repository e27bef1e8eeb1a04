"""float32 running statistics against float64 over a long MuJoCo stream (not a test).

The SimbaV2 authors keep RSNorm's observation statistics and the reward scaler's return statistics
in float64 numpy (float32 arrays that numpy promotes to float64 on the first float64 observation);
the suite keeps them in float32 JAX state. This script feeds the same stream, one step at a time
(one env, as the authors train), to the suite's float32 `rsnorm.update` and
`BoundedReturnScaler.update`, and compares them at checkpoints with the exact float64 statistics
of the stream's prefix (two-pass mean and variance merged with the prior mean 0, var 1, count 1e-4;
the authors' float64 sequential update agrees with it to about 1e-12).

Streams: gymnasium HalfCheetah-v4 under uniform random actions (seed 0, 1000-step episodes), recorded
here in float64; and the same stream with a learning agent's drift: a ramp from 0 to 12 added to the
forward velocity (observation 8) and to the reward over the run (HalfCheetah's speed and reward
per step near the end of a 1M-step SimbaV2 run).
Errors reported: observation mean in units of the float64 standard deviation, standard deviation
relative, reward scale (the divisor of BoundedReturnScaler.scale, g_max 5) relative.

    python bench/running_stats_precision.py [--steps 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from agents.normalizers import BoundedReturnScaler  # noqa: E402
from networks import rsnorm  # noqa: E402

GAMMA = 0.995  # TD-MPC2's heuristic for 1000-step episodes, the authors' value on MuJoCo
G_MAX = 5.0
DRIFT = 12.0
CHUNK = 1000  # steps per compiled scan; every checkpoint is a multiple


def record_stream(steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """obs [steps, 17], reward [steps], done [steps] of HalfCheetah-v4 under random actions."""
    import gymnasium as gym

    env = gym.make("HalfCheetah-v4")
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    observations, rewards, dones = np.empty((steps, 17)), np.empty(steps), np.empty(steps)
    for t in range(steps):
        observations[t] = obs
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        rewards[t], dones[t] = reward, terminated or truncated
        if terminated or truncated:
            obs, _ = env.reset()
    return observations, rewards, dones


def checkpoints(steps: int) -> list[int]:
    marks = [m for m in (1_000, 10_000) if m < steps]
    return marks + list(range(100_000, steps, 100_000)) + [steps]


def exact_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 mean and variance of the rows of x merged with the prior (mean 0, var 1, count 1e-4)."""
    n, prior = len(x), rsnorm.INITIAL_COUNT
    data_mean, data_var = x.mean(axis=0), x.var(axis=0)
    total = prior + n
    return data_mean * n / total, (prior + data_var * n + data_mean**2 * prior * n / total) / total


def float64_returns(reward: np.ndarray, done: np.ndarray) -> np.ndarray:
    """The authors' G_t = gamma (1 - done_t) G_{t-1} + r_t, in float64."""
    returns, g = np.empty_like(reward), 0.0
    for t in range(len(reward)):
        g = GAMMA * (1.0 - done[t]) * g + reward[t]
        returns[t] = g
    return returns


@jax.jit
def run_float32(carry, segment):
    """One scan over a segment of steps: one observation and one reward per step."""

    def step(carry, row):
        obs_stats, scaler = carry
        obs, reward, done = row
        return (rsnorm.update(obs_stats, obs[None]), scaler.update(reward[None], done[None], GAMMA)), None

    return jax.lax.scan(step, carry, segment)[0]


def measure(name: str, obs: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
    steps = len(reward)
    returns = float64_returns(reward, done)
    carry = (rsnorm.init((obs.shape[1],)), BoundedReturnScaler.create(1))
    chunks = [tuple(jnp.asarray(a[t : t + CHUNK], jnp.float32) for a in (obs, reward, done)) for t in range(0, steps, CHUNK)]
    start = time.perf_counter()
    compiled = run_float32.lower(carry, chunks[0]).compile()
    compile_seconds = time.perf_counter() - start
    run_seconds, previous = 0.0, 0
    print(f"\n{name}: {steps:,} steps")
    print("| steps | obs mean err / std (max over dims) | obs std rel err (max) | G std rel err | reward scale rel err |")
    print("|---:|---:|---:|---:|---:|")
    worst = np.zeros(4)
    for mark in checkpoints(steps):
        start = time.perf_counter()
        for chunk in chunks[previous // CHUNK : mark // CHUNK]:
            carry = compiled(carry, chunk)
        carry = jax.block_until_ready(carry)
        run_seconds += time.perf_counter() - start
        previous = mark
        obs_stats, scaler = carry
        mean64, var64 = exact_stats(obs[:mark])
        g_mean64, g_var64 = exact_stats(returns[:mark, None])
        scale64 = max(np.sqrt(g_var64[0] + rsnorm.EPSILON), np.abs(returns[:mark]).max() / G_MAX)
        scale32 = float(jnp.maximum(jnp.sqrt(scaler.stats.var + rsnorm.EPSILON), scaler.max_abs_return / G_MAX))
        errors = np.array(
            [
                np.max(np.abs(np.asarray(obs_stats.mean, np.float64) - mean64) / np.sqrt(var64)),
                np.max(np.abs(np.sqrt(np.asarray(obs_stats.var, np.float64) / var64) - 1.0)),
                abs(np.sqrt(float(scaler.stats.var) / g_var64[0]) - 1.0),
                abs(scale32 / scale64 - 1.0),
            ]
        )
        worst = np.maximum(worst, errors)
        print(f"| {mark:,} | " + " | ".join(f"{e:.1e}" for e in errors) + " |")
    print("| worst | " + " | ".join(f"{e:.1e}" for e in worst) + " |")
    print(f"float32 statistics: compile {compile_seconds:.2f} s, run {run_seconds:.1f} s ({steps // CHUNK} scans of {CHUNK} steps)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000, help="stream length (env steps)")
    args = parser.parse_args(argv)
    if args.steps < CHUNK or args.steps % CHUNK:
        print(f"error: --steps must be a positive multiple of {CHUNK}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    obs, reward, done = record_stream(args.steps)
    print(f"recorded HalfCheetah-v4 in {time.perf_counter() - start:.0f} s; jax {jax.__version__}, {jax.devices()[0].platform}")
    measure("HalfCheetah-v4, random actions", obs, reward, done)
    ramp = DRIFT * np.arange(args.steps) / args.steps
    drifting = obs.copy()
    drifting[:, 8] += ramp
    measure("HalfCheetah-v4, random actions + learning drift 0 -> 12 (forward velocity, reward)", drifting, reward + ramp, done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
