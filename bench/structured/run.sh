#!/usr/bin/env bash
# Structured output: the cost of a JSON schema, and of a GBNF grammar, on decoding, llmplatform
# against llama.cpp's llama-server on the same GGUF, one after the other in the same run. Each
# server streams the same chat completions one at a time, free (end of generation ignored),
# under response_format json_schema and under a GBNF JSON grammar (`grammar`;
# bench/structured/client.py); the figures that matter are each server's decode rate under a
# constraint against its own free rate, and the two servers' constrained rates against each
# other.
#
#   bench/structured/run.sh [build dir]   LLAMA_CPP_BIN=... MODEL=... (default: generated 1B Q4_0)
#                                         REQUESTS=6 MAX_TOKENS=64 THREADS=2
#
# With random weights the model never writes JSON of its own accord, so every token is one the
# schema has to correct: llama.cpp samples first and applies the grammar to the whole
# vocabulary only when the sampled token is rejected, which here is nearly always (its worst
# case; a trained model is rejected less often), while llmplatform masks every step.
set -euo pipefail
build=$(realpath "${1:-build/release}")
llama=${LLAMA_CPP_BIN:-/work/peers/llama.cpp/build/bin}
threads=${THREADS:-2}
requests=${REQUESTS:-6}
max_tokens=${MAX_TOKENS:-64}
model=${MODEL:-/tmp/llmp-bench-models/llama1b-q4_0.gguf}
here=$(dirname "$(realpath "$0")")
source "$here/../lib/common.sh"
bench_model "$build" "$model"
bench_init structured
measure() {  # port label
  for mode in free schema gbnf; do python3 "$here/client.py" "$1" m "$2" "$mode" "$requests" "$max_tokens"; done
}

LLMP_AUTH_MODE=open LLMP_ENGINE_THREADS=$threads "$build/llmplatform" --port 18311 --data-dir "$work/data" --model "m=$model" \
  --log-level warn >"$work/llmp.log" 2>&1 &
pids+=($!)
wait_http 18311 readyz
measure 18311 llmplatform | tee "$work/results.jsonl"
stop_all
"$llama/llama-server" -m "$model" -t "$threads" -np 1 -c 4096 --port 18312 --host 127.0.0.1 >"$work/llama.log" 2>&1 &
pids+=($!)
wait_http 18312 health
measure 18312 llama-server | tee -a "$work/results.jsonl"
stop_all

python3 - "$work/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["label"], r["mode"]): r for r in rows}
print()
print("| server | free tok/s | schema tok/s | schema / free | GBNF tok/s | GBNF / free | TTFT schema first ms | TTFT GBNF first ms | complete JSON (schema, GBNF) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for label in ("llmplatform", "llama-server"):
    f, s, g = by[(label, "free")], by[(label, "schema")], by[(label, "gbnf")]
    print(f"| {label} | {f['decode_tok_s_median']} | {s['decode_tok_s_median']} | "
          f"{s['decode_tok_s_median'] / f['decode_tok_s_median']:.2f} | {g['decode_tok_s_median']} | "
          f"{g['decode_tok_s_median'] / f['decode_tok_s_median']:.2f} | {s['ttft_ms_first']} | {g['ttft_ms_first']} | "
          f"{s['complete_json']}/{s['requests']}, {g['complete_json']}/{g['requests']} |")
for mode in ("schema", "gbnf"):
    a, b = by[("llmplatform", mode)], by[("llama-server", mode)]
    print(f"\nunder the {mode}: llmplatform / llama-server decode = {a['decode_tok_s_median'] / b['decode_tok_s_median']:.2f}")
PY
