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
import importlib.util
import io
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Generic, TypeVar

import tyro

from agents import AGENTS, ConfigError, Preset
from agents.common import Agent
from agents.engine.loop import RunConfig
from agents.engine.malloc import retain_freed_memory
from agents.engine.plan import RunsPlan
from rundir import compile_cache
from rundir.directory import check_disk, out_dir, read_config

RunT = TypeVar("RunT")
ConfigT = TypeVar("ConfigT")
HyperparamsT = TypeVar("HyperparamsT")


@dataclasses.dataclass(frozen=True)
class RunArgs(RunConfig):
    """What to run, how long, and where to write it."""

    seeds: int = 5
    """Number of independent runs, vmapped in one compiled program."""
    seed: int = 0
    """First seed; runs use seed, seed + 1, ..."""
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
    """Continue the run in this directory from its newest checkpoint, with the settings of its
    config.json; only --compile-cache and --total-steps (a larger multiple of --eval-every: extend the
    run to that many env steps) may be given with it."""
    tensorboard: bool = False
    """Also write TensorBoard event files of every evaluation and training metric to OUT/tensorboard/<run>."""
    wandb: str | None = None
    """Also log every evaluation and training metric to this Weights & Biases project, one W&B run per
    run, grouped by the run directory (needs the extra: pip install -e ".[wandb]"; WANDB_MODE=offline
    writes them under OUT/wandb only)."""
    probe_every: int = 0
    """Every this many evaluations, add the spectral probe's simplicity score (mean 1/c) of each run's
    critic and actor to metrics.csv (critic_simplicity, actor_simplicity; 0: never)."""
    probe_grid_size: int = 64
    """Grid points per axis of each of the probe's 4 planes per network with --probe-every (its cost grows with the square)."""
    video_every: int = 0
    """Every this many evaluations, record the first evaluation episode of run 0's deterministic policy
    to OUT/videos/run0-<env step>.mp4, and to W&B with --wandb (gym/, mjx/, brax/ and gymnax
    classic-control tasks, headless; 0: never). On a CPU a 1,000-step MuJoCo episode takes about 80 s to draw."""
    compile_cache: str = "auto"
    """Directory of jax's persistent compilation cache: a program compiled once (same settings, code,
    jax version and devices) loads from it in later runs instead of compiling again. Entries go to
    DIR/<this machine and jax build>, at most 2 GiB, least recently used first out. auto:
    $JAX_COMPILATION_CACHE_DIR if set, else ~/.cache/occam/xla (off on macOS with jaxlib < 0.10, and
    where it cannot be created); none: no cache. A DIR must be yours and not writable by others: jax
    runs what it finds there. --resume takes it too."""


@dataclasses.dataclass(frozen=True)
class OnPolicyRunArgs(RunArgs):
    """What to run, how long, and where to write it."""

    buffer_checkpoint: tyro.conf.Suppress[bool] = True
    """On-policy runs keep no replay buffer: not offered."""
    probe_every: tyro.conf.Suppress[int] = 0
    """The spectral probe reads off-policy actors and critics: not offered."""
    probe_grid_size: tyro.conf.Suppress[int] = 64
    """Not offered either."""


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
    recorded = read_config(directory)
    try:
        run = RunArgs(**recorded.run)
    except TypeError as error:
        raise ConfigError(f"{directory}: its config.json is from another version ({error})") from None
    return recorded.agent, Command(run, recorded.config, recorded.hp)


def resumed(directory: str, flags: list[str]) -> tuple[str, Command]:
    """The command of the run in `directory`, set to resume: with --compile-cache, if given, in place
    of the recorded one (where compiled programs are kept does not change the run), and with
    --total-steps, if given, extended to that many env steps."""
    cache, total = flag_value(flags, "--compile-cache"), flag_value(flags, "--total-steps")
    allowed = ("--resume", directory, f"--resume={directory}", "--compile-cache", cache, f"--compile-cache={cache}",
               "--total-steps", total, f"--total-steps={total}")
    if [flag for flag in flags if flag not in allowed]:
        raise ConfigError("--resume DIR takes no other flag but --compile-cache and --total-steps (to extend the run): "
                          "the run continues with the settings in DIR/config.json")
    name, command = read_command(directory)
    run = dataclasses.replace(command.run, resume=directory, compile_cache=cache or command.run.compile_cache)
    if total is not None:
        try:
            run = dataclasses.replace(run, total_steps=int(total))
        except ValueError:
            raise ConfigError(f"--total-steps takes an integer, got {total!r}") from None
    return name, dataclasses.replace(command, run=run)


def agent_defaults(agent: Agent, preset: str | None) -> tuple[Preset, str | None]:
    """The agent's defaults (Config, Hyperparams, run flags): the named preset, else its default
    preset, else Config() and Hyperparams(); and the preset's name."""
    preset = preset or agent.default_preset
    if preset is None:
        return Preset(agent.Config(), agent.Hyperparams(), "the dataclass defaults"), None
    if preset not in agent.presets:
        available = ", ".join(agent.presets) if agent.presets else "none"
        raise ConfigError(f"{agent.name} has no preset {preset!r}; its presets: {available}")
    return agent.presets[preset], preset


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
    agent = AGENTS[name]
    presets_given = [flag for flag in flags if flag == "--preset" or flag.startswith("--preset=")]
    if len(presets_given) > 1:
        raise ConfigError("--preset is given more than once; pick one (explicit flags override its settings)")
    defaults, preset = agent_defaults(agent, flag_value(flags, "--preset"))
    listed = "; ".join(
        f"{key}{' (default)' if key == agent.default_preset else ''}: {value.source}"
        for key, value in agent.presets.items()
    )
    usage = (
        f"{__doc__.splitlines()[0]}\n\nusage: python train.py [AGENT] [flags]; AGENT is one of "
        f"{', '.join(AGENTS)} (default {DEFAULT_AGENT}). This page: {name}, {agent.summary}"
        f"\n\n{name} presets (--preset): {listed or 'none'}"
    )
    run_args = run_args_of(agent)
    tyro_errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(tyro_errors):
            command = tyro.cli(
                Command[run_args, agent.Config, agent.Hyperparams],
                args=flags,
                prog=f"train.py {name}",
                default=Command(run_args(preset=preset, **defaults.run), defaults.config, defaults.hyperparams),
                description=usage,
                config=(tyro.conf.OmitArgPrefixes,),
            )
    except SystemExit as exit_:
        if not exit_.code:  # --help
            raise
        raise ConfigError(parse_error(tyro_errors.getvalue(), agent)) from None
    return name, command


PROBE_FLAGS = ("--probe-every", "--probe-grid-size")
"""Flags of off-policy runs only (OnPolicyRunArgs suppresses them)."""


def parse_error(report: str, agent: Agent) -> str:
    """tyro's multi-line parse error report -> one line saying what to change."""
    name = agent.name
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
        misplaced = next((token for token in unknown if token in AGENTS), None)
        if misplaced is not None:
            return f"the agent name comes before the flags: python train.py {misplaced} [flags]"
        flags = [token for token in unknown if token.startswith("-")]
        if not flags:
            return f"unexpected value {unknown[0]!r} (a switch such as --overwrite takes no value)"
        if flags[0] in PROBE_FLAGS:
            return f"{name} has no flag {flags[0]}: the spectral probe reads the critic and actor of off-policy agents"
        close = difflib.get_close_matches(flags[0], known_flags(agent), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"{name} has no flag {flags[0]}; {hint}python train.py {name} --help lists them"
    return f"{message} (python train.py {name} --help lists the flags)"


def run_args_of(agent: Agent) -> type[RunArgs]:
    """The run flags an agent's page offers."""
    return OnPolicyRunArgs if agent.loop == "on_policy" else RunArgs


def known_flags(agent: Agent) -> list[str]:
    """Every flag of an agent's page, switches with their --no- form."""
    flags = []
    for cls in (run_args_of(agent), agent.Config, agent.Hyperparams):
        for field in dataclasses.fields(cls):
            if "Suppress" in str(field.type):
                continue
            flag = "--" + field.name.replace("_", "-")
            flags += [flag, "--no-" + flag[2:]] if field.type in (bool, "bool") else [flag]
    return flags


@dataclasses.dataclass
class Plan(RunsPlan):
    """Everything decided before compiling: the runs (agents.engine.plan.RunsPlan) and where and
    how they are written; rundir.session.Session runs it."""

    run: RunArgs | None = None
    out: Path | None = None
    resolved: dict | None = None
    """config.json: the command line and every resolved setting."""
    left_out: tuple[str, ...] = ()
    """Run state fields left out of checkpoints."""


DISTRIBUTED = "OCCAM_DISTRIBUTED"
"""Set to 1 to run as one process of several (jax.distributed); see join_processes."""


def join_processes() -> None:
    """With OCCAM_DISTRIBUTED=1, joins the other processes of the run through jax.distributed: the
    coordinator address, process count and this process's id come from JAX_COORDINATOR_ADDRESS,
    JAX_NUM_PROCESSES and JAX_PROCESS_ID where set, else from the cluster (SLURM's srun, Open MPI,
    ...), as jax.distributed.initialize detects it. The runs axis then spans every process's devices.
    Processes other than 0 print nothing to stdout: process 0 prints the same lines."""
    if os.environ.get(DISTRIBUTED, "0") == "0":
        return
    import jax

    try:
        counts = {name: int(os.environ[var]) for name, var in (("num_processes", "JAX_NUM_PROCESSES"),
                                                              ("process_id", "JAX_PROCESS_ID")) if var in os.environ}
    except ValueError as error:
        raise ConfigError(f"JAX_NUM_PROCESSES and JAX_PROCESS_ID take integers ({error})") from None
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU devices need it to talk across processes
    try:
        jax.distributed.initialize(**counts)
    except (RuntimeError, ValueError) as error:
        raise ConfigError(f"{DISTRIBUTED}=1: jax.distributed.initialize failed: {str(error).splitlines()[0]}") from None
    if jax.process_index() != 0:
        sys.stdout = open(os.devnull, "w")


def plan_on_every_process(agent_name: str, command: Command, check_only: bool):
    """-> (the plan, its Session; None with check_only). Under jax.distributed the processes then
    wait for each other: none creates the run directory before every one has checked it, and all
    stop if one cannot run."""
    import jax
    import numpy as np

    error, plan, session = None, None, None
    try:
        plan = make_plan(agent_name, command)
        if not check_only:
            from rundir.session import Probe, Session

            probe = None
            if plan.run.probe_every:
                from probe import trained

                probe = Probe(trained.COLUMNS, trained.training_probe(plan.config, plan.run.probe_grid_size))
            session = Session(plan, probe)
    except ConfigError as raised:
        error = raised
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        failed = np.flatnonzero(multihost_utils.process_allgather(np.int32(error is not None)))
        if error is None and len(failed):
            if session is not None:
                session.close()
            raise ConfigError(f"process(es) {failed.tolist()} cannot run this command: see their error lines")
    if error is not None:
        raise error
    return plan, session


def main(argv: list[str] | None = None, check_only: bool = False) -> int:
    """Runs the command line; check_only validates everything up to compiling and returns 0 or 2."""
    argv = sys.argv[1:] if argv is None else argv
    retain_freed_memory()  # each jitted call of the host loop would page its buffers in afresh (agents/engine/malloc.py)
    try:
        join_processes()
        resume = flag_value(argv, "--resume")
        agent_name, command = resumed(resume, argv) if resume is not None else parse(argv)
        plan, session = plan_on_every_process(agent_name, command, check_only)
        if check_only:
            return 0
        try:
            if session.finished():
                return session.report_finished()
            run = plan.run
            preset = f" (preset {run.preset})" if run.preset else ""
            grid = f" x {len(plan.settings)} settings of {', '.join(plan.swept)}" if plan.swept else ""
            extended = f" (extended from {plan.extended_from})" if plan.extended_from else ""
            print(
                f"{agent_name}{preset} on {run.env}: {run.seeds} seeds{grid} = {plan.num_runs} runs "
                f"on {plan.num_devices} device(s) x {run.total_steps} env steps{extended} -> {plan.out}"
            )
            compile_start = time.perf_counter()
            plan.runs.compile()
            compile_seconds = time.perf_counter() - compile_start
            print(f"compiled in {compile_seconds:.1f} s")
            return session.run(compile_seconds)
        finally:
            session.close()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside the training loop, which handles its own (compiling, say)
        print("error: interrupted (a run directory is written only once the program has compiled)", file=sys.stderr)
        return 130


def make_plan(agent_name: str, command: Command) -> Plan:
    """Checks the command and plans its runs (agents.engine.plan) and its run directory; raises
    ConfigError for anything that cannot run."""
    from agents.engine import plan
    from rundir import output

    run = command.run
    compile_cache.use(run.compile_cache)  # before any compile, the checks' traces included
    check_run_flags(run)
    recorded_steps = read_config(run.resume).run["total_steps"] if run.resume else run.total_steps
    runs = plan.plan_runs(agent_name, command.config, command.hp, run,
                          refill_buffer=bool(run.resume) and not run.buffer_checkpoint,
                          extended_from=recorded_steps if recorded_steps != run.total_steps else None)
    if not run.buffer_checkpoint and runs.runs.state_shape.buffer is None:
        raise ConfigError(f"--no-buffer-checkpoint: {agent_name} has no replay buffer to leave out")
    out = Path(run.resume) if run.resume else out_dir(run.out, agent_name, run.env, run.overwrite)
    stored = runs.state_bytes(with_buffer=run.buffer_checkpoint) if run.checkpoint_every else 0
    check_disk(out, runs.num_runs, runs.config.num_evals, stored)
    resolved = {
        "command": output.command_line(),
        "agent": agent_name,
        "run": dataclasses.asdict(run),
        "config": dataclasses.asdict(command.config),
        "hyperparams": dataclasses.asdict(runs.hp),
        "seeds": list(range(run.seed, run.seed + run.seeds)),
        "sweep": runs.settings if runs.swept else None,
    }
    return Plan(**vars(runs), run=run, out=out, resolved=resolved, left_out=() if run.buffer_checkpoint else ("buffer",))


def check_run_flags(run: RunArgs) -> None:
    """The flags of the command line that the engine does not read: checkpoints, probe, videos, W&B."""
    if run.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be >= 0 (0: no checkpoints), got {run.checkpoint_every}")
    if run.probe_every < 0:
        raise ConfigError(f"--probe-every must be >= 0 (0: no probe), got {run.probe_every}")
    if run.probe_every and run.probe_grid_size < 2:
        raise ConfigError(f"--probe-grid-size must be at least 2, got {run.probe_grid_size}")
    if run.video_every < 0:
        raise ConfigError(f"--video-every must be >= 0 (0: no videos), got {run.video_every}")
    if run.video_every:
        from rundir import play

        play.headless_gl([run.env])  # before MuJoCo is first imported (by the env the plan makes)
    if run.wandb is not None:
        if not run.wandb.strip():
            raise ConfigError("--wandb takes the name of a W&B project, got an empty one")
        if importlib.util.find_spec("wandb") is None:
            raise ConfigError('--wandb needs the wandb package: pip install -e ".[wandb]" (or pip install wandb)')


if __name__ == "__main__":
    sys.exit(main())
