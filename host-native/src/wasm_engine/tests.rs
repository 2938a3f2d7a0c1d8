//! The wasm engine against the native one: every golden scenario and 200 generated
//! seed schedules must give identical output, digests and exit statuses.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use viewstamp_core::sim::explore::{generate, ExploreOptions};
use viewstamp_wasm::replay::{replay as replay_native, FLAG_TRACE};

use super::*;
use crate::replay::first_difference;

const LIMIT: Duration = Duration::from_secs(DEFAULT_TIMEOUT_SECONDS);

fn engine() -> &'static WasmEngine {
    match WasmEngine::shared() {
        Ok(engine) => engine,
        Err(WasmError::NotBuilt(reason)) => panic!("the wasm module is not embedded: {reason}"),
        Err(error) => panic!("the wasm engine does not start: {error:?}"),
    }
}

fn assert_same(name: &str, script: &str) {
    let native = replay_native(script.as_bytes(), FLAG_TRACE, Some(super::shared_archive()));
    let wasm =
        engine().replay(script.as_bytes(), true, true, LIMIT).unwrap_or_else(|error| panic!("{name}: {error:?}"));
    if let Some(difference) = first_difference(&native, &wasm) {
        panic!("{name}: {difference}");
    }
}

#[test]
fn the_module_imports_only_the_archive() {
    assert_eq!(engine().import_names(), ["viewstamp_archive::call", "viewstamp_archive::take"]);
}

/// A script whose binaries are 1.3.0 runs the archived 1.3.0 module, in both engines
/// alike: the same output as natively with the archive, and not the output of the
/// current code acting as 1.3.0 (which refuses 1.4.0's commands before logging them,
/// where 1.3.0 logs them and applies them as malformed).
#[test]
fn an_archived_release_runs_its_real_code_in_both_engines() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios/mixed-1.3.0-backup-meets-1.4.0-commands.scenario");
    let script = fs::read_to_string(&path).expect("the mixed-version scenario");
    let archived = replay_native(script.as_bytes(), FLAG_TRACE, Some(super::shared_archive()));
    let emulated = replay_native(script.as_bytes(), FLAG_TRACE, None);
    assert_eq!((archived.exit_status, archived.violations), (0, 0), "{:?}", archived.lines.last());
    assert_ne!(archived.digest, emulated.digest, "the archive changed nothing: is 1.3.0 really archived?");
    let wasm = engine().replay(script.as_bytes(), true, true, LIMIT).expect("the wasm engine runs it");
    if let Some(difference) = first_difference(&archived, &wasm) {
        panic!("{difference}");
    }
}

#[test]
fn golden_scenarios_match_natively_and_in_wasm() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/scenarios exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scenario"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 12, "found only {} golden scenarios in {}", paths.len(), dir.display());
    for path in &paths {
        assert_same(&path.display().to_string(), &fs::read_to_string(path).expect("readable scenario"));
    }
}

/// 200 seeds in all: three shapes of cluster, every fault.
#[test]
fn seed_schedules_match_natively_and_in_wasm() {
    let shapes = [
        (0..100, ExploreOptions::default()),
        (1000..1050, ExploreOptions { replicas: 5, ..ExploreOptions::default() }),
        (2000..2050, ExploreOptions { standbys: 1, ..ExploreOptions::default() }),
    ];
    let mut seeds = 0;
    for (range, options) in shapes {
        for seed in range {
            // Exported as scenario text, as `viewstamp sim --emit` writes it.
            let script = generate(seed, &options).to_string();
            assert_same(
                &format!("seed {seed} ({} replicas, {} standbys)", options.replicas, options.standbys),
                &script,
            );
            seeds += 1;
        }
    }
    assert_eq!(seeds, 200);
}

#[test]
fn a_runaway_script_stops_at_its_time_limit() {
    // Ten million simulated seconds of heartbeats: far past a short limit.
    let script = "cluster replicas=3\ntick 1000000000\n";
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    match engine().replay(script.as_bytes(), false, true, limit) {
        Err(WasmError::TimedOut { limit: reported }) => assert_eq!(reported, limit),
        other => panic!("expected the run to time out, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(30), "it stopped late: {:?}", started.elapsed());
    // The engine stays usable after a run is stopped.
    assert_same("after a timeout", "cluster replicas=3\nput a 1\nuntil reply[1] = ok within 500\n");
}

#[test]
fn scripts_that_do_not_parse_or_are_not_utf8_match_too() {
    assert_same("bad line", "cluster replicas=3\nput a\n");
    assert_same("no header", "put a 1\n");
    let wasm = engine().replay(&[0xc3, 0x28], true, false, LIMIT).expect("a report");
    assert_eq!(wasm, replay_native(&[0xc3, 0x28], FLAG_TRACE, None));
    assert_eq!(wasm.exit_status, 2);
}

#[test]
fn quiet_runs_match() {
    let script = generate(7, &ExploreOptions::default()).to_string();
    let native = replay_native(script.as_bytes(), 0, Some(super::shared_archive()));
    let wasm = engine().replay(script.as_bytes(), false, true, LIMIT).expect("a report");
    assert_eq!(first_difference(&native, &wasm), None);
    assert_eq!(wasm.lines.len(), 1, "quiet prints only the digest line: {:?}", wasm.lines);
}
