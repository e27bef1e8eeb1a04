"""Any agent with any network: every agent traces a whole run (acting, storing, updating,
evaluating) with every network kind and normalization, and combinations that cannot work are
refused before compiling with one `error:` line that names the fix.

Tracing (jax.eval_shape) compiles nothing, so the matrix costs about a second per combination.
"""

import dataclasses

import jax
import pytest

import train
from agents import AGENTS
from agents.engine.loop import TrainConfig

# (kind, norm) of both networks; the last row mixes an mlp actor with a simba critic
NETWORKS = [
    ("mlp", "none", "mlp", "none"),
    ("mlp", "batch_norm", "mlp", "batch_norm"),
    ("mlp", "batch_renorm", "mlp", "batch_renorm"),
    ("simba", "layer_norm", "simba", "layer_norm"),
    ("simba", "batch_norm", "simba", "batch_norm"),
    ("simba", "batch_renorm", "simba", "batch_renorm"),
    ("simba", "none", "simba", "none"),
    ("mlp", "batch_renorm", "simba", "layer_norm"),
]
# simba-sac and ddpg run the code of sac and td3: two rows each suffice
CASES = [(agent, row) for agent in ("crossq", "sac", "td3", "ppo") for row in NETWORKS] + [
    (agent, row) for agent in ("simba-sac", "ddpg") for row in (NETWORKS[2], NETWORKS[5])
] + [(agent, row) for agent in ("xqc", "crossq-wn") for row in NETWORKS]


def tiny_run(agent: str, actor_net: str, actor_norm: str, critic_net: str, critic_norm: str):
    """(train function, loop config, hyperparameters) of a run of a few steps with small networks."""
    spec = AGENTS[agent]
    preset = spec.presets[spec.default_preset] if spec.default_preset else None
    config = preset.config if preset else spec.Config()
    hp = preset.hyperparams if preset else spec.Hyperparams()
    fields = dict(
        actor_net=actor_net, actor_norm=actor_norm, critic_net=critic_net, critic_norm=critic_norm,
        actor_width=8, critic_width=8, actor_depth=1, critic_depth=1,
    )
    if agent in ("xqc", "crossq-wn"):  # weight norm on mlp torsos only; "pre" norms need a batch norm
        batch_norms = "batch" in actor_norm and "batch" in critic_norm
        fields.update(weight_norm=(actor_net, critic_net) == ("mlp", "mlp"),
                      norm_position=config.norm_position if batch_norms else "post")
    if agent == "ppo":
        from agents.engine.on_policy import train as run

        config = dataclasses.replace(config, **fields, num_steps=8, num_minibatches=2, num_epochs=1)
    else:
        from agents.engine.off_policy import train as run

        config = dataclasses.replace(config, **fields, batch_size=4, learning_starts=4)
    return run, TrainConfig(agent=agent, agent_config=config, total_steps=8, eval_every=8, eval_episodes=1), hp


@pytest.mark.parametrize("agent, networks", CASES, ids=lambda case: "-".join(case) if isinstance(case, tuple) else case)
def test_every_agent_traces_with_every_network(agent, networks):
    run, config, hp = tiny_run(agent, *networks)
    state, metrics = jax.eval_shape(lambda key: run(config, hp, key), jax.random.key(0))
    assert metrics["eval_return"].shape == (1,)
    # batch (re)normalized networks carry their statistics apart from the trained parameters
    if "batch" in networks[1]:
        assert jax.tree.leaves(state.agent.actor.stats)


@pytest.mark.parametrize(
    "flags, fix",
    [
        (["sac", "--actor-norm", "layer_norm"], "--actor-net simba"),
        (["td3", "--critic-norm", "layer_norm"], "--critic-net simba"),
        (["ppo", "--critic-norm", "layer_norm"], "--critic-net simba"),
        (["crossq", "--simba-expansion", "2"], "--actor-net simba or --critic-net simba"),
        (["sac", "--log-std-min", "3"], "must be below --log-std-max"),
        (["xqc", "--critic-net", "simba"], "add --no-weight-norm"),
        (["xqc", "--critic-norm", "none"], "--norm-position pre needs --critic-norm batch_norm or batch_renorm"),
        (["xqc", "--num-bins", "1"], "--num-bins must be at least 2"),
        (["crossq-wn", "--v-max", "0"], "--v-max must be positive"),
    ],
)
def test_impossible_combinations_are_refused_with_the_fix(flags, fix, capsys):
    assert train.main(flags, check_only=True) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fix in lines[0]
