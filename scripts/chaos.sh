#!/usr/bin/env bash
# The real-process fault test (tests/src/chaos): real `viewstamp start` processes under
# client load while a nemesis kills, pauses, partitions and damages them; then the
# clients' history is checked for linearizability and lost writes.
#   scripts/chaos.sh --ci                      three fixed-seed one-minute runs (CI)
#   scripts/chaos.sh --duration 30m --seed 7   one long run
#   scripts/chaos.sh --seeds 100               many one-minute runs, the plans in turn
# Every other flag goes to the `chaos` binary (`--help` lists them). Failed runs keep
# their files and print the command that reruns them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p viewstamp-native --bin viewstamp
cargo build --release --quiet -p viewstamp-tests --bin chaos
exec ./target/release/chaos --viewstamp "$PWD/target/release/viewstamp" "$@"
