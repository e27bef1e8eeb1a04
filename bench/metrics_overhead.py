"""The cost of the training metrics (agents/engine/training_metrics.py) against the same loop without them,
measured in one process: one evaluation period of the fused off-policy loop with the metrics summed
over every update, then with `training_metrics.add` replaced by a no-op (what the loop did before
metrics.csv), alternating, the fastest of `--repeats` timed periods each.

    python bench/metrics_overhead.py [--agent sac] [--steps 1000] [--seeds 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses

from common import describe_device, measure  # noqa: I001 (puts the repository on sys.path)

from agents import AGENTS

from agents.engine import training_metrics


def without_metrics(totals, metrics, happened):
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="sac")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = dataclasses.replace(AGENTS[args.agent].Config(), actor_width=256, critic_width=256, batch_size=256)
    summing = training_metrics.add
    timings = {"metrics on": [], "metrics off": []}
    for _ in range(args.repeats):
        for label, add in (("metrics on", summing), ("metrics off", without_metrics)):
            training_metrics.add = add
            timings[label].append(measure(args.agent, config, args.seeds, args.steps))
    training_metrics.add = summing
    print(f"{args.agent} 256x256, batch 256, UTD 1, {args.steps} env steps x {args.seeds} seed(s); {describe_device()}")
    best = {label: min(r["seconds"] for r in results) for label, results in timings.items()}
    for label, results in timings.items():
        compile_seconds = min(r["compile_seconds"] for r in results)
        print(f"  {label:12s} compile {compile_seconds:5.1f} s  period {best[label]:6.3f} s  "
              f"{1e3 * best[label] / args.steps:6.3f} ms per env step")
    print(f"  metrics cost {best['metrics on'] / best['metrics off'] - 1:+.2%} of the step time")


if __name__ == "__main__":
    main()
