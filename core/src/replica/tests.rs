//! Unit tests of one replica driven by hand; cluster behaviour is tested in the simulator.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::message::{Body, ConfigStamp, Prepare, PrepareOk, StartViewChange};
use crate::state_machine::{KvCommand, KvResult, KvStore};

fn options() -> Options {
    Options::new(3, 0)
}

fn drain_sends(replica: &mut Replica<KvStore>) -> Vec<Outgoing> {
    core::iter::from_fn(|| replica.poll_send()).collect()
}

fn drain_persists(replica: &mut Replica<KvStore>) -> Vec<Persist> {
    core::iter::from_fn(|| replica.poll_persist()).collect()
}

/// The entry at `op` of one chained log of puts, all prepared in `view`.
fn put_entry(op: Op, view: View) -> Entry {
    let mut parent = 0;
    let mut entry = None;
    for at in 1..=op {
        let operation = KvCommand::Put { key: b"k".to_vec(), value: vec![at as u8] }.encode();
        let next = Entry::new(
            at,
            view,
            parent,
            Body::Requests(vec![Request { client: 1, session: 0, request: at, operation }]),
        );
        parent = next.header.checksum;
        entry = Some(next);
    }
    entry.expect("op 1 or later")
}

#[test]
fn backup_acknowledges_only_durable_entries() {
    let mut backup = Replica::new_formatted(options(), 1, KvStore::new(), 0);
    drain_sends(&mut backup);
    backup.handle_message(1, Message::Prepare(Prepare { view: 0, commit: 0, entry: put_entry(1, 0) }));
    assert!(
        drain_sends(&mut backup).iter().all(|out| !matches!(out.message, Message::PrepareOk(_))),
        "no PrepareOk before the entry is durable"
    );
    let persists = drain_persists(&mut backup);
    assert_eq!(persists.len(), 1);
    backup.handle_persisted(2, persists[0].id);
    let sends = drain_sends(&mut backup);
    assert!(sends.iter().any(|out| matches!(&out.message, Message::PrepareOk(ok) if ok.op == 1)));
}

fn ack(replica: &mut Replica<KvStore>, now: Tick, op: Op, from: MemberId) {
    let ok = PrepareOk { view: 0, op, from, release: crate::release::NEWEST_RELEASE };
    replica.handle_message(now, Message::PrepareOk(ok));
}

#[test]
fn primary_commits_only_with_a_durable_quorum() {
    let mut primary = Replica::new_formatted(options(), 0, KvStore::new(), 0);
    drain_sends(&mut primary);
    assert_eq!(primary.handle_request(1, Request::register(7)), RequestOutcome::Queued);
    let persists = drain_persists(&mut primary);
    primary.handle_persisted(1, persists[0].id);
    ack(&mut primary, 1, 1, 1);
    assert_eq!(primary.commit(), 1, "the registration committed");
    let operation = KvCommand::Put { key: b"a".to_vec(), value: b"1".to_vec() }.encode();
    primary.handle_request(1, Request { client: 7, session: 1, request: 1, operation });
    assert_eq!(primary.op(), 2);
    let persists = drain_persists(&mut primary);
    // A backup's ack alone is not a quorum of 2 durable copies until the primary's own write lands.
    ack(&mut primary, 2, 2, 1);
    assert_eq!(primary.commit(), 1);
    primary.handle_persisted(3, persists[0].id);
    assert_eq!(primary.commit(), 2);
    let sends = drain_sends(&mut primary);
    assert!(sends.iter().any(|out| out.to == Destination::Client(7) && matches!(out.message, Message::Reply(_))));
}

#[test]
fn a_request_of_an_unknown_session_is_refused_not_executed() {
    let mut primary = Replica::new_formatted(options(), 0, KvStore::new(), 0);
    drain_sends(&mut primary);
    let operation = KvCommand::Put { key: b"a".to_vec(), value: b"1".to_vec() }.encode();
    assert_eq!(
        primary.handle_request(1, Request { client: 7, session: 3, request: 4, operation }),
        RequestOutcome::Answered
    );
    assert_eq!(primary.op(), 0, "nothing prepared");
    let sends = drain_sends(&mut primary);
    let refused = KvStore::refusal(sessions::SESSION_EVICTED);
    assert!(sends.iter().any(|out| matches!(&out.message, Message::Reply(reply) if reply.result == refused)));
    assert_eq!(primary.counters.sessions_evicted_refused, 1);
}

#[test]
fn a_dropped_request_says_why() {
    let mut backup = Replica::new_formatted(options(), 1, KvStore::new(), 0);
    let outcome = backup.handle_request(1, Request::register(7));
    assert_eq!(outcome, RequestOutcome::Dropped(RequestDrop::NotPrimary));

    let mut primary = Replica::new_formatted(Options { request_queue_max: 1, ..options() }, 0, KvStore::new(), 0);
    drain_sends(&mut primary);
    assert_eq!(primary.handle_request(1, Request::register(7)), RequestOutcome::Queued);
    assert_eq!(primary.handle_request(1, Request::register(7)), RequestOutcome::InProgress, "already being prepared");
    // The pipeline is full only once enough prepares are uncommitted; fill the queue behind it.
    let mut client = 8;
    let outcome = loop {
        match primary.handle_request(1, Request::register(client)) {
            RequestOutcome::Queued => client += 1,
            outcome => break outcome,
        }
        assert!(client < 10_000, "the queue never filled");
    };
    assert_eq!(outcome, RequestOutcome::Dropped(RequestDrop::QueueFull));
}

fn config_stamp() -> ConfigStamp {
    ConfigStamp { op: 0, view: 0, checksum: 0, membership: Membership::initial(3, 0), committed: true }
}

#[test]
fn a_follower_that_hears_its_primary_joins_no_other_view_change() {
    let mut backup = Replica::new_formatted(options(), 2, KvStore::new(), 0);
    drain_sends(&mut backup);
    let svc = StartViewChange { view: 1, from: 1, handing_over: false, promised_view: 0, config: config_stamp() };
    backup.handle_message(1, Message::StartViewChange(svc.clone()));
    assert_eq!((backup.status(), backup.view()), (Status::Normal, 0), "primary 0 was heard at 0");
    backup.handle_message(450, Message::StartViewChange(svc));
    assert_eq!((backup.status(), backup.view()), (Status::ViewChange, 1), "once the primary is silent, it joins");
}

#[test]
fn a_message_that_names_a_member_outside_the_cluster_is_dropped() {
    let mut backup = Replica::new_formatted(options(), 2, KvStore::new(), 0);
    drain_sends(&mut backup);
    let svc = StartViewChange { view: 1, from: 9, handing_over: true, promised_view: 0, config: config_stamp() };
    backup.handle_message(450, Message::StartViewChange(svc));
    assert_eq!(backup.counters.messages_invalid, 1);
    assert_eq!(backup.take_invalid_reason(), Some("a sender outside the cluster"));
    assert_eq!(backup.status(), Status::Normal);
    let mut bad = config_stamp();
    bad.membership = Membership::initial(2, 0);
    let svc = StartViewChange { view: 1, from: 0, handing_over: true, promised_view: 0, config: bad };
    backup.handle_message(450, Message::StartViewChange(svc));
    assert_eq!(backup.counters.messages_invalid, 2, "a membership that leaves a member out");
}

#[test]
fn do_view_change_waits_for_the_durable_view() {
    let mut backup = Replica::new_formatted(options(), 2, KvStore::new(), 0);
    drain_sends(&mut backup);
    // The primary itself hands over: its follower joins at once.
    let svc = StartViewChange { view: 1, from: 0, handing_over: true, promised_view: 0, config: config_stamp() };
    backup.handle_message(1, Message::StartViewChange(svc));
    assert_eq!(backup.status(), Status::ViewChange);
    assert_eq!(backup.view(), 1);
    let sends = drain_sends(&mut backup);
    assert!(sends.iter().all(|out| !matches!(out.message, Message::DoViewChange(_))));
    let persists = drain_persists(&mut backup);
    assert!(matches!(persists[0].write, Write::Superblock(Superblock { view: 1, .. })));
    backup.handle_persisted(2, persists[0].id);
    let sends = drain_sends(&mut backup);
    assert!(sends
        .iter()
        .any(|out| out.to == Destination::Member(1) && matches!(out.message, Message::DoViewChange(_))));
}

#[test]
fn a_restarted_primary_hands_over_to_the_next_view() {
    let durable = format_durable(crate::release::NEWEST_RELEASE);
    let replica = Replica::open(options(), 0, durable, KvStore::new(), 0);
    assert_eq!(replica.status(), Status::ViewChange);
    assert_eq!(replica.view(), 1);
}

#[test]
fn a_binary_older_than_the_cluster_release_halts_and_writes_nothing() {
    let mut options = options();
    options.binary_release = crate::release::Release::new(1, 0, 0);
    let mut durable = format_durable(crate::release::Release::new(1, 2, 0));
    durable.checkpoint = Some(CheckpointData {
        op: 0,
        last_header: Header { op: 0, view: 0, parent: 0, checksum: 0 },
        upgrade: crate::upgrade::UpgradeState::new(crate::release::Release::new(1, 2, 0)),
        config: super::membership::ConfigState::initial(3, 0),
        state: KvStore::new().snapshot(),
        sessions: Sessions::default().encode(),
    });
    let mut replica = Replica::open(options, 1, durable, KvStore::new(), 0);
    assert_eq!(replica.status(), Status::Halted);
    assert!(replica.halt_reason().unwrap().to_string().contains("1.2.0"));
    assert!(replica.poll_persist().is_none() && replica.poll_send().is_none());
}

#[test]
fn restart_keeps_damaged_entries_as_holes_to_repair() {
    let entries = vec![
        StoredEntry::Intact(put_entry(1, 0)),
        StoredEntry::Damaged(put_entry(2, 0).header),
        StoredEntry::Intact(put_entry(3, 0)),
    ];
    let superblock = Superblock { view: 0, log_view: 0, log_start: 0, release: crate::release::NEWEST_RELEASE };
    let durable = Durable { superblock: Some(superblock), checkpoint: None, entries };
    let replica = Replica::open(options(), 1, durable, KvStore::new(), 0);
    assert_eq!(replica.op(), 3);
    assert!(replica.log().get(2).unwrap().body.is_none());
    assert_eq!(replica.status(), Status::Normal);
}

use alloc::string::ToString;

/// A primary with client 7's session and `a=1` committed, at the newest release.
fn primary_with_a_write() -> Replica<KvStore> {
    let mut primary = Replica::new_formatted(options(), 0, KvStore::new(), 0);
    drain_sends(&mut primary);
    primary.handle_request(1, Request::register(7));
    let persists = drain_persists(&mut primary);
    primary.handle_persisted(1, persists[0].id);
    ack(&mut primary, 1, 1, 1);
    let operation = KvCommand::Put { key: b"a".to_vec(), value: b"1".to_vec() }.encode();
    primary.handle_request(1, Request { client: 7, session: 1, request: 1, operation });
    let persists = drain_persists(&mut primary);
    primary.handle_persisted(2, persists[0].id);
    ack(&mut primary, 2, 2, 1);
    assert_eq!(primary.commit(), 2);
    drain_sends(&mut primary);
    primary
}

fn read_a(request: RequestNumber) -> Request {
    Request { client: 7, session: 1, request, operation: KvCommand::Get { key: b"a".to_vec() }.encode() }
}

fn replies(sends: &[Outgoing]) -> Vec<&crate::message::Reply> {
    sends
        .iter()
        .filter_map(|out| match &out.message {
            Message::Reply(reply) => Some(reply),
            _ => None,
        })
        .collect()
}

#[test]
fn a_read_by_index_waits_for_a_quorum_round_and_logs_nothing() {
    use crate::message::PrimacyConfirmed;
    let mut primary = primary_with_a_write();
    assert_eq!(primary.handle_request(3, read_a(2)), RequestOutcome::Queued);
    assert_eq!(primary.handle_request(3, read_a(2)), RequestOutcome::InProgress, "a resend waits with it");
    let sends = drain_sends(&mut primary);
    let rounds: Vec<u64> = sends
        .iter()
        .filter_map(|out| match &out.message {
            Message::ConfirmPrimacy(confirm) => Some(confirm.round),
            _ => None,
        })
        .collect();
    assert_eq!(rounds, [1, 1], "one round, to both other voters, for the read and its resend");
    assert!(replies(&sends).is_empty(), "no answer before a quorum confirms");
    // A confirmation of another view, or of no round yet sent, confirms nothing.
    primary.handle_message(4, Message::PrimacyConfirmed(PrimacyConfirmed { view: 1, from: 1, round: 1 }));
    assert!(replies(&drain_sends(&mut primary)).is_empty());
    primary.handle_message(4, Message::PrimacyConfirmed(PrimacyConfirmed { view: 0, from: 2, round: 1 }));
    let sends = drain_sends(&mut primary);
    let answered = replies(&sends);
    assert_eq!(answered.len(), 1);
    assert_eq!(KvResult::decode(&answered[0].result), Some(KvResult::Value(Some(b"1".to_vec()))));
    assert_eq!((primary.op(), primary.counters.reads_by_index), (2, 1), "no log entry for the read");
}

#[test]
fn a_read_by_index_sees_the_last_op_of_the_log_not_the_commit_number() {
    use crate::message::PrimacyConfirmed;
    let mut primary = primary_with_a_write();
    let operation = KvCommand::Put { key: b"a".to_vec(), value: b"2".to_vec() }.encode();
    primary.handle_request(3, Request { client: 7, session: 1, request: 2, operation });
    let persists = drain_persists(&mut primary);
    primary.handle_persisted(3, persists[0].id);
    assert_eq!((primary.op(), primary.commit()), (3, 2), "a=2 is prepared, not committed");
    primary.handle_request(4, read_a(3));
    drain_sends(&mut primary);
    primary.handle_message(5, Message::PrimacyConfirmed(PrimacyConfirmed { view: 0, from: 1, round: 1 }));
    assert!(replies(&drain_sends(&mut primary)).iter().all(|reply| reply.request != 3), "waits for op 3");
    ack(&mut primary, 6, 3, 1);
    let sends = drain_sends(&mut primary);
    let answer = replies(&sends).into_iter().find(|reply| reply.request == 3).expect("answered once op 3 applies");
    assert_eq!(KvResult::decode(&answer.result), Some(KvResult::Value(Some(b"2".to_vec()))));
}

#[test]
fn a_lost_round_is_asked_again_at_the_next_heartbeat() {
    let mut primary = primary_with_a_write();
    primary.handle_request(3, read_a(2));
    drain_sends(&mut primary);
    let heartbeat_at = primary.poll_timeout().expect("the heartbeat timer");
    primary.handle_timeout(heartbeat_at);
    let sends = drain_sends(&mut primary);
    assert!(sends.iter().any(|out| matches!(&out.message, Message::ConfirmPrimacy(confirm) if confirm.round == 2)));
}

#[test]
fn below_1_4_0_reads_go_through_the_log() {
    let release = Release::new(1, 3, 0);
    let options = Options { binary_release: release, initial_release: release, ..options() };
    let mut primary = Replica::new_formatted(options, 0, KvStore::new(), 0);
    drain_sends(&mut primary);
    primary.handle_request(1, Request::register(7));
    assert_eq!(primary.op(), 1);
    primary.handle_request(1, read_a(1));
    assert_eq!(primary.op(), 2, "the read is an entry of the log");
    let sends = drain_sends(&mut primary);
    assert!(sends.iter().all(|out| !matches!(out.message, Message::ConfirmPrimacy(_))), "no 1.4.0 message");
}

#[test]
fn a_standby_that_does_not_follow_yet_sends_requests_to_the_primary_it_hears() {
    // At 1.0.0 a standby only answers heartbeats: it stays in view 0 while member 1
    // serves view 1, and its requests must go to member 1, not to view 0's primary.
    let mut options = Options::new(3, 1);
    options.initial_release = crate::release::Release::new(1, 0, 0);
    let mut standby = Replica::new_formatted(options, 3, KvStore::new(), 0);
    drain_sends(&mut standby);
    let commit = crate::message::Commit {
        view: 1,
        commit: 0,
        sent_at: 5,
        lease_remaining_ticks: 0,
        config: ConfigStamp { membership: Membership::initial(3, 1), ..config_stamp() },
        checkpoint: 0,
        release: crate::release::NEWEST_RELEASE,
        cluster_release: crate::release::Release::new(1, 0, 0),
        from: 1,
    };
    standby.handle_message(5, Message::Commit(commit));
    assert_eq!(standby.view(), 0, "it does not follow at 1.0.0");
    assert_eq!(standby.primary_hint(), 0, "its own view's primary");
    assert_eq!(standby.request_target(), 1, "the primary it heard serve a newer view");
}

#[test]
fn a_stepping_down_primary_grants_no_lease_and_hands_over_once_its_lease_is_out() {
    let mut primary = Replica::new_formatted(options(), 0, KvStore::new(), 0);
    drain_sends(&mut primary);
    assert!(primary.is_serving_primary());
    assert!(!Replica::new_formatted(options(), 1, KvStore::new(), 0).step_down(0), "only a primary hands over");
    let mut alone = Replica::new_formatted(Options::new(1, 0), 0, KvStore::new(), 0);
    assert!(alone.is_serving_primary() && !alone.step_down(0), "a lone primary has no one to hand over to");
    // A quorum heard it at tick 10: its heartbeat at 20 grants a lease.
    let heartbeat = |from, sent_at| {
        Message::Heartbeat(crate::message::Heartbeat {
            view: 0,
            from,
            op: 0,
            commit: 0,
            release: crate::release::NEWEST_RELEASE,
            echo_sent_at: sent_at,
        })
    };
    primary.handle_message(10, heartbeat(1, 10));
    let interval = options().heartbeat_interval_ticks;
    primary.handle_timeout(10 + interval);
    let granted = drain_sends(&mut primary)
        .into_iter()
        .find_map(|out| match out.message {
            Message::Commit(commit) => Some(commit.lease_remaining_ticks),
            _ => None,
        })
        .expect("a heartbeat");
    assert!(granted > 0, "a lease before the step-down");
    let lease_until = 10 + interval + granted;

    assert!(primary.step_down(10 + interval + 1));
    primary.handle_timeout(lease_until - 1);
    let before = drain_sends(&mut primary);
    assert!(
        before.iter().all(|out| !matches!(out.message, Message::StartViewChange(_))),
        "no hand-over while a granted lease lasts"
    );
    assert!(
        before.iter().all(|out| !matches!(&out.message, Message::Commit(commit) if commit.lease_remaining_ticks > 0)),
        "no new lease once stepping down"
    );
    primary.handle_timeout(lease_until);
    let handed = drain_sends(&mut primary);
    assert!(
        handed
            .iter()
            .any(|out| matches!(&out.message, Message::StartViewChange(svc) if svc.view == 1 && svc.handing_over)),
        "it hands over to view 1 once the lease is out"
    );
    assert!(!primary.is_serving_primary());
}
