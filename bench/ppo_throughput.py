"""PPO throughput of the fused on-policy loop on gymnax/CartPole-v1, optionally against rejax's PPO.

Settings (PureJaxRL's CartPole): 4 envs x 128 steps per rollout, 4 epochs of 4 minibatches,
64x64 actor and critic. Reports, for each vmapped seed count (default 1 and 64), compile seconds
and env-steps/s over all seeds (compile excluded) of one evaluation period of `--steps` env steps
per run (the fastest of `--repeats`), after an untimed warm-up period. With `--rejax PYTHON`,
rejax's PPO runs the same settings in that interpreter via bench/rejax_ppo.py (its own
virtualenv: rejax 0.1.3 needs gymnax 0.0.9, whose step API differs from the 1.0 this suite uses).

    python bench/ppo_throughput.py [--steps 51200] [--seeds 1 64] [--repeats 3] [--rejax /work/rejax-venv/bin/python]
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
from pathlib import Path

from common import describe_device, measure_loop

from agents import ppo

from agents.engine import on_policy
from agents.engine.loop import TrainConfig

NUM_ENVS, NUM_STEPS, WIDTH = 4, 128, 64


def measure_ours(num_seeds: int, steps: int, repeats: int) -> dict:
    config = TrainConfig(
        agent="ppo",
        agent_config=ppo.Config(actor_width=WIDTH, critic_width=WIDTH, num_steps=NUM_STEPS),
        env="gymnax/CartPole-v1",
        total_steps=2 * steps,
        eval_every=steps,
        eval_episodes=1,
        num_envs=NUM_ENVS,
    )
    env = on_policy.make_env(config)
    init, run_period = (functools.partial(fn, config, env) for fn in (on_policy.init, on_policy.run_period))
    return measure_loop(init, run_period, ppo.Hyperparams(), num_seeds, steps, repeats)


def measure_rejax(python: str, num_seeds: int, steps: int, repeats: int) -> dict:
    script = Path(__file__).with_name("rejax_ppo.py")
    args = [python, str(script), "--seeds", str(num_seeds), "--steps", str(steps), "--num-envs", str(NUM_ENVS),
            "--num-steps", str(NUM_STEPS), "--width", str(WIDTH), "--repeats", str(repeats)]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=51_200, help="timed env steps per run (a multiple of 512)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 64], help="vmapped seed counts to measure")
    parser.add_argument("--repeats", type=int, default=3, help="timed periods per measurement; the fastest counts")
    parser.add_argument("--rejax", metavar="PYTHON", help="python of a virtualenv with rejax installed")
    args = parser.parse_args()

    print(describe_device())
    print(f"{'implementation':>14} {'seeds':>5} {'compile s':>9} {'env-steps/s':>12} {'per seed':>10}")
    for num_seeds in args.seeds:
        rows = {"occam": measure_ours(num_seeds, args.steps, args.repeats)}
        if args.rejax:
            rows["rejax"] = measure_rejax(args.rejax, num_seeds, args.steps, args.repeats)
        for name, r in rows.items():
            rate = r["env_steps"] / r["seconds"]
            print(f"{name:>14} {num_seeds:>5} {r['compile_seconds']:>9.1f} {rate:>12.0f} {rate / num_seeds:>10.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
