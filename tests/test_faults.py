"""Nothing lost under faults, tested on run directories written by train.py: one writer per run
directory, a failed write said in one line, logs that agree with their checkpoint, a finished run
resumed without compiling, runs extended bit for bit, and kill -9 at any moment survived."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import train
from rundir import checkpoint, output
from rundir.directory import LOCK, Lock

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["sac", "--seeds", "2", "--eval-every", "100", "--eval-episodes", "1", "--learning-starts", "50",
         "--batch-size", "16", "--actor-width", "8", "--critic-width", "8"]
CLOCK_COLUMNS = ("wall_seconds", "env_steps_per_second")


def text(path: Path) -> str:
    """A file's text as it is, line ends included."""
    with path.open(newline="") as file:
        return file.read()


def table(path: Path) -> list[dict]:
    """A log's rows without its host clock columns."""
    with path.open(newline="") as file:
        return [{k: v for k, v in row.items() if k not in CLOCK_COLUMNS} for row in csv.DictReader(file)]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The uninterrupted run of 800 env steps, the reference of the extension and the kill -9 tests."""
    out = tmp_path_factory.mktemp("faults") / "whole"
    assert train.main([*FLAGS, "--total-steps", "800", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_a_second_process_on_the_same_directory_stops_at_once_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    holder = Lock(out)  # a flock conflicts across open files, in one process too
    try:
        assert train.main([*FLAGS, "--total-steps", "200", "--out", str(out)]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and f"is in use by pid {os.getpid()} on host" in error
        assert sorted(path.name for path in out.iterdir()) == [LOCK]  # nothing of the holder's touched
    finally:
        holder.release()


def test_a_killed_holder_leaves_no_stale_lock_and_a_lock_alone_is_an_empty_directory(tmp_path):
    out = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", "import os, signal, sys; from pathlib import Path; "
                             "from rundir.directory import Lock; Lock(Path(sys.argv[1])); os.kill(os.getpid(), signal.SIGKILL)",
                             str(out)], cwd=ROOT, capture_output=True)
    assert killed.returncode == -signal.SIGKILL and (out / LOCK).exists()
    Lock(out).release()  # the OS released the killed process's lock
    from rundir.directory import out_dir

    assert out_dir(str(out), "sac", "gymnax/Pendulum-v1", overwrite=False) == out


def test_an_append_that_fails_halfway_is_cut_off_and_the_log_stays_whole(tmp_path):
    """A real failed write: a file size limit (RLIMIT_FSIZE) stops the append halfway (EFBIG)."""
    path = tmp_path / "evals.csv"
    script = textwrap.dedent(f"""
        import resource, signal
        from pathlib import Path
        from rundir.output import CsvLog
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
        log = CsvLog(Path({str(path)!r}), ["a,b\\r\\n", "1,2\\r\\n"])
        size = Path({str(path)!r}).stat().st_size
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 10, size + 10))
        try:
            log.append([["3" * 50, "4"]])
        except OSError as error:
            print(error.errno, log.lines)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.startswith("27 ['a,b\\r\\n', '1,2\\r\\n']"), result.stdout + result.stderr  # EFBIG
    assert text(path) == "a,b\r\n1,2\r\n"


@pytest.mark.slow
def test_a_full_disk_during_a_checkpoint_is_one_error_line_and_resume_finishes_the_run(tmp_path, monkeypatch, capsys, whole):
    """The checkpoint after the 3rd evaluation fails as orbax reports a full disk (a ValueError with
    the OS error code); after that --resume goes on from the 2nd and ends as the uninterrupted run."""
    out = tmp_path / "run"
    save = checkpoint.Checkpoints.save

    def full_disk(self, evaluations, state, progress):
        if evaluations == 3:
            raise ValueError("RESOURCE_EXHAUSTED: Error writing \"a/0\": Failed to write 1506243 bytes to file 14: "
                             "No space left on device [os_error_code='28']")
        save(self, evaluations, state, progress)

    monkeypatch.setattr(checkpoint.Checkpoints, "save", full_disk)
    assert train.main([*FLAGS, "--total-steps", "800", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(
        f"error: writing the checkpoint after 3 evaluations in {out} failed: No space left on device; "
        f"the last complete checkpoint is {out.resolve()}/checkpoints/2 (env step 200)")
    assert f"run --resume {out}" in error
    assert [row["env_step"] for row in table(out / "evals.csv")][-1] == "300"  # the rows written stay
    assert json.loads((out / "summary.json").read_text())["env_steps"] == 300  # the summary could be written
    monkeypatch.setattr(checkpoint.Checkpoints, "save", save)
    assert train.main(["--resume", str(out)]) == 0
    assert table(out / "evals.csv") == table(whole / "evals.csv")


@pytest.mark.slow
def test_logs_are_given_back_from_the_checkpoint_and_a_contradiction_is_refused(tmp_path, capsys, whole):
    """A finished run's evals.csv deleted and metrics.csv cut short come back from its checkpoint
    (which says so and compiles nothing); an edited value is refused in one line."""
    out = tmp_path / "copy"
    import shutil

    shutil.copytree(whole, out)
    (out / "evals.csv").unlink()
    lines = text(out / "metrics.csv").splitlines(keepends=True)
    (out / "metrics.csv").write_text("".join(lines[:3]), newline="")
    assert train.main(["--resume", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "evals.csv had 0 of the checkpoint's 16 rows: given back" in printed
    assert "metrics.csv had 2 of the checkpoint's 16 rows: given back" in printed
    assert "compiled" not in printed and f"{out} is finished: 8 evaluations, 800 env steps" in printed
    assert table(out / "evals.csv") == table(whole / "evals.csv")
    assert text(out / "metrics.csv") == text(whole / "metrics.csv")
    edited = text(out / "evals.csv").replace(",100,", ",101,", 1)
    (out / "evals.csv").write_text(edited, newline="")
    assert train.main(["--resume", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{out / 'evals.csv'} contradicts its checkpoint at line 2" in error


@pytest.mark.slow
def test_an_extended_run_equals_the_run_started_with_its_total_steps(tmp_path, capsys, whole):
    """400 env steps, then --resume --total-steps 800: the replay buffer (400 rows, the run's total
    steps) grows, and evals.csv and metrics.csv equal those of the 800-step run bit for bit."""
    out = tmp_path / "short"
    assert train.main([*FLAGS, "--total-steps", "400", "--out", str(out)]) == 0
    for flags, message in [(["--total-steps", "300"], "--total-steps 300 is below the run's 400"),
                           (["--total-steps", "850"], "--total-steps 850 must be a multiple of --eval-every 100"),
                           (["--seeds", "3"], "--resume DIR takes no other flag but --compile-cache and --total-steps")]:
        assert train.main(["--resume", str(out), *flags]) == 2
        assert message in capsys.readouterr().err
    assert train.main(["--resume", str(out), "--total-steps", "800"]) == 0
    assert "x 800 env steps (extended from 400)" in capsys.readouterr().out
    assert table(out / "evals.csv") == table(whole / "evals.csv")
    assert table(out / "metrics.csv") == table(whole / "metrics.csv")
    resolved = json.loads((out / "config.json").read_text())
    assert resolved["run"]["total_steps"] == 800
    assert [(e["from_total_steps"], e["to_total_steps"]) for e in resolved["extensions"]] == [(400, 800)]


def test_a_schedule_over_the_total_steps_cannot_be_extended(tmp_path, capsys):
    """PPO's annealed learning rate follows the run's total steps: its extension is refused."""
    out = tmp_path / "ppo"
    out.mkdir()
    output.write_json(out / "config.json", {"agent": "ppo", "run": {**train.dataclasses.asdict(train.RunArgs()),
                                             "env": "gymnax/CartPole-v1", "total_steps": 1024, "eval_every": 512,
                                             "num_envs": 4}, "config": {"num_steps": 128}, "hyperparams": {}})
    assert train.main(["--resume", str(out), "--total-steps", "2048"], check_only=True) == 2
    assert "ppo anneals its learning rate to zero over --total-steps" in capsys.readouterr().err


KILLER = """
import os, signal, sys
import orbax.checkpoint as ocp
import train
from rundir import output

where, value = os.environ["KILL_AT"].split(":")
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if where == "row":  # after the evaluation's rows are in evals.csv, before its checkpoint
    write = output.EvalLog.write
    def write_then_die(self, runs, env_step, *args):
        write(self, runs, env_step, *args)
        if env_step == int(value):
            die()
    output.EvalLog.write = write_then_die
if where == "checkpoint":  # inside the checkpoint's write: the state written, its progress not yet, not committed
    save = ocp.JsonCheckpointHandler.async_save
    def save_or_die(self, directory, *args, **kwargs):
        if f"/{value}.orbax-checkpoint-tmp" in str(directory):
            die()
        return save(self, directory, *args, **kwargs)
    ocp.JsonCheckpointHandler.async_save = save_or_die
sys.exit(train.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_9_at_any_moment_is_survived(tmp_path, whole):
    """kill -9 while compiling, after an evaluation's rows but before its checkpoint, inside a
    checkpoint's write, and at a moment of the training; each time the run goes on (the same
    command, or --resume), redoing at most one evaluation period, and ends as the uninterrupted run."""
    out = tmp_path / "run"
    command = [*FLAGS, "--total-steps", "800", "--out", str(out)]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(argv, kill_at="none:0"):
        return subprocess.Popen([sys.executable, "-c", KILLER, *argv], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env={**environment, "KILL_AT": kill_at})

    def evaluations_printed(lines):
        return sum(line.startswith("[") and "eval return" in line for line in lines)

    def evaluations_logged():  # the evaluation periods whose work was done (their rows are in evals.csv)
        return len({row["env_step"] for row in table(out / "evals.csv")})

    def resumed_after(lines):
        line = next(line for line in lines if line.startswith("resumed from"))
        return int(line.split(" after ")[1].split()[0])

    compiling = start(command)  # killed while compiling: the directory holds its lock file alone
    for line in compiling.stdout:
        if line.startswith("sac on"):
            compiling.kill()
            break
    compiling.wait()
    assert compiling.returncode == -signal.SIGKILL and [p.name for p in out.iterdir()] == [LOCK]

    done = 0
    for argv, kill_at in [(command, "row:200"), (["--resume", str(out)], "checkpoint:4"), (["--resume", str(out)], "moment")]:
        process = start(argv, kill_at if kill_at != "moment" else "none:0")
        lines = []
        for line in process.stdout:
            lines.append(line)
            if kill_at == "moment" and evaluations_printed(lines) == 2:
                process.kill()
                break
        process.wait()
        assert process.returncode == -signal.SIGKILL, "".join(lines)
        if argv[0] == "--resume":
            assert done - resumed_after(lines) <= 1, "".join(lines)  # at most one period redone
        done = evaluations_logged()
    finished = subprocess.run([sys.executable, str(ROOT / "train.py"), "--resume", str(out)], cwd=ROOT, text=True,
                              capture_output=True)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert done - resumed_after(finished.stdout.splitlines()) <= 1
    assert table(out / "evals.csv") == table(whole / "evals.csv")
    assert table(out / "metrics.csv") == table(whole / "metrics.csv")
