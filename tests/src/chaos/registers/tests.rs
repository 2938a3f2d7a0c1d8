//! The register checker on histories known to be good and known to be bad.

use super::*;

fn write(client: u32, key: &str, value: &str, invoked_at: u64, completed_at: u64) -> Operation {
    Operation {
        client,
        key: key.into(),
        call: Call::Write(value.into()),
        outcome: Outcome::Written,
        invoked_at,
        completed_at: Some(completed_at),
    }
}

fn unknown_write(client: u32, key: &str, value: &str, invoked_at: u64) -> Operation {
    Operation {
        client,
        key: key.into(),
        call: Call::Write(value.into()),
        outcome: Outcome::Unknown,
        invoked_at,
        completed_at: None,
    }
}

fn read(client: u32, key: &str, seen: Option<&str>, invoked_at: u64, completed_at: u64) -> Operation {
    Operation {
        client,
        key: key.into(),
        call: Call::Read,
        outcome: Outcome::Read(seen.map(String::from)),
        invoked_at,
        completed_at: Some(completed_at),
    }
}

#[test]
fn sequential_and_concurrent_histories_that_hold() {
    let sequential = [read(1, "k", None, 0, 1), write(1, "k", "a", 2, 3), read(2, "k", Some("a"), 4, 5)];
    assert_eq!(check(&sequential), vec![]);
    // Two overlapping writes: a read after both may see either, and later reads agree.
    let concurrent = [
        write(1, "k", "a", 0, 10),
        write(2, "k", "b", 1, 9),
        read(3, "k", Some("a"), 11, 12),
        read(4, "k", Some("a"), 13, 14),
    ];
    assert_eq!(check(&concurrent), vec![]);
    // A read overlapping a write may see the old value or the new one.
    let overlapping = [write(1, "k", "a", 0, 1), write(1, "k", "b", 2, 10), read(2, "k", Some("a"), 3, 4)];
    assert_eq!(check(&overlapping), vec![]);
}

#[test]
fn a_stale_read_is_caught() {
    let history = [write(1, "k", "a", 0, 1), write(1, "k", "b", 2, 3), read(2, "k", Some("a"), 4, 5)];
    let violations = check(&history);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].key, "k");
    assert!(violations[0].placed_at_most < 3, "{}", violations[0]);
}

#[test]
fn a_lost_write_is_caught() {
    // Acknowledged, then a later read finds the register empty.
    let history = [write(1, "k", "a", 0, 1), read(2, "k", None, 2, 3)];
    assert_eq!(check(&history).len(), 1);
}

#[test]
fn a_read_of_a_value_never_written_is_caught() {
    let history = [write(1, "k", "a", 0, 1), read(2, "k", Some("z"), 2, 3)];
    assert_eq!(check(&history).len(), 1);
}

#[test]
fn a_real_time_order_violation_is_caught() {
    // The write of a is still pending when client 2 sees it; client 3, reading after
    // client 2's read finished, must see it too.
    let history = [write(1, "k", "a", 0, 10), read(2, "k", Some("a"), 1, 2), read(3, "k", None, 3, 4)];
    assert_eq!(check(&history).len(), 1);
    // Had the reads overlapped, either order would do.
    let overlapping = [write(1, "k", "a", 0, 10), read(2, "k", Some("a"), 1, 4), read(3, "k", None, 3, 5)];
    assert_eq!(check(&overlapping), vec![]);
}

#[test]
fn unknown_writes_may_have_happened_or_not_but_not_both() {
    let seen = [unknown_write(1, "k", "a", 0), read(2, "k", Some("a"), 5, 6)];
    assert_eq!(check(&seen), vec![], "a timed-out write may have been applied");
    let unseen = [unknown_write(1, "k", "a", 0), read(2, "k", None, 5, 6)];
    assert_eq!(check(&unseen), vec![], "or not");
    let before_invoked = [read(2, "k", Some("a"), 0, 1), unknown_write(1, "k", "a", 5)];
    assert_eq!(check(&before_invoked).len(), 1, "but never before it was sent");
    let flip_flop = [
        write(1, "k", "x", 0, 1),
        unknown_write(2, "k", "a", 2),
        read(3, "k", Some("a"), 5, 6),
        read(3, "k", Some("x"), 7, 8),
    ];
    assert_eq!(check(&flip_flop).len(), 1, "seen, then unseen, with no other write");
}

#[test]
fn failed_operations_never_happened_and_keys_are_apart() {
    let failed = Operation {
        client: 1,
        key: "k".into(),
        call: Call::Write("a".into()),
        outcome: Outcome::Failed,
        invoked_at: 0,
        completed_at: Some(1),
    };
    assert_eq!(check(&[failed.clone(), read(2, "k", None, 2, 3)]), vec![]);
    assert_eq!(check(&[failed, read(2, "k", Some("a"), 2, 3)]).len(), 1, "a failed write cannot be seen");
    let two_keys = [write(1, "k", "a", 0, 1), read(2, "j", None, 2, 3), read(2, "k", Some("a"), 4, 5)];
    assert_eq!(check(&two_keys), vec![]);
}

#[test]
fn long_histories_of_many_clients_check_quickly_enough_to_finish() {
    // 8 clients, 150 operations each, on one key, every one overlapping its neighbours:
    // the memoised search must finish (a correctness test, not a timed one).
    let mut history = Vec::new();
    for round in 0..150u64 {
        for client in 0..8u32 {
            let at = round * 10 + client as u64;
            if client == 0 {
                history.push(write(client, "k", &format!("v{round}"), at, at + 5));
            } else {
                let seen = format!("v{round}");
                history.push(read(client, "k", Some(&seen), at + 6, at + 9));
            }
        }
    }
    assert_eq!(check(&history), vec![]);
    history.push(read(9, "k", Some("v3"), 10_000, 10_001));
    assert_eq!(check(&history).len(), 1, "a read of a long-gone value at the end");
}
