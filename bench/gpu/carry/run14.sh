#!/usr/bin/env bash
# For the next GPU session (prepared 2026-11-27 after runs 12-13c): test_cuda in full; where a
# batch-1 step goes now (kernel profiles with programmatic launch off, whose kernel times then
# add up, and on); decode-attention splits at batch 1 (LLMP_CUDA_DECODE_SPLITS, 1: no merge); the 4.5 % that
# PDL cost at context 2048 and batch 64 (profiles on and off); the MMA in 16-row tiles
# (LLMP_CUDA_MMQ_NARROW=1, new: test_cuda checks it first) at 8 and 16 rows; one row's gate/up
# product and SwiGLU in one launch (LLMP_CUDA_FUSED_SWIGLU=1, new); the norms folded into one row's
# GEMVs (LLMP_CUDA_FOLD_NORM=1, new) and RoPE + the cache write into its q/k/v product
# (LLMP_CUDA_QKV_ROPE=1, new), apart and with the fused SwiGLU; the bench models (1B bf16,
# 8B Q4_0) and 8B Q4_K_M against llama.cpp in the same call. Every bench line also times sampled
# against greedy steps (the sampler's warp-aggregated histograms, new: 0.33 ms apart before). Binaries of build/ci: gpu_bench
# and test_cuda in bins.tar.xz (bench/gpu/carry/README.md).
#   run(command="build/gpu-carry/run14.sh", carry=["build/gpu-carry"], timeout_s=450)
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
# The binaries travel xz-compressed (the carry limit is 64 MiB): gpu_bench, test_cuda.
B=/tmp/bin; mkdir -p $B && tar xJf "$C/bins.tar.xz" -C $B
LP=/tmp/l/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do [ -d $d ] && LP=$LP:$d; done
export LD_LIBRARY_PATH=$LP:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
M=/tmp/models; mkdir -p $M
for m in 1b-bf16 8b-q4_0 8b-q4_k_m; do
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

bench() {  # bench LABEL MODEL BATCHES [ENV...]
  local label=$1 model=$2 batches=$3; shift 3
  [ $(left 300) -gt 0 ] || { echo "skipped $label: out of time"; return; }
  while [ ! -f $M/$model.done ] && [ $(left 280) -gt 0 ]; do sleep 2; done  # created in the background
  env "$@" timeout 60 "$B/gpu_bench" run $M/$model.gguf --label "$label" --batches $batches --ctx ${CTX:-256} --steps 32 --prefill 0 \
    --ttft-load "" --host-steps 0 --gpu-fraction 0.3 >$L/bench.${label// /_}.log 2>&1; echo "$label exit $?"
  grep '^{"bench":"gpu_\(decode\|sampling\)"' $L/bench.${label// /_}.log >> "$OUT/bench.jsonl"
  grep '^| [^m-]' $L/bench.${label// /_}.log | cut -d'|' -f2-9
}
profile() {  # profile N MODEL BATCH [ENV...]
  local i=$1 m=$2 batch=$3; shift 3
  [ $(left 330) -gt 0 ] || { echo "skipped profile $i: out of time"; return; }
  while [ ! -f $M/$m.done ] && [ $(left 300) -gt 0 ]; do sleep 2; done
  env "$@" timeout 40 "$B/gpu_bench" profile $M/$m.gguf --batch $batch --ctx ${CTX:-256} --steps 20 --label "$m ctx ${CTX:-256} $*" \
    --gpu-fraction 0.3 >$L/profile.$i.log 2>&1
  echo "profile $m $batch $* exit $?"; grep -v '^{' $L/profile.$i.log | grep -v '^$' | head -16 | cut -c1-150
  grep '^{' $L/profile.$i.log >> "$OUT/bench.jsonl"
}
bench "1b-bf16" 1b-bf16 1,8,64,256
bench "1b-bf16 fused swiglu" 1b-bf16 1 LLMP_CUDA_FUSED_SWIGLU=1
bench "1b-bf16 fold norm" 1b-bf16 1 LLMP_CUDA_FOLD_NORM=1
bench "1b-bf16 qkv rope" 1b-bf16 1 LLMP_CUDA_QKV_ROPE=1
bench "1b-bf16 all fusions" 1b-bf16 1 LLMP_CUDA_FUSED_SWIGLU=1 LLMP_CUDA_FOLD_NORM=1 LLMP_CUDA_QKV_ROPE=1
bench "1b-bf16 again" 1b-bf16 1
# At context 256 only 4 splits have work whatever the cap (each takes whole 64-position
# tiles); 1 split drops the merge launch.
for s in 8 1; do bench "1b-bf16 splits$s" 1b-bf16 1 LLMP_CUDA_DECODE_SPLITS=$s; done
bench "1b-bf16 all fusions splits1" 1b-bf16 1 LLMP_CUDA_FUSED_SWIGLU=1 LLMP_CUDA_FOLD_NORM=1 LLMP_CUDA_QKV_ROPE=1 LLMP_CUDA_DECODE_SPLITS=1
CTX=2048 bench "1b-bf16 ctx2048" 1b-bf16 1,64
for s in 16 8; do CTX=2048 bench "1b-bf16 ctx2048 splits$s" 1b-bf16 1 LLMP_CUDA_DECODE_SPLITS=$s; done
CTX=2048 bench "1b-bf16 ctx2048 pdl64" 1b-bf16 64 LLMP_CUDA_PDL_MAX_ROWS=64
bench "8b-q4_0" 8b-q4_0 1,8,16,64
bench "8b-q4_0 narrow" 8b-q4_0 8,16 LLMP_CUDA_MMQ_NARROW=1
bench "8b-q4_k_m" 8b-q4_k_m 1,8,16,64
bench "8b-q4_k_m narrow" 8b-q4_k_m 8,16 LLMP_CUDA_MMQ_NARROW=1
bench "8b-q4_k_m again" 8b-q4_k_m 8,16
el "profiles"
profile 1 1b-bf16 1 LLMP_CUDA_PDL_MAX_ROWS=0
profile 2 1b-bf16 1
profile 7 1b-bf16 1 LLMP_CUDA_FUSED_SWIGLU=1 LLMP_CUDA_FOLD_NORM=1 LLMP_CUDA_QKV_ROPE=1
profile 8 1b-bf16 1 LLMP_CUDA_FUSED_SWIGLU=1 LLMP_CUDA_FOLD_NORM=1 LLMP_CUDA_QKV_ROPE=1 LLMP_CUDA_PDL_MAX_ROWS=0
CTX=2048 profile 3 1b-bf16 64
CTX=2048 profile 4 1b-bf16 64 LLMP_CUDA_PDL_MAX_ROWS=64
profile 5 8b-q4_k_m 16
profile 6 8b-q4_k_m 16 LLMP_CUDA_MMQ_NARROW=1

el "wait llama.cpp build"
while [ ! -f /tmp/lb.done ] && [ $(left 340) -gt 0 ]; do sleep 2; done
cat /tmp/lb.done 2>/dev/null
if [ -x /tmp/lb/bin/llama-batched-bench ]; then
  for m in 1b-bf16 8b-q4_0 8b-q4_k_m; do
    [ $(left 370) -gt 15 ] || { echo "skipped llama.cpp $m: out of time"; continue; }
    el "llama.cpp $m"
    timeout 30 /tmp/lb/bin/llama-batched-bench -m $M/$m.gguf -ngl 99 -fa -c $((64 * 288 + 1024)) -b 2048 -ub 512 -npp 256 -ntg 32 \
      -npl 1,16,64 --output-format jsonl 2>$L/llama.$m.err | grep '^{' | sed "s/^{/{\"model\":\"$m\",/" | tee -a "$OUT/llama.jsonl" |
      grep -o '"pl": [0-9]*\|"speed_tg": [0-9.]*' | paste -sd' '
  done
fi
el done
