#!/usr/bin/env bash
# Every test: unit and property tests, golden scenarios, CLI tests, real-process cluster
# tests, the archived releases' checksums and bit-for-bit rebuilds, simulator sweeps
# (2,000 seeds for each cluster shape with archived 1.3.0 code among the engines, and two
# with the current code acting as 1.3.0), three chaos runs against real processes, and
# the browser module's tests in Node and in headless Chromium. Installs only what is missing (wasm32 target, wasm-bindgen-cli, npm
# packages, Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required: install Rust with rustup (https://rustup.rs)" >&2
  exit 2
fi

# The wasm32 target first: the build embeds the core compiled to wasm32 for
# `viewstamp replay --engine wasm`, and the tests compare both engines.
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-unknown-unknown >/dev/null
fi

echo "== cargo test (workspace)"
cargo test --workspace --quiet

echo "== viewstamp-core builds for wasm32 without std"
cargo check --quiet -p viewstamp-core --target wasm32-unknown-unknown

echo "== archived releases: checksums and bit-for-bit rebuilds"
releases/check.sh --rebuild

echo "== viewstamp sim: 2000 seeds for each of 1, 2, 3, 5, 7 replicas, with and without standbys, every fault"
echo "   (a restart to binary 1.3.0 runs the archived 1.3.0 module)"
cargo build --release --quiet -p viewstamp-native
start=0
for cluster in "1 0" "1 1" "2 0" "2 1" "3 0" "3 2" "5 0" "5 1" "7 0" "7 2"; do
  set -- $cluster
  echo "-- $1 replicas, $2 standbys (seeds $start..)"
  ./target/release/viewstamp sim --seeds 2000 --start "$start" --replicas "$1" --standbys "$2" --emit target/sim-failures
  start=$((start + 100000))
done
echo "-- with --emulated: the current code acting as 1.3.0 too (3 replicas + 2 standbys, 1 + 1)"
./target/release/viewstamp sim --emulated --seeds 1000 --start 1000000 --replicas 3 --standbys 2 --emit target/sim-failures
./target/release/viewstamp sim --emulated --seeds 1000 --start 1100000 --replicas 1 --standbys 1 --emit target/sim-failures

echo "== chaos: real processes under faults (random faults, a rolling upgrade, a promotion; fixed seeds)"
scripts/chaos.sh --ci

echo "== the browser module (Node) and the visualizer (headless Chromium)"
VIEWSTAMP_BIN="$PWD/target/release/viewstamp" scripts/test-visualizer.sh
