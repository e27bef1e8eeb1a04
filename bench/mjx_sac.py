"""SAC per env step on one MuJoCo task: fused on mjx/<Task> against host-stepped on gym/<Task>.

Both sides are the loops train.py runs (`agents.engine.plan.make_runs`), with the same SAC configuration (the
default 256 x 256 networks, batch 256, UTD 1; updates from step 256 on), the same seeds (one env
each) and the same periods: `--period` env steps of every run, each followed by one deterministic
evaluation episode (in the same loop: fused on mjx/, host-stepped on gym/). The first period is
an untimed warm-up; then the two loops alternate period by period, so each pair sees the same load
on a shared CPU, and the medians over `--rounds` periods are reported, in ms per env step of every
run (the period's time over `--period`, its evaluation included) and as the ratio host / fused.
Compile time (every jitted piece, `Runs.compile`) is reported separately.

    python bench/mjx_sac.py [--task HalfCheetah-v4] [--seeds 1] [--period 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

from common import describe_device

import jax
import numpy as np

from agents import sac
from agents.engine.batching import broadcast, keys_for, runs_mesh
from agents.engine.loop import TrainConfig
from agents.engine.plan import make_runs

LOOPS = {"fused mjx/": "mjx", "host gym/": "gym"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="HalfCheetah-v4", help="a task both mjx/ and gym/ offer, e.g. Hopper-v4")
    parser.add_argument("--seeds", type=int, default=1, help="vmapped runs (one env each)")
    parser.add_argument("--period", type=int, default=1000, help="env steps per timed period (each ends with one evaluation episode)")
    parser.add_argument("--rounds", type=int, default=3, help="timed periods of each loop, alternating (medians are reported)")
    args = parser.parse_args()
    print(describe_device())
    seeds = list(range(args.seeds))
    runs, states, compile_seconds = {}, {}, {}
    for name, prefix in LOOPS.items():
        config = TrainConfig(
            agent="sac",
            agent_config=sac.Config(learning_starts=256),
            env=f"{prefix}/{args.task}",
            total_steps=args.period * (args.rounds + 1),
            eval_every=args.period,
            eval_episodes=1,
        )
        runs[name] = make_runs(config, broadcast(sac.Hyperparams(), len(seeds)), keys_for(seeds), seeds, runs_mesh())
        start = time.perf_counter()
        runs[name].compile()
        compile_seconds[name] = time.perf_counter() - start
        states[name] = runs[name].init()
    seconds: dict[str, list[float]] = {name: [] for name in LOOPS}
    for period in range(args.rounds + 1):
        for name in LOOPS:
            start = time.perf_counter()
            states[name], metrics = runs[name].run_period(states[name], period)
            jax.block_until_ready(metrics)
            if period:  # period 0 warms up
                seconds[name].append(time.perf_counter() - start)
    print(f"SAC on {args.task}, {args.seeds} seed(s), {args.period}-step periods with one evaluation episode each")
    print(f"{'loop':>10} {'compile s':>9} {'ms/env-step':>11}")
    per_step = {}
    for name in LOOPS:
        per_step[name] = float(np.median(seconds[name])) / args.period * 1e3
        print(f"{name:>10} {compile_seconds[name]:>9.1f} {per_step[name]:>11.2f}")
    print(f"ratio host gym/ / fused mjx/: {per_step['host gym/'] / per_step['fused mjx/']:.2f}")


if __name__ == "__main__":
    main()
