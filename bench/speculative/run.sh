#!/usr/bin/env bash
# Speculative decoding by prompt lookup (engine.speculative_tokens) and by OpenAI's predicted
# outputs: single-stream decode rate of llmplatform with prompt lookup off and on, and of
# llama.cpp's llama-server (no prompt lookup: its speculative decoding needs a draft model; it
# ignores `prediction`) on the same GGUF, one after the other in the same run. Each server
# streams the same chat completions one at a time (bench/speculative/client.py): greedy, sampled
# at two temperatures, and greedy with a `prediction` that is right (the answer of the same
# request asked just before, untimed) or wrong (unrelated text: its cost). With prompt lookup off
# only the prediction drafts. llmplatform's drafted and accepted token counters are read from
# /metrics around each mode (the untimed requests included). The servers' data folders start
# empty each time.
#
#   bench/speculative/run.sh [build dir]   LLAMA_CPP_BIN=... MODEL=... (default: generated 1B Q4_0)
#                                          REQUESTS=4 MAX_TOKENS=128 THREADS=2 SPEC_TOKENS=3 ROUNDS=2
#
# The three servers take turns ROUNDS times (this VM's speed drifts by 10 % over minutes). With
# random weights what repeats depends on the model: one with tied embeddings (the default file)
# writes its input token back, a loop prompt lookup drafts perfectly (the best case); one with an
# output matrix of its own (`model create-test` without --tied-embeddings) writes special tokens
# that rarely repeat (drafts mostly fail: the case that costs).
set -euo pipefail
build=$(realpath "${1:-build/release}")
llama=${LLAMA_CPP_BIN:-/work/peers/llama.cpp/build/bin}
threads=${THREADS:-2}
requests=${REQUESTS:-4}
max_tokens=${MAX_TOKENS:-128}
spec_tokens=${SPEC_TOKENS:-3}
rounds=${ROUNDS:-2}
model=${MODEL:-/tmp/llmp-bench-models/llama1b-q4_0.gguf}
here=$(dirname "$(realpath "$0")")
source "$here/../lib/common.sh"
bench_model "$build" "$model"
bench_init speculative
counter() { { curl -sf "http://127.0.0.1:$1/metrics" || true; } | awk -v n="$2" '$1 ~ "^"n"[{]" {s += $2} END {print s + 0}'; }
measure() {  # port label
  for mode in greedy sampled hot predicted mispredicted; do
    local drafted accepted row
    drafted=$(counter "$1" llmp_spec_decode_draft_tokens_total)
    accepted=$(counter "$1" llmp_spec_decode_accepted_tokens_total)
    row=$(python3 "$here/client.py" "$1" m "$2" "$mode" "$requests" "$max_tokens")
    drafted=$(( $(counter "$1" llmp_spec_decode_draft_tokens_total) - drafted ))
    accepted=$(( $(counter "$1" llmp_spec_decode_accepted_tokens_total) - accepted ))
    echo "${row%\}}, \"drafted\": $drafted, \"accepted\": $accepted}"
  done
}
serve() {  # port speculative_tokens
  LLMP_AUTH_MODE=open LLMP_ENGINE_THREADS=$threads LLMP_ENGINE_SPECULATIVE_TOKENS=$2 "$build/llmplatform" --port "$1" \
    --data-dir "$work/data$1-$round" --model "m=$model" --log-level warn >"$work/llmp$2.log" 2>&1 &
  pids+=($!)
  wait_http "$1" readyz
}

for round in $(seq "$rounds"); do
  serve 18321 0
  measure 18321 "llmplatform" | tee -a "$work/results.jsonl"
  stop_all
  serve 18322 "$spec_tokens"
  measure 18322 "llmplatform speculative" | tee -a "$work/results.jsonl"
  stop_all
  "$llama/llama-server" -m "$model" -t "$threads" -np 1 -c 4096 --port 18323 --host 127.0.0.1 >"$work/llama.log" 2>&1 &
  pids+=($!)
  wait_http 18323 health
  measure 18323 llama-server | tee -a "$work/results.jsonl"
  stop_all
done

python3 - "$work/results.jsonl" "$spec_tokens" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["label"], r["mode"]), []).append(r)
rate = lambda label, mode: statistics.median(r["decode_tok_s_median"] for r in by[(label, mode)])
total = lambda key, mode: sum(r[key] for r in by[("llmplatform speculative", mode)])
print()
print(f"speculative_tokens = {sys.argv[2]}; tok/s: median over rounds of each round's median request")
print("| mode | llmplatform tok/s | speculative tok/s | drafted | accepted | speculative / off | llama-server tok/s | speculative / llama-server |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for mode in ("greedy", "sampled", "hot", "predicted", "mispredicted"):
    off, on, peer = rate("llmplatform", mode), rate("llmplatform speculative", mode), rate("llama-server", mode)
    print(f"| {mode} | {off:.2f} | {on:.2f} | {total('drafted', mode)} | {total('accepted', mode)} | {on / off:.2f} | "
          f"{peer:.2f} | {on / peer:.2f} |")
PY
