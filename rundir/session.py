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

import contextlib
import functools
import os
import re
import shutil
import signal
import sys
import time
from typing import Callable, NamedTuple

import jax
import numpy as np

import envs
from agents.common import ConfigError
from agents.engine import batching, loop
from rundir import checkpoint, output, play, trackers
from rundir.policy import Policy
from rundir.directory import LOCK, Lock

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
        """Takes the run directory's lock (process 0), and for --resume checks the checkpoint
        against the devices, the logs and an extension: all before compiling."""
        self.plan, self.probe = plan, probe
        self.primary = jax.process_index() == 0  # under jax.distributed, process 0 writes the run directory
        self.open_checkpoints = functools.partial(checkpoint.Checkpoints, plan.out, without=plan.left_out)
        self.env_steps, self.returns, self.diverged, self.earlier_seconds = [], [], {}, 0.0
        self.logs, self.logs_to_restore, self.recorded = {}, [], None
        # a new directory (or one holding only the lock file of a run killed while compiling) is
        # removed again if the run ends before it has written anything worth keeping
        self.fresh = not plan.run.resume and (
            not plan.out.exists() or not any(entry.name != LOCK for entry in plan.out.iterdir()))
        self.stop_saved_at = None
        self.lock = Lock(plan.out) if self.primary else None
        try:
            self.video_scene = play.video_scene(plan.config.env) if plan.run.video_every and self.primary else None
            if plan.run.resume:
                self.check_checkpoints()
        except BaseException:
            self.close()
            raise

    def check_checkpoints(self) -> None:
        """A resumed run's checkpoints against the devices here, the logs and an extension."""
        plan = self.plan
        self.checkpoints = self.open_checkpoints()
        saved_runs = self.checkpoints.num_runs()
        if saved_runs is not None and saved_runs != plan.padded:
            raise ConfigError(
                f"{plan.out}: its checkpoint holds {saved_runs} runs (its {plan.num_runs} runs padded to a "
                f"multiple of the devices it ran on) but {plan.num_devices} device(s) here take {plan.padded}; "
                "resume it on as many devices as it started on"
            )
        self.recorded = self.checkpoints.latest_progress()
        if self.recorded is not None:
            self.check_resume(self.recorded.progress, self.recorded.stopped)

    def check_resume(self, progress: dict, stopped: bool) -> None:
        """The newest checkpoint against what the resume asks: an extension starts from the end of
        an evaluation period, and the logs agree with the checkpoint (notes for what it gives back)."""
        plan = self.plan
        if stopped and plan.extended_from:
            raise ConfigError(f"{plan.out} stopped inside an evaluation period: finish its {plan.extended_from} env "
                              f"steps with --resume {plan.out} first, then extend it with --total-steps")
        if not self.primary:
            return
        for name, lines in progress.get("logs", {}).items():
            note = output.check_history(plan.out / name, lines)
            if note:
                print(f"note: {note}")
                self.logs_to_restore.append(name)

    def finished(self) -> bool:
        """Whether a resumed run has nothing left to do: its newest checkpoint ends its last period
        and reads (an unreadable one is redone from the one before)."""
        saved, plan = self.recorded, self.plan
        if saved is None or saved.stopped or len(saved.progress["env_steps"]) < plan.config.num_evals:
            return False
        return self.checkpoints.state_reads(int(saved.path.name), plan.runs.state_shape, plan.runs.sharded)

    def report_finished(self) -> int:
        """Says that the run is finished, with its final returns, without compiling; -> exit code 0."""
        plan, progress = self.plan, self.recorded.progress
        for name in self.logs_to_restore:
            with writing(name):
                output.CsvLog(plan.out / name, progress["logs"][name])
        final = output.summarize_returns(np.asarray(progress["returns"][-1], np.float64))
        print(f"{plan.out} is finished: {len(progress['env_steps'])} evaluations, {progress['env_steps'][-1]} env "
              f"steps; nothing to resume (--resume {plan.out} --total-steps N extends it to N env steps)\n"
              f"final deterministic eval return: {output.describe_stats(final)}")
        return 0

    def close(self) -> None:
        """Releases the lock; a fresh directory the run wrote nothing worth keeping into goes."""
        if self.lock is not None:
            self.lock.release()
        if self.fresh and self.primary and not self.env_steps and self.stop_saved_at is None:
            shutil.rmtree(self.plan.out, ignore_errors=True)

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
                growth = self.buffer_growth(state)
                if growth:  # extended: the checkpoint holds the shorter run's smaller buffers
                    state = plan.runs.resized(state, growth[0])
                state, progress = self.checkpoints.restore(state, plan.runs.sharded)
                if growth:
                    state = plan.runs.resized(state, growth[1])
                state = plan.runs.resume(state, len(progress["env_steps"]))
                self.first_step = progress["env_steps"][-1]
            self.env_steps, self.earlier_seconds = progress["env_steps"], progress["wall_seconds"]
            self.returns = [np.asarray(values, np.float64) for values in progress["returns"]]
            self.diverged = {entry["run"]: entry for entry in progress["diverged"]}
            self.logs = progress.get("logs", {})
            where = "a stop checkpoint inside a period" if stopped is not None else "the checkpoint"
            print(f"resumed from {where} after {len(self.env_steps)} evaluations ({self.first_step} env steps)")
        return state

    def buffer_growth(self, state) -> tuple[int, int] | None:
        """(rows of the checkpoint's replay buffers, rows of the runs') where they differ: a run
        extended past the total steps its buffers were sized by (loop.Runs.resized grows them)."""
        if state.buffer is None or "buffer" in self.plan.left_out:
            return None
        stored, rows = self.checkpoints.buffer_rows(), jax.tree.leaves(state.buffer.data)[0].shape[1]
        return (stored, rows) if stored and stored != rows else None

    def log_lines(self, name: str) -> list[str] | None:
        """What a resumed log starts from: the checkpoint's copy of it, or (a checkpoint of an older
        version, without one) the file's rows up to the checkpoint."""
        if not self.plan.run.resume:
            return None
        if name in self.logs:
            return self.logs[name]
        return output.file_lines(self.plan.out / name, self.env_steps[-1] if self.env_steps else 0)

    def open_logs(self) -> None:
        """config.json (a new run, or an extension's record), evals.csv, metrics.csv and the checkpoints."""
        plan = self.plan
        if self.primary:
            if not plan.run.resume:
                output.write_json(plan.out / "config.json", plan.resolved)
            elif plan.extended_from:
                output.record_extension(plan.out / "config.json", plan.extended_from, plan.config.total_steps)
            self.log = output.EvalLog(plan.out / "evals.csv", plan.swept, self.log_lines("evals.csv"))
            probed = self.probe.columns if self.probe is not None else ()
            self.metrics_log = output.MetricsLog(plan.out / "metrics.csv", plan.swept, self.log_lines("metrics.csv"), probed)
        if not plan.run.resume:
            self.checkpoints = self.open_checkpoints()

    def run(self, compile_seconds: float) -> int:
        """Trains to the end, to a signal or to a write that fails; writes the summary; -> exit code
        (130 if interrupted, 1 if a write failed)."""
        plan, config = self.plan, self.plan.config
        state = self.start()
        self.trackers, self.failure = [], None
        self.started = time.perf_counter() - self.earlier_seconds
        self.session_start = self.last_progress = time.perf_counter()
        self.status_shown, self.stop_signal, self.stop_saved_at = False, None, None
        interrupted = False
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with writing("the run directory's logs"):
                self.open_logs()
            after_step = (self.env_steps[-1] if self.env_steps else 0) if plan.run.resume else None
            self.open_trackers(after_step)  # W&B may refuse (not logged in): close() removes a fresh directory
            for period in range(len(self.env_steps), config.num_evals):
                state = self.run_period(state, period)
                if self.stop_signal is not None:
                    break
            interrupted = len(self.env_steps) < config.num_evals
        except KeyboardInterrupt:
            interrupted = True
        except WriteFailed as failure:
            self.failure = failure
        finally:
            for tracker in self.trackers:
                with contextlib.suppress(OSError):
                    tracker.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.failure is not None:
            return self.report_failure(compile_seconds)
        if interrupted:
            self.clear_status()
            where = "the last checkpoint" if self.stop_saved_at is None else f"env step {self.stop_saved_at}, where it stopped"
            print(f"\ninterrupted after {len(self.env_steps)} of {config.num_evals} evaluations; "
                  f"--resume {plan.out} goes on from {where}", file=sys.stderr)
        if not self.env_steps:
            if self.stop_saved_at is not None:
                return 130
            if self.fresh:
                print(f"no evaluation finished; removed {plan.out}, so the same command can run again", file=sys.stderr)
            else:
                print(f"no evaluation finished; config.json and an empty evals.csv are in {plan.out}", file=sys.stderr)
            return 130
        self.finish(interrupted, compile_seconds)
        if interrupted:
            print(f"interrupted: the logs and summary of the first {self.env_steps[-1]} env steps are in {plan.out}",
                  file=sys.stderr)
        return 130 if interrupted else 0

    def finish(self, interrupted: bool, compile_seconds: float) -> None:
        """summary.json, curves.png and training.png of the evaluations done."""
        output.finish(self.plan, self.env_steps, np.stack(self.returns, axis=1), list(self.diverged.values()),
                      interrupted, compile_seconds, time.perf_counter() - self.started)

    def report_failure(self, compile_seconds: float) -> int:
        """A write failed: the summary where it can still be written, then one error line; -> 1."""
        plan, failure = self.plan, self.failure
        self.clear_status()
        if self.env_steps and self.primary:
            with contextlib.suppress(OSError, WriteFailed):
                with writing("the summary"):
                    self.finish(True, compile_seconds)
        last = self.last_checkpoint()
        kept = f"the last complete checkpoint is {last}" if last else "no checkpoint was completed"
        again = f"run --resume {plan.out}" if last else "run the command again"
        print(f"error: writing {failure.what} in {plan.out} failed: {failure.reason}; {kept}; free space (or make "
              f"the directory writable) and {again}", file=sys.stderr)
        return 1

    def last_checkpoint(self) -> str | None:
        """The newest complete checkpoint of the run directory, described; None if there is none."""
        try:
            saved = self.checkpoints.latest_progress()
        except (AttributeError, ConfigError):  # no checkpoints opened, or none written
            return None
        if saved is None:
            return None
        step = saved.progress["env_step"] if saved.stopped else saved.progress["env_steps"][-1]
        return f"{saved.path} (env step {step})"

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
        timings = ""
        if self.probe is not None and (period + 1) % plan.run.probe_every == 0:
            probe_start = time.perf_counter()  # the same planes (key) at every probe
            metrics = {**metrics, **jax.block_until_ready(self.probe.scores(state, jax.random.key(0)))}
            timings = f"  probe {time.perf_counter() - probe_start:.1f} s"
        metrics = jax.tree.map(lambda m: m[: plan.num_runs], batching.to_host(metrics))
        now = time.perf_counter()
        step = (period + 1) * config.eval_every
        self.env_steps.append(step)
        self.returns.append(np.asarray(metrics["eval_return"], np.float64))  # as restored from a checkpoint
        steps_per_second = config.eval_every * plan.num_runs / seconds
        if self.primary:
            with writing("evals.csv"):
                self.log.write(plan.rows, step, metrics, now - self.started)
            with writing("metrics.csv"):
                self.metrics_log.write(plan.rows, step, metrics, steps_per_second, now - self.started)
        for tracker in self.trackers:
            with writing(type(tracker).__name__):
                tracker.write(step, metrics, steps_per_second)
        for run_index in np.flatnonzero(metrics["diverged_at"] >= 0):
            if run_index not in self.diverged:
                self.report_divergence(int(run_index), int(metrics["diverged_at"][run_index]))
        if self.video_scene is not None and (period + 1) % plan.run.video_every == 0:
            video_start = time.perf_counter()
            with writing("a video"):
                self.record_video(state, period)
            timings += f"  video {time.perf_counter() - video_start:.1f} s"
        every = plan.run.checkpoint_every
        if every and ((period + 1) % every == 0 or period + 1 == config.num_evals or self.stop_signal is not None):
            with writing(f"the checkpoint after {period + 1} evaluations"), deferred_interrupts():
                self.checkpoints.save(period + 1, state, self.progress())
                self.checkpoints.drop_stopped()
        print(
            f"[{step:>9}/{config.total_steps}] {steps_per_second:8.0f} env-steps/s (all runs)  "
            f"ETA {seconds * (config.num_evals - period - 1):5.0f} s  "
            f"eval return: {output.describe_returns(metrics['eval_return'])}{timings}",
            flush=True,
        )
        return state

    def record_video(self, state, period: int) -> None:
        """OUT/videos/run0-<env step>.mp4: the first evaluation episode of run 0's deterministic
        policy after `period`, as its evaluation played it (and to W&B, with --wandb)."""
        plan = self.plan
        env_step = (period + 1) * plan.config.eval_every
        path = plan.out / "videos" / f"run0-{env_step}.mp4"
        path.parent.mkdir(exist_ok=True)
        run = jax.tree.map(lambda x: x[0], state.replace(buffer=None, env_state=None))  # what acting reads
        policy = Policy(config=plan.config, hp=jax.tree.map(lambda x: x[0], plan.runs.hp), run=run,
                             spec=self.video_env.spec, deterministic=True, index=0, seed=plan.rows[0][0],
                             checkpoint=period + 1)
        video = play.Video(path, self.video_scene)
        try:
            play.play_episodes(self.video_env, policy, 1, video=video)
        finally:
            video.close()
        for tracker in self.trackers:
            if isinstance(tracker, trackers.WandbLog):
                tracker.video(path, env_step)

    @functools.cached_property
    def video_env(self):
        """The env the videos are played on (a jittable env's compiled evaluation is kept with it)."""
        return envs.make(self.plan.config.env)

    def progress(self) -> dict:
        """The host-side progress a checkpoint keeps, with a copy of the logs (process 0's)."""
        progress = {
            "env_steps": self.env_steps,
            "returns": [values.tolist() for values in self.returns],
            "diverged": list(self.diverged.values()),
            "wall_seconds": time.perf_counter() - self.started,
        }
        if self.primary:
            progress["logs"] = {"evals.csv": self.log.lines, "metrics.csv": self.metrics_log.lines}
        return progress

    def save_stopped(self, period: int, stopped: loop.Stopped) -> None:
        """The stop checkpoint of a period stopped inside, where the loop and the settings allow one."""
        plan = self.plan
        if stopped.carry is None or not plan.run.checkpoint_every or plan.left_out:
            return
        env_step = round((period + stopped.done / plan.runs.iterations) * plan.config.eval_every)
        progress = {**self.progress(), "iterations_done": stopped.done, "env_step": env_step}
        with writing(f"the stop checkpoint at env step {env_step}"), deferred_interrupts():
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



class WriteFailed(Exception):
    """A write into the run directory failed: a full disk, a read-only or vanished directory, a quota."""

    def __init__(self, what: str, error: BaseException):
        super().__init__(what)
        self.what = what
        code = getattr(error, "errno", None) or os_error_code(str(error))
        self.reason = os.strerror(code) if code else str(error).splitlines()[0]


def os_error_code(message: str) -> int | None:
    """The OS error code in the message of a failed orbax (tensorstore) write, which raises ValueError."""
    match = re.search(r"os_error_code='?(\d+)", message)
    return int(match[1]) if match else None


@contextlib.contextmanager
def writing(what: str):
    """Turns a failed write into WriteFailed(what): OSError, and orbax's ValueError with an OS error code."""
    try:
        yield
    except OSError as error:
        raise WriteFailed(what, error) from error
    except ValueError as error:
        if os_error_code(str(error)) is None:
            raise
        raise WriteFailed(what, error) from error
