#!/usr/bin/env bash
# For the next GPU session (prepared 2026-11-27 after runs 8-9): the three paths that are off
# until measured, each against the default in the same call: the dense GEMV at 1-4 rows
# (LLMP_CUDA_DENSE_GEMV_MAX_ROWS=4), the split-attention merge by the last block
# (LLMP_CUDA_FUSED_MERGE=1), K-quants and IQ4 through the int8 MMA (LLMP_CUDA_MMQ_ALL_TYPES=1), the norms
# and SwiGLU quantising for the int8 products (LLMP_CUDA_FUSED_Q8=1); test_cuda
# first (it forces each of them on in its parity cases), a profile, llama.cpp on Q4_K_M.
#   run(command="build/gpu-carry/run11.sh", carry=["build/gpu-carry"], timeout_s=420)
# Flip a default (cuda_backend.cpp) only where its tests pass and it is faster.
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
# The binaries travel xz-compressed (the carry limit is 64 MiB): gpu_bench, gpu_bench.old, test_cuda.
B=/tmp/bin; mkdir -p $B && tar xJf "$C/bins.tar.xz" -C $B
LP=/tmp/l/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do [ -d $d ] && LP=$LP:$d; done
export LD_LIBRARY_PATH=$LP:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
M=/tmp/models; mkdir -p $M
pids=""
for m in 1b-bf16 1b-q4_k_m 8b-q4_k_m; do
  [ -f $M/$m.done ] || { ( "$B/gpu_bench" create --shape ${m%-*} --dtype ${m#*-} --out $M/$m.gguf >/dev/null && touch $M/$m.done ) &
    pids="$pids $!"; }
done
if [ ! -x /tmp/lb/bin/llama-batched-bench ]; then
  mkdir -p /tmp/ls && tar xf "$C/llama-src.tar.xz" -C /tmp/ls
  ( nice -n 19 cmake -S /tmp/ls -B /tmp/lb -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >$L/lb.cfg.log 2>&1 &&
    nice -n 19 cmake --build /tmp/lb --target llama-batched-bench -j10 >$L/lb.build.log 2>&1
    echo "exit $?" >/tmp/lb.done ) &
else
  echo "exit 0 (kept)" >/tmp/lb.done
fi

el "test_cuda [kernels]"
timeout 120 "$B/test_cuda" "[kernels]" >$L/test_cuda.kernels.log 2>&1; echo "test_cuda [kernels] exit $?"
tail -2 $L/test_cuda.kernels.log; grep -E "FAILED|REQUIRE|CHECK\(" -A4 $L/test_cuda.kernels.log | head -40
el "test_cuda, the rest"
timeout 150 "$B/test_cuda" "~[kernels]" >$L/test_cuda.rest.log 2>&1; echo "test_cuda ~[kernels] exit $?"
tail -2 $L/test_cuda.rest.log; grep -E "FAILED" -A8 $L/test_cuda.rest.log | head -40
grep -h "^parity" $L/test_cuda.rest.log | grep "mmq\|fused\|dense\|bf16 KV" | cut -c1-130


bench() {  # bench LABEL MODEL BATCHES [ENV...]
  local label=$1 model=$2 batches=$3; shift 3
  [ $(left 330) -gt 0 ] || { echo "skipped $label: out of time"; return; }
  while [ ! -f $M/$model.done ] && [ $(left 300) -gt 0 ]; do sleep 2; done  # created in the background
  env "$@" timeout 70 "$B/gpu_bench" run $M/$model.gguf --label "$label" --batches $batches --ctx ${CTX:-256} --kv-dtype ${KV:-f16} --steps 32 --prefill 0 \
    --ttft-load "" --host-steps 0 --gpu-fraction 0.3 >$L/bench.${label// /_}.log 2>&1; echo "$label exit $?"
  grep '^{"bench":"gpu_\(decode\|sampling\)"' $L/bench.${label// /_}.log >> "$OUT/bench.jsonl"
  grep '^| [^m-]' $L/bench.${label// /_}.log | cut -d'|' -f2-9; grep '^sampling' $L/bench.${label// /_}.log
}
bench "1b-bf16 default" 1b-bf16 1,2,4
bench "1b-bf16 dense" 1b-bf16 1,2,4 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=4
bench "1b-bf16 fused" 1b-bf16 1,2,4 LLMP_CUDA_FUSED_MERGE=1
bench "1b-bf16 both" 1b-bf16 1,2,4,64 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=4 LLMP_CUDA_FUSED_MERGE=1
bench "1b-bf16 default again" 1b-bf16 1,64
# Long contexts, where decode attention reads more than the weights (1B bf16 at ctx 2048 and
# batch 64: 4.3 GB of KV per step against 2.5 GB of weights).
CTX=2048 bench "1b-bf16 ctx2048" 1b-bf16 1,16,64
CTX=2048 bench "1b-bf16 ctx2048 fused" 1b-bf16 1,16,64 LLMP_CUDA_FUSED_MERGE=1
# A bf16 KV cache (engine.kv_cache_dtype = "bf16") against f16: the same bytes, other kernels.
CTX=2048 KV=bf16 bench "1b-bf16 ctx2048 kv-bf16" 1b-bf16 1,64
bench "1b-q4_k_m default" 1b-q4_k_m 1,16,64
bench "1b-q4_k_m mmq-all" 1b-q4_k_m 16,64 LLMP_CUDA_MMQ_ALL_TYPES=1
bench "1b-q4_k_m fused-q8" 1b-q4_k_m 1,16,64 LLMP_CUDA_FUSED_Q8=1
# The int8 GEMV run in chunks of 8 rows up to 32 rows: reads Q6_K / Q4_K weights 2-4 times
# instead of dequantising them to f16 (which writes and reads them at 16 bits) - a per-type
# threshold if it wins.
bench "1b-q4_k_m gemv32" 1b-q4_k_m 16,32 LLMP_CUDA_GEMV_MAX_ROWS=32
bench "1b-q4_k_m default 32" 1b-q4_k_m 32
bench "1b-q4_k_m all" 1b-q4_k_m 1,16,64 LLMP_CUDA_FUSED_Q8=1 LLMP_CUDA_MMQ_ALL_TYPES=1 LLMP_CUDA_FUSED_MERGE=1
bench "8b-q4_k_m default" 8b-q4_k_m 1,16,64
bench "8b-q4_k_m all" 8b-q4_k_m 1,16,64 LLMP_CUDA_FUSED_Q8=1 LLMP_CUDA_MMQ_ALL_TYPES=1 LLMP_CUDA_FUSED_MERGE=1
bench "8b-q4_k_m mmq-all" 8b-q4_k_m 16,64 LLMP_CUDA_MMQ_ALL_TYPES=1

el "profiles"
i=0
for spec in "1b-bf16 1 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=4 LLMP_CUDA_FUSED_MERGE=1" "8b-q4_k_m 64 LLMP_CUDA_MMQ_ALL_TYPES=1"; do
  set -- $spec
  m=$1 batch=$2; shift 2
  i=$((i + 1))
  [ $(left 340) -gt 0 ] || { echo "skipped profile $m: out of time"; continue; }
  while [ ! -f $M/$m.done ] && [ $(left 300) -gt 0 ]; do sleep 2; done
  env "$@" timeout 40 "$B/gpu_bench" profile $M/$m.gguf --batch $batch --ctx 256 --steps 20 --label "$m $*" --gpu-fraction 0.3 \
    >$L/profile.$i.log 2>&1
  echo "profile $m $batch exit $?"; grep -v '^{' $L/profile.$i.log | grep -v '^$' | head -16 | cut -c1-150
  grep '^{' $L/profile.$i.log >> "$OUT/bench.jsonl"
done

el "wait llama.cpp build"
while [ ! -f /tmp/lb.done ] && [ $(left 360) -gt 0 ]; do sleep 2; done
cat /tmp/lb.done 2>/dev/null
if [ -x /tmp/lb/bin/llama-batched-bench ]; then
  for m in 1b-bf16 1b-q4_k_m 8b-q4_k_m; do
    [ $(left 380) -gt 15 ] || { echo "skipped llama.cpp $m: out of time"; continue; }
    [ -f $M/$m.done ] || { echo "skipped llama.cpp $m: no model"; continue; }
    el "llama.cpp $m"
    timeout 30 /tmp/lb/bin/llama-batched-bench -m $M/$m.gguf -ngl 99 -fa -c $((64 * 288 + 1024)) -b 2048 -ub 512 -npp 256 -ntg 32 \
      -npl 1,16,64 --output-format jsonl 2>$L/llama.$m.err | grep '^{' | sed "s/^{/{\"model\":\"$m\",/" | tee -a "$OUT/llama.jsonl" |
      grep -o '"pl": [0-9]*\|"speed_tg": [0-9.]*' | paste -sd' '
  done
  if [ $(left 380) -gt 20 ]; then
    el "llama.cpp 1b-bf16 ctx 2048"
    timeout 40 /tmp/lb/bin/llama-batched-bench -m $M/1b-bf16.gguf -ngl 99 -fa -c $((64 * 2080 + 1024)) -b 2048 -ub 512 -npp 2048 -ntg 32 \
      -npl 1,16,64 --output-format jsonl 2>$L/llama.ctx2048.err | grep '^{' | sed "s/^{/{\"model\":\"1b-bf16 ctx2048\",/" |
      tee -a "$OUT/llama.jsonl" | grep -o '"pl": [0-9]*\|"speed_tg": [0-9.]*' | paste -sd' '
  fi
fi
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$CS" ] && [ $(left 390) -gt 30 ]; then
  el "compute-sanitizer memcheck on the new kernels"
  timeout $(left 400) "$CS" --tool memcheck --error-exitcode 9 "$B/test_cuda" "[dense],[q8],[attention][decode],[sampling],[rope]" \
    >$L/memcheck.log 2>&1; echo "memcheck exit $?"; grep -E "ERROR SUMMARY|Invalid|test cases" $L/memcheck.log | head -8
fi
el done
