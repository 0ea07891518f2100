#!/usr/bin/env bash
# The prepared device check (one call of the device tool, under 8 minutes on one GPU):
#   1. GPU correctness: CUDA gives the CPU's scores and gradients for every committed spec's model;
#   2. `bench all --device cuda`: every family's speed ratio against its reference, measured in this run;
#   3. `cost --measure --device cuda`: seconds per training step of every spec at its full batch size,
#      which the tables turn into GPU hours per seed for every row.
# Reports go to $OUT (the device tool brings them back) and to results/ when run by hand.
# Usage on the device machine, from the repository root:   bash tools/device-check.sh
# Environment: OUT (default results/device), BUDGET_S (seconds for step 3, default 200).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/device}
BUDGET_S=${BUDGET_S:-200}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} SNNREPRO_OFFLINE=1 MPLBACKEND=Agg
PY=${PYTHON:-python3}
log() { echo "[device-check $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/device-check.log"; }

log "python: $($PY -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA")')"
missing=$($PY - <<'PY'
import importlib.util
need = ["typer", "rich", "yaml", "pandas", "sklearn", "torchvision", "pytest"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  log "missing Python packages: $missing (the device machine has no package index; carry a wheelhouse)"
fi

log "1/3 GPU correctness tests"
timeout 180 $PY -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -n 20 | tee "$OUT/gpu-tests.txt"

log "2/3 bench all --device cuda"
timeout 200 $PY -m snnrepro bench all --device cuda --results "$OUT" 2>&1 | tail -n 40 | tee "$OUT/bench.txt"

log "3/3 cost --measure --device cuda (budget ${BUDGET_S} s)"
timeout "$BUDGET_S" $PY -m snnrepro cost --measure --device cuda --steps 3 --results "$OUT" 2>&1 | tail -n 120 \
  > "$OUT/cost.txt"
log "done: $(ls "$OUT" | tr '\n' ' ')"
