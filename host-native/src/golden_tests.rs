//! The golden scenarios (`tests/scenarios/`, checked by `viewstamp_tests::golden`), run
//! as `viewstamp replay` runs them: `NAME.golden` with this binary's archive, so a
//! member whose binary is an archived release runs that release's real code (the
//! default), and `NAME.emulated.golden`, for each scenario that starts a member on
//! archived code, with the current code acting as every release (`replay --emulated`).

use viewstamp_core::scenario::run::RunOptions;
use viewstamp_tests::golden::{check_exit_statuses, check_golden_scenarios, Covers};

use crate::wasm_engine::shared_archive;

fn archived() -> RunOptions {
    RunOptions { archive: Some(shared_archive()), ..RunOptions::default() }
}

#[test]
fn golden_scenarios() {
    check_golden_scenarios(&archived, "golden", Covers::All);
}

#[test]
fn golden_scenarios_with_the_current_code_acting_old() {
    check_golden_scenarios(&RunOptions::default, "emulated.golden", Covers::ArchivedIn(&archived));
}

#[test]
fn scenario_exit_statuses_match_their_purpose() {
    check_exit_statuses(&archived);
    check_exit_statuses(&RunOptions::default);
}
