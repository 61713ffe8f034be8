#!/usr/bin/env bash
# Observability overhead (observability issue item 7): serving throughput with call records,
# the usage ledger, SLO counting and tracing all on (LLMP_OBSERVABILITY_ENABLED=true, every
# request sampled) against all off, in the same run, alternating rounds; then whether the usage
# ledger keeps up with 10,000 requests/s (ledger_bench). Goal: on/off >= 0.95.
#
#   bench/obs/run.sh [path/to/llmplatform] [path/to/ledger_bench]
#     DURATION  seconds per wrk run (default 8)
#     ROUNDS    alternating rounds per point, median reported (default 3)
#
# Two workloads, each against two identical servers (one on, one off):
#   gateway  a chat completion routed to a fast upstream (nginx `return 200`): the platform's own
#            per-request cost is all there is, so this is the worst case for the overhead
#   model    a completion of 8 tokens from a small generated model served by the engine on the CPU
# /metrics stays on in both (its counters are atomics on the hot path).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src_bin=$(realpath "${1:-build/release/llmplatform}")
ledger_bench=${2:-$(dirname "$src_bin")/bench/ledger_bench}
duration=${DURATION:-8}
rounds=${ROUNDS:-3}
source "$here/../lib/common.sh"
bench_init obs
cp "$src_bin" "$work/llmplatform"
bin=$work/llmplatform

# --- the fast upstream -------------------------------------------------------------------------
# Each answer has its own id (nginx's $request_id), as a real provider's do: call records are
# indexed by it.
up_port=$(free_port)
completion='{"id":"chatcmpl-$request_id","object":"chat.completion","created":1764115200,"model":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hello from upstream"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}'
cat >"$work/upstream.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/upstream-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$up_port backlog=4096;
    location = /v1/chat/completions { default_type application/json; return 200 '$completion'; }
  }
}
CONF
nginx -c "$work/upstream.conf" -p "$work"

# --- a small model, and the two servers ------------------------------------------------------
"$bin" model create-test --arch llama --format gguf --vocab 2000 --hidden 256 --layers 4 --heads 4 --kv-heads 2 \
  --ffn 512 --context 2048 --out "$work/m.gguf" >/dev/null

declare -A port key
start_server() {  # name enabled
  local name=$1 enabled=$2 p=
  mkdir -p "$work/$name"
  LLMP_OBSERVABILITY_ENABLED=$enabled LLMP_OBSERVABILITY_TRACE_SAMPLE_RATIO=${TRACE_RATIO:-1} LLMP_SERVER_IO_THREADS=2 \
    LLMP_SERVER_ACCESS_LOG=false LLMP_ENGINE_THREADS=2 \
    "$bin" --port 0 --data-dir "$work/$name/data" --model "m=$work/m.gguf" >"$work/$name/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    p=$(grep -m1 '"msg":"listening"' "$work/$name/log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' || true)
    [[ -n $p ]] && break
    sleep 0.1
  done
  [[ -n $p ]] || { echo "$name did not start:"; cat "$work/$name/log"; exit 2; } >&2
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
  port[$name]=$p
  local admin gw tenant k
  admin=$(cat "$work/$name/data/admin.key")
  gw=http://127.0.0.1:$p
  call() { curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $admin" --data "$3" "$gw$2"; }
  tenant=$(call POST /admin/v1/tenants '{"name":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  k=$(call POST "/admin/v1/tenants/$tenant/keys" '{"name":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
  key[$name]=$k
  call PUT /admin/v1/upstreams/fast "{\"base_url\":\"http://127.0.0.1:$up_port/v1\",\"max_retries\":0}" >/dev/null
  call PUT /admin/v1/routes/bench '{"deployments":[{"name":"d","kind":"upstream","upstream":"fast","model":"x","weight":1}]}' >/dev/null
}
start_server on true
start_server off false

cat >"$work/gateway.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":5}'
LUA
cat >"$work/model.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
wrk.body = '{"model":"m","prompt":"the quick brown fox","max_tokens":8,"ignore_eos":true}'
LUA

# rps NAME WORKLOAD CONNS
rps() {
  local out
  out=$(BENCH_KEY=${key[$1]} wrk -t2 -c"$3" -d"${duration}s" --timeout 10s -s "$work/$2.lua" \
    "http://127.0.0.1:${port[$1]}/v1/$([[ $2 == gateway ]] && echo chat/completions || echo completions)")
  if grep -q "Non-2xx" <<<"$out"; then echo "errors from $1 $2:" >&2; echo "$out" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A result
for workload in gateway model; do
  conns=64
  [[ $workload == model ]] && conns=8
  on=() off=()
  for _ in $(seq "$rounds"); do
    on+=("$(rps on $workload $conns)")
    off+=("$(rps off $workload $conns)")
  done
  result[$workload,on]=$(median "${on[@]}")
  result[$workload,off]=$(median "${off[@]}")
done

echo "| workload | connections | all on req/s | all off req/s | on / off |"
echo "| --- | --- | --- | --- | --- |"
status=0
json=""
for workload in gateway model; do
  ratio=$(awk -v a="${result[$workload,on]}" -v b="${result[$workload,off]}" 'BEGIN {printf "%.3f", a / b}')
  conns=64
  [[ $workload == model ]] && conns=8
  echo "| $workload | $conns | ${result[$workload,on]} | ${result[$workload,off]} | $ratio |"
  json+="\"${workload}_on\":${result[$workload,on]},\"${workload}_off\":${result[$workload,off]},\"${workload}_ratio\":$ratio,"
  awk -v r="$ratio" 'BEGIN {exit !(r >= 0.95)}' || status=1
done
# Every call of the "on" server was recorded: the ledger's totals say how many.
echo
echo "{\"bench\":\"obs_overhead\",\"duration_s\":$duration,\"rounds\":$rounds,${json%,}}"
if [[ -x $ledger_bench ]]; then
  echo
  "$ledger_bench" --calls 1000000 --threads 2 2>/dev/null | grep -v '"msg"' || status=1
fi
exit $status
