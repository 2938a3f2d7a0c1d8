//! The built-in key-value machine: an ordered map of byte strings.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::command::{
    KvCommand, KvResult, SetCondition, KEYS_REPLY_MAX, MALFORMED, PIPELINE_COMMANDS_MAX, PIPELINE_FEATURE,
    SCAN_COUNT_MAX,
};
use super::glob::glob_match;
use super::{SnapshotError, StateMachine};
use crate::checksum::Hasher64;
use crate::release::Release;

/// An ordered map with a digest kept up to date on every change (an XOR of per-pair
/// hashes), so that digests cost nothing to read. Keys are also indexed by a hash of
/// each, for SCAN: Redis clients take a cursor for a number, and a number cannot name
/// a place among arbitrary byte keys, but it can name a place in hash order, which
/// insertions and deletions elsewhere do not move.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    by_hash: BTreeSet<(u64, Vec<u8>)>,
    digest: u64,
}

fn pair_hash(key: &[u8], value: &[u8]) -> u64 {
    let mut hasher = Hasher64::new();
    hasher.write_u64(key.len() as u64);
    hasher.write_bytes(key);
    hasher.write_bytes(value);
    hasher.finish()
}

/// A key's place in SCAN order; never 0, the cursor that starts and ends a scan.
fn scan_hash(key: &[u8]) -> u64 {
    let mut hasher = Hasher64::new();
    hasher.write_u64(0x5ca9);
    hasher.write_bytes(key);
    hasher.finish().max(1)
}

impl KvStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.map.get(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.digest ^= pair_hash(&key, &value);
        match self.map.get_mut(&key) {
            Some(slot) => {
                let old = core::mem::replace(slot, value);
                self.digest ^= pair_hash(&key, &old);
            }
            None => {
                self.by_hash.insert((scan_hash(&key), key.clone()));
                self.map.insert(key, value);
            }
        }
    }

    /// Removes the key; its value, if it had one.
    fn take(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let old = self.map.remove(key)?;
        self.digest ^= pair_hash(key, &old);
        self.by_hash.remove(&(scan_hash(key), key.to_vec()));
        Some(old)
    }

    fn delete(&mut self, key: &[u8]) -> bool {
        self.take(key).is_some()
    }

    /// One SCAN page: up to `count` keys in hash order from `cursor`, then every key
    /// sharing the last one's hash (so a page never ends inside a group the next could
    /// not tell apart), filtered by `pattern`. A key present from the scan's start to
    /// its end is returned exactly once, whatever else changes, as Redis promises.
    fn scan(&self, cursor: u64, pattern: Option<&[u8]>, count: u32) -> KvResult {
        let count = count.clamp(1, SCAN_COUNT_MAX) as usize;
        let mut visited = 0;
        let mut last_hash = None;
        let mut keys = Vec::new();
        let mut entries = self.by_hash.range((cursor, Vec::new())..).peekable();
        while let Some((hash, key)) = entries.peek() {
            if visited >= count && last_hash != Some(*hash) {
                return KvResult::Scan { cursor: *hash, keys };
            }
            if pattern.is_none_or(|pattern| glob_match(pattern, key)) {
                keys.push(key.clone());
            }
            last_hash = Some(*hash);
            visited += 1;
            entries.next();
        }
        KvResult::Scan { cursor: 0, keys }
    }

    fn keys(&self, pattern: &[u8]) -> KvResult {
        let mut keys = Vec::new();
        for key in self.map.keys().filter(|key| glob_match(pattern, key)) {
            if keys.len() == KEYS_REPLY_MAX {
                return KvResult::Error(alloc::format!(
                    "KEYS {} matches more than {KEYS_REPLY_MAX} keys, more than one reply carries: use SCAN",
                    String::from_utf8_lossy(pattern)
                ));
            }
            keys.push(Some(key.clone()));
        }
        KvResult::Values(keys)
    }

    pub fn execute(&mut self, command: KvCommand) -> KvResult {
        match command {
            KvCommand::Put { key, value } => {
                self.put(key, value);
                KvResult::Ok
            }
            KvCommand::Get { key } => KvResult::Value(self.map.get(&key).cloned()),
            KvCommand::Delete { keys } => KvResult::Integer(keys.iter().filter(|key| self.delete(key)).count() as i64),
            KvCommand::Exists { keys } => {
                KvResult::Integer(keys.iter().filter(|key| self.map.contains_key(*key)).count() as i64)
            }
            KvCommand::Increment { key, by } => {
                let current = match self.map.get(&key) {
                    None => 0,
                    Some(bytes) => match core::str::from_utf8(bytes).ok().and_then(|t| t.parse::<i64>().ok()) {
                        Some(number) => number,
                        None => return KvResult::Error(String::from("value is not an integer or out of range")),
                    },
                };
                let Some(next) = current.checked_add(by) else {
                    return KvResult::Error(String::from("increment or decrement would overflow"));
                };
                self.put(key, alloc::format!("{next}").into_bytes());
                KvResult::Integer(next)
            }
            KvCommand::GetMany { keys } => {
                KvResult::Values(keys.iter().map(|key| self.map.get(key).cloned()).collect())
            }
            KvCommand::PutMany { pairs } => {
                for (key, value) in pairs {
                    self.put(key, value);
                }
                KvResult::Ok
            }
            KvCommand::Set { key, value, condition, get } => {
                let old = self.map.get(&key).cloned();
                let write = match condition {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => old.is_none(),
                    SetCondition::IfPresent => old.is_some(),
                };
                if write {
                    self.put(key, value);
                }
                match (get, write) {
                    (true, _) => KvResult::Value(old),
                    (false, true) => KvResult::Ok,
                    (false, false) => KvResult::Value(None),
                }
            }
            KvCommand::Append { key, value } => {
                let mut joined = self.map.get(&key).cloned().unwrap_or_default();
                joined.extend_from_slice(&value);
                let length = joined.len() as i64;
                self.put(key, joined);
                KvResult::Integer(length)
            }
            KvCommand::StrLen { key } => KvResult::Integer(self.map.get(&key).map_or(0, |value| value.len() as i64)),
            KvCommand::GetDel { key } => KvResult::Value(self.take(&key)),
            KvCommand::Scan { cursor, pattern, count } => self.scan(cursor, pattern.as_deref(), count),
            KvCommand::Keys { pattern } => self.keys(&pattern),
            KvCommand::DbSize => KvResult::Integer(self.map.len() as i64),
            KvCommand::Pipeline { commands } => self.execute_pipeline(None, commands.iter().map(Vec::as_slice)),
            KvCommand::SetNx { key, value } => {
                if self.map.contains_key(&key) {
                    KvResult::Integer(0)
                } else {
                    self.put(key, value);
                    KvResult::Integer(1)
                }
            }
        }
    }

    /// Runs `command` as the code of `release` runs it. A command that came after
    /// `release` can only be in the log because a primary of an older release logged
    /// it (a newer one refuses it before logging, `admit`), and that release's code
    /// cannot decode it: so it changes nothing and answers exactly what the old code
    /// answers, [`MALFORMED`], on every member alike. (Answering `feature-off` here
    /// instead would cache another reply in the sessions than the old members do, and
    /// the members would diverge.)
    pub fn execute_at(&mut self, release: Release, command: KvCommand) -> KvResult {
        if let KvCommand::Pipeline { commands } = &command {
            return self.execute_pipeline(Some(release), commands.iter().map(Vec::as_slice));
        }
        match command.check_release(release) {
            Ok(()) => self.execute(command),
            Err(_) => KvResult::Error(String::from(MALFORMED)),
        }
    }

    /// A pipeline's commands, in order, each at `release` as `execute_at` runs it (or
    /// unchecked, without one): one that does not decode, is itself a pipeline, or
    /// came after the release answers malformed alone and changes nothing. So a newer
    /// member answers each command as the code of the release answers it: that code
    /// decodes the pipeline but not a command it never had. Below `PIPELINE_FEATURE`,
    /// or past `PIPELINE_COMMANDS_MAX`, the whole pipeline is malformed.
    fn execute_pipeline<'a>(
        &mut self,
        release: Option<Release>,
        parts: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> KvResult {
        let malformed = || KvResult::Error(String::from(MALFORMED));
        if parts.len() > PIPELINE_COMMANDS_MAX || release.is_some_and(|release| !PIPELINE_FEATURE.enabled_at(release)) {
            return malformed();
        }
        KvResult::Results(
            parts
                .map(|part| match KvCommand::decode(part).filter(|_| !KvCommand::is_pipeline(part)) {
                    Some(command) => match release {
                        Some(release) => self.execute_at(release, command).encode(),
                        None => self.execute(command).encode(),
                    },
                    None => malformed().encode(),
                })
                .collect(),
        )
    }
}

impl StateMachine for KvStore {
    fn apply(&mut self, release: Release, operation: &[u8]) -> Vec<u8> {
        if KvCommand::is_pipeline(operation) {
            // Decoded part by part from the borrowed bytes: one copy, not two.
            let result = match KvCommand::pipeline_parts(operation) {
                Some(parts) => self.execute_pipeline(Some(release), parts.into_iter()),
                None => KvResult::Error(String::from(MALFORMED)),
            };
            return result.encode();
        }
        let result = match KvCommand::decode(operation) {
            Some(command) => self.execute_at(release, command),
            None => KvResult::Error(String::from(MALFORMED)),
        };
        result.encode()
    }

    fn admit(release: Release, operation: &[u8]) -> Result<(), Vec<u8>> {
        KvCommand::check_release_encoded(operation, release).map_err(|refusal| KvResult::Error(refusal).encode())
    }

    fn digest(&self) -> u64 {
        self.digest
    }

    fn refusal(code: &str) -> Vec<u8> {
        KvResult::Error(String::from(code)).encode()
    }

    fn snapshot(&self) -> Vec<u8> {
        let pairs: Vec<(&Vec<u8>, &Vec<u8>)> = self.map.iter().collect();
        postcard::to_allocvec(&pairs).expect("a snapshot always encodes")
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), SnapshotError> {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = postcard::from_bytes(snapshot).map_err(|_| SnapshotError)?;
        *self = KvStore::new();
        for (key, value) in pairs {
            self.put(key, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn put(kv: &mut KvStore, key: &str, value: &str) {
        kv.execute(KvCommand::Put { key: key.into(), value: value.into() });
    }

    #[test]
    fn digest_depends_on_contents_not_history() {
        let mut a = KvStore::new();
        let mut b = KvStore::new();
        put(&mut a, "x", "1");
        put(&mut a, "y", "2");
        put(&mut b, "y", "2");
        put(&mut b, "x", "0");
        put(&mut b, "x", "1");
        assert_eq!(a.digest(), b.digest());
        b.execute(KvCommand::Delete { keys: vec![b"y".to_vec()] });
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn the_scan_index_follows_the_map() {
        let mut kv = KvStore::new();
        put(&mut kv, "a", "1");
        put(&mut kv, "a", "2");
        put(&mut kv, "b", "1");
        kv.execute(KvCommand::Delete { keys: vec![b"b".to_vec()] });
        assert_eq!(kv.by_hash.len(), kv.map.len());
        let mut restored = KvStore::new();
        restored.restore(&kv.snapshot()).unwrap();
        assert_eq!(restored, kv);
    }

    #[test]
    fn snapshot_restores_state_and_digest() {
        let mut a = KvStore::new();
        put(&mut a, "k", "v");
        assert_eq!(a.execute(KvCommand::Increment { key: b"n".to_vec(), by: 5 }), KvResult::Integer(5));
        let mut b = KvStore::new();
        b.restore(&a.snapshot()).unwrap();
        assert_eq!(a, b);
        assert!(b.restore(&[0xff, 0xff]).is_err());
    }

    #[test]
    fn increment_rejects_non_integers_and_overflow() {
        let mut kv = KvStore::new();
        put(&mut kv, "s", "abc");
        assert!(matches!(kv.execute(KvCommand::Increment { key: b"s".to_vec(), by: 1 }), KvResult::Error(_)));
        put(&mut kv, "m", "9223372036854775807");
        assert!(matches!(kv.execute(KvCommand::Increment { key: b"m".to_vec(), by: 1 }), KvResult::Error(_)));
        assert_eq!(kv.get(b"m").unwrap(), b"9223372036854775807");
    }

    #[test]
    fn malformed_operation_is_an_error_result() {
        let mut kv = KvStore::new();
        let result = KvResult::decode(&kv.apply(Release::new(1, 4, 0), &[0xff])).unwrap();
        assert!(matches!(result, KvResult::Error(_)));
    }

    fn set(key: &str, value: &str, condition: SetCondition, get: bool) -> KvCommand {
        KvCommand::Set { key: key.into(), value: value.into(), condition, get }
    }

    fn value(text: &str) -> KvResult {
        KvResult::Value(Some(text.into()))
    }

    #[test]
    fn conditional_sets_write_only_when_their_condition_holds() {
        let mut kv = KvStore::new();
        assert_eq!(kv.execute(set("k", "1", SetCondition::IfPresent, false)), KvResult::Value(None));
        assert_eq!(kv.get(b"k"), None);
        assert_eq!(kv.execute(set("k", "1", SetCondition::IfAbsent, false)), KvResult::Ok);
        assert_eq!(kv.execute(set("k", "2", SetCondition::IfAbsent, false)), KvResult::Value(None));
        assert_eq!(kv.execute(set("k", "3", SetCondition::IfPresent, true)), value("1"));
        assert_eq!(
            kv.execute(set("k", "4", SetCondition::IfAbsent, true)),
            value("3"),
            "GET answers, NX does not write"
        );
        assert_eq!(kv.execute(set("k", "5", SetCondition::Always, true)), value("3"));
        assert_eq!(kv.get(b"k").unwrap(), b"5");
    }

    #[test]
    fn append_strlen_and_getdel() {
        let mut kv = KvStore::new();
        assert_eq!(kv.execute(KvCommand::Append { key: "k".into(), value: "ab".into() }), KvResult::Integer(2));
        assert_eq!(kv.execute(KvCommand::Append { key: "k".into(), value: "cde".into() }), KvResult::Integer(5));
        assert_eq!(kv.execute(KvCommand::StrLen { key: "k".into() }), KvResult::Integer(5));
        assert_eq!(kv.execute(KvCommand::StrLen { key: "none".into() }), KvResult::Integer(0));
        let digest_with = kv.digest();
        assert_eq!(kv.execute(KvCommand::GetDel { key: "k".into() }), value("abcde"));
        assert_eq!(kv.execute(KvCommand::GetDel { key: "k".into() }), KvResult::Value(None));
        assert_ne!(kv.digest(), digest_with);
        assert_eq!((kv.digest(), kv.execute(KvCommand::DbSize)), (0, KvResult::Integer(0)));
    }

    /// Every page of a full scan, following cursors until 0.
    fn full_scan(kv: &mut KvStore, pattern: Option<&str>, count: u32) -> Vec<Vec<u8>> {
        let mut cursor = 0;
        let mut keys = Vec::new();
        loop {
            let pattern = pattern.map(|p| p.as_bytes().to_vec());
            let KvResult::Scan { cursor: next, keys: page } = kv.execute(KvCommand::Scan { cursor, pattern, count })
            else {
                panic!("SCAN answers a page")
            };
            keys.extend(page);
            if next == 0 {
                return keys;
            }
            assert!(next > cursor, "cursors move forward");
            cursor = next;
        }
    }

    #[test]
    fn a_full_scan_returns_every_key_once() {
        let mut kv = KvStore::new();
        for n in 0..500 {
            put(&mut kv, &alloc::format!("key:{n}"), "v");
        }
        let mut seen = full_scan(&mut kv, None, 7);
        seen.sort();
        let mut all: Vec<Vec<u8>> = kv.map.keys().cloned().collect();
        all.sort();
        assert_eq!(seen, all);
        let matched = full_scan(&mut kv, Some("key:1?"), 50);
        assert_eq!(matched.len(), 10);
        assert_eq!(kv.execute(KvCommand::DbSize), KvResult::Integer(500));
    }

    #[test]
    fn keys_that_stay_are_scanned_once_while_others_come_and_go() {
        let mut kv = KvStore::new();
        for n in 0..200 {
            put(&mut kv, &alloc::format!("stay:{n}"), "v");
        }
        let mut cursor = 0;
        let mut seen = Vec::new();
        let mut round = 0;
        loop {
            // Churn between pages: new keys, and deleted ones.
            put(&mut kv, &alloc::format!("new:{round}"), "v");
            kv.execute(KvCommand::Delete { keys: vec![alloc::format!("new:{}", round / 2).into_bytes()] });
            round += 1;
            let KvResult::Scan { cursor: next, keys } =
                kv.execute(KvCommand::Scan { cursor, pattern: Some(b"stay:*".to_vec()), count: 5 })
            else {
                panic!("a page")
            };
            seen.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!((seen.len(), sorted.len()), (200, 200), "each staying key once");
    }

    #[test]
    fn keys_lists_in_order_and_refuses_a_reply_too_large() {
        let mut kv = KvStore::new();
        for key in ["b", "a", "ab", "c"] {
            put(&mut kv, key, "v");
        }
        let listed = kv.execute(KvCommand::Keys { pattern: b"a*".to_vec() });
        assert_eq!(listed, KvResult::Values(vec![Some(b"a".to_vec()), Some(b"ab".to_vec())]));
        for n in 0..=KEYS_REPLY_MAX {
            put(&mut kv, &alloc::format!("many:{n}"), "");
        }
        assert!(
            matches!(kv.execute(KvCommand::Keys { pattern: b"*".to_vec() }), KvResult::Error(text) if text.contains("use SCAN"))
        );
    }

    #[test]
    fn a_command_of_a_later_release_changes_nothing() {
        let mut kv = KvStore::new();
        let append = KvCommand::Append { key: "k".into(), value: "x".into() };
        // Applied at 1.3.0 it answers what 1.3.0's code answers for bytes it cannot
        // decode, byte for byte, so old and new members cache the same reply.
        let at_1_3_0 = kv.apply(Release::new(1, 3, 0), &append.encode());
        assert_eq!(at_1_3_0, kv.apply(Release::new(1, 3, 0), &[0xff]));
        assert_eq!(KvResult::decode(&at_1_3_0), Some(KvResult::Error(String::from(MALFORMED))));
        assert_eq!(kv.digest(), 0);
        // The admission check before logging is the one that names the release.
        let refusal = KvStore::admit(Release::new(1, 3, 0), &append.encode()).unwrap_err();
        assert_eq!(KvResult::decode(&refusal).unwrap().error_code(), Some(super::super::FEATURE_OFF));
        assert!(KvStore::admit(Release::new(1, 3, 0), &append.encode()).is_err());
        assert!(KvStore::admit(Release::new(1, 4, 0), &append.encode()).is_ok());
        assert!(KvStore::admit(Release::new(1, 0, 0), &KvCommand::Get { key: Vec::new() }.encode()).is_ok());
        assert_eq!(KvResult::decode(&kv.apply(Release::new(1, 4, 0), &append.encode())), Some(KvResult::Integer(1)));
    }

    #[test]
    fn a_pipeline_runs_its_commands_in_order_as_one_op() {
        let put = |key: &str, value: &str| KvCommand::Put { key: key.into(), value: value.into() };
        let commands = [
            put("a", "1"),
            KvCommand::Increment { key: "n".into(), by: 2 },
            KvCommand::Get { key: "a".into() },
            put("a", "2"),
        ];
        let mut one_by_one = KvStore::new();
        let expected: Vec<Vec<u8>> =
            commands.iter().map(|command| one_by_one.execute(command.clone()).encode()).collect();
        let mut encoded: Vec<Vec<u8>> = commands.iter().map(KvCommand::encode).collect();
        let mut pipelined = KvStore::new();
        let release = Release::new(1, 4, 0);
        let result = pipelined.apply(release, &KvCommand::Pipeline { commands: encoded.clone() }.encode());
        assert_eq!(KvResult::decode(&result), Some(KvResult::Results(expected)));
        assert_eq!(pipelined.digest(), one_by_one.digest(), "the same state as the commands one by one");

        // A command that does not decode, or a pipeline inside, answers malformed alone.
        encoded.insert(1, vec![200, 1]);
        encoded.push(KvCommand::Pipeline { commands: Vec::new() }.encode());
        let Some(KvResult::Results(results)) =
            KvResult::decode(&KvStore::new().apply(release, &KvCommand::Pipeline { commands: encoded }.encode()))
        else {
            panic!("a pipeline answers results")
        };
        let malformed = KvResult::Error(String::from(MALFORMED)).encode();
        assert_eq!((results.len(), &results[1], &results[5]), (6, &malformed, &malformed));
        assert_eq!(KvResult::decode(&results[0]), Some(KvResult::Ok));
        // A command of a later release than the op's answers malformed alone, as the
        // code of that release (which decodes the pipeline, not the command) answers.
        let later =
            vec![KvCommand::Put { key: "a".into(), value: "1".into() }.encode(), vec![99, 0], put("b", "2").encode()];
        let mut store = KvStore::new();
        let Some(KvResult::Results(results)) =
            KvResult::decode(&store.apply(release, &KvCommand::Pipeline { commands: later }.encode()))
        else {
            panic!("a pipeline answers results")
        };
        assert_eq!((&results[1], KvResult::decode(&results[2])), (&malformed, Some(KvResult::Ok)));
        assert_eq!(store.execute(KvCommand::Get { key: "b".into() }), KvResult::Value(Some(b"2".to_vec())));
        // Below 1.4.0 the old code cannot decode one: it answers malformed, as 1.3.0 does.
        let old = KvStore::new().apply(Release::new(1, 3, 0), &KvCommand::Pipeline { commands: Vec::new() }.encode());
        assert_eq!(old, malformed);
    }
}
