#!/usr/bin/env bash
# One command on one GPU of the target image (Python 3.12, jax with CUDA, no package index), about
# 8.5 minutes in all, every figure under $OUT:
#   a. ms per update at the paper sizes: CrossQ (2048-wide critics), SAC (256), SimBa-SAC, 1 and 8 seeds
#   b. sweep scaling: 1, 8, 64, 256 vmapped runs against sequential (bench/sweep_scaling.py)
#   c. env steps/s of brax/halfcheetah at 1, 64 and 4096 envs (bench/brax_backends.py)
#   m. env steps/s of mjx/HalfCheetah-v4 at 1, 64 and 4096 envs against C MuJoCo (bench/mjx_throughput.py)
#   h. the host-stepped loop's iteration in its parts against a fused one: CrossQ --preset paper,
#      gym/HalfCheetah-v4, 1, 5 and 10 runs (bench/host_loop.py)
#   d. SBX's CrossQ at part a's sizes for the same number of updates, and our ratio
#   e. the rest of the budget: CrossQ --preset paper on $E_ENV (gym/HalfCheetah-v4 by default),
#      5 seeds, then the report
#
#   bash bench/gpu/wheels.sh                       # here, once: fills .whl/ (carry it to the GPU)
#   bash bench/gpu/run.sh                          # there; OUT defaults to ./gpu-out
#   PARTS="b c m e" E_ENV=mjx/HalfCheetah-v4 bash bench/gpu/run.sh   # some parts only
#   E_STEPS=100000 ...                             # part e's env steps per run, instead of the plan
#   GPU_SMOKE=1 OUT=/tmp/o PYTHON=.venv/bin/python bash bench/gpu/run.sh   # tiny sizes, on a CPU
#
# PARTS names the parts to run (all by default: "a b c m h d e"); part e takes what the others left of
# BUDGET, so leaving parts out lengthens it. Without part a, part e plans its length from
# parts.py's fallback time per step (E_STEPS sets it instead) and is stopped at its limit in any
# case. An mjx/ E_ENV that cannot be built on the machine falls back to its gym/ task.
# Each part runs under its own time limit and a failure is reported and passed over, so one part
# never loses the others' figures. Everything printed also goes to $OUT/figures.log as it comes.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
OUT=${OUT:-gpu-out}
PYTHON=${PYTHON:-python3}
SMOKE=${GPU_SMOKE:-0}
BUDGET=${BUDGET:-530}  # seconds for everything, inside the 10 minutes one command may run
set -f  # PARTS's words are part names, never file patterns
PARTS=$(echo ${PARTS:-a b c m h d e})  # one space between names, whatever separated them
set +f
E_ENV=${E_ENV:-gym/HalfCheetah-v4}
for name in $PARTS; do
    case $name in
        a | b | c | m | h | d | e) ;;
        *) echo "error: PARTS holds '$name'; the parts are a b c m h d e (report runs with e)" >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/figures.log") 2>&1
tee_pid=$!

part() {  # part NAME SECONDS COMMAND...: runs COMMAND under a limit; a failure is reported, not fatal
    local name=$1 limit=$2
    shift 2
    local gate=$name
    [ "$name" = report ] && gate=e  # the report is part e's
    case " $PARTS " in
        *" $gate "*) ;;
        *) echo "=== part $name: not in PARTS, skipped ==="; return 0 ;;
    esac
    echo
    echo "=== part $name (limit ${limit} s, ${SECONDS} s elapsed) ==="
    local start=$SECONDS
    timeout --signal=INT --kill-after=20 "$limit" "$@"
    local status=$?
    echo "=== part $name: exit $status after $((SECONDS - start)) s ==="
    return 0
}

source bench/gpu/common.sh
install_wheels
describe_machine

# SIDE_BY_SIDE=1: meanwhile, on the machine's CPU cores, Occam's and SBX's SAC and CrossQ at equal
# configuration (bench/side_by_side.sh), each run stopped after SIDE_BY_SIDE_LIMIT seconds
sbs_pid=
if [ "${SIDE_BY_SIDE:-0}" = 1 ]; then
    OUT=$WORK/side-by-side PYTHON=$PYTHON LIMIT=${SIDE_BY_SIDE_LIMIT:-450} bash bench/side_by_side.sh \
        > "$WORK/side-by-side.log" 2>&1 &
    sbs_pid=$!
fi

if [ "$SMOKE" = 1 ]; then  # every path of the GPU run, tiny, with room for a slow shared CPU
    part a 400 "$PYTHON" bench/gpu/parts.py updates --json "$WORK/updates.json" --steps 20 --seeds 2 --smoke
    part b 200 "$PYTHON" bench/sweep_scaling.py --runs 1 2 --steps 20 --width 16 --agents sac
    part c 200 "$PYTHON" bench/brax_backends.py --envs halfcheetah --backends spring --batch-sizes 2 --steps 5 --min-seconds 0.1
    part m 200 "$PYTHON" bench/mjx_throughput.py --names InvertedPendulum-v4 --envs 2 --steps 10 --repeats 1
    part h 200 "$PYTHON" bench/host_loop.py --env gym/InvertedPendulum-v4 --seeds 2 --iterations 10 --rounds 1
    part d 200 "$PYTHON" bench/gpu/parts.py sbx --json "$WORK/updates.json" --steps 20 --smoke
    eval_every=200
    plan=(--seconds 60 --max-steps 400 --learning-starts 100)
    small=(--critic-width 32 --actor-width 32 --batch-size 32 --learning-starts 100)
    limit_e=400
else
    part a 140 "$PYTHON" bench/gpu/parts.py updates --json "$WORK/updates.json" --steps 500 --seeds 1 8
    part b 75 "$PYTHON" bench/sweep_scaling.py --runs 1 8 64 256 --steps 200 --agents sac crossq
    part c 80 "$PYTHON" bench/brax_backends.py --envs halfcheetah --backends spring --batch-sizes 1 4096 64 --steps 100 --min-seconds 1
    part m 110 "$PYTHON" bench/mjx_throughput.py --names HalfCheetah-v4 --envs 1 4096 64 --steps 100 --env-steps 409600
    part h 90 "$PYTHON" bench/host_loop.py --preset paper --env gym/HalfCheetah-v4 --seeds 1 5 10 --iterations 100
    part d 50 "$PYTHON" bench/gpu/parts.py sbx --json "$WORK/updates.json" --steps 500
    eval_every=2500
    limit_e=$((BUDGET - SECONDS - 30))  # 30 s for the report and the copies
    if [ "$limit_e" -lt 60 ] && [[ " $PARTS " == *" e "* ]]; then  # the command must end within its 10 minutes
        echo "part e: ${limit_e} s left of BUDGET=$BUDGET, under a minute: skipped (run it with fewer PARTS)"
        PARTS=$(echo " $PARTS " | sed 's/ e / /')
    fi
    plan=(--seconds "$limit_e")
    small=()
fi
if [ -n "${E_STEPS:-}" ]; then  # env steps per run of part e, given: no plan (the limit still stops it)
    steps=$E_STEPS
else
    steps=$("$PYTHON" bench/gpu/parts.py plan --json "$WORK/updates.json" --eval-every "$eval_every" "${plan[@]}") \
        || steps=$eval_every
fi
case " $PARTS $E_ENV" in  # an mjx/ task that cannot be built here (mujoco-mjx against this jax) falls back to gym/
    *" e "*mjx/*)
        "$PYTHON" -c "import sys, envs; envs.make(sys.argv[1])" "$E_ENV" \
            || { echo "part e: $E_ENV cannot be built here (above); gym/${E_ENV#mjx/} instead"; E_ENV=gym/${E_ENV#mjx/}; } ;;
esac

RUN=$WORK/crossq-halfcheetah
case " $PARTS " in *" e "*) echo "part e: $steps env steps per run of $E_ENV, $limit_e s for it" ;; esac
part e "$limit_e" "$PYTHON" train.py crossq --preset paper --env "$E_ENV" --seeds 5 \
    --total-steps "$steps" --eval-every "$eval_every" --eval-episodes 1 --checkpoint-every 0 "${small[@]}" \
    --out "$RUN" --overwrite
part report 60 "$PYTHON" -m reports "$RUN" --out "$RUN/report"

# At most 8 files come back from the GPU machine: the log, the run's records, the report.
cp "$RUN"/config.json "$RUN"/evals.csv "$RUN"/summary.json "$RUN"/curves.png "$OUT"/ 2>/dev/null
cp "$RUN"/report/report.md "$OUT"/ 2>/dev/null
cp "$RUN"/report/curves_*.png "$OUT"/ 2>/dev/null  # the name report.md links to
if [ -n "$sbs_pid" ]; then
    wait "$sbs_pid"
    cat "$WORK/side-by-side/side_by_side.md" 2>/dev/null || tail -20 "$WORK/side-by-side.log"
    tar czf "$OUT/side_by_side.tgz" -C "$WORK" side-by-side side-by-side.log
fi
echo "done in $SECONDS s; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exec >&- 2>&-
wait "$tee_pid"  # figures.log is whole before the command returns
