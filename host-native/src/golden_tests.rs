//! The golden scenarios (`tests/scenarios/`, checked by `viewstamp_tests::golden`), run
//! as `viewstamp replay` runs them: with this binary's archive of past releases, so a
//! member whose binary is 1.3.0 runs the real 1.3.0 code.

use viewstamp_core::scenario::run::RunOptions;
use viewstamp_tests::golden::{check_exit_statuses, check_golden_scenarios};

use crate::wasm_engine::shared_archive;

fn options() -> RunOptions {
    RunOptions { archive: Some(shared_archive()), ..RunOptions::default() }
}

#[test]
fn golden_scenarios() {
    check_golden_scenarios(&options);
}

#[test]
fn scenario_exit_statuses_match_their_purpose() {
    check_exit_statuses(&options);
}
