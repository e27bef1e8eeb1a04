"""SAC throughput of the fused loop on gymnax/Pendulum-v1, against the machine's own matmul speed.

Reports, for 1 and 8 vmapped seeds (256x256 networks, batch 256, UTD 1): compile seconds and
env-steps per second with an update every step (compile excluded); 8 sequential single-seed runs
against 8 vmapped seeds; the FLOPs of one env step counted from the layer sizes, the GFLOP/s that
implies, and the GFLOP/s of a dense matmul of the same shape and of a large one, measured here.

    python bench/sac_throughput.py [--steps 3000] [--seeds 1 8]
"""

from __future__ import annotations

import argparse

from common import describe_device, matmul_gflops, measure, report, sac_update_flops

from agents import sac


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="timed env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8], help="vmapped seed counts to measure")
    parser.add_argument("--width", type=int, default=256, help="hidden width of actor and critics")
    args = parser.parse_args()

    print(describe_device())
    config = sac.Config(actor_width=args.width, critic_width=args.width, batch_size=256)
    flops = sac_update_flops(config, obs_dim=3, action_dim=1)
    print(f"FLOPs per env step (one update, counted from layer sizes): {flops / 1e6:.0f} MFLOP")
    same_shape = matmul_gflops(256, args.width, args.width)
    print(f"dense matmul: 256x{args.width}x{args.width} {same_shape:.0f} GFLOP/s, "
          f"2048x2048x2048 {matmul_gflops(2048, 2048, 2048):.0f} GFLOP/s")
    results = {n: measure("sac", config, n, args.steps) for n in args.seeds}
    report(results, flops, same_shape, args.steps)


if __name__ == "__main__":
    main()
