#!/usr/bin/env bash
# Q4_K_M, Q5_K_M (and Q3_K_M, Q2_K, IQ4_XS, IQ4_NL) files as llama.cpp's own llama-quantize writes them (Q4_K / Q5_K, with Q6_K
# for the output matrix and some v / down projections: the forms most published GGUF files
# take; with hidden 384, rows of 384 fall back to Q5_0 / Q5_1 / Q8_0, as Qwen2.5-0.5B's 896 do)
# must load, hold the tensor types `create-test --dtype q4_k_m|q5_k_m` (our tests' stand-ins
# for such files) gives, and generate. llama-quantize comes from a build of
# llama.cpp's public repository (never vendored here): LLAMA_CPP_BIN names its bin folder.
# Without it the test is reported as skipped (exit 77), not passed.
set -euo pipefail
bin=$1
llama=${LLAMA_CPP_BIN:-/work/peers/llama.cpp/build/bin}
if [[ ! -x $llama/llama-quantize ]]; then
  echo "SKIPPED: llama-quantize not found in $llama (set LLAMA_CPP_BIN to a llama.cpp build's bin folder)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
types() { "$bin" model inspect "$1" | awk '/^  [a-z0-9_.]+\.weight / {print $1, $2}' | sort; }
prompt="The quick brown fox jumps over the lazy dog"
for hidden in 256 384; do
  shape=(--arch llama --format gguf --layers 2 --hidden "$hidden" --heads 4 --kv-heads 2 --ffn 512 --vocab 700 --seed 7)
  "$bin" model create-test "${shape[@]}" --dtype f16 --out "$work/f16.gguf" >/dev/null
  for kind in q4_k_m q5_k_m; do
    "$llama/llama-quantize" "$work/f16.gguf" "$work/$kind.gguf" "${kind^^}" >"$work/quantize.log" 2>&1 ||
      { cat "$work/quantize.log"; exit 1; }
    echo "hidden $hidden $kind: $("$bin" model inspect "$work/$kind.gguf" | grep '^dtypes')"
    "$bin" model create-test "${shape[@]}" --dtype "$kind" --out "$work/ours-$kind.gguf" >/dev/null
    diff <(types "$work/$kind.gguf") <(types "$work/ours-$kind.gguf")
    ids=$("$bin" model generate "$work/$kind.gguf" --prompt "$prompt" --max-tokens 12 --ids)
    echo "$kind: $ids"
    [[ -n $ids ]]
  done
  # Q3_K_M, Q2_K, IQ4_XS and IQ4_NL as llama.cpp mixes them (no create-test mixture to compare
  # with; hidden 256 so that no row falls back).
  if [[ $hidden == 256 ]]; then
    for kind in q3_k_m q2_k iq4_xs iq4_nl; do
      "$llama/llama-quantize" "$work/f16.gguf" "$work/$kind.gguf" "${kind^^}" >"$work/quantize.log" 2>&1 ||
        { cat "$work/quantize.log"; exit 1; }
      echo "hidden $hidden $kind: $("$bin" model inspect "$work/$kind.gguf" | grep '^dtypes')"
      ids=$("$bin" model generate "$work/$kind.gguf" --prompt "$prompt" --max-tokens 12 --ids)
      echo "$kind: $ids"
      [[ -n $ids ]]
    done
  fi
done
