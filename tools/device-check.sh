#!/usr/bin/env bash
# The prepared device check (one call of the device tool, under 8 minutes on one GPU; each step has a timeout,
# and their sum, about 470 s, stays below that):
#   1. GPU correctness: CUDA gives the CPU's scores and gradients for every committed spec's model;
#   2. `bench lif stdbp ... --device cuda` (every bench but `throughput`): every family's speed ratio against
#      its reference, measured in this run;
#   3. `bench throughput --device cuda`: samples/s of the engine's training epoch (build + the run's loaders
#      + train_one_epoch, as `snnrepro run`) against a plain PyTorch loop of the same model object, timed
#      alternately, for cifar10-bpsta-middle, cifar10-brp-cnn, cifar10-rsn-cnn and dvsgesture-bpsta-large at
#      their spec batch sizes (5 batches of synthetic tensors of the dataset's sample shape), and the same with
#      each GPU option of train.* turned on (amp bf16, channels_last, compile, data_on_device; one row each);
#      ratio = engine ms / plain ms per batch.  The bench stops starting rows after THROUGHPUT_S - 30 s;
#   4. `cost --measure --device cuda`: seconds per training step of every spec at its full batch size into
#      $OUT/cost/cuda.json;
#   5. `cost --device cuda`: from those measurements, the full-budget GPU hours per seed of every row
#      ($OUT/cost-estimate.txt; also when step 4 ran out of time, from what it measured).
# Reports go to $OUT (the device tool brings them back) and to results/ when run by hand.
# Usage on the device machine, from the repository root:   bash tools/device-check.sh
# Environment: OUT (default results/device), BUDGET_S (seconds for step 4, default 100), THROUGHPUT_S (step 3,
# default 120).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/device}
BUDGET_S=${BUDGET_S:-100}
THROUGHPUT_S=${THROUGHPUT_S:-120}
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

log "1/5 GPU correctness tests"
timeout 100 $PY -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -n 20 | tee "$OUT/gpu-tests.txt"

benches=$($PY -c 'from snnrepro.registry import BENCHES; print(" ".join(n for n in BENCHES.names() if n != "throughput"))' 2>/dev/null)
log "2/5 bench ${benches:-all} --device cuda"
timeout 130 $PY -m snnrepro bench ${benches:-all} --device cuda --results "$OUT" 2>&1 | tail -n 40 | tee "$OUT/bench.txt"

log "3/5 bench throughput --device cuda (budget ${THROUGHPUT_S} s)"
SNNREPRO_THROUGHPUT_BUDGET_S=$((THROUGHPUT_S - 30)) timeout "$THROUGHPUT_S" $PY -m snnrepro bench throughput \
  --device cuda --results "$OUT" 2>&1 | tail -n 40 | tee "$OUT/throughput.txt"

log "4/5 cost --measure --device cuda (budget ${BUDGET_S} s)"
timeout "$BUDGET_S" $PY -m snnrepro cost --measure --device cuda --steps 3 --results "$OUT" 2>&1 | tail -n 120 \
  > "$OUT/cost.txt"

log "5/5 cost --device cuda: full-budget GPU hours per seed from the measurements"
COLUMNS=200 timeout 20 $PY -m snnrepro cost --device cuda --results "$OUT" > "$OUT/cost-estimate.txt" 2>&1
log "done: $(ls "$OUT" | tr '\n' ' ')"
