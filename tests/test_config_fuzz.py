"""Property: any combination of flags is either accepted or refused with one clear line (exit 2)."""

import contextlib
import io
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import train

FLAGS = {
    "--seeds": st.integers(-2, 4),
    "--total-steps": st.integers(-10, 5000),
    "--eval-every": st.integers(-10, 3000),
    "--eval-episodes": st.integers(-1, 3),
    "--num-envs": st.integers(-1, 5),
    "--batch-size": st.integers(-1, 600),
    "--learning-starts": st.integers(-100, 6000),
    "--buffer-size": st.integers(-1, 10000),
    "--critic-width": st.integers(-1, 32),
    "--actor-width": st.integers(-1, 32),
    "--utd": st.integers(-1, 3),
    "--num-steps": st.integers(-1, 200),
    "--num-minibatches": st.integers(-1, 8),
    "--gamma": st.floats(-1, 2),
    "--env": st.sampled_from(
        ["gymnax/Pendulum-v1", "gymnax/MountainCarContinuous-v0", "gymnax/CartPole-v1", "gymnax/Pendulum", "nope"]
    ),
    "--sweep": st.sampled_from(["learning_rate=1e-3,3e-4", "batch_size=1,2", "gamma=x", "tau=0.01", "gamma"]),
    "--preset": st.sampled_from(["paper", "cpu", "gpu", "cartpole", "pendulum"]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agent=st.sampled_from(["sac", "crossq", "ppo", None, "sacc"]),
    flags=st.dictionaries(st.sampled_from(sorted(FLAGS)), st.none(), max_size=6).flatmap(
        lambda chosen: st.fixed_dictionaries({flag: FLAGS[flag] for flag in chosen})
    ),
)
def test_flags_are_accepted_or_refused_with_one_clear_line(agent, flags):
    argv = [agent] if agent else []
    for flag, value in flags.items():
        argv += [flag, str(value)]
    with tempfile.TemporaryDirectory() as directory:
        argv += ["--out", f"{directory}/run"]
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                code = train.main(argv, check_only=True)
        except SystemExit as exit_:  # tyro's own parse errors (e.g. a flag the agent lacks)
            assert exit_.code == 2, argv
            return
    err = stderr.getvalue()
    assert code in (0, 2), argv
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip() and "warp" not in line]
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
