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
  nodejs npm       # the web console's build (web/: TypeScript and Vite, run by cmake/console.cmake)
)
test_packages=(
  prometheus       # promtool checks /metrics
  python3-prometheus-client     # its strict OpenMetrics parser checks /metrics (test/support/check_openmetrics.py)
  util-linux       # setpriv and prlimit simulate read-only and full data dirs
  python3-torch python3-numpy   # the independent reference forward pass (run by /usr/bin/python3)
  python3-jinja2                # reference renderer for chat templates
  python3-sentencepiece         # reference SentencePiece tokenizer
  python3-jsonschema            # independent validator of structured outputs
  chromium                      # the console's browser suite (test/web, driven by playwright-core)
  fonts-wqy-microhei            # CJK glyphs for its 简体中文 screenshots
)

packages=("${build_packages[@]}")
testing=0
if [[ "${1:-}" == "--test" ]]; then
  testing=1
  packages+=("${test_packages[@]}")
fi

# Node packages: the console's build tools (web/package-lock.json) always; with --test, what the
# tests drive (test/node: references and the openai SDK; test/web: playwright-core). Each is
# `npm ci`, pinned by its package-lock.json, and skipped while node_modules is newer than the lock.
npm_ci() {
  local dir=$1
  [[ -f $dir/package-lock.json ]] || return 0
  if [[ ! -d $dir/node_modules ]] || [[ $dir/package-lock.json -nt $dir/node_modules ]]; then
    if ! command -v npm >/dev/null; then echo "npm is missing" >&2; exit 1; fi
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
    touch "$dir/node_modules"
  fi
}
install_node_packages() {
  npm_ci web
  if ((testing)); then
    npm_ci test/node
    npm_ci test/web
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
