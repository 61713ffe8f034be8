#!/usr/bin/env bash
# Run 13 (2026-11-27): decode attention with 4 heads per block for groups up to 4 and q padded
# in shared memory, and programmatic dependent launch (LLMP_CUDA_PDL=1), each against the binary
# before (bde3c85, gpu_bench.old, run with the two defaults flipped after run 12) in the same
# call; test_cuda first, profiles, llama.cpp on the same files.
#   run(command="build/gpu-carry/run13.sh", carry=["build/gpu-carry"], timeout_s=450)
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
for m in 1b-bf16 1b-q4_k_m 8b-q4_k_m; do
  [ -f $M/$m.done ] || ( "$B/gpu_bench" create --shape ${m%-*} --dtype ${m#*-} --out $M/$m.gguf >/dev/null && touch $M/$m.done ) &
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
grep -h "^parity" $L/test_cuda.rest.log | grep "pdl\|bf16 KV" | cut -c1-140

bench() {  # [BIN=gpu_bench.old] bench LABEL MODEL BATCHES [ENV...]
  local label=$1 model=$2 batches=$3; shift 3
  [ $(left 300) -gt 0 ] || { echo "skipped $label: out of time"; return; }
  while [ ! -f $M/$model.done ] && [ $(left 280) -gt 0 ]; do sleep 2; done  # created in the background
  env "$@" timeout 60 "$B/${BIN:-gpu_bench}" run $M/$model.gguf --label "$label" --batches $batches --ctx ${CTX:-256} --steps 32 --prefill 0 \
    --ttft-load "" --host-steps 0 --gpu-fraction 0.3 >$L/bench.${label// /_}.log 2>&1; echo "$label exit $?"
  grep '^{"bench":"gpu_\(decode\|sampling\)"' $L/bench.${label// /_}.log >> "$OUT/bench.jsonl"
  grep '^| [^m-]' $L/bench.${label// /_}.log | cut -d'|' -f2-9
}
OLD="LLMP_CUDA_MMQ_ALL_TYPES=1 LLMP_CUDA_FUSED_Q8=1"  # run 12's winners, the defaults now
BIN=gpu_bench.old bench "8b-q4_k_m old" 8b-q4_k_m 1,16,64 $OLD
bench "8b-q4_k_m new" 8b-q4_k_m 1,16,64
bench "8b-q4_k_m new pdl" 8b-q4_k_m 1,16,64 LLMP_CUDA_PDL=1
BIN=gpu_bench.old bench "1b-bf16 old" 1b-bf16 1,16,64
bench "1b-bf16 new" 1b-bf16 1,16,64
bench "1b-bf16 new pdl" 1b-bf16 1,16,64 LLMP_CUDA_PDL=1
bench "1b-bf16 new pdl dense1" 1b-bf16 1,2 LLMP_CUDA_PDL=1 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=1
bench "1b-bf16 new pdl dense4" 1b-bf16 1,2,4 LLMP_CUDA_PDL=1 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=4
CTX=2048 BIN=gpu_bench.old bench "1b-bf16 ctx2048 old" 1b-bf16 1,64
CTX=2048 bench "1b-bf16 ctx2048 new" 1b-bf16 1,64
CTX=2048 bench "1b-bf16 ctx2048 new pdl" 1b-bf16 1,64 LLMP_CUDA_PDL=1
BIN=gpu_bench.old bench "1b-q4_k_m old" 1b-q4_k_m 1,16,64 $OLD
bench "1b-q4_k_m new" 1b-q4_k_m 1,16,64
bench "1b-q4_k_m new pdl" 1b-q4_k_m 1,16,64 LLMP_CUDA_PDL=1
bench "1b-bf16 new again" 1b-bf16 1,64
bench "1b-bf16 new pdl again" 1b-bf16 1,64 LLMP_CUDA_PDL=1

el "profiles"
i=0
for spec in "8b-q4_k_m 64" "1b-bf16 1 LLMP_CUDA_PDL=1 LLMP_CUDA_DENSE_GEMV_MAX_ROWS=1" "1b-q4_k_m 1 LLMP_CUDA_PDL=1"; do
  set -- $spec
  m=$1 batch=$2; shift 2
  i=$((i + 1))
  [ $(left 330) -gt 0 ] || { echo "skipped profile $m: out of time"; continue; }
  env "$@" timeout 40 "$B/gpu_bench" profile $M/$m.gguf --batch $batch --ctx 256 --steps 20 --label "$m $*" --gpu-fraction 0.3 \
    >$L/profile.$i.log 2>&1
  echo "profile $m $batch exit $?"; grep -v '^{' $L/profile.$i.log | grep -v '^$' | head -14 | cut -c1-150
  grep '^{' $L/profile.$i.log >> "$OUT/bench.jsonl"
done

el "wait llama.cpp build"
while [ ! -f /tmp/lb.done ] && [ $(left 340) -gt 0 ]; do sleep 2; done
cat /tmp/lb.done 2>/dev/null
if [ -x /tmp/lb/bin/llama-batched-bench ]; then
  for m in 8b-q4_k_m 1b-bf16 1b-q4_k_m; do
    [ $(left 370) -gt 15 ] || { echo "skipped llama.cpp $m: out of time"; continue; }
    el "llama.cpp $m"
    timeout 30 /tmp/lb/bin/llama-batched-bench -m $M/$m.gguf -ngl 99 -fa -c $((64 * 288 + 1024)) -b 2048 -ub 512 -npp 256 -ntg 32 \
      -npl 1,16,64 --output-format jsonl 2>$L/llama.$m.err | grep '^{' | sed "s/^{/{\"model\":\"$m\",/" | tee -a "$OUT/llama.jsonl" |
      grep -o '"pl": [0-9]*\|"speed_tg": [0-9.]*' | paste -sd' '
  done
fi
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$CS" ] && [ $(left 390) -gt 25 ]; then
  el "compute-sanitizer memcheck on decode attention"
  timeout $(left 400) "$CS" --tool memcheck --error-exitcode 9 "$B/test_cuda" "[attention][decode]" \
    >$L/memcheck.log 2>&1; echo "memcheck exit $?"; grep -E "ERROR SUMMARY|Invalid|test cases" $L/memcheck.log | head -8
fi
el done
