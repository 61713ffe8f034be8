#!/usr/bin/env bash
# Fills build/gpu-carry/ (README.md here) from a fresh checkout, so that a session lent a GPU
# spends its device minutes on the run and not on setup:
#   bench/gpu/carry/make_carry.sh [LLAMA_GIT_DIR]
# Needs build/ci built (gpu_bench, test_cuda). LLAMA_GIT_DIR: a git directory of llama.cpp,
# by default the device tool's mirror of Driver-Demos/llama.cpp (fetch "github:Driver-Demos/llama.cpp";
# the main repository is too large to bring here), whose HEAD is d01ac08d, the commit every
# run so far measured against. Then copy the run script in: cp bench/gpu/carry/run14.sh build/gpu-carry/
set -euo pipefail
cd "$(dirname "$0")/../../.."
LLAMA=${1:-/work/.mirror/Driver-Demos+llama.cpp/repo}
C=build/gpu-carry
T=$(mktemp -d /tmp/llmp-carry.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$C" "$T/bin" "$T/l/lib" "$T/src"
BINS="build/ci/bench/gpu_bench build/ci/test/cuda/test_cuda"

# The binaries, stripped and xz-compressed (the carry limit is 64 MiB).
cp $BINS "$T/bin/" && strip --strip-unneeded "$T/bin/"*
tar cJf "$C/bins.tar.xz" -C "$T/bin" gpu_bench test_cuda
git rev-parse --short HEAD > "$C/BINARIES_OF"

# The shared libraries they load that the device image lacks: every one but glibc, the compiler
# runtime, the driver, the CUDA runtime and cuBLAS (which the image has). CUPTI, which gpu_bench
# links for its kernel profile, is among them: the image's toolkit lacks it.
for lib in $(ldd $BINS | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libutil.so* | libresolv.so* | ld-linux* | libgcc_s.so* | libstdc++.so*)
      continue ;;
    libcuda.so* | libcudart.so* | libcublas.so* | libcublasLt.so* | libnvidia*) continue ;;
  esac
  cp -L "$lib" "$T/l/lib/"
done
ls "$T/l/lib" | grep -q libcupti || { echo "gpu_bench does not link CUPTI: its profile would be missing" >&2; exit 1; }
tar cJf "$C/libs.tar.xz" -C "$T/l" lib

# llama.cpp's source: what its CMake build of llama-batched-bench reads (the mirror lacks some
# documentation blobs, so git archive of the whole tree fails).
git --git-dir="$LLAMA" --work-tree="$T/src" checkout HEAD -- CMakeLists.txt CMakePresets.json cmake ggml src include common \
  tools vendor licenses LICENSE
tar cJf "$C/llama-src.tar.xz" -C "$T/src" .

ls -l "$C"
du -ch "$C"/*.tar.xz | tail -1
