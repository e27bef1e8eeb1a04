"""SAC throughput of the fused loop on gymnax/Pendulum-v1, against the machine's own matmul speed.

Reports, for 1 and 8 vmapped seeds (256x256 networks, batch 256, UTD 1): compile seconds and
env-steps per second with an update every step (compile excluded); 8 sequential single-seed runs
against 8 vmapped seeds; the FLOPs of one env step counted from the layer sizes, the GFLOP/s that
implies, and the GFLOP/s of a dense matmul of the same shape and of a large one, measured here.

    python bench/sac_throughput.py [--steps 3000] [--seeds 1 8]
"""

from __future__ import annotations

import argparse

from common import dense_flops, describe_device, matmul_gflops, measure, report

from agents import sac


def sac_update_flops(obs_dim: int, action_dim: int, width: int, batch: int, num_critics: int = 2) -> int:
    """Matmul FLOPs of one SAC update (critic, actor; the temperature is negligible).

    A backward pass costs twice its forward pass where both weight and input gradients are needed,
    once where only input gradients are (the critic inside the actor loss).
    """
    actor = dense_flops([obs_dim, width, width, 2 * action_dim], batch)
    critic = num_critics * dense_flops([obs_dim + action_dim, width, width, 1], batch)
    critic_update = actor + critic + critic + 2 * critic  # next action, target Q, Q, dQ/dparams
    actor_update = actor + critic + critic + 2 * actor  # action, Q, dQ/daction, dpi/dparams
    return critic_update + actor_update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="timed env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8], help="vmapped seed counts to measure")
    parser.add_argument("--width", type=int, default=256, help="hidden width of actor and critics")
    args = parser.parse_args()

    print(describe_device())
    flops = sac_update_flops(obs_dim=3, action_dim=1, width=args.width, batch=256)
    print(f"FLOPs per env step (one update, counted from layer sizes): {flops / 1e6:.0f} MFLOP")
    same_shape = matmul_gflops(256, args.width, args.width)
    print(f"dense matmul: 256x{args.width}x{args.width} {same_shape:.0f} GFLOP/s, "
          f"2048x2048x2048 {matmul_gflops(2048, 2048, 2048):.0f} GFLOP/s")
    config = sac.Config(actor_width=args.width, critic_width=args.width, batch_size=256)
    results = {n: measure("sac", config, n, args.steps) for n in args.seeds}
    report(results, flops, same_shape, args.steps)


if __name__ == "__main__":
    main()
