//! The replicated state machine behind a trait, and the built-in key-value machine.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::checksum::Hasher64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotError;

/// What the replicas apply, in log order, identically on every member.
pub trait StateMachine {
    /// Apply one operation (in the machine's own encoding) and return its result.
    /// Must be deterministic: the same operations in the same order give the same state.
    fn apply(&mut self, operation: &[u8]) -> Vec<u8>;
    /// A digest of the whole state, maintained cheaply: the checkers call it often.
    fn digest(&self) -> u64;
    fn snapshot(&self) -> Vec<u8>;
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), SnapshotError>;
    /// The encoded result of a request the replica refused without applying it, such
    /// as one whose session was evicted (`code` is the spec's kebab-case code).
    fn refusal(code: &str) -> Vec<u8>
    where
        Self: Sized;
}

/// Commands of the key-value machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvCommand {
    Put { key: Vec<u8>, value: Vec<u8> },
    Get { key: Vec<u8> },
    Delete { keys: Vec<Vec<u8>> },
    Exists { keys: Vec<Vec<u8>> },
    Increment { key: Vec<u8>, by: i64 },
    GetMany { keys: Vec<Vec<u8>> },
    PutMany { pairs: Vec<(Vec<u8>, Vec<u8>)> },
}

impl KvCommand {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a KvCommand always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Option<KvCommand> {
        postcard::from_bytes(bytes).ok()
    }

    pub fn is_read_only(&self) -> bool {
        matches!(self, KvCommand::Get { .. } | KvCommand::Exists { .. } | KvCommand::GetMany { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvResult {
    Ok,
    Value(Option<Vec<u8>>),
    Values(Vec<Option<Vec<u8>>>),
    Integer(i64),
    Error(String),
}

impl KvResult {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a KvResult always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Option<KvResult> {
        postcard::from_bytes(bytes).ok()
    }
}

/// An ordered map with a digest kept up to date on every change (an XOR of per-pair
/// hashes), so that digests cost nothing to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    digest: u64,
}

fn pair_hash(key: &[u8], value: &[u8]) -> u64 {
    let mut hasher = Hasher64::new();
    hasher.write_u64(key.len() as u64);
    hasher.write_bytes(key);
    hasher.write_bytes(value);
    hasher.finish()
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
        if let Some(old) = self.map.insert(key.clone(), value) {
            self.digest ^= pair_hash(&key, &old);
        }
    }

    fn delete(&mut self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            Some(old) => {
                self.digest ^= pair_hash(key, &old);
                true
            }
            None => false,
        }
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
        }
    }
}

impl StateMachine for KvStore {
    fn apply(&mut self, operation: &[u8]) -> Vec<u8> {
        let result = match KvCommand::decode(operation) {
            Some(command) => self.execute(command),
            None => KvResult::Error(String::from("malformed key-value command")),
        };
        result.encode()
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
        let result = KvResult::decode(&kv.apply(&[0xff])).unwrap();
        assert!(matches!(result, KvResult::Error(_)));
    }
}
