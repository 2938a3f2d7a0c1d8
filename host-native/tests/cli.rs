//! The `viewstamp` binary as a user runs it: exit statuses and the lines that matter.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

const PASSING: &str = "\
cluster replicas=3 seed=5
put a 1
until reply[1] = ok within 500
get a
until reply[1] = 1 within 500
until commit[*] >= 1 within 500
expect violations = 0
";

const FAILING_EXPECT: &str = "\
cluster replicas=3 seed=5
put a 1
until reply[1] = ok within 500
expect reply[1] = 2
expect violations = 0
";

const MALFORMED: &str = "\
cluster replicas=3 seed=5
put a 1
frobnicate 3
";

fn viewstamp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_viewstamp")).args(args).output().expect("run the viewstamp binary")
}

/// A file under the system temp directory, unique to this test process and call.
fn temp_file(name: &str, text: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "viewstamp-cli-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).expect("create a temp dir");
    let path = dir.join(name);
    fs::write(&path, text).expect("write a temp file");
    path
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

fn is_digest_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("digest=") else { return false };
    let Some((hex, violations)) = rest.split_once(" violations=") else { return false };
    hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()) && violations.parse::<u64>().is_ok()
}

#[test]
fn replay_of_a_passing_script_exits_0_and_ends_with_a_digest_line() {
    let path = temp_file("pass.scenario", PASSING);
    let output = viewstamp(&["replay", path.to_str().unwrap()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{}", stderr(&output));
    let last = out.lines().last().expect("some output");
    assert!(is_digest_line(last), "last line is not a digest line: {last}");
    assert!(last.ends_with(" violations=0"), "{last}");
    assert!(out.lines().count() > 1, "the trace is printed:\n{out}");
}

#[test]
fn replay_twice_gives_identical_stdout() {
    let path = temp_file("pass.scenario", PASSING);
    let first = viewstamp(&["replay", path.to_str().unwrap()]);
    let second = viewstamp(&["replay", path.to_str().unwrap()]);
    assert_eq!(first.status.code(), second.status.code());
    assert!(!first.stdout.is_empty());
    assert_eq!(stdout(&first), stdout(&second));
}

#[test]
fn quiet_replay_prints_only_the_digest_of_a_passing_script() {
    let path = temp_file("pass.scenario", PASSING);
    let full = viewstamp(&["replay", path.to_str().unwrap()]);
    let quiet = viewstamp(&["replay", "--quiet", path.to_str().unwrap()]);
    assert_eq!(quiet.status.code(), Some(0));
    let quiet_out = stdout(&quiet);
    assert_eq!(quiet_out.lines().count(), 1, "{quiet_out}");
    assert_eq!(quiet_out.lines().last(), stdout(&full).lines().last(), "the trace does not change the digest");
}

#[test]
fn a_failing_expect_exits_1_and_names_its_line() {
    let path = temp_file("fail.scenario", FAILING_EXPECT);
    let output = viewstamp(&["replay", "--quiet", path.to_str().unwrap()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.lines().any(|line| line.starts_with("line 4:")), "no `line 4:` failure line:\n{out}");
    assert!(is_digest_line(out.lines().last().unwrap()), "{out}");
}

#[test]
fn a_malformed_script_exits_2_and_names_its_line() {
    let path = temp_file("bad.scenario", MALFORMED);
    let output = viewstamp(&["replay", path.to_str().unwrap()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(out.lines().any(|line| line.starts_with("line 3: ")), "no `line 3: ...` line:\n{out}");
}

#[test]
fn several_files_get_headers_and_the_worst_status() {
    let pass = temp_file("pass.scenario", PASSING);
    let fail = temp_file("fail.scenario", FAILING_EXPECT);
    let output = viewstamp(&["replay", "--quiet", pass.to_str().unwrap(), fail.to_str().unwrap()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let headers: Vec<&str> = out.lines().filter(|line| line.starts_with("== ")).collect();
    assert_eq!(headers, [format!("== {}", pass.display()), format!("== {}", fail.display())]);

    let bad = temp_file("bad.scenario", MALFORMED);
    let output = viewstamp(&["replay", "--quiet", fail.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
}

#[test]
fn the_wasm_engine_prints_what_the_native_one_does() {
    let path = temp_file("pass.scenario", PASSING);
    let native = viewstamp(&["replay", path.to_str().unwrap()]);
    for engine in ["wasm", "both"] {
        let output = viewstamp(&["replay", "--engine", engine, path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{engine}: {}", stderr(&output));
        assert_eq!(stdout(&output), stdout(&native), "{engine}");
    }
    let runaway = temp_file("runaway.scenario", "cluster replicas=3\ntick 100000000000\n");
    let output = viewstamp(&["replay", "--engine", "wasm", "--timeout", "1", runaway.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("the wasm engine stopped the script after 1 s"), "{}", stderr(&output));
}

#[test]
fn a_missing_file_exits_2_with_its_name() {
    let missing = std::env::temp_dir().join("viewstamp-cli-no-such-file.scenario");
    let output = viewstamp(&["replay", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing runs when a file is missing");
    let err = stderr(&output);
    assert!(err.starts_with("error: cannot read scenario file "), "{err}");
    assert!(err.contains("viewstamp-cli-no-such-file.scenario"), "{err}");
}

#[test]
fn sim_of_20_seeds_passes() {
    let emit = std::env::temp_dir().join(format!("viewstamp-cli-sim-{}", std::process::id()));
    let output = viewstamp(&["sim", "--seeds", "20", "--emit", emit.to_str().unwrap()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{}", stderr(&output));
    assert!(out.starts_with("20 seeds passed: "), "{out}");
}

#[test]
fn sim_without_upgrade_faults_passes() {
    let faults = "crash,partition,block,loss,dup,delay,corrupt";
    let emit = std::env::temp_dir().join(format!("viewstamp-cli-sim-faults-{}", std::process::id()));
    let output = viewstamp(&["sim", "--seeds", "20", "--faults", faults, "--emit", emit.to_str().unwrap()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{}", stderr(&output));
    assert!(out.starts_with("20 seeds passed: "), "{out}");
}

#[test]
fn sim_refuses_an_unknown_fault() {
    let output = viewstamp(&["sim", "--seeds", "1", "--faults", "crash,meteor"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown fault 'meteor'"), "{}", stderr(&output));
}

#[test]
fn version_names_the_newest_release() {
    let output = viewstamp(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    let newest = viewstamp_core::release::NEWEST_RELEASE;
    let expected = format!(
        "viewstamp {} (runs releases up to {newest}; carries the real code of 1.3.0)",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(stdout(&output).trim(), expected);
}

#[test]
fn bench_sim_prints_a_table() {
    let output = viewstamp(&["bench", "sim", "--seeds", "2", "--rounds", "5"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("events/s") && out.contains("ns/message"), "{out}");
    assert!(out.lines().filter(|line| line.starts_with("schedules ") || line.starts_with("steady load ")).count() == 4);
}

/// By default a 1.3.0 member runs on the archived 1.3.0 module, on both engines (and
/// `--archived`, which asks for the default by name, is the same run); `--emulated`
/// runs the current code acting as 1.3.0. Each prints its own golden digest.
#[test]
fn replay_runs_the_real_1_3_0_code_unless_emulated() {
    let scenarios = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let script = scenarios.join("mixed-1.3.0-backup-meets-1.4.0-commands.scenario");
    let digest_in = |golden: &str| {
        let text = fs::read_to_string(scenarios.join(golden)).expect("the golden file");
        text.lines().rev().find(|line| line.starts_with("digest=")).expect("a digest line").to_string()
    };
    let (archived, emulated) = (
        digest_in("mixed-1.3.0-backup-meets-1.4.0-commands.golden"),
        digest_in("mixed-1.3.0-backup-meets-1.4.0-commands.emulated.golden"),
    );
    assert_ne!(archived, emulated, "the two runs are the same: is anything archived?");
    for (args, digest) in [
        (vec!["--quiet", "--engine", "both"], &archived),
        (vec!["--quiet", "--archived"], &archived),
        (vec!["--quiet", "--emulated", "--engine", "both"], &emulated),
    ] {
        let mut all = vec!["replay"];
        all.extend(args.iter().copied());
        all.push(script.to_str().unwrap());
        let output = viewstamp(&all);
        let out = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {out}{}", stderr(&output));
        assert_eq!(out.lines().last(), Some(digest.as_str()), "{args:?}");
    }
    let output = viewstamp(&["replay", "--archived", "--emulated", script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "--archived and --emulated together are refused");
    let output = viewstamp(&["sim", "--seeds", "10"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(!out.contains("(0 member starts ran archived code)"), "ten seeds and no archived start: {out}");
}
