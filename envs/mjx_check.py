"""Checks the `mjx/` tasks against gymnasium's C MuJoCo: `python -m envs.mjx_check [--names Hopper-v4 ...]`.

Per task and version, with one compiled program (`compare_program`):
- one step from the same state: 64 states along gymnasium rollouts with uniform random actions,
  each loaded into both simulators (qpos, qvel and the solver's warm start, then MuJoCo's forward
  pass, as gymnasium's `set_state` does), stepped with the same action: the largest differences
  of the next observation, reward and `terminated`;
- resets: the mean and standard deviation of each observation entry over 1024 MJX resets and
  1024 gymnasium resets, in units of their sampling error;
- rollouts: 64 identical starts stepped with the same random actions in both simulators, through
  terminations (the physics goes on; no resets); the number of steps after which an observation
  entry first differs by more than `SEPARATION` relative (absolute below 1), median and minimum
  over the 64.
`--c-solver newton` runs C MuJoCo with the Newton solver in place of the model's own: MJX lacks
Humanoid's PGS, so its MJX twin runs Newton (`Task.solver`), and this measures it against both.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from envs import mjx_envs

STATES = 64
RESETS = 1024
SEPARATION = 0.1
"""Two rollouts have separated once an observation entry differs by more than this (`relative_error`)."""


def gymnasium_env(name: str, solver: str | None = None):
    """gymnasium's env `name`, its C model running `solver` ("newton") where given."""
    import gymnasium
    import mujoco

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        env = gymnasium.make(name, disable_env_checker=True).unwrapped
    if solver is not None:
        env.model.opt.solver = getattr(mujoco.mjtSolver, f"mjSOL_{solver.upper()}")
    return env


def load_c_state(env, qpos, qvel, warmstart) -> None:
    """gymnasium's set_state (qpos, qvel, then mj_forward) plus the solver's warm start."""
    env.set_state(np.asarray(qpos, np.float64), np.asarray(qvel, np.float64))
    env.data.qacc_warmstart[:] = warmstart


def c_state(env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return env.data.qpos.copy(), env.data.qvel.copy(), env.data.qacc_warmstart.copy()


def gymnasium_transitions(name: str, count: int = STATES, seed: int = 0, solver: str | None = None) -> dict[str, np.ndarray]:
    """`count` transitions of gymnasium rollouts with uniform random actions (in the env's bounds),
    each stepped from its state reloaded as in `load_c_state`: states, actions and gymnasium's
    next observation, reward and terminated, stacked [count, ...]; `solver` as in `gymnasium_env`."""
    env = gymnasium_env(name, solver)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    fields = {key: [] for key in ("qpos", "qvel", "warmstart", "action", "obs", "reward", "terminated")}
    while len(fields["action"]) < count:
        state = c_state(env)
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        load_c_state(env, *state)
        obs, reward, terminated, _, _ = env.step(action)
        for key, value in zip(fields, (*state, action, obs, reward, terminated)):
            fields[key].append(value)
        if terminated:
            env.reset()
    return {key: np.asarray(np.stack(values), np.float32 if key != "terminated" else bool) for key, values in fields.items()}


def gymnasium_resets(name: str, count: int = RESETS, seed: int = 0) -> np.ndarray:
    """First observations [count, obs_dim] of `count` gymnasium resets from one seeded generator."""
    env = gymnasium_env(name)
    first = env.reset(seed=seed)[0]
    return np.stack([first] + [env.reset()[0] for _ in range(count - 1)]).astype(np.float32)


def compare_program(name: str):
    """jitted (qpos, qvel, warmstart, action, reset_keys), each [STATES, ...] ->
    (obs, reward, terminated, qpos, qvel, warmstart, reset_obs): one MJX env step from each loaded
    state, and the first observation of a fresh episode from each key."""
    task, _, model, reset_data, step_data, blank = mjx_envs.make_physics(name)

    def one(qpos, qvel, warmstart, action, reset_key):
        data = mjx_envs.forward(model, blank.replace(qpos=qpos, qvel=qvel, qacc_warmstart=warmstart))
        after, reward, terminated = step_data(data, action)
        reset_obs = task.observe(reset_data(reset_key))
        return task.observe(after), reward, terminated, after.qpos, after.qvel, after.qacc_warmstart, reset_obs

    return jax.jit(jax.vmap(one))


def sampling_errors(mjx_obs: np.ndarray, gym_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per observation entry, |difference of means| and |difference of stds| of two samples
    [n, obs_dim] in units of their standard errors (the std's as s / sqrt(2 (n - 1)), exact for a
    normal sample); entries constant in both samples (equal within 1e-6) count 0."""
    n, m = len(mjx_obs), len(gym_obs)
    mean_se = np.sqrt(mjx_obs.var(0, ddof=1) / n + gym_obs.var(0, ddof=1) / m)
    std_se = np.sqrt(mjx_obs.var(0, ddof=1) / (2 * (n - 1)) + gym_obs.var(0, ddof=1) / (2 * (m - 1)))
    mean_gap = np.abs(mjx_obs.mean(0) - gym_obs.mean(0))
    std_gap = np.abs(mjx_obs.std(0, ddof=1) - gym_obs.std(0, ddof=1))
    constant = mean_se < 1e-9
    return (
        np.where(constant, np.where(mean_gap > 1e-6, np.inf, 0.0), mean_gap / np.where(constant, 1.0, mean_se)),
        np.where(constant, np.where(std_gap > 1e-6, np.inf, 0.0), std_gap / np.where(constant, 1.0, std_se)),
    )


def relative_error(actual: np.ndarray, expected: np.ndarray, floor: float = 1.0) -> np.ndarray:
    """|actual - expected| / max(|expected|, floor): relative for large values, absolute below `floor`."""
    return np.abs(actual - expected) / np.maximum(np.abs(expected), floor)


def separation_steps(name: str, program, steps: int, seed: int = 1, solver: str | None = None) -> np.ndarray:
    """[STATES] steps until MJX and C rollouts from the same start under the same actions first differ by
    more than SEPARATION in an observation entry (`relative_error`; `steps` if never)."""
    envs = [gymnasium_env(name, solver) for _ in range(STATES)]
    for i, env in enumerate(envs):
        env.reset(seed=seed + i)
    qpos, qvel, warmstart = (np.stack(field).astype(np.float32) for field in zip(*(c_state(env) for env in envs)))
    rng = np.random.default_rng(seed)
    keys = jax.random.split(jax.random.key(seed), STATES)
    separated = np.full(STATES, steps)
    together = np.ones(STATES, bool)
    for t in range(steps):
        low, high = envs[0].action_space.low, envs[0].action_space.high
        actions = rng.uniform(low, high, (STATES, len(low))).astype(np.float32)
        obs, _, _, qpos, qvel, warmstart, _ = program(qpos, qvel, warmstart, actions, keys)
        qpos, qvel, warmstart, obs = (np.asarray(a) for a in (qpos, qvel, warmstart, obs))
        for i in np.flatnonzero(together):
            c_obs = envs[i].step(actions[i])[0]
            if relative_error(obs[i], c_obs).max() > SEPARATION:
                separated[i], together[i] = t + 1, False
        if not together.any():
            break
    return separated


def check(name: str, rollout_steps: int, c_solver: str | None = None) -> dict:
    """The table's row of `name`: MJX with the solver caps of the name if any, C with the model's own
    settings (and `c_solver`)."""
    program = compare_program(name)
    task = mjx_envs.solver_caps(name)[0]
    data = gymnasium_transitions(task, solver=c_solver)
    keys = jax.random.split(jax.random.key(0), RESETS)
    start = time.perf_counter()
    compiled = program.lower(data["qpos"], data["qvel"], data["warmstart"], data["action"], keys[:STATES]).compile()
    compile_seconds = time.perf_counter() - start
    obs, reward, terminated, *_ = compiled(data["qpos"], data["qvel"], data["warmstart"], data["action"], keys[:STATES])
    reset_obs = np.concatenate([
        np.asarray(compiled(data["qpos"], data["qvel"], data["warmstart"], data["action"], keys[i : i + STATES])[-1])
        for i in range(0, RESETS, STATES)
    ])
    mean_z, std_z = sampling_errors(reset_obs, gymnasium_resets(task))
    start = time.perf_counter()
    separated = separation_steps(task, compiled, rollout_steps, solver=c_solver)
    return {
        "name": name,
        "obs_abs": float(np.abs(np.asarray(obs) - data["obs"]).max()),
        "obs_rel": float(relative_error(np.asarray(obs), data["obs"]).max()),
        "reward_abs": float(np.abs(np.asarray(reward) - data["reward"]).max()),
        "terminated_mismatches": int((np.asarray(terminated) != data["terminated"]).sum()),
        "terminated_in_gym": int(data["terminated"].sum()),
        "reset_mean_z": float(mean_z.max()),
        "reset_std_z": float(std_z.max()),
        "separation_median": float(np.median(separated)),
        "separation_min": int(separated.min()),
        "compile_s": compile_seconds,
        "rollout_s": time.perf_counter() - start,
    }


HEADER = (
    "| id | obs max abs | obs max rel (floor 1) | reward max abs | terminated mismatches (gym terminals) "
    "| reset mean / std gap (max, in s.e.) | separation steps, median (min) | compile s | rollout s |"
)


def row(result: dict) -> str:
    r = result
    return (
        f"| mjx/{r['name']} | {r['obs_abs']:.1e} | {r['obs_rel']:.1e} | {r['reward_abs']:.1e} "
        f"| {r['terminated_mismatches']} ({r['terminated_in_gym']}) | {r['reset_mean_z']:.1f} / {r['reset_std_z']:.1f} "
        f"| {r['separation_median']:.0f} ({r['separation_min']}) | {r['compile_s']:.0f} | {r['rollout_s']:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", nargs="+", default=list(mjx_envs.NAMES),
                        help="tasks, e.g. Hopper-v4, or with solver caps, HalfCheetah-v4:brax (default: all, uncapped)")
    parser.add_argument("--rollout-steps", type=int, default=300, help="longest rollout compared step by step")
    parser.add_argument("--c-solver", choices=["newton"], help="C MuJoCo's solver in place of the model's own")
    args = parser.parse_args(argv)
    for name in args.names:  # unknown tasks and malformed caps
        try:
            mjx_envs.solver_caps(name)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    for name in args.names:
        print(row(check(name, args.rollout_steps, args.c_solver)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
