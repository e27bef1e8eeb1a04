#!/usr/bin/env bash
# Occam's SAC and CrossQ beside SBX's (araffin/sbx) at equal configuration on a gymnasium MuJoCo
# task, every run in parallel on the CPU, then bench/side_by_side.py at the last evaluation all runs
# reached. Equal configuration: 2x256 actor and critics, Adam lr 1e-3, batch 256, buffer 1M,
# LEARNING_STARTS random steps, gamma 0.99, tau 0.005 (SAC), 2 critics, alpha learned from 1.0 towards
# -|A| with SBX's log_alpha loss, log-std clipped to [-20, 2]; CrossQ: BatchRenorm actor and critics,
# Adam beta1 0.5, policy delay 3, no target network. Every run stops after LIMIT seconds.
#
#   SBX_PYTHON=/tmp/sbx/bin/python OUT=runs/side-by-side bash bench/side_by_side.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-side-by-side}
PYTHON=${PYTHON:-python3}
SBX_PYTHON=${SBX_PYTHON:-$PYTHON}
ENV_ID=${ENV_ID:-Hopper-v4}
SEEDS=${SEEDS:-5}
STEPS=${STEPS:-20000}
EVERY=${EVERY:-2000}
LEARNING_STARTS=${LEARNING_STARTS:-5000}
LIMIT=${LIMIT:-480}
export JAX_PLATFORMS=cpu
mkdir -p "$OUT/logs"

common=(--env "gym/$ENV_ID" --seeds "$SEEDS" --total-steps "$STEPS" --eval-every "$EVERY"
        --learning-starts "$LEARNING_STARTS" --temperature-loss log_alpha --checkpoint-every 0)
timeout -s INT "$LIMIT" "$PYTHON" train.py sac --preset paper "${common[@]}" --out "$OUT/occam-sac" > "$OUT/logs/occam-sac.log" 2>&1 &
timeout -s INT "$LIMIT" "$PYTHON" train.py crossq --preset paper --critic-width 256 "${common[@]}" \
    --out "$OUT/occam-crossq" > "$OUT/logs/occam-crossq.log" 2>&1 &
for seed in $(seq 0 $((SEEDS - 1))); do
    for agent in sac crossq; do
        OMP_NUM_THREADS=1 XLA_FLAGS=--xla_cpu_multi_thread_eigen=false timeout -s INT "$LIMIT" "$SBX_PYTHON" \
            bench/sbx_baseline.py "$agent" --env "$ENV_ID" --seed "$seed" --seeds 1 --total-steps "$STEPS" \
            --eval-every "$EVERY" --learning-starts "$LEARNING_STARTS" --critic-width 256 \
            --out "$OUT/sbx-$agent-$seed" > "$OUT/logs/sbx-$agent-$seed.log" 2>&1 &
    done
done
wait
for agent in sac crossq; do
    "$PYTHON" bench/side_by_side.py --ours "$OUT/occam-$agent" --theirs "$OUT"/sbx-"$agent"-* \
        --name "$agent on $ENV_ID (Occam vs SBX $("$SBX_PYTHON" -c 'import sbx; print(sbx.__version__)' 2>/dev/null))" \
        --out "$OUT/side_by_side.md"
done
