"""The Python parts of bench/gpu/run.sh: update throughput at the paper sizes (part a), SBX's
CrossQ at the same sizes (part d) and the step count that fits part e's budget.

    python bench/gpu/parts.py updates --json W/updates.json [--steps 500] [--seeds 1 8] [--smoke]
    python bench/gpu/parts.py sbx --json W/updates.json [--steps 500] [--smoke]
    python bench/gpu/parts.py plan --json W/updates.json --seconds 240 [--eval-every 2500]
    python bench/gpu/parts.py extend --run RUN_DIR --seconds 400 [--max-steps 100000] [--grid 10000]

`--smoke` shrinks every network so that the CPU check (GPU_SMOKE=1) runs in seconds.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ for common, crossq_throughput

from common import describe_device, measure, sac_update_flops  # noqa: E402
from crossq_throughput import crossq_update_flops  # noqa: E402

from agents import crossq, sac  # noqa: E402

SMOKE_WIDTH = 32


def paper_configs(smoke: bool) -> dict:
    """The agents of part a at their papers' sizes (all narrowed to SMOKE_WIDTH with --smoke)."""
    configs = {
        "crossq": crossq.PRESETS["paper"].config,  # critics 2048x2048, actor 256x256
        "sac": sac.PAPER.config,  # 256x256
        "simba-sac": sac.SIMBA.config,  # actor 1 block x 128, critic 2 blocks x 512
    }
    if smoke:
        narrow = {"actor_width": SMOKE_WIDTH, "critic_width": SMOKE_WIDTH, "batch_size": SMOKE_WIDTH}
        configs = {name: dataclasses.replace(config, **narrow) for name, config in configs.items()}
    return configs


def update_flops(agent: str, config) -> float:
    """Matmul FLOPs of one update on gymnax/Pendulum-v1 (obs 3, action 1)."""
    if agent == "crossq":
        return crossq_update_flops(3, 1, config.actor_width, config.critic_width, config.batch_size, config.policy_delay)
    return sac_update_flops(config, obs_dim=3, action_dim=1)


def updates(args) -> None:
    """Part a: ms per update (= per run-step, an update every env step) at 1 and more vmapped seeds."""
    print(describe_device(), flush=True)
    results = {}
    print(f"{'agent':>9} {'seeds':>5} {'compile s':>9} {'ms/update':>9} {'ms/program step':>15} {'GFLOP/s':>8}")
    for agent, config in paper_configs(args.smoke).items():
        for num_seeds in args.seeds:
            r = measure(agent, config, num_seeds, args.steps)
            per_run_step = r["seconds"] / r["env_steps"]
            gflops = update_flops(agent, config) / per_run_step / 1e9
            results.setdefault(agent, {})[str(num_seeds)] = {**r, "ms_per_update": 1e3 * per_run_step}
            print(
                f"{agent:>9} {num_seeds:>5} {r['compile_seconds']:>9.1f} {1e3 * per_run_step:>9.3f} "
                f"{1e3 * r['seconds'] / args.steps:>15.3f} {gflops:>8.0f}",
                flush=True,
            )
            Path(args.json).write_text(json.dumps({"steps": args.steps, "results": results}, indent=1))


def sbx_crossq(args) -> int:
    """Part d: SBX's CrossQ on gymnasium Pendulum-v1 at part a's CrossQ sizes, one update per env
    step, timed over the same number of updates after a warm-up that includes its compile."""
    try:
        import gymnasium
        from sbx import CrossQ
    except ImportError as error:
        print(f"part d skipped: SBX cannot be imported here ({error})")
        return 1
    config = paper_configs(args.smoke)["crossq"]
    print(describe_device(), f"SBX CrossQ, critics {config.critic_width}, actor {config.actor_width}", flush=True)
    model = CrossQ(
        "MlpPolicy",
        gymnasium.make("Pendulum-v1"),
        batch_size=config.batch_size,
        learning_starts=config.batch_size,
        train_freq=1,
        gradient_steps=1,
        policy_delay=config.policy_delay,
        policy_kwargs={"net_arch": {"pi": [config.actor_width] * 2, "qf": [config.critic_width] * 2}},
        seed=0,
    )
    start = time.perf_counter()
    model.learn(total_timesteps=config.batch_size + args.steps)  # random steps, then compile and warm up
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps, reset_num_timesteps=False)
    ms_per_update = 1e3 * (time.perf_counter() - start) / args.steps
    print(f"SBX CrossQ: warm-up (compile + {args.steps} updates) {warm_up:.1f} s, "
          f"{ms_per_update:.3f} ms per env step with its update", flush=True)
    ours = json.loads(Path(args.json).read_text())["results"].get("crossq", {}) if Path(args.json).exists() else {}
    for seeds, r in sorted(ours.items(), key=lambda item: int(item[0])):
        # SBX runs one seed per process: n seeds cost n times one seed
        print(f"{seeds} seed(s): Occam {r['ms_per_update']:.3f} ms per run-step, SBX {ms_per_update:.3f}: "
              f"Occam is {ms_per_update / r['ms_per_update']:.2f}x SBX's speed")
    return 0


def plan(args) -> None:
    """Part e: the env steps per run (a multiple of --eval-every) that fit --seconds, from part a's
    CrossQ time per run-step; prints the number alone."""
    per_step = args.fallback_ms
    if Path(args.json).exists():
        crossq_runs = json.loads(Path(args.json).read_text())["results"].get("crossq", {})
        if crossq_runs:
            widest = max(crossq_runs, key=int)  # the most seeds measured is closest to 5 batched seeds
            per_step = crossq_runs[widest]["ms_per_update"] * args.seeds + args.host_ms
    budget = args.seconds - args.compile_seconds - args.learning_starts * args.host_ms / 1e3
    evaluations = max(1, int(budget / (args.eval_every * per_step / 1e3)))
    print(min(evaluations * args.eval_every, args.max_steps))


def extension(env_step: int, eval_every: int, period_seconds: float, start_seconds: float, seconds: float,
              max_steps: int, grid: int) -> int:
    """The env steps per run to extend a run now at env_step to: as many more evaluation periods of
    period_seconds as fit in `seconds` once the resumed process has started (start_seconds: start-up,
    compile, restore), at most max_steps, a multiple of eval_every; rounded down to a multiple of
    `grid` (the published curves' evaluation steps) where that still extends the run. env_step when
    nothing fits."""
    periods = max(0, int((seconds - start_seconds) // period_seconds))
    reachable = max(env_step, min(env_step + periods * eval_every, max_steps // eval_every * eval_every))
    on_grid = reachable // grid * grid
    return on_grid if on_grid > env_step else reachable


def extend(args) -> None:
    """reproduce.sh: the --total-steps to extend RUN to, planned from the run's own last evaluation
    period (evals.csv's wall_seconds) and its compile (summary.json); prints the number alone."""
    run = Path(args.run)
    with open(run / "evals.csv") as file:
        walls = {int(row["env_step"]): float(row["wall_seconds"]) for row in csv.DictReader(file)}
    steps = sorted(walls)
    if len(steps) < 2:
        raise SystemExit(f"error: {run}/evals.csv holds {len(steps)} evaluation(s); the plan needs two, to time a period")
    eval_every = json.loads((run / "config.json").read_text())["run"]["eval_every"]
    compile_seconds = json.loads((run / "summary.json").read_text())["compile_seconds"]
    period = walls[steps[-1]] - walls[steps[-2]]
    print(extension(steps[-1], eval_every, period, compile_seconds + args.start_seconds, args.seconds, args.max_steps,
                    args.grid))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    for name in ("updates", "sbx"):
        p = sub.add_parser(name)
        p.add_argument("--json", required=True, help="part a's results (written by updates, read by sbx)")
        p.add_argument("--steps", type=int, default=500, help="timed updates per run")
        p.add_argument("--smoke", action="store_true", help="tiny networks for the CPU check")
    sub.choices["updates"].add_argument("--seeds", type=int, nargs="+", default=[1, 8])
    p = sub.add_parser("plan")
    p.add_argument("--json", required=True, help="part a's results")
    p.add_argument("--seconds", type=float, required=True, help="wall-clock budget of the training run")
    p.add_argument("--eval-every", type=int, default=2500)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--learning-starts", type=int, default=5000)
    p.add_argument("--host-ms", type=float, default=2.0, help="host loop's own ms per iteration (env steps, copies)")
    p.add_argument("--compile-seconds", type=float, default=60.0, help="start-up, compile and evaluations")
    p.add_argument("--max-steps", type=int, default=1_000_000, help="at most this many env steps per run")
    p.add_argument("--fallback-ms", type=float, default=25.0, help="ms per iteration without part a's figures")
    p = sub.add_parser("extend")
    p.add_argument("--run", required=True, help="the run directory to extend (config.json, evals.csv, summary.json)")
    p.add_argument("--seconds", type=float, required=True, help="wall-clock time left for the extension")
    p.add_argument("--max-steps", type=int, default=100_000, help="at most this many env steps per run")
    p.add_argument("--grid", type=int, default=10_000,
                   help="end on a multiple of this where one fits (the published curves' evaluation steps)")
    p.add_argument("--start-seconds", type=float, default=30.0,
                   help="the resumed process's start-up and checkpoint restore, on top of the run's compile")
    args = parser.parse_args()
    if args.part == "updates":
        updates(args)
    elif args.part == "sbx":
        return sbx_crossq(args)
    elif args.part == "extend":
        extend(args)
    else:
        plan(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
