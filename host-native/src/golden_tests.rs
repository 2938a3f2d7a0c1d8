//! The golden scenarios (`tests/scenarios/`, checked by `viewstamp_tests::golden`), run
//! as `viewstamp replay` runs them: `NAME.golden` with the current code acting as every
//! release (the default), and `NAME.archived.golden` for each scenario that starts a
//! member on an archived release, with this binary's archive (`replay --archived`), so
//! that such a member runs the real 1.3.0 code.

use viewstamp_core::scenario::run::RunOptions;
use viewstamp_tests::golden::{check_exit_statuses, check_golden_scenarios};

use crate::wasm_engine::shared_archive;

fn archived() -> RunOptions {
    RunOptions { archive: Some(shared_archive()), ..RunOptions::default() }
}

#[test]
fn golden_scenarios() {
    check_golden_scenarios(&RunOptions::default, "golden");
}

#[test]
fn golden_scenarios_on_archived_code() {
    check_golden_scenarios(&archived, "archived.golden");
}

#[test]
fn scenario_exit_statuses_match_their_purpose() {
    check_exit_statuses(&RunOptions::default);
    check_exit_statuses(&archived);
}
