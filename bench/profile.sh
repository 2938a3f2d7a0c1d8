#!/usr/bin/env bash
# Profiles the primary of a 3-replica viewstamp cluster under redis-benchmark SET load:
# per-thread CPU from /proc, a perf sample (if perf works here) and an strace syscall
# summary. Run by hand, never from CI. See bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: bench/profile.sh [-n REQUESTS] [-c CLIENTS] [--out DIR]

  -n REQUESTS   SETs per load run (default 200000; three runs are made)
  -c CLIENTS    concurrent connections (default 50)
  --out DIR     where perf.data and the reports go (default /var/tmp/viewstamp-profile-out)

Environment: VIEWSTAMP_BIN, BENCH_DIR as for bench/compare.sh.
EOF
}

requests=200000
clients=50
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out_dir=${BENCH_DIR:-/var/tmp}/viewstamp-profile-out
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n) requests=${2:?-n needs a number}; shift 2 ;;
        -c) clients=${2:?-c needs a number}; shift 2 ;;
        --out) out_dir=${2:?--out needs a directory}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

viewstamp_bin=${VIEWSTAMP_BIN:-$repo_root/target/release/viewstamp}
# shellcheck source=bench/lib.sh
source "$repo_root/bench/lib.sh"
require_tools

client_base=36480
peer_base=37200
admin_base=38200

log() { printf '[profile] %s\n' "$*" >&2; }

work_dir=""
pids=()
cleanup() {
    stop_processes
    [[ -z $work_dir ]] || rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$out_dir" "${BENCH_DIR:-/var/tmp}"
work_dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/viewstamp-profile.XXXXXX")
{
    echo "cluster_id = 8"
    echo 'data_dir = "data/member-{id}"'
    for id in 0 1 2; do
        printf '\n[[members]]\nid = %d\naddress = "127.0.0.1:%d"\nclient_address = "127.0.0.1:%d"\nadmin_address = "127.0.0.1:%d"\nrole = "active"\n' \
            "$id" $((peer_base + id)) $((client_base + id)) $((admin_base + id))
    done
} >"$work_dir/cluster.toml"
declare -a member_pids
for id in 0 1 2; do
    "$viewstamp_bin" format --config "$work_dir/cluster.toml" --member "$id" >/dev/null
done
for id in 0 1 2; do
    "$viewstamp_bin" start --config "$work_dir/cluster.toml" --member "$id" >"$work_dir/member-$id.log" 2>&1 &
    pids+=($!)
    member_pids[$id]=$!
done
deadline=$((SECONDS + 30))
until [[ $(redis-cli -p $client_base SET profile:ready 1 2>/dev/null) == OK ]]; do
    ((SECONDS < deadline)) || { echo "the cluster did not take a write in 30 s" >&2; exit 1; }
    sleep 0.2
done
primary=$(redis-cli -p $client_base INFO replication | tr -d '\r' | sed -n 's/^primary://p')
pid=${member_pids[$primary]}
port=$((client_base + primary))
log "primary is member $primary, pid $pid"

load() { redis-benchmark -p "$port" -c "$clients" -n "$requests" -t set -q 2>/dev/null | tr '\r' '\n' | grep 'per second' | tail -1; }

# 1. CPU per thread: utime+stime (clock ticks) before and after one load run.
thread_ticks() {
    local task
    for task in /proc/"$pid"/task/*; do
        awk -v tid="${task##*/}" '{ sub(/^.*\) /, ""); print tid, $12 + $13 }' "$task/stat" 2>/dev/null |
            while read -r tid ticks; do echo "$tid $(cat "$task/comm") $ticks"; done
    done | sort
}
thread_ticks >"$work_dir/before"
start_ns=$(date +%s%N)
log "load run 1 (per-thread CPU): $(load)"
elapsed_s=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
thread_ticks >"$work_dir/after"
hz=$(getconf CLK_TCK)
join "$work_dir/before" "$work_dir/after" |
    awk -v hz="$hz" -v s="$elapsed_s" '{ cpu = ($5 - $3) / hz; total += cpu; by[$2] += cpu }
        END { printf "wall %.2f s, primary CPU %.2f s (%.0f%% of one core)\n", s, total, 100 * total / s;
              for (name in by) if (by[name] > 0.005) printf "  %-20s %6.2f s\n", name, by[name] }' |
    tee "$out_dir/threads.txt"

# 2. perf: where the CPU time goes, by symbol.
if command -v perf >/dev/null && perf record -o /dev/null -p "$pid" -- sleep 0.1 >/dev/null 2>&1; then
    perf record -F 999 -g -o "$out_dir/perf.data" -p "$pid" 2>/dev/null &
    perf_pid=$!
    log "load run 2 (perf): $(load)"
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    # Flat self time by symbol, then the kernel call chains that lead to blocking.
    perf report -i "$out_dir/perf.data" --no-children -g none --sort dso,symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | cut -c1-160 | head -60 >"$out_dir/perf-symbols.txt" || true
    perf report -i "$out_dir/perf.data" --no-children -g none --sort comm --stdio 2>/dev/null |
        grep -E '^ +[0-9]' >"$out_dir/perf-threads.txt" || true
    perf report -i "$out_dir/perf.data" --children -g none --sort symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | cut -c1-160 | head -80 >"$out_dir/perf-inclusive.txt" || true
    log "perf reports in $out_dir/perf-{symbols,threads,inclusive}.txt"
else
    log "perf cannot sample here; skipped"
fi

# 3. strace: which syscalls the time goes to (strace slows the node down a lot).
if command -v strace >/dev/null; then
    strace -c -f -w -o "$out_dir/strace.txt" -p "$pid" &
    strace_pid=$!
    sleep 1
    log "load run 3 (strace -c -f -w): $(load)"
    kill -INT "$strace_pid"
    wait "$strace_pid" || true
    head -25 "$out_dir/strace.txt" || true
fi
