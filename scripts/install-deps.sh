#!/usr/bin/env bash
# Installs what llmplatform needs from Debian 12 packages, skipping what is already there.
#   scripts/install-deps.sh          build and run the server
#   scripts/install-deps.sh --test   also what the test suite uses (promtool, ...)
# CUDA is optional and not installed here: when /usr/local/cuda/bin/nvcc exists the build
# includes the CUDA backend (LLMP_CUDA=AUTO).
set -euo pipefail
cd "$(dirname "$0")/.."

build_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libsimdjson-dev libsqlite3-dev librocksdb-dev libfaiss-dev libopenblas-openmp-dev
  libfmt-dev libtomlplusplus-dev libssl-dev libpcre2-dev libicu-dev catch2
  libmimalloc-dev  # the binary's malloc (cmake/dependencies.cmake says why)
)
test_packages=(
  prometheus       # promtool checks /metrics
  python3-prometheus-client     # its strict OpenMetrics parser checks /metrics (test/support/check_openmetrics.py)
  util-linux       # setpriv and prlimit simulate read-only and full data dirs
  python3-torch python3-numpy   # the independent reference forward pass (run by /usr/bin/python3)
  python3-jinja2                # reference renderer for chat templates
  python3-sentencepiece         # reference SentencePiece tokenizer
  python3-jsonschema            # independent validator of structured outputs
  nodejs npm                    # node-driven references (tokenizer vocabularies, the openai SDK)
)

packages=("${build_packages[@]}")
testing=0
if [[ "${1:-}" == "--test" ]]; then
  testing=1
  packages+=("${test_packages[@]}")
fi

# Node packages the tests drive (test/node/package-lock.json pins them).
install_node_packages() {
  if ((testing)) && [[ -f test/node/package-lock.json ]]; then
    if [[ ! -d test/node/node_modules ]] || [[ test/node/package-lock.json -nt test/node/node_modules ]]; then
      if ! command -v npm >/dev/null; then echo "npm is missing" >&2; exit 1; fi
      npm ci --prefix test/node --no-audit --no-fund --loglevel=error >&2
      touch test/node/node_modules
    fi
  fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
# node and npm may come from elsewhere than Debian (a newer Node.js): accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}")
  missing=("${missing[@]/npm/}")
  read -r -a missing <<<"${missing[*]}"
fi
if ((${#missing[@]} == 0)); then
  install_node_packages
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_node_packages
