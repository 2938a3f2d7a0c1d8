#!/usr/bin/env bash
# Every test: unit and property tests, golden scenarios, CLI tests, real-process cluster
# tests, simulator sweeps, and the browser module's tests in Node and in headless
# Chromium. Installs only what is missing (wasm32 target, wasm-bindgen-cli, npm
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

echo "== viewstamp sim: 2000 seeds, default faults, checkers on (release build)"
cargo build --release --quiet -p viewstamp-native
./target/release/viewstamp sim --seeds 2000 --emit target/sim-failures
echo "== viewstamp sim: 500 seeds, 5 replicas and a standby"
./target/release/viewstamp sim --seeds 500 --start 100000 --replicas 5 --standbys 1 --emit target/sim-failures
echo "== viewstamp sim: 500 seeds, 3 replicas and 2 standbys (promotions among the faults)"
./target/release/viewstamp sim --seeds 500 --start 200000 --replicas 3 --standbys 2 --emit target/sim-failures

echo "== the browser module (Node) and the visualizer (headless Chromium)"
VIEWSTAMP_BIN="$PWD/target/release/viewstamp" scripts/test-visualizer.sh
