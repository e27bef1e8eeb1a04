"""Occam's single command: CLI -> config -> fused, seed-vmapped training -> run directory.

    python train.py                                     # the default: CrossQ on gymnax/Pendulum-v1
    python train.py sac --env brax/hopper --seeds 4 --total-steps 100000 --out runs/hopper
    python train.py sac --help                          # every knob, documented

Writes OUT/config.json, OUT/evals.csv (grown after every evaluation), OUT/summary.json and
OUT/curves.png; see DESIGN.md for their contents.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

import tyro

from agents import AGENTS, ConfigError

ConfigT = TypeVar("ConfigT")
HyperparamsT = TypeVar("HyperparamsT")


@dataclasses.dataclass(frozen=True)
class RunArgs:
    """What to run, how long, and where to write it."""

    env: str = "gymnax/Pendulum-v1"
    """Environment id, e.g. gymnax/Pendulum-v1 or brax/hopper (a wrong id lists them all)."""
    seeds: int = 5
    """Number of independent runs, vmapped in one compiled program."""
    seed: int = 0
    """First seed; runs use seed, seed + 1, ..."""
    total_steps: int = 10_000
    """Env steps per run (a multiple of --eval-every)."""
    eval_every: int = 1_000
    """Env steps between deterministic evaluations (a multiple of --num-envs)."""
    eval_episodes: int = 5
    """Full episodes per evaluation, on separate envs with fixed keys."""
    num_envs: int = 1
    """Parallel envs per run; the update-to-data ratio --utd is kept per env step."""
    out: str | None = None
    """Run directory (default: runs/<agent>-<env>-<timestamp>)."""
    overwrite: bool = False
    """Allow writing into an existing, non-empty run directory."""
    preset: str | None = None
    """Named agent configuration (crossq: paper, cpu; default cpu); explicit flags override it."""


@dataclasses.dataclass(frozen=True)
class Command(Generic[ConfigT, HyperparamsT]):
    run: RunArgs
    config: ConfigT
    hp: HyperparamsT


DEFAULT_AGENT = "crossq"


def preset_name(flags: list[str]) -> str | None:
    """The value of --preset, read before parsing because it sets the defaults of the other flags."""
    for index, flag in enumerate(flags):
        if flag == "--preset" and index + 1 < len(flags):
            return flags[index + 1]
        if flag.startswith("--preset="):
            return flag.split("=", 1)[1]
    return None


def agent_defaults(name: str, module, preset: str | None):
    """The agent's Config defaults: the named preset, else its default preset, else Config()."""
    presets = getattr(module, "PRESETS", {})
    preset = preset or getattr(module, "DEFAULT_PRESET", None)
    if preset is None:
        return module.Config(), None
    if preset not in presets:
        available = ", ".join(presets) if presets else "none"
        raise ConfigError(f"{name} has no preset {preset!r}; its presets: {available}")
    return presets[preset], preset


def parse(argv: list[str]) -> tuple[str, Command]:
    """`[AGENT] [flags]` -> (agent name, parsed command); AGENT defaults to DEFAULT_AGENT."""
    name = argv[0] if argv and argv[0] in AGENTS else DEFAULT_AGENT
    flags = argv[1:] if argv and argv[0] in AGENTS else argv
    module = AGENTS[name]
    config, preset = agent_defaults(name, module, preset_name(flags))
    usage = (
        f"{__doc__.splitlines()[0]}\n\nusage: python train.py [AGENT] [flags]; AGENT is one of "
        f"{', '.join(AGENTS)} (default {DEFAULT_AGENT}). This page: {name}, {module.__doc__.splitlines()[0]}"
    )
    command = tyro.cli(
        Command[module.Config, module.Hyperparams],
        args=flags,
        prog=f"train.py {name}",
        default=Command(RunArgs(preset=preset), config, module.Hyperparams()),
        description=usage,
        config=(tyro.conf.OmitArgPrefixes,),
    )
    return name, command


def prepare_out_dir(run: RunArgs, agent: str) -> Path:
    if run.out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{agent}-{run.env.replace('/', '_')}-{stamp}"
    else:
        out = Path(run.out)
    if out.exists() and any(out.iterdir()) and not run.overwrite:
        raise ConfigError(f"--out {out} exists and is not empty; choose another --out or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        agent_name, command = parse(argv)
        return run_training(agent_name, command)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_training(agent_name: str, command: Command) -> int:
    import envs

    run = command.run
    if run.seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {run.seeds}")
    from agents.off_policy import TrainConfig, make_loop

    config = TrainConfig(
        agent=agent_name,
        agent_config=command.config,
        env=run.env,
        total_steps=run.total_steps,
        eval_every=run.eval_every,
        eval_episodes=run.eval_episodes,
        num_envs=run.num_envs,
    )
    try:
        loop = make_loop(config)
    except envs.UnknownEnvError as error:
        raise ConfigError(str(error)) from None
    except ValueError as error:
        raise ConfigError(str(error)) from None
    out = prepare_out_dir(run, agent_name)
    return execute(loop, config, command, out)


def execute(loop, config, command: Command, out: Path) -> int:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from agents.off_policy import broadcast, seed_keys, vmap_runs
    from rundir import output

    run = command.run
    seeds = list(range(run.seed, run.seed + run.seeds))
    resolved = {
        "command": output.command_line(),
        "agent": config.agent,
        "run": dataclasses.asdict(run),
        "config": dataclasses.asdict(command.config),
        "hyperparams": dataclasses.asdict(command.hp),
        "seeds": seeds,
    }
    output.write_json(out / "config.json", resolved)

    hp = broadcast(command.hp, run.seeds)
    keys = seed_keys(run.seed, run.seeds)
    preset = f" (preset {run.preset})" if run.preset else ""
    print(f"{config.agent}{preset} on {config.env}: {run.seeds} seeds x {config.total_steps} env steps -> {out}")

    compile_start = time.perf_counter()
    init = jax.jit(vmap_runs(loop.init, run.seeds)).lower(hp, keys).compile()
    state_shape = jax.eval_shape(vmap_runs(loop.init, run.seeds), hp, keys)
    period_index = jnp.zeros((), jnp.int32)
    run_period = (
        jax.jit(vmap_runs(loop.run_period, run.seeds, in_axes=(0, 0, None)), donate_argnums=0)
        .lower(state_shape, hp, period_index)
        .compile()
    )
    compile_seconds = time.perf_counter() - compile_start
    print(f"compiled in {compile_seconds:.1f} s")

    log = output.EvalLog(out / "evals.csv")
    start = time.perf_counter()
    state = init(hp, keys)
    env_steps, returns = [], []
    period_end = start
    for period in range(config.num_evals):
        state, metrics = run_period(state, hp, jnp.int32(period))
        metrics = jax.tree.map(np.asarray, metrics)
        period_seconds, period_end = time.perf_counter() - period_end, time.perf_counter()
        step = (period + 1) * config.eval_every
        env_steps.append(step)
        returns.append(metrics["eval_return"])
        log.write(seeds, step, metrics, period_end - start)
        rate = config.eval_every * run.seeds / period_seconds
        eta = period_seconds * (config.num_evals - period - 1)
        per_seed = " ".join(f"{r:8.1f}" for r in metrics["eval_return"])
        print(
            f"[{step:>9}/{config.total_steps}] {rate:8.0f} env-steps/s (all runs)  ETA {eta:5.0f} s  "
            f"eval return per seed: {per_seed}",
            flush=True,
        )
    log.close()
    wall_seconds = time.perf_counter() - start

    returns = np.stack(returns, axis=1)
    final = output.summarize_returns(returns[:, -1])
    device = jax.devices()[0]
    summary = {
        "final_eval_return": final,
        "steps_per_second": config.total_steps * run.seeds / wall_seconds,
        "steps_per_second_per_run": config.total_steps / wall_seconds,
        "compile_seconds": compile_seconds,
        "wall_seconds": wall_seconds,
        "num_runs": run.seeds,
        "versions": output.versions(),
        "device": f"{device.platform}: {device.device_kind}",
        "command": resolved["command"],
    }
    output.write_json(out / "summary.json", summary)
    output.plot_curves(
        out / "curves.png", np.asarray(env_steps), returns, f"{config.agent} on {config.env}\n{resolved['command']}"
    )
    print(f"\nfinal deterministic eval return over {run.seeds} runs ({config.total_steps} env steps):")
    for seed, value in zip(seeds, final["per_run"]):
        print(f"  seed {seed:<4} {value:10.1f}")
    low, high = final["iqm_ci95"]
    print(f"  mean {final['mean']:.1f} +- {final['std']:.1f}   IQM {final['iqm']:.1f} (95% CI {low:.1f} .. {high:.1f})")
    print(
        f"compile {compile_seconds:.1f} s, run {wall_seconds:.1f} s, "
        f"{summary['steps_per_second']:.0f} env-steps/s over all runs; wrote {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
