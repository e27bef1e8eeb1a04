"""Published per-seed curves (reference/gymnasium_mujoco_v4_curves.csv, see reference/SOURCE.md),
the configurations that produced them, and the map from our agents and env ids to theirs."""

from __future__ import annotations

import csv
import functools
import math
from importlib import resources

import numpy as np

from reports.curves import Curves

REFERENCE_FILE = "gymnasium_mujoco_v4_curves.csv"
ALGORITHM_NAMES = {
    "sac": "SAC", "crossq": "CrossQ", "simba_utd1": "SimBa-SAC", "simbav2_utd1": "SimbaV2 (UTD 1)",
    "simbav2_utd2": "SimbaV2 (UTD 2)", "xqc": "XQC",
}
"""Published `algo` -> our name for the same agent."""
PUBLISHED_PRESETS = {
    "sac": "sac --preset paper", "crossq": "crossq --preset paper", "simba_utd1": "simba-sac --preset paper",
    "simbav2_utd1": "simbav2 --preset utd1", "simbav2_utd2": "simbav2 --preset utd2",
    "xqc": "xqc --preset paper",
}
"""Published `algo` -> the train.py agent and preset that is its configuration (PUBLISHED_CONFIGS)."""


def published_algo(agent: str, config: dict) -> str | None:
    """Our agent and its config.json "config" -> the published `algo` it reproduces, or None.

    SimBa-SAC is agent simba-sac, or agent sac with SimBa actor and critic; sac and crossq count
    only with their own (non-SimBa) networks; simbav2 is simbav2_utd2 at --utd 2, else simbav2_utd1
    (config_differences then names any other --utd).
    """
    if agent == "simbav2":
        return "simbav2_utd2" if config.get("utd") == 2 else "simbav2_utd1"
    if agent == "xqc":
        return "xqc"
    nets = {config.get("actor_net", "mlp"), config.get("critic_net", "mlp")}
    if agent == "simba-sac" or (agent == "sac" and nets == {"simba"}):
        return "simba_utd1"
    if agent in ("sac", "crossq") and "simba" not in nets:
        return agent
    return None


_COMMON = dict(
    batch_size=256, utd=1, learning_starts=5000, num_critics=2, log_std_max=2.0, temperature_loss="alpha",
    initial_alpha=1.0, target_entropy_scale=1.0, gamma=0.99,
)
_MLP = dict(actor_net="mlp", critic_net="mlp", actor_width=256, actor_depth=2, critic_depth=2, obs_norm="none")
_SIMBAV2 = dict(
    batch_size=256, learning_starts=5000, num_critics=2, actor_width=128, actor_depth=1, critic_width=512,
    critic_depth=2, num_bins=101, v_max=5.0, learning_rate=1e-4, final_learning_rate=5e-5, tau=0.005, gamma=0.995,
    initial_alpha=0.01, target_entropy_scale=0.5,
)
PUBLISHED_CONFIGS = {
    "sac": dict(
        _COMMON, **_MLP, critic_width=256, actor_norm="none", critic_norm="none", learning_rate=1e-3, tau=0.005,
        weight_decay=0.0, log_std_min=-20.0, log_std_mode="clip", actor_first=False, temperature_weight_decay=False,
    ),
    "crossq": dict(
        _COMMON, **_MLP, critic_width=2048, actor_norm="batch_renorm", critic_norm="batch_renorm", learning_rate=1e-3,
        log_std_min=-20.0, log_std_mode="clip", policy_delay=3, adam_b1=0.5,
    ),
    "simba_utd1": dict(
        _COMMON, actor_net="simba", critic_net="simba", actor_width=128, actor_depth=1, critic_width=512,
        critic_depth=2, actor_norm="layer_norm", critic_norm="layer_norm", obs_norm="rsnorm", simba_expansion=4,
        simba_residual=True, simba_post_norm=True, learning_rate=1e-4, tau=0.005, weight_decay=1e-2, gamma=0.995,
        initial_alpha=0.01, target_entropy_scale=0.5, log_std_min=-10.0, log_std_mode="tanh", actor_first=True,
        temperature_weight_decay=True,
    ),
    "simbav2_utd1": dict(_SIMBAV2, utd=1, lr_decay_updates=1_000_000),
    "simbav2_utd2": dict(_SIMBAV2, utd=2, lr_decay_updates=2_000_000),
    "xqc": dict(
        _MLP, actor_width=256, actor_depth=4, critic_width=512, critic_depth=4, actor_norm="batch_norm",
        critic_norm="batch_norm", norm_position="pre", weight_norm=True, normalize_last_layer=True,
        critic_loss="categorical", num_bins=101, v_max=5.0, reward_norm=True, decay_bn=False, weight_decay=0.0,
        num_critics=2, policy_delay=3, utd=2, batch_size=256, learning_starts=5000, lr_decay_updates=2_000_000,
        learning_rate=3e-4, final_learning_rate=3e-5, tau=0.005, initial_alpha=0.01, target_entropy_scale=0.5,
        gamma=0.995, log_std_min=-10.0, log_std_max=2.0, log_std_mode="clip", temperature_loss="alpha",
    ),
}
"""Published `algo` -> the settings behind its curves that change learning, in our field names
(config.json's "config" and "hyperparams"). Sources: reports/reference/SOURCE.md; sac and crossq from
adityab/CrossQ train.py and sbx/sac/; simba_utd1 from dojeon-ai/SimbaV2 configs/agent/simba.yaml,
configs/online_rl.yaml (gamma 0.995 on the 1000-step tasks) and scale_rl/agents/simba/; simbav2_* from
configs/agent/simbaV2.yaml with updates_per_interaction_step 1 or 2 (agents/simbav2.py, PRESETS; RSNorm
and the reward scaler are always on in agent simbav2); xqc from danielpalenicek/xqc@9a6832bb conf/config.yaml,
conf/agent/base_agent.yaml and xqc.yaml (agents/xqc.py says where each value is read)."""


def config_differences(algo: str, config: dict, hyperparams: dict) -> list[str]:
    """The fields in which a run's config.json settings differ from PUBLISHED_CONFIGS[algo]; a field
    the run does not record (written by an older version) counts as different."""
    settings = {**config, **hyperparams}
    for network in ("actor", "critic"):  # "auto" norms as the networks resolve them
        if settings.get(f"{network}_norm") == "auto":
            settings[f"{network}_norm"] = "none" if settings.get(f"{network}_net", "mlp") == "mlp" else "layer_norm"
    if settings.get("obs_norm") == "auto":
        settings["obs_norm"] = "rsnorm" if "simba" in (settings.get("actor_net"), settings.get("critic_net")) else "none"
    differs = []
    for field, published in PUBLISHED_CONFIGS[algo].items():
        ours = settings.get(field)
        same = math.isclose(ours, published, rel_tol=1e-6) if isinstance(ours, (int, float)) and not isinstance(ours, bool) else ours == published
        if not same:
            differs.append(f"{field} {ours if field in settings else '(not recorded)'} vs {published}")
    return sorted(differs)


def published_task(env_id: str) -> str | None:
    """Our env id -> the published `env` ("gym/HalfCheetah-v4" -> "HalfCheetah-v4"), None if unpublished.

    mjx/<Task>-vN counts as the published task too: the same MJCF and rules in MJX, checked step by
    step against gymnasium's C MuJoCo (envs/README.md, "gymnasium's tasks in JAX"); a capped solver
    ("mjx/HalfCheetah-v4:brax") is other physics, compared with nothing. host/mjx/<Task>-vN is the
    mjx/ task stepped from the host loop (envs/host_envs.py): the same env, so it counts too."""
    family, _, name = env_id.removeprefix("host/").partition("/")
    return name if family in ("gym", "mjx") and name in published_tasks() else None


@functools.cache
def _rows() -> dict[tuple[str, str], dict[int, dict[int, float]]]:
    """(algo, env) -> seed -> env_step -> avg_return, read once from the package's copy."""
    rows: dict[tuple[str, str], dict[int, dict[int, float]]] = {}
    with resources.files("reports").joinpath("reference", REFERENCE_FILE).open() as file:
        for row in csv.DictReader(file):
            seeds = rows.setdefault((row["algo"], row["env"]), {})
            seeds.setdefault(int(row["seed"]), {})[int(row["env_step"])] = float(row["avg_return"])
    return rows


def published_tasks() -> set[str]:
    return {env for _, env in _rows()}


def published_algos() -> set[str]:
    """Every `algo` of the reference file, those no agent of ours reproduces included (droq_utd20)."""
    return {algo for algo, _ in _rows()}


def published_curves(algo: str, task: str) -> Curves | None:
    """Every seed's curve for (algo, task), on the env steps all seeds evaluated; None if unpublished."""
    seeds = _rows().get((algo, task))
    if seeds is None:
        return None
    steps = sorted(set.intersection(*(set(curve) for curve in seeds.values())))
    returns = np.array([[curve[step] for step in steps] for curve in seeds.values()])
    return Curves(np.array(steps), returns)
