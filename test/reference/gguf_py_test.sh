#!/usr/bin/env bash
# A GGUF written by llama.cpp's own gguf-py from a Hugging Face folder must load in our engine
# and give the same greedy tokens as the folder itself. gguf-py comes from llama.cpp's public
# repository (never vendored here): LLMP_GGUF_PY names its folder. Without it the test is
# reported as skipped (exit 77), not passed.
set -euo pipefail
bin=$1
gguf_py=${LLMP_GGUF_PY:-/work/peers/llama.cpp/gguf-py}
if [[ ! -f $gguf_py/gguf/__init__.py ]]; then
  echo "SKIPPED: gguf-py not found at $gguf_py (set LLMP_GGUF_PY to llama.cpp's gguf-py folder)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" model create-test --arch llama --format hf --dtype f32 --layers 2 --hidden 128 --heads 4 --kv-heads 2 \
  --ffn 256 --vocab 700 --seed 7 --out "$work/hf" >/dev/null
/usr/bin/python3 "$(dirname "$0")/gguf_py_convert.py" "$gguf_py" "$work/hf" "$work/gguf-py.gguf"
prompt="The quick brown fox jumps over the lazy dog"
from_hf=$("$bin" model generate "$work/hf" --prompt "$prompt" --max-tokens 12 --ids)
from_gguf=$("$bin" model generate "$work/gguf-py.gguf" --prompt "$prompt" --max-tokens 12 --ids)
echo "hf:      $from_hf"
echo "gguf-py: $from_gguf"
[[ -n $from_hf && $from_hf == "$from_gguf" ]]
