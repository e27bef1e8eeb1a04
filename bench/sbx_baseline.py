"""SBX's SAC or CrossQ (araffin/sbx) on a gymnasium task, evaluated as train.py evaluates, written as
a run directory (config.json, evals.csv) that `python -m reports` and docs/results compare with ours.

Runs in its own environment, since SBX is not a dependency of the suite:

    python -m venv /tmp/sbx && /tmp/sbx/bin/pip install sbx-rl "gymnasium[mujoco]<1.4" torch
    /tmp/sbx/bin/python bench/sbx_baseline.py crossq --env Hopper-v4 --seeds 5 --total-steps 20000 \
        --eval-every 2000 --critic-width 256 --out runs/sbx-crossq-hopper

Every `--eval-every` env steps the deterministic policy plays `--eval-episodes` episodes on a separate
environment seeded with 10_000 + seed + episode; evals.csv has train.py's columns.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path


def evaluate(model, env, episodes: int, seed: int) -> tuple[list[float], list[int]]:
    returns, lengths = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed + episode)
        total, length, done = 0.0, 0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, length, done = total + float(reward), length + 1, terminated or truncated
        returns.append(total)
        lengths.append(length)
    return returns, lengths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agent", choices=("sac", "crossq"), help="SBX's SAC or CrossQ")
    parser.add_argument("--env", default="Hopper-v4", help="gymnasium id")
    parser.add_argument("--seeds", type=int, default=5, help="runs, one after another")
    parser.add_argument("--seed", type=int, default=0, help="first seed; runs use seed, seed + 1, ...")
    parser.add_argument("--total-steps", type=int, default=20_000, help="env steps per run")
    parser.add_argument("--eval-every", type=int, default=2_000, help="env steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=5, help="deterministic episodes per evaluation")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate of every network")
    parser.add_argument("--learning-starts", type=int, default=5_000, help="random steps before updates")
    parser.add_argument("--actor-width", type=int, default=256, help="2 hidden layers of this width")
    parser.add_argument("--critic-width", type=int, default=256, help="2 hidden layers of this width")
    parser.add_argument("--out", required=True, help="run directory to write")
    args = parser.parse_args()

    import gymnasium as gym
    import sbx

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    algorithm = {"sac": sbx.SAC, "crossq": sbx.CrossQ}[args.agent]
    settings = dict(
        learning_rate=args.learning_rate,
        learning_starts=args.learning_starts,
        batch_size=256,
        buffer_size=1_000_000,
        policy_kwargs={"net_arch": {"pi": [args.actor_width] * 2, "qf": [args.critic_width] * 2}},
    )
    (out / "config.json").write_text(json.dumps({
        "command": " ".join(["python", *sys.argv]),
        "agent": f"sbx-{args.agent}",
        "run": {"env": f"gym/{args.env}", "seeds": args.seeds, "total_steps": args.total_steps,
                "eval_every": args.eval_every, "eval_episodes": args.eval_episodes},
        "config": {"sbx_version": sbx.__version__, **{k: v for k, v in settings.items()}},
        "hyperparams": {},
        "seeds": list(range(args.seed, args.seed + args.seeds)),
    }, indent=2))
    start = time.perf_counter()
    with (out / "evals.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["run", "seed", "env_step", "eval_return", "eval_length", "wall_seconds"])
        for seed in range(args.seed, args.seed + args.seeds):
            model = algorithm("MlpPolicy", gym.make(args.env), seed=seed, verbose=0, **settings)
            eval_env = gym.make(args.env)
            for step in range(args.eval_every, args.total_steps + 1, args.eval_every):
                model.learn(total_timesteps=args.eval_every, reset_num_timesteps=False)
                returns, lengths = evaluate(model, eval_env, args.eval_episodes, seed)
                writer.writerow([seed, seed, step, sum(returns) / len(returns), sum(lengths) / len(lengths),
                                 round(time.perf_counter() - start, 1)])
                file.flush()
                print(f"seed {seed} step {step}: {sum(returns) / len(returns):.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
