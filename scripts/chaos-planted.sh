#!/usr/bin/env bash
# Shows that the chaos test can fail: builds `viewstamp` with each planted bug in
# tests/planted/*.patch (in a scratch worktree of HEAD), runs one chaos run against it,
# and fails unless every planted bug is caught. By hand: each build takes minutes.
#   scripts/chaos-planted.sh [tests/planted/NAME.patch ...]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
patches=("$@")
if [ ${#patches[@]} -eq 0 ]; then
  patches=(tests/planted/*.patch)
fi
cargo build --release --quiet -p viewstamp-tests --bin chaos
missed=0
for patch in "${patches[@]}"; do
  name="$(basename "$patch" .patch)"
  tree="$root/target/planted/$name"
  rm -rf "$tree"
  git worktree prune
  git worktree add --quiet --detach "$tree" HEAD
  git -C "$tree" apply "$root/$patch"
  echo "== $name: building viewstamp with the planted bug"
  CARGO_TARGET_DIR="$root/target/planted-target" cargo build --release --quiet \
    --manifest-path "$tree/Cargo.toml" -p viewstamp-native --bin viewstamp
  echo "== $name: one chaos run against it (a failure is the expected outcome)"
  if ./target/release/chaos --viewstamp "$root/target/planted-target/release/viewstamp" \
      --seed 1 --plan faults --duration 40s --dir "$root/target/planted/$name-run"; then
    echo "!! $name: NOT caught"
    missed=$((missed + 1))
  else
    echo "== $name: caught"
  fi
  git worktree remove --force "$tree"
done
if [ "$missed" -gt 0 ]; then
  echo "chaos-planted: $missed planted bug(s) not caught" >&2
  exit 1
fi
echo "chaos-planted: every planted bug caught"
