#!/usr/bin/env bash
# Run 13c (2026-11-27): the final defaults of the session (programmatic launch for steps of up
# to 8 rows, set per step; the dense GEMV at 1 row) checked by test_cuda's model, engine and
# sampling cases, and timed against the defaults before (LLMP_CUDA_PDL_MAX_ROWS=0
# LLMP_CUDA_DENSE_GEMV_MAX_ROWS=0) in the same call.
#   run(command="build/gpu-carry/run13c.sh", carry=["build/gpu-carry"], timeout_s=170)
set -u
C=$(pwd)/build/gpu-carry
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
L=/tmp/logs; mkdir -p $L
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( ${1:-360} - ($(date +%s) - T0) )); }
finish() { tar czf "$OUT/logs.tgz" -C /tmp logs 2>/dev/null; }
trap finish EXIT
exec > >(tee "$OUT/summary.txt") 2>&1
mkdir -p /tmp/l && tar xf "$C/libs.tar.xz" -C /tmp/l
B=/tmp/bin; mkdir -p $B && tar xJf "$C/bins.tar.xz" -C $B gpu_bench test_cuda
LP=/tmp/l/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do [ -d $d ] && LP=$LP:$d; done
export LD_LIBRARY_PATH=$LP:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name --format=csv,noheader
M=/tmp/models; mkdir -p $M
for m in 1b-bf16 1b-q4_k_m; do
  [ -f $M/$m.done ] || ( "$B/gpu_bench" create --shape ${m%-*} --dtype ${m#*-} --out $M/$m.gguf >/dev/null && touch $M/$m.done ) &
done
el "test_cuda ~[kernels]"
timeout 90 "$B/test_cuda" "~[kernels]" >$L/test_cuda.rest.log 2>&1; echo "test_cuda ~[kernels] exit $?"
tail -2 $L/test_cuda.rest.log; grep -E "FAILED" -A8 $L/test_cuda.rest.log | head -30
grep -h "^parity.*pdl\|^engine on\|^device vs host" $L/test_cuda.rest.log | cut -c1-120
bench() {  # bench LABEL MODEL BATCHES [ENV...]
  local label=$1 model=$2 batches=$3; shift 3
  [ $(left 130) -gt 0 ] || { echo "skipped $label: out of time"; return; }
  while [ ! -f $M/$model.done ] && [ $(left 120) -gt 0 ]; do sleep 1; done
  env "$@" timeout 25 "$B/gpu_bench" run $M/$model.gguf --label "$label" --batches $batches --ctx 256 --steps 32 --prefill 0 \
    --ttft-load "" --host-steps 0 --gpu-fraction 0.3 >$L/b.${label// /_}.log 2>&1 || echo "$label exit $?"
  grep '^{"bench":"gpu_\(decode\|sampling\)"' $L/b.${label// /_}.log >> "$OUT/bench.jsonl"
  grep '^| [^m-]' $L/b.${label// /_}.log | cut -d'|' -f2-8; grep '^sampling' $L/b.${label// /_}.log | cut -c1-100
}
BEFORE="LLMP_CUDA_PDL_MAX_ROWS=0 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=0"
bench "1b-bf16 before" 1b-bf16 1,8 $BEFORE
bench "1b-bf16 now" 1b-bf16 1,8
bench "1b-q4_k_m before" 1b-q4_k_m 1,8 $BEFORE
bench "1b-q4_k_m now" 1b-q4_k_m 1,8
el done
