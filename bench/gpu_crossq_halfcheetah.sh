#!/usr/bin/env bash
# CrossQ with the paper's configuration (ICLR 2024: 2048-wide BatchRenorm critics, no target
# network, UTD 1) on the real gym/HalfCheetah-v4, 5 seeds, for as many env steps as fit in BUDGET
# seconds (default 480, leaving room for start-up and the report inside 10 minutes on one H100),
# then the report against the published CrossQ curves.
#
#   bash bench/gpu_crossq_halfcheetah.sh            # needs jax with CUDA: pip install -e ".[dev,cuda]"
#   BUDGET=540 OUT=runs/x bash bench/gpu_crossq_halfcheetah.sh
#
# The run stops with SIGINT when the budget is spent: train.py finishes the period under way,
# writes evals.csv, summary.json and curves.png for the evaluations done (exit 130), and the last
# checkpoint lets `python train.py --resume "$OUT"` go on later. Evaluations every 10k steps,
# 1 episode each, as on the published curves' grid (thinned to 10k).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu-crossq-halfcheetah}
BUDGET=${BUDGET:-480}
python -c "import jax; print('devices:', jax.devices())"
timeout --signal=INT "$BUDGET" python train.py crossq --preset paper --env gym/HalfCheetah-v4 \
    --seeds 5 --total-steps 1000000 --eval-every 10000 --eval-episodes 1 --out "$OUT" --overwrite
status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 130 ] && [ "$status" -ne 124 ]; then
    echo "training failed with exit code $status" >&2
    exit "$status"
fi
python -m reports "$OUT" --out "$OUT/report"
echo "report: $OUT/report/report.md"
