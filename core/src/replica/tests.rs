//! Unit tests of one replica driven by hand; cluster behaviour is tested in the simulator.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::message::{Body, ClientRequest, Prepare, PrepareOk, StartViewChange};
use crate::state_machine::{KvCommand, KvStore};

fn options() -> Options {
    Options::new(3, 0)
}

fn drain_sends(replica: &mut Replica<KvStore>) -> Vec<Outgoing> {
    core::iter::from_fn(|| replica.poll_send()).collect()
}

fn drain_persists(replica: &mut Replica<KvStore>) -> Vec<Persist> {
    core::iter::from_fn(|| replica.poll_persist()).collect()
}

fn put_entry(op: Op, view: View) -> Entry {
    let operation = KvCommand::Put { key: b"k".to_vec(), value: vec![op as u8] }.encode();
    Entry::new(op, view, Body::Requests(vec![ClientRequest { client: 1, request: op, operation }]))
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

#[test]
fn primary_commits_only_with_a_durable_quorum() {
    let mut primary = Replica::new_formatted(options(), 0, KvStore::new(), 0);
    drain_sends(&mut primary);
    let operation = KvCommand::Put { key: b"a".to_vec(), value: b"1".to_vec() }.encode();
    primary.handle_request(1, Request { client: 7, request: 1, operation });
    assert_eq!(primary.op(), 1);
    let persists = drain_persists(&mut primary);
    // A backup's ack alone is not a quorum of 2 durable copies until the primary's own write lands.
    let ok = PrepareOk { view: 0, op: 1, from: 1, release: crate::release::NEWEST_RELEASE };
    primary.handle_message(2, Message::PrepareOk(ok));
    assert_eq!(primary.commit(), 0);
    primary.handle_persisted(3, persists[0].id);
    assert_eq!(primary.commit(), 1);
    let sends = drain_sends(&mut primary);
    assert!(sends.iter().any(|out| out.to == Destination::Client(7) && matches!(out.message, Message::Reply(_))));
}

#[test]
fn do_view_change_waits_for_the_durable_view() {
    let mut backup = Replica::new_formatted(options(), 2, KvStore::new(), 0);
    drain_sends(&mut backup);
    backup.handle_message(1, Message::StartViewChange(StartViewChange { view: 1, from: 0 }));
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
        last_header: Header { op: 0, view: 0, checksum: 0 },
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
