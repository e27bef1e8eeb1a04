"""Property: any combination of flags is either accepted or refused with one clear line (exit 2)."""

import contextlib
import io
import tempfile

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
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
    "--learning-rate": st.sampled_from(["3e-4", "-1", "0", "abc", "1e-2"]),
    "--tau": st.floats(-0.5, 1.5),
    "--seed": st.sampled_from(["0", "7", "-3", "2147483647", "4294967296", "1.5"]),
    "--env": st.sampled_from(
        ["gymnax/Pendulum-v1", "gymnax/MountainCarContinuous-v0", "gymnax/CartPole-v1", "gymnax/Pendulum", "nope"]
    ),
    "--sweep": st.sampled_from(
        ["learning_rate=1e-3,3e-4", "batch_size=1,2", "gamma=x", "tau=0.01", "gamma", "gamma=0.9,1.2", "tau=lin:0:0.1"]
    ),
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
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = train.main(argv, check_only=True)
    err = stderr.getvalue()
    assert code in (0, 2), argv
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip() and "warp" not in line]
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)


SMALL = ["--seeds", "2", "--total-steps", "64", "--eval-every", "32", "--eval-episodes", "1", "--actor-width", "8",
         "--critic-width", "8"]
NETWORKS = {
    "--actor-net": st.sampled_from(["mlp", "simba"]),
    "--critic-net": st.sampled_from(["mlp", "simba"]),
    "--critic-norm": st.sampled_from(["auto", "none", "batch_norm", "batch_renorm", "layer_norm"]),
    "--actor-norm": st.sampled_from(["auto", "none", "batch_norm", "layer_norm"]),
    "--actor-depth": st.integers(1, 2),
    "--sweep": st.sampled_from(["learning_rate=1e-3,3e-4", "gamma=0.9,0.99"]),
}
OFF_POLICY = {**NETWORKS, "--num-envs": st.sampled_from([1, 2]), "--utd": st.integers(1, 2)}
ON_POLICY = {**NETWORKS, "--num-minibatches": st.sampled_from([1, 2]), "--obs-norm": st.sampled_from(["none", "rsnorm_clipped"]),
             "--normalize-reward": st.just(None)}


def agent_and_flags(agent: str):
    """An agent, its fixed small sizes, and a random choice of the switches it accepts."""
    switches = ON_POLICY if agent == "ppo" else OFF_POLICY
    fixed = ["--num-steps", "16"] if agent == "ppo" else ["--batch-size", "8", "--learning-starts", "8"]
    chosen = st.dictionaries(st.sampled_from(sorted(switches)), st.none(), max_size=4)
    return st.tuples(
        st.just([agent, *SMALL, *fixed]),
        chosen.flatmap(lambda names: st.fixed_dictionaries({flag: switches[flag] for flag in names})),
    )


# derandomized and not shrunk: the same four configurations every time, each traced once (2 to 5 s apiece)
@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(command=st.sampled_from(["sac", "crossq", "td3", "ddpg", "simba-sac", "ppo"]).flatmap(agent_and_flags))
def test_accepted_configurations_trace_through_a_whole_period(command):
    """What check_only accepts must also build: the batched evaluation period is traced (jax.eval_shape,
    everything up to XLA) with the hyperparameters and sweep the command would compile."""
    import jax
    import jax.numpy as jnp

    from agents import ConfigError

    from agents.engine import batching

    argv, flags = command
    for flag, value in flags.items():
        argv = [*argv, flag] if value is None else [*argv, flag, str(value)]
    with tempfile.TemporaryDirectory() as directory, contextlib.redirect_stderr(io.StringIO()) as stderr:
        try:
            runs = train.make_plan(*train.parse([*argv, "--out", f"{directory}/run"])).runs
        except ConfigError:
            runs = None
    assume(runs is not None)
    run_period = batching.vmap_runs(runs.run_period_fn, runs.num_runs, in_axes=(0, 0, None))
    state, metrics = jax.eval_shape(run_period, runs.state_shape, runs.hp, jnp.zeros((), jnp.int32))
    assert jax.tree.structure(state) == jax.tree.structure(runs.state_shape), argv
    assert metrics["eval_return"].shape == (runs.keys.shape[0],), (argv, stderr.getvalue())
