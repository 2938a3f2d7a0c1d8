#!/usr/bin/env bash
# The main job. Today it replays a view-change scenario in the simulator and runs a
# short fault-injection sweep; it becomes `viewstamp dev` (a local TCP cluster with
# the visualizer) when the production-node issue lands.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p viewstamp-native
./target/release/viewstamp replay tests/scenarios/primary-crash-view-change.scenario
./target/release/viewstamp sim --seeds 200
