#!/usr/bin/env bash
# Installs what llmplatform needs from Debian 12 packages, skipping what is already there.
#   scripts/install-deps.sh          build and run the server
#   scripts/install-deps.sh --test   also what the test suite uses (promtool, ...)
# CUDA is optional and not installed here: when /usr/local/cuda/bin/nvcc exists the build
# includes the CUDA backend (LLMP_CUDA=AUTO).
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libsimdjson-dev libsqlite3-dev librocksdb-dev libfaiss-dev libopenblas-openmp-dev
  libfmt-dev libtomlplusplus-dev libssl-dev libpcre2-dev catch2
)
test_packages=(
  prometheus       # promtool checks /metrics
  util-linux       # setpriv and prlimit simulate read-only and full data dirs
)

packages=("${build_packages[@]}")
if [[ "${1:-}" == "--test" ]]; then packages+=("${test_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if ((${#missing[@]} == 0)); then exit 0; fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
