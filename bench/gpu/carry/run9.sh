#!/usr/bin/env bash
# For the next GPU session (prepared 2026-11-27 without a GPU): the int8 tensor-core MMA for
# quantised products of 9-256 rows (LLMP_CUDA_MMQ_MAX_ROWS) checked and timed against the
# default dequantise + cuBLAS path, the int8 GEMV for Q4_K / Q6_K (a Q4_K_M-style 1B model),
# CUPTI profiles of decode steps, llama.cpp beside.
#   run(command="build/gpu-carry/run9.sh", carry=["build/gpu-carry"], timeout_s=540)
# $OUT gets at most 4 files (the device tool brings back 8, with plain names): bench.jsonl,
# llama.jsonl, summary.txt (this script's output) and logs.tgz.
set -u
C=$(pwd)/build/gpu-carry
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
L=/tmp/logs; mkdir -p $L
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( ${1:-480} - ($(date +%s) - T0) )); }  # seconds to a deadline
finish() { tar czf "$OUT/logs.tgz" -C /tmp logs 2>/dev/null; }
trap finish EXIT
exec > >(tee "$OUT/summary.txt") 2>&1
mkdir -p /tmp/l && tar xf "$C/libs.tar.xz" -C /tmp/l
LP=/tmp/l/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do [ -d $d ] && LP=$LP:$d; done
export LD_LIBRARY_PATH=$LP:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
M=/tmp/models; mkdir -p $M
pids=""
for m in 1b-bf16 1b-q4_0 8b-q4_0 1b-q4_k_m; do "$C/gpu_bench" create --shape ${m%-*} --dtype ${m#*-} --out $M/$m.gguf >/dev/null & pids="$pids $!"; done
mkdir -p /tmp/ls && tar xf "$C/llama-src.tar.xz" -C /tmp/ls
( nice -n 19 cmake -S /tmp/ls -B /tmp/lb -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >$L/lb.cfg.log 2>&1 &&
  nice -n 19 cmake --build /tmp/lb --target llama-batched-bench -j10 >$L/lb.build.log 2>&1
  echo "exit $?" >/tmp/lb.done ) &

el "test_cuda [gemv]: the int8 GEMV for every quantised type"
timeout 60 "$C/test_cuda" "[gemv]~[mmq]" >$L/test_cuda.gemv.log 2>&1; echo "test_cuda [gemv] exit $?"
grep -E "test cases|assertions|FAILED" -A2 $L/test_cuda.gemv.log | head -20
el "test_cuda [mmq]: the MMA kernel, and whole models through it"
timeout 60 "$C/test_cuda" "[mmq]" >$L/test_cuda.mmq.log 2>&1; mmq_rc=$?
echo "test_cuda [mmq] exit $mmq_rc"
grep -E "^parity|test cases|assertions|FAILED" -A2 $L/test_cuda.mmq.log | head -30
el "test_cuda, everything else"
timeout 150 "$C/test_cuda" "~[mmq]~[gemv]" >$L/test_cuda.log 2>&1; echo "test_cuda ~[mmq]~[gemv] exit $?"
tail -3 $L/test_cuda.log; grep -E "FAILED" -A6 $L/test_cuda.log | head -30
el "models"; wait $pids

mmq_modes="0"
[ $mmq_rc -eq 0 ] && mmq_modes="0 256" || echo "the MMA path failed its tests: timing the default path only"
for m in 8b-q4_0 1b-q4_0; do
  for mmq in $mmq_modes; do
    [ $(left 330) -gt 0 ] || { echo "skipped $m mmq $mmq: out of time"; continue; }
    LLMP_CUDA_MMQ_MAX_ROWS=$mmq timeout 90 "$C/gpu_bench" run $M/$m.gguf --label "$m mmq$mmq" --batches 1,16,64,256 --ctx 256 \
      --steps 32 --prefill 512 --ttft-load "" --gpu-fraction 0.3 >$L/bench.$m.mmq$mmq.log 2>&1; echo "$m mmq $mmq exit $?"
    grep '^{"bench":"gpu_decode"' $L/bench.$m.mmq$mmq.log | tee -a "$OUT/bench.jsonl" | sed 's/"ctx":256,//; s/,"roofline_tokens_per_s"/ roof/'
    grep '^prefill' $L/bench.$m.mmq$mmq.log
  done
done

el "1b q4_k_m (Q4_K, Q6_K for v/down/output): the int8 GEMV at batch 1-8"
if [ $(left 360) -gt 0 ]; then
  timeout 60 "$C/gpu_bench" run $M/1b-q4_k_m.gguf --label "1b-q4_k_m" --batches 1,16,64 --ctx 256 --steps 32 --prefill 512 \
    --ttft-load "" --gpu-fraction 0.3 >$L/bench.1b-q4_k_m.log 2>&1; echo "1b-q4_k_m exit $?"
  grep '^{"bench":"gpu_decode"' $L/bench.1b-q4_k_m.log | tee -a "$OUT/bench.jsonl" | sed 's/"ctx":256,//; s/,"roofline_tokens_per_s"/ roof/'
fi

el "profiles"
i=0
for spec in "1b-bf16 1 LLMP_CUDA_GRAPHS=1" "1b-bf16 1 LLMP_CUDA_GRAPHS=0" "8b-q4_0 64 LLMP_CUDA_MMQ_MAX_ROWS=0" "8b-q4_0 64 LLMP_CUDA_MMQ_MAX_ROWS=256"; do
  set -- $spec
  i=$((i + 1))
  [[ $3 == LLMP_CUDA_MMQ_MAX_ROWS=256 && $mmq_rc -ne 0 ]] && continue
  [ $(left 400) -gt 0 ] || { echo "skipped profile $spec: out of time"; continue; }
  env $3 timeout 60 "$C/gpu_bench" profile $M/$1.gguf --batch $2 --ctx 256 --steps 20 --label "$1 $3" --gpu-fraction 0.3 \
    >$L/profile.$i.log 2>&1
  echo "profile $spec exit $?"; grep -v '^{' $L/profile.$i.log | head -24 | cut -c1-160
  grep '^{' $L/profile.$i.log >> "$OUT/bench.jsonl"
done

el "wait llama.cpp build"
while [ ! -f /tmp/lb.done ] && [ $(left 440) -gt 0 ]; do sleep 2; done
cat /tmp/lb.done 2>/dev/null
if [ -x /tmp/lb/bin/llama-batched-bench ]; then
  for m in 8b-q4_0 1b-q4_k_m 1b-q4_0; do
    [ $(left 480) -gt 20 ] || { echo "skipped llama.cpp $m: out of time"; continue; }
    el "llama.cpp $m"
    timeout 40 /tmp/lb/bin/llama-batched-bench -m $M/$m.gguf -ngl 99 -fa -c $((64 * 288 + 1024)) -b 2048 -ub 512 -npp 256 -ntg 32 \
      -npl 1,16,64 --output-format jsonl 2>$L/llama.$m.err | grep '^{' | sed "s/^{/{\"model\":\"$m\",/" | tee -a "$OUT/llama.jsonl" |
      grep -o '"pl": [0-9]*\|"speed_tg": [0-9.]*' | paste -sd' '
  done
fi
el done
