"""The run directory as a place: the one a run writes (chosen, and refused when it is in the way),
its lock (one writer at a time), whether its disk can hold what the run will write, and what it
recorded of its command (config.json), read back by --resume and by the tools that read trained
runs (probe.trained)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from agents import AGENTS
from agents.common import ConfigError


def out_dir(out: str | None, agent: str, env: str, overwrite: bool) -> Path:
    """The run directory to write (default runs/<agent>-<env>-<time>); refuses a non-empty one
    unless `overwrite`."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path("runs") / f"{agent}-{env.replace('/', '_')}-{stamp}"
    else:
        path = Path(out)
    if path.exists() and (not path.is_dir() or any(entry.name != LOCK for entry in path.iterdir())) and not overwrite:
        resume = f", or continue its run with --resume {path}" if (path / "checkpoints").is_dir() else ""
        raise ConfigError(f"--out {path} exists and is not empty; choose another --out or pass --overwrite{resume}")
    return path


LOCK = ".lock"
"""The lock file of a run directory: the holder's pid and host, locked while its run lives."""


class Lock:
    """One writer per run directory: an exclusive OS lock (flock) on OUT/.lock, taken before
    compiling and held for the life of the process. The OS releases it when the process ends, a
    crash or kill -9 included, so no stale lock is left; a directory holding nothing but the lock
    file counts as empty."""

    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / LOCK
        self._file = self.path.open("a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "another process"
            self._file.close()
            raise ConfigError(f"{out} is in use by {holder}: one run writes a directory at a time; wait for it "
                              "to end, or choose another --out") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
        self._file.flush()

    def release(self) -> None:
        """Unlocks (closing the file releases the lock); the lock file stays, empty of meaning."""
        self._file.close()


def check_disk(out: Path, num_runs: int, num_evals: int, checkpoint_bytes: int = 0) -> None:
    """Fails before training when the disk cannot hold the logs and checkpoints the run will write
    (checkpoint_bytes: one checkpoint; two are kept and a third is written before the oldest goes)."""
    rows = num_runs * num_evals
    needed = 200 * rows + 2_000_000 + 3 * checkpoint_bytes  # evals.csv, JSON files, curves.png, checkpoints
    existing = next(parent for parent in (out, *out.parents) if parent.exists())
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise ConfigError(
            f"{existing} has {free / 2**20:.1f} MiB free but the run writes about {needed / 2**20:.1f} MiB; "
            "free some space, choose another --out, or shrink checkpoints (--no-buffer-checkpoint, --checkpoint-every 0)"
        )


class Recorded(NamedTuple):
    """The command a run directory's config.json records."""

    agent: str
    run: dict
    """The run flags (train.RunArgs's fields) as recorded."""
    config: Any
    """The agent's Config."""
    hp: Any
    """The agent's Hyperparams, gamma resolved."""


def read_config(directory: str) -> Recorded:
    """The command of the run in `directory`, read back from its config.json."""
    path = Path(directory) / "config.json"
    try:
        saved = json.loads(path.read_text())
        agent = AGENTS[saved["agent"]]
        run = dict(saved["run"], sweep=tuple(saved["run"]["sweep"]))
        return Recorded(agent.name, run, agent.Config(**saved["config"]), agent.Hyperparams(**saved["hyperparams"]))
    except FileNotFoundError:
        raise ConfigError(f"{directory}: no config.json there; is it a run directory of train.py?") from None
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{directory}: {path} is unreadable or from another version ({error!r})") from None
