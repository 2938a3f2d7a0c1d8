#!/usr/bin/env bash
# Shows that the core's checks can fail: applies each planted bug in
# tests/planted/sim/*.patch to a scratch worktree of HEAD, runs the core's unit tests
# against it, and fails unless every planted bug makes them fail.
#   scripts/sim-planted.sh [tests/planted/sim/NAME.patch ...]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
patches=("$@")
if [ ${#patches[@]} -eq 0 ]; then
  patches=(tests/planted/sim/*.patch)
fi
missed=0
for patch in "${patches[@]}"; do
  name="$(basename "$patch" .patch)"
  tree="$root/target/planted/sim-$name"
  rm -rf "$tree"
  git worktree prune
  git worktree add --quiet --detach "$tree" HEAD
  git -C "$tree" apply "$root/$patch"
  echo "== $name: the core's unit tests with the planted bug (a failure is the expected outcome)"
  if CARGO_TARGET_DIR="$root/target/planted-sim-target" cargo test --quiet \
      --manifest-path "$tree/Cargo.toml" -p viewstamp-core --lib >"$tree.log" 2>&1; then
    echo "!! $name: NOT caught (see $tree.log)"
    missed=$((missed + 1))
  elif ! grep -q '^test result: FAILED' "$tree.log"; then
    # A patch that no longer builds proves nothing: it must be brought up to date.
    echo "!! $name: the tests did not run (see $tree.log)"
    missed=$((missed + 1))
  else
    echo "== $name: caught by: $(sed -n 's/^    \(replica::[a-z_:]*\)$/\1/p' "$tree.log" | sort -u | tr '\n' ' ')"
  fi
  git worktree remove --force "$tree"
done
if [ "$missed" -gt 0 ]; then
  echo "sim-planted: $missed planted bug(s) not caught" >&2
  exit 1
fi
echo "sim-planted: every planted bug caught"
