#!/usr/bin/env bash
# Rebuilds this release's core compiled to WebAssembly from the commit in COMMIT, in a
# scratch git worktree, and checks that it is bit for bit the archived module (the
# sha256 in SHA256SUMS). See README.md next to this script.
#
#   rebuild.sh [--work-dir DIR] [--out FILE]
#
#   --work-dir DIR  build in DIR/src (a worktree of COMMIT) with target dir DIR/target,
#                   and keep both, so that the next run reuses them (releases/check.sh
#                   --rebuild passes target/releases-rebuild/<version>). Without it: a
#                   fresh directory under ${TMPDIR:-/tmp}, removed on exit.
#   --out FILE      also copy the module built to FILE (even when it differs).
#
# Exits 0 when the bytes are identical; 1 when they differ or the build fails; 2 when
# it cannot try (another toolchain than TOOLCHAIN names, COMMIT not in this repository,
# bad arguments). The caller's working tree and target dir are not touched: the build
# runs in the worktree with its own target dir and a clean set of cargo variables.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
version="$(basename "$here")"
module="viewstamp-core-$version.wasm"
target_triple="wasm32-unknown-unknown"

fail() { # status, message
  echo "rebuild $version: $2" >&2
  exit "$1"
}

work_dir=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --work-dir) [ $# -ge 2 ] || fail 2 "--work-dir needs a directory"; work_dir="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || fail 2 "--out needs a file"; out="$2"; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail 2 "unknown argument '$1' (usage: rebuild.sh [--work-dir DIR] [--out FILE])" ;;
  esac
done

commit="$(tr -d '[:space:]' < "$here/COMMIT")"
expected="$(awk -v name="$module" '$2 == name || $2 == "*" name { print $1 }' "$here/SHA256SUMS")"
[ -n "$expected" ] || fail 2 "SHA256SUMS lists no $module"
want_rustc="$(sed -n 1p "$here/TOOLCHAIN")"
want_cargo="$(sed -n 2p "$here/TOOLCHAIN")"

repo="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null)" || fail 2 "$here is not inside a git repository"
git -C "$repo" cat-file -e "$commit^{commit}" 2>/dev/null \
  || fail 2 "commit $commit is not in $repo (fetch it: git fetch origin tag v$version)"

if [ -n "$work_dir" ]; then
  mkdir -p "$work_dir"
  work_dir="$(cd "$work_dir" && pwd)"
  keep=1
else
  work_dir="$(mktemp -d "${TMPDIR:-/tmp}/viewstamp-rebuild-$version.XXXXXX")"
  keep=0
fi
src="$work_dir/src"
target="$work_dir/target"

cleanup() {
  if [ "$keep" = 0 ]; then
    git -C "$repo" worktree remove --force "$src" >/dev/null 2>&1 || true
    rm -rf "$work_dir"
  fi
}
trap cleanup EXIT

# The worktree: reused when it is still exactly COMMIT with nothing changed or added,
# made afresh otherwise.
if [ -e "$src/.git" ] \
  && [ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" = "$commit" ] \
  && [ -z "$(git -C "$src" status --porcelain 2>/dev/null)" ]; then
  echo "rebuild $version: reusing the worktree $src"
else
  git -C "$repo" worktree remove --force "$src" >/dev/null 2>&1 || true
  rm -rf "$src"
  git -C "$repo" worktree add --quiet --force --detach "$src" "$commit" \
    || fail 1 "cannot make a worktree of $commit at $src"
fi

# The toolchain, as rustup resolves it inside the worktree.
have_rustc="$(cd "$src" && rustc -V)" || fail 2 "rustc does not run"
have_cargo="$(cd "$src" && cargo -V)" || fail 2 "cargo does not run"
if [ "$have_rustc" != "$want_rustc" ] || [ "$have_cargo" != "$want_cargo" ]; then
  toolchain="$(echo "$want_rustc" | awk '{ print $2 }')"
  fail 2 "this module was built with '$want_rustc' and '$want_cargo', this machine has '$have_rustc' and '$have_cargo': another compiler gives other bytes. Run it with that toolchain: rustup toolchain install $toolchain --target $target_triple && RUSTUP_TOOLCHAIN=$toolchain $0"
fi

# No path of this machine may reach the module: the worktree, cargo's registry sources
# and the target dir (build scripts' OUT_DIR) are renamed to fixed names.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
flags=(
  "--remap-path-prefix=$src=/viewstamp"
  "--remap-path-prefix=$cargo_home=/cargo"
  "--remap-path-prefix=$target=/target"
)
encoded="$(IFS=$'\x1f'; echo "${flags[*]}")"

echo "rebuild $version: building $commit ($want_rustc) in $src"
(
  cd "$src"
  # Nothing of the caller's cargo setup: flags, wrappers, target dirs.
  unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS \
    RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER \
    CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR CARGO_BUILD_TARGET CARGO_PRIMARY_PACKAGE RUSTDOCFLAGS
  # The profile host-native/build.rs embeds the module with: the workspace's release
  # profile (codegen-units = 4) without debug info.
  CARGO_ENCODED_RUSTFLAGS="$encoded" CARGO_INCREMENTAL=0 CARGO_PROFILE_RELEASE_DEBUG=0 \
    cargo build --locked --quiet -p viewstamp-wasm --lib --no-default-features --features replay-abi \
    --target "$target_triple" --release --target-dir "$target"
) || fail 1 "the build of $commit failed"

built="$target/$target_triple/release/viewstamp_wasm.wasm"
[ -f "$built" ] || fail 1 "the build left no module at $built"
if [ -n "$out" ]; then
  cp "$built" "$out"
fi
actual="$(sha256sum "$built" | awk '{ print $1 }')"
if [ "$actual" != "$expected" ]; then
  echo "rebuild $version: MISMATCH: $commit rebuilt is sha256 $actual ($(wc -c < "$built") bytes)," >&2
  echo "rebuild $version:   the archived $module is $expected ($(wc -c 2>/dev/null < "$here/$module" || echo '?') bytes)" >&2
  exit 1
fi
echo "rebuild $version: ok, bit for bit: sha256 $actual ($(wc -c < "$built") bytes)"
