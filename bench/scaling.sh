#!/usr/bin/env bash
# Scaling figures for a local viewstamp cluster: throughput and latency against the
# number of clients, the value size and the cluster's shape (3 or 5 replicas, 0 to 2
# standbys following). Printed, never asserted. Slow and machine-dependent: run by
# hand, never from CI. See bench/README.md.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/scaling.sh [-n REQUESTS] [--quick] [--keep]

  -n REQUESTS   redis-benchmark requests per test at 50 clients and more (default 50000;
                fewer clients get 2000 each, 64 KiB values a tenth)
  --quick       -n 10000: a smoke test, not a figure to quote
  --keep        keep the work directory (data and logs) after the run

Environment: VIEWSTAMP_BIN and BENCH_DIR, as for bench/compare.sh.
USAGE
}

requests=50000
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n) requests=${2:?-n needs a number}; shift 2 ;;
        --quick) requests=10000; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo_root/bench/lib.sh"
viewstamp_bin=${VIEWSTAMP_BIN:-$repo_root/target/release/viewstamp}
require_tools

client_base=36580
peer_base=37300
admin_base=38300

log() { printf '[scaling] %s\n' "$*" >&2; }

work_dir=""
pids=()
cleanup() {
    stop_processes
    if [[ -n $work_dir && -d $work_dir ]]; then
        if [[ $keep -eq 1 ]]; then log "kept $work_dir"; else rm -rf "$work_dir"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rows=()
# measure SHAPE CLIENTS VALUE_BYTES: SET and GET at the primary, one row each.
measure() {
    local shape=$1 clients=$2 bytes=$3 n=$requests line test rps p50 p99
    ((clients >= 50)) || n=$((clients * 2000 < requests ? clients * 2000 : requests))
    ((bytes < 65536)) || n=$((n / 10))
    log "$shape: redis-benchmark -c $clients -d $bytes -n $n -t set,get"
    while IFS= read -r line; do
        line=${line//\"/}
        IFS=, read -r test rps _ _ p50 _ p99 _ <<<"$line"
        case "$test" in
            SET|GET) rows+=("$(printf '%-6s %8s %8s %5s %12s %9s %9s' "$shape" "$clients" "$bytes" "$test" "$rps" "$p50" "$p99")") ;;
        esac
    done < <(redis-benchmark -h 127.0.0.1 -p $((client_base + vs_primary)) -c "$clients" -n "$n" -d "$bytes" \
        -t set,get --csv 2>/dev/null)
}

mkdir -p "${BENCH_DIR:-/var/tmp}"
work_dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/viewstamp-scaling.XXXXXX")
declare -a vs_pids
vs_primary=""
log "work directory $work_dir; viewstamp binary $viewstamp_bin"

vs_start_cluster "$work_dir/3+0" 3 0 $client_base $peer_base $admin_base
for clients in 1 10 50 200 1000; do measure 3+0 "$clients" 3; done
for bytes in 1024 65536; do measure 3+0 50 "$bytes"; done
stop_processes
for shape in 5+0 3+1 3+2; do
    vs_start_cluster "$work_dir/$shape" "${shape%+*}" "${shape#*+}" $client_base $peer_base $admin_base
    measure "$shape" 50 3
    stop_processes
done

printf '\nviewstamp scaling: SET and GET at the primary, fsync on; machine: %s cores, %s, data on %s\n\n' \
    "$(nproc)" "$(uname -r)" "$(df -T "$work_dir" | awk 'NR == 2 { print $2 " (" $1 ")" }')"
printf '%-6s %8s %8s %5s %12s %9s %9s\n' shape clients bytes test ops/s p50_ms p99_ms
printf '%s\n' "${rows[@]}"
