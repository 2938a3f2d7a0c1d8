#!/usr/bin/env bash
# Build the wasm package and test the web visualizer in a real browser (Debian's
# Chromium driven by playwright-core; no browser is ever downloaded).
#
#   scripts/test-visualizer.sh
#
# Installs only what is missing: the wasm build's tools (scripts/build-wasm.sh),
# web-visualizer/node_modules (npm ci, when missing or older than the lockfile) and
# /usr/bin/chromium (apt-get). With VIEWSTAMP_BIN=path/to/viewstamp, exported
# scenarios are also replayed natively and their digests compared.
# Screenshots: artifacts/visualizer-screenshots/. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== scripts/build-wasm.sh --test (the browser package and its Node API tests)"
scripts/build-wasm.sh --test

# The package must load before any browser test means anything.
node web-visualizer/tests/check-pkg.mjs

lock=web-visualizer/package-lock.json
installed=web-visualizer/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ] || [ web-visualizer/package.json -nt "$installed" ]; then
  echo "== npm ci in web-visualizer"
  (cd web-visualizer && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund)
fi

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install chromium"
    apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
  else
    echo "the visualizer tests need Chromium at $chromium: apt-get install chromium, or set CHROMIUM" >&2
    exit 2
  fi
fi

echo "== browser tests (node --test web-visualizer/tests/)"
node --test --test-concurrency=1 web-visualizer/tests/
