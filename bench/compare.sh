#!/usr/bin/env bash
# Compares a 3-replica viewstamp cluster with Redis (appendfsync always) and a
# 3-member etcd cluster on this machine, at the same client concurrency.
# Slow and machine-dependent: run by hand, never from CI. See bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: bench/compare.sh [-n REQUESTS] [-c CLIENTS] [-P PIPELINE] [--quick] [--keep]

  -n REQUESTS   requests per redis-benchmark test (default 100000)
  -c CLIENTS    concurrent connections for every system (default 50)
  -P PIPELINE   commands in flight per connection for the pipelined SET test (default 16)
  --quick       -n 20000 and 5 s etcd runs: a smoke test, not a figure to quote
  --keep        keep the work directory (data and logs) after the run

Environment:
  VIEWSTAMP_BIN   the viewstamp binary (default target/release/viewstamp)
  BENCH_DIR       where the temporary work directory goes (default /var/tmp);
                  it must be a real disk, not tmpfs, or fsync costs nothing
  ETCD_SECONDS    how long each etcd wrk run lasts (default 15, --quick 5)
EOF
}

requests=100000
clients=50
pipeline=16
etcd_seconds=${ETCD_SECONDS:-15}
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n) requests=${2:?-n needs a number}; shift 2 ;;
        -c) clients=${2:?-c needs a number}; shift 2 ;;
        -P) pipeline=${2:?-P needs a number}; shift 2 ;;
        --quick) requests=20000; etcd_seconds=${ETCD_SECONDS:-5}; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo_root/bench/lib.sh"
viewstamp_bin=${VIEWSTAMP_BIN:-$repo_root/target/release/viewstamp}

# Ports far from the defaults (6379, 2379, viewstamp dev's 6380) so a running
# service on this machine does not get benchmarked by mistake.
vs_client_base=36380
vs_peer_base=37100
vs_admin_base=38100
redis_port=36379
etcd_client_ports=(32379 32389 32399)
etcd_peer_ports=(32380 32390 32400)

log() { printf '[compare] %s\n' "$*" >&2; }

install_missing() {
    local missing=() package
    for package in redis-server redis-tools etcd-server etcd-client wrk; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "installing ${missing[*]} with apt-get"
        local sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        "${sudo[@]}" apt-get install -y "${missing[@]}" >&2
    fi
}

work_dir=""
pids=()
cleanup() {
    stop_processes
    if [[ -n $work_dir && -d $work_dir ]]; then
        if [[ $keep -eq 1 ]]; then
            log "kept $work_dir"
        else
            rm -rf "$work_dir"
        fi
    fi
}
trap cleanup EXIT

# Stop one system before the next starts: on a small machine idle members still
# take CPU for heartbeats.
stop_system() { stop_processes; }
trap 'exit 130' INT TERM

# Results, one associative entry per "system:test:field".
declare -A result

# redis_bench NAME PORT [PIPELINE]: SET and GET through redis-benchmark's CSV (rps,
# p50, p99); with PIPELINE, SET only, that many commands in flight per connection,
# recorded as test SET-P<PIPELINE>.
redis_bench() {
    local name=$1 port=$2 pipeline=${3:-} line test rps p50 p99 tests=set,get suffix="" extra=()
    if [[ -n $pipeline ]]; then
        tests=set suffix=-P$pipeline extra=(-P "$pipeline")
    fi
    log "$name: redis-benchmark -c $clients -n $requests -t $tests ${extra[*]}"
    while IFS= read -r line; do
        line=${line//\"/}
        IFS=, read -r test rps _ _ p50 _ p99 _ <<<"$line"
        case "$test" in
            SET|GET)
                test=$test$suffix
                result[$name:$test:rps]=$rps; result[$name:$test:p50]=$p50; result[$name:$test:p99]=$p99 ;;
        esac
    done < <(redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" -n "$requests" -t $tests "${extra[@]}" --csv 2>/dev/null)
    [[ -n ${result[$name:SET$suffix:rps]:-} ]] || { echo "redis-benchmark gave no SET figure for $name" >&2; exit 1; }
}

# run_viewstamp NAME [RELEASE] [STANDBYS]: a cluster of 3 replicas (and STANDBYS
# standbys, default none), with every binary at RELEASE when given (1.3.0: the
# archived 1.3.0 code, whose reads go through the log; 1.4.0 reads by read_index).
# What it measures depends on NAME: see the calls at the end.
run_viewstamp() {
    local name=$1 release=${2:-} standbys=${3:-0}
    vs_start_cluster "$work_dir/$name" 3 "$standbys" $vs_client_base $vs_peer_base $vs_admin_base "$release"
    local primary=$vs_primary
    vs_primary_pid=${vs_pids[$primary]}
    case $name in
        viewstamp)
            redis_bench "$name" $((vs_client_base + primary))
            redis_bench "$name" $((vs_client_base + primary)) "$pipeline"
            ;;
        viewstamp-forwarded)
            # Clients on a backup and on the standby: each command is forwarded to
            # the primary and its answer relayed back.
            local backup=$(((primary + 1) % 3))
            wait_for 30 "the standby to forward a write" \
                bash -c "[[ \$(redis-cli -p $((vs_client_base + 3)) SET compare:standby 1) == OK ]]"
            redis_bench viewstamp-via-backup $((vs_client_base + backup))
            redis_bench viewstamp-via-standby $((vs_client_base + 3))
            ;;
        *) redis_bench "$name" $((vs_client_base + primary)) ;;
    esac
    local view_changes
    view_changes=$(curl -s "http://127.0.0.1:$((vs_admin_base + primary))/metrics" |
        sed -n 's/^viewstamp_view_changes_total[^ ]* //p' | head -1)
    result[$name:view_changes]=${view_changes:-?}
    [[ $name == viewstamp ]] && fsync_summary $((vs_admin_base + primary))
    return 0
}

# Mean fsync time on the primary over the whole run, from its histogram.
fsync_summary() {
    local metrics count sum
    metrics=$(curl -s "http://127.0.0.1:$1/metrics")
    count=$(sed -n 's/^viewstamp_storage_fsync_duration_seconds_count[^ ]* //p' <<<"$metrics" | head -1)
    sum=$(sed -n 's/^viewstamp_storage_fsync_duration_seconds_sum[^ ]* //p' <<<"$metrics" | head -1)
    if [[ -n $count && -n $sum && $count != 0 ]]; then
        result[viewstamp:fsyncs]=$count
        result[viewstamp:fsync_mean_ms]=$(awk -v s="$sum" -v c="$count" 'BEGIN { printf "%.3f", 1000 * s / c }')
    fi
}

run_redis() {
    local dir=$work_dir/redis
    mkdir -p "$dir"
    require_free_ports $redis_port
    redis-server --port $redis_port --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always \
        --save "" --daemonize no --logfile "$dir/redis.log" &
    pids+=($!)
    wait_for 15 "redis-server" bash -c "[[ \$(redis-cli -p $redis_port PING) == PONG ]]"
    redis_bench redis-fsync $redis_port
    redis_bench redis-fsync $redis_port "$pipeline"
}

etcd_endpoints() {
    local port list=""
    for port in "${etcd_client_ports[@]}"; do list+="${list:+,}http://127.0.0.1:$port"; done
    echo "$list"
}

run_etcd() {
    local dir=$work_dir/etcd id initial=""
    mkdir -p "$dir"
    require_free_ports "${etcd_client_ports[@]}" "${etcd_peer_ports[@]}"
    for id in 0 1 2; do
        initial+="${initial:+,}e$id=http://127.0.0.1:${etcd_peer_ports[$id]}"
    done
    for id in 0 1 2; do
        etcd --name "e$id" --data-dir "$dir/e$id" \
            --listen-client-urls "http://127.0.0.1:${etcd_client_ports[$id]}" \
            --advertise-client-urls "http://127.0.0.1:${etcd_client_ports[$id]}" \
            --listen-peer-urls "http://127.0.0.1:${etcd_peer_ports[$id]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${etcd_peer_ports[$id]}" \
            --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token compare \
            --log-outputs stderr >"$dir/e$id.log" 2>&1 &
        pids+=($!)
    done
    wait_for 30 "the etcd cluster to be healthy" \
        env ETCDCTL_API=3 etcdctl --endpoints "$(etcd_endpoints)" put compare:ready 1
    # Aim at the leader, as viewstamp's run aims at the primary.
    local leader_port
    leader_port=$(ETCDCTL_API=3 etcdctl --endpoints "$(etcd_endpoints)" endpoint status -w json |
        python3 -c 'import json,sys
for e in json.load(sys.stdin):
    if e["Status"]["leader"] == e["Status"]["header"]["member_id"]:
        print(e["Endpoint"].rsplit(":", 1)[1])')
    [[ -n $leader_port ]] || { echo "cannot find the etcd leader" >&2; exit 1; }
    log "etcd: leader serves clients on port $leader_port"
    # The same key and 3-byte value redis-benchmark's SET sends.
    local key value
    key=$(printf 'key:__rand_int__' | base64)
    value=$(printf 'xxx' | base64)
    cat >"$dir/put.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"key":"$key","value":"$value"}'
EOF
    cat >"$dir/range.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"key":"$key"}'
EOF
    etcd_wrk SET "$dir/put.lua" "http://127.0.0.1:$leader_port/v3/kv/put"
    etcd_wrk GET "$dir/range.lua" "http://127.0.0.1:$leader_port/v3/kv/range"
}

# etcd_wrk TEST SCRIPT URL: wrk at $clients connections for $etcd_seconds.
etcd_wrk() {
    local test=$1 script=$2 url=$3 output
    log "etcd: wrk -t2 -c $clients -d ${etcd_seconds}s --latency $test ($url)"
    output=$(wrk -t2 -c "$clients" -d "${etcd_seconds}s" --latency -s "$script" "$url")
    if grep -q 'Non-2xx' <<<"$output"; then
        echo "etcd answered errors under load:" >&2
        echo "$output" >&2
        exit 1
    fi
    result[etcd:$test:rps]=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$output")
    result[etcd:$test:p50]=$(awk '$1 == "50%" { print $2 }' <<<"$output" | to_ms)
    result[etcd:$test:p99]=$(awk '$1 == "99%" { print $2 }' <<<"$output" | to_ms)
}

# wrk prints 812.00us, 3.21ms or 1.02s.
to_ms() {
    awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) }
           else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.3f\n", v }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

report() {
    local name test
    printf '\nviewstamp compare: %s clients, %s requests per redis-benchmark test, etcd %ss per wrk test\n' \
        "$clients" "$requests" "$etcd_seconds"
    printf 'machine: %s cores, %s, data on %s\n\n' "$(nproc)" "$(uname -r)" \
        "$(df -T "$work_dir" | awk 'NR == 2 { print $2 " (" $1 ")" }')"
    printf '%-22s %7s %12s %10s %10s\n' system test ops/s p50_ms p99_ms
    for name in viewstamp viewstamp-at-1.3.0 viewstamp-via-backup viewstamp-via-standby redis-fsync etcd; do
        for test in SET GET SET-P$pipeline; do
            [[ -n ${result[$name:$test:rps]:-} ]] || continue
            printf '%-22s %7s %12s %10s %10s\n' "$name" "$test" "${result[$name:$test:rps]}" \
                "${result[$name:$test:p50]:-?}" "${result[$name:$test:p99]:-?}"
        done
    done
    printf '\nviewstamp primary: %s fsyncs, mean %s ms; view changes during the run: %s\n' \
        "${result[viewstamp:fsyncs]:-?}" "${result[viewstamp:fsync_mean_ms]:-?}" "${result[viewstamp:view_changes]:-?}"

    local vs_set=${result[viewstamp:SET:rps]} redis_set=${result[redis-fsync:SET:rps]}
    local etcd_set=${result[etcd:SET:rps]} vs_p99=${result[viewstamp:SET:p99]} redis_p99=${result[redis-fsync:SET:p99]}
    local verdict
    printf '\n%-44s %10s %s\n' target measured verdict
    verdict=FAIL; at_least "$vs_set" "$redis_set" && verdict=PASS
    printf '%-44s %9sx %s\n' "SET ops/s >= Redis appendfsync always" "$(ratio "$vs_set" "$redis_set")" $verdict
    verdict=FAIL; at_least "$vs_set" "$(awk -v e="$etcd_set" 'BEGIN { print 5 * e }')" && verdict=PASS
    printf '%-44s %9sx %s\n' "SET ops/s >= 5x etcd" "$(ratio "$vs_set" "$etcd_set")" $verdict
    verdict=FAIL; at_least "$(awk -v r="$redis_p99" 'BEGIN { print 2 * r }')" "$vs_p99" && verdict=PASS
    printf '%-44s %9sx %s\n' "SET p99 <= 2x Redis's" "$(ratio "$vs_p99" "$redis_p99")" $verdict
    local vs_get=${result[viewstamp:GET:rps]} redis_get=${result[redis-fsync:GET:rps]}
    local vs_get_p99=${result[viewstamp:GET:p99]} redis_get_p99=${result[redis-fsync:GET:p99]}
    local vs_pipe=${result[viewstamp:SET-P$pipeline:rps]} redis_pipe=${result[redis-fsync:SET-P$pipeline:rps]}
    verdict=FAIL; at_least "$vs_get" "$(awk -v r="$redis_get" 'BEGIN { print 0.8 * r }')" && verdict=PASS
    printf '%-44s %9sx %s\n' "GET ops/s >= 0.8x Redis" "$(ratio "$vs_get" "$redis_get")" $verdict
    verdict=FAIL; at_least "$(awk -v r="$redis_get_p99" 'BEGIN { print 2 * r }')" "$vs_get_p99" && verdict=PASS
    printf '%-44s %9sx %s\n' "GET p99 <= 2x Redis's" "$(ratio "$vs_get_p99" "$redis_get_p99")" $verdict
    verdict=FAIL; at_least "$vs_pipe" "$(awk -v r="$redis_pipe" 'BEGIN { print 0.5 * r }')" && verdict=PASS
    printf '%-44s %9sx %s\n' "SET -P $pipeline ops/s >= 0.5x Redis's" "$(ratio "$vs_pipe" "$redis_pipe")" $verdict
    printf '%-44s %9sx\n' "GET ops/s at 1.4.0 (read_index) / at 1.3.0" \
        "$(ratio "$vs_get" "${result[viewstamp-at-1.3.0:GET:rps]}")"
    printf '%-44s %9sx\n' "SET ops/s through a backup / at the primary" \
        "$(ratio "${result[viewstamp-via-backup:SET:rps]:-0}" "$vs_set")"
    printf '%-44s %9sx\n' "SET ops/s through a standby / at the primary" \
        "$(ratio "${result[viewstamp-via-standby:SET:rps]:-0}" "$vs_set")"
}

install_missing
require_tools
mkdir -p "${BENCH_DIR:-/var/tmp}"
work_dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/viewstamp-compare.XXXXXX")
declare -a vs_pids
vs_primary=""
vs_primary_pid=""
log "work directory $work_dir; viewstamp binary $viewstamp_bin"

run_viewstamp viewstamp
stop_system
run_viewstamp viewstamp-at-1.3.0 1.3.0
stop_system
run_viewstamp viewstamp-forwarded "" 1
stop_system
run_redis
stop_system
run_etcd
stop_system
report
