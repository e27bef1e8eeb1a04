"""The mjx/ tasks against gymnasium's C MuJoCo: the rules, one step, resets, and SAC learning in the fused loop.

The full task x version matrix runs in `python -m envs.mjx_check` (envs/README.md); each task costs
one compilation of 30-70 s on a 2-core CPU (Humanoid 80-90 s), so the suite checks the physics on
InvertedPendulum-v4 only, the other tasks' rules on hand-made states, and the two MJX departures
from C that envs/mjx_envs.py undoes on a one-capsule model.
"""

import os
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agents import sac
from agents.engine.batching import broadcast, seed_keys
from agents.engine.loop import TrainConfig
from agents.engine.off_policy import train
from envs import mjx_check, mjx_envs
from reports import c_vs_mjx


def data(qpos=(), qvel=(), **fields):
    """A stand-in for mjx.Data with the fields a task's rules read."""
    return SimpleNamespace(qpos=jnp.asarray(qpos, jnp.float32), qvel=jnp.asarray(qvel, jnp.float32),
                           **{k: jnp.asarray(v, jnp.float32) for k, v in fields.items()})


def reward(name, before, after, ctrl, dt):
    value, terminated = mjx_envs.task_rules(name).reward(before, after, jnp.asarray(ctrl, jnp.float32), dt)
    return float(value), bool(terminated)


@pytest.mark.parametrize("version, survive", [("v4", 1.0), ("v5", 0.0)])
def test_hopper_pays_the_healthy_reward_on_the_failing_step_in_v4_only(version, survive):
    name = f"Hopper-{version}"
    before = data([0.0, 1.25, 0.0, 0, 0, 0], [0] * 6)
    healthy = data([0.008, 1.25, 0.1, 0, 0, 0], [0] * 6)
    # forward velocity 0.008 / dt = 1, control cost 1e-3 * 3
    assert reward(name, before, healthy, [1, 1, 1], 0.008) == pytest.approx((1 + 1 - 3e-3, False))
    for unhealthy in ([0.008, 1.25, 0.2, 0, 0, 0], [0.008, 0.7, 0, 0, 0, 0], [0.008, 1.25, 0, 0, 0, 100.0]):
        assert reward(name, before, data(unhealthy, [0] * 6), [1, 1, 1], 0.008) == pytest.approx((survive + 1 - 3e-3, True))
    assert reward(name, before, data([0.008, 1.25, 0, 0, 0, 0], [0, 0, 0, 0, 0, -100.0]), [0, 0, 0], 0.008)[1]


def test_walker_health_range_and_cheetah_never_terminates():
    before = data([0.0] * 9, [0] * 9)
    assert reward("Walker2d-v5", before, data([0, 1.9, 0.9] + [0] * 6, [0] * 9), [0] * 6, 0.008) == pytest.approx((1.0, False))
    assert reward("Walker2d-v5", before, data([0, 2.0, 0] + [0] * 6, [0] * 9), [0] * 6, 0.008) == pytest.approx((0.0, True))
    assert reward("Walker2d-v4", before, data([0, 0.8, 0] + [0] * 6, [0] * 9), [0] * 6, 0.008) == pytest.approx((1.0, True))
    # forward velocity 0.1 / 0.05 = 2, control cost 0.1 * 6 * 0.25
    assert reward("HalfCheetah-v4", before, data([0.1, -5] + [0] * 7, [0] * 9), [0.5] * 6, 0.05) == pytest.approx((2 - 0.15, False))


def test_pendulum_rewards_and_the_versions_observations():
    upright, fallen = data([0.1, 0.19], [0, 0]), data([0.1, -0.21], [0, 0])
    assert reward("InvertedPendulum-v4", upright, fallen, [0], 0.04) == (1.0, True)
    assert reward("InvertedPendulum-v5", upright, fallen, [0], 0.04) == (0.0, True)
    assert reward("InvertedPendulum-v5", upright, upright, [0], 0.04) == (1.0, False)
    state = data([0.5, 0.3, -0.2], [20, -1, 2], qfrc_constraint=[11, 2, -30], site_xpos=[[0.5, 0, 1.5]])
    v4, v5 = (mjx_envs.task_rules(f"InvertedDoublePendulum-{v}").observe(state) for v in ("v4", "v5"))
    expected = [0.5, np.sin(0.3), np.sin(-0.2), np.cos(0.3), np.cos(-0.2), 10, -1, 2, 10, 2, -10]
    np.testing.assert_allclose(v4, expected, rtol=1e-6)
    np.testing.assert_allclose(v5, expected[:9], rtol=1e-6)
    # alive bonus 10 - 0.01 x^2 - (y - 2)^2 - 1e-3 v1^2 - 5e-3 v2^2
    penalties = 0.01 * 0.25 + 0.25 + 1e-3 + 5e-3 * 4
    assert reward("InvertedDoublePendulum-v5", state, state, [0], 0.05) == pytest.approx((10 - penalties, False))
    low = data([0, 0, 0], [0, 0, 0], site_xpos=[[0, 0, 1.0]])
    assert reward("InvertedDoublePendulum-v4", low, low, [0], 0.05) == pytest.approx((10 - 1, True))
    assert reward("InvertedDoublePendulum-v5", low, low, [0], 0.05) == pytest.approx((-1, True))


def test_reacher_v4_rewards_the_distance_before_the_step_and_v5_after():
    xpos = np.zeros((5, 3))
    xpos[3], xpos[4] = [0.1, 0.0, 0.01], [0.1, 0.2, 0.01]  # fingertip, target
    near = data([0] * 4, [0] * 4, xpos=xpos)
    xpos[3] = [0.1, 0.1, 0.01]
    nearer = data([0] * 4, [0] * 4, xpos=xpos)
    assert reward("Reacher-v4", near, nearer, [0.5, 0], 0.02) == pytest.approx((-0.2 - 0.25, False))
    assert reward("Reacher-v5", near, nearer, [0.5, 0], 0.02) == pytest.approx((-0.1 - 0.25, False))
    assert mjx_envs.task_rules("Reacher-v4").observe(nearer).shape == (11,)
    assert mjx_envs.task_rules("Reacher-v5").observe(nearer).shape == (10,)


def test_reacher_goals_are_uniform_in_the_disc():
    noise = mjx_envs.task_rules("Reacher-v5").reset_noise
    qpos, qvel = jax.jit(jax.vmap(lambda key: noise(key, jnp.zeros(4), jnp.zeros(4))))(jax.random.split(jax.random.key(0), 4000))
    radius = np.linalg.norm(np.asarray(qpos[:, 2:]), axis=1)
    assert radius.max() < 0.2
    # uniform in the disc: P(r < 0.1) = 1/4, P(r < 0.2 / sqrt 2) = 1/2 (4000 draws: s.e. 0.007, 0.008)
    assert abs((radius < 0.1).mean() - 0.25) < 0.03 and abs((radius < 0.2 / np.sqrt(2)).mean() - 0.5) < 0.03
    assert np.all(np.asarray(qvel[:, 2:]) == 0) and np.abs(np.asarray(qvel[:, :2])).max() <= 0.005


def test_ids_specs_and_time_limits_are_gymnasium_s():
    assert {f"mjx/{n}" for n in mjx_envs.NAMES} <= set(envs.available())
    assert not envs.is_host_stepped("mjx/Hopper-v4")
    spec = envs.make("mjx/Reacher-v4").spec
    assert (spec.obs_shape, spec.action_dim, spec.max_episode_steps) == ((11,), 2, 50)
    spec = envs.make("mjx/Hopper-v5", max_episode_steps=7).spec
    assert (spec.obs_shape, spec.action_dim, spec.max_episode_steps) == ((11,), 3, 7)


def test_solver_caps_set_the_model_s_solver_and_bad_values_are_refused_in_one_line():
    assert mjx_envs.solver_caps("HalfCheetah-v4") == ("HalfCheetah-v4", (None, None))
    assert mjx_envs.solver_caps("HalfCheetah-v4:playground") == ("HalfCheetah-v4", (4, 8))
    assert mjx_envs.solver_caps("HalfCheetah-v4:brax") == ("HalfCheetah-v4", (1, 4))
    assert mjx_envs.solver_caps("Hopper-v4:ls_iterations=3") == ("Hopper-v4", (None, 3))
    for caps, (iterations, ls_iterations) in {"": (100, 50), ":brax": (1, 4), ":iterations=2,ls_iterations=6": (2, 6)}.items():
        _, mj_model, model, *_ = mjx_envs.make_physics(f"HalfCheetah-v4{caps}")
        assert (mj_model.opt.iterations, mj_model.opt.ls_iterations) == (iterations, ls_iterations)
        assert (model.opt.iterations, model.opt.ls_iterations) == (iterations, ls_iterations)
    assert envs.make("mjx/Hopper-v4:brax").spec.env_id == "mjx/Hopper-v4:brax"
    for bad in ("fast", "iterations=0", "ls_iterations=-1", "iterations=2.5", "iterations=4,iterations=5", "tolerance=1", ""):
        with pytest.raises(ValueError, match="positive integer|expected mjx/Hopper-v4:playground") as error:
            envs.make(f"mjx/Hopper-v4:{bad}")
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="unknown task 'Nope-v4'; choose from HalfCheetah-v4"):
        mjx_envs.solver_caps("Nope-v4:brax")
    with pytest.raises(envs.UnknownEnvError):  # caps belong to mjx/ ids only
        envs.make("gym/Hopper-v4:brax")


@pytest.mark.slow  # traces a batch of HalfCheetah steps, about 5 s
def test_the_line_search_stops_when_the_batch_has_converged():
    """MJX's line search is a scan of ls_iterations steps (each a cond, a select under vmap); the
    suite's step runs it as a while loop (envs/mjx_envs._line_search): the traced step of a batch
    holds no scan of that length, and the solver's while loops."""
    _, mj_model, _, reset_data, step_data, _ = mjx_envs.make_physics("HalfCheetah-v4")
    data = jax.eval_shape(jax.vmap(reset_data), jax.random.split(jax.random.key(0), 4))
    text = str(jax.make_jaxpr(jax.vmap(step_data))(data, jax.ShapeDtypeStruct((4, mj_model.nu), jnp.float32)))
    assert f"length={mj_model.opt.ls_iterations}" not in text
    assert text.count("while[") >= 2  # the Newton loop and the line search inside it
    with mjx_envs._patched():
        pass
    from mujoco.mjx._src import solver

    assert solver._while_loop_scan is not mjx_envs._line_search  # the patch holds only while tracing


def test_importing_mjx_prints_nothing_about_the_warp_implementation():
    """mujoco.mjx prints two "Failed to import warp" lines at import without the NVIDIA-only Warp
    package; the suite imports it through mjx_envs.import_mjx, which keeps any other line."""
    import subprocess
    import sys
    from pathlib import Path

    code = "from envs.mjx_envs import import_mjx; print(import_mjx().__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mujoco.mjx\n"


@pytest.mark.slow
def test_inverted_pendulum_steps_resets_and_falls_like_c_mujoco():
    """64 states of gymnasium rollouts, one step each in MJX and C; 1024 resets of each; 64 whole
    episodes of each from the same starts, closed loop (reports.c_vs_mjx; about 40 s: one
    compilation). Measured: observations within 5e-7, rewards and terminations equal, reset
    statistics within 1.4 standard errors, every episode as long in both."""
    name = "InvertedPendulum-v4"
    transitions = mjx_check.gymnasium_transitions(name)
    assert 3 <= transitions["terminated"].sum() < 64
    program = mjx_check.compare_program(name)
    args = [transitions[k] for k in ("qpos", "qvel", "warmstart", "action")]
    keys = jax.random.split(jax.random.key(0), mjx_check.RESETS)
    obs, reward_, terminated, *_ = program(*args, keys[: mjx_check.STATES])
    np.testing.assert_allclose(obs, transitions["obs"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(reward_, transitions["reward"])
    np.testing.assert_array_equal(terminated, transitions["terminated"])
    reset_obs = np.concatenate([np.asarray(program(*args, keys[i : i + mjx_check.STATES])[-1])
                                for i in range(0, mjx_check.RESETS, mjx_check.STATES)])
    mean_gap, std_gap = mjx_check.sampling_errors(reset_obs, mjx_check.gymnasium_resets(name))
    assert mean_gap.max() < 4 and std_gap.max() < 4, (mean_gap, std_gap)
    # and the check can fail: a reset noise twice gymnasium's is far outside the sampling error
    assert mjx_check.sampling_errors(2 * reset_obs, mjx_check.gymnasium_resets(name))[1].max() > 10
    # a pendulum left alone falls from its reset noise (after 19 to 58 steps, measured) at the same
    # step in both, and the two never separate before
    alone = c_vs_mjx.paired_episodes(lambda obs: np.zeros((len(obs), 1)), name, program, mjx_check.STATES, 0, 1000)
    np.testing.assert_array_equal(alone.mjx_length, alone.c_length)
    assert 10 < alone.c_length.min() and alone.c_length.max() < 100 and len(np.unique(alone.c_length)) > 5
    np.testing.assert_array_equal(alone.mjx_return, alone.c_length)  # v4 pays 1 per step, the falling one too
    np.testing.assert_array_equal(alone.separated, alone.c_length)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("OCCAM_SLOW_TESTS"), reason="about 3 min on a 2-core CPU, mostly compiling: set OCCAM_SLOW_TESTS=1")
def test_sac_balances_mjx_inverted_pendulum_in_the_fused_loop():
    """The settings of test_gym's host-stepped SAC test, fused: every seed reaches the maximum
    return 1000 at one of the evaluations within 6000 env steps (a uniform random policy's episodes
    last about 6 steps: return about 6). Measured, seed 0 alone (train.py, same settings): 24.5,
    63, 154.5, then 1000 from 4000 steps on; compile 244 s, run 57 s under load. This test, 2 seeds:
    passed in 162 s at load average about 20."""
    config = TrainConfig(
        agent="sac",
        agent_config=sac.Config(actor_width=64, critic_width=64, batch_size=128, learning_starts=1000, utd=4),
        env="mjx/InvertedPendulum-v4",
        total_steps=6000,
        eval_every=1000,
        eval_episodes=2,
    )
    seeds = 2
    _, metrics = jax.jit(jax.vmap(lambda h, k: train(config, h, k)))(
        broadcast(sac.Hyperparams(learning_rate=1e-3), seeds), seed_keys(0, seeds)
    )
    returns = np.asarray(metrics["eval_return"])
    assert (returns.max(axis=1) == 1000).all(), returns


def ant_data(z, x=0.0, qvel=None, cfrc_ext=None):
    qpos = np.zeros(15)
    qpos[2:4] = z, 1.0
    xpos = np.zeros((14, 3))
    xpos[1, 0] = x  # the torso
    return data(qpos, np.zeros(14) if qvel is None else qvel, xpos=xpos,
                cfrc_ext=np.zeros((14, 6)) if cfrc_ext is None else cfrc_ext)


def test_ant_health_contact_forces_and_the_versions_rewards():
    before, ctrl = ant_data(0.5), [0.5] * 8
    # torso x-velocity 0.05 / 0.05 = 1, healthy 1, control cost 0.5 * 8 * 0.25 = 1
    assert reward("Ant-v4", before, ant_data(0.5, x=0.05), ctrl, 0.05) == pytest.approx((1.0, False))
    assert reward("Ant-v4", before, ant_data(1.01, x=0.05), ctrl, 0.05) == pytest.approx((1.0, True))
    assert reward("Ant-v5", before, ant_data(1.01, x=0.05), ctrl, 0.05) == pytest.approx((0.0, True))
    assert reward("Ant-v5", before, ant_data(0.19, x=0.05), ctrl, 0.05)[1]
    assert reward("Ant-v4", before, ant_data(0.5, qvel=[np.nan] + [0] * 13), ctrl, 0.05)[1]
    forces = np.zeros((14, 6))
    forces[0, 0], forces[3, 2], forces[5, 5] = 7.0, 3.0, -0.5  # the world's row counts in the cost, not in the obs
    after = ant_data(1.0, x=0.05, cfrc_ext=forces)  # z = 1 is healthy: a closed interval
    assert reward("Ant-v5", before, after, ctrl, 0.05) == pytest.approx((1.0 - 5e-4 * (1 + 1 + 0.25), False))
    assert reward("Ant-v4", before, after, ctrl, 0.05) == pytest.approx((1.0, False))
    v4, v5 = (mjx_envs.task_rules(f"Ant-{v}").observe(after) for v in ("v4", "v5"))
    np.testing.assert_array_equal(v4, np.concatenate([after.qpos[2:], after.qvel]))
    np.testing.assert_array_equal(v5, np.concatenate([v4, np.clip(forces, -1, 1)[1:].ravel()]))
    assert (v4.shape, v5.shape) == ((27,), (105,))


def humanoid_data(z, x=0.0, cfrc_ext=0.0):
    qpos = np.zeros(24)
    qpos[2:4] = z, 1.0
    xipos = np.zeros((14, 3))
    xipos[1:, 0] = x
    return data(qpos, np.arange(23), xipos=xipos, cinert=np.arange(140).reshape(14, 10), cvel=-np.arange(84).reshape(14, 6),
                qfrc_actuator=100 + np.arange(23), cfrc_ext=np.full((14, 6), cfrc_ext))


def test_humanoid_observes_the_com_quantities_and_rewards_the_mass_centre_velocity():
    before, ctrl = humanoid_data(1.4), [0.4] * 17
    # every body but the massless world moves 0.015 in x: the centre of mass too, at 0.015 / 0.015 = 1
    after = humanoid_data(1.4, x=0.015)
    control_cost = 0.1 * 17 * 0.16
    assert reward("Humanoid-v4", before, after, ctrl, 0.015) == pytest.approx((1.25 + 5 - control_cost, False), rel=1e-5)
    assert reward("Humanoid-v4", before, humanoid_data(1.0), ctrl, 0.015) == pytest.approx((5 - control_cost, True))
    assert reward("Humanoid-v5", before, humanoid_data(2.0), ctrl, 0.015) == pytest.approx((-control_cost, True))
    # contact cost 5e-7 * 84 * 10^2, and at most 10
    assert reward("Humanoid-v5", before, humanoid_data(1.4, cfrc_ext=10.0), ctrl, 0.015)[0] == pytest.approx(5 - control_cost - 4.2e-3)
    assert reward("Humanoid-v5", before, humanoid_data(1.4, cfrc_ext=1e3), ctrl, 0.015)[0] == pytest.approx(5 - control_cost - 10)
    v4, v5 = (mjx_envs.task_rules(f"Humanoid-{v}").observe(after) for v in ("v4", "v5"))
    assert (v4.shape, v5.shape) == ((376,), (348,))
    np.testing.assert_array_equal(v4[22:45], np.arange(23))
    np.testing.assert_array_equal(v4[45:185], np.arange(140))
    np.testing.assert_array_equal(v5[45:175], np.arange(10, 140))  # v5 drops the world body's rows
    np.testing.assert_array_equal(v5[175:253], -np.arange(6, 84))
    np.testing.assert_array_equal(v5[253:270], 106 + np.arange(17))  # and the free joint's actuator forces


CAPSULE_ON_A_PLANE = """
<mujoco>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body>
      <freejoint/>
      <geom type="capsule" size="0.05 0.2"/>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.mark.slow
def test_forward_makes_c_s_contact_frames_and_keeps_the_unnormalized_quaternion():
    """A capsule 20 degrees off the vertical (steeper than MJX's 60-degree switch to a fixed tangent),
    its lower end in the plane, sliding diagonally so that friction sits on the pyramid's edges, and
    a quaternion 1.1 times a unit one (as gymnasium's reset noise leaves it)."""
    import mujoco
    from mujoco import mjx

    c_model = mujoco.MjModel.from_xml_string(CAPSULE_ON_A_PLANE)
    c_data = mujoco.MjData(c_model)
    tilt = np.deg2rad(20.0)
    axis = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
    quaternion = 1.1 * np.concatenate([[np.cos(tilt / 2)], np.sin(tilt / 2) * axis])
    c_data.qpos[:] = np.concatenate([[0.0, 0.0, 0.2 * np.cos(tilt) + 0.045], quaternion])
    c_data.qvel[:] = [1.0, 0.5, 0.0, 0.0, 0.0, 0.0]
    mujoco.mj_forward(c_model, c_data)
    assert c_data.ncon == 1
    model = mjx.put_model(c_model, impl="jax")
    loaded = mjx.make_data(model, impl="jax").replace(qpos=jnp.asarray(c_data.qpos, jnp.float32), qvel=jnp.asarray(c_data.qvel, jnp.float32))
    ours = jax.jit(mjx_envs.forward)(model, loaded)
    theirs = jax.jit(mjx.forward)(model, loaded)
    active = np.flatnonzero(np.asarray(ours._impl.contact.dist) < 0)
    np.testing.assert_allclose(np.asarray(ours._impl.contact.frame)[active], c_data.contact.frame.reshape(-1, 3, 3), atol=1e-6)
    np.testing.assert_allclose(ours.qacc, c_data.qacc, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.qpos, loaded.qpos)
    # MJX's own pass turns the friction pyramid and normalizes qpos
    assert np.abs(np.asarray(theirs.qacc) - c_data.qacc).max() > 0.1
    np.testing.assert_allclose(np.linalg.norm(theirs.qpos[3:]), 1.0, rtol=1e-6)


@pytest.mark.slow
def test_the_line_search_skips_flat_brackets_and_converged_envs_and_the_physics_is_unchanged(monkeypatch):
    """16 capsules dropped on a plane at random tilts and velocities, 30 vmapped steps, counting each
    line search's iterations (about 30 s: two compilations). MJX's own search, as a plain while loop,
    ran 25 iterations for the whole batch where one env's first bracket already held the minimum to
    float32 precision, and searched for envs whose Newton loop had ended; the suite's stops those at
    once (envs/mjx_envs._line_search, _gated_linesearch). Measured, the batch's longest env per
    search: 11.8 iterations on average before, 44% of the 110 searches at 20 or more; 1.1 after, one
    search (a bracket that needed it) at 25; the states after 30 steps bit-identical."""
    import mujoco
    from mujoco import mjx

    model = mjx.put_model(mujoco.MjModel.from_xml_string(CAPSULE_ON_A_PLANE), impl="jax")
    n, rng = 16, np.random.default_rng(0)
    tilt = rng.uniform(0.0, 1.5, n)
    qpos = np.stack([np.zeros(n), np.zeros(n), 0.06 + 0.1 * rng.uniform(size=n), np.cos(tilt / 2), np.sin(tilt / 2),
                     np.zeros(n), np.zeros(n)], axis=1)
    blank = mjx.make_data(model, impl="jax")
    start = jax.vmap(lambda q, v: blank.replace(qpos=q, qvel=v))(
        jnp.asarray(qpos, jnp.float32), jnp.asarray(rng.normal(size=(n, 6)), jnp.float32)
    )

    def rollout(line_search):
        counts = []

        def counted(cond_fun, body_fun, init_val, max_iter):
            out = line_search(cond_fun, body_fun, init_val, max_iter)
            continues = mjx_envs._NEWTON_CONTINUES[-1] if mjx_envs._NEWTON_CONTINUES else jnp.ones((), bool)
            jax.debug.callback(lambda i, c: counts.append((np.asarray(i), np.asarray(c))), out.ls_iter, continues)
            return out

        with monkeypatch.context() as patch:
            patch.setattr(mjx_envs, "_line_search", counted)
            step = jax.vmap(lambda d: mjx_envs.step(model, d))
            end = jax.jit(lambda d: jax.lax.scan(lambda d, _: (step(d), None), d, None, length=30)[0])(start)
        iterations, continues = (np.array([c[k] for c in counts]).reshape(-1, n) for k in (0, 1))
        return end, iterations, continues.astype(bool)

    end, iterations, continues = rollout(mjx_envs._line_search)
    with monkeypatch.context() as patch:  # MJX's search as a plain while loop, every env searching
        patch.setattr(mjx_envs, "_gated_linesearch", lambda linesearch: linesearch)
        before, iterations_before, _ = rollout(lambda c, b, init, m: jax.lax.while_loop(c, b, init))
    longest, longest_before = iterations.max(axis=1), iterations_before.max(axis=1)  # per search, over the batch
    assert (longest_before >= 20).mean() > 0.3 and longest_before.mean() > 5
    assert (longest >= 20).mean() < 0.03 and longest.mean() < 2
    assert (~continues).any() and iterations[~continues].max() == 0
    np.testing.assert_array_equal(end.qpos, before.qpos)
    np.testing.assert_array_equal(end.qvel, before.qvel)
