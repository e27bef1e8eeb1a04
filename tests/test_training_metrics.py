"""Training metrics of a period: means over the updates that happened (NaN entries of delayed actor
updates skipped), last values, parameter norms and batch (re)normalization statistics, recomputed
by hand from a tiny fused TD3 run whose every iteration's metrics are kept."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import crossq, td3

from agents.engine import loop, off_policy, training_metrics
from agents.common import resolve_gamma


def test_totals_skip_nan_entries_and_updates_that_did_not_happen():
    totals = training_metrics.start({"actor_loss": None, "alpha": None})
    totals = training_metrics.add(totals, {"actor_loss": jnp.array([np.nan, 2.0, 4.0]), "alpha": jnp.array([1.0, 0.5, 0.25])}, jnp.array(True))
    totals = training_metrics.add(totals, {"actor_loss": jnp.array([8.0, 8.0, 8.0]), "alpha": jnp.array([9.0, 9.0, 9.0])}, jnp.array(False))
    totals = training_metrics.add(totals, {"actor_loss": jnp.array([6.0, np.nan, np.nan]), "alpha": jnp.array([0.2, 0.1, 0.05])}, jnp.array(True))
    means = training_metrics.means(totals)
    np.testing.assert_allclose(means["actor_loss"], 4.0)  # (2 + 4 + 6) / 3
    np.testing.assert_allclose(means["alpha"], np.mean([1.0, 0.5, 0.25, 0.2, 0.1, 0.05]), rtol=1e-6)
    np.testing.assert_allclose(means["alpha_last"], 0.05)
    empty = training_metrics.means(training_metrics.start({"alpha": None}))
    assert np.isnan(empty["alpha"]) and np.isnan(empty["alpha_last"])


@pytest.mark.slow
def test_a_period_reports_the_mean_over_its_updates_and_the_networks_at_its_end():
    agent_config = td3.Config(actor_width=8, critic_width=8, batch_size=4, learning_starts=4, policy_delay=3)
    config = loop.TrainConfig.of("td3", agent_config, loop.RunConfig(total_steps=24, eval_every=12, eval_episodes=1))
    env = off_policy.jittable_env(config)
    hp = loop.as_arrays(resolve_gamma(td3.Hyperparams(), env.spec.max_episode_steps))

    def period_and_each_update(key):
        """The period's metrics, and the metrics each iteration's carry holds (one update each: utd
        1, one env), to average by hand."""
        run = off_policy.fresh_run(config, env, hp, key)

        def iteration(carry, index):
            carry, _ = off_policy.iteration(config, env, hp, carry, index)
            return carry, carry.metrics

        carry, each = jax.lax.scan(iteration, off_policy.start_period(config, hp, run), jnp.arange(12))
        end = off_policy.end_period(config, run, carry, 0)
        return end, off_policy.period_metrics(config, end, carry, jnp.zeros(1), jnp.zeros(1), 0), each

    end, metrics, each = jax.jit(period_and_each_update)(jax.random.key(3))
    learning = slice(off_policy.first_learning_iteration(config), None)
    updates = [{name: float(values[i]) for name, values in each.items()} for i in range(12)][learning]
    assert len(updates) == 9
    for name in ("critic_loss", "mean_q", "critic_grad_norm"):
        np.testing.assert_allclose(metrics[name], np.mean([u[name] for u in updates]), rtol=2e-5, err_msg=name)
    for name in ("actor_loss", "actor_grad_norm"):  # the actor moves every third update: 3 of 9
        values = [u[name] for u in updates]
        assert np.isnan(values).sum() == 6
        np.testing.assert_allclose(metrics[name], np.nanmean(values), rtol=2e-5, err_msg=name)
    for network in ("actor", "critic"):
        params = np.concatenate([np.ravel(p) for p in jax.tree.leaves(getattr(end.agent, network).params)])
        np.testing.assert_allclose(metrics[f"{network}_param_norm"], np.linalg.norm(params), rtol=1e-5)
    assert not any(name.endswith(("_bn_abs_mean", "_last")) or name.startswith("rsnorm") for name in metrics)


def test_batch_renorm_statistics_are_read_per_network():
    spec = off_policy.envs.make("gymnax/Pendulum-v1").spec
    state = crossq.init(jax.random.key(0), spec, crossq.Config(actor_width=8, critic_width=8), crossq.Hyperparams())
    rng = np.random.default_rng(0)
    moved = jax.tree_util.tree_map_with_path(
        lambda path, v: jnp.asarray(rng.uniform(-2 if path[-1].key == "mean" else 0.1, 2, v.shape), v.dtype)
        if path[-1].key in ("mean", "var") else v,
        state.critic.stats,
    )
    metrics = training_metrics.network_metrics(state.replace(critic=state.critic.replace(stats=moved)))
    flat = jax.tree_util.tree_flatten_with_path(moved)[0]
    means = np.concatenate([np.ravel(v) for path, v in flat if path[-1].key == "mean"])
    variances = np.concatenate([np.ravel(v) for path, v in flat if path[-1].key == "var"])
    np.testing.assert_allclose(metrics["critic_bn_abs_mean"], np.mean(np.abs(means)), rtol=1e-6)
    np.testing.assert_allclose(metrics["critic_bn_sigma"], np.mean(np.sqrt(variances)), rtol=1e-6)
    np.testing.assert_allclose(metrics["actor_bn_abs_mean"], 0.0)  # fresh: mean 0, var 1
    np.testing.assert_allclose(metrics["actor_bn_sigma"], 1.0)
    assert set(metrics) == {f"{n}_{m}" for n in ("actor", "critic") for m in ("param_norm", "bn_abs_mean", "bn_sigma")}


@pytest.mark.slow
def test_probe_every_adds_each_run_s_simplicity_scores_to_metrics_csv(tmp_path, capsys):
    import csv

    import train
    from probe import trained

    out = tmp_path / "probed"
    flags = ["sac", "--seeds", "2", "--total-steps", "300", "--eval-every", "100", "--eval-episodes", "1",
             "--learning-starts", "50", "--batch-size", "16", "--actor-width", "8", "--critic-width", "8",
             "--probe-every", "3", "--probe-grid-size", "8"]
    assert train.main([*flags, "--out", str(out)]) == 0
    assert "probe" in capsys.readouterr().out.splitlines()[-1]  # the probe's seconds follow its evaluation
    with (out / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    names = ("critic_simplicity", "actor_simplicity")
    assert [tuple(row[name] == "" for name in names) for row in rows] == [(True, True)] * 4 + [(False, False)] * 2
    # the scores of the runs' final networks, probed again from the last checkpoint
    config, state = trained.load_run(str(out))
    scores = trained.simplicity_scores(config, state, jax.random.key(0), 8)
    for name in names:
        assert all(0 < float(row[name]) < np.inf for row in rows[4:])
        np.testing.assert_allclose([float(row[name]) for row in rows[4:]], scores[name], rtol=1e-6, err_msg=name)
    assert train.main(["ppo", "--probe-every", "1", "--out", str(tmp_path / "ppo")], check_only=True) == 2
    assert capsys.readouterr().err.strip() == (
        "error: ppo has no flag --probe-every: the spectral probe reads the critic and actor of off-policy agents")
