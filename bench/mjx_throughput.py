"""Env steps/s of the mjx/ tasks at 1, 64 and 1024 vmapped envs, against gymnasium's C MuJoCo.

mjx: one jitted `lax.scan` over `--steps` steps of `jax.vmap(env.step)` through the suite's
contract (the auto-reset's fresh reset is computed on steps where an episode of the batch ends), uniform random actions in
[-1, 1]; compile (`lower().compile()`) and run are timed separately, the run after an untimed
warm-up call, the fastest of `--repeats` calls. C (the model's own solver settings, whatever the name's caps): the same number of gymnasium envs stepped one
after another on the host (`env.step`, `env.reset` at episode ends) with random actions, as the
host-stepped loop does, timed over the same number of steps of every env (at most 64 envs: C's
rate per env step does not depend on the count). "C solver its" is the mean of C's constraint-solver
iterations (`data.solver_niter`) in the last physics step of each env step: how long the solver's
loops run on these states.

    python bench/mjx_throughput.py [--names HalfCheetah-v4 Hopper-v4] [--envs 1 64 1024] [--steps 100] [--env-steps 6400]
"""

from __future__ import annotations

import argparse
import faulthandler
import time

from common import describe_device

import jax
import numpy as np

import envs
from envs import mjx_check, mjx_envs


def mjx_rate(name: str, num_envs: int, steps: int, repeats: int) -> tuple[float, float]:
    """(compile seconds, env steps/s over all envs) of `steps` vmapped steps of `num_envs` envs."""
    env = envs.make(f"mjx/{name}")
    action_dim = env.spec.action_dim

    def rollout(carry, key):
        def body(state, key):
            action_key, step_key = jax.random.split(key)
            actions = jax.random.uniform(action_key, (num_envs, action_dim), minval=-1.0, maxval=1.0)
            state, timestep = jax.vmap(env.step)(jax.random.split(step_key, num_envs), state, actions)
            return state, timestep.reward.sum()

        return jax.lax.scan(body, carry, jax.random.split(key, steps))

    key = jax.random.key(0)
    state, _ = jax.jit(jax.vmap(env.reset))(jax.random.split(key, num_envs))
    start = time.perf_counter()
    compiled = jax.jit(rollout).lower(state, key).compile()
    compile_seconds = time.perf_counter() - start
    state, _ = jax.block_until_ready(compiled(state, key))
    timings = []
    for repeat in range(repeats):
        start = time.perf_counter()
        state, _ = jax.block_until_ready(compiled(state, jax.random.fold_in(key, repeat)))
        timings.append(time.perf_counter() - start)
    return compile_seconds, num_envs * steps / min(timings)


def c_rate(name: str, num_envs: int, steps: int) -> tuple[float, float]:
    """(env steps/s, mean solver iterations of each env step's last physics step) of `num_envs`
    gymnasium envs stepped in turn for `steps` steps each."""
    gym_envs = [mjx_check.gymnasium_env(mjx_envs.solver_caps(name)[0]) for _ in range(num_envs)]
    for seed, env in enumerate(gym_envs):
        env.reset(seed=seed)
    space = gym_envs[0].action_space
    actions = np.random.default_rng(0).uniform(space.low, space.high, (steps, num_envs, *space.shape))
    iterations = np.zeros((steps, num_envs))
    start = time.perf_counter()
    for t in range(steps):
        for i, (env, action) in enumerate(zip(gym_envs, actions[t])):
            terminated = env.step(action)[2]
            iterations[t, i] = env.unwrapped.data.solver_niter[0]
            if terminated:
                env.reset()
    return num_envs * steps / (time.perf_counter() - start), float(iterations.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--row-timeout", type=float, default=1800,
                        help="seconds one row may take before the script prints its stack and exits (XLA:CPU has hung "
                             "in Humanoid's 1024-env program: envs/README.md)")
    parser.add_argument("--names", nargs="+", default=["HalfCheetah-v4", "Hopper-v4", "InvertedPendulum-v4"],
                        help="mjx/ task names, solver caps allowed (HalfCheetah-v4:brax; envs/mjx_envs.solver_caps)")
    parser.add_argument("--envs", nargs="+", type=int, default=[1, 64, 1024])
    parser.add_argument("--steps", type=int, default=100, help="scanned steps per timed call (at most --env-steps / envs, at least 10)")
    parser.add_argument("--env-steps", type=int, default=6400, help="env steps per timed call over all envs")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    for name in args.names:  # unknown tasks and malformed caps
        try:
            mjx_envs.solver_caps(name)
        except ValueError as error:
            parser.error(str(error))
    print(describe_device())
    print(f"{'task':<22} {'envs':>5} {'steps':>5} {'compile s':>9} {'mjx steps/s':>11} {'C steps/s':>9} {'mjx / C':>7} {'C solver its':>12}")
    for name in args.names:
        for num_envs in args.envs:
            faulthandler.dump_traceback_later(args.row_timeout, exit=True)
            steps = max(10, min(args.steps, args.env_steps // num_envs))
            compile_seconds, rate = mjx_rate(name, num_envs, steps, args.repeats)
            c, iterations = c_rate(name, min(num_envs, 64), steps)
            print(f"{name:<22} {num_envs:>5} {steps:>5} {compile_seconds:>9.1f} {rate:>11.0f} {c:>9.0f} {rate / c:>7.2f} {iterations:>12.2f}",
                  flush=True)
            faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    main()
