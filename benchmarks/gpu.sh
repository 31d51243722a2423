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

timeout "$(left)" nvidia-smi dmon -s um -d 1 >"$WORK/logs/dmon-seeds.txt" 2>&1 &
DMON=$!
for seed in 0 1 2; do
  timeout $(($(left) - 20)) $PY -m benchmarks.table2 --dataset mnist --data-dir "$DATA" \
    --device $DEVICE --rows default $EXTRA --seeds $seed, --out "$WORK/table2-mnist-s$seed.json" -v \
    >"$WORK/logs/seed$seed.log" 2>&1 &
done
wait $(jobs -p | grep -v "^$DMON$")
kill $DMON
echo "seeds: [$((SECONDS - START)) s]"
grep -h "default" "$WORK"/logs/seed*.log | tail -6

$PY -m benchmarks.merge_seeds "$WORK"/table2-mnist-s[0-9].json --out "$OUT/table2-mnist.json"

if [ "$(left)" -gt 90 ]; then
  timeout "$(left)" nvidia-smi dmon -s um -d 1 >"$WORK/logs/dmon-sizes.txt" 2>&1 &
  DMON=$!
  for seed in 0 1 2; do
    for m in 1 2 10 15; do
      OMP_NUM_THREADS=1 timeout $(($(left) - 15)) $PY -m benchmarks.table2 --dataset mnist \
        --data-dir "$DATA" --device $DEVICE --rows default $EXTRA --seeds $seed, \
        --set n_models=$m --out "$WORK/table2-mnist-m$m-s$seed.json" -v \
        >"$WORK/logs/m$m-s$seed.log" 2>&1 &
    done
  done
  wait $(jobs -p | grep -v "^$DMON$")
  kill $DMON
  echo "sizes: [$((SECONDS - START)) s]"
fi
pack
ls -la "$OUT" "$WORK"
