"""Checkpoints and --resume: a resumed run reproduces the uninterrupted one bit for bit; missing,
corrupted and partial checkpoints give clear outcomes."""

import csv
import json
import os
import shutil
import signal
import struct
import warnings

import numpy as np
import orbax.checkpoint as ocp
import pytest

import train
from rundir import output, session

FLAGS = ["sac", "--seeds", "2", "--total-steps", "400", "--eval-every", "100", "--eval-episodes", "1",
         "--learning-starts", "50", "--batch-size", "16", "--actor-width", "8", "--critic-width", "8", "--tensorboard"]
RESULT_COLUMNS = ("run", "seed", "env_step", "eval_return", "eval_length", "train_return")


def rows(out):
    with (out / "evals.csv").open() as file:
        return [tuple(row[name] for name in RESULT_COLUMNS) for row in csv.DictReader(file)]


def metric_rows(out):
    """metrics.csv without its host clock columns."""
    with (out / "metrics.csv").open() as file:
        return [{k: v for k, v in row.items() if k not in ("env_steps_per_second", "wall_seconds")} for row in csv.DictReader(file)]


def tensorboard_scalars(out, run_name):
    """{tag: [(step, value)]} of one run's event files, read with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard" / run_name))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


WANDB_FULL, WANDB_LAST = 1, 4
"""Chunk types of a W&B transaction log (a LevelDB-style log: 32 KiB blocks; a record too long for
its block continues in the next as FIRST 2, MIDDLE 3, ..., LAST 4; FULL is a whole record)."""


def wandb_records(path):
    """The protobuf Records of an offline W&B run file (run-<id>.wandb): a 7-byte file header, then
    chunks of a 7-byte header (crc32 uint32, length uint16, type uint8, little-endian) and data."""
    from wandb.proto import wandb_internal_pb2

    data, block, header = path.read_bytes(), 32 * 1024, struct.Struct("<IHB")
    assert data[:4] == b":W&B"
    position, pieces = 7, []
    while position + header.size <= len(data):
        if block - position % block < header.size:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        _, length, kind = header.unpack_from(data, position)
        if length == 0 and kind == 0:  # zero padding to the end of the block
            position += block - position % block
            continue
        pieces.append(data[position + header.size : position + header.size + length])
        position += header.size + length
        if kind in (WANDB_FULL, WANDB_LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(pieces))
            pieces = []
            yield record


def wandb_runs(out):
    """{run name: (group, project, config, {key: [(step, value)]})} of the offline W&B runs in OUT/wandb."""
    runs = {}
    for path in (out / "wandb").glob("offline-run-*/run-*.wandb"):
        history, info = {}, None
        for record in wandb_records(path):
            if record.HasField("run"):
                config = {item.key: json.loads(item.value_json) for item in record.run.config.update}
                info = (record.run.display_name, record.run.run_group, record.run.project, config)
            elif record.HasField("history"):
                items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
                for key, value in items.items():
                    history.setdefault(key, []).append((items["_step"], value))
        name, *rest = info
        runs[name] = (*rest, history)
    return runs


def stored_state(out, step):
    return ocp.StandardCheckpointer().restore((out / "checkpoints" / str(step) / "state").resolve())


def interrupt_at_evaluation(monkeypatch, number):
    """Ctrl-C arrives while the `number`-th evaluation is being logged (after number - 1 checkpoints)."""
    write, calls = output.EvalLog.write, []

    def write_then_interrupt(self, *args):
        calls.append(1)
        if len(calls) == number:
            raise KeyboardInterrupt
        write(self, *args)

    monkeypatch.setattr(output.EvalLog, "write", write_then_interrupt)


@pytest.fixture(scope="module", autouse=True)
def wandb_offline(tmp_path_factory):
    """W&B in offline mode, its own files in a temporary directory: the uninterrupted run and the
    tests that resume a copy of it (--wandb is in its config.json) write W&B runs to OUT/wandb only."""
    home = tmp_path_factory.mktemp("wandb")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("WANDB_MODE", "offline"), ("WANDB_SILENT", "true"), ("WANDB_DIR", home),
                            ("WANDB_CACHE_DIR", home / "cache"), ("WANDB_CONFIG_DIR", home / "config")):
            patch.setenv(name, str(value))
        yield


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, wandb_offline):
    out = tmp_path_factory.mktemp("runs") / "whole"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert train.main([*FLAGS, "--wandb", "occam-test", "--out", str(out)]) == 0
    # every donated buffer of the fused loop's programs is reused: jax warns of those it cannot
    unusable = [str(w.message) for w in caught if "donated buffers were not usable" in str(w.message)]
    assert not unusable, unusable
    return out


@pytest.mark.slow
def test_a_resumed_run_reproduces_the_uninterrupted_one_bit_for_bit(uninterrupted, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    with monkeypatch.context() as patch:
        interrupt_at_evaluation(patch, 3)
        assert train.main([*FLAGS, "--out", str(out)]) == 130
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["1", "2"]
    assert json.loads((out / "summary.json").read_text())["interrupted"]
    assert len(metric_rows(out)) == 4  # evaluations 1 and 2 of both runs; the 3rd was interrupted
    assert train.main(["--resume", str(out)]) == 0
    assert rows(out) == rows(uninterrupted)
    assert metric_rows(out) == metric_rows(uninterrupted)
    assert {"critic_loss", "mean_q", "alpha", "alpha_last", "entropy", "actor_grad_norm", "critic_param_norm",
            "train_length"} <= metric_rows(out)[0].keys()
    # TensorBoard: the resumed run's curves are the uninterrupted run's (the interrupted session's
    # later steps purged), every metric of metrics.csv included
    scalars = tensorboard_scalars(out, "run1-seed1")
    assert scalars.keys() == tensorboard_scalars(uninterrupted, "run1-seed1").keys()
    evals = [row for row in rows(out) if row[0] == "1"]
    assert [(step, f"{value:.6g}") for step, value in scalars["eval/return"]] == [(int(r[2]), r[3]) for r in evals]
    critic_loss = [float(row["critic_loss"]) for row in metric_rows(out) if row["run"] == "1"]
    np.testing.assert_allclose([value for _, value in scalars["train/critic_loss"]], critic_loss, rtol=1e-6)
    assert {f"train/{name}" for name in metric_rows(out)[0] if name not in ("run", "seed", "env_step")} <= scalars.keys()
    steps, table = output.read_metrics(out / "metrics.csv")
    assert steps.tolist() == [100, 200, 300, 400] and table["critic_loss"].shape == (2, 4)
    assert (out / "training.png").stat().st_size > 0
    whole, resumed = stored_state(uninterrupted, 4), stored_state(out, 4)
    flat_whole, flat_resumed = dict(_flatten(whole)), dict(_flatten(resumed))
    assert flat_whole.keys() == flat_resumed.keys() and any("buffer" in k for k in flat_whole)
    for name, value in flat_whole.items():
        np.testing.assert_array_equal(value, flat_resumed[name], err_msg=name)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed"] and not summary["interrupted"]
    assert summary["final_eval_return"] == json.loads((uninterrupted / "summary.json").read_text())["final_eval_return"]


@pytest.mark.slow
def test_wandb_offline_runs_hold_the_config_and_every_evaluation(uninterrupted):
    runs = wandb_runs(uninterrupted)
    assert sorted(runs) == ["run0-seed0", "run1-seed1"]
    config_json = json.loads((uninterrupted / "config.json").read_text())
    metrics = metric_rows(uninterrupted)
    for index, name in enumerate(sorted(runs)):
        group, project, config, history = runs[name]
        assert (group, project) == ("whole", "occam-test")
        assert config["seed"] == index and config["run_index"] == index
        assert {key: config[key] for key in config_json} == config_json
        evals = [row for row in rows(uninterrupted) if row[0] == str(index)]
        assert [(step, f"{value:.6g}") for step, value in history["eval/return"]] == [(int(r[2]), r[3]) for r in evals]
        assert [step for step, _ in history["eval/length"]] == [100, 200, 300, 400]
        critic_loss = [float(row["critic_loss"]) for row in metrics if row["run"] == str(index)]
        np.testing.assert_allclose([value for _, value in history["train/critic_loss"]], critic_loss, rtol=1e-6)
        assert {f"train/{key}" for key in metrics[0] if key not in ("run", "seed", "env_step")} <= history.keys()
        assert [step for step, _ in history["time/env_steps_per_second"]] == [100, 200, 300, 400]


def signal_at_chunk(monkeypatch, numbers):
    """SIGINT arrives after the chunks numbered `numbers` (counted over the session's periods, from 1)."""
    report, calls = session.Session.report_progress, []

    def report_then_signal(self, *args):
        report(self, *args)
        calls.append(1)
        if len(calls) in numbers:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(session.Session, "report_progress", report_then_signal)


@pytest.mark.slow
def test_a_run_stopped_inside_a_period_resumes_from_that_chunk_bit_for_bit(uninterrupted, tmp_path, monkeypatch, capsys):
    out = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        signal_at_chunk(patch, {10 + 10 + 4})  # in the third period, at env step 240
        assert train.main([*FLAGS, "--out", str(out)]) == 130
    assert "goes on from env step 240, where it stopped" in capsys.readouterr().err
    assert [p.name for p in (out / "checkpoints" / "stopped").iterdir()] == ["240"]
    assert len(rows(out)) == 4 and sorted(p.name for p in (out / "checkpoints").iterdir()) == ["1", "2", "stopped"]
    # the stop checkpoint keeps the period's start state (checkpoint 2) but only the 100 buffer rows
    # the period overwrites, beside the carry's whole buffer
    stopped = ocp.StandardCheckpointer().restore((out / "checkpoints" / "stopped" / "240" / "state").resolve())
    start, start_of_period = dict(_flatten(stopped["start"])), dict(_flatten(stored_state(out, 2)))
    assert start.keys() == start_of_period.keys()
    for name, value in start.items():
        if name.startswith("/buffer/data/"):
            assert value.shape[1] == 100 and start_of_period[name].shape[1] == 400, name
            np.testing.assert_array_equal(value, start_of_period[name][:, 200:300], err_msg=name)
        else:
            np.testing.assert_array_equal(value, start_of_period[name], err_msg=name)
    assert train.main(["--resume", str(out)]) == 0
    assert "resumed from a stop checkpoint inside a period after 2 evaluations (240 env steps)" in capsys.readouterr().out
    assert not (out / "checkpoints" / "stopped").exists()
    assert rows(out) == rows(uninterrupted)
    assert metric_rows(out) == metric_rows(uninterrupted)
    whole, resumed = dict(_flatten(stored_state(uninterrupted, 4))), dict(_flatten(stored_state(out, 4)))
    assert whole.keys() == resumed.keys()
    for name, value in whole.items():
        np.testing.assert_array_equal(value, resumed[name], err_msg=name)


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flatten(value, f"{prefix}/{key}")
    else:
        yield prefix, np.asarray(tree)


@pytest.mark.slow
def test_resume_falls_back_from_a_corrupted_checkpoint_and_refuses_when_none_is_readable(uninterrupted, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(session, "PROGRESS_SECONDS", 0.0)  # a line after every chunk (stdout is captured: no terminal)
    out = tmp_path / "copy"
    shutil.copytree(uninterrupted, out)
    # corrupt the newest checkpoint (4): the run resumes from 3 and rewrites 4
    for item in (out / "checkpoints" / "4" / "state").iterdir():
        if item.is_file():
            item.write_bytes(b"garbage")
        else:
            shutil.rmtree(item)
    assert train.main(["--resume", str(out)]) == 0
    captured = capsys.readouterr().out
    assert "skipped unreadable checkpoint" in captured and "after 3 evaluations" in captured
    # progress inside the period: 10 chunks of 10 iterations, the last eval return of evaluation 3
    progress = [line for line in captured.splitlines() if "last eval return" in line]
    assert [line.split("]")[0] for line in progress] == [f"[{step:>9}/400" for step in range(310, 401, 10)]
    assert all("env-steps/s (all runs)  ETA" in line and "\r" not in line for line in progress)
    assert rows(out) == rows(uninterrupted)
    assert train.main(["--resume", str(out)]) == 0  # 4 was rewritten: it reads, and the run is finished
    assert f"{out} is finished: 4 evaluations" in capsys.readouterr().out
    for step in ("3", "4"):
        shutil.rmtree(out / "checkpoints" / step / "state")
    assert train.main(["--resume", str(out)]) == 2
    assert "no readable checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_errors_are_one_line(uninterrupted, tmp_path, capsys):
    assert train.main(["--resume", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
    out = tmp_path / "no-checkpoints"  # a run interrupted before its first checkpoint
    out.mkdir()
    shutil.copy(uninterrupted / "config.json", out)
    assert train.main(["--resume", str(out)]) == 2
    assert "no checkpoint in" in capsys.readouterr().err
    assert train.main(["--resume", str(out), "--seeds", "3"]) == 2
    assert "takes no other flag but --compile-cache" in capsys.readouterr().err
    # where compiled programs are kept may change on resume (another host, a cache that misbehaves)
    for flags in (["--compile-cache", "none"], ["--compile-cache=none"]):
        _, command = train.resumed(str(out), ["--resume", str(out), *flags])
        assert command.run.compile_cache == "none" and command.run.resume == str(out)
    assert train.resumed(str(out), ["--resume", str(out)])[1].run.compile_cache == "auto"


@pytest.mark.slow
def test_checkpoints_without_the_buffer_resume_and_refill(tmp_path, monkeypatch):
    out = tmp_path / "small"
    with monkeypatch.context() as patch:
        interrupt_at_evaluation(patch, 3)
        assert train.main([*FLAGS, "--out", str(out), "--no-buffer-checkpoint"]) == 130
    names = [name for name, _ in _flatten(stored_state(out, 2))]
    assert not any(name.startswith("/buffer/") for name in names) and any(name.startswith("/agent/") for name in names)
    assert train.main(["--resume", str(out)]) == 0
    returns = [float(row[3]) for row in rows(out)]
    assert len(returns) == 8 and np.all(np.isfinite(returns))
    # updates wait for --learning-starts 50 transitions again: iterations 49-199 before the resume
    # and 249-399 after it, 302 updates (the uninterrupted run makes 351)
    counts = {name: value for name, value in _flatten(stored_state(out, 4)) if name.startswith("/agent/") and name.endswith("/count")}
    assert counts and all(np.array_equal(value, [302, 302]) for value in counts.values()), counts


@pytest.mark.slow
def test_the_spectral_probe_reads_trained_networks_from_a_checkpoint(uninterrupted, capsys):
    from probe import trained

    config, state = trained.load_run(str(uninterrupted))
    assert state.diverged_at.shape == (2,) and config.agent == "sac"
    assert trained.main([str(uninterrupted), "--network", "actor", "--planes", "2"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  run ")]
    scores = [float(line.split("score ")[1].split()[0]) for line in lines]
    assert len(scores) == 2 and all(0 < score < np.inf for score in scores)


@pytest.mark.slow
def test_a_ppo_run_stopped_in_its_first_period_resumes_from_that_chunk(tmp_path, monkeypatch, capsys):
    flags = ["ppo", "--seeds", "2", "--total-steps", "2048", "--eval-every", "512", "--eval-episodes", "1",
             "--num-envs", "2", "--num-steps", "64"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert train.main([*flags, "--out", str(whole)]) == 0
    with monkeypatch.context() as patch:
        signal_at_chunk(patch, {2})  # 4 chunks of one rollout per period: env step 256; no evaluation yet
        assert train.main([*flags, "--out", str(resumed)]) == 130
    assert "goes on from env step 256, where it stopped" in capsys.readouterr().err
    assert not rows(resumed) and [p.name for p in (resumed / "checkpoints" / "stopped").iterdir()] == ["256"]
    assert train.main(["--resume", str(resumed)]) == 0
    assert "resumed from a stop checkpoint inside a period after 0 evaluations (256 env steps)" in capsys.readouterr().out
    assert rows(resumed) == rows(whole) and metric_rows(resumed) == metric_rows(whole)
    assert train.main([*flags, "--out", str(tmp_path / "x"), "--no-buffer-checkpoint"]) == 2
    assert "error: ppo has no flag --no-buffer-checkpoint" in capsys.readouterr().err  # not offered: no buffer
