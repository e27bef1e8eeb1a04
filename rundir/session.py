"""One training as it runs: the period loop over compiled runs, with the run directory's logs,
checkpoints, progress lines and signals. train.py plans and compiles; `Session.run` does the rest.

Nothing is lost: evals.csv grows after every evaluation, a checkpoint is written whole (signals wait
for it), and SIGINT / SIGTERM end the loop at the next chunk of a period (a tenth of it, see
agents.engine.loop.PeriodParts) with a stop checkpoint of the period so far (its start state and carry) and the
logs and summary written; --resume goes on from that chunk (a second signal stops at once, and --resume
then goes on from the last checkpoint).
Inside a period a progress line (env steps, steps/s, ETA, last evaluation) follows every chunk at most
every PROGRESS_SECONDS when stdout is not a terminal, and is rewritten in place when it is.
"""

from __future__ import annotations

import functools
import shutil
import signal
import sys
import time
from typing import Callable, NamedTuple

import jax
import numpy as np

from agents.common import ConfigError
from agents.engine import batching, loop
from rundir import checkpoint, output, trackers

PROGRESS_SECONDS = 30.0
"""Seconds between progress lines inside a period when stdout is not a terminal (CI, files)."""
TERMINAL_PROGRESS_SECONDS = 1.0


class Probe(NamedTuple):
    """A measure taken every --probe-every evaluations (train.py passes the spectral probe's)."""

    columns: tuple[str, ...]
    """The metrics.csv columns it fills."""
    scores: Callable
    """(batched run state, key) -> {column: [num_runs]}."""


class Session:
    """The period loop of a plan (train.Plan): runs, config, run args, rows, out directory; `probe`
    with --probe-every."""

    def __init__(self, plan, probe: Probe | None = None):
        self.plan, self.probe = plan, probe
        self.primary = jax.process_index() == 0  # under jax.distributed, process 0 writes the run directory
        self.open_checkpoints = functools.partial(checkpoint.Checkpoints, plan.out, without=plan.left_out)
        self.env_steps, self.returns, self.diverged, self.earlier_seconds = [], [], {}, 0.0
        if plan.run.resume:  # checked before compiling
            self.checkpoints = self.open_checkpoints()
            saved_runs = self.checkpoints.num_runs()
            if saved_runs is not None and saved_runs != plan.padded:
                raise ConfigError(
                    f"{plan.out}: its checkpoint holds {saved_runs} runs (its {plan.num_runs} runs padded to a "
                    f"multiple of the devices it ran on) but {plan.num_devices} device(s) here take {plan.padded}; "
                    "resume it on as many devices as it started on"
                )

    def start(self):
        """The runs' first state: fresh, or the checkpoint's when resuming (the stop checkpoint's
        period start, with its carry in self.resume_at, when there is one)."""
        plan = self.plan
        state = plan.runs.init()
        self.resume_at, self.first_step = None, 0
        if plan.run.resume:
            stopped = None
            if self.checkpoints.has_stopped():
                impl = jax.random.key_impl(state.key)
                stopped = self.checkpoints.restore_stopped(plan.runs.stop_record_shape(), plan.runs.sharded, impl)
            if stopped is not None:
                record, progress = stopped
                state, carry = plan.runs.from_stop_record(record)
                self.resume_at, self.first_step = (carry, progress["iterations_done"]), progress["env_step"]
            else:
                state, progress = self.checkpoints.restore(state, plan.runs.sharded)
                state = plan.runs.resume(state, len(progress["env_steps"]))
                self.first_step = progress["env_steps"][-1]
            self.env_steps, self.earlier_seconds = progress["env_steps"], progress["wall_seconds"]
            self.returns = [np.asarray(values, np.float64) for values in progress["returns"]]
            self.diverged = {entry["run"]: entry for entry in progress["diverged"]}
            where = "a stop checkpoint inside a period" if stopped is not None else "the checkpoint"
            print(f"resumed from {where} after {len(self.env_steps)} evaluations ({self.first_step} env steps)")
        return state

    def run(self, compile_seconds: float) -> int:
        """Trains to the end or to a signal; writes the summary; -> exit code (130 if interrupted)."""
        plan, config = self.plan, self.plan.config
        state = self.start()
        # written only once compiled: a run stopped or failing before this leaves no directory in the way
        fresh = not plan.out.exists()
        plan.out.mkdir(parents=True, exist_ok=True)
        if not plan.run.resume:
            if self.primary:
                output.write_json(plan.out / "config.json", plan.resolved)
            self.checkpoints = self.open_checkpoints()
        after_step = (self.env_steps[-1] if self.env_steps else 0) if plan.run.resume else None
        if self.primary:  # under jax.distributed, process 0 alone writes the run directory
            self.log = output.EvalLog(plan.out / "evals.csv", plan.swept, after_step)
            probed = self.probe.columns if self.probe is not None else ()
            self.metrics_log = output.MetricsLog(plan.out / "metrics.csv", plan.swept, after_step, probed)
        self.trackers = []
        self.started = time.perf_counter() - self.earlier_seconds
        self.session_start = self.last_progress = time.perf_counter()
        self.status_shown, self.stop_signal, self.stop_saved_at = False, None, None
        interrupted = False
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.open_trackers(after_step)  # W&B may refuse (not logged in): the finally removes a fresh directory
            for period in range(len(self.env_steps), config.num_evals):
                state = self.run_period(state, period)
                if self.stop_signal is not None:
                    break
            interrupted = len(self.env_steps) < config.num_evals
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if self.primary:
                self.log.close()
                self.metrics_log.close()
            for tracker in self.trackers:
                tracker.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            # stopped or crashed before any evaluation or stop checkpoint: nothing to keep
            if fresh and self.primary and not self.env_steps and self.stop_saved_at is None:
                shutil.rmtree(plan.out)
        if interrupted:
            self.clear_status()
            where = "the last checkpoint" if self.stop_saved_at is None else f"env step {self.stop_saved_at}, where it stopped"
            print(f"\ninterrupted after {len(self.env_steps)} of {config.num_evals} evaluations; "
                  f"--resume {plan.out} goes on from {where}", file=sys.stderr)
        if not self.env_steps:
            if self.stop_saved_at is not None:
                return 130
            if fresh:
                print(f"no evaluation finished; removed {plan.out}, so the same command can run again", file=sys.stderr)
            else:
                print(f"no evaluation finished; config.json and an empty evals.csv are in {plan.out}", file=sys.stderr)
            return 130
        wall_seconds = time.perf_counter() - self.started
        output.finish(plan, self.env_steps, np.stack(self.returns, axis=1), list(self.diverged.values()),
                      interrupted, compile_seconds, wall_seconds)
        return 130 if interrupted else 0

    def open_trackers(self, after_step: int | None) -> None:
        """TensorBoard and W&B, as asked; under jax.distributed process 0 alone feeds them."""
        plan = self.plan
        if not self.primary:
            return
        if plan.run.tensorboard:
            self.trackers.append(trackers.TensorBoardLog(plan.out, plan.rows, after_step))
        if plan.run.wandb:
            self.trackers.append(trackers.WandbLog(plan.run.wandb, plan.out, plan.rows, plan.resolved))

    def run_period(self, state, period: int):
        """One evaluation period: run it, log it, report divergences, checkpoint, print progress."""
        plan, config = self.plan, self.plan.config
        period_start = time.perf_counter()
        resume_at, self.resume_at = self.resume_at, None
        try:
            state, metrics = plan.runs.run_period(state, period, functools.partial(self.on_chunk, period), resume_at=resume_at)
        except loop.Stopped as stopped:
            self.save_stopped(period, stopped)
            return None
        jax.block_until_ready(metrics)
        seconds = time.perf_counter() - period_start
        probe = ""
        if self.probe is not None and (period + 1) % plan.run.probe_every == 0:
            probe_start = time.perf_counter()  # the same planes (key) at every probe
            metrics = {**metrics, **jax.block_until_ready(self.probe.scores(state, jax.random.key(0)))}
            probe = f"  probe {time.perf_counter() - probe_start:.1f} s"
        metrics = jax.tree.map(lambda m: m[: plan.num_runs], batching.to_host(metrics))
        now = time.perf_counter()
        step = (period + 1) * config.eval_every
        self.env_steps.append(step)
        self.returns.append(np.asarray(metrics["eval_return"], np.float64))  # as restored from a checkpoint
        steps_per_second = config.eval_every * plan.num_runs / seconds
        if self.primary:
            self.log.write(plan.rows, step, metrics, now - self.started)
            self.metrics_log.write(plan.rows, step, metrics, steps_per_second, now - self.started)
        for tracker in self.trackers:
            tracker.write(step, metrics, steps_per_second)
        for run_index in np.flatnonzero(metrics["diverged_at"] >= 0):
            if run_index not in self.diverged:
                self.report_divergence(int(run_index), int(metrics["diverged_at"][run_index]))
        every = plan.run.checkpoint_every
        if every and ((period + 1) % every == 0 or period + 1 == config.num_evals or self.stop_signal is not None):
            with deferred_interrupts():
                self.checkpoints.save(period + 1, state, self.progress())
                self.checkpoints.drop_stopped()
        print(
            f"[{step:>9}/{config.total_steps}] {steps_per_second:8.0f} env-steps/s (all runs)  "
            f"ETA {seconds * (config.num_evals - period - 1):5.0f} s  "
            f"eval return: {output.describe_returns(metrics['eval_return'])}{probe}",
            flush=True,
        )
        return state

    def progress(self) -> dict:
        """The host-side progress a checkpoint keeps."""
        return {
            "env_steps": self.env_steps,
            "returns": [values.tolist() for values in self.returns],
            "diverged": list(self.diverged.values()),
            "wall_seconds": time.perf_counter() - self.started,
        }

    def save_stopped(self, period: int, stopped: loop.Stopped) -> None:
        """The stop checkpoint of a period stopped inside, where the loop and the settings allow one."""
        plan = self.plan
        if stopped.carry is None or not plan.run.checkpoint_every or plan.left_out:
            return
        env_step = round((period + stopped.done / plan.runs.iterations) * plan.config.eval_every)
        progress = {**self.progress(), "iterations_done": stopped.done, "env_step": env_step}
        with deferred_interrupts():
            self.checkpoints.save_stopped(env_step, plan.runs.stop_record(stopped), progress)
        self.stop_saved_at = env_step

    def request_stop(self, signum, frame) -> None:
        """SIGINT / SIGTERM: stop at the next chunk boundary; a second one stops at once."""
        if self.stop_signal is not None:
            raise KeyboardInterrupt
        self.stop_signal = signum
        self.clear_status()
        print("stopping at the end of this chunk (signal again to stop at once)", file=sys.stderr, flush=True)

    def on_chunk(self, period: int, fraction: float) -> bool:
        """After each chunk: the progress line; -> whether to stop there."""
        self.report_progress(period, fraction)
        return self.stop_signal is not None

    def report_progress(self, period: int, fraction: float) -> None:
        """After each chunk (fraction: of the period done): a progress line, at most every
        PROGRESS_SECONDS (TERMINAL_PROGRESS_SECONDS, rewritten in place, on a terminal)."""
        now, terminal = time.perf_counter(), sys.stdout.isatty()
        if now - self.last_progress < (TERMINAL_PROGRESS_SECONDS if terminal else PROGRESS_SECONDS):
            return
        self.last_progress = now
        config, num_runs = self.plan.config, self.plan.num_runs
        step = round((period + fraction) * config.eval_every)
        rate = (step - self.first_step) / max(now - self.session_start, 1e-9)  # env steps per second per run
        last = output.describe_returns(self.returns[-1]) if self.returns else "none yet"
        line = (
            f"[{step:>9}/{config.total_steps}] {rate * num_runs:8.0f} env-steps/s (all runs)  "
            f"ETA {(config.total_steps - step) / max(rate, 1e-9):5.0f} s  last eval return: {last}"
        )
        if terminal:
            print("\r\033[K" + line, end="", flush=True)
            self.status_shown = True
        else:
            print(line, flush=True)

    def clear_status(self) -> None:
        """Removes the in-place progress line of a terminal before a line that stays."""
        if self.status_shown:
            print("\r\033[K", end="")
            self.status_shown = False

    def report_divergence(self, run_index: int, env_step: int) -> None:
        seed, values = self.plan.rows[run_index]
        self.diverged[run_index] = {"run": run_index, "seed": seed, "hyperparams": values, "env_step": env_step}
        setting = ", " + output.setting_label(values) if values else ""
        print(f"run {run_index} (seed {seed}{setting}) diverged (NaN/Inf) at env step {env_step}: frozen, others go on")


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

