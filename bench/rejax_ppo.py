"""rejax's PPO timed like bench/ppo_throughput.py times ours; run with the python of rejax's virtualenv.

Times `steps / (num_envs * num_steps)` of rejax's training iterations (rollout + epochs of
minibatch updates, no evaluation) over vmapped seeds, after an untimed warm-up (the fastest of
`--repeats`); prints one JSON line.
Same sizes as ours: CartPole-v1, ReLU 64x64 actor and critic, 4 epochs x 4 minibatches, PureJaxRL's
hyperparameters. (rejax clips gradients elementwise where we clip their global norm, and does not
anneal the learning rate; neither changes the work done.)

    /work/rejax-venv/bin/python bench/rejax_ppo.py --seeds 64 --steps 51200
"""

from __future__ import annotations

import argparse
import json

import jax
from rejax import PPO
from timing import compile_and_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=51_200)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--num-steps", type=int, default=128)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    algo = PPO.create(
        env="CartPole-v1",
        num_envs=args.num_envs,
        num_steps=args.num_steps,
        num_epochs=4,
        num_minibatches=4,
        learning_rate=2.5e-4,
        max_grad_norm=0.5,
        gamma=0.99,
        gae_lambda=0.95,
        clip_eps=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        agent_kwargs={"activation": "relu", "hidden_layer_sizes": (args.width, args.width)},
    )
    iterations = args.steps // (args.num_envs * args.num_steps)

    def period(ts):
        return jax.lax.fori_loop(0, iterations, lambda _, ts: algo.train_iteration(ts), ts), None

    state = jax.jit(jax.vmap(algo.init_state))(jax.random.split(jax.random.key(0), args.seeds))
    result = compile_and_time(jax.vmap(period), state, repeats=args.repeats)
    print(json.dumps({**result, "env_steps": iterations * args.num_envs * args.num_steps * args.seeds}))


if __name__ == "__main__":
    main()
