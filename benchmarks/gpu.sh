#!/usr/bin/env bash
# The GPU measurement in one call (a lent GPU machine's time is short):
#
#   OUT=runs/gpu bash benchmarks/gpu.sh DATA_DIR [SECONDS]
#
# 1. the machine: nvidia-smi, the package versions;
# 2. a smoke run of the CUDA paths on digits (`fast` and `imsat-large`, with its mu pilot, a
#    few epochs each); the script stops there if either fails;
# 3. `benchmarks.bench_epoch --device $DEVICE`: seconds per epoch of `fast` and `imsat`;
# 4. the default on full MNIST (DATA_DIR/mnist), seeds 0, 1 and 2 side by side on the one
#    GPU, `nvidia-smi dmon` sampling its utilisation meanwhile; `benchmarks.merge_seeds`
#    merges the three files into OUT/table2-mnist.json;
# 5. what is left of SECONDS (default 540, counted from the start): the ensemble-size trend
#    (seeds 0-2 with 1, 2, 10 and 15 members, twelve runs side by side).
# Everything is written under WORK (default OUT/work) and packed into OUT/gpu.tar.gz at the
# end, beside the merged OUT/table2-mnist.json. Set KINGDRA_COMMIT to the commit the tree
# is: a GPU machine's copy may carry another commit's .git. A dry run on a CPU: DEVICE=cpu
# and, in EXTRA, table2 options that shorten the runs (e.g. "--set epochs_base=1").
set -u
DATA=${1:?DATA_DIR (holding mnist/)}
BUDGET=${2:-540}
OUT=${OUT:-runs/gpu}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}
WORK=${WORK:-$OUT/work}
START=$SECONDS
mkdir -p "$WORK/logs" "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(cd "$WORK" && pwd)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4

left() { echo $((BUDGET - (SECONDS - START))); }
pack() { (cd "$WORK" && tar -czf "$OUT/gpu.tar.gz" logs $(ls ./*.json 2>/dev/null)); }

{
  date -u
  nvidia-smi || true
  $PY -c "import sys, torch, numpy, scipy, sklearn, numba; print(sys.version); \
print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0)); \
print('numpy', numpy.__version__, 'scipy', scipy.__version__, 'sklearn', sklearn.__version__, \
'numba', numba.__version__)"
} >"$WORK/logs/env.txt" 2>&1

for preset in fast imsat-large; do
  if ! timeout 180 $PY -m kingdra fit --dataset digits --device $DEVICE --preset $preset \
    --epochs-base 3 --epochs-iter 1 --n-iter 1 --out "$WORK/smoke-$preset" \
    >"$WORK/logs/smoke-$preset.log" 2>&1; then
    echo "smoke run of $preset failed:"
    tail -40 "$WORK/logs/smoke-$preset.log"
    pack
    exit 1
  fi
  echo "smoke $preset: $(tail -1 "$WORK/logs/smoke-$preset.log") [$((SECONDS - START)) s]"
done

timeout 120 $PY -m benchmarks.bench_epoch --device $DEVICE --presets fast,imsat \
  >"$WORK/logs/bench-epoch.log" 2>&1
echo "bench_epoch: rc $? [$((SECONDS - START)) s]"
cat "$WORK/logs/bench-epoch.log"

# the default on full MNIST in the background: SEED NAME [table2 options]
run() {
  local seed=$1 name=$2
  shift 2
  timeout $(($(left) - 20)) $PY -m benchmarks.table2 --dataset mnist --data-dir "$DATA" \
    --device $DEVICE --rows default $EXTRA --seeds $seed, "$@" \
    --out "$WORK/table2-mnist-$name.json" -v >"$WORK/logs/$name.log" 2>&1 &
}
# wait for the runs, nvidia-smi dmon sampling meanwhile into logs/dmon-STEP.txt: STEP
sampled() {
  timeout "$(left)" nvidia-smi dmon -s um -d 1 >"$WORK/logs/dmon-$1.txt" 2>&1 &
  local dmon=$!
  wait $(jobs -p | grep -v "^$dmon$")
  kill $dmon
  echo "$1: [$((SECONDS - START)) s]"
}

for seed in 0 1 2; do run $seed s$seed; done
sampled seeds
grep -h "default" "$WORK"/logs/s[0-9].log | tail -6
$PY -m benchmarks.merge_seeds "$WORK"/table2-mnist-s[0-9].json --out "$OUT/table2-mnist.json"

if [ "$(left)" -gt 90 ]; then
  for seed in 0 1 2; do
    for m in 1 2 10 15; do OMP_NUM_THREADS=1 run $seed m$m-s$seed --set n_models=$m; done
  done
  sampled sizes
fi
pack
ls -la "$OUT" "$WORK"
