#!/usr/bin/env bash
# Run 13b (2026-11-27, right after run 13, same binaries): is programmatic dependent launch
# slower for 1B bf16 at batch 16-64 (run 13: 2.39 -> 2.42 ms at 64, 4.10 -> 4.31 at context
# 2048, one sample each)? Alternating repeats; and the dense GEMV at 2 rows.
#   run(command="build/gpu-carry/run13b.sh", carry=["build/gpu-carry"], timeout_s=150)
set -u
C=$(pwd)/build/gpu-carry
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
L=/tmp/logs; mkdir -p $L
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( ${1:-360} - ($(date +%s) - T0) )); }
exec > >(tee "$OUT/summary.txt") 2>&1
mkdir -p /tmp/l && tar xf "$C/libs.tar.xz" -C /tmp/l
B=/tmp/bin; mkdir -p $B && tar xJf "$C/bins.tar.xz" -C $B gpu_bench
LP=/tmp/l/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do [ -d $d ] && LP=$LP:$d; done
export LD_LIBRARY_PATH=$LP:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name --format=csv,noheader
M=/tmp/models; mkdir -p $M
[ -f $M/1b-bf16.gguf ] || "$B/gpu_bench" create --shape 1b --dtype bf16 --out $M/1b-bf16.gguf >/dev/null
el "model ready"
bench() {  # bench LABEL BATCHES [ENV...]
  local label=$1 batches=$2; shift 2
  [ $(left 120) -gt 0 ] || { echo "skipped $label: out of time"; return; }
  env "$@" timeout 30 "$B/gpu_bench" run $M/1b-bf16.gguf --label "$label" --batches $batches --ctx ${CTX:-256} --steps 32 --prefill 0 \
    --ttft-load "" --host-steps 0 --gpu-fraction 0.3 >$L/b.log 2>&1 || echo "$label exit $?"
  grep '^{"bench":"gpu_decode"' $L/b.log >> "$OUT/bench.jsonl"
  grep '^| [^m-]' $L/b.log | cut -d'|' -f2-6
}
for r in 1 2; do
  CTX=2048 bench "ctx2048 default $r" 64
  CTX=2048 bench "ctx2048 pdl $r" 64 LLMP_CUDA_PDL=1
  bench "default $r" 16,64
  bench "pdl $r" 16,64 LLMP_CUDA_PDL=1
done
bench "pdl dense1" 1,2 LLMP_CUDA_PDL=1 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=1
bench "pdl dense2" 1,2 LLMP_CUDA_PDL=1 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=2
el done
