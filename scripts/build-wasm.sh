#!/usr/bin/env bash
# Build the browser package of the core (host-wasm, feature `browser`) into
# web-visualizer/pkg/, and print the module's size, gzipped, before and after
# wasm-opt (Debian's binaryen) when wasm-opt is there.
#
#   scripts/build-wasm.sh          build web-visualizer/pkg/
#   scripts/build-wasm.sh --test   also build a Node package and run the browser-API
#                                  tests in Node (with VIEWSTAMP_BIN=path/to/viewstamp,
#                                  exports are also replayed natively)
#
# Installs only what is missing: the wasm32 target (rustup) and wasm-bindgen-cli at
# exactly the version host-wasm pins (cargo install, a few minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

run_tests=0
case "${1:-}" in
  "") ;;
  --test) run_tests=1 ;;
  *) echo "usage: scripts/build-wasm.sh [--test]" >&2; exit 2 ;;
esac

target=wasm32-unknown-unknown
target_dir=target/wasm-browser
module=$target_dir/$target/release/viewstamp_wasm.wasm

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
  echo "== rustup target add $target"
  rustup target add "$target"
fi

# wasm-bindgen-cli must match the wasm-bindgen crate exactly.
bindgen_version=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' host-wasm/Cargo.toml)
if [ -z "$bindgen_version" ]; then
  echo "cannot find the pinned wasm-bindgen version in host-wasm/Cargo.toml" >&2
  exit 2
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
  echo "== cargo install wasm-bindgen-cli $bindgen_version (once; a few minutes)"
  # --locked first; without it when the lock names a crate the registry index lacks.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --locked \
    || cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

echo "== cargo build host-wasm (browser) for $target"
# No debug info in the module; a target dir of its own keeps the other builds' caches.
CARGO_PROFILE_RELEASE_DEBUG=0 cargo build --quiet -p viewstamp-wasm --lib --release \
  --target "$target" --features browser --target-dir "$target_dir"

echo "== wasm-bindgen --target web -> web-visualizer/pkg/"
rm -rf web-visualizer/pkg
wasm-bindgen --target web --out-dir web-visualizer/pkg "$module"

# The archived releases' modules next to the package, so the page runs their real
# code (web-visualizer/js/archive.js reads index.json and checks each sha256).
echo "== releases/*/viewstamp-core-*.wasm -> web-visualizer/pkg/releases/"
mkdir -p web-visualizer/pkg/releases
entries=()
for dir in releases/*/; do
  version=$(basename "$dir")
  file=viewstamp-core-$version.wasm
  [ -f "$dir$file" ] || continue
  sum=$(awk -v file="$file" '$2 == file { print $1 }' "${dir}SHA256SUMS")
  if [ -z "$sum" ]; then
    echo "${dir}SHA256SUMS has no checksum for $file" >&2
    exit 2
  fi
  cp "$dir$file" web-visualizer/pkg/releases/
  entries+=("{\"release\": \"$version\", \"file\": \"$file\", \"sha256\": \"$sum\"}")
done
(IFS=,; echo "[${entries[*]}]") > web-visualizer/pkg/releases/index.json

bg=web-visualizer/pkg/viewstamp_wasm_bg.wasm
size() {
  awk -v raw="$(wc -c <"$1")" -v gz="$(gzip -9 -c "$1" | wc -c)" \
    'BEGIN { printf "%.1f KiB raw, %.1f KiB gzipped (target: under 1024 KiB gzipped)", raw / 1024, gz / 1024 }'
}
echo "module: $(size "$bg")"
# binaryen before 116 mangles wasm-bindgen's externref table (the module then fails to
# load), so an older wasm-opt is skipped rather than trusted.
wasm_opt_version=$(wasm-opt --version 2>/dev/null | sed -n 's/^wasm-opt version \([0-9]*\).*/\1/p' || true)
if [ -n "$wasm_opt_version" ] && [ "$wasm_opt_version" -lt 116 ]; then
  echo "(wasm-opt $wasm_opt_version is older than binaryen 116 and breaks wasm-bindgen's output: skipped)"
elif command -v wasm-opt >/dev/null 2>&1; then
  # The features rustc enables by default for $target.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue "$bg" -o "$bg.opt"
  mv "$bg.opt" "$bg"
  echo "module after wasm-opt -Oz: $(size "$bg")"
else
  echo "(wasm-opt not found: install Debian's binaryen for a smaller module)"
fi

if [ "$run_tests" = 1 ]; then
  echo "== browser API tests in Node"
  if ! command -v node >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get install -y nodejs >/dev/null || { apt-get update >/dev/null && apt-get install -y nodejs >/dev/null; }
    else
      echo "the browser API tests need Node.js 18 or newer (node --test): install it and rerun" >&2
      exit 2
    fi
  fi
  node_pkg=$target_dir/node-pkg
  rm -rf "$node_pkg"
  wasm-bindgen --target nodejs --out-dir "$node_pkg" "$module"
  VIEWSTAMP_WASM_PKG="$PWD/$node_pkg" node --test host-wasm/js-tests/
fi
