//! Golden scenarios: each `tests/scenarios/NAME.scenario` runs natively and its exit
//! status, failure lines and digest must match `NAME.golden`. The full trace must be
//! identical across two runs. `VIEWSTAMP_BLESS=1 cargo test -p viewstamp-tests`
//! rewrites the golden files after an intended change; review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use viewstamp_core::scenario::run::{run_text, RunOptions};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn run(text: &str) -> (u8, Vec<String>) {
    let mut lines = Vec::new();
    let outcome = run_text(text, RunOptions::default(), &mut |line: &str| lines.push(line.to_string()));
    (outcome.exit_status, lines)
}

/// The part of a run the golden file pins: everything but per-event trace lines.
fn summary(exit_status: u8, lines: &[String]) -> String {
    let mut text = format!("exit={exit_status}\n");
    for line in lines.iter().filter(|line| !line.starts_with("t=")) {
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[test]
fn golden_scenarios() {
    let mut paths: Vec<PathBuf> = fs::read_dir(scenarios_dir())
        .expect("tests/scenarios exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scenario"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 12, "the issue asks for at least 12 golden scenarios, found {}", paths.len());
    let bless = std::env::var_os("VIEWSTAMP_BLESS").is_some();
    let mut mismatches = Vec::new();
    for path in &paths {
        let text = fs::read_to_string(path).expect("readable scenario");
        let (exit_status, lines) = run(&text);
        let (again_status, again_lines) = run(&text);
        assert_eq!((exit_status, &lines), (again_status, &again_lines), "{} is not deterministic", path.display());
        let actual = summary(exit_status, &lines);
        let golden_path = path.with_extension("golden");
        if bless {
            fs::write(&golden_path, &actual).expect("write golden file");
            continue;
        }
        let expected = fs::read_to_string(&golden_path).unwrap_or_default();
        if actual != expected {
            mismatches.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}--- last trace lines\n{}",
                path.display(),
                lines.iter().rev().take(30).rev().cloned().collect::<Vec<_>>().join("\n")
            ));
        }
    }
    assert!(mismatches.is_empty(), "golden mismatches:\n{}", mismatches.join("\n\n"));
}

/// Scenarios named for what they prove must pass (exit 0); the error ones must not.
#[test]
fn scenario_exit_statuses_match_their_purpose() {
    for entry in fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "scenario") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let (exit_status, lines) = run(&fs::read_to_string(&path).unwrap());
        let expected = match name.as_str() {
            "script-error-line" => 2,
            "run-error-line" | "failed-expectation" => 1,
            _ => 0,
        };
        assert_eq!(
            exit_status,
            expected,
            "{name}: {}",
            lines.iter().rev().take(40).rev().cloned().collect::<Vec<_>>().join("\n")
        );
    }
}
