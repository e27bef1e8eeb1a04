# Sourced by bench/gpu/run.sh and bench/gpu/reproduce.sh (from the repository root, with PYTHON and
# SMOKE set; WHEELS, the wheels' folder, defaults to .whl): the install and machine report that both
# GPU commands start with.

# The wheels that bench/gpu/wheels.sh gathered, those the image does not have already (the image's
# own jax, flax, numpy, ... must stay in front), into a scratch folder on PYTHONPATH.
install_wheels() {
    local wheels=${WHEELS:-.whl}
    if [ ! -d "$wheels" ] || [ "$SMOKE" = 1 ]; then
        return 0
    fi
    local missing
    missing=$("$PYTHON" - "$wheels" <<'PY'
import importlib.metadata, pathlib, sys
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    name = wheel.name.split("-")[0]
    try:
        importlib.metadata.version(name)
        print(f"in the image already, not installed: {wheel.name}", file=sys.stderr)
    except importlib.metadata.PackageNotFoundError:
        print(wheel)
PY
)
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086  # one wheel path per word
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $missing \
            || echo "installing the wheels failed: the parts that need them will fail"
    fi
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
}

describe_machine() {
    "$PYTHON" -c "import jax; print('jax', jax.__version__, jax.devices())"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
    nproc
}
