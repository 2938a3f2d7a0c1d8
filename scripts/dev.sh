#!/usr/bin/env bash
# The main job: a local cluster of 3 replicas and 1 standby, each a separate
# `viewstamp start` process on loopback, with the web visualizer served beside it.
# Ctrl-C stops every process. Extra arguments go to `viewstamp dev` (see --help),
# e.g. `scripts/dev.sh --fresh` to wipe the previous cluster.
#
# Installs what is missing: the wasm32 target and wasm-bindgen-cli (for the
# visualizer's module; a few minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required: install Rust with rustup (https://rustup.rs)" >&2
  exit 2
fi

echo "== building the visualizer's WebAssembly module"
scripts/build-wasm.sh
echo "== building viewstamp (release)"
cargo build --release --quiet -p viewstamp-native
exec ./target/release/viewstamp dev "$@"
