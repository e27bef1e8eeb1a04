"""python -m reports.c_vs_mjx OUT [--starts N] [--seed S] [--runs R ...]: a trained policy's episodes
in C MuJoCo and in MJX, from the same starts.

For each run of OUT (a train.py run directory on a gymnasium MuJoCo task: a gym/, mjx/ or
host/mjx/ id), its deterministic policy at the newest checkpoint acts closed loop in both
simulators: gymnasium's env (C, float64) and the `mjx/` task's physics (envs/mjx_envs.py, float32),
each from the same N starts (gymnasium's resets with seeds S .. S+N-1, loaded into MJX as
`envs.mjx_check` loads states), each simulator's policy acting on its own observations, until the
task terminates or the time limit. Per run: the mean return and length in each, and over the
starts the paired return difference, the starts whose episodes last equally long, and the median
step at which the two first separate (an observation entry more than `envs.mjx_check.SEPARATION`
apart, relative). If the physics agree for the policy, the returns agree within their spread,
whatever the separation step: contacts make any two rollouts separate, C against C from a start
perturbed by 1e-7 too.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import jax
import numpy as np
from scipy import stats

import envs
from agents.common import ConfigError
from envs import mjx_check, mjx_envs
from envs.core import to_env_action
from rundir.policy import RunDirectory, load_policy


@dataclasses.dataclass(frozen=True)
class Paired:
    """Per start [n]: the returns and lengths of the episodes in C and in MJX, and the step at which
    the two first separated (the shorter episode's length if they never did)."""

    c_return: np.ndarray
    mjx_return: np.ndarray
    c_length: np.ndarray
    mjx_length: np.ndarray
    separated: np.ndarray


def task_of(env_id: str) -> str:
    """The gymnasium task of a gym/, mjx/ or host/mjx/ id (solver caps kept: MJX runs with them)."""
    backend, _, name = env_id.removeprefix(envs.HOST).partition("/")
    if backend not in ("gym", "mjx"):
        raise ConfigError(f"{env_id} is not a gymnasium MuJoCo task: c_vs_mjx compares gym/ and mjx/ physics only")
    return name


def paired_episodes(act, task: str, program, starts: int, seed: int, max_steps: int) -> Paired:
    """act(obs [starts, obs_dim]) -> actions [starts, action_dim] in [-1, 1]; `task`: a gymnasium
    task (with MJX solver caps, if any); program: its `mjx_check.compare_program` (one per task: a
    new one compiles again). One episode per start in each simulator."""
    name = mjx_envs.solver_caps(task)[0]
    c_envs = [mjx_check.gymnasium_env(name) for _ in range(starts)]
    c_obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(c_envs)]).astype(np.float32)
    qpos, qvel, warmstart = (np.stack(field).astype(np.float32) for field in zip(*map(mjx_check.c_state, c_envs)))
    low, high = c_envs[0].action_space.low, c_envs[0].action_space.high
    keys = jax.random.split(jax.random.key(seed), starts)  # the program's fresh resets, unused here
    mjx_obs = c_obs.copy()
    c_alive, mjx_alive = np.ones(starts, bool), np.ones(starts, bool)
    c_return, mjx_return = np.zeros(starts), np.zeros(starts)
    c_length, mjx_length = np.zeros(starts, int), np.zeros(starts, int)
    separated = np.full(starts, -1)
    for step in range(1, max_steps + 1):
        c_actions = to_env_action(np.asarray(act(c_obs), np.float32), low, high)
        mjx_actions = to_env_action(np.asarray(act(mjx_obs), np.float32), low, high)
        out = program(qpos, qvel, warmstart, mjx_actions, keys)
        obs, reward, terminated, qpos, qvel, warmstart = (np.asarray(a) for a in out[:6])
        mjx_obs = np.where(mjx_alive[:, None], obs, mjx_obs)
        mjx_return += np.where(mjx_alive, reward, 0.0)
        mjx_length += mjx_alive
        mjx_alive &= ~terminated.astype(bool)
        for i in np.flatnonzero(c_alive):
            c_obs[i], reward_i, terminated_i, _, _ = c_envs[i].step(c_actions[i])
            c_return[i] += reward_i
            c_length[i] += 1
            c_alive[i] = not terminated_i
        # compared while both episodes ran this step
        compared = (separated < 0) & (c_length == step) & (mjx_length == step)
        apart = compared & (mjx_check.relative_error(mjx_obs, c_obs).max(axis=1) > mjx_check.SEPARATION)
        separated[apart] = step
        if not (c_alive.any() or mjx_alive.any()):
            break
    separated = np.where(separated < 0, np.minimum(c_length, mjx_length), separated)
    return Paired(c_return, mjx_return, c_length, mjx_length, separated)


def summary(label: str, paired: Paired) -> str:
    p = paired
    return (
        f"| {label} | {p.c_return.mean():.1f} ± {p.c_return.std():.1f} | {p.mjx_return.mean():.1f} ± {p.mjx_return.std():.1f} "
        f"| {p.c_length.mean():.1f} | {p.mjx_length.mean():.1f} | {np.mean(p.mjx_return - p.c_return):+.1f} "
        f"| {int((p.c_length == p.mjx_length).sum())} of {len(p.c_length)} | {np.median(p.separated):.0f} |"
    )


HEADER = ("| run | C return | MJX return | C length | MJX length | MJX - C return, mean | equal lengths "
          "| separation step, median |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="a run directory of train.py on a gym/, mjx/ or host/mjx/ MuJoCo task")
    parser.add_argument("--starts", type=int, default=16, help="episodes per run and simulator, from gymnasium's resets (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="the first start's gymnasium reset seed (default 0)")
    parser.add_argument("--runs", type=int, nargs="+", help="evals.csv's run indices (default: every run)")
    parser.add_argument("--checkpoint", type=int, help="the checkpoint (evaluations done; default: the newest)")
    args = parser.parse_args(argv)
    try:
        if args.starts < 1:
            raise ConfigError(f"--starts must be at least 1, got {args.starts}")
        directory = RunDirectory.read(args.out)
        task = task_of(directory.config.env)
        runs = args.runs if args.runs is not None else list(range(len(directory.rows)))
        policies = [load_policy(args.out, run=run, checkpoint=args.checkpoint) for run in runs]
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    max_steps = policies[0].spec.max_episode_steps
    print(f"{directory.config.agent} trained on {directory.config.env}; deterministic policies in C MuJoCo and MJX "
          f"({task}), {args.starts} starts each (gymnasium reset seeds {args.seed} .. {args.seed + args.starts - 1}):")
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    program = mjx_check.compare_program(task)
    results = []
    for run, policy in zip(runs, policies):
        results.append(paired_episodes(policy.act, task, program, args.starts, args.seed, max_steps))
        print(summary(f"{run} (seed {policy.seed})", results[-1]), flush=True)
    pooled = Paired(*(np.concatenate(field) for field in zip(*(dataclasses.astuple(r) for r in results))))
    print(summary("all", pooled))
    difference = pooled.mjx_return - pooled.c_return
    p_value = stats.wilcoxon(difference).pvalue if np.any(difference != 0) else 1.0
    print(f"paired return difference MJX - C over all {len(difference)} starts: {difference.mean():+.2f} "
          f"(standard error {difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else float('nan'):.2f}), "
          f"Wilcoxon signed-rank p {p_value:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
