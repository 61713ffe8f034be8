#!/usr/bin/env bash
# Second GPU call of 2026-11-27: the latency-bound decode kernels rewritten after run 8's profile
# (RMSNorm in registers, RoPE one thread per pair, decode attention with all loads of a tile in
# flight and a one-warp merge, greedy argmax over many blocks), old binary (gpu_bench.old,
# 63d2f77) beside the new one; the MMA threshold at 128/256 rows; llama.cpp on the 1B bf16.
#   run(command="build/gpu-carry/run10.sh", carry=["build/gpu-carry"], timeout_s=420)
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
for m in 1b-bf16 1b-q4_0 8b-q4_0; do
  [ -f $M/$m.gguf ] || { "$B/gpu_bench" create --shape ${m%-*} --dtype ${m#*-} --out $M/$m.gguf >/dev/null & pids="$pids $!"; }
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
timeout 60 "$B/test_cuda" "[kernels]" >$L/test_cuda.kernels.log 2>&1; echo "test_cuda [kernels] exit $?"
tail -2 $L/test_cuda.kernels.log; grep -E "FAILED|REQUIRE|CHECK\(" -A4 $L/test_cuda.kernels.log | head -40
el "test_cuda, the rest"
timeout 120 "$B/test_cuda" "~[kernels]" >$L/test_cuda.rest.log 2>&1; echo "test_cuda ~[kernels] exit $?"
tail -2 $L/test_cuda.rest.log; grep -E "FAILED" -A8 $L/test_cuda.rest.log | head -40
grep -h "^parity" $L/test_cuda.rest.log | awk '{print $2, $6, $7, $8}' | sort -k3 -g | tail -3
el "models"; wait $pids

bench() {  # bench LABEL BINARY MODEL BATCHES [ENV...]
  local label=$1 bin=$2 model=$3 batches=$4; shift 4
  [ $(left 330) -gt 0 ] || { echo "skipped $label: out of time"; return; }
  env "$@" timeout 70 "$B/$bin" run $M/$model.gguf --label "$label" --batches $batches --ctx 256 --steps 32 --prefill 2048 \
    --ttft-load "" --host-steps 0 --gpu-fraction 0.3 >$L/bench.${label// /_}.log 2>&1; echo "$label exit $?"
  grep '^{"bench":"gpu_\(decode\|sampling\|prefill\)"' $L/bench.${label// /_}.log >> "$OUT/bench.jsonl"
  grep '^| [^m-]' $L/bench.${label// /_}.log | cut -d'|' -f2-9; grep '^sampling\|^prefill' $L/bench.${label// /_}.log
}
bench "1b-bf16 old" gpu_bench.old 1b-bf16 1,16,64,256
bench "1b-bf16 new" gpu_bench 1b-bf16 1,16,64,256
bench "8b-q4_0 new" gpu_bench 8b-q4_0 1,64,128,256
bench "8b-q4_0 new mmq256" gpu_bench 8b-q4_0 128,256 LLMP_CUDA_MMQ_MAX_ROWS=256
bench "1b-q4_0 new" gpu_bench 1b-q4_0 1,64,128
bench "1b-q4_0 new mmq256" gpu_bench 1b-q4_0 128 LLMP_CUDA_MMQ_MAX_ROWS=256
bench "1b-q4_0 old" gpu_bench.old 1b-q4_0 1,64

el "profiles"
i=0
for spec in "1b-bf16 1" "1b-bf16 64" "8b-q4_0 64"; do
  set -- $spec
  i=$((i + 1))
  [ $(left 340) -gt 0 ] || { echo "skipped profile $spec: out of time"; continue; }
  timeout 40 "$B/gpu_bench" profile $M/$1.gguf --batch $2 --ctx 256 --steps 20 --label "$1 new" --gpu-fraction 0.3 \
    >$L/profile.$i.log 2>&1
  echo "profile $spec exit $?"; grep -v '^{' $L/profile.$i.log | grep -v '^$' | head -16 | cut -c1-150
  grep '^{' $L/profile.$i.log >> "$OUT/bench.jsonl"
done

el "wait llama.cpp build"
while [ ! -f /tmp/lb.done ] && [ $(left 360) -gt 0 ]; do sleep 2; done
cat /tmp/lb.done 2>/dev/null
if [ -x /tmp/lb/bin/llama-batched-bench ]; then
  for m in 1b-bf16 8b-q4_0; do
    [ $(left 380) -gt 15 ] || { echo "skipped llama.cpp $m: out of time"; continue; }
    el "llama.cpp $m"
    timeout 30 /tmp/lb/bin/llama-batched-bench -m $M/$m.gguf -ngl 99 -fa -c $((64 * 288 + 1024)) -b 2048 -ub 512 -npp 256 -ntg 32 \
      -npl 1,16,64 --output-format jsonl 2>$L/llama.$m.err | grep '^{' | sed "s/^{/{\"model\":\"$m\",/" | tee -a "$OUT/llama.jsonl" |
      grep -o '"pl": [0-9]*\|"speed_tg": [0-9.]*' | paste -sd' '
  done
fi
el done
