#!/usr/bin/env bash
# Serving benchmark: the same synthetic streaming chat workload (Poisson arrivals, seeded
# prompt/output lengths) against llmplatform and llama.cpp's llama-server (-np matching the
# concurrency) on the same GGUF, one after the other in the same run.
#
#   bench/serving/run.sh [build dir]    LLAMA_CPP_BIN=... MODEL=... (default: generated 1B Q4_0)
#                                       LEVELS="1 4 16" REQUESTS=48 THREADS=2
set -euo pipefail
build=$(realpath "${1:-build/release}")
llama=${LLAMA_CPP_BIN:-/work/peers/llama.cpp/build/bin}
threads=${THREADS:-2}
levels=${LEVELS:-1 4 16}
requests=${REQUESTS:-48}
model=${MODEL:-/tmp/llmp-bench-models/llama1b-q4_0.gguf}
source "$(dirname "$(realpath "$0")")/../lib/common.sh"
bench_model "$build" "$model"
bench_init serving

echo "| server | concurrency | requests ok | req/s | output tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for c in $levels; do
  # llmplatform: max_batch_tokens keeps prefill chunks small enough not to stall decodes.
  LLMP_AUTH_MODE=open LLMP_ENGINE_THREADS=$threads "$build/llmplatform" --port 18301 --data-dir "$work/data" --model "m=$model" \
    --log-level warn >"$work/llmp.log" 2>&1 &
  pids+=($!)
  wait_http 18301 readyz
  "$build/bench/load_gen" --port 18301 --model m --concurrency "$c" --requests "$requests" --rate 4 --label llmplatform
  stop_all
  # 2048 context positions per slot: the longest prompt (400 words of this model's tokenizer)
  # plus 256 output tokens fits; with less, llama-server refuses the long prompts.
  "$llama/llama-server" -m "$model" -t "$threads" -np "$c" -c $((c * 2048)) --port 18302 --host 127.0.0.1 \
    >"$work/llama.log" 2>&1 &
  pids+=($!)
  wait_http 18302 health
  "$build/bench/load_gen" --port 18302 --model m --concurrency "$c" --requests "$requests" --rate 4 --label llama-server
  stop_all
done
