#!/usr/bin/env bash
# Resident memory while serving vs the bound of issue 3: mapped weights + KV budget + 10 %.
# Starts the server on each bench model with a 512 MiB KV budget, runs 8 concurrent
# completions, and reports the peak RSS (VmHWM, which includes loading) beside the bound.
#
#   bench/engine/rss.sh [build dir]      MODELS_DIR=/tmp/llmp-bench-models (from bench/engine/run.sh)
#                                        DTYPES="q4_0 q8_0 f16 q4_k_m q5_k_m"
set -euo pipefail
build=$(realpath "${1:-build/release}")
models=${MODELS_DIR:-/tmp/llmp-bench-models}
kv_mb=512
work=$(mktemp -d /tmp/llmp-bench-rss.XXXXXX)
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
echo "| model | file MB | KV budget MB | bound MB | peak RSS MB | RSS / bound |"
echo "| --- | --- | --- | --- | --- | --- |"
for m in ${DTYPES:-q4_0 q8_0 f16 q4_k_m q5_k_m}; do
  f=$models/llama1b-$m.gguf
  [[ -f $f ]] || { echo "missing $f (run bench/engine/run.sh first)" >&2; continue; }
  LLMP_AUTH_MODE=open LLMP_ENGINE_KV_CACHE_MB=$kv_mb LLMP_ENGINE_THREADS=2 "$build/llmplatform" --port 18311 --data-dir "$work/$m" \
    --model "m=$f" --log-level warn >"$work/$m.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do curl -sf http://127.0.0.1:18311/readyz >/dev/null && break; sleep 0.2; done
  clients=()
  for i in $(seq 8); do
    curl -s http://127.0.0.1:18311/v1/completions -H 'Content-Type: application/json' \
      -d "{\"model\":\"m\",\"prompt\":\"the model engine answers quickly $i\",\"max_tokens\":48,\"ignore_eos\":true}" >/dev/null &
    clients+=($!)
  done
  wait "${clients[@]}"
  hwm_kb=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  python3 -c "
f=$(stat -c %s "$f")/1e6; kv=$kv_mb*1048576/1e6; b=(f+kv)*1.1; r=$hwm_kb*1024/1e6
print(f'| {\"$m\"} | {f:.0f} | {kv:.0f} | {b:.0f} | {r:.0f} | {r/b:.2f} |')"
done
