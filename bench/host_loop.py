"""Where a host-stepped iteration's time goes, against a fused iteration of the same agent and sizes.

One iteration is one env step of every run plus its update(s). For each seed count (one env per
run, learning_starts 0 so that every iteration updates), in ms per iteration:
  fused       the fused loop's chunk (`off_policy.run_chunk`, envs stepped inside the program) on
              --fused-env: by default a jittable stand-in with the host task's observation and action
              sizes and time limit whose step costs almost nothing (`stand_in`), so that both loops
              run the same agent on the same sizes; or a jittable task (e.g. gymnax/Pendulum-v1)
  host        the host-stepped loop as train.py runs it on --env (`HostRuns.advance`)
and the host iteration's parts, each timed alone:
  actions     the actions coming back from the device (`np.asarray`)
  envs        gymnasium stepping of every run's env through the suite's EnvBatch (rescaling, resets)
  timestep    the Timestep going to the device (`jax.device_put`)
  compute     the jitted learn-and-act call with its inputs already on the device
host / fused is the ratio issue 27 asks to bring to 1.2 at most. Interleaved rounds, medians;
compile times (each loop's every jitted piece) are reported apart. A second table times stepping
the envs alone (EnvBatch.step with random actions) for --env-counts envs, on one thread and on
one per CPU (the default), against one env.

    python bench/host_loop.py [--agent crossq] [--preset cpu] [--env gym/Hopper-v4] [--seeds 1 3] [--iterations 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

from common import describe_device

import jax
import jax.numpy as jnp
import numpy as np

import envs
from agents import AGENTS
from agents.common import resolve_gamma
from agents.engine import batching, off_policy
from agents.engine.host_loop import HostRuns
from agents.engine.loop import TrainConfig
from envs.core import EnvSpec, make_env
from envs.gym_envs import EnvBatch

STAND_IN = "stand-in"


def train_config(agent: str, preset: str, env: str, iterations: int) -> TrainConfig:
    """A run of `agent`'s `preset` updating from its first step, a period of 10 chunks of `iterations`."""
    agent_config = dataclasses.replace(AGENTS[agent].presets[preset].config, learning_starts=0)
    return TrainConfig(agent=agent, agent_config=agent_config, env=env, total_steps=100 * iterations,
                       eval_every=10 * iterations, eval_episodes=1)


def stand_in(spec: EnvSpec) -> envs.Env:
    """A jittable env with spec's observation and action sizes and time limit, whose step costs almost
    nothing: obs' = 0.9 obs + 0.1 (the action repeated to the observation's size), reward -|obs'|^2,
    never terminating. The fused side of the comparison: the host env's own cost is the `envs` column."""
    size = spec.obs_shape[0]

    def reset(key):
        obs = jax.random.uniform(key, spec.obs_shape, minval=-0.1, maxval=0.1)
        return obs, obs

    def step(key, obs, action):
        obs = 0.9 * obs + 0.1 * jnp.resize(action, (size,))
        return obs, obs, -jnp.sum(obs**2), jnp.zeros((), bool)

    stand_in_spec = EnvSpec(f"{STAND_IN} of {spec.env_id}", spec.obs_shape, spec.max_episode_steps, spec.action_dim)
    return make_env(stand_in_spec, reset, step, -jnp.ones(spec.action_dim), jnp.ones(spec.action_dim))


def timed(fn, rounds: int, per: int) -> float:
    """Median seconds per unit of `rounds` calls of fn (each doing `per` units)."""
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        seconds.append((time.perf_counter() - start) / per)
    return float(np.median(seconds))


def measure(agent: str, preset: str, env: str, fused_env: str, num_seeds: int, iterations: int, rounds: int) -> dict:
    seeds = list(range(num_seeds))
    keys, mesh = batching.keys_for(seeds), batching.runs_mesh()

    host_spec = envs.make(env).spec
    fused_task = stand_in(host_spec) if fused_env == STAND_IN else envs.make(fused_env)

    def hp(spec):  # gamma "auto" from each task's time limit
        hparams = resolve_gamma(AGENTS[agent].presets[preset].hyperparams, spec.max_episode_steps)
        return batching.broadcast(hparams, num_seeds)

    fused_config = train_config(agent, preset, fused_task.spec.env_id, iterations)
    fused = off_policy.make_runs(fused_config, hp(fused_task.spec), keys, mesh, env=fused_task)
    host = HostRuns(train_config(agent, preset, env, iterations), hp(host_spec), keys, seeds, mesh)
    compile_seconds = {}
    for name, runs in (("fused", fused), ("host", host)):
        start = time.perf_counter()
        runs.compile()
        compile_seconds[name] = time.perf_counter() - start
    fused_carry, host_carry = fused.begin(fused.init()), host.begin(host.init())
    state = {"fused": fused_carry, "host": host_carry, "first": 0}

    def fused_chunk():
        state["fused"] = fused.advance(state["fused"], state["first"], wait=True)
        return state["fused"]

    def host_chunk():
        state["host"] = host.advance(state["host"], state["first"], wait=True)
        return host.actions

    actions = host.actions
    flat = np.asarray(actions).reshape(-1, host.env.spec.action_dim)
    timestep = jax.tree.map(host.per_run, host.train_envs.step(flat))
    on_device = jax.device_put(timestep)

    def compute():
        carry, acts = state["host"], host.actions
        for index in range(iterations):
            carry, acts = host.step_compiled(carry, acts, on_device, np.int32(state["first"] + index), host.hp)
        state["host"], host.actions = carry, acts
        return acts

    parts = {
        "actions": lambda: [np.asarray(actions) for _ in range(iterations)],
        "envs": lambda: [host.train_envs.step(flat) for _ in range(iterations)],
        "timestep": lambda: [jax.device_put(timestep) for _ in range(iterations)],
        "compute": compute,
    }
    fused_chunk(), host_chunk()  # warm-up
    result = {name: [] for name in ("fused", "host", *parts)}
    for _ in range(rounds):  # interleaved: each round's parts see the same load
        state["first"] += iterations
        result["fused"].append(timed(fused_chunk, 1, iterations))
        result["host"].append(timed(host_chunk, 1, iterations))
        for name, fn in parts.items():
            result[name].append(timed(fn, 1, iterations))
    return {"compile": compile_seconds, **{name: 1e3 * float(np.median(values)) for name, values in result.items()}}


def env_stepping(env_id: str, count: int, threads: int, steps: int, rounds: int) -> float:
    """ms per EnvBatch.step of `count` envs on `threads` threads (median of `rounds` rounds of `steps`)."""
    host_env = envs.make(env_id)
    batch = host_env.batch(range(count))
    batch = EnvBatch(batch.envs, batch.seeds, threads)
    batch.reset()
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, count, host_env.spec.action_dim)).astype(np.float32)
    return 1e3 * timed(lambda: [batch.step(a) for a in actions], rounds, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agent", default="crossq", choices=[name for name, a in AGENTS.items() if a.loop == "off_policy"])
    parser.add_argument("--preset", default="cpu", help="the agent's preset (cpu, paper)")
    parser.add_argument("--env", default="gym/Hopper-v4", help="the host-stepped task")
    parser.add_argument("--fused-env", default=STAND_IN,
                        help=f"the fused loop's jittable task: {STAND_IN!r} (default) for an almost free env with "
                             "--env's sizes and time limit, or an env id such as gymnax/Pendulum-v1")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 3], help="seed counts (one env per run)")
    parser.add_argument("--iterations", type=int, default=200, help="iterations per timed call")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--env-counts", type=int, nargs="+", default=[1, 8], help="envs stepped together in the second table")
    parser.add_argument("--env-steps", type=int, default=500, help="steps per round of the second table")
    args = parser.parse_args()
    if args.preset not in AGENTS[args.agent].presets:
        parser.error(f"{args.agent} has no preset {args.preset!r}; choose from {', '.join(AGENTS[args.agent].presets)}")
    print(describe_device())
    print(f"{args.agent} --preset {args.preset}, an update every iteration; ms per iteration (all runs); host: {args.env}, "
          f"fused: {args.fused_env}")
    print(f"{'seeds':>5} {'compile s fused/host':>20} {'fused':>7} {'host':>7} {'host/fused':>10} "
          f"{'actions':>7} {'envs':>7} {'timestep':>8} {'compute':>7}")
    for num_seeds in args.seeds:
        r = measure(args.agent, args.preset, args.env, args.fused_env, num_seeds, args.iterations, args.rounds)
        compile_s = f"{r['compile']['fused']:.1f} / {r['compile']['host']:.1f}"
        print(f"{num_seeds:>5} {compile_s:>20} {r['fused']:>7.2f} {r['host']:>7.2f} {r['host'] / r['fused']:>10.2f} "
              f"{r['actions']:>7.3f} {r['envs']:>7.3f} {r['timestep']:>8.3f} {r['compute']:>7.2f}", flush=True)
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"\n{args.env}: ms per step of n envs (EnvBatch.step, random actions), on 1 thread and on {threads}")
    print(f"{'envs':>5} {'1 thread':>8} {f'{threads} threads':>10} {'/ one env, 1 thread':>19} {f'/ one env, {threads} threads':>20}")
    one = None
    for count in args.env_counts:
        serial = env_stepping(args.env, count, 1, args.env_steps, args.rounds)
        parallel = env_stepping(args.env, count, threads, args.env_steps, args.rounds)
        one = one or (serial, parallel)
        print(f"{count:>5} {serial:>8.3f} {parallel:>10.3f} {serial / one[0]:>19.2f} {parallel / one[0]:>20.2f}", flush=True)


if __name__ == "__main__":
    main()
