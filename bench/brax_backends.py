"""Compile time and throughput of each brax physics backend, measured through `envs.make`.

For every (backend, env, batch size) this builds `envs.make("brax/<env>", backend=...)`, resets
B envs with `jax.vmap(env.reset)`, and jits one function: a `lax.scan` over T steps of
`jax.vmap(env.step)` with uniform random actions in [-1, 1]. The wrapper's step includes the
auto-reset (a fresh reset computed every step and selected), so this is the cost an agent pays.

Reported per configuration:
  compile_s   seconds for `jax.jit(rollout).lower(...).compile()` (tracing + XLA compile);
  steps_per_s env-steps per second (B * T per call) of the compiled rollout, after one warm-up
              call, timed with `block_until_ready` over repeated calls until >= --min-seconds.

A backend that fails for an env (error while building, compiling or running) is reported as
failed with the error, and the sweep goes on. Results are printed as a markdown table and, with
--json, written one JSON object per line as they come.

Run from the repository root so `import envs` works:

    python bench/brax_backends.py --envs halfcheetah hopper ant --batch-sizes 1 64
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402
from envs import brax_envs  # noqa: E402


def build_rollout(env, num_steps: int):
    """(key, batched state) -> (key, batched state, summed reward) after num_steps steps."""
    step = jax.vmap(env.step)
    action_dim = env.spec.action_dim

    def rollout(key, state):
        batch = jax.tree.leaves(state)[0].shape[0]

        def body(carry, _):
            key, state, total = carry
            key, action_key, step_key = jax.random.split(key, 3)
            actions = jax.random.uniform(action_key, (batch, action_dim), minval=-1.0, maxval=1.0)
            state, ts = step(jax.random.split(step_key, batch), state, actions)
            return (key, state, total + ts.reward.sum()), None

        (key, state, total), _ = jax.lax.scan(
            body, (key, state, jnp.zeros((), jnp.float32)), None, length=num_steps
        )
        return key, state, total

    return rollout


def measure(name: str, backend: str, batch: int, num_steps: int, min_seconds: float) -> dict:
    env = envs.make(f"brax/{name}", backend=backend)
    key = jax.random.PRNGKey(0)
    key, reset_key = jax.random.split(key)
    state, _ = jax.jit(jax.vmap(env.reset))(jax.random.split(reset_key, batch))
    jax.block_until_ready(state)

    start = time.perf_counter()
    compiled = jax.jit(build_rollout(env, num_steps)).lower(key, state).compile()
    compile_s = time.perf_counter() - start

    key, state, total = compiled(key, state)  # warm-up call
    jax.block_until_ready((key, state, total))

    calls = 0
    start = time.perf_counter()
    while True:
        key, state, total = compiled(key, state)
        jax.block_until_ready((key, state, total))
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    if not bool(jnp.isfinite(total)):
        raise FloatingPointError("non-finite reward during the rollout")
    steps = calls * num_steps * batch
    return {
        "compile_s": round(compile_s, 2),
        "run_s": round(elapsed, 2),
        "env_steps": steps,
        "steps_per_s": round(steps / elapsed, 1),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envs", nargs="+", default=["halfcheetah", "hopper", "ant"],
                        choices=brax_envs.NAMES, metavar="ENV", help="brax env names")
    parser.add_argument("--backends", nargs="+", default=list(brax_envs.BACKENDS),
                        choices=brax_envs.BACKENDS, help="brax physics backends")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 64],
                        help="numbers of vmapped envs B")
    parser.add_argument("--steps", type=int, default=200,
                        help="scan length T of one compiled call (calls repeat until --min-seconds)")
    parser.add_argument("--min-seconds", type=float, default=2.0,
                        help="minimum timed run per configuration")
    parser.add_argument("--json", metavar="PATH", help="append one JSON line per configuration")
    args = parser.parse_args(argv)

    print(f"jax {jax.__version__}, devices {jax.devices()}", flush=True)
    print("| backend | env | B | compile s | env-steps/s |")
    print("|---|---|---:|---:|---:|", flush=True)
    for backend in args.backends:
        for name in args.envs:
            for batch in args.batch_sizes:
                row = {"backend": backend, "env": name, "batch": batch, "steps": args.steps}
                try:
                    row.update(measure(name, backend, batch, args.steps, args.min_seconds))
                    cells = f"{row['compile_s']:.1f} | {row['steps_per_s']:,.0f}"
                except Exception as err:  # noqa: BLE001 - a failing backend is a result
                    row["error"] = f"{type(err).__name__}: {err}".splitlines()[0][:300]
                    traceback.print_exc(file=sys.stderr)
                    cells = f"failed | {row['error']}"
                print(f"| {backend} | {name} | {batch} | {cells} |", flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
