#!/usr/bin/env bash
# HTTP server benchmark: llmplatform against nginx serving the same bodies on the same machine,
# in the same run, with wrk. Both write an access log line per request.
#
#   bench/http/run.sh [path/to/llmplatform]   (DURATION=seconds per run, default 5; ROUNDS, default 5)
#
# Each point alternates llmplatform and nginx ROUNDS times and reports the median of each (these
# 2-core machines are shared and noisy; single runs swing by ±15%). Prints a markdown table
# (requests/s and p99 per route and connection count, and the ratio to nginx) and one JSON line
# per point. Needs: wrk, nginx (Debian packages wrk, nginx-light).
set -euo pipefail
bin=$(realpath "${1:-build/release/llmplatform}")
duration=${DURATION:-5}
rounds=${ROUNDS:-5}
source "$(dirname "$(realpath "$0")")/../lib/common.sh"
bench_init http
llmp_port=18181
nginx_port=18182

"$bin" --port $llmp_port --data-dir "$work/data" >"$work/llmp.log" 2>&1 &
pids+=($!)
version=$("$bin" --version | awk '{print $2}')
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx-access.log;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
    location = /version { default_type application/json; return 200 '{"name":"llmplatform","version":"$version"}'; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$llmp_port/readyz" >/dev/null && break; sleep 0.1; done

# One wrk run: prints "requests_per_s p99_ms".
measure() {
  local url=$1 conns=$2 threads=2
  ((conns < 2)) && threads=1
  wrk -t$threads -c"$conns" -d"${duration}s" --latency "$url" | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
    END {printf "%s %s\n", rps, p99}'
}

# Median of the first and of the second column over "rps p99" lines.
median_pair() {
  local rps p99
  rps=$(printf '%s\n' "$@" | awk '{print $1}' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  p99=$(printf '%s\n' "$@" | awk '{print $2}' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$rps $p99"
}

echo "| route | connections | llmplatform req/s | nginx req/s | ratio | llmplatform p99 ms | nginx p99 ms | p99 ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
json=()
for route in /healthz /version; do
  for conns in 1 64 256; do
    l_runs=() n_runs=()
    for _ in $(seq "$rounds"); do
      l_runs+=("$(measure "http://127.0.0.1:$llmp_port$route" "$conns")")
      n_runs+=("$(measure "http://127.0.0.1:$nginx_port$route" "$conns")")
    done
    read -r l_rps l_p99 < <(median_pair "${l_runs[@]}")
    read -r n_rps n_p99 < <(median_pair "${n_runs[@]}")
    ratio=$(awk -v a="$l_rps" -v b="$n_rps" 'BEGIN {printf "%.2f", a/b}')
    p99_ratio=$(awk -v a="$l_p99" -v b="$n_p99" 'BEGIN {printf "%.2f", a/b}')
    printf "| %s | %s | %.0f | %.0f | %s | %.2f | %.2f | %s |\n" "$route" "$conns" "$l_rps" "$n_rps" "$ratio" "$l_p99" "$n_p99" "$p99_ratio"
    json+=("{\"bench\":\"http\",\"route\":\"$route\",\"connections\":$conns,\"llmp_rps\":$l_rps,\"nginx_rps\":$n_rps,\"rps_ratio\":$ratio,\"llmp_p99_ms\":$l_p99,\"nginx_p99_ms\":$n_p99}")
  done
done
printf '%s\n' "${json[@]}"
