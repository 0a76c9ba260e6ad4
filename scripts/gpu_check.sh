#!/usr/bin/env bash
# GPU speed check in one go, for a machine with an NVIDIA GPU: for every Keras backend that is
# importable there, the GPU benchmarks of benchmarks/test_speed_benchmarks.py (pytest-benchmark;
# reference MLP and CNN, train throughput, predict latency/throughput, normalised by the GPU's
# own float32 matmul rate) and the backend comparison run of benchmarks/backends.py.
# Results go to $OUT (default: a new temporary folder): env.txt, bench-<backend>.json,
# pytest-<backend>.txt, backends-<backend>.json, summary.txt. Without a GPU every GPU test skips
# with the reason, so the script can be tried on a CPU machine first.
#
#   OUT=/tmp/gpu bash scripts/gpu_check.sh            # PYTHON=... to pick the interpreter
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
PY="${PYTHON:-python3}"
BUDGET="${GPU_CHECK_STEP_TIMEOUT:-90}"   # seconds per step, so one stuck backend cannot eat all
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MLCHECKS_BENCH_DATA="${MLCHECKS_BENCH_DATA:-synthetic:70000}" MLCHECKS_BENCH_ROUNDS="${MLCHECKS_BENCH_ROUNDS:-5}"
mkdir -p "$OUT"

{
  date -u; nproc; "$PY" -V
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
  for m in numpy scipy keras tensorflow jax torch pytest pytest_benchmark; do
    "$PY" -c "import $m; print('$m', getattr($m, '__version__', '?'))" 2>/dev/null || echo "$m missing"
  done
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

: > "$OUT/summary.txt"
for backend in tensorflow jax torch; do
  if ! "$PY" -c "import keras, $backend" >/dev/null 2>&1; then
    echo "$backend: keras or $backend not importable here; skipped" | tee -a "$OUT/summary.txt"
    continue
  fi
  export KERAS_BACKEND="$backend"
  if "$PY" -c "import pytest_benchmark" >/dev/null 2>&1; then
    timeout "$BUDGET" "$PY" -m pytest benchmarks/test_speed_benchmarks.py -k GPU -p no:xdist \
      -p no:cacheprovider -p no:warnings -q -rs -s -o addopts="" --benchmark-json="$OUT/bench-$backend.json" \
      > "$OUT/pytest-$backend.txt" 2>&1
    echo "$backend pytest-benchmark exit $?" >> "$OUT/summary.txt"
    grep -E "^(training|predict_)|SKIPPED|passed|failed|error" "$OUT/pytest-$backend.txt" >> "$OUT/summary.txt"
  fi
  timeout "$BUDGET" "$PY" benchmarks/backends.py run --rounds "$MLCHECKS_BENCH_ROUNDS" \
    --data "$MLCHECKS_BENCH_DATA" > "$OUT/backends-$backend.json" 2> "$OUT/backends-$backend.err"
  echo "$backend backends.py exit $?: $(tail -c 600 "$OUT/backends-$backend.json")" >> "$OUT/summary.txt"
done
unset KERAS_BACKEND
echo "--- summary ($OUT)"
cat "$OUT/summary.txt"
