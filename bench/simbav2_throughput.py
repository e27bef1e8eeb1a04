"""SimbaV2's update cost per env step against SimBa-SAC's, both at the authors' sizes, in one run.

Times one evaluation period of the fused loop on gymnax/Pendulum-v1 with an update every env step
(learning_starts 0, after an untimed warm-up period), one seed, for simbav2 (preset utd1: actor
1 block x 128, 2 critics of 2 blocks x 512 with 101-bin heads, batch 256) and simba-sac (actor
1 block x 128, 2 critics of 2 blocks x 512, batch 256); prints compile seconds, ms per env step and
the ratio of the two. Each agent's period is timed `--repeats` times after one compile, keeping the
fastest (on a shared machine, the least disturbed).

    python bench/simbav2_throughput.py [--steps 100] [--repeats 3]
"""

from __future__ import annotations

import argparse

from common import describe_device, measure_loop, update_loop_and_hp

from agents import sac, simbav2

SETUPS = {
    "simbav2": (simbav2.PRESETS["utd1"].config, simbav2.PRESETS["utd1"].hyperparams),
    "simba-sac": (sac.SIMBA.config, sac.SIMBA.hyperparams),
}


def prepare(agent: str, steps: int):
    """(init, run_period, hyperparameters) of a loop whose every env step is an update."""
    agent_config, hparams = SETUPS[agent]
    return update_loop_and_hp(agent, agent_config, hparams, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed env steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="timed periods per agent (the fastest is kept)")
    args = parser.parse_args()

    print(describe_device())
    print(f"{'agent':>10} {'compile s':>9} {'ms per env step':>15}")
    results = {}
    for agent in SETUPS:
        results[agent] = result = measure_loop(*prepare(agent, args.steps), 1, args.steps, args.repeats)
        ms = 1e3 * result["seconds"] / result["env_steps"]
        print(f"{agent:>10} {result['compile_seconds']:>9.1f} {ms:>15.1f}", flush=True)
    ratio = results["simbav2"]["seconds"] / results["simba-sac"]["seconds"]
    print(f"simbav2 / simba-sac time per env step: {ratio:.2f} ({args.steps} steps, fastest of {args.repeats})")


if __name__ == "__main__":
    main()
