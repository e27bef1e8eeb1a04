"""Trained policies read back from run directories (rundir.policy) replay their runs' evaluations:
the returns equal evals.csv's on the same keys or gymnasium seeds, for a fused and a host-stepped
env, off-policy agents with BatchRenorm and with RSNorm, and PPO with its observation
normalization, also on one CPU device for a run trained on two. `python -m rundir.play` prints
them, records a video headless, and refuses bad input in one line with exit code 2."""

import csv
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import train
from agents.common import ConfigError
from rundir import play
from rundir.policy import RunDirectory, load_policy

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--seeds", "2", "--eval-episodes", "2", "--actor-width", "32", "--critic-width", "32"]


def eval_returns(out) -> dict:
    """{(run, env step): eval_return} of evals.csv."""
    with (out / "evals.csv").open() as file:
        return {(int(row["run"]), int(row["env_step"])): float(row["eval_return"]) for row in csv.DictReader(file)}


def replays_its_evaluations(out, checkpoints) -> None:
    """Each run's policy at each checkpoint plays its evaluation episodes to evals.csv's mean return
    (written with 6 significant digits)."""
    directory = RunDirectory.read(out)
    recorded = eval_returns(out)
    for number in checkpoints:
        for policy in directory.policies(list(range(directory.num_runs)), number):
            returns, lengths = play.play_episodes(directory.env, policy, directory.config.eval_episodes)
            assert float(f"{returns.mean():.6g}") == recorded[policy.index, policy.env_step], (number, policy.index)


@pytest.fixture(scope="module")
def crossq_on_two_devices(tmp_path_factory):
    """CrossQ (BatchRenorm) on gymnax/Pendulum-v1, its 2 runs trained on 2 CPU devices (a process of its own)."""
    out = tmp_path_factory.mktemp("crossq") / "run"
    flags = ["crossq", "--env", "gymnax/Pendulum-v1", *TINY, "--total-steps", "400", "--eval-every", "200",
             "--learning-starts", "100", "--batch-size", "32", "--out", str(out)]
    environment = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    done = subprocess.run([sys.executable, "train.py", *flags], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "on 2 device(s)" in done.stdout
    return out


@pytest.fixture(scope="module")
def simba_sac_on_gym(tmp_path_factory):
    """SAC with SimBa networks (RSNorm) on the host-stepped gym/InvertedPendulum-v4, checkpoints without the buffer."""
    out = tmp_path_factory.mktemp("simba") / "run"
    flags = ["sac", "--env", "gym/InvertedPendulum-v4", *TINY, "--actor-net", "simba", "--critic-net", "simba",
             "--actor-depth", "1", "--critic-depth", "1", "--total-steps", "200", "--eval-every", "100",
             "--learning-starts", "50", "--batch-size", "16", "--no-buffer-checkpoint", "--out", str(out)]
    assert train.main(flags) == 0
    return out


@pytest.mark.slow
def test_crossq_policies_trained_on_two_devices_replay_their_evaluations_on_one(crossq_on_two_devices):
    assert len(jax.devices()) == 1
    replays_its_evaluations(crossq_on_two_devices, (1, 2))
    policy = load_policy(crossq_on_two_devices, run=1, checkpoint=1)
    assert (policy.env_id, policy.seed, policy.checkpoint, policy.env_step) == ("gymnax/Pendulum-v1", 1, 1, 200)
    assert policy.run.agent.actor.stats  # the BatchRenorm statistics, read back
    obs = np.random.default_rng(0).normal(size=(5, *policy.spec.obs_shape)).astype(np.float32)
    action = np.asarray(policy.act(obs))
    assert action.shape == (5, 1) and np.all(np.abs(action) <= 1)
    # --seed S plays the evaluation of a run trained with seed S: with its own seed, a run's own
    directory = RunDirectory.read(crossq_on_two_devices)
    own = play.play_episodes(directory.env, policy, 2)
    np.testing.assert_array_equal(play.play_episodes(directory.env, policy, 2, seed=1)[0], own[0])
    assert not np.array_equal(play.play_episodes(directory.env, policy, 2, seed=0)[0], own[0])
    sampling = load_policy(crossq_on_two_devices, run=1, checkpoint=1, deterministic=False)
    with pytest.raises(ValueError, match="pass a key"):
        sampling.act(obs)
    sampled = np.asarray(sampling.act(obs, jax.random.key(0)))
    assert sampled.shape == (5, 1) and not np.allclose(sampled, action)


@pytest.mark.slow
def test_simba_sac_policies_replay_their_evaluations_on_gymnasium(simba_sac_on_gym):
    replays_its_evaluations(simba_sac_on_gym, (1, 2))
    policy = load_policy(simba_sac_on_gym)
    assert float(policy.run.obs_stats.count) > 100  # the RSNorm statistics of the collected observations


@pytest.mark.slow
def test_ppo_policies_with_observation_normalization_replay_their_evaluations(tmp_path):
    out = tmp_path / "ppo"
    flags = ["ppo", "--env", "gymnax/Pendulum-v1", *TINY, "--total-steps", "512", "--eval-every", "256",
             "--num-envs", "4", "--num-steps", "32", "--obs-norm", "rsnorm_clipped", "--out", str(out)]
    assert train.main(flags) == 0
    replays_its_evaluations(out, (1, 2))


@pytest.mark.slow
def test_play_prints_each_run_and_records_a_video_headless(simba_sac_on_gym, tmp_path):
    video = tmp_path / "pendulum.mp4"
    environment = {name: value for name, value in os.environ.items() if name != "MUJOCO_GL"}  # EGL by default
    done = subprocess.run([sys.executable, "-m", "rundir.play", str(simba_sac_on_gym), "--episodes", "3", "--video", str(video)],
                          cwd=ROOT, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sac on gym/InvertedPendulum-v4, checkpoint 2 (200 env steps), deterministic actions")
    runs = [line for line in lines if line.startswith("  run ")]
    assert [line.split(":")[0] for line in runs] == ["  run 0 (seed 0)", "  run 1 (seed 1)"]
    frames = sum(3 * float(line.split("length ")[1].split()[0]) for line in runs)  # one frame per step
    import imageio

    reader = imageio.get_reader(video)
    read = [frame for frame in reader]
    assert len(read) == round(frames) and read[0].shape == (play.FRAME_SIZE, play.FRAME_SIZE, 3)
    assert read[0].std() > 10  # a picture, not a blank frame
    assert lines[-1] == f"video: {video}, {len(read)} frames of 480x480 at 25 fps"


@pytest.mark.slow
@pytest.mark.skipif(ctypes.util.find_library("OSMesa") is not None, reason="OSMesa is installed: MUJOCO_GL=osmesa renders")
def test_a_video_without_an_opengl_library_is_one_line_saying_what_to_install(simba_sac_on_gym, tmp_path):
    environment = dict(os.environ, MUJOCO_GL="osmesa")
    done = subprocess.run([sys.executable, "-m", "rundir.play", str(simba_sac_on_gym), "--video", str(tmp_path / "v.mp4")],
                          cwd=ROOT, env=environment, capture_output=True, text=True)
    assert done.returncode == 2 and not done.stdout
    [line] = done.stderr.splitlines()
    assert line.startswith("error: --video: MuJoCo's renderer has no OpenGL context (MUJOCO_GL=osmesa: ")
    assert line.endswith("install EGL (apt-get install libegl1 libgl1) or OSMesa (apt-get install libosmesa6, then MUJOCO_GL=osmesa)")


def exit_code(argv: list[str]) -> int:
    """play.main's exit code, argparse's exits included."""
    try:
        return play.main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.slow
@pytest.mark.parametrize("flags, message", [
    (["--run", "2"], "{out} has runs 0 to 1; there is no run 2"),
    (["--checkpoint", "7"], "{out} has no checkpoint 7; its checkpoints (evaluations done): 1, 2"),
    (["--env", "gymnax/CartPole-v1"], "--env gymnax/CartPole-v1 has observations of shape (4,), 2 discrete actions; "
                                      "the run's policies act on gymnax/Pendulum-v1's observations of shape (3,), 1-d continuous actions"),
    (["--video", "/no/such/folder/run.mp4"], "--video /no/such/folder/run.mp4 cannot be written: No such file or directory"),
    (["--video", "run.gif"], "--video takes an .mp4 file name, got run.gif"),
    (["--episodes", "0"], "--episodes must be at least 1, got 0"),
    (["--run", "first"], "argument --run: takes a run index or all, got 'first'"),
])
def test_bad_input_is_one_error_line_and_exit_code_2(crossq_on_two_devices, flags, message, capsys):
    assert exit_code([str(crossq_on_two_devices), *flags]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: " + message.format(out=crossq_on_two_devices)]


def test_a_host_id_plays_without_a_video_and_the_error_names_the_id_that_has_one(crossq_on_two_devices, tmp_path, capsys):
    assert exit_code([str(crossq_on_two_devices), "--env", "host/gymnax/Pendulum-v1", "--video", str(tmp_path / "run.mp4")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --video draws no host/ ids: add --env gymnax/Pendulum-v1 to play the run on the same env, stepped in "
        "the fused loop's way, with a video"
    ]


def test_a_directory_that_is_not_a_run_is_one_error_line(tmp_path, capsys):
    assert exit_code([str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {tmp_path}: no config.json there; is it a run directory of train.py?"]
    with pytest.raises(ConfigError, match="no config.json"):
        load_policy(tmp_path)


@pytest.mark.slow
def test_video_every_records_run_0_s_evaluation_episode_into_the_run_directory(tmp_path):
    """train.py --video-every 2 on Pendulum-v1 (4 evaluations): two videos of run 0's first
    evaluation episode, one frame per step of its 200, drawn headless; a negative value is refused."""
    out = tmp_path / "run"
    flags = ["sac", *TINY, "--total-steps", "400", "--eval-every", "100", "--learning-starts", "100", "--batch-size", "16"]
    assert train.main([*flags, "--out", str(out), "--video-every", "2"]) == 0
    import imageio

    videos = sorted((out / "videos").iterdir())
    assert [video.name for video in videos] == ["run0-200.mp4", "run0-400.mp4"]
    for video in videos:
        frames = [frame for frame in imageio.get_reader(video)]
        assert len(frames) == 200 and frames[0].shape == (play.FRAME_SIZE, play.FRAME_SIZE, 3)
        assert frames[0].std() > 10  # a picture, not a blank frame
    assert train.main([*flags, "--out", str(tmp_path / "other"), "--video-every", "-1"], check_only=True) == 2
