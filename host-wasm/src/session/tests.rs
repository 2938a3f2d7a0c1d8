use alloc::string::String;
use alloc::vec::Vec;

use viewstamp_core::replica::Role;
use viewstamp_core::scenario::run::{run_text, RunOptions};
use viewstamp_core::status_snapshot::ReportedStatus;

use super::*;

fn replayed(script: &str) -> (u8, Option<u64>, Vec<String>) {
    let mut lines = Vec::new();
    let outcome = run_text(script, RunOptions::default(), &mut |line: &str| lines.push(String::from(line)));
    (outcome.exit_status, outcome.digest, lines)
}

fn three_and_a_standby() -> Session {
    let options = SessionOptions { replicas: 3, standbys: 1, seed: 7, ..SessionOptions::default() };
    Session::from_options(&options, None).expect("a valid cluster")
}

/// A session with load, faults, an operator command and a failed expectation.
fn busy_session() -> Session {
    let mut session = three_and_a_standby();
    for line in [
        "put a 1",
        "put b 2 client=2",
        "tick 50",
        "crash 0",
        "until primary = 1 within 3000",
        "partition 0,1 | 2,3",
        "put c 3",
        "tick 400",
        "heal",
        "restart 0",
        "upgrade propose to=9.9.9",
        "expect view = 7",
        "until reply[1] = ok within 3000",
        "step 25",
    ] {
        let outcome = session.apply_text(line).expect("the line parses");
        assert!(outcome.ran, "{line}: {:?}", outcome.error);
    }
    session
}

#[test]
fn a_snapshot_shows_members_logs_network_standbys_and_clients() {
    let mut session = three_and_a_standby();
    session.apply_text("put a 1").unwrap();
    let outcome = session.run_until("reply[1] = ok", 1000).unwrap();
    assert_eq!(outcome.held, Some(true));
    session.apply_text("until lag[3] = 0 within 2000").unwrap();
    session.apply_text("crash 2").unwrap();
    session.apply_text("block 0->1").unwrap();
    session.apply_text("net loss=0.1").unwrap();
    let snapshot = session.snapshot();

    assert_eq!(snapshot.members.len(), 4);
    assert_eq!(snapshot.primary, Some(0));
    let primary = &snapshot.members[0];
    assert!(primary.up && primary.role == Role::Active && primary.status == ReportedStatus::Normal);
    let shown = primary.replica.as_ref().expect("a member that is up shows itself");
    assert_eq!((shown.view, shown.commit, shown.is_primary), (0, 1, true));
    let log = primary.log.as_ref().expect("a member that is up has a log");
    assert_eq!(log.entries.last().map(|e| (e.op, e.kind.as_str(), e.committed)), Some((1, "requests", true)));
    let crashed = &snapshot.members[2];
    assert_eq!(crashed.status, ReportedStatus::Crashed);
    assert_eq!((crashed.up, crashed.replica.is_none(), crashed.log.is_none()), (false, true, true));
    assert_eq!(snapshot.members[3].role, Role::Standby);
    let standbys: Vec<_> = shown.standbys.iter().map(|standby| &standby.view).collect();
    assert_eq!(standbys.len(), 1);
    assert_eq!((standbys[0].member, standbys[0].healthy, standbys[0].lag_ops), (3, true, Some(0)));
    assert_eq!(snapshot.network.blocked, [Link { from: 0, to: 1 }]);
    assert_eq!(snapshot.network.loss_ppm, 100_000);
    assert_eq!(snapshot.network.groups, [alloc::vec![0, 1, 2, 3]]);
    assert_eq!(snapshot.clients, [ClientView { client: 1, reply: String::from("ok") }]);
    assert!(shown.features.iter().any(|flag| flag.name == "standby_reads" && flag.on));
    assert_eq!(shown.upgrade_target, None);
    assert!(snapshot.timers.iter().any(|timer| timer.member == 0 && timer.at >= snapshot.now));
    assert!(snapshot.violations.is_empty());
    assert_eq!(snapshot.digest, alloc::format!("{:016x}", session.digest()));

    session.apply_text("isolate 3").unwrap();
    session.apply_text("partition 0,1 | 2").unwrap();
    let network = session.snapshot().network;
    assert_eq!((network.groups, network.isolated), (alloc::vec![alloc::vec![0, 1], alloc::vec![2]], alloc::vec![3]));
}

#[test]
fn commands_report_their_outcome_and_bad_ones_are_not_recorded() {
    let mut session = three_and_a_standby();
    let crash = session.apply_text("crash 9").unwrap();
    assert!(!crash.ran);
    assert!(crash.error.as_deref().is_some_and(|error| error.contains("member 9 does not exist")), "{crash:?}");
    assert!(session.apply_text("crash").is_err(), "a line that does not parse is an error");
    assert!(session.apply_text("cluster replicas=3").is_err());

    let refused = session.apply_text("upgrade cancel").unwrap();
    assert_eq!((refused.ran, refused.code.as_str()), (true, "no-upgrade"));
    let expect = session.apply_text("expect primary = 2").unwrap();
    assert_eq!(expect.held, Some(false));
    // The failure names the line the exported script has it on: header, cancel, expect.
    assert_eq!(expect.failures, ["line 3: expect primary = 2 failed: primary is 0"]);
    let step = session.step(3);
    assert_eq!(step.events, 3);
    assert_eq!(
        session.export().lines().collect::<Vec<_>>(),
        ["cluster replicas=3 standbys=1 seed=7", "upgrade cancel", "expect primary = 2", "step 3"]
    );
    assert!(session.snapshot().failed);
    assert_eq!(session.evaluate("primary = 0").unwrap(), ConditionValue { holds: true, value: String::from("0") });
    assert!(session.evaluate("primary ~ 0").is_err());
}

#[test]
fn an_export_replays_to_the_same_digest_and_output() {
    let mut session = busy_session();
    let script = session.export();
    let (exit_status, digest, lines) = replayed(&script);
    assert_eq!(digest, Some(session.digest()));
    assert_eq!(exit_status, 1, "the session had a failed expectation");
    // The replay prints what the session printed, then the digest line.
    let printed: Vec<String> = session.take_events().into_iter().map(|event| event.text).collect();
    assert_eq!(&lines[..lines.len() - 1], &printed[..]);
    // Imported back, it is the same session.
    let imported = Session::from_script(&script, None).expect("the export imports");
    assert_eq!(imported.digest(), session.digest());
    assert_eq!(imported.snapshot(), session.snapshot());
}

#[test]
fn events_come_once_in_order_with_time_and_kind() {
    let mut session = three_and_a_standby();
    session.apply_text("put a 1").unwrap();
    session.tick(20);
    let first = session.take_events();
    assert!(!first.is_empty());
    assert!(first.iter().enumerate().all(|(index, event)| event.index == index as u64));
    assert!(first.windows(2).all(|pair| pair[0].time <= pair[1].time));
    assert!(first.iter().any(|event| event.kind == "deliver" && event.text.contains("prepare")));
    assert!(session.take_events().is_empty(), "nothing new since the last call");
    session.apply_text("crash 1").unwrap();
    let second = session.take_events();
    assert_eq!(second[0].index, first.len() as u64);
    assert_eq!(second[0].kind, "crash");
    assert_eq!(session.event_count(), (first.len() + second.len()) as u64);
    assert_eq!(session.events(1, 3), first[1..3]);
}

#[test]
fn travel_goes_back_to_any_event_and_the_export_replays_there() {
    let mut original = busy_session();
    let lines: Vec<String> = original.take_events().into_iter().map(|event| event.text).collect();
    let total = lines.len() as u64;
    assert!(total > 150, "the busy session prints enough to scrub through: {total}");
    for keep in [0, 1, 2, 17, total / 3, total / 2, total - 40, total - 1] {
        let mut session = busy_session();
        let kept = session.travel(keep).unwrap();
        assert!(kept >= keep, "travel to {keep} kept {kept}");
        let now: Vec<String> = session.events(0, kept).into_iter().map(|event| event.text).collect();
        assert_eq!(now[..], lines[..kept as usize], "travel to {keep} changed the events before it");
        let (_, digest, replay_lines) = replayed(&session.export());
        assert_eq!(digest, Some(session.digest()), "travel to {keep}: the export replays elsewhere");
        assert_eq!(replay_lines[..replay_lines.len() - 1], now[..], "travel to {keep}");
    }
    // Back and forth on one session: travelling back and redoing the rest gives the
    // same end state.
    let end_digest = original.digest();
    original.travel(total / 2).unwrap();
    assert!(original.travel(total).is_err(), "the events after a travel are gone");
    let mut redo = busy_session();
    redo.travel(total / 2).unwrap();
    assert_eq!(redo.snapshot(), original.snapshot());
    original.travel(0).unwrap();
    assert_eq!(original.export().lines().count(), 1, "only the header is left");
    assert_eq!(original.snapshot().events_processed, 0);
    assert_ne!(original.digest(), end_digest);
}

#[test]
fn travel_inside_a_tick_cuts_it_to_steps() {
    let mut session = three_and_a_standby();
    session.apply_text("put a 1").unwrap();
    session.tick(500);
    let total = session.event_count();
    session.travel(total / 2).unwrap();
    let export = session.export();
    let last = export.lines().last().unwrap();
    assert!(last.starts_with("step "), "the cut tick is a step: {export}");
    assert_eq!(replayed(&export).1, Some(session.digest()));
    // The session goes on from there.
    assert!(session.tick(100).ran);
    assert_eq!(replayed(&session.export()).1, Some(session.digest()));
}

#[test]
fn sessions_from_a_header_or_bad_options_fail_clearly() {
    assert!(Session::from_header("cluster replicas=5 standbys=2 seed=3", None).is_ok());
    assert!(Session::from_header("put a 1", None).unwrap_err().contains("expected a header"));
    assert!(Session::from_header("cluster replicas=0", None).is_err());
    let too_many = SessionOptions { replicas: 8, ..SessionOptions::default() };
    assert!(Session::from_options(&too_many, None).is_err());
    let newer = SessionOptions {
        replicas: 3,
        binary: Some("1.0.0".into()),
        release: Some("1.2.0".into()),
        ..Default::default()
    };
    assert!(Session::from_options(&newer, None).unwrap_err().contains("newer than the binary"));
    assert!(Session::from_script("cluster replicas=3\ncrash 4\n", None).unwrap_err().starts_with("line 2:"));
}

#[test]
fn long_sessions_travel_through_checkpoints_when_the_simulator_can_be_copied() {
    let build = || {
        let mut session = three_and_a_standby();
        for round in 0..120 {
            for client in 1..=3 {
                session.apply_text(&alloc::format!("put k{round} v{round} client={client}")).unwrap();
            }
            session.tick(300);
            if round % 10 == 5 {
                session.apply_text(&alloc::format!("crash {}", round % 3)).unwrap();
            }
            if round % 10 == 8 {
                session.apply_text(&alloc::format!("restart {}", (round - 3) % 3)).unwrap();
            }
        }
        session
    };
    let mut session = build();
    let events = session.snapshot().events_processed;
    assert!(events > 4 * 2_000, "long enough for several checkpoints: {events} events");
    if travel::can_checkpoint(&session.sim) {
        assert!(session.checkpoints.count() >= 4, "{} checkpoints", session.checkpoints.count());
    } else {
        assert_eq!(session.checkpoints.count(), 0);
    }
    let lines: Vec<String> = session.events(0, session.event_count()).into_iter().map(|e| e.text).collect();
    let total = lines.len() as u64;
    // Backwards through the session, as a scrubber does.
    for keep in [total * 9 / 10, total * 2 / 3, total / 2, total / 5, 3] {
        let kept = session.travel(keep).unwrap();
        let now: Vec<String> = session.events(0, kept).into_iter().map(|e| e.text).collect();
        assert_eq!(now[..], lines[..kept as usize], "travel to {keep}");
        assert_eq!(replayed(&session.export()).1, Some(session.digest()), "travel to {keep}");
    }
}

#[test]
fn a_snapshot_shows_messages_in_flight() {
    let mut session = three_and_a_standby();
    session.apply_text("put a 1").unwrap();
    let messages = session.snapshot().messages;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!((messages[0].kind.as_str(), messages[0].from.as_str(), messages[0].to.as_str()), ("request", "c1", "0"));
    assert_eq!(messages[0].fields, "client=1 request=1", "a message shows its fields");
    session.step(2);
    let snapshot = session.snapshot();
    assert!(
        snapshot.messages.iter().any(|m| m.kind == "prepare" && m.from == "0" && m.fields == "v=0 op=1 commit=0"),
        "{:?}",
        snapshot.messages
    );
    assert!(snapshot.messages.iter().all(|m| m.deliver_at >= snapshot.now));
}

#[test]
fn seek_moves_back_and_forth_over_the_whole_run() {
    let mut session = busy_session();
    let lines: Vec<String> = session.events(0, session.event_count()).into_iter().map(|e| e.text).collect();
    let total = lines.len() as u64;
    let end_digest = session.digest();
    let end_export = session.export();
    for keep in [total / 2, 3, total - 10, 0, total / 3, total] {
        let kept = session.seek(keep).unwrap();
        assert!(kept >= keep, "seek to {keep} kept {kept}");
        assert_eq!(session.timeline_length(), total, "the whole run stays reachable");
        assert_eq!(session.timeline_export(), end_export);
        let now: Vec<String> = session.events(0, kept).into_iter().map(|e| e.text).collect();
        assert_eq!(now[..], lines[..kept as usize], "seek to {keep}");
        assert_eq!(replayed(&session.export()).1, Some(session.digest()), "seek to {keep}");
    }
    assert_eq!(session.digest(), end_digest, "back at the end");
    assert_eq!(session.export(), end_export);
    assert!(session.seek(total + 1).unwrap_err().contains("no event"));
}

#[test]
fn a_command_after_a_seek_back_drops_the_rest_of_the_run() {
    let mut session = busy_session();
    let total = session.event_count();
    session.seek(total / 2).unwrap();
    assert!(session.apply_text("crash 2").unwrap().ran);
    let length = session.timeline_length();
    assert!(length < total, "the branch is shorter: {length} of {total}");
    assert_eq!(length, session.event_count());
    assert_eq!(session.timeline_export(), session.export());
    assert!(session.export().ends_with("crash 2\n"));
    assert!(session.seek(length + 1).is_err());
    assert_eq!(replayed(&session.export()).1, Some(session.digest()));
}

#[test]
fn long_runs_seek_through_checkpoints_both_ways() {
    let mut session = three_and_a_standby();
    for round in 0..60 {
        session.apply_text(&alloc::format!("put k{round} v{round}")).unwrap();
        session.tick(300);
    }
    let lines: Vec<String> = session.events(0, session.event_count()).into_iter().map(|e| e.text).collect();
    let total = lines.len() as u64;
    for keep in [total / 10, total * 9 / 10, total / 2, total - 1, 5] {
        let kept = session.seek(keep).unwrap();
        let now: Vec<String> = session.events(kept.saturating_sub(3), kept).into_iter().map(|e| e.text).collect();
        assert_eq!(now[..], lines[(kept as usize).saturating_sub(3)..kept as usize], "seek to {keep}");
    }
    // A branch keeps the checkpoints it shares with the old run.
    session.seek(total * 9 / 10).unwrap();
    session.apply_text("crash 1").unwrap();
    if travel::can_checkpoint(&session.sim) {
        assert!(session.checkpoints.count() >= 2, "{} checkpoints", session.checkpoints.count());
    }
}

#[test]
fn peek_shows_what_comes_next_and_changes_nothing() {
    let mut session = three_and_a_standby();
    session.apply_text("put a 1").unwrap();
    session.take_events();
    let before = session.snapshot();
    let ahead = session.peek(20);
    assert!(ahead.iter().any(|e| e.text.contains("deliver request c1->0")), "{ahead:?}");
    assert_eq!(ahead[0].index, session.event_count());
    assert_eq!(session.snapshot(), before);
    session.tick(20);
    let happened: Vec<String> = session.take_events().into_iter().map(|e| e.text).collect();
    let peeked: Vec<String> = ahead.into_iter().map(|e| e.text).collect();
    assert_eq!(happened, peeked, "peek foresees exactly what runs");
}

#[test]
fn a_snapshot_names_feature_releases_and_upgrade_events_plainly() {
    let options = SessionOptions {
        replicas: 3,
        binary: Some("1.3.0".into()),
        release: Some("1.0.0".into()),
        ..Default::default()
    };
    let mut session = Session::from_options(&options, None).unwrap();
    session.apply_text("upgrade propose to=1.2.0").unwrap();
    assert_eq!(session.run_until("cluster-release = 1.2.0", 3000).unwrap().held, Some(true));
    let snapshot = session.snapshot();
    let primary = snapshot.members[usize::from(snapshot.primary.unwrap())].replica.as_ref().unwrap();
    let reads = primary.features.iter().find(|flag| flag.name == "standby_reads").unwrap();
    assert_eq!((reads.on, reads.since.as_str()), (false, "1.3.0"));
    let history: Vec<&str> = primary.upgrade_events.iter().map(|event| event.event.as_str()).collect();
    assert!(history.contains(&"committed 1.0.0 -> 1.2.0"), "{history:?}");
    assert_eq!(snapshot.known_releases.first().map(String::as_str), Some("1.0.0"));
}

#[test]
fn lag_is_sampled_while_long_commands_run_and_cut_back_by_travel() {
    let options =
        SessionOptions { replicas: 3, standbys: 1, seed: 7, binary: Some("1.0.0".into()), ..Default::default() };
    let mut session = Session::from_options(&options, None).unwrap();
    for line in ["put a 1", "put b 2 client=2", "tick 20"] {
        session.apply_text(line).unwrap();
    }
    for member in 0..4 {
        session.apply_text(&alloc::format!("restart {member} binary=1.1.0")).unwrap();
        session.apply_text(&alloc::format!("until status[{member}] = normal within 1000")).unwrap();
    }
    assert_eq!(session.run_until("lag[3] = 0", 3000).unwrap().held, Some(true));
    session.tick(500);
    let samples = session.lag_history();
    assert!(samples.len() > 20, "sampled along the way: {}", samples.len());
    assert!(samples.iter().all(|sample| sample.member == 3));
    assert!(samples.windows(2).all(|pair| pair[0].time <= pair[1].time));
    assert_eq!(samples.last().unwrap().lag_ops, 0);
    let (_, digest, lines) = replayed(&session.export());
    assert_eq!(digest, Some(session.digest()), "slicing changes nothing");
    let now: Vec<String> = session.events(0, session.event_count()).into_iter().map(|e| e.text).collect();
    assert_eq!(lines[..lines.len() - 1], now[..]);
    let time = session.events(10, 11)[0].time;
    session.seek(11).unwrap();
    assert!(session.lag_history().iter().all(|sample| sample.time <= time));
}

#[test]
fn a_failed_until_reads_as_the_runner_writes_it() {
    let mut session = three_and_a_standby();
    let outcome = session.run_until("view = 5", 30).unwrap();
    assert_eq!(outcome.held, Some(false));
    assert_eq!(outcome.failures, ["line 2: until view = 5 did not hold within 30 ticks (view is 0)"]);
    let (status, digest, lines) = replayed(&session.export());
    assert_eq!((status, digest), (1, Some(session.digest())));
    assert!(lines.contains(&outcome.failures[0]));
}

#[test]
fn events_of_kinds_keeps_the_newest_of_the_kinds_asked() {
    let session = busy_session();
    let all = session.events(0, session.event_count());
    let kinds = [String::from("crash"), String::from("reply")];
    let chosen = session.events_of_kinds(0, session.event_count(), &kinds, 1000);
    let expected: Vec<TraceEvent> = all.iter().filter(|e| e.kind == "crash" || e.kind == "reply").cloned().collect();
    assert!(!expected.is_empty());
    assert_eq!(chosen, expected);
    let newest = session.events_of_kinds(0, session.event_count(), &kinds, 1);
    assert_eq!(newest[..], expected[expected.len() - 1..]);
}
