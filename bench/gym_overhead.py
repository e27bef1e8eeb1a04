"""Per-step cost of the host-stepped loop on gym/ tasks, against its two unavoidable parts.

For each agent (SAC at its default sizes: 256x256, batch 256, UTD 1; CrossQ's cpu preset: 256-wide
BatchRenorm critics and actor, policy delay 3) and seed count (one gymnasium env per seed, an
update every step), in ms per loop iteration (one env step of every run):
  host loop   the loop as train.py runs it: step the gymnasium envs on the host, then one jitted
              call that stores the transitions, updates and acts (HostRuns.iterate)
  raw envs    plain gymnasium stepping of the same envs (env.step, env.reset at episode ends) with
              random actions, no agent, no wrapper
  update      the same jitted call alone, its inputs already on the device, no env
  overhead    host loop - raw envs - update: the EnvBatch wrapper (rescaling, stacking), transfers,
              reshapes (the difference of two large numbers on a shared CPU: noisy)
  no update   the host loop before learning starts: env steps, random actions, the jitted store
  loop cost   no update - raw envs: what the host loop adds per iteration besides the update
  ratio       host loop / (raw envs + update): 1.0 is a loop that costs nothing of its own
Compile time (every jitted piece of the loop, lower().compile()) is reported separately.

    python bench/gym_overhead.py [--agents sac crossq] [--env gym/HalfCheetah-v4] [--seeds 1 5] [--steps 1000]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from common import describe_device

import jax
import numpy as np

from agents import AGENTS, crossq, sac

from agents.engine import batching
from agents.engine.host_loop import HostRuns
from agents.engine.loop import TrainConfig


CONFIGS = {"sac": sac.Config(learning_starts=0), "crossq": dataclasses.replace(crossq.PRESETS["cpu"].config, learning_starts=0)}


def measure(agent: str, env_id: str, num_seeds: int, steps: int, rounds: int) -> dict:
    """Seconds per iteration of the host loop, raw env stepping and the jitted call alone (medians
    over `rounds` interleaved rounds of steps / rounds iterations each); compile seconds."""
    config = TrainConfig(
        agent=agent,
        agent_config=CONFIGS[agent],
        env=env_id,
        total_steps=max(2 * steps, 1000),  # sizes the buffer only
        eval_every=max(2 * steps, 1000),
        eval_episodes=1,
    )
    seeds = list(range(num_seeds))
    hp = batching.broadcast(AGENTS[agent].Hyperparams(), num_seeds)
    runs = HostRuns(config, hp, batching.keys_for(seeds), seeds, batching.runs_mesh())
    start = time.perf_counter()
    runs.compile()
    compile_seconds = time.perf_counter() - start
    carry = runs.start_compiled(runs.hp, runs.init())

    carry = runs.iterate(carry, 0, steps // 4)  # warm-up
    actions = np.asarray(runs.actions)
    timestep = jax.device_put(jax.tree.map(runs.per_run, runs.train_envs.step(actions.reshape(num_seeds, -1))))
    gym_envs = runs.train_envs.envs
    space = gym_envs[0].action_space
    random_actions = np.random.default_rng(0).uniform(space.low, space.high, (steps, num_seeds, *space.shape))
    chunk = steps // rounds
    timings = {"host_loop": [], "update": [], "raw_envs": [], "no_update": []}

    def timed(name, fn):
        start = time.perf_counter()
        fn()
        jax.block_until_ready(runs.actions)
        timings[name].append((time.perf_counter() - start) / chunk)

    def host_loop(first):
        nonlocal carry
        carry = runs.iterate(carry, first, chunk)

    def no_update():
        # iterations before learning starts (negative indices): random actions, no gradient update
        host_loop(-chunk)

    def update_alone(first):
        nonlocal carry
        for index in range(first, first + chunk):
            carry, runs.actions = runs.step_compiled(carry, runs.actions, timestep, np.int32(index), runs.hp)

    def raw_envs(first):
        for index in range(first, first + chunk):
            for env, action in zip(gym_envs, random_actions[index].astype(np.float32)):
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()

    # interleaved rounds, medians: the CPU is shared, so each round's three parts see the same load
    for round_index in range(rounds):
        first = steps // 4 + 2 * round_index * chunk
        timed("host_loop", lambda: host_loop(first))
        timed("update", lambda: update_alone(first + chunk))
        timed("raw_envs", lambda: raw_envs(round_index * chunk))
        timed("no_update", no_update)
    return {"compile_seconds": compile_seconds, **{name: float(np.median(t)) for name, t in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS), help="agents to measure")
    parser.add_argument("--env", default="gym/HalfCheetah-v4", help="a gym/ env id")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5], help="seed counts (one env each)")
    parser.add_argument("--steps", type=int, default=1000, help="timed iterations of each part")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    args = parser.parse_args()
    print(describe_device())
    print(f"{args.env}, an update every step; ms per iteration (all seeds)")
    print(
        f"{'agent':>6} {'seeds':>5} {'compile s':>9} {'host loop':>9} {'raw envs':>8} {'update':>7} {'overhead':>8} "
        f"{'no update':>9} {'loop cost':>9} {'ms/run-step':>11} {'ratio':>5}"
    )
    for agent in args.agents:
        for num_seeds in args.seeds:
            r = measure(agent, args.env, num_seeds, args.steps, args.rounds)
            r = {k: v * 1e3 if k != "compile_seconds" else v for k, v in r.items()}
            overhead = r["host_loop"] - r["raw_envs"] - r["update"]
            print(
                f"{agent:>6} {num_seeds:>5} {r['compile_seconds']:>9.1f} {r['host_loop']:>9.2f} {r['raw_envs']:>8.2f} "
                f"{r['update']:>7.2f} {overhead:>8.2f} {r['no_update']:>9.2f} {r['no_update'] - r['raw_envs']:>9.2f} "
                f"{r['host_loop'] / num_seeds:>11.2f} {r['host_loop'] / (r['raw_envs'] + r['update']):>5.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
