"""SAC throughput of the fused loop on gymnax/Pendulum-v1, against the machine's own matmul speed.

Reports, for 1 and 8 vmapped seeds (256x256 networks, batch 256, UTD 1): compile seconds and
env-steps per second of the training phase (compile excluded); 8 sequential single-seed runs
against 8 vmapped seeds; the FLOPs of one env step counted from the layer sizes, the GFLOP/s that
implies, and the GFLOP/s of a dense matmul of the same shape and of a large one, measured here.

    python bench/sac_throughput.py [--steps 3000] [--seeds 1 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from agents import sac  # noqa: E402
from agents.off_policy import TrainConfig, broadcast, make_loop, seed_keys  # noqa: E402


def dense_flops(sizes: list[int], batch: int) -> int:
    """Forward FLOPs (multiply + add) of a stack of dense layers with these sizes on `batch` rows."""
    return sum(2 * batch * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def sac_update_flops(obs_dim: int, action_dim: int, width: int, batch: int, num_critics: int = 2) -> int:
    """Matmul FLOPs of one SAC update (critic, actor; the temperature is negligible).

    A backward pass costs twice its forward pass where both weight and input gradients are needed,
    once where only input gradients are (the critic inside the actor loss).
    """
    actor = dense_flops([obs_dim, width, width, 2 * action_dim], batch)
    critic = num_critics * dense_flops([obs_dim + action_dim, width, width, 1], batch)
    critic_update = actor + critic + critic + 2 * critic  # next action, target Q, Q, dQ/dparams
    actor_update = actor + critic + critic + 2 * actor  # action, Q, dQ/daction, dpi/dparams
    return critic_update + actor_update


def matmul_gflops(n: int, repeats: int) -> float:
    x = jnp.ones((n, n), jnp.float32) / n
    w = jnp.ones((n, n), jnp.float32)
    chain = jax.jit(lambda x: jax.lax.fori_loop(0, repeats, lambda _, y: jnp.tanh(y @ w), x))
    jax.block_until_ready(chain(x))
    start = time.perf_counter()
    jax.block_until_ready(chain(x))
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def measure(num_seeds: int, steps: int, width: int) -> dict:
    config = TrainConfig(
        agent="sac",
        agent_config=sac.Config(actor_width=width, critic_width=width, batch_size=256, learning_starts=256),
        total_steps=steps * 10,
        eval_every=steps,
        eval_episodes=1,
    )
    loop = make_loop(config)
    hp = broadcast(sac.Hyperparams(), num_seeds)
    keys = seed_keys(0, num_seeds)
    state = jax.jit(jax.vmap(loop.init))(hp, keys)
    start = time.perf_counter()
    run_period = (
        jax.jit(jax.vmap(loop.run_period, in_axes=(0, 0, None)), donate_argnums=0)
        .lower(state, hp, jnp.int32(0))
        .compile()
    )
    compile_seconds = time.perf_counter() - start
    state, metrics = run_period(state, hp, jnp.int32(0))  # warm-up period: learning starts here
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    state, metrics = run_period(state, hp, jnp.int32(1))
    jax.block_until_ready(metrics)
    seconds = time.perf_counter() - start
    return {"compile_seconds": compile_seconds, "seconds": seconds, "env_steps": steps * num_seeds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="timed env steps per run (one evaluation period)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8], help="vmapped seed counts to measure")
    parser.add_argument("--width", type=int, default=256, help="hidden width of actor and critics")
    args = parser.parse_args()

    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind}, jax {jax.__version__}")
    flops = sac_update_flops(obs_dim=3, action_dim=1, width=args.width, batch=256)
    print(f"FLOPs per env step (one update, counted from layer sizes): {flops / 1e6:.0f} MFLOP")
    peak_small = matmul_gflops(256, 2000)
    peak_large = matmul_gflops(2048, 20)
    print(f"dense matmul: 256x256x256 {peak_small:.0f} GFLOP/s, 2048x2048x2048 {peak_large:.0f} GFLOP/s")

    print(f"\n{'seeds':>5} {'compile s':>9} {'env-steps/s':>11} {'ms/run-step':>11} {'GFLOP/s':>8} {'of 256-matmul':>13}")
    results = {}
    for num_seeds in args.seeds:
        r = measure(num_seeds, args.steps, args.width)
        results[num_seeds] = r
        rate = r["env_steps"] / r["seconds"]
        gflops = rate * flops / 1e9
        print(
            f"{num_seeds:>5} {r['compile_seconds']:>9.1f} {rate:>11.0f} {1e3 / rate:>11.2f} "
            f"{gflops:>8.0f} {gflops / peak_small:>12.0%}"
        )
    if 1 in results and max(results) > 1:
        n = max(results)
        sequential = n * results[1]["seconds"] / results[1]["env_steps"] * args.steps
        vmapped = results[n]["seconds"]
        print(
            f"\n{n} seeds: vmapped {vmapped:.2f} s vs {n} sequential single-seed runs {sequential:.2f} s "
            f"({sequential / vmapped:.2f}x) for {args.steps} env steps each"
        )


if __name__ == "__main__":
    main()
