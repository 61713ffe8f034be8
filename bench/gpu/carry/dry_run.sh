#!/usr/bin/env bash
# Runs a device script (run11.sh and later) here, without a GPU, against stub binaries, to catch
# mistakes in its control flow, greps and time guards before they cost device minutes:
#   bench/gpu/carry/dry_run.sh bench/gpu/carry/run11.sh
# The stubs (gpu_bench, test_cuda, nvidia-smi, llama-batched-bench) print lines shaped like the
# real ones; the script's /tmp paths are moved under a scratch folder. It prints the script's
# summary and the files it would bring back.
set -eu
script=$(realpath "${1:?usage: dry_run.sh DEVICE_SCRIPT}")
D=$(mktemp -d /tmp/llmp-dry-run.XXXXXX)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/carry" "$D/stubs" "$D/bin" "$D/lib/lib" "$D/dry/lb/bin" "$D/repo/build"
cat > "$D/bin/gpu_bench" <<'STUB'
#!/bin/bash
case "$1" in
  create) while [ $# -gt 0 ]; do [ "$1" = "--out" ] && touch "$2"; shift; done; echo created ;;
  run)
    label=x batches=1
    while [ $# -gt 0 ]; do case "$1" in --label) label=$2 ;; --batches) batches=$2 ;; esac; shift; done
    echo "| model | batch | ctx | ms/step | tokens/s | roofline tokens/s | of roofline | logits D2H ms/step |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for b in ${batches//,/ }; do
      echo "| $label | $b | 256 | 1.00 | 1000.0 | 2000.0 | 50% | 0.02 |"
      echo "{\"bench\":\"gpu_decode\",\"model\":\"$label\",\"batch\":$b}"
      echo "sampling at batch $b: 1.00 ms/step on the device"
    done ;;
  profile) echo "## profile: $*"; echo '{"bench":"gpu_profile"}' ;;
esac
STUB
printf '#!/bin/bash\necho "parity llama/gguf/q4_0 graphs on  mmq rows 77"\necho "All tests passed (1 assertion in 1 test case)"\n' > "$D/bin/test_cuda"
printf '#!/bin/bash\necho "STUB GPU, 0.0, 1 MiB"\n' > "$D/stubs/nvidia-smi"
printf '#!/bin/bash\necho %s\n' "'{\"pl\": 1, \"speed_tg\": 1.0}'" > "$D/dry/lb/bin/llama-batched-bench"
cp "$D/bin/gpu_bench" "$D/bin/gpu_bench.old"  # the binary before, where a script compares
chmod +x "$D/bin/"* "$D/stubs/"* "$D/dry/lb/bin/"*
tar cJf "$D/carry/bins.tar.xz" -C "$D/bin" gpu_bench gpu_bench.old test_cuda
tar cJf "$D/carry/libs.tar.xz" -C "$D/lib" lib
tar cJf "$D/carry/llama-src.tar.xz" -C "$D/lib" lib
sed "s#/tmp/#$D/dry/#g" "$script" > "$D/carry/run.sh"
chmod +x "$D/carry/run.sh"
ln -s "$D/carry" "$D/repo/build/gpu-carry"
cd "$D/repo"
rc=0
PATH="$D/stubs:$PATH" OUT="$D/out" timeout 120 build/gpu-carry/run.sh > "$D/log" 2>&1 || rc=$?
cat "$D/log"
echo "--- dry run exit $rc; files: $(ls "$D/out" | tr '\n' ' ')"
exit "$rc"
