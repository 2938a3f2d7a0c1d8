#!/usr/bin/env bash
# A long simulator sweep on every core: random fault schedules with every checker on,
# over every cluster shape CI sweeps, far past CI's 2,000 seeds a shape.
#
#   scripts/soak.sh                       # a million seeds (about 100,000 a shape)
#   scripts/soak.sh --duration 1h         # as many as an hour allows
#   scripts/soak.sh --seeds 50000 --jobs 2 --dir target/soak
#
# One `viewstamp sim` process per core works through chunks of seeds from disjoint
# ranges (shape k's seeds start at 10,000,000 * (k + 1)). Finished chunks are written
# to DIR/done, so running it again with the same DIR resumes where it stopped. A chunk
# stops at its first failing seed, whose script goes to DIR/failures (replay it with
# `viewstamp replay`); the sweep goes on with the next chunk. It ends by printing
# seeds/s and every failure found; exit status 1 if there was any.
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=1000000
duration=""
jobs=$(nproc 2>/dev/null || echo 2)
dir=target/soak
chunk=500
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --chunk) chunk=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

seconds_of() {
  case "$1" in
    *h) echo $(( ${1%h} * 3600 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
deadline=""
if [ -n "$duration" ]; then
  deadline=$(( $(date +%s) + $(seconds_of "$duration") ))
fi

shapes=("1 0" "1 1" "2 0" "2 1" "3 0" "3 1" "3 2" "5 0" "5 1" "7 0" "7 2")
chunks_per_shape=$(( (seeds / ${#shapes[@]} + chunk - 1) / chunk ))
total_chunks=$(( chunks_per_shape * ${#shapes[@]} ))

cargo build --release --quiet -p viewstamp-native
bin=$PWD/target/release/viewstamp
mkdir -p "$dir/failures" "$dir/logs"
touch "$dir/done"
started=$(date +%s)
done_before=$(wc -l < "$dir/done")

# Chunk i: shape i % shapes, the (i / shapes)-th chunk of that shape's range.
worker() {
  local id=$1 i
  for (( i = id; i < total_chunks; i += jobs )); do
    if [ -n "$deadline" ] && [ "$(date +%s)" -ge "$deadline" ]; then
      return
    fi
    grep -qx "$i" "$dir/done" && continue
    local shape=${shapes[$(( i % ${#shapes[@]} ))]}
    set -- $shape
    local start=$(( 10000000 * (i % ${#shapes[@]} + 1) + (i / ${#shapes[@]}) * chunk ))
    if ! "$bin" sim --seeds "$chunk" --start "$start" --replicas "$1" --standbys "$2" \
        --emit "$dir/failures" > "$dir/logs/chunk-$i.txt" 2>&1; then
      { echo "chunk $i ($1 replicas, $2 standbys, seeds $start..):"; sed 's/^/  /' "$dir/logs/chunk-$i.txt"; } \
        >> "$dir/found.txt"
    fi
    echo "$i" >> "$dir/done"
  done
}

pids=()
for (( w = 0; w < jobs; w++ )); do
  worker "$w" &
  pids+=($!)
done

progress() {
  local finished elapsed rate
  finished=$(wc -l < "$dir/done")
  elapsed=$(( $(date +%s) - started ))
  rate=$(( (finished - done_before) * chunk / (elapsed > 0 ? elapsed : 1) ))
  local failures=0
  [ -f "$dir/found.txt" ] && failures=$(grep -c '^chunk ' "$dir/found.txt" || true)
  printf '\r[%d/%d chunks] %d seeds, %d seeds/s, %d failing chunks, %ds' \
    "$finished" "$total_chunks" $(( finished * chunk )) "$rate" "$failures" "$elapsed" >&2
}
while kill -0 "${pids[@]}" 2>/dev/null; do
  progress
  sleep 5
done
wait || true
progress
echo >&2

finished=$(wc -l < "$dir/done")
elapsed=$(( $(date +%s) - started ))
echo "soak: $(( (finished - done_before) * chunk )) seeds this run ($(( finished * chunk )) in all) in ${elapsed}s," \
  "$(( (finished - done_before) * chunk / (elapsed > 0 ? elapsed : 1) )) seeds/s on $jobs processes"
if [ -s "$dir/found.txt" ]; then
  echo "found:"
  cat "$dir/found.txt"
  exit 1
fi
echo "found nothing"
