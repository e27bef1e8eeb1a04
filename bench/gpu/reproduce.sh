#!/usr/bin/env bash
# One GPU command, one reproduction: AGENT with its PRESET on TASK, SEEDS (5) vmapped seeds, as many
# env steps per run as fit in one 10-minute command (at most MAX_STEPS, 100k), ending with its
# records and report in $OUT (at most 8 files: config.json, evals.csv, summary.json, curves.png,
# report.md, the report's figure, reproduce.log):
#
#   bash bench/gpu/wheels.sh                                  # here, once: fills .whl/ (carry it to the GPU)
#   bash bench/gpu/reproduce.sh crossq paper gym/Walker2d-v4  # there; OUT defaults to ./gpu-out
#   GPU_SMOKE=1 OUT=/tmp/o PYTHON=.venv/bin/python bash bench/gpu/reproduce.sh crossq paper gym/Hopper-v4
#
# How the length is planned: a first run to FIRST env steps (10k: the first evaluation period after
# the 5k random steps holds updates) is timed; then `train.py --resume RUN --total-steps N` extends
# it (bit for bit the run started with N), N from that period's seconds and the BUDGET left
# (bench/gpu/parts.py extend): a multiple of GRID (the published curves' evaluation steps: 10k for
# crossq, 50k for the others) where one fits, else of EVAL_EVERY. A stage that reaches its time
# limit stops as on Ctrl-C: the period under way finishes, summary.json says "interrupted": true, and
# the log says the run stopped early; the report then covers the evaluations done. Whatever the
# speed, the command ends by END (590 s): a stopped stage still in its period REPORT (45) seconds
# before END is killed and its run's summary.json marked interrupted, the records go to $OUT before
# the report runs, and the report gets what is left (at most 120 s).
# GPU_SMOKE=1 runs every stage on a CPU with tiny networks and steps, without installing wheels.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
if [ $# -ne 3 ]; then
    echo "usage: bash bench/gpu/reproduce.sh AGENT PRESET TASK, e.g. crossq paper gym/Walker2d-v4" >&2
    exit 2
fi
AGENT=$1
PRESET=$2
TASK=$3
OUT=${OUT:-gpu-out}
PYTHON=${PYTHON:-python3}
SMOKE=${GPU_SMOKE:-0}
SEEDS=${SEEDS:-5}
WHEELS=${WHEELS:-.whl}
if [ "$SMOKE" != 1 ] && ! ls "$WHEELS"/*.whl > /dev/null 2>&1; then
    echo "error: no wheels in $WHEELS/: run bash bench/gpu/wheels.sh where a package index is reachable, and carry $WHEELS (GPU_SMOKE=1 runs without)" >&2
    exit 2
fi
if [ "$AGENT" = crossq ]; then GRID=${GRID:-10000}; else GRID=${GRID:-50000}; fi
if [ "$SMOKE" = 1 ]; then
    BUDGET=${BUDGET:-300}
    EVAL_EVERY=200
    FIRST=400
    MAX_STEPS=${MAX_STEPS:-1000}
    GRID=400
    small=(--critic-width 32 --actor-width 32 --batch-size 32 --learning-starts 200 --eval-episodes 1)
else
    BUDGET=${BUDGET:-500}  # seconds for the training stages; a stopped stage may still finish its period after it
    EVAL_EVERY=5000
    FIRST=10000
    MAX_STEPS=${MAX_STEPS:-100000}
    small=()
fi
END=${END:-590}  # the command's hard end, in seconds: inside the 10 minutes of one device call
REPORT=45  # seconds kept for the report and the copies before END
WORK=$(mktemp -d)
RUN=$WORK/run
mkdir -p "$OUT"
exec > >(tee -a "$OUT/reproduce.log") 2>&1
tee_pid=$!

source bench/gpu/common.sh
install_wheels
describe_machine

stage() {  # stage SECONDS COMMAND...: COMMAND under a limit, stopped as by Ctrl-C at it; -> its exit status
    local limit=$1
    shift
    if [ "$limit" -lt 1 ]; then
        echo "=== $*: no time left for it (${SECONDS} s elapsed): the run stopped early ==="
        return 124
    fi
    # after the limit, the period under way may finish until REPORT seconds before END, then is killed
    local grace=$((END - REPORT - SECONDS - limit))
    [ "$grace" -gt 120 ] && grace=120
    [ "$grace" -lt 5 ] && grace=5
    echo "=== $* (limit ${limit} s, then ${grace} s to finish its period; ${SECONDS} s elapsed) ==="
    timeout --signal=INT --kill-after="$grace" "$limit" "$@"
    local status=$?
    [ "$status" = 137 ] && echo "=== killed ${grace} s after its time limit: the run stopped early ==="
    [ "$status" = 124 ] && echo "=== stopped at its time limit: the run stopped early (a summary.json written says interrupted) ==="
    if [ "$status" = 137 ] && [ -f "$RUN/summary.json" ]; then
        echo "=== summary.json is the run's last finished stage's: marked interrupted ==="
        "$PYTHON" -c 'import json, sys
summary = json.load(open(sys.argv[1]))
json.dump({**summary, "interrupted": True}, open(sys.argv[1], "w"), indent=1)' "$RUN/summary.json"
    fi
    return "$status"
}

finish() {  # the copies into $OUT and the report, whatever happened before, ending before END
    cp "$RUN"/config.json "$RUN"/evals.csv "$RUN"/summary.json "$RUN"/curves.png "$OUT"/ 2>/dev/null
    local left=$((END - SECONDS))
    [ "$left" -gt 120 ] && left=120
    if [ -f "$RUN/summary.json" ] && [ "$left" -gt 0 ]; then
        timeout "$left" "$PYTHON" -m reports "$RUN" --out "$RUN/report" || echo "the report failed or ran out of time (above)"
    fi
    cp "$RUN"/report/report.md "$RUN"/report/curves_*.png "$OUT"/ 2>/dev/null
    rm -rf "$WORK"  # the checkpoints never go to $OUT
    echo "done in $SECONDS s; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
    exec >&- 2>&-
    wait "$tee_pid"  # reproduce.log is whole before the command returns
    exit "$1"
}

command=("$AGENT" --preset "$PRESET" --env "$TASK" --seeds "$SEEDS" --eval-every "$EVAL_EVERY" "${small[@]}")
echo "$AGENT --preset $PRESET on $TASK, $SEEDS seeds: first $FIRST env steps, then at most $MAX_STEPS on a $GRID grid"
"$PYTHON" -c "import sys, train; sys.exit(train.main(sys.argv[1:], check_only=True))" \
    "${command[@]}" --total-steps "$FIRST" --out "$RUN" || finish 2

stage $((BUDGET - SECONDS - 60)) "$PYTHON" train.py "${command[@]}" --total-steps "$FIRST" --out "$RUN" || finish 1
steps=$("$PYTHON" bench/gpu/parts.py extend --run "$RUN" --seconds $((BUDGET - SECONDS - 60)) \
    --max-steps "$MAX_STEPS" --grid "$GRID") || finish 1
if [ "$steps" -gt "$FIRST" ]; then
    echo "planned: $steps env steps per run"
    stage $((BUDGET - SECONDS - 60)) "$PYTHON" train.py --resume "$RUN" --total-steps "$steps" || finish 1
else
    echo "planned: no period more fits in the budget; the run ends at $FIRST env steps"
fi
finish 0
