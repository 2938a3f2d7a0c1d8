//! The parser's tests: every command, argument and error message.

use super::*;
use alloc::string::ToString;
use alloc::vec;

const EXAMPLE: &str = "\
# A rolling upgrade from 1.0.0 to 1.1.0; the standby starts to follow once the cluster gets there
cluster replicas=3 standbys=1 seed=7 binary=1.0.0
put a 1
until commit[0] >= 1 within 300
expect feature[standby_replicas] = off
restart 0 binary=1.1.0
until status[0] = normal within 1000
restart 1 binary=1.1.0
until status[1] = normal within 1000
restart 2 binary=1.1.0
until status[2] = normal within 1000
restart 3 binary=1.1.0
until cluster-release = 1.1.0 within 3000
until lag[3] = 0 within 3000
expect health[3] = healthy
expect violations = 0
";

fn r(text: &str) -> Release {
    text.parse().unwrap()
}

fn cond(subject: Subject, op: CompareOp, value: &str) -> Condition {
    Condition { subject, op, value: String::from(value) }
}

/// Parse `cluster replicas=3` and one command line.
fn command(line: &str) -> Command {
    let text = format!("cluster replicas=3\n{line}\n");
    let script = parse_script(&text).unwrap_or_else(|error| panic!("{line}: {error}"));
    assert_eq!(script.lines.len(), 1, "{line}");
    assert_eq!(script.lines[0].number, 2);
    script.lines[0].command.clone()
}

/// The error for `cluster replicas=3` then one command line.
fn command_error(line: &str) -> String {
    let text = format!("cluster replicas=3\n{line}\n");
    let error = parse_script(&text).expect_err(line);
    assert_eq!(error.line, 2, "{line}: {error}");
    error.reason
}

fn error(text: &str) -> ParseError {
    parse_script(text).expect_err(text)
}

#[test]
fn the_spec_example_parses() {
    let script = parse_script(EXAMPLE).unwrap();
    assert_eq!(
        script.header,
        Header { line: 2, replicas: 3, standbys: 1, seed: 7, binary: Some(r("1.0.0")), release: None }
    );
    assert_eq!(script.lines.len(), 14);
    assert_eq!(
        script.lines[0],
        Line { number: 3, command: Command::Put { key: "a".into(), value: "1".into(), client: 1 } }
    );
    assert_eq!(
        script.lines[1].command,
        Command::Until { condition: cond(Subject::Commit(MemberRef::One(0)), CompareOp::Ge, "1"), within_ticks: 300 }
    );
    assert_eq!(
        script.lines[2].command,
        Command::Expect(cond(Subject::Feature(Feature::StandbyReplicas), CompareOp::Eq, "off"))
    );
    assert_eq!(script.lines[3].command, Command::Restart { member: 0, binary: Some(r("1.1.0")) });
    assert_eq!(
        script.lines[10].command,
        Command::Until { condition: cond(Subject::ClusterRelease, CompareOp::Eq, "1.1.0"), within_ticks: 3000 }
    );
    assert_eq!(
        script.lines[11].command,
        Command::Until { condition: cond(Subject::Lag(MemberRef::One(3)), CompareOp::Eq, "0"), within_ticks: 3000 }
    );
    assert_eq!(
        script.lines[13],
        Line { number: 16, command: Command::Expect(cond(Subject::Violations, CompareOp::Eq, "0")) }
    );
}

#[test]
fn the_project_scenarios_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none() || path.extension().unwrap() != "scenario" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        match parse_script(&text) {
            Ok(script) => {
                assert!(!name.contains("script-error"), "{name} should not parse");
                let again = parse_script(&script.to_string()).unwrap();
                assert!(script.commands().eq(again.commands()), "{name}");
            }
            Err(error) => assert!(name.contains("script-error"), "{name}: {error}"),
        }
    }
}

#[test]
fn header_forms() {
    let header = |text: &str| parse_script(text).unwrap().header;
    assert_eq!(
        header("cluster replicas=1"),
        Header { line: 1, replicas: 1, standbys: 0, seed: 0, binary: None, release: None }
    );
    assert_eq!(
        header("\n# c\n\tcluster  release=1.0.0 seed=18446744073709551615 standbys=6 binary=1.3.0-rc.2 replicas=7 # x"),
        Header {
            line: 3,
            replicas: 7,
            standbys: 6,
            seed: u64::MAX,
            binary: Some(r("1.3.0-rc.2")),
            release: Some(r("1.0.0"))
        }
    );
    // A release newer than the binary, or one this build does not know, is a run-time matter.
    assert_eq!(header("cluster replicas=3 binary=1.0.0 release=9.0.0").release, Some(r("9.0.0")));
}

#[test]
fn every_command_form_parses() {
    use Command::*;
    let m = MemberRef::One;
    let cases: Vec<(&str, Command)> = vec![
        ("tick", Tick(1)),
        ("tick 25", Tick(25)),
        ("step", Step(1)),
        ("step 8", Step(8)),
        (
            "until commit[*] >= 3 within 500",
            Until { condition: cond(Subject::Commit(MemberRef::All), CompareOp::Ge, "3"), within_ticks: 500 },
        ),
        (
            "until primary != none within 0",
            Until { condition: cond(Subject::Primary, CompareOp::Ne, "none"), within_ticks: 0 },
        ),
        (
            "until reply[1] = within within 9",
            Until { condition: cond(Subject::Reply(1), CompareOp::Eq, "within"), within_ticks: 9 },
        ),
        ("put a 1", Put { key: "a".into(), value: "1".into(), client: 1 }),
        ("put b 2 client=2", Put { key: "b".into(), value: "2".into(), client: 2 }),
        ("put client=3 c 3", Put { key: "c".into(), value: "3".into(), client: 3 }),
        ("get a", Get { key: "a".into(), client: 1, at: None }),
        ("get b client=2", Get { key: "b".into(), client: 2, at: None }),
        ("get c at=3 client=4", Get { key: "c".into(), client: 4, at: Some(3) }),
        ("crash 2", Crash(2)),
        ("crash 9", Crash(9)),
        ("restart 0", Restart { member: 0, binary: None }),
        ("restart 1 binary=1.1.0", Restart { member: 1, binary: Some(r("1.1.0")) }),
        ("partition 0,1 | 2,3", Partition(vec![vec![0, 1], vec![2, 3]])),
        ("partition 0,1,2 | 3,4", Partition(vec![vec![0, 1, 2], vec![3, 4]])),
        ("partition 0 | 1,2", Partition(vec![vec![0], vec![1, 2]])),
        ("partition 0,1|2", Partition(vec![vec![0, 1], vec![2]])),
        ("partition 0,1 |2| 3", Partition(vec![vec![0, 1], vec![2], vec![3]])),
        ("partition 0, 1 | 2", Partition(vec![vec![0, 1], vec![2]])),
        ("partition 4", Partition(vec![vec![4]])),
        ("isolate 2", Isolate(2)),
        ("block 0->2", Block { from: 0, to: 2 }),
        ("block 0 -> 2", Block { from: 0, to: 2 }),
        ("unblock 0->2", Unblock { from: 0, to: 2 }),
        ("heal", Heal),
        (
            "net loss=0.2 dup=0.2 delay=1..30",
            Net { loss_ppm: Some(200_000), dup_ppm: Some(200_000), delay_ticks: Some((1, 30)) },
        ),
        ("net loss=0 dup=0 delay=1..3", Net { loss_ppm: Some(0), dup_ppm: Some(0), delay_ticks: Some((1, 3)) }),
        ("net loss=0.05", Net { loss_ppm: Some(50_000), dup_ppm: None, delay_ticks: None }),
        ("net dup=1", Net { loss_ppm: None, dup_ppm: Some(1_000_000), delay_ticks: None }),
        ("net delay=5..5", Net { loss_ppm: None, dup_ppm: None, delay_ticks: Some((5, 5)) }),
        ("corrupt 1 op=2", Corrupt { member: 1, op: 2 }),
        ("corrupt op=7 0", Corrupt { member: 0, op: 7 }),
        ("upgrade propose to=1.2.0", UpgradePropose { to: r("1.2.0") }),
        ("upgrade propose to=1.3.0-rc.1", UpgradePropose { to: r("1.3.0-rc.1") }),
        ("upgrade cancel", UpgradeCancel),
        ("upgrade auto=on", UpgradeAuto(true)),
        ("upgrade auto=off", UpgradeAuto(false)),
        ("promote 3", Promote { standby: 3, replace: None }),
        ("promote 3 replace=0", Promote { standby: 3, replace: Some(0) }),
        ("expect cluster-release = 1.1.0", Expect(cond(Subject::ClusterRelease, CompareOp::Eq, "1.1.0"))),
        (
            "expect feature[standby_replicas] = off",
            Expect(cond(Subject::Feature(Feature::StandbyReplicas), CompareOp::Eq, "off")),
        ),
        (
            "expect feature[batched_prepares] != on",
            Expect(cond(Subject::Feature(Feature::BatchedPrepares), CompareOp::Ne, "on")),
        ),
        ("expect upgrade-target = none", Expect(cond(Subject::UpgradeTarget, CompareOp::Eq, "none"))),
        ("expect primary = 0", Expect(cond(Subject::Primary, CompareOp::Eq, "0"))),
        ("expect view >= 1", Expect(cond(Subject::View, CompareOp::Ge, "1"))),
        ("expect commit[2] <= 1", Expect(cond(Subject::Commit(m(2)), CompareOp::Le, "1"))),
        ("expect status[*] = normal", Expect(cond(Subject::Status(MemberRef::All), CompareOp::Eq, "normal"))),
        ("expect role[3] = standby", Expect(cond(Subject::Role(m(3)), CompareOp::Eq, "standby"))),
        ("expect binary[0] > 1.0.0", Expect(cond(Subject::Binary(m(0)), CompareOp::Gt, "1.0.0"))),
        ("expect lag[3] < 5", Expect(cond(Subject::Lag(m(3)), CompareOp::Lt, "5"))),
        ("expect health[*] = healthy", Expect(cond(Subject::Health(MemberRef::All), CompareOp::Eq, "healthy"))),
        ("expect promotable[3] = yes", Expect(cond(Subject::Promotable(m(3)), CompareOp::Eq, "yes"))),
        ("expect replicas = 3", Expect(cond(Subject::Replicas, CompareOp::Eq, "3"))),
        ("expect standbys = 1", Expect(cond(Subject::Standbys, CompareOp::Eq, "1"))),
        ("expect reply[2] = error:feature-off", Expect(cond(Subject::Reply(2), CompareOp::Eq, "error:feature-off"))),
        ("expect error = none", Expect(cond(Subject::Error, CompareOp::Eq, "none"))),
        ("expect violations = 0", Expect(cond(Subject::Violations, CompareOp::Eq, "0"))),
        ("expect reply[1] = a=b", Expect(cond(Subject::Reply(1), CompareOp::Eq, "a=b"))),
        ("\t expect\tview   =\t0   # trailing comment", Expect(cond(Subject::View, CompareOp::Eq, "0"))),
    ];
    for (line, expected) in cases {
        assert_eq!(command(line), expected, "{line}");
    }
}

#[test]
fn comments_blank_lines_and_line_numbers() {
    let text = "# header next\r\n\r\ncluster replicas=3 # three\r\n   \n\t\nput a 1#no space before the comment\r\n# done\ntick";
    let script = parse_script(text).unwrap();
    assert_eq!(script.header.line, 3);
    let numbers: Vec<usize> = script.lines.iter().map(|line| line.number).collect();
    assert_eq!(numbers, vec![6, 8]);
    assert_eq!(script.lines[0].command, Command::Put { key: "a".into(), value: "1".into(), client: 1 });
    // `#` anywhere starts a comment, even inside a token.
    assert_eq!(command_error("put a#b 1"), "put needs KEY and VALUE");
    // A byte-order mark is not a token.
    assert!(parse_script("\u{feff}cluster replicas=1\n").is_ok());
}

#[test]
fn probabilities() {
    for (text, ppm) in [
        ("0", 0),
        ("1", 1_000_000),
        ("0.05", 50_000),
        (".5", 500_000),
        ("0.5", 500_000),
        ("1.0", 1_000_000),
        ("1.", 1_000_000),
        ("00.25", 250_000),
        ("0.000001", 1),
        ("0.0000019", 1),
        ("0.1234567", 123_456),
        ("0.99999999", 999_999),
    ] {
        assert_eq!(parse_probability(text), Ok(ppm), "{text}");
    }
    for text in ["", ".", "1.5", "2", "1.0000001", "-0.1", "+0.1", "0.5%", "5%", "1e-3", "0,5", "a", "0..1", "10"] {
        assert!(parse_probability(text).is_err(), "{text}");
    }
}

#[test]
fn header_errors() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "no header"),
        ("# only a comment\n\n", 1, "no header"),
        ("put a 1\ncluster replicas=3", 1, "must start with its header"),
        ("# c\n\ntik 5\n", 3, "found 'tik'"),
        ("cluster replicas=3\nput a 1\ncluster replicas=3\n", 3, "second header"),
        ("cluster\n", 1, "needs replicas=N"),
        ("cluster standbys=1\n", 1, "needs replicas=N"),
        ("cluster replicas=0", 1, "replicas must be 1 to 7, not 0"),
        ("cluster replicas=8", 1, "replicas must be 1 to 7, not 8"),
        ("cluster replicas=three", 1, "replicas must be a number, not 'three'"),
        ("cluster replicas=3 standbys=7", 1, "standbys must be 0 to 6, not 7"),
        ("cluster replicas=3 replicas=4", 1, "argument 'replicas' is given twice"),
        ("cluster replicas=3 seeds=4", 1, "unknown argument 'seeds'"),
        ("cluster replicas=3 seed=-1", 1, "seed must be a number"),
        ("cluster replicas=3 seed=18446744073709551616", 1, "too large"),
        ("cluster replicas=3 binary=1.2", 1, "binary '1.2' is not a release"),
        ("cluster replicas=3 release=v1.0.0", 1, "release 'v1.0.0' is not a release"),
        ("cluster 3", 1, "unexpected '3'"),
        ("cluster replicas=", 1, "no value"),
        ("cluster =3", 1, "no argument name"),
    ];
    for (text, line, reason) in cases {
        let error = error(text);
        assert_eq!(error.line, *line, "{text}: {error}");
        assert!(error.reason.contains(reason), "{text}: {error}");
    }
}

#[test]
fn command_errors() {
    let cases: &[(&str, &str)] = &[
        ("tik 5", "unknown command 'tik'"),
        ("PUT a 1", "unknown command 'PUT'"),
        ("tick 0", "tick's N must be at least 1"),
        ("step 0", "step's N must be at least 1"),
        ("tick x", "tick's N must be a number, not 'x'"),
        ("tick -1", "must be a number"),
        ("tick 1 2", "unexpected '2'"),
        ("tick n=2", "unexpected argument 'n=2'"),
        ("put a", "put needs KEY and VALUE"),
        ("put", "put needs KEY and VALUE"),
        ("put a 1 2", "unexpected '2'"),
        ("put a 1 client=x", "client must be a number, not 'x'"),
        ("put a 1 client=1 client=2", "argument 'client' is given twice"),
        ("put a 1 clinet=2", "unknown argument 'clinet'"),
        ("put a=b 1", "unknown argument 'a'"),
        ("get", "get needs KEY"),
        ("get a b", "unexpected 'b'"),
        ("get a at=x", "at must be a member number"),
        ("get a at=256", "not a member number"),
        ("crash", "crash needs a member"),
        ("crash x", "crash's member must be a member number, not 'x'"),
        ("crash 1 2", "unexpected '2'"),
        ("isolate", "isolate needs a member"),
        ("restart", "restart needs a member"),
        ("restart 1 binary=latest", "binary 'latest' is not a release"),
        ("restart 1 bin=1.1.0", "unknown argument 'bin'"),
        ("partition", "partition needs groups"),
        ("partition 0,1 |", "empty group"),
        ("partition | 0,1", "empty group"),
        ("partition 0,1 || 2", "empty group"),
        ("partition 0,,1 | 2", "empty member"),
        ("partition 0 1 | 2", "separated by commas"),
        ("partition 0,1 | 1,2", "names member 1 twice"),
        ("partition 0,x", "must be a member number, not 'x'"),
        ("partition groups=2", "unexpected 'groups=2'"),
        ("block 0", "block needs `block A->B`"),
        ("block 0-2", "block needs"),
        ("block 0->", "block's B must be a member number"),
        ("block a->2", "block's A must be a member number"),
        ("unblock 0 1->2", "unblock's A must be a member number, not '0 1'"),
        ("heal now", "unexpected 'now'"),
        ("net", "net needs at least one of"),
        ("net 0.5", "unexpected '0.5'"),
        ("net loss=2", "probability 2 is above 1"),
        ("net loss=1.5", "above 1"),
        ("net dup=5%", "'5%' is not a probability"),
        ("net loss=0.1 loss=0.2", "argument 'loss' is given twice"),
        ("net jitter=3", "unknown argument 'jitter'"),
        ("net delay=5", "delay is MIN..MAX"),
        ("net delay=30..1", "MIN above MAX"),
        ("net delay=1..x", "the delay's MAX must be a number"),
        ("corrupt 1", "corrupt needs op=N"),
        ("corrupt op=1", "corrupt needs a member"),
        ("corrupt 1 op=x", "op must be a number, not 'x'"),
        ("upgrade", "upgrade needs what to do"),
        ("upgrade propose", "upgrade propose needs to=X.Y.Z"),
        ("upgrade propose 1.2.0", "unexpected '1.2.0'"),
        ("upgrade propose to=1.2", "to '1.2' is not a release"),
        ("upgrade propose to=1.2.0 from=1.1.0", "unknown argument 'from'"),
        ("upgrade cancel now", "unexpected 'now'"),
        ("upgrade auto=yes", "upgrade auto is on or off, not 'yes'"),
        ("upgrade auto on", "write `upgrade auto=on`"),
        ("upgrade start", "unknown upgrade action 'start'"),
        ("promote", "promote needs a standby"),
        ("promote 3 replace=x", "replace must be a member number"),
        ("promote 3 4", "unexpected '4'"),
        ("expect", "expect needs SUBJECT OP VALUE"),
        ("expect view", "expect needs SUBJECT OP VALUE"),
        ("expect view =", "expect needs SUBJECT OP VALUE"),
        ("expect view = 1 2", "unexpected '2'"),
        ("expect comit[0] = 1", "unknown subject 'comit[0]'"),
        ("expect feature[standby_replica] = on", "unknown feature 'standby_replica'"),
        ("expect feature = on", "feature needs a name"),
        ("expect commit = 1", "commit needs a member"),
        ("expect commit[] = 1", "commit needs a member"),
        ("expect commit[x] = 1", "must be a member number, not 'x'"),
        ("expect commit[0 = 1", "lacks its closing ']'"),
        ("expect lag[300] = 1", "not a member number"),
        ("expect reply = ok", "reply needs a client number"),
        ("expect reply[*] = ok", "not [*]"),
        ("expect view[0] = 1", "view takes no [index]"),
        ("expect view[] = 1", "view takes no [index]"),
        ("expect view => 1", "unknown compare operator '=>'"),
        ("expect view == 1", "write '='"),
        ("expect view ~ 1", "unknown compare operator '~'"),
        ("expect commit[0]>=1", "put spaces around the operator: `commit[0] >= 1`"),
        ("expect commit[0] >=1", "put spaces around the operator: `commit[0] >= 1`"),
        ("expect commit[0]>= 1", "put spaces around the operator: `commit[0] >= 1`"),
        ("expect primary=0", "put spaces around the operator: `primary = 0`"),
        ("expect status[1]!= normal", "put spaces around the operator: `status[1] != normal`"),
        ("until commit[0]>=1 within 300", "put spaces around the operator: `commit[0] >= 1`"),
        ("until commit[0] >= 1", "until needs `within N`"),
        ("until commit[0] >= 1 within", "number of ticks after within"),
        ("until commit[0] >= 1 within=300", "not 'within=300'"),
        ("until commit[0] >= 1 within 300 ticks", "unexpected 'ticks'"),
        ("until commit[0] >= 1 within x", "within must be a number, not 'x'"),
        ("until within 300", "until needs SUBJECT OP VALUE"),
        ("until lag[9] = 0 within 3000 extra", "unexpected 'extra'"),
    ];
    for (line, reason) in cases {
        let actual = command_error(line);
        assert!(actual.contains(reason), "{line}: got {actual:?}, wanted {reason:?}");
    }
}

#[test]
fn errors_name_their_line() {
    let text = "# comment\ncluster replicas=3\n\nput a 1\ntik 5\nexpect violations = 0\n";
    let error = error(text);
    assert_eq!(error, ParseError { line: 5, reason: String::from("unknown command 'tik'") });
    assert_eq!(error.to_string(), "line 5: unknown command 'tik'");
    let error = parse_script("cluster replicas=3\nput a\n").unwrap_err();
    assert_eq!(error.to_string(), "line 2: put needs KEY and VALUE");
    // The first malformed line is the one reported.
    let error = parse_script("cluster replicas=3\ntick\nput a\ntik\n").unwrap_err();
    assert_eq!(error.line, 3);
}

#[test]
fn single_lines_and_conditions() {
    assert_eq!(parse_line("  # nothing", 4), Ok(None));
    assert_eq!(parse_line("heal", 4), Ok(Some(ParsedLine::Command(Command::Heal))));
    assert!(matches!(parse_line("cluster replicas=2", 9), Ok(Some(ParsedLine::Header(Header { line: 9, .. })))));
    assert_eq!(parse_line("tik", 4).unwrap_err().to_string(), "line 4: unknown command 'tik'");
    assert_eq!(parse_condition_text("view >= 2"), Ok(cond(Subject::View, CompareOp::Ge, "2")));
    assert_eq!(parse_subject("promotable[*]"), Ok(Subject::Promotable(MemberRef::All)));
}
