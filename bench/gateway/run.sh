#!/usr/bin/env bash
# Gateway benchmark (gateway issue item 8): what the gateway's auth + limits + routing add on top
# of a fast upstream, against calling the upstream directly and against nginx proxy_pass to the
# same upstream, in the same run with the same wrk settings; then whether a request limit holds
# exactly under 256 connections.
#
#   bench/gateway/run.sh [path/to/llmplatform]
#     DURATION  seconds per wrk run (default 10)
#     ROUNDS    alternating rounds per point, median reported (default 3)
#     LIMIT     requests_per_day of the key in the limit run (default 2000)
#     PERF_OUT  when set: `perf record -g` of the gateway during its 64-connection runs, to this file
#     PERF_ARGS perf record options instead of -g (e.g. "--call-graph dwarf -F 2000")
#     OBSERVABILITY  true (default) or false: the gateway's observability.enabled (call records,
#               usage ledger, SLO counting and traces of every request); false measures auth +
#               limits + routing alone, the gateway issue's definition (bench/obs measures the rest)
#
# The upstream is nginx returning a fixed chat completion (with usage) from `return 200`. Three
# targets, the same POST (post.lua) to each:
#   direct   wrk -> upstream
#   nginx    wrk -> nginx proxy_pass (keepalive upstream block) -> upstream
#   gateway  wrk -> llmplatform (API key, a requests_per_minute rule that never refuses, a route
#            to an upstream deployment) -> upstream
# at two loads: 1 connection (wrk -t1: latency without queueing, the "added latency") and 64
# connections (wrk -t2: the most requests/s). Nothing is pinned: on two cores pinning would
# give the proxy under test a core shared with either wrk or the upstream, unlike the others;
# instead the thread counts are fixed: wrk 1-2 threads, upstream nginx 1 worker, proxy nginx 2
# workers, llmplatform 2 I/O threads (its default here) and no model. Every server writes an
# access log line per request.
#
# The limit run: a second key with a requests_per_day rule of LIMIT (a day, so refill cannot
# blur the count), wrk -t2 -c256 for DURATION seconds at a route whose upstream location has its
# own access log; count.lua counts the statuses. Exits 1 if more than LIMIT requests got a 200,
# if the upstream saw a different number of requests than the 200s, or if any throughput run got
# a non-2xx answer. Prints a markdown table and one JSON line.
# Needs: wrk, nginx (Debian packages wrk, nginx-light), curl, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src_bin=$(realpath "${1:-build/release/llmplatform}")
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
limit=${LIMIT:-2000}
source "$here/../lib/common.sh"
bench_init gateway
up_port=$(free_port)
proxy_port=$(free_port)
while [[ $proxy_port == "$up_port" ]]; do proxy_port=$(free_port); done

# Copied so that a rebuild by someone else during the run cannot swap the binary under us.
cp "$src_bin" "$work/llmplatform"
bin=$work/llmplatform

# --- the upstream: a fixed chat completion -----------------------------------------------------
completion='{"id":"chatcmpl-bench","object":"chat.completion","created":1764115200,"model":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hello from upstream"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}'
cat >"$work/upstream.conf" <<CONF
worker_processes 1;
pid $work/nginx-upstream.pid;
error_log $work/upstream-error.log;
events { worker_connections 4096; }
http {
  access_log $work/upstream-access.log;
  keepalive_requests 1000000;
  client_body_buffer_size 16k;
  server {
    listen 127.0.0.1:$up_port backlog=4096;
    location = /v1/chat/completions { default_type application/json; return 200 '$completion'; }
    location = /exact/v1/chat/completions {
      access_log $work/upstream-exact.log;
      default_type application/json; return 200 '$completion';
    }
  }
}
CONF
nginx -c "$work/upstream.conf" -p "$work"

# --- nginx proxy_pass: the peer ----------------------------------------------------------------
cat >"$work/proxy.conf" <<CONF
worker_processes 2;
pid $work/nginx-proxy.pid;
error_log $work/proxy-error.log;
events { worker_connections 4096; }
http {
  access_log $work/proxy-access.log;
  keepalive_requests 1000000;
  client_body_buffer_size 16k;
  upstream fast { server 127.0.0.1:$up_port; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$proxy_port backlog=4096;
    location / {
      proxy_pass http://fast;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
nginx -c "$work/proxy.conf" -p "$work"

# --- llmplatform: tenant, keys, upstream, routes, limits ---------------------------------------
LLMP_ENGINE_DEMO_MODEL=false LLMP_SERVER_IO_THREADS=2 LLMP_OBSERVABILITY_ENABLED=${OBSERVABILITY:-true} \
  "$bin" --port 0 --data-dir "$work/data" >"$work/llmp.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
gw_port=
for _ in $(seq 100); do
  gw_port=$(grep -m1 '"msg":"listening"' "$work/llmp.log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' || true)
  [[ -n $gw_port ]] && break
  sleep 0.1
done
if [[ -z $gw_port ]]; then
  echo "llmplatform did not start:" >&2
  cat "$work/llmp.log" >&2
  exit 2
fi
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$gw_port/readyz" >/dev/null && break; sleep 0.1; done
admin=$(cat "$work/data/admin.key")
gw=http://127.0.0.1:$gw_port

# admin METHOD PATH BODY: prints the response body; fails on a status over 299.
admin() {
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    --data "$3" "$gw$2"
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

tenant=$(admin POST /admin/v1/tenants '{"name":"bench"}' | json_field id)
key_json=$(admin POST "/admin/v1/tenants/$tenant/keys" '{"name":"bench"}')
key_id=$(json_field id <<<"$key_json")
key=$(json_field value <<<"$key_json")
exact_json=$(admin POST "/admin/v1/tenants/$tenant/keys" '{"name":"exact"}')
exact_id=$(json_field id <<<"$exact_json")
exact_key=$(json_field value <<<"$exact_json")
admin PUT /admin/v1/upstreams/fast "{\"base_url\":\"http://127.0.0.1:$up_port/v1\",\"max_retries\":0}" >/dev/null
admin PUT /admin/v1/upstreams/exact "{\"base_url\":\"http://127.0.0.1:$up_port/exact/v1\",\"max_retries\":0}" >/dev/null
admin PUT /admin/v1/routes/bench \
  '{"deployments":[{"name":"d","kind":"upstream","upstream":"fast","model":"x","weight":1}]}' >/dev/null
admin PUT /admin/v1/routes/bench-exact \
  '{"deployments":[{"name":"d","kind":"upstream","upstream":"exact","model":"x","weight":1}]}' >/dev/null
# High enough never to refuse: the limiter is on the path and counts, but always admits.
admin PUT /admin/v1/limits "{\"subject\":\"key:$key_id\",\"kind\":\"requests_per_minute\",\"limit\":1000000000}" >/dev/null
admin PUT /admin/v1/limits "{\"subject\":\"key:$exact_id\",\"kind\":\"requests_per_day\",\"limit\":$limit}" >/dev/null

# Each target must answer the upstream's completion before anything is measured.
body='{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":5}'
for url in "http://127.0.0.1:$up_port" "http://127.0.0.1:$proxy_port" "$gw"; do
  got=$(curl -sS --fail-with-body -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    --data "$body" "$url/v1/chat/completions")
  if [[ $got != *'hello from upstream'* ]]; then
    echo "$url did not answer the upstream's completion: $got" >&2
    exit 2
  fi
done
# The limit run's upstream log counts only the limit run.
: >"$work/upstream-exact.log"

declare -A url=(
  [direct]="http://127.0.0.1:$up_port/v1/chat/completions"
  [nginx]="http://127.0.0.1:$proxy_port/v1/chat/completions"
  [gateway]="$gw/v1/chat/completions"
)
non2xx_total=0

# ms VALUE: wrk's "123.45us" / "1.23ms" / "1.20s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}
    printf "%.4f", v }'
}

# The proxy's own processes per target (the gateway's one, nginx's workers), for CPU accounting.
proxy_pids() {
  case $1 in
    direct) pgrep -P "$(cat "$work/nginx-upstream.pid")" | tr '\n' ' ' ;;
    nginx) pgrep -P "$(cat "$work/nginx-proxy.pid")" | tr '\n' ' ' ;;
    gateway) echo "$gw_pid" ;;
  esac
}
# CPU ticks (user + system) the given processes have used so far.
cpu_ticks() {
  local total=0 p f
  for p in "$@"; do
    read -ra f <"/proc/$p/stat"
    total=$((total + f[13] + f[14]))
  done
  echo $total
}
tick_hz=$(getconf CLK_TCK)

# One wrk run: prints "requests_per_s p50_ms p99_ms cpu_us_per_request non2xx".
measure() {
  local target=$1 conns=$2 threads=2 out rps p50 p99 bad perf_pid= pids t0 t1 cpu_us
  ((conns < 2)) && threads=1
  if [[ -n ${PERF_OUT:-} && $target == gateway && $conns -gt 1 ]]; then
    perf record ${PERF_ARGS:--g} -o "$PERF_OUT" -p "$gw_pid" -- sleep "$duration" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  read -ra pids <<<"$(proxy_pids "$target")"
  t0=$(cpu_ticks "${pids[@]}")
  if [[ -n ${STRACE_OUT:-} && $target == gateway && $conns -gt 1 ]]; then
    timeout -s INT "$duration" strace -c -f -o "$STRACE_OUT" -p "$gw_pid" >/dev/null 2>&1 &
  fi
  out=$(BENCH_KEY=$key BENCH_MODEL=bench wrk -t$threads -c"$conns" -d"${duration}s" --timeout 10s --latency \
    -s "$here/post.lua" "${url[$target]}")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '/^ +50%/ {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '/^ +99%/ {print $2}' <<<"$out")")
  bad=$(awk '/Non-2xx or 3xx responses/ {print $5}' <<<"$out")
  t1=$(cpu_ticks "${pids[@]}")
  cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$tick_hz" -v r="$rps" -v d="$duration" 'BEGIN {printf "%.2f", t / hz * 1e6 / (r * d)}')
  [[ -n $perf_pid ]] && wait "$perf_pid"
  echo "$rps $p50 $p99 $cpu_us ${bad:-0}"
}

# Column-wise median of "rps p50 p99 cpu_us non2xx" lines (the last column summed).
median_cols() {
  printf '%s\n' "$@" | awk '
    {for (i = 1; i <= 4; i++) col[i, NR] = $i; bad += $5}
    END {
      for (i = 1; i <= 4; i++) {
        n = 0; for (r = 1; r <= NR; r++) v[++n] = col[i, r]
        for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (v[b] < v[a]) {t = v[a]; v[a] = v[b]; v[b] = t}
        m[i] = v[int((n + 1) / 2)]
      }
      printf "%s %s %s %s %d\n", m[1], m[2], m[3], m[4], bad
    }'
}

declare -A rps p50 p99 cpu
for conns in 1 64; do
  declare -A runs=([direct]="" [nginx]="" [gateway]="")
  for _ in $(seq "$rounds"); do
    for target in direct nginx gateway; do
      runs[$target]+="$(measure "$target" "$conns")"$'\n'
    done
  done
  for target in direct nginx gateway; do
    mapfile -t lines < <(printf '%s' "${runs[$target]}")
    read -r r a b c bad < <(median_cols "${lines[@]}")
    rps[$target,$conns]=$r p50[$target,$conns]=$a p99[$target,$conns]=$b cpu[$target,$conns]=$c
    non2xx_total=$((non2xx_total + bad))
  done
done

# --- limit run -----------------------------------------------------------------------------------
limit_out=$(BENCH_KEY=$exact_key BENCH_MODEL=bench-exact wrk -t2 -c256 -d"${duration}s" --timeout 10s \
  -s "$here/count.lua" "$gw/v1/chat/completions")
sleep 0.5
statuses=$(awk '/^statuses/ {$1 = ""; print}' <<<"$limit_out")
ok=$(tr ' ' '\n' <<<"$statuses" | awk -F= '$1 == 200 {print $2}')
refused=$(tr ' ' '\n' <<<"$statuses" | awk -F= '$1 == 429 {print $2}')
ok=${ok:-0} refused=${refused:-0}
upstream_seen=$(wc -l <"$work/upstream-exact.log")
offered=$(tr ' ' '\n' <<<"$statuses" | awk -F= 'NF == 2 {s += $2} END {print s + 0}')

# --- report --------------------------------------------------------------------------------------
f2() { awk -v v="$1" 'BEGIN {printf "%.3f", v}'; }
echo
echo "| target | conns | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | CPU µs/request |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for conns in 1 64; do
  for target in direct nginx gateway; do
    if [[ $target == direct ]]; then add50="" add99=""; else
      add50=$(awk -v a="${p50[$target,$conns]}" -v b="${p50[direct,$conns]}" 'BEGIN {printf "%.3f", a - b}')
      add99=$(awk -v a="${p99[$target,$conns]}" -v b="${p99[direct,$conns]}" 'BEGIN {printf "%.3f", a - b}')
    fi
    printf "| %s | %s | %.0f | %s | %s | %s | %s | %s |\n" "$target" "$conns" "${rps[$target,$conns]}" \
      "$(f2 "${p50[$target,$conns]}")" "$(f2 "${p99[$target,$conns]}")" "$add50" "$add99" "${cpu[$target,$conns]}"
  done
done
ratio1=$(awk -v a="${rps[gateway,1]}" -v b="${rps[nginx,1]}" 'BEGIN {printf "%.2f", a/b}')
ratio64=$(awk -v a="${rps[gateway,64]}" -v b="${rps[nginx,64]}" 'BEGIN {printf "%.2f", a/b}')
added_p50=$(awk -v a="${p50[gateway,1]}" -v b="${p50[direct,1]}" 'BEGIN {printf "%.3f", a - b}')
goal_p50=$(awk -v a="$added_p50" 'BEGIN {print (a <= 0.2) ? "met" : "not met"}')
goal_rps=$(awk -v a="$ratio64" 'BEGIN {print (a >= 0.8) ? "met" : "not met"}')
echo
echo "gateway / nginx req/s: $ratio1 at 1 connection, $ratio64 at 64"
echo "goal added p50 <= 0.2 ms (1 connection): ${added_p50} ms, $goal_p50"
echo "goal req/s >= 0.8x nginx (64 connections): ${ratio64}x, $goal_rps"
echo "limit run (requests_per_day $limit, 256 connections, ${duration}s): responses $offered; statuses$statuses; upstream saw $upstream_seen"

fail=0
if ((ok > limit)); then echo "FAIL: $ok requests got a 200, over the limit of $limit" >&2; fail=1; fi
if ((offered > limit && ok != limit)); then echo "FAIL: the load exceeded the limit but only $ok of $limit were admitted" >&2; fail=1; fi
if ((upstream_seen != ok)); then echo "FAIL: the upstream saw $upstream_seen requests for $ok 200s" >&2; fail=1; fi
if ((non2xx_total > 0)); then echo "FAIL: $non2xx_total non-2xx answers in the throughput runs" >&2; fail=1; fi
((fail == 0)) && echo "goal no limit exceeded under 256 connections: met"

printf '{"bench":"gateway","observability":%s,"duration_s":%s,"rounds":%s' "${OBSERVABILITY:-true}" "$duration" "$rounds"
for conns in 1 64; do
  for target in direct nginx gateway; do
    printf ',"%s_c%s":{"rps":%s,"p50_ms":%s,"p99_ms":%s,"cpu_us_per_request":%s}' "$target" "$conns" \
      "${rps[$target,$conns]}" "${p50[$target,$conns]}" "${p99[$target,$conns]}" "${cpu[$target,$conns]}"
  done
done
printf ',"rps_ratio_c1":%s,"rps_ratio_c64":%s,"added_p50_ms_c1":%s' "$ratio1" "$ratio64" "$added_p50"
printf ',"limit":%s,"limit_ok":%s,"limit_429":%s,"limit_upstream":%s,"limit_responses":%s}\n' \
  "$limit" "$ok" "$refused" "$upstream_seen" "$offered"
exit $fail
