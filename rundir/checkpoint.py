"""Checkpoints of a whole run state with orbax: OUT/checkpoints/<evaluations done>/.

A checkpoint holds every leaf of the batched run state (agent parameters and optimizer states,
normalization statistics, RNG keys, counters and, unless left out, the replay buffer) plus a JSON
record of the host-side progress (evaluations done, returns so far, diverged runs, wall time).
Writes are synchronous and atomic: orbax writes into a temporary directory and renames it when
complete, so an interrupted write leaves the previous checkpoint as the latest readable one. The
newest `keep` checkpoints are kept.

Under jax.distributed every process saves and restores the shards of its own devices (orbax
0.12's multi-process checkpointing: process 0 writes the metadata and the progress record and
commits the directory after a barrier), so the directory must be one path every process shares.
Resuming is tested with the process count and devices of the save (tests/test_multihost.py).
"""

from __future__ import annotations

import functools
import logging
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import jax
import orbax.checkpoint as ocp

from agents.common import ConfigError

logging.getLogger("absl").setLevel(logging.ERROR)  # orbax logs every save at INFO

DIRECTORY = "checkpoints"
STOPPED = "stopped"


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _storable(state: Any) -> Any:
    """PRNG keys as their raw uint32 data (orbax stores plain arrays)."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, state)


def storage_layout(state_shape: Any, sharding) -> Any:
    """The storable layout of a state whose leaves are ShapeDtypeStructs, placed with `sharding`."""

    def leaf(x):
        if _is_key(x):
            data = jax.eval_shape(jax.random.key_data, x)
            return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=sharding)
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)

    return jax.tree.map(leaf, state_shape)


def with_keys(restored: Any, like: Any, impl) -> Any:
    """Keys back from their data, where `like` (same structure; arrays or shapes) has keys."""
    return jax.tree.map(lambda x, ref: jax.random.wrap_key_data(x, impl=impl) if _is_key(ref) else x, restored, like)


class Saved(NamedTuple):
    """A checkpoint's host-side progress, whether it is the stop checkpoint, and its directory."""

    progress: dict
    stopped: bool
    path: Path


class Checkpoints:
    """The checkpoints of one run directory. `without` names top-level state fields left out of
    the checkpoint (e.g. "buffer"); restoring fills them from a fresh state.

    Beside the checkpoints after evaluations, at most one stop checkpoint (OUT/checkpoints/stopped/<the
    iteration reached>) holds a period stopped inside: its start and carry (agents.engine.loop.Runs.stop_record).
    It is newer than every other, so resuming takes it first; the next checkpoint after an evaluation drops it.
    """

    def __init__(self, out: Path, keep: int = 2, without: tuple[str, ...] = ()):
        self.directory = (Path(out) / DIRECTORY).resolve()
        self.without = without
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    @functools.cached_property
    def _stopped(self) -> ocp.CheckpointManager:
        """The stop checkpoint's manager (made on first use: it creates its directory)."""
        options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False)
        return ocp.CheckpointManager(self.directory / STOPPED, options=options)

    def _kept(self, state: Any) -> Any:
        return state.replace(**{name: None for name in self.without}) if self.without else state

    def save(self, evaluations: int, state: Any, progress: dict) -> None:
        """Stores the state after `evaluations` evaluation periods and the host-side progress; an
        unreadable checkpoint of as many or more evaluations (the resume fell back from it) goes
        first, as orbax saves no step below its newest."""
        for step in self._manager.all_steps():
            if step >= evaluations:
                self._manager.delete(step)
        self._manager.save(
            evaluations,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_storable(self._kept(state))), progress=ocp.args.JsonSave(progress)
            ),
        )

    def save_stopped(self, iteration: int, record: Any, progress: dict) -> None:
        """Stores a period stopped after `iteration` iterations of the run (record: Runs.stop_record)."""
        self.drop_stopped()
        self._stopped.save(
            iteration,
            args=ocp.args.Composite(state=ocp.args.StandardSave(_storable(record)), progress=ocp.args.JsonSave(progress)),
        )

    def drop_stopped(self) -> None:
        """Removes the stop checkpoint (once a checkpoint after an evaluation is newer)."""
        if (self.directory / STOPPED).is_dir():
            shutil.rmtree(self.directory / STOPPED)
            self.__dict__.pop("_stopped", None)  # a manager made again on next use

    def has_stopped(self) -> bool:
        return (self.directory / STOPPED).is_dir() and bool(self._stopped.all_steps())

    def restore_stopped(self, record_shape: Any, sharding, impl) -> tuple[Any, dict] | None:
        """-> (record, progress) of the stop checkpoint, or None (with a warning) when it cannot be read.
        record_shape: Runs.stop_record_shape(); impl: the PRNG key implementation of the runs."""
        step = self._stopped.latest_step()
        try:
            restored = self._stopped.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(storage_layout(record_shape, sharding)), progress=ocp.args.JsonRestore()
                ),
            )
        except Exception as error:  # orbax raises many types for unreadable files
            print(f"warning: skipped the unreadable stop checkpoint {self.directory / STOPPED / str(step)}: "
                  f"{type(error).__name__}: {str(error)[:200]}")
            return None
        return with_keys(restored.state, record_shape, impl), restored.progress

    def require_one(self) -> None:
        """Raises ConfigError unless a checkpoint exists (checked before compiling a resumed run)."""
        if not self._manager.all_steps() and not self.has_stopped():
            raise ConfigError(
                f"no checkpoint in {self.directory}: the run stopped before its first checkpoint or ran "
                "with --checkpoint-every 0 (to train it, start it again without --resume)"
            )

    def latest_progress(self) -> Saved | None:
        """The progress of the checkpoint a resume starts from (the stop checkpoint, else the newest
        whose progress and state metadata read), without reading the state; None when none reads."""
        self.require_one()
        candidates = [(self._stopped, step, True) for step in self._stopped.all_steps()] if self.has_stopped() else []
        candidates += [(self._manager, step, False) for step in sorted(self._manager.all_steps(), reverse=True)]
        for manager, step, stopped in candidates:
            path = Path(manager.directory) / str(step)
            try:
                progress = manager.restore(step, args=ocp.args.Composite(progress=ocp.args.JsonRestore())).progress
                if ocp.StandardCheckpointer().metadata(path / "state").item_metadata is None:
                    continue  # no state there
            except Exception:  # orbax raises many types for unreadable files
                continue
            return Saved(progress, stopped, path)
        return None

    def state_reads(self, step: int, state_shape: Any, sharding) -> bool:
        """Whether the state of checkpoint `step` reads whole (state_shape: the runs' state as
        jax.ShapeDtypeStruct leaves), read and dropped: its metadata can read where its arrays do not."""
        target = storage_layout(self._kept(state_shape), sharding)
        try:
            self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))
        except Exception:  # orbax raises many types for unreadable files
            return False
        return True

    def num_runs(self) -> int | None:
        """The size of the runs axis of the newest checkpoint whose metadata reads (restore falls
        back the same way); None when none reads, which restore then reports."""
        metadata = self._newest_metadata()
        return None if metadata is None else metadata["diverged_at"].shape[0]

    def buffer_rows(self) -> int | None:
        """The capacity of the replay buffer in the newest checkpoint after an evaluation (None
        without one): smaller than the run's own when the run was extended (Runs.resized)."""
        metadata = self._newest_metadata(stopped=False)
        buffer = None if metadata is None else metadata.get("buffer")
        return None if not buffer else jax.tree.leaves(buffer["data"])[0].shape[1]

    def _newest_metadata(self, stopped: bool = True) -> dict | None:
        """The state metadata (leaves with shapes) of the newest checkpoint whose metadata reads."""
        self.require_one()
        stop = [(STOPPED, str(step), "start") for step in self._stopped.all_steps()] if stopped and self.has_stopped() else []
        for *path, record in stop + [(str(step), None) for step in sorted(self._manager.all_steps(), reverse=True)]:
            try:
                metadata = ocp.StandardCheckpointer().metadata(self.directory.joinpath(*path, "state")).item_metadata
                return metadata[record] if record else metadata
            except Exception:  # orbax raises many types for unreadable files, or returns no metadata
                continue
        return None

    def restore(self, fresh_state: Any, sharding) -> tuple[Any, dict]:
        """-> (state, progress) of the newest readable checkpoint. fresh_state: a freshly initialized
        state (its shapes are the layout to read; fields left out of the checkpoint come from it).
        Falls back to an older checkpoint when the newest cannot be read, saying so."""
        self.require_one()
        steps = sorted(self._manager.all_steps(), reverse=True)
        kept = self._kept(fresh_state)
        target = storage_layout(jax.eval_shape(lambda: kept), sharding)
        failures = []
        for step in steps:
            try:
                restored = self._manager.restore(
                    step,
                    args=ocp.args.Composite(state=ocp.args.StandardRestore(target), progress=ocp.args.JsonRestore()),
                )
            except Exception as error:  # orbax raises many types for unreadable files
                failures.append(f"{self.directory / str(step)}: {type(error).__name__}: {str(error)[:200]}")
                continue
            if failures:
                print("warning: skipped unreadable checkpoint(s):\n  " + "\n  ".join(failures))
            state = with_keys(restored.state, kept, jax.random.key_impl(fresh_state.key))
            if self.without:
                state = state.replace(**{name: getattr(fresh_state, name) for name in self.without})
            return state, restored.progress
        raise ConfigError("no readable checkpoint:\n  " + "\n  ".join(failures))
