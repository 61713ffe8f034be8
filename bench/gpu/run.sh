#!/usr/bin/env bash
# The CUDA backend's checks and benchmarks in one run on a GPU machine:
#  1. builds test_cuda and gpu_bench (Release, CUDA on), or takes prebuilt ones;
#  2. runs test_cuda (every kernel and whole models against the CPU), then compute-sanitizer
#     memcheck over a smoke subset and over a short soak with --leak-check full;
#  3. measures the device copy bandwidth, then for generated models with Llama-3.2-1B and
#     Llama-3.1-8B shapes (random weights) in bf16, Q4_0 and Q4_K_M (Q4_K with Q6_K where
#     llama.cpp's quantiser puts it): decode tokens/s at batch 1, 8,
#     64 and 256 beside the roofline (weight + KV bytes per step / bandwidth), prefill
#     tokens/s, time to first token with 0 and 32 sequences decoding, and decode steps sampled on
#     the device vs on the host; then the leak run: 10,000 requests through the scheduler
#     (gpu_bench soak), device memory and host RSS compared after a warm-up and at the end;
#     quantised models again with the int8 tensor-core MMA for 9-256 rows; and a CUPTI
#     profile of decode steps (gpu_bench profile: kernels by name, the device's idle time);
#  4. the same GGUF files through llama.cpp's CUDA build (llama-bench, llama-batched-bench),
#     built here from LLAMA_CPP_SRC (the GPU machine has no network: carry the source in);
#  5. PyTorch eager as a floor (bf16 shapes), or "not available" when this Python has no CUDA torch.
# Prints tables as it goes, a summary at the end, and every JSON line to $RESULTS.
#
#   bench/gpu/run.sh
# Environment (all optional):
#   BUILD_DIR=build/gpu        where to configure and build (and build llama.cpp, under llama.cpp/)
#   BIN_DIR=...                use prebuilt test_cuda and gpu_bench from here instead of building
#   SHAPES="1b 8b"  DTYPES="bf16 q4_0 q4_k_m"  BATCHES=1,8,64,256  CTX=256  STEPS=32  PREFILL=2048
#   MMQ_BATCHES=16,64,256  PROFILE="1b-bf16:1 1b-bf16:64 8b-q4_0:64" (model:batch pairs)
#   MODELS_DIR=bench/.work/gpu/models  RESULTS=bench/.work/gpu/results.jsonl
#   LLAMA_CPP_SRC=/path/to/llama.cpp   LLAMA_CUDA_ARCH=90   LLAMA_CPP_BIN=prebuilt/bin (skips the build)
#   PYTHON=python3   SKIP_TESTS=1 SKIP_SANITIZER=1 SKIP_OURS=1 SKIP_TORCH=1   APPEND_RESULTS=1
#   LD_LIBRARY_PATH as needed for prebuilt binaries (libcublas*.so.13, and the build host's
#   libfmt/libsimdjson/libpcre2/libicu when they are not installed here, and libcupti.so.13
#   for gpu_bench profile: the CUDA toolkit's lib64 or extras/CUPTI/lib64)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build/gpu}
models=${MODELS_DIR:-$root/bench/.work/gpu/models}
results=${RESULTS:-$root/bench/.work/gpu/results.jsonl}
shapes=${SHAPES:-1b 8b}
dtypes=${DTYPES:-bf16 q4_0 q4_k_m}
batches=${BATCHES:-1,8,64,256}
ctx=${CTX:-256}
steps=${STEPS:-32}
prefill=${PREFILL:-2048}
py=${PYTHON:-python3}
jobs=$(nproc 2>/dev/null || echo 4)
mkdir -p "$models" "$(dirname "$results")"
[[ -n ${APPEND_RESULTS:-} ]] || : >"$results"
status=0
note() { printf '\n== %s\n' "$*"; }

# 1. Build.
if [[ -n ${BIN_DIR:-} ]]; then
  test_cuda=$BIN_DIR/test_cuda
  gpu_bench=$BIN_DIR/gpu_bench
else
  note "build ($build)"
  t0=$(date +%s)
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMP_CUDA=ON -DLLMP_BUILD_TESTS=ON >"$build.configure.log" 2>&1 &&
    cmake --build "$build" --target test_cuda gpu_bench -j"$jobs" >"$build.build.log" 2>&1
  if [[ $? -ne 0 ]]; then
    echo "build failed; see $build.configure.log and $build.build.log"
    tail -20 "$build.build.log" 2>/dev/null
    exit 1
  fi
  echo "built in $(($(date +%s) - t0)) s"
  test_cuda=$build/test/cuda/test_cuda
  gpu_bench=$build/bench/gpu_bench
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null

# 2. Correctness.
if [[ -z ${SKIP_TESTS:-} ]]; then
  note "test_cuda"
  "$test_cuda" 2>&1 | tee "$build.test_cuda.log" | grep -E '^parity|^engine|^test_cuda|SKIPPED|FAILED|test cases|assertions'
  rc=${PIPESTATUS[0]}
  echo "test_cuda exit $rc"
  [[ $rc -eq 0 ]] || status=1
  echo "{\"bench\":\"test_cuda\",\"exit\":$rc}" >>"$results"
fi
if [[ -z ${SKIP_SANITIZER:-} ]]; then
  note "compute-sanitizer memcheck (smoke)"
  if command -v compute-sanitizer >/dev/null; then
    for filter in "[decode],[prefill],[kv_cache],[gemv],[rms_norm]" "[eager]"; do
      compute-sanitizer --tool memcheck --error-exitcode 9 "$test_cuda" "$filter" >"$build.sanitizer.log" 2>&1
      rc=$?
      echo "memcheck $filter: exit $rc, $(grep -c 'Invalid\|Uninitialized\|out of bounds' "$build.sanitizer.log") reports; $(grep 'ERROR SUMMARY' "$build.sanitizer.log")"
      [[ $rc -eq 0 ]] || status=1
      echo "{\"bench\":\"memcheck\",\"filter\":\"$filter\",\"exit\":$rc}" >>"$results"
    done
    # Leaks and errors over whole requests (scheduler, graphs, device sampling, cancellation).
    tiny=$models/llama-tiny-f16.gguf
    [[ -f $tiny ]] || "$gpu_bench" create --shape tiny --dtype f16 --out "$tiny" >/dev/null
    compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 "$gpu_bench" soak "$tiny" --requests 300 \
      --concurrency 16 --max-tokens 6 >"$build.sanitizer.soak.log" 2>&1
    rc=$?
    echo "memcheck soak: exit $rc; $(grep 'LEAK SUMMARY\|ERROR SUMMARY' "$build.sanitizer.soak.log" | paste -sd' ')"
    [[ $rc -eq 0 ]] || status=1
    echo "{\"bench\":\"memcheck_soak\",\"exit\":$rc}" >>"$results"
  else
    echo "compute-sanitizer not found"
  fi
fi

# 3. Our side.
if [[ -z ${SKIP_OURS:-} ]]; then
note "device bandwidth"
"$gpu_bench" bandwidth >"$build.bandwidth.log" 2>&1
grep -v '^{' "$build.bandwidth.log"
grep '^{' "$build.bandwidth.log" >>"$results"
# One gpu_bench run: LOG_NAME, then its arguments; tables printed, JSON lines kept.
bench_run() {
  local log=$build.bench.$1.log
  shift
  "$gpu_bench" run "$@" >"$log" 2>&1
  local rc=$?
  grep -v '^{' "$log"
  grep '^{' "$log" >>"$results"
  [[ $rc -eq 0 ]] || { echo "gpu_bench exit $rc"; status=1; }
}
for shape in $shapes; do
  for dtype in $dtypes; do
    m=$models/llama-$shape-$dtype.gguf
    if [[ ! -f $m ]]; then
      "$gpu_bench" create --shape "$shape" --dtype "$dtype" --out "$m" || { status=1; continue; }
    fi
    note "llmplatform CUDA backend: llama-$shape-$dtype"
    bench_run "$shape-$dtype" "$m" --label "llama-$shape-$dtype" --batches "$batches" --ctx "$ctx" --steps "$steps" \
      --prefill "$prefill" --ttft-prompt 512 --ttft-load 0,32
    # Quantised decode at large batches through the int8 tensor-core MMA instead of dequantise
    # + cuBLAS (LLMP_CUDA_MMQ_MAX_ROWS, off by default until these figures say it wins).
    if [[ $dtype == q8_0 || $dtype == q4_0 ]]; then
      note "llmplatform CUDA backend: llama-$shape-$dtype, products of 9-256 rows through the int8 MMA"
      LLMP_CUDA_MMQ_MAX_ROWS=256 bench_run "$shape-$dtype-mmq" "$m" --label "llama-$shape-$dtype+mmq" \
        --batches "${MMQ_BATCHES:-16,64,256}" --ctx "$ctx" --steps "$steps" --prefill 0 --ttft-load ""
    fi
  done
done
# Where a decode step's time goes (CUPTI): kernels by name and the device's idle time.
for spec in ${PROFILE:-1b-bf16:1 1b-bf16:64 8b-q4_0:64}; do
  m=$models/llama-${spec%%:*}.gguf
  [[ -f $m ]] || continue
  for env in "" "LLMP_CUDA_GRAPHS=0" "LLMP_CUDA_MMQ_MAX_ROWS=256"; do
    [[ $env == LLMP_CUDA_GRAPHS=0 && ${spec##*:} != 1 ]] && continue
    [[ $env == LLMP_CUDA_MMQ* && $spec != *q4_0* && $spec != *q8_0* ]] && continue
    note "profile llama-$spec ${env:-(defaults)}"
    log=$build.profile.${spec/:/-b}${env:+-${env%%=*}}.log
    env $env "$gpu_bench" profile "$m" --batch "${spec##*:}" --ctx "$ctx" --label "llama-${spec%%:*}${env:+ $env}" \
      >"$log" 2>&1
    rc=$?
    grep -v '^{' "$log" | head -45
    grep '^{' "$log" >>"$results"
    [[ $rc -eq 0 || $rc -eq 77 ]] || { echo "gpu_bench profile exit $rc"; status=1; }
  done
done
note "leak run: 10,000 requests"
m=$models/llama-1b-bf16.gguf
[[ -f $m ]] || "$gpu_bench" create --shape 1b --dtype bf16 --out "$m" >/dev/null
"$gpu_bench" soak "$m" --requests 10000 --concurrency 64 --max-tokens 8 >"$build.soak.log" 2>&1
rc=$?
grep -v '^{' "$build.soak.log"
grep '^{' "$build.soak.log" >>"$results"
[[ $rc -eq 0 ]] || { echo "soak exit $rc (growth or errors)"; status=1; }
fi

# 4. llama.cpp on the same files.
if [[ -n ${LLAMA_CPP_SRC:-} || -n ${LLAMA_CPP_BIN:-} ]]; then
  built=0
  if [[ -n ${LLAMA_CPP_BIN:-} ]]; then
    llama_bin=$LLAMA_CPP_BIN
  else
    note "llama.cpp CUDA build from $LLAMA_CPP_SRC"
    lb=$build/llama.cpp
    llama_bin=$lb/bin
    t0=$(date +%s)
    cmake -S "$LLAMA_CPP_SRC" -B "$lb" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="${LLAMA_CUDA_ARCH:-90}" -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >"$lb.configure.log" 2>&1 &&
      cmake --build "$lb" --target llama-bench llama-batched-bench -j"$jobs" >"$lb.build.log" 2>&1
    built=$?
    if [[ $built -ne 0 ]]; then
      echo "llama.cpp build failed; see $lb.build.log"
      tail -5 "$lb.build.log"
    else
      echo "built in $(($(date +%s) - t0)) s"
    fi
  fi
  if [[ $built -eq 0 ]]; then
    # llama.cpp runs at most 64 sequences at once (LLAMA_MAX_SEQ): larger batches are left out.
    llama_batches=$(echo "$batches" | tr ',' '\n' | awk '$1 <= 64' | paste -sd, -)
    max_b=$(echo "$llama_batches" | tr ',' '\n' | sort -n | tail -1)
    for shape in $shapes; do
      for dtype in $dtypes; do
        m=$models/llama-$shape-$dtype.gguf
        [[ -f $m ]] || continue
        note "llama.cpp: llama-$shape-$dtype"
        "$llama_bin/llama-bench" -m "$m" -ngl 99 -fa 1 -p "$prefill" -n 128 -r 3 -o jsonl 2>/dev/null |
          while read -r line; do echo "{\"bench\":\"llamacpp_bench\",\"model\":\"llama-$shape-$dtype\",\"r\":$line}"; done | tee -a "$results" |
          $py -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l)["r"]
    k = "prefill %d" % d["n_prompt"] if d["n_prompt"] else "decode %d (batch 1)" % d["n_gen"]
    print("llama-bench %s: %.1f tokens/s" % (k, d["avg_ts"]))' 2>/dev/null
        "$llama_bin/llama-batched-bench" -m "$m" -ngl 99 -fa -c $((max_b * (ctx + steps) + 1024)) -b 2048 -ub 512 -npp "$ctx" \
          -ntg "$steps" -npl "$llama_batches" --output-format jsonl 2>/dev/null | grep '^{' |
          while read -r line; do echo "{\"bench\":\"llamacpp_batched\",\"model\":\"llama-$shape-$dtype\",\"r\":$line}"; done | tee -a "$results" |
          $py -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l)["r"]
    print("llama-batched-bench batch %d: decode %.1f tokens/s, prefill %.1f tokens/s" % (d["pl"], d["speed_tg"], d["speed_pp"]))' 2>/dev/null
      done
    done
  fi
elif [[ -z ${SKIP_LLAMA:-} ]]; then
  note "llama.cpp: not run (set LLAMA_CPP_SRC to a llama.cpp source tree)"
  echo "{\"bench\":\"llamacpp\",\"status\":\"not run: LLAMA_CPP_SRC unset\"}" >>"$results"
fi

# 5. PyTorch eager floor.
if [[ -z ${SKIP_TORCH:-} ]]; then
  note "PyTorch eager floor ($py)"
  for shape in $shapes; do
    $py "$root/bench/gpu/torch_floor.py" --shape "$shape" --batches "$batches" --ctx "$ctx" --steps "$steps" --prefill "$prefill" \
      2>"$build.torch.log" | tee -a "$results" ||
      echo "{\"bench\":\"torch_floor\",\"shape\":\"$shape\",\"status\":\"not available: $py failed\"}" | tee -a "$results"
  done
fi

# Summary.
note "summary (tokens/s)"
$py - "$results" <<'EOF' || cat "$results"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
ours = {(r["model"], r["batch"]): r for r in rows if r.get("bench") == "gpu_decode"}
pre = {r["model"]: r for r in rows if r.get("bench") == "gpu_prefill"}
ttft = {(r["model"], r["load"]): r for r in rows if r.get("bench") == "gpu_ttft"}
lb = {}
for r in rows:
    if r.get("bench") == "llamacpp_batched":
        lb[(r["model"], r["r"]["pl"])] = r["r"]["speed_tg"]
    if r.get("bench") == "llamacpp_bench" and r["r"]["n_prompt"]:
        lb[(r["model"], "pp")] = r["r"]["avg_ts"]
torch = {}
for r in rows:
    if r.get("bench") == "torch_floor" and "tokens_per_s" in r:
        torch[(r["shape"], r["batch"])] = r["tokens_per_s"]
    if r.get("bench") == "torch_floor_prefill":
        torch[(r["shape"], "pp")] = r["tokens_per_s"]
bw = [r for r in rows if r.get("bench") == "gpu_bandwidth"]
if bw:
    print(f"device copy bandwidth: {bw[0]['copy_gbps']:.0f} GB/s")
print("| model | batch | llmplatform | roofline | llama.cpp | PyTorch eager |")
print("| --- | --- | --- | --- | --- | --- |")
fmt = lambda v: f"{v:.1f}" if isinstance(v, (int, float)) else "n/a"
for (m, b), r in sorted(ours.items(), key=lambda kv: (kv[0][0], kv[0][1])):
    shape, dtype = m.split("-")[1], m.split("-")[2]
    t = torch.get((shape, b)) if dtype == "bf16" else None
    base = m.split("+")[0]  # "+mmq" rows: the same model with another product path
    print(f"| {m} | {b} | {r['tokens_per_s']:.1f} | {r['roofline_tokens_per_s']:.1f} | {fmt(lb.get((base, b)))} | {fmt(t)} |")
for m, r in sorted(pre.items()):
    shape, dtype = m.split("-")[1], m.split("-")[2]
    t = torch.get((shape, "pp")) if dtype == "bf16" else None
    print(f"| {m} | prefill {r['tokens']} | {r['tokens_per_s']:.0f} | | {fmt(lb.get((m, 'pp')))} | {fmt(t)} |")
for (m, load), r in sorted(ttft.items()):
    print(f"TTFT {m}, {r['prompt']}-token prompt, {load} sequences decoding: {r['ttft_ms']:.1f} ms")
EOF
echo
echo "JSON lines: $results"
exit $status
