//! What the log may carry at each release, from the spec's feature table and nothing
//! else: a command the cluster's release lacks must be refused before it is ever
//! logged, and only a cluster at `batched_prepares` packs requests.
//!
//! The replica decides the same from `release.rs` and `state_machine/command.rs`; this
//! table is written again from the spec on purpose, so that a slip in either (a
//! command given the wrong feature, a check skipped) is seen here. A refused command
//! that reaches the log changes no state, so no other checker notices it.

use crate::release::Release;

/// The spec's release of `batched_prepares`.
const BATCHED_PREPARES: Release = Release::new(1, 2, 0);
/// The spec's release of `kv_commands`.
const KV_COMMANDS: Release = Release::new(1, 4, 0);

/// The release a logged operation needs, read from postcard's leading variant index
/// (one byte below 128); `None` for an index the table does not know.
fn release_needed(operation: &[u8]) -> Option<Release> {
    let base = Release::new(1, 0, 0);
    // A session's registration carries no command.
    let Some(tag) = operation.first() else { return Some(base) };
    Some(match *tag {
        // PUT, GET, DEL, EXISTS, INCRBY, MGET, MSET.
        0..=6 => base,
        // SET with options, APPEND, STRLEN, GETDEL, SCAN, KEYS, DBSIZE, SETNX, and a
        // pipeline (which 1.3.0 code cannot decode).
        7..=15 => KV_COMMANDS,
        _ => return None,
    })
}

/// A violation when an op logged at `release` by a primary on `binary` carries
/// `operation`, which the release lacks and the binary knows (or which the table does
/// not know: a new command must be added to it).
pub fn check_operation(op: u64, release: Release, binary: Release, operation: &[u8]) -> Option<alloc::string::String> {
    match release_needed(operation) {
        Some(needed) if needed <= release || needed > binary => None,
        Some(needed) => Some(alloc::format!(
            "op {op} logged a command that needs release {needed} while the cluster ran {release}, prepared on a {binary} binary that knows it: a refused command must never enter the log"
        )),
        None => Some(alloc::format!(
            "op {op} logged command #{} that the checkers' feature table does not know (add it from the spec)",
            operation.first().copied().unwrap_or_default()
        )),
    }
}

/// A violation when an op at `release` packs `requests` requests before batching is on.
pub fn check_batch(op: u64, release: Release, requests: usize) -> Option<alloc::string::String> {
    (requests > 1 && release < BATCHED_PREPARES)
        .then(|| alloc::format!("op {op} batched {requests} requests before batched_prepares was on"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_machine::{KvCommand, SetCondition};
    use alloc::vec;

    fn at(text: &str) -> Release {
        text.parse().unwrap()
    }

    #[test]
    fn base_commands_log_at_every_release_and_later_ones_from_1_4_0() {
        let put = KvCommand::Put { key: vec![1], value: vec![2] }.encode();
        let set_nx = KvCommand::Set { key: vec![1], value: vec![2], condition: SetCondition::IfAbsent, get: false };
        let pipeline = KvCommand::Pipeline { commands: vec![put.clone()] }.encode();
        let new = at("1.4.0");
        assert_eq!(check_operation(1, at("1.0.0"), new, &put), None);
        assert_eq!(check_operation(1, at("1.0.0"), new, &[]), None, "a registration");
        assert!(check_operation(2, at("1.3.0"), new, &set_nx.encode()).unwrap().contains("needs release 1.4.0"));
        assert_eq!(
            check_operation(2, at("1.3.0"), at("1.3.0"), &set_nx.encode()),
            None,
            "old code logs it as malformed"
        );
        assert_eq!(check_operation(3, at("1.4.0"), new, &set_nx.encode()), None);
        assert!(check_operation(4, at("1.3.0"), new, &pipeline).is_some());
        assert!(check_operation(5, at("1.4.0"), new, &[200]).unwrap().contains("does not know"));
    }

    /// One of each command, by an exhaustive match: a variant appended to `KvCommand`
    /// stops this test compiling until the table and this list know it.
    fn one_of_each() -> vec::Vec<(KvCommand, &'static str)> {
        let key = || vec![7u8];
        let all = vec![
            KvCommand::Put { key: key(), value: key() },
            KvCommand::Get { key: key() },
            KvCommand::Delete { keys: vec![key()] },
            KvCommand::Exists { keys: vec![key()] },
            KvCommand::Increment { key: key(), by: 1 },
            KvCommand::GetMany { keys: vec![key()] },
            KvCommand::PutMany { pairs: vec![(key(), key())] },
            KvCommand::Set { key: key(), value: key(), condition: SetCondition::IfPresent, get: true },
            KvCommand::Append { key: key(), value: key() },
            KvCommand::StrLen { key: key() },
            KvCommand::GetDel { key: key() },
            KvCommand::Scan { cursor: 0, pattern: None, count: 10 },
            KvCommand::Keys { pattern: key() },
            KvCommand::DbSize,
            KvCommand::SetNx { key: key(), value: key() },
            KvCommand::Pipeline { commands: vec![] },
        ];
        all.into_iter()
            .map(|command| {
                let since = match &command {
                    KvCommand::Put { .. }
                    | KvCommand::Get { .. }
                    | KvCommand::Delete { .. }
                    | KvCommand::Exists { .. }
                    | KvCommand::Increment { .. }
                    | KvCommand::GetMany { .. }
                    | KvCommand::PutMany { .. } => "1.0.0",
                    KvCommand::Set { .. }
                    | KvCommand::Append { .. }
                    | KvCommand::StrLen { .. }
                    | KvCommand::GetDel { .. }
                    | KvCommand::Scan { .. }
                    | KvCommand::Keys { .. }
                    | KvCommand::DbSize
                    | KvCommand::SetNx { .. }
                    | KvCommand::Pipeline { .. } => "1.4.0",
                };
                (command, since)
            })
            .collect()
    }

    #[test]
    fn the_table_gives_every_command_its_spec_release() {
        for (command, since) in one_of_each() {
            assert_eq!(release_needed(&command.encode()), Some(at(since)), "{command:?}");
        }
    }

    #[test]
    fn batching_waits_for_1_2_0() {
        assert!(check_batch(1, at("1.1.0"), 2).is_some());
        assert_eq!(check_batch(1, at("1.1.0"), 1), None);
        assert_eq!(check_batch(1, at("1.2.0"), 9), None);
    }
}
