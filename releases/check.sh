#!/usr/bin/env bash
# Checks every archived release in releases/*/ (see releases/1.3.0/README.md):
#
#   releases/check.sh            each release's files against its SHA256SUMS, its COMMIT
#                                against its tag v<version> when the tag is here (fast)
#   releases/check.sh --rebuild  also rebuild each module from its COMMIT and compare
#                                bit for bit (each release's rebuild.sh), reusing
#                                target/releases-rebuild/<version>/ between runs
#
# One line per release and check; exits 1 if any check failed, 2 on bad arguments.
set -uo pipefail
shopt -s nullglob

releases="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$releases")"

rebuild=0
case "${1:-}" in
  "") ;;
  --rebuild) rebuild=1 ;;
  -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: releases/check.sh [--rebuild]" >&2; exit 2 ;;
esac

failed=()
checked=0
for dir in "$releases"/*/; do
  dir="${dir%/}"
  version="$(basename "$dir")"
  module="viewstamp-core-$version.wasm"
  checked=$((checked + 1))
  ok=1
  for file in COMMIT SHA256SUMS TOOLCHAIN rebuild.sh README.md "$module"; do
    if [ ! -f "$dir/$file" ]; then
      echo "release $version: FAIL: $file is missing"
      ok=0
    fi
  done
  if [ "$ok" = 1 ]; then
    if ! grep -Eq "^[0-9a-f]{64} [ *]$module\$" "$dir/SHA256SUMS"; then
      echo "release $version: FAIL: SHA256SUMS lists no $module"
      ok=0
    elif sums="$(cd "$dir" && sha256sum --check --strict SHA256SUMS 2>&1)"; then
      echo "release $version: checksums ok ($(awk -v name="$module" '$2 == name || $2 == "*" name { print $1 }' "$dir/SHA256SUMS"))"
    else
      echo "release $version: FAIL: checksums do not match SHA256SUMS:"
      echo "$sums" | sed 's/^/    /'
      ok=0
    fi
    commit="$(tr -d '[:space:]' < "$dir/COMMIT")"
    if tagged="$(git -C "$root" rev-parse --verify --quiet "refs/tags/v$version^{commit}")"; then
      if [ "$tagged" = "$commit" ]; then
        echo "release $version: tag v$version is COMMIT $commit"
      else
        echo "release $version: FAIL: tag v$version is $tagged, COMMIT says $commit"
        ok=0
      fi
    else
      echo "release $version: note: no tag v$version here (git fetch --tags); COMMIT says $commit"
    fi
  fi
  commit="$(tr -d '[:space:]' < "$dir/COMMIT" 2>/dev/null || true)"
  if [ "$ok" = 1 ] && [ "$rebuild" = 1 ] && ! git -C "$root" cat-file -e "$commit^{commit}" 2>/dev/null \
      && [ "$(git -C "$root" rev-parse --is-shallow-repository 2>/dev/null)" = true ]; then
    # A shallow clone cannot hold the commit: say so rather than fail a build that
    # could not be tried. A full clone lacking it still fails below.
    echo "release $version: note: this shallow clone lacks COMMIT $commit; rebuild skipped (git fetch --unshallow)"
  elif [ "$ok" = 1 ] && [ "$rebuild" = 1 ]; then
    if "$dir/rebuild.sh" --work-dir "$root/target/releases-rebuild/$version" 2>&1 | sed 's/^/    /'; then
      echo "release $version: rebuilt bit for bit"
    else
      echo "release $version: FAIL: the rebuild did not reproduce the archived module (above)"
      ok=0
    fi
  fi
  [ "$ok" = 1 ] || failed+=("$version")
done

if [ "$checked" = 0 ]; then
  echo "no releases under $releases"
  exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "releases FAILED: ${failed[*]} (of $checked)"
  exit 1
fi
what="checksums"
[ "$rebuild" = 1 ] && what="checksums and bit-for-bit rebuilds"
echo "releases ok: $checked checked ($what)"
