"""Per-update cost of XQC and CrossQ+WN against CrossQ at the published sizes (their `paper`
presets), on gymnax/Pendulum-v1, every env step with its updates (utd of them), compile separate.

    python bench/xqc_throughput.py [--steps 50] [--seeds 1]
"""

from __future__ import annotations

import argparse

from common import describe_device, measure_loop, update_loop_and_hp

from agents import AGENTS

AGENTS_AND_PRESETS = (("crossq", "paper"), ("xqc", "paper"), ("crossq-wn", "paper"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="timed env steps per run")
    parser.add_argument("--seeds", type=int, default=1, help="vmapped runs")
    args = parser.parse_args()
    print(describe_device())
    print(f"{'agent':>10} {'utd':>3} {'compile s':>9} {'ms/env step':>11} {'ms/update':>9} {'vs crossq':>9}")
    baseline = None
    for name, preset in AGENTS_AND_PRESETS:
        found = AGENTS[name].presets[preset]
        r = measure_loop(*update_loop_and_hp(name, found.config, found.hyperparams, args.steps), args.seeds, args.steps)
        per_update = 1e3 * r["seconds"] / args.steps / found.config.utd
        baseline = baseline or per_update
        print(f"{name:>10} {found.config.utd:>3} {r['compile_seconds']:>9.1f} {1e3 * r['seconds'] / args.steps:>11.2f} "
              f"{per_update:>9.2f} {per_update / baseline:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
