//! Real processes recover from a deaf primary: `viewstamp bench failover` cuts every
//! link into the primary of a 3-member cluster (default timers) and a write commits
//! through the others under a new primary. Only recovery is checked, never its speed.

use std::process::Command;

#[test]
fn a_deaf_primary_gives_way_and_writes_resume_under_another() {
    let output = Command::new(env!("CARGO_BIN_EXE_viewstamp"))
        .args(["bench", "failover", "--runs", "1", "--shapes", "deaf", "--observe-ms", "300"])
        .output()
        .expect("run the viewstamp binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    // deaf  1  <first write ms>  <longest gap ms>  <old> (<view>) -> <new> (<view>)  <old primary now>
    let row = stdout.lines().find(|line| line.starts_with("deaf ")).expect("a row for the run");
    let words: Vec<&str> = row.split_whitespace().collect();
    assert!(words[2].parse::<u64>().is_ok(), "a write was acknowledged: {row}");
    let view = |word: &str| word.trim_matches(['(', ')']).parse::<u64>().expect("a view number");
    assert_eq!(words[6], "->", "{row}");
    assert_ne!(words[4], words[7], "another member is primary: {row}");
    assert!(view(words[8]) > view(words[5]), "in a later view: {row}");
}
