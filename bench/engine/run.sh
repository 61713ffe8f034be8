#!/usr/bin/env bash
# Engine benchmarks against llama.cpp on the same GGUF files, same threads, same run:
#  1. prefill and single-sequence decode (engine_bench vs llama-bench) for a generated model
#     with Llama-3.2-1B's shapes in f16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q3_K_M, Q2_K and IQ4_XS (the
#     last five made from the f16 file by llama.cpp's own llama-quantize: mixtures as published);
#  2. aggregate decode with 1, 8, 16 and 32 sequences (batched_bench vs llama-batched-bench)
#     in Q4_0 and Q8_0, and the prefix-cache TTFT benefit.
#
#   bench/engine/run.sh [build dir]      LLAMA_CPP_BIN=... (default /work/peers/llama.cpp/build/bin)
#                                        MODELS_DIR=... (default /tmp/llmp-bench-models) THREADS=2
#                                        DTYPES="f16 q8_0 q4_0 q4_k_m q5_k_m q3_k_m q2_k iq4_xs" (the rows of table 1)
#                                        SKIP_BATCHED=1 (table 1 only)
# llama.cpp is built outside this tree from its public repository (the figures in
# bench/RESULTS.md used commit d01ac08d):
#   cmake -S llama.cpp -B llama.cpp/build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF
#   cmake --build llama.cpp/build -j2 --target llama-bench llama-quantize llama-batched-bench llama-server
set -euo pipefail
build=$(realpath "${1:-build/release}")
llama=${LLAMA_CPP_BIN:-/work/peers/llama.cpp/build/bin}
models=${MODELS_DIR:-/tmp/llmp-bench-models}
threads=${THREADS:-2}
bin=$build/llmplatform
mkdir -p "$models"

# Llama-3.2-1B: hidden 2048, 16 layers, 32/8 heads, FFN 8192, vocab 128256, tied embeddings.
for dtype in f16 q8_0 q4_0; do
  m=$models/llama1b-$dtype.gguf
  [[ -f $m ]] || "$bin" model create-test --arch llama --format gguf --dtype "$dtype" --layers 16 --hidden 2048 \
    --heads 32 --kv-heads 8 --ffn 8192 --vocab 128256 --context 8192 --tied-embeddings --out "$m" >/dev/null
done
for kind in q4_k_m q5_k_m q3_k_m q2_k iq4_xs; do
  [[ -f $models/llama1b-$kind.gguf ]] ||
    "$llama/llama-quantize" "$models/llama1b-f16.gguf" "$models/llama1b-$kind.gguf" "${kind^^}" "$threads" \
      >"$models/quantize-$kind.log" 2>&1 || { echo "llama-quantize failed: see $models/quantize-$kind.log"; exit 1; }
done

# These shared 2-core machines are noisy: each engine runs ROUNDS times, alternating, and the
# table gives the medians.
rounds=${ROUNDS:-3}
echo "## prefill 128 / decode 32 tokens, $threads threads, median of $rounds alternating rounds"
echo
echo "| model | llmplatform pp128 t/s | llama.cpp pp128 t/s | ratio | llmplatform tg32 t/s | llama.cpp tg32 t/s | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for dtype in ${DTYPES:-f16 q8_0 q4_0 q4_k_m q5_k_m q3_k_m q2_k iq4_xs}; do
  m=$models/llama1b-$dtype.gguf
  runs=()
  for _ in $(seq "$rounds"); do
    runs+=("$("$build/bench/engine_bench" "$m" --threads "$threads" --prompt 128 --gen 32 --reps 2 | grep '^{')")
    runs+=("$("$llama/llama-bench" -m "$m" -t "$threads" -p 128 -n 32 -r 2 -o jsonl 2>/dev/null | tr '\n' ' ')")
  done
  python3 - "$dtype" "${runs[@]}" <<'PY'
import json, statistics, sys
dtype, runs = sys.argv[1], sys.argv[2:]
opp, otg, lpp, ltg = [], [], [], []
for i, run in enumerate(runs):
    if i % 2 == 0:
        d = json.loads(run)
        opp.append(d["prefill_tps"]); otg.append(d["decode_tps"])
    else:
        for line in run.replace("} {", "}\n{").splitlines():
            d = json.loads(line)
            if d["n_prompt"] > 0 and d["n_gen"] == 0: lpp.append(d["avg_ts"])
            if d["n_gen"] > 0 and d["n_prompt"] == 0: ltg.append(d["avg_ts"])
m = statistics.median
print(f"| {dtype} | {m(opp):.1f} | {m(lpp):.1f} | {m(opp)/m(lpp):.2f} | {m(otg):.1f} | {m(ltg):.1f} | {m(otg)/m(ltg):.2f} |")
print(json.dumps({"bench": "engine", "dtype": dtype, "llmp_pp128": opp, "llamacpp_pp128": lpp, "llmp_tg32": otg,
                  "llamacpp_tg32": ltg}), file=sys.stderr)
PY
done

[[ -z ${SKIP_BATCHED:-} ]] || exit 0
batched_table='
import json, sys
print("| seqs | prefill t/s | generation t/s |")
print("| --- | --- | --- |")
for line in sys.stdin:
    if line.startswith("{"):
        d = json.loads(line)
        print("| %d | %.2f | %.2f |" % (d["pl"], d["speed_pp"], d["speed_tg"]))
'
echo
echo "## aggregate decode (prompt 128, generate 128 per sequence), $threads threads"
for dtype in q4_0 q8_0; do
  m=$models/llama1b-$dtype.gguf
  echo
  echo "### $dtype: llmplatform"
  "$build/bench/batched_bench" "$m" --threads "$threads" --prompt 128 --gen 128 --seqs 1,8,16,32 --kv-mb 4096
  echo
  echo "### $dtype: llama-batched-bench"
  "$llama/llama-batched-bench" -m "$m" -t "$threads" -c 16384 -b 2048 -ub 512 -npp 128 -ntg 128 -npl 1,8,16,32 \
    --output-format jsonl 2>/dev/null | python3 -c "$batched_table"
done
