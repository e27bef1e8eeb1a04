"""The settings each preset takes from its source, and the small rules in which the sources differ:
the actor's log-std bounds, the temperature loss, the update order, the discount heuristic."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import train
from agents import actor_critic, crossq, sac, td3
from agents.common import Transition, auto_gamma, resolve_gamma
from envs import EnvSpec
from networks import NetworkSpec, TanhGaussianActor

SPEC = EnvSpec("test", (3,), 200, action_dim=2)


def log_std_for(raw: float, mode: str, low: float, high: float) -> np.ndarray:
    """The actor's log-std when its log-std layer outputs `raw` everywhere."""
    actor = TanhGaussianActor(NetworkSpec("mlp", 4, 1), 2, low, high, mode)
    variables = actor.init(jax.random.key(0), jnp.zeros((1, 3)))
    head = variables["params"]["Dense_1"]
    variables["params"]["Dense_1"] = {"kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.full_like(head["bias"], raw)}
    return np.asarray(actor.apply(variables, jnp.ones((1, 3)))[1])


def test_log_std_clip_and_tanh_modes():
    # clip (SB3, SBX, CrossQ): the raw output itself inside the bounds, so std starts at 1
    np.testing.assert_allclose(log_std_for(0.0, "clip", -20, 2), 0.0)
    np.testing.assert_allclose(log_std_for(-30.0, "clip", -20, 2), -20.0)
    np.testing.assert_allclose(log_std_for(5.0, "clip", -20, 2), 2.0)
    # tanh (SimBa): the midpoint of [-10, 2] at zero, the bounds approached smoothly
    np.testing.assert_allclose(log_std_for(0.0, "tanh", -10, 2), -4.0)
    np.testing.assert_allclose(log_std_for(1.0, "tanh", -10, 2), -10 + 6 * (np.tanh(1.0) + 1), rtol=1e-6)


def test_presets_take_their_sources_log_std_and_temperature_loss():
    for config in (crossq.PRESETS["paper"].config, crossq.PRESETS["cpu"].config, sac.PAPER.config):
        assert (config.log_std_mode, config.log_std_min, config.log_std_max) == ("clip", -20.0, 2.0)
        assert config.temperature_loss == "alpha"
    simba = sac.SIMBA
    assert simba is sac.SIMBA
    assert (simba.config.log_std_mode, simba.config.log_std_min, simba.config.log_std_max) == ("tanh", -10.0, 2.0)
    assert simba.config.temperature_loss == "alpha" and simba.config.actor_first
    # clipped double Q on all five MuJoCo tasks (critic_use_cdq: ${env.episodic}, episodic: true)
    assert simba.config.num_critics == 2 and simba.hyperparams.gamma == "auto"
    # SB3's SAC is the default
    assert (sac.Config().log_std_mode, sac.Config().temperature_loss) == ("clip", "log_alpha")


@pytest.mark.parametrize("form, scale", [("log_alpha", 1.0), ("alpha", 0.3)])
def test_temperature_loss_forms(form, scale):
    """d/d log_alpha: (H - H_target) for SB3/SBX, alpha (H - H_target) for the CrossQ and SimBa authors."""
    log_prob, target_entropy = jnp.array([-0.5, 1.5]), -2.0  # H = -0.5, H - H_target = 1.5
    grad = jax.grad(actor_critic.temperature_loss)(jnp.log(0.3), log_prob, target_entropy, form)
    np.testing.assert_allclose(grad, scale * 1.5, rtol=1e-6)


def test_auto_gamma_is_the_td_mpc2_heuristic():
    assert auto_gamma(1000) == pytest.approx(0.995)
    assert auto_gamma(200) == pytest.approx(0.975)
    assert auto_gamma(50) == 0.95 and auto_gamma(100_000) == 0.995
    assert resolve_gamma(sac.Hyperparams(gamma="auto"), 1000).gamma == pytest.approx(0.995)
    assert resolve_gamma(sac.Hyperparams(gamma=0.9), 1000).gamma == 0.9


def test_gamma_auto_is_resolved_before_compiling_and_recorded(tmp_path):
    plan = train.make_plan(*train.parse(["simba-sac", "--env", "gymnax/Pendulum-v1", "--out", str(tmp_path / "run")]))
    assert json.loads(json.dumps(plan.resolved))["hyperparams"]["gamma"] == pytest.approx(auto_gamma(200))
    np.testing.assert_allclose(np.asarray(plan.runs.hp.gamma), auto_gamma(200))


def batch() -> Transition:
    rng = np.random.default_rng(0)
    return Transition(
        obs=jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
        action=jnp.asarray(rng.uniform(-1, 1, size=(8, 2)), jnp.float32),
        reward=jnp.asarray(rng.normal(size=(8,)), jnp.float32),
        next_obs=jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
        terminated=jnp.zeros((8,), jnp.float32),
    )


def tree_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.slow
@pytest.mark.parametrize("actor_first", [True, False])
def test_update_order(actor_first):
    """SimBa's order: the actor ascends the critics as they were before this update; SB3's: the updated ones."""
    config = sac.Config(actor_width=8, critic_width=8, actor_first=actor_first)
    hp = sac.Hyperparams()
    state = sac.init(jax.random.key(0), SPEC, config, hp)
    key = jax.random.key(1)
    new_state, _ = jax.jit(sac.update, static_argnums=0)(config, hp, state, batch(), key, 0)
    actor_key = jax.random.split(key)[1]
    from_old_critics, _ = jax.jit(sac.update_actor_and_alpha, static_argnums=0)(config, hp, state, batch(), actor_key)
    assert tree_equal(new_state.actor.variables, from_old_critics.actor.variables) == actor_first


@pytest.mark.slow  # two compiles of SAC's update, about 8 s
def test_temperature_weight_decay_follows_the_setting():
    """With the setting on, AdamW's decoupled decay also pulls log_alpha towards 0 by lr * wd * log_alpha."""
    hp = sac.Hyperparams(learning_rate=1e-2, weight_decay=0.5, initial_alpha=0.01)
    updated = {}
    for decay in (False, True):
        config = sac.Config(actor_width=8, critic_width=8, temperature_weight_decay=decay)
        state = sac.init(jax.random.key(0), SPEC, config, hp)
        updated[decay] = float(jax.jit(sac.update, static_argnums=0)(config, hp, state, batch(), jax.random.key(1), 0)[0].log_alpha.params)
    np.testing.assert_allclose(updated[True] - updated[False], -1e-2 * 0.5 * np.log(0.01), rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("module, delay", [(crossq, 3), (td3, 2)])
def test_first_actor_update_comes_at_the_policy_delay_th_critic_update(module, delay):
    """The authors' phase, (n + 1) % d == 0: updates 0 .. d-2 leave the actor alone, update d-1 moves it."""
    config = module.Config(actor_width=8, critic_width=8, policy_delay=delay)
    hp = module.Hyperparams()
    state = module.init(jax.random.key(0), SPEC, config, hp)
    update = jax.jit(module.update, static_argnums=0)
    moved = [not tree_equal(state.actor.params, update(config, hp, state, batch(), jax.random.key(1), n)[0].actor.params)
             for n in range(delay + 1)]
    assert moved == [False] * (delay - 1) + [True, False]


def test_crossq_wn_paper_preset_is_the_authors_configuration():
    """danielpalenicek/xqc@9a6832bb conf/agent/crossq_wn.yaml over base_agent.yaml and conf/config.yaml
    (XQC's own preset is pinned against reports.published.PUBLISHED_CONFIGS["xqc"] in test_ledger)."""
    from agents import crossq_wn

    preset = crossq_wn.PRESETS["paper"]
    settings = {**dataclasses.asdict(preset.config), **dataclasses.asdict(preset.hyperparams)}
    authors = dict(
        critic_width=512, critic_depth=2, actor_width=256, actor_depth=2, actor_norm="batch_norm",
        critic_norm="batch_norm", norm_position="post", weight_norm=True, normalize_last_layer=False,
        critic_loss="mse", reward_norm=False, decay_bn=True, weight_decay=0.01, learning_rate=3e-4,
        final_learning_rate=3e-5, lr_decay_updates=2_000_000, policy_delay=3, utd=2, batch_size=256,
        learning_starts=5000, buffer_size=1_000_000, tau=0.005, initial_alpha=0.01, target_entropy_scale=0.5,
        gamma="auto", num_critics=2, log_std_min=-10.0, log_std_max=2.0, log_std_mode="clip", temperature_loss="alpha",
    )
    assert {name: settings[name] for name in authors} == authors


@pytest.mark.slow  # compiles each agent's update: 6-12 s
@pytest.mark.parametrize("agent", ["xqc", "crossq-wn"])
def test_xqc_steps_the_actor_and_temperature_at_updates_0_3_6_and_moves_the_actor_statistics_at_every_update(agent):
    """optax.conditionally_mask(step % 3 == 0) around the actor's and the temperature's optimizers:
    both move at update 0 and every third update after, the actor's batch statistics at every update."""
    from agents import AGENTS, xqc

    record = AGENTS[agent]
    preset = record.presets["cpu"]
    config = dataclasses.replace(preset.config, actor_width=8, critic_width=8, actor_depth=1, critic_depth=1)
    hp = resolve_gamma(preset.hyperparams, 200)
    state = record.observe(config, hp, record.init(jax.random.key(0), SPEC, config, hp), None, jnp.zeros(1, bool))
    keys = jax.random.split(jax.random.key(1), 5)
    batch = Transition(jax.random.normal(keys[0], (16, 3)), jnp.tanh(jax.random.normal(keys[1], (16, 2))),
                       jax.random.normal(keys[2], (16,)), jax.random.normal(keys[3], (16, 3)), jnp.zeros(16))
    update = jax.jit(lambda state, index: record.update(config, hp, state, batch, keys[4], index))
    moved = []
    for index in range(7):
        new, _ = update(state, jnp.int32(index))
        changed = lambda a, b: not all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
        moved.append((changed(state.actor.opt_state, new.actor.opt_state), changed(state.log_alpha.params, new.log_alpha.params),
                      changed(state.actor.stats, new.actor.stats)))
        state = new
    assert [actor for actor, _, _ in moved] == [index % 3 == 0 for index in range(7)]
    assert [alpha for _, alpha, _ in moved] == [index % 3 == 0 for index in range(7)]
    assert all(stats for _, _, stats in moved)
    lr = [float(xqc.learning_rate(config, hp, jnp.int32(steps))) for steps in (0, config.lr_decay_updates // 2, config.lr_decay_updates, 10**9)]
    assert lr == pytest.approx([3e-4, 1.65e-4, 3e-5, 3e-5])
