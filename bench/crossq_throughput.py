"""CrossQ throughput of the fused loop on gymnax/Pendulum-v1, against the machine's matmul speed.

Default sizes are SBX's CrossQ defaults (critic 1024x1024, actor 256x256, batch 256, UTD 1,
policy delay 3); `--critic-width 2048` gives the paper's critics. Reports compile seconds,
env-steps/s with an update every step, ms per update, the FLOPs of one step counted from the layer
sizes and the fraction of a same-shaped dense matmul's GFLOP/s measured in the same run.

    python bench/crossq_throughput.py [--critic-width 1024] [--steps 400] [--seeds 1 8]
"""

from __future__ import annotations

import argparse

from common import dense_flops, describe_device, matmul_gflops, measure, report

from agents import crossq


def crossq_update_flops(
    obs_dim: int, action_dim: int, actor_width: int, critic_width: int, batch: int, policy_delay: int
) -> float:
    """Matmul FLOPs of one CrossQ update, the actor's share divided by the policy delay.

    Critic: the next action (actor forward), then forward and backward of both critics on the joint
    batch of 2 * batch rows. Actor: forward, critics forward, their input gradient, actor backward.
    """
    actor = dense_flops([obs_dim, actor_width, actor_width, 2 * action_dim], batch)
    critic = 2 * dense_flops([obs_dim + action_dim, critic_width, critic_width, 1], batch)
    critic_update = actor + 2 * critic + 2 * (2 * critic)
    actor_update = actor + critic + critic + 2 * actor
    return critic_update + actor_update / policy_delay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="timed env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8], help="vmapped seed counts to measure")
    parser.add_argument("--critic-width", type=int, default=1024, help="hidden width of the critics")
    parser.add_argument("--actor-width", type=int, default=256, help="hidden width of the actor")
    args = parser.parse_args()

    print(describe_device())
    config = crossq.Config(actor_width=args.actor_width, critic_width=args.critic_width, batch_size=256)
    flops = crossq_update_flops(3, 1, args.actor_width, args.critic_width, 256, config.policy_delay)
    print(f"FLOPs per env step (one update, counted from layer sizes): {flops / 1e6:.0f} MFLOP")
    same_shape = matmul_gflops(512, args.critic_width, args.critic_width)
    print(f"dense matmul 512x{args.critic_width}x{args.critic_width} (the joint critic layer): {same_shape:.0f} GFLOP/s")
    results = {n: measure("crossq", config, n, args.steps) for n in args.seeds}
    report(results, flops, same_shape, args.steps)


if __name__ == "__main__":
    main()
