"""SimBa networks and RSNorm: the running statistics, the published parameter count, the switches,
and the loop's use of RSNorm (raw observations stored, batches normalized, stats not moved by updates)."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import AGENTS, sac

from agents.engine import off_policy
from agents.common import resolve_gamma
from agents.engine.loop import TrainConfig
from networks import CriticEnsemble, NetworkSpec, make_torso, rsnorm
from rundir.stats import iqm


def reference_stream_stats(chunks):
    """float64 numpy running statistics with the SimBa prior (mean 0, var 1, count 1e-4)."""
    mean, var, count = 0.0, 1.0, 1e-4
    for chunk in chunks:
        n = len(chunk)
        delta = chunk.mean(axis=0) - mean
        total = count + n
        mean = mean + delta * n / total
        var = (var * count + chunk.var(axis=0) * n + delta**2 * count * n / total) / total
        count = total
    return mean, var, count


def split_in_chunks(data, sizes):
    chunks, start, index = [], 0, 0
    while start < len(data):
        size = sizes[index % len(sizes)]
        chunks.append(data[start : start + size])
        start, index = start + size, index + 1
    return chunks


def test_rsnorm_matches_numpy_over_chunks_of_different_sizes():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3000, 4)) * np.array([1.0, 5.0, 0.1, 2.0]) + np.array([0.0, -3.0, 7.0, 1.0])
    chunks = split_in_chunks(data, [1, 5, 64, 17, 256])
    stats = rsnorm.init((4,))
    for chunk in chunks:
        stats = rsnorm.update(stats, jnp.asarray(chunk, jnp.float32))
    mean, var, count = reference_stream_stats(chunks)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats.var, var, rtol=1e-4)
    np.testing.assert_allclose(stats.count, count, rtol=1e-6)
    obs = jnp.asarray(data[:10], jnp.float32)
    np.testing.assert_allclose(rsnorm.normalize(stats, obs), (data[:10] - mean) / np.sqrt(var + 1e-8), rtol=1e-4, atol=1e-4)


def test_rsnorm_is_stable_over_a_long_stream_with_a_large_offset():
    """200k float32 observations around 1e4: the mean stays within 2 float32 ulps of float64's
    (float32 cannot hold it closer), the variance within 0.1%: no drift, no cancellation."""
    rng = np.random.default_rng(1)
    scales = np.array([1.0, 10.0, 0.01])
    data = 1e4 + rng.normal(size=(200_000, 3)) * scales
    chunks = split_in_chunks(data, [1, 7, 64, 1000])
    update = jax.jit(rsnorm.update)
    stats = rsnorm.init((3,))
    for chunk in chunks:
        stats = update(stats, jnp.asarray(chunk, jnp.float32))
    mean, var, _ = reference_stream_stats(chunks)
    assert np.all(np.abs(np.asarray(stats.mean) - mean) <= 2 * np.spacing(np.float32(1e4)))
    np.testing.assert_allclose(stats.var, var, rtol=1e-3)


def test_simba_critic_has_the_published_parameter_count():
    """Width 512, 2 blocks: 4,203,009 + 512 * d_in + 512 per critic (d_in = obs + action dims)."""
    obs_dim, action_dim = 17, 6
    critic = CriticEnsemble(NetworkSpec("simba", 512, 2), num_critics=2)
    variables = critic.init(jax.random.key(0), jnp.zeros((1, obs_dim)), jnp.zeros((1, action_dim)))
    count = sum(leaf.size for leaf in jax.tree.leaves(variables))
    assert count == 2 * (4_203_009 + 512 * (obs_dim + action_dim) + 512)


def test_simba_block_computes_the_paper_formula():
    """One block with LayerNorm: h + W2 relu(W1 LN(h) + b1) + b2 on the embedding, then LN."""
    spec = NetworkSpec("simba", width=8, depth=1)
    torso = make_torso(spec)
    x = jax.random.normal(jax.random.key(1), (5, 3))
    params = torso.init(jax.random.key(2), x)["params"]
    # perturb the zero-initialized biases so the check covers them
    params = jax.tree.map(lambda p: p + 0.1, params)
    out = np.asarray(torso.apply({"params": params}, x))

    def layer_norm(v, p):
        v = (v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + 1e-6)
        return v * np.asarray(p["scale"]) + np.asarray(p["bias"])

    def dense(v, p):
        return v @ np.asarray(p["kernel"]) + np.asarray(p["bias"])

    h = dense(np.asarray(x), params["Dense_0"])
    h = h + dense(np.maximum(dense(layer_norm(h, params["LayerNorm_0"]), params["Dense_1"]), 0), params["Dense_2"])
    np.testing.assert_allclose(out, layer_norm(h, params["LayerNorm_1"]), rtol=1e-4, atol=1e-5)
    assert params["Dense_1"]["kernel"].shape == (8, 32)


def test_initialization_follows_the_paper():
    torso = make_torso(NetworkSpec("simba", width=16, depth=1))
    params = torso.init(jax.random.key(0), jnp.zeros((1, 16)))["params"]
    embedding = np.asarray(params["Dense_0"]["kernel"])
    np.testing.assert_allclose(embedding.T @ embedding, np.eye(16), atol=1e-5)  # orthogonal
    for name in ("Dense_0", "Dense_1", "Dense_2"):
        assert not np.any(np.asarray(params[name]["bias"]))


@pytest.mark.parametrize(
    "switches, removed",
    [({"residual": False}, None), ({"post_norm": False}, "LayerNorm_1"), ({"norm": "batch_renorm"}, "LayerNorm_0")],
)
def test_ablation_switches_change_the_network(switches, removed):
    spec = NetworkSpec("simba", width=8, depth=1, **switches)
    torso = make_torso(spec)
    x = jax.random.normal(jax.random.key(1), (6, 3))
    variables = torso.init(jax.random.key(2), x)
    full = make_torso(NetworkSpec("simba", width=8, depth=1))
    full_out = full.apply(full.init(jax.random.key(2), x), x)
    out = torso.apply(variables, x)
    assert not np.allclose(out, full_out)
    if removed:
        assert removed not in variables["params"]


def test_simba_flags_on_mlp_agents_are_refused_with_the_fix():
    import train

    assert train.main(["sac", "--no-simba-residual"], check_only=True) == 2
    assert train.main(["td3", "--critic-norm", "layer_norm"], check_only=True) == 2
    assert train.main(["sac", "--obs-norm", "rs"], check_only=True) == 2
    assert train.main(["ddpg", "--critic-net", "simba", "--no-simba-residual", "--obs-norm", "none"], check_only=True) == 0


def test_bad_specs_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="switches of simba"):
        NetworkSpec("mlp", residual=False)
    with pytest.raises(ValueError, match="layer_norm"):
        NetworkSpec("mlp", norm="layer_norm")


def small_simba_config(**overrides):
    preset = sac.PRESETS["simba"]
    config = dataclasses.replace(
        preset.config, actor_width=8, critic_width=8, batch_size=4, learning_starts=4, **overrides
    )
    return TrainConfig(agent="sac", agent_config=config, total_steps=16, eval_every=8, eval_episodes=1), resolve_gamma(preset.hyperparams, 200)


def first_period(config, hp):
    """(state, metrics) of the first evaluation period of one run."""
    env = off_policy.jittable_env(config)
    hp = jax.tree.map(jnp.asarray, hp)
    state = jax.jit(functools.partial(off_policy.fresh_run, config, env))(hp, jax.random.key(0))
    return jax.jit(functools.partial(off_policy.run_period, config, env))(state, hp, jnp.int32(0))


@pytest.mark.slow
def test_the_loop_keeps_raw_observations_and_statistics_of_collected_ones():
    state, _ = first_period(*small_simba_config())
    replay = state.buffer
    stored = np.asarray(replay.data.obs[: int(replay.size)])
    # raw Pendulum observations: cos, sin in [-1, 1] and the angular velocity in [-8, 8]
    assert np.all(np.abs(stored[:, :2]) <= 1.0) and np.any(np.abs(stored[:, 2]) > 0)
    # statistics of the initial observation and the 8 collected next observations
    collected = np.concatenate([stored[:1], np.asarray(replay.data.next_obs[:8])])
    mean, var, count = reference_stream_stats([collected[:1], *np.split(collected[1:], 8)])
    np.testing.assert_allclose(state.obs_stats.count, count, rtol=1e-6)
    np.testing.assert_allclose(state.obs_stats.mean, mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(state.obs_stats.var, var, rtol=1e-4)


@pytest.mark.slow
def test_updates_see_batches_normalized_with_the_current_statistics(monkeypatch):
    """The buffer holds raw observations; each sampled batch reaches the update normalized with the
    statistics of the observations collected so far (the test above shows updates never move them)."""

    batches = []

    def spy_update(config, hp, agent_state, batch, key, update_index):
        jax.debug.callback(lambda obs: batches.append(np.asarray(obs)), batch.obs, ordered=True)
        return agent_state, {"critic_loss": jnp.float32(0)}

    monkeypatch.setitem(AGENTS, "sac", dataclasses.replace(sac.AGENT, update=spy_update))
    state, _ = first_period(*small_simba_config())
    jax.effects_barrier()
    last_batch = batches[-1]
    replay = state.buffer
    # the last update ran before the 8th next observation was folded into the statistics
    collected = np.concatenate([np.asarray(replay.data.obs[:1]), np.asarray(replay.data.next_obs[:7])])
    mean, var, _ = reference_stream_stats([collected[:1], *np.split(collected[1:], 7)])
    raw = last_batch * np.sqrt(var + 1e-8) + mean
    stored = np.asarray(replay.data.obs[:8])
    for row in raw:
        assert np.min(np.abs(stored - row).max(axis=1)) < 1e-4
    assert not np.allclose(last_batch, raw)


@pytest.mark.slow
def test_simba_sac_solves_pendulum(pendulum_returns):
    """The simba-sac preset with small widths (actor 1 x 16, critic 1 x 32), batch 128 and learning
    rate 1e-3 (the preset's 1e-4 needs a longer budget): 3 seeds, 8000 steps; the IQM of the final
    return > -250. With the published configuration otherwise (2 critics, log-std by tanh in
    [-10, 2], actor first, temperature decay, gamma auto: 0.975 on Pendulum's 200 steps), seeds 0-8,
    run as these triplets, ended between -126 and -293 (triplet IQMs -205, -205, -188); at the
    preset's batch 256 the run takes twice as long. At 6000 steps a float-level change (9 seeds
    batched instead of 3) once turned one seed's -243 into -443, hence the longer budget."""
    preset = sac.SIMBA
    config = dataclasses.replace(
        preset.config, actor_width=16, critic_width=32, critic_depth=1, learning_starts=1000, batch_size=128
    )
    final = pendulum_returns("simba-sac", config, preset.hyperparams.replace(learning_rate=1e-3), 8000, 2000)
    assert iqm(final) > -250, final
