"""Occam's single command: CLI -> config -> seed-vmapped training (fused, or host-stepped for gym/ ids) -> run directory.

    python train.py                                     # the default: CrossQ on gymnax/Pendulum-v1
    python train.py sac --env brax/hopper --seeds 4 --total-steps 100000 --out runs/hopper
    python train.py ppo --preset acrobot                # PPO, with PureJaxRL's / rejax's settings
    python train.py sac --help                          # every knob, documented

Writes OUT/config.json, OUT/evals.csv (grown after every evaluation), OUT/summary.json and
OUT/curves.png; see docs/architecture.md for their contents.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import io
import json
import re
import shutil
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Generic, TypeVar

import tyro

from agents import AGENTS, ConfigError, Preset, ranges
from agents.common import resolve_gamma

RunT = TypeVar("RunT")
ConfigT = TypeVar("ConfigT")
HyperparamsT = TypeVar("HyperparamsT")


@dataclasses.dataclass(frozen=True)
class RunArgs:
    """What to run, how long, and where to write it."""

    env: str = "gymnax/Pendulum-v1"
    """Environment id, e.g. gymnax/Pendulum-v1, brax/hopper or gym/HalfCheetah-v4 (host-stepped MuJoCo);
    a wrong id lists them all."""
    seeds: int = 5
    """Number of independent runs, vmapped in one compiled program."""
    seed: int = 0
    """First seed; runs use seed, seed + 1, ..."""
    total_steps: int = 10_000
    """Env steps per run (a multiple of --eval-every)."""
    eval_every: int = 1_000
    """Env steps between deterministic evaluations (a multiple of --num-envs; ppo: of --num-envs x --num-steps)."""
    eval_episodes: int = 5
    """Full episodes per evaluation, on separate envs with fixed keys."""
    num_envs: int = 1
    """Parallel envs per run (off-policy: --utd is kept per env step; ppo: the envs of a rollout)."""
    out: str | None = None
    """Run directory (default: runs/<agent>-<env>-<timestamp>)."""
    overwrite: bool = False
    """Allow writing into an existing, non-empty run directory."""
    preset: str | None = None
    """Named agent settings (listed with their sources at the top of this page); explicit flags override them."""
    sweep: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Sweep a hyperparameter, repeatable: NAME=V1,V2 (grid) or NAME=log:LOW:HIGH (with --sweep-random)."""
    sweep_random: int = 0
    """Random search: draw this many settings from the --sweep values and ranges instead of a grid."""
    checkpoint_every: int = 1
    """Evaluations between checkpoints of the whole run state in OUT/checkpoints (0: none)."""
    buffer_checkpoint: bool = True
    """Include the replay buffer in checkpoints. Without it they are far smaller, but a resumed run
    refills its buffer before it updates again and no longer reproduces the uninterrupted run."""
    resume: str | None = None
    """Continue the run in this directory from its newest checkpoint; pass no other flag (the rest
    is read from its config.json)."""


@dataclasses.dataclass(frozen=True)
class OnPolicyRunArgs(RunArgs):
    """What to run, how long, and where to write it."""

    buffer_checkpoint: tyro.conf.Suppress[bool] = True
    """On-policy runs keep no replay buffer: not offered."""


@dataclasses.dataclass(frozen=True)
class Command(Generic[RunT, ConfigT, HyperparamsT]):
    # the names title the groups of --help
    run: Annotated[RunT, tyro.conf.arg(name="run")]
    config: Annotated[ConfigT, tyro.conf.arg(name="agent (static settings: changing one recompiles)")]
    hp: Annotated[HyperparamsT, tyro.conf.arg(name="hyperparameters (arrays: --sweep takes them)")]


DEFAULT_AGENT = "crossq"


def flag_value(flags: list[str], name: str) -> str | None:
    """The value of flag `name` (e.g. --preset), read before parsing: --preset sets the defaults of
    the other flags and --resume replaces them."""
    for index, flag in enumerate(flags):
        if flag == name and index + 1 < len(flags):
            return flags[index + 1]
        if flag.startswith(name + "="):
            return flag.split("=", 1)[1]
    return None


def read_command(directory: str) -> tuple[str, Command]:
    """(agent name, command) of the run in `directory`, read back from its config.json."""
    path = Path(directory) / "config.json"
    try:
        saved = json.loads(path.read_text())
        name = saved["agent"]
        module = AGENTS[name]
        run = dict(saved["run"], sweep=tuple(saved["run"]["sweep"]))
        command = Command(RunArgs(**run), module.Config(**saved["config"]), module.Hyperparams(**saved["hyperparams"]))
    except FileNotFoundError:
        raise ConfigError(f"{directory}: no config.json there; is it a run directory of train.py?") from None
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{directory}: {path} is unreadable or from another version ({error!r})") from None
    return name, command


def resumed(directory: str, flags: list[str]) -> tuple[str, Command]:
    """The command of the run in `directory`, set to resume."""
    if [flag for flag in flags if flag not in ("--resume", directory, f"--resume={directory}")]:
        raise ConfigError("--resume DIR takes no other flag: the run continues with the settings in DIR/config.json")
    name, command = read_command(directory)
    return name, dataclasses.replace(command, run=dataclasses.replace(command.run, resume=directory))


def agent_defaults(name: str, module, preset: str | None) -> tuple[Preset, str | None]:
    """The agent's defaults (Config, Hyperparams, run flags): the named preset, else its default
    preset, else Config() and Hyperparams(); and the preset's name."""
    presets = getattr(module, "PRESETS", {})
    preset = preset or getattr(module, "DEFAULT_PRESET", None)
    if preset is None:
        return Preset(module.Config(), module.Hyperparams(), "the dataclass defaults"), None
    if preset not in presets:
        available = ", ".join(presets) if presets else "none"
        raise ConfigError(f"{name} has no preset {preset!r}; its presets: {available}")
    return presets[preset], preset


def parse(argv: list[str]) -> tuple[str, Command]:
    """`[AGENT] [flags]` -> (agent name, parsed command); AGENT defaults to DEFAULT_AGENT."""
    if argv and not argv[0].startswith("-"):
        if argv[0] not in AGENTS:
            close = difflib.get_close_matches(argv[0], list(AGENTS), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(f"unknown agent {argv[0]!r}; {hint}agents: {', '.join(AGENTS)}")
        name, flags = argv[0], argv[1:]
    else:
        name, flags = DEFAULT_AGENT, argv
    module = AGENTS[name]
    presets_given = [flag for flag in flags if flag == "--preset" or flag.startswith("--preset=")]
    if len(presets_given) > 1:
        raise ConfigError("--preset is given more than once; pick one (explicit flags override its settings)")
    defaults, preset = agent_defaults(name, module, flag_value(flags, "--preset"))
    presets = getattr(module, "PRESETS", {})
    listed = "; ".join(
        f"{key}{' (default)' if key == getattr(module, 'DEFAULT_PRESET', None) else ''}: {value.source}"
        for key, value in presets.items()
    )
    usage = (
        f"{__doc__.splitlines()[0]}\n\nusage: python train.py [AGENT] [flags]; AGENT is one of "
        f"{', '.join(AGENTS)} (default {DEFAULT_AGENT}). This page: {name}, {module.__doc__.splitlines()[0]}"
        f"\n\n{name} presets (--preset): {listed or 'none'}"
    )
    run_args = run_args_of(module)
    tyro_errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(tyro_errors):
            command = tyro.cli(
                Command[run_args, module.Config, module.Hyperparams],
                args=flags,
                prog=f"train.py {name}",
                default=Command(run_args(preset=preset, **defaults.run), defaults.config, defaults.hyperparams),
                description=usage,
                config=(tyro.conf.OmitArgPrefixes,),
            )
    except SystemExit as exit_:
        if not exit_.code:  # --help
            raise
        raise ConfigError(parse_error(tyro_errors.getvalue(), name, module)) from None
    return name, command


def parse_error(report: str, name: str, module) -> str:
    """tyro's multi-line parse error report -> one line saying what to change."""
    lines = [line.strip("│ ") for line in report.splitlines() if line.strip("-─│╭╮╰╯ ")]
    message = lines[1] if len(lines) > 1 else "could not parse the flags"
    if match := re.match(r"Error parsing (--[\w-]+): invalid literal for int\(\) with base 10: '(.*)'", message):
        flag, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            return f"{flag} takes an integer, got {value!r}"
        if number.is_integer():
            return f"{flag} takes an integer: {int(number)}"
        return f"{flag} takes an integer, got {value}"
    if match := re.match(r"Error parsing (--[\w-]+): could not convert string to float: '(.*)'", message):
        return f"{match[1]} takes a number, got {match[2]!r}"
    if match := re.match(r"Unrecognized options: (.*)", message):
        unknown = match[1].split(", ")
        agent = next((token for token in unknown if token in AGENTS), None)
        if agent is not None:
            return f"the agent name comes before the flags: python train.py {agent} [flags]"
        flags = [token for token in unknown if token.startswith("-")]
        if not flags:
            return f"unexpected value {unknown[0]!r} (a switch such as --overwrite takes no value)"
        close = difflib.get_close_matches(flags[0], known_flags(module), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"{name} has no flag {flags[0]}; {hint}python train.py {name} --help lists them"
    return f"{message} (python train.py {name} --help lists the flags)"


def run_args_of(module) -> type[RunArgs]:
    """The run flags an agent's page offers."""
    return OnPolicyRunArgs if getattr(module, "LOOP", "off_policy") == "on_policy" else RunArgs


def known_flags(module) -> list[str]:
    """Every flag of an agent's page, switches with their --no- form."""
    flags = []
    for cls in (run_args_of(module), module.Config, module.Hyperparams):
        for field in dataclasses.fields(cls):
            if "Suppress" in str(field.type):
                continue
            flag = "--" + field.name.replace("_", "-")
            flags += [flag, "--no-" + flag[2:]] if field.type in (bool, "bool") else [flag]
    return flags


def out_dir(run: RunArgs, agent: str) -> Path:
    """The run directory to write; refuses a non-empty one unless --overwrite."""
    if run.out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{agent}-{run.env.replace('/', '_')}-{stamp}"
    else:
        out = Path(run.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not run.overwrite:
        resume = f", or continue its run with --resume {out}" if (out / "checkpoints").is_dir() else ""
        raise ConfigError(f"--out {out} exists and is not empty; choose another --out or pass --overwrite{resume}")
    return out


def check_disk(out: Path, num_runs: int, config, checkpoint_bytes: int = 0) -> None:
    """Fails before training when the disk cannot hold the logs and checkpoints the run will write
    (checkpoint_bytes: one checkpoint; two are kept and a third is written before the oldest goes)."""
    rows = num_runs * config.num_evals
    needed = 200 * rows + 2_000_000 + 3 * checkpoint_bytes  # evals.csv, JSON files, curves.png, checkpoints
    existing = next(parent for parent in (out, *out.parents) if parent.exists())
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise ConfigError(
            f"{existing} has {free / 2**20:.1f} MiB free but the run writes about {needed / 2**20:.1f} MiB; "
            "free some space, choose another --out, or shrink checkpoints (--no-buffer-checkpoint, --checkpoint-every 0)"
        )


def main(argv: list[str] | None = None, check_only: bool = False) -> int:
    """Runs the command line; check_only validates everything up to compiling and returns 0 or 2."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        resume = flag_value(argv, "--resume")
        agent_name, command = resumed(resume, argv) if resume is not None else parse(argv)
        return run_training(agent_name, command, check_only)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside the training loop, which handles its own (compiling, say)
        print("error: interrupted (a run directory is written only once the program has compiled)", file=sys.stderr)
        return 130


def run_training(agent_name: str, command: Command, check_only: bool = False) -> int:
    run = command.run
    if run.seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {run.seeds}")
    if not -(2**31) <= run.seed <= 2**31 - run.seeds:
        raise ConfigError(
            f"--seed {run.seed} with --seeds {run.seeds} uses seeds {run.seed} .. {run.seed + run.seeds - 1}; "
            f"seeds are 32-bit: --seed must lie in {-(2**31)} .. {2**31 - run.seeds}"
        )
    import envs

    on_policy = getattr(AGENTS[agent_name], "LOOP", "off_policy") == "on_policy"
    if on_policy:
        from agents.on_policy import OnPolicyConfig as LoopConfig
        from agents.on_policy import make_loop
    else:
        from agents.off_policy import TrainConfig as LoopConfig
        from agents.off_policy import make_loop

    config = LoopConfig(
        agent=agent_name,
        agent_config=command.config,
        env=run.env,
        total_steps=run.total_steps,
        eval_every=run.eval_every,
        eval_episodes=run.eval_episodes,
        num_envs=run.num_envs,
    )
    try:
        if envs.is_host_stepped(config.env):
            if on_policy:
                raise ConfigError(f"{agent_name} runs on jittable envs only; {config.env} is stepped on the host")
            from agents.host_loop import make_host_loop as make_loop
        loop = make_loop(config)
    except ValueError as error:  # unknown env ids and bad network specs included
        raise ConfigError(str(error)) from None
    if getattr(command.hp, "gamma", None) == "auto":  # resolved here so that config.json records the number
        max_steps = envs.make(config.env).spec.max_episode_steps
        command = dataclasses.replace(command, hp=resolve_gamma(command.hp, max_steps))
    return execute(loop, config, command, check_only)


def execute(loop, config, command: Command, check_only: bool = False) -> int:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from agents import batching, sweep
    from rundir import checkpoint, output

    run = command.run
    seeds = list(range(run.seed, run.seed + run.seeds))
    static = [f.name for f in dataclasses.fields(command.config)] + [f.name for f in dataclasses.fields(RunArgs)]
    settings = sweep.settings(run.sweep, type(command.hp), static, run.sweep_random, run.seed)
    swept = list(settings[0])
    for field in dataclasses.fields(command.hp):
        if field.name not in swept:
            ranges.check(field.name, getattr(command.hp, field.name), "--" + field.name.replace("_", "-"))
    runs = [(index, seed) for index in range(len(settings)) for seed in seeds]
    num_runs = len(runs)
    hp_values = {
        field.name: np.asarray(
            [settings[index].get(field.name, getattr(command.hp, field.name)) for index, _ in runs], np.float32
        )
        for field in dataclasses.fields(command.hp)
    }

    resolved = {
        "command": output.command_line(),
        "agent": config.agent,
        "run": dataclasses.asdict(run),
        "config": dataclasses.asdict(command.config),
        "hyperparams": dataclasses.asdict(command.hp),
        "seeds": seeds,
        "sweep": settings if swept else None,
    }

    mesh = batching.runs_mesh()
    padded = batching.padded_runs(num_runs, mesh.size)
    hp = batching.pad_runs(command.hp.replace(**{k: jnp.asarray(v) for k, v in hp_values.items()}), padded)
    run_seeds = [seed for _, seed in runs]
    keys = batching.pad_runs(batching.keys_for(run_seeds), padded)
    batched = loop.on_runs(hp, keys, run_seeds + run_seeds[-1:] * (padded - num_runs), mesh)
    state_shape = batched.state_shape
    check_memory(state_shape, padded, mesh.size, config)
    if not run.buffer_checkpoint and not hasattr(state_shape, "buffer"):
        raise ConfigError(f"--no-buffer-checkpoint: {config.agent} has no replay buffer to leave out")
    if run.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be >= 0 (0: no checkpoints), got {run.checkpoint_every}")
    out = Path(run.resume) if run.resume else out_dir(run, config.agent)
    stored = batching.tree_bytes(state_shape) - (0 if run.buffer_checkpoint else batching.tree_bytes(state_shape.buffer))
    check_disk(out, num_runs, config, stored if run.checkpoint_every else 0)
    if check_only:
        return 0
    left_out = () if run.buffer_checkpoint else ("buffer",)
    open_checkpoints = functools.partial(checkpoint.Checkpoints, out, without=left_out)
    if run.resume:
        checkpoints = open_checkpoints()
        saved_runs = checkpoints.num_runs()
        if saved_runs is not None and saved_runs != padded:
            raise ConfigError(
                f"{out}: its checkpoint holds {saved_runs} runs (its {num_runs} runs padded to a multiple of the "
                f"devices it ran on) but {mesh.size} device(s) here take {padded}; resume it on as many devices "
                "as it started on"
            )

    preset = f" (preset {run.preset})" if run.preset else ""
    grid = f" x {len(settings)} settings of {', '.join(swept)}" if swept else ""
    print(
        f"{config.agent}{preset} on {config.env}: {run.seeds} seeds{grid} = {num_runs} runs "
        f"on {mesh.size} device(s) x {config.total_steps} env steps -> {out}"
    )

    compile_start = time.perf_counter()
    batched.compile()
    compile_seconds = time.perf_counter() - compile_start
    print(f"compiled in {compile_seconds:.1f} s")

    run_rows = [(seed, {name: settings[index][name] for name in swept}) for index, seed in runs]
    state = batched.init()
    env_steps, returns, diverged, earlier_seconds = [], [], {}, 0.0
    if run.resume:
        state, progress = checkpoints.restore(state, batching.run_sharding(mesh))
        state = batched.resume(state, len(progress["env_steps"]))
        env_steps, earlier_seconds = progress["env_steps"], progress["wall_seconds"]
        returns = [np.asarray(values, np.float64) for values in progress["returns"]]
        diverged = {entry["run"]: entry for entry in progress["diverged"]}
        print(f"resumed from the checkpoint after {len(env_steps)} evaluations ({env_steps[-1]} env steps)")
    # written only once compiled: a run stopped or failing before this leaves no directory in the way
    fresh = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if not run.resume:
        output.write_json(out / "config.json", resolved)
        checkpoints = open_checkpoints()
    log = output.EvalLog(out / "evals.csv", swept, after_step=env_steps[-1] if run.resume else None)
    start = time.perf_counter() - earlier_seconds
    period_end = time.perf_counter()
    interrupted = False
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        for period in range(len(env_steps), config.num_evals):
            state, metrics = batched.run_period(state, period)
            metrics = jax.tree.map(lambda m: m[:num_runs], batching.to_host(metrics))
            period_seconds, period_end = time.perf_counter() - period_end, time.perf_counter()
            step = (period + 1) * config.eval_every
            env_steps.append(step)
            returns.append(metrics["eval_return"])
            log.write(run_rows, step, metrics, period_end - start)
            for run_index in np.flatnonzero(metrics["diverged_at"] >= 0):
                if run_index not in diverged:
                    seed, values = run_rows[run_index]
                    diverged[run_index] = {"run": int(run_index), "seed": seed, "hyperparams": values,
                                           "env_step": int(metrics["diverged_at"][run_index])}
                    print(f"run {run_index} (seed {seed}{', ' + output.setting_label(values) if values else ''}) "
                          f"diverged (NaN/Inf) at env step {diverged[run_index]['env_step']}: frozen, others go on")
            if run.checkpoint_every and ((period + 1) % run.checkpoint_every == 0 or period + 1 == config.num_evals):
                progress = {
                    "env_steps": env_steps,
                    "returns": [values.tolist() for values in returns],
                    "diverged": list(diverged.values()),
                    "wall_seconds": period_end - start,
                }
                with deferred_interrupts():
                    checkpoints.save(period + 1, state, progress)
            rate = config.eval_every * num_runs / period_seconds
            eta = period_seconds * (config.num_evals - period - 1)
            print(
                f"[{step:>9}/{config.total_steps}] {rate:8.0f} env-steps/s (all runs)  ETA {eta:5.0f} s  "
                f"eval return: {output.describe_returns(metrics['eval_return'])}",
                flush=True,
            )
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted after {len(env_steps)} of {config.num_evals} evaluations", file=sys.stderr)
    finally:
        log.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if fresh and not env_steps:  # stopped or crashed before any evaluation: nothing to keep
            shutil.rmtree(out)
    wall_seconds = time.perf_counter() - start
    if not env_steps:
        if fresh:
            print(f"no evaluation finished; removed {out}, so the same command can run again", file=sys.stderr)
        else:
            print(f"no evaluation finished; config.json and an empty evals.csv are in {out}", file=sys.stderr)
        return 130

    returns = np.stack(returns, axis=1)
    groups = [
        (output.setting_label(setting), [i for i, (index, _) in enumerate(runs) if index == setting_index])
        for setting_index, setting in enumerate(settings)
    ]
    final = output.summarize_returns(returns[:, -1])
    device = jax.devices()[0]
    done_steps = env_steps[-1]
    summary = {
        "final_eval_return": final,
        "env_steps": done_steps,
        "interrupted": interrupted,
        "resumed": bool(run.resume),
        "diverged": list(diverged.values()),
        "steps_per_second": done_steps * num_runs / wall_seconds,
        "steps_per_second_per_run": done_steps / wall_seconds,
        "compile_seconds": compile_seconds,
        "wall_seconds": wall_seconds,
        "num_runs": num_runs,
        "num_devices": mesh.size,
        "versions": output.versions(),
        "device": f"{device.platform}: {device.device_kind}",
        "command": resolved["command"],
    }
    if swept:
        summary["settings"] = output.rank_settings(settings, groups, returns[:, -1])
    output.write_json(out / "summary.json", summary)
    output.plot_curves(
        out / "curves.png",
        np.asarray(env_steps),
        returns,
        f"{config.agent} on {config.env}\n{resolved['command']}",
        groups if swept else None,
    )
    print(f"\nfinal deterministic eval return ({done_steps} env steps; diverged runs excluded):")
    if swept:
        for entry in summary["settings"]:
            label = output.setting_label(entry["hyperparams"])
            print(f"  #{entry['rank']:<3} {label:40s} {output.describe_stats(entry['final_eval_return'])}")
    else:
        for seed, value in zip(seeds, final["per_run"]):
            print(f"  seed {seed:<4} {'diverged' if value is None else f'{value:10.1f}'}")
    print(f"  all {num_runs} runs: {output.describe_stats(final)}")
    print(
        f"compile {compile_seconds:.1f} s, run {wall_seconds:.1f} s, "
        f"{summary['steps_per_second']:.0f} env-steps/s over all runs; wrote {out}"
    )
    if interrupted:
        print(f"interrupted: the logs and summary of the first {done_steps} env steps are in {out}", file=sys.stderr)
        return 130
    return 0


class deferred_interrupts:
    """Holds SIGINT and SIGTERM until the block ends (a checkpoint is written whole), then raises."""

    def __enter__(self):
        self.received = None
        self.previous = {sig: signal.signal(sig, self.hold) for sig in (signal.SIGINT, signal.SIGTERM)}

    def hold(self, signum, frame):
        self.received = signum

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        if self.received is not None and exc[0] is None:
            raise KeyboardInterrupt


def raise_interrupt(signum, frame):
    """SIGTERM ends a run like Ctrl-C: the logs gathered so far are written."""
    raise KeyboardInterrupt


def check_memory(state_shape, num_runs: int, num_devices: int, config) -> None:
    """Stops before compiling when the runs' states (buffers, networks, optimizers) cannot fit."""
    from agents import batching

    per_run = batching.tree_bytes(state_shape) / num_runs
    replay = getattr(state_shape, "buffer", None)  # on-policy runs keep no replay buffer
    runs_per_device = num_runs // num_devices
    needed = per_run * runs_per_device
    available = batching.device_memory_bytes()
    if available is not None and needed > 0.9 * available:
        if replay is None:
            parts, shrink = "", "or shrink the networks or --num-envs"
        else:
            parts = f", of which the replay buffer is {batching.tree_bytes(replay) / num_runs / 2**20:.0f} MiB"
            shrink = f"or shrink the buffer (--buffer-size, now {config.buffer_capacity} transitions)"
        raise ConfigError(
            f"the runs need about {needed / 2**30:.2f} GiB per device ({runs_per_device} runs x "
            f"{per_run / 2**20:.0f} MiB{parts}) but a device has {available / 2**30:.2f} GiB free; "
            f"run fewer runs at once (--seeds, --sweep) {shrink}"
        )


if __name__ == "__main__":
    sys.exit(main())
