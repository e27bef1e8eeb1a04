#!/usr/bin/env bash
# Downloads, for CPython 3.12 on manylinux x86_64, the wheels of every runtime dependency that the
# GPU image lacks, plus the project's own wheel, into WHEELS (default .whl/ at the repository root,
# git-ignored). bench/gpu/run.sh installs them there with pip --no-index --no-deps --target.
#
#   bash bench/gpu/wheels.sh                 # run here, where a package index is reachable
#   WHEELS=/tmp/w PYTHON=python3.11 bash bench/gpu/wheels.sh
#
# The GPU image has Python 3.12, jax 0.11 with CUDA, flax, optax, orbax-checkpoint, numpy, scipy,
# matplotlib, torch, rich, tqdm and tensorboard: none of those is shipped (a jax, jaxlib, flax,
# optax or numpy in the target would shadow the image's CUDA build). Versions are the ones the
# project is tested with here; --no-deps fetches nothing they need, so every missing runtime
# dependency is named below, one version each.
set -euo pipefail
cd "$(dirname "$0")/../.."
WHEELS=${WHEELS:-.whl}
PYTHON=${PYTHON:-python3}

PACKAGES=(
    # the project's environments and CLI
    gymnax==1.0.1 gymnasium==1.3.0 farama-notifications==0.0.6 cloudpickle==3.1.3
    seaborn==0.13.2 pandas==3.1.1  # gymnax's registry imports its Pong, which imports seaborn
    brax==0.14.2 jaxopt==0.8.5 ml-collections==1.1.0 tensorboardx==2.6.5 trimesh==5.2.0
    mujoco==4.0.0 mujoco-core==4.0.0 mujoco-mjx==3.17.0
    glfw==2.11.0 imageio==2.38.1  # gymnasium's MuJoCo renderer imports them with the env
    six==1.17.0  # gymnax and tensorflow-probability import it
    tyro==1.0.17 docstring-parser==0.18.0 typeguard==4.6.1
    # the baseline of part d: SBX's CrossQ (torch is in the image)
    sbx-rl==0.28.0 stable-baselines3==2.9.2
    tfp-nightly==0.26.0.dev20261027 dm-tree==0.1.10 gast==0.7.0 decorator==5.3.1 attrs==26.1.0 wrapt==2.5.2
)
# Left out on purpose: mujoco-studio (12.8 MB, only the viewer; `import mujoco` works without it),
# pyopengl (rendering only), flask and flask-cors (brax's visualizer only).

rm -rf "$WHEELS"
mkdir -p "$WHEELS"
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$WHEELS" "${PACKAGES[@]}"
"$PYTHON" -m pip wheel -q --no-deps -w "$WHEELS" .
for shadowing in jax jaxlib flax optax numpy; do
    if ls "$WHEELS" | grep -qi "^${shadowing}-"; then
        echo "error: $WHEELS holds a $shadowing wheel, which would shadow the GPU image's own" >&2
        exit 2
    fi
done
ls -l "$WHEELS"
du -sh "$WHEELS"
