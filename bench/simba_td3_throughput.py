"""SimBa-SAC (the authors' default sizes) and TD3 throughput of the fused loop on gymnax/Pendulum-v1.

Reports, for 1 and 8 vmapped seeds: compile seconds, env-steps per second with an update every
step (compile excluded), the FLOPs of one env step counted from the layer sizes, the GFLOP/s that
implies, and that rate against a dense matmul of each agent's widest layer shape measured here.

    python bench/simba_td3_throughput.py [--steps 1000] [--seeds 1 8] [--agents simba-sac td3]
"""

from __future__ import annotations

import argparse

from common import describe_device, matmul_gflops, measure, network_flops, report, sac_update_flops

from agents import sac, td3


def td3_update_flops(config, obs_dim: int, action_dim: int) -> float:
    """Matmul FLOPs of one TD3 update: every critic update, and 1/policy_delay of an actor update."""
    batch = config.batch_size
    actor = network_flops(config.actor_spec, obs_dim, action_dim, batch)
    one_critic = network_flops(config.critic_spec, obs_dim + action_dim, 1, batch)
    critics = config.num_critics * one_critic
    critic_update = actor + critics + critics + 2 * critics  # target action, target Q, Q, dQ/dparams
    actor_update = actor + one_critic + one_critic + 2 * actor  # action, Q_1, dQ_1/daction, dpi/dparams
    return critic_update + actor_update / config.policy_delay


AGENT_SETUPS = {
    # agent: (config, FLOPs per update, matmul shape of its widest layer)
    "simba-sac": (sac.SIMBA.config, sac_update_flops, (256, 512, 2048)),
    "td3": (td3.Config(), td3_update_flops, (256, 256, 256)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="timed env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8], help="vmapped seed counts to measure")
    parser.add_argument("--agents", nargs="+", default=list(AGENT_SETUPS), choices=list(AGENT_SETUPS))
    args = parser.parse_args()

    print(describe_device())
    for agent in args.agents:
        config, count_flops, shape = AGENT_SETUPS[agent]
        flops = count_flops(config, obs_dim=3, action_dim=1)
        rate = matmul_gflops(*shape)
        print(f"\n{agent}: actor {config.actor_spec}, critic {config.critic_spec} x {config.num_critics}")
        print(f"FLOPs per env step (one update, counted from layer sizes): {flops / 1e6:.0f} MFLOP; "
              f"dense matmul {'x'.join(map(str, shape))}: {rate:.0f} GFLOP/s")
        results = {n: measure(agent, config, n, args.steps) for n in args.seeds}
        report(results, flops, rate, args.steps)


if __name__ == "__main__":
    main()
