//! Golden scenarios: each `tests/scenarios/NAME.scenario` runs natively and its story
//! must match `NAME.golden`: every command, then a condensed state line (each member's
//! view, the primary, each member's commit and status), the replies that came back and
//! anything notable (failed expectations, violations), and last the exit status and
//! digest. A behaviour change thus shows up as the story it changed, not only as a new
//! hash. The full trace must be identical across two runs, and the story's digest must
//! be the one `run_text` (what every host runs) prints.
//!
//! The checks run from `viewstamp-native`'s tests (`golden_tests.rs`), which hand them
//! the archive of real past releases (`RunOptions::archive`), as `viewstamp replay`
//! does: a script whose binaries are an archived release runs that release's code
//! (`NAME.golden`); `NAME.emulated.golden` pins the same script with the current code
//! acting old (`replay --emulated`), for each scenario where that differs.
//! `VIEWSTAMP_BLESS=1 cargo test -p viewstamp-native golden` rewrites the golden files
//! after an intended change; review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use viewstamp_core::scenario::parse::parse_script;
use viewstamp_core::scenario::run::{digest_line, run_text, simulator_for, RunError, RunOptions, Runner};
use viewstamp_core::sim::Simulator;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn run(text: &str, options: RunOptions) -> (u8, Vec<String>) {
    let (exit_status, lines, _) = run_counting(text, options);
    (exit_status, lines)
}

/// `run`, and how many member starts ran archived code.
fn run_counting(text: &str, options: RunOptions) -> (u8, Vec<String>, u64) {
    let mut lines = Vec::new();
    let outcome = run_text(text, options, &mut |line: &str| lines.push(line.to_string()));
    (outcome.exit_status, lines, outcome.archived_starts)
}

/// Each member's view, the primary, commits and statuses, on one line.
fn state_line(sim: &Simulator) -> String {
    let members = 0..sim.member_count();
    let views: Vec<String> =
        members.clone().map(|m| sim.member_state(m).map_or_else(|| "-".to_string(), |s| s.view.to_string())).collect();
    let commits: Vec<String> = members
        .clone()
        .map(|m| sim.member_state(m).map_or_else(|| "-".to_string(), |s| s.commit.to_string()))
        .collect();
    let statuses: Vec<&str> = members.map(|m| sim.reported_status(m).name()).collect();
    let primary = sim.primary().map_or_else(|| "none".to_string(), |p| p.to_string());
    format!(
        "  t={} view {} primary {primary} commit {} | {}",
        sim.now(),
        views.join(" "),
        commits.join(" "),
        statuses.join(" ")
    )
}

/// `reply c1 request=2 ok` trace lines as `c1=ok`, the last one per client.
fn replies(trace: &[String]) -> Option<String> {
    let mut by_client: Vec<(String, String)> = Vec::new();
    for line in trace {
        let Some(rest) = line.split_once(" reply ").map(|(_, rest)| rest) else { continue };
        let mut words = rest.split(' ');
        let (Some(client), Some(second)) = (words.next(), words.next()) else { continue };
        let result = if second.starts_with("request=") { words.collect::<Vec<_>>().join(" ") } else { second.into() };
        by_client.retain(|(known, _)| known != client);
        by_client.push((client.to_string(), result));
    }
    (!by_client.is_empty()).then(|| {
        let parts: Vec<String> = by_client.iter().map(|(client, result)| format!("{client}={result}")).collect();
        format!("  replies {}", parts.join(" "))
    })
}

/// The story of one run (see the module comment), and its exit status.
fn story(text: &str, options: RunOptions) -> (u8, String) {
    let script = match parse_script(text) {
        Ok(script) => script,
        Err(error) => return (2, format!("{error}\nexit=2\n")),
    };
    let mut story = String::new();
    let mut sim = match simulator_for(&script.header, options) {
        Ok(sim) => sim,
        Err(error) => return (1, format!("{error}\nexit=1\n")),
    };
    story.push_str(&format!("{}\n", script.header));
    let mut runner = Runner::new(&mut sim);
    for line in &script.lines {
        let mut said = Vec::new();
        let result = runner.execute_line(line, &mut |text: &str| said.push(text.to_string()));
        runner.flush(&mut |text: &str| said.push(text.to_string()));
        story.push_str(&format!("{}\n{}\n", line.command, state_line(runner.sim)));
        if let Some(replies) = replies(&said) {
            story.push_str(&replies);
            story.push('\n');
        }
        for text in said.iter().filter(|text| !text.starts_with("t=")) {
            story.push_str(&format!("  {text}\n"));
        }
        if let Err(RunError(reason)) = result {
            story.push_str(&format!("  line {}: {reason}\n", line.number));
            runner.failed = true;
            break;
        }
    }
    let failed = runner.failed;
    sim.check_history();
    for text in sim.take_trace().iter().filter(|text| !text.starts_with("t=")) {
        story.push_str(&format!("  {text}\n"));
    }
    let violations = sim.violations();
    let exit_status = if failed || violations > 0 { 1 } else { 0 };
    story.push_str(&format!("exit={exit_status}\n{}\n", digest_line(sim.digest(), violations)));
    (exit_status, story)
}

/// Which scenarios a set of golden files covers.
pub enum Covers<'a> {
    /// Every scenario.
    All,
    /// Only those whose run with these options starts a member on archived code: the
    /// same scenarios run again with the current code acting old (`replay --emulated`).
    ArchivedIn(&'a dyn Fn() -> RunOptions),
}

/// Every covered golden scenario's story matches its `NAME.<extension>` file (or is
/// rewritten, with `VIEWSTAMP_BLESS` set); each run is deterministic. `options` makes
/// each run's options.
pub fn check_golden_scenarios(options: &dyn Fn() -> RunOptions, extension: &str, covers: Covers<'_>) {
    let mut paths: Vec<PathBuf> = fs::read_dir(scenarios_dir())
        .expect("tests/scenarios exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scenario"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 12, "the issue asks for at least 12 golden scenarios, found {}", paths.len());
    let bless = std::env::var_os("VIEWSTAMP_BLESS").is_some();
    let mut mismatches = Vec::new();
    let mut covered = 0;
    for path in &paths {
        let text = fs::read_to_string(path).expect("readable scenario");
        let (exit_status, lines) = run(&text, options());
        let golden_path = path.with_extension(extension);
        if let Covers::ArchivedIn(archived) = &covers {
            let (_, _, archived_starts) = run_counting(&text, archived());
            if archived_starts == 0 {
                if bless && golden_path.exists() {
                    fs::remove_file(&golden_path).expect("remove a stale golden file");
                }
                assert!(!golden_path.exists(), "{}: no member runs archived code here", golden_path.display());
                continue;
            }
        }
        covered += 1;
        let (again_status, again_lines) = run(&text, options());
        assert_eq!((exit_status, &lines), (again_status, &again_lines), "{} is not deterministic", path.display());
        let (story_status, actual) = story(&text, options());
        assert_eq!(story_status, exit_status, "{}: the story ends as the run does", path.display());
        if let Some(digest) = lines.iter().rev().find(|line| line.starts_with("digest=")) {
            assert!(actual.ends_with(&format!("{digest}\n")), "{}: the story's digest is the run's", path.display());
        }
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
    assert!(covered > 0, "no scenario has a `.{extension}` story");
}

/// Scenarios named for what they prove must pass (exit 0); the error ones must not.
pub fn check_exit_statuses(options: &dyn Fn() -> RunOptions) {
    for entry in fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "scenario") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let (exit_status, lines) = run(&fs::read_to_string(&path).unwrap(), options());
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
