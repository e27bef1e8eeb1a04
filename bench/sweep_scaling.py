"""How a sweep scales: time per run-step of 1, 8, 32 and 128 vmapped runs against running them
one after another, for SAC and CrossQ with CPU-sized networks on gymnax/Pendulum-v1.

    python bench/sweep_scaling.py [--runs 1 8 32 128] [--steps 100] [--agents sac crossq] [--width 256]
"""

from __future__ import annotations

import argparse
import dataclasses

from common import describe_device, measure

from agents import crossq, sac

def configs(width: int) -> dict:
    """CPU-sized networks: SAC width x width, CrossQ's cpu preset (critic width, actor width)."""
    return {
        "sac": sac.Config(actor_width=width, critic_width=width, batch_size=256),
        "crossq": dataclasses.replace(crossq.PRESETS["cpu"].config, actor_width=width, critic_width=width),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 8, 32, 128], help="runs per program")
    parser.add_argument("--steps", type=int, default=100, help="timed env steps per run")
    parser.add_argument("--agents", nargs="+", default=["sac", "crossq"], choices=["sac", "crossq"])
    parser.add_argument("--width", type=int, default=256, help="hidden width of actor and critics")
    args = parser.parse_args()
    print(describe_device(), f"width {args.width}")
    print(f"{'agent':>7} {'runs':>5} {'compile s':>9} {'env-steps/s':>11} {'ms/run-step':>11} {'vs sequential':>13}")
    for agent in args.agents:
        single = None
        for num_runs in args.runs:
            r = measure(agent, configs(args.width)[agent], num_runs, args.steps)
            per_run_step = r["seconds"] / r["env_steps"]
            single = per_run_step if num_runs == 1 else single
            speedup = f"{single / per_run_step:.2f}x" if single else "-"
            print(
                f"{agent:>7} {num_runs:>5} {r['compile_seconds']:>9.1f} {1 / per_run_step:>11.0f} "
                f"{1e3 * per_run_step:>11.2f} {speedup:>13}",
                flush=True,
            )


if __name__ == "__main__":
    main()
