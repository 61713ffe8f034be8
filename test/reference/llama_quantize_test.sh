#!/usr/bin/env bash
# A Q4_K_M file as llama.cpp's own llama-quantize writes it (Q4_K, with Q6_K for the output
# matrix and some v / down projections: the form most published GGUF files take) must load,
# keep the types llama.cpp chose, and generate. llama-quantize comes from a build of llama.cpp's
# public repository (never vendored here): LLAMA_CPP_BIN names its bin folder. Without it the
# test is reported as skipped (exit 77), not passed.
set -euo pipefail
bin=$1
llama=${LLAMA_CPP_BIN:-/work/peers/llama.cpp/build/bin}
if [[ ! -x $llama/llama-quantize ]]; then
  echo "SKIPPED: llama-quantize not found in $llama (set LLAMA_CPP_BIN to a llama.cpp build's bin folder)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" model create-test --arch llama --format gguf --dtype f16 --layers 2 --hidden 256 --heads 4 --kv-heads 2 \
  --ffn 512 --vocab 700 --seed 7 --out "$work/f16.gguf" >/dev/null
"$llama/llama-quantize" "$work/f16.gguf" "$work/q4_k_m.gguf" Q4_K_M >"$work/quantize.log" 2>&1 ||
  { cat "$work/quantize.log"; exit 1; }
inspect=$("$bin" model inspect "$work/q4_k_m.gguf")
echo "$inspect"
# Both block types are in the file, on the tensors where `create-test --dtype q4_k_m` (our
# tests' stand-in for such files) puts them.
grep -q q4_k <<<"$inspect"
grep -q q6_k <<<"$inspect"
"$bin" model create-test --arch llama --format gguf --dtype q4_k_m --layers 2 --hidden 256 --heads 4 --kv-heads 2 \
  --ffn 512 --vocab 700 --seed 7 --out "$work/ours.gguf" >/dev/null
types() { "$bin" model inspect "$1" | awk '/^  [a-z0-9_.]+\.weight / {print $1, $2}' | sort; }
diff <(types "$work/q4_k_m.gguf") <(types "$work/ours.gguf")
prompt="The quick brown fox jumps over the lazy dog"
ids=$("$bin" model generate "$work/q4_k_m.gguf" --prompt "$prompt" --max-tokens 12 --ids)
echo "q4_k_m: $ids"
[[ -n $ids ]]
