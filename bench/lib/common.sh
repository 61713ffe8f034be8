# Shared by the bench scripts (sourced): a work folder that is removed at exit with every
# process started into it, loopback ports, and the generated 1B model the LLM benches use.
#
#   source "$(dirname "$(realpath "$0")")/../lib/common.sh"
#   bench_init NAME          work=/tmp/llmp-bench-NAME.XXXXXX; at exit: stop_all, rm -rf "$work"
#   pids+=($!)               after starting a process in the background: stopped at exit
#   stop_all                 stop them now (SIGTERM, wait), and the nginx daemons in $work
#   free_port                a port nothing listens on now (bound to 0, then closed)
#   wait_http PORT PATH      until http://127.0.0.1:PORT/PATH answers 2xx (2 minutes at most)
#   bench_model BUILD PATH   the generated 1B Q4_0 (128k vocabulary, tied embeddings) at PATH,
#                            made with BUILD/llmplatform if it is not there

bench_init() {
  work=$(mktemp -d "/tmp/llmp-bench-$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

stop_all() {
  local p f
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  # nginx daemonises: its pid files in $work name it.
  for f in "$work"/*nginx*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
}

bench_cleanup() {
  stop_all
  sleep 0.3
  rm -rf "$work"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() {
  local _
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$1/$2" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "nothing answered on port $1 (/$2)" >&2
  return 1
}

bench_model() {
  [[ -f $2 ]] && return 0
  mkdir -p "$(dirname "$2")"
  "$1/llmplatform" model create-test --arch llama --format gguf --dtype q4_0 --layers 16 --hidden 2048 --heads 32 \
    --kv-heads 8 --ffn 8192 --vocab 128256 --context 8192 --tied-embeddings --out "$2" >/dev/null
}
