# Shared by bench/*.sh: ports, waiting, and starting a local viewstamp cluster.
# Source it; it defines functions only. Callers provide `log`, the `pids` array
# (every started process, stopped on exit) and `viewstamp_bin`.

# require_tools: the viewstamp binary (`viewstamp_bin`) and redis-benchmark, or a clear exit.
require_tools() {
    [[ -x $viewstamp_bin ]] || {
        echo "no viewstamp binary at $viewstamp_bin: build it (cargo build --release -p viewstamp-native) or set VIEWSTAMP_BIN" >&2
        exit 1
    }
    command -v redis-benchmark >/dev/null || { echo "redis-benchmark is missing: apt-get install redis-tools" >&2; exit 1; }
}

# stop_processes: SIGTERM every process in `pids`, wait for each, forget them.
stop_processes() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

require_free_ports() {
    local port
    for port in "$@"; do
        port_free "$port" || { echo "port $port is in use; stop what holds it first" >&2; exit 1; }
    done
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every 0.2 s.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "timed out after ${seconds}s waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

# vs_start_cluster DIR REPLICAS STANDBYS CLIENT_BASE PEER_BASE ADMIN_BASE [RELEASE]:
# formats and starts REPLICAS active members and STANDBYS standbys (ids in that
# order) in DIR, at binary RELEASE when given; waits for a write; sets `vs_primary`
# (the primary's id) and `vs_pids` (pid by member id).
vs_start_cluster() {
    local dir=$1 replicas=$2 standbys=$3 client_base=$4 peer_base=$5 admin_base=$6 release=${7:-}
    local members=$((replicas + standbys)) id role release_args=()
    [[ -n $release ]] && release_args=(--binary-release "$release")
    mkdir -p "$dir"
    for ((id = 0; id < members; id++)); do
        require_free_ports $((client_base + id)) $((peer_base + id)) $((admin_base + id))
    done
    {
        echo "cluster_id = 7"
        echo 'data_dir = "data/member-{id}"'
        for ((id = 0; id < members; id++)); do
            role=active
            ((id < replicas)) || role=standby
            printf '\n[[members]]\nid = %d\naddress = "127.0.0.1:%d"\nclient_address = "127.0.0.1:%d"\nadmin_address = "127.0.0.1:%d"\nrole = "%s"\n' \
                "$id" $((peer_base + id)) $((client_base + id)) $((admin_base + id)) "$role"
        done
    } >"$dir/cluster.toml"
    for ((id = 0; id < members; id++)); do
        "$viewstamp_bin" format --config "$dir/cluster.toml" --member "$id" "${release_args[@]}" >>"$dir/format.log" 2>&1
    done
    vs_pids=()
    for ((id = 0; id < members; id++)); do
        "$viewstamp_bin" start --config "$dir/cluster.toml" --member "$id" "${release_args[@]}" >"$dir/member-$id.log" 2>&1 &
        pids+=($!)
        vs_pids[$id]=$!
    done
    wait_for 30 "the viewstamp cluster to take a write" \
        bash -c "[[ \$(redis-cli -p $client_base SET bench:ready 1) == OK ]]"
    vs_primary=$(redis-cli -p "$client_base" INFO replication | tr -d '\r' | sed -n 's/^primary://p')
    [[ $vs_primary =~ ^[0-9]+$ ]] || { echo "cannot tell the viewstamp primary from INFO replication" >&2; exit 1; }
    log "viewstamp $replicas + $standbys: primary is member $vs_primary (pid ${vs_pids[$vs_primary]})"
}
