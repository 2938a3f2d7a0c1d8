//! Client sessions: the newest request of each client and its reply, so that a
//! resent request is answered from the cache and a write applies exactly once.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::checksum::Hasher64;
use crate::types::{ClientId, Op, RequestNumber};

/// Sessions kept before the least recently committed one is evicted.
pub const SESSIONS_MAX: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub request: RequestNumber,
    pub reply: Vec<u8>,
    /// The op that committed `request`; evictions go by it.
    pub op: Op,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    by_client: BTreeMap<ClientId, Session>,
}

impl Sessions {
    pub fn get(&self, client: ClientId) -> Option<&Session> {
        self.by_client.get(&client)
    }

    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// True when `request` was already applied for `client` (a duplicate).
    pub fn is_duplicate(&self, client: ClientId, request: RequestNumber) -> bool {
        self.by_client.get(&client).is_some_and(|session| request <= session.request)
    }

    pub fn record(&mut self, client: ClientId, request: RequestNumber, reply: Vec<u8>, op: Op) {
        debug_assert!(!self.is_duplicate(client, request));
        if !self.by_client.contains_key(&client) && self.by_client.len() >= SESSIONS_MAX {
            // Deterministic: the same on every replica since all apply the same ops.
            let oldest = self.by_client.iter().min_by_key(|(id, session)| (session.op, **id)).map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                self.by_client.remove(&oldest);
            }
        }
        self.by_client.insert(client, Session { request, reply, op });
    }

    pub fn digest(&self) -> u64 {
        let mut hasher = Hasher64::new();
        for (client, session) in &self.by_client {
            hasher.write_u64(*client);
            hasher.write_u64(session.request);
            hasher.write_bytes(&session.reply);
        }
        hasher.finish()
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("sessions always encode")
    }

    pub fn decode(bytes: &[u8]) -> Option<Sessions> {
        postcard::from_bytes(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn duplicates_and_round_trip() {
        let mut sessions = Sessions::default();
        assert!(!sessions.is_duplicate(1, 1));
        sessions.record(1, 1, vec![7], 3);
        assert!(sessions.is_duplicate(1, 1));
        assert!(!sessions.is_duplicate(1, 2));
        assert_eq!(Sessions::decode(&sessions.encode()), Some(sessions.clone()));
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let mut sessions = Sessions::default();
        for client in 0..SESSIONS_MAX as u64 {
            sessions.record(client, 1, vec![], 100 + client);
        }
        sessions.record(99_999, 1, vec![], 1_000_000);
        assert_eq!(sessions.len(), SESSIONS_MAX);
        assert!(sessions.get(0).is_none());
        assert!(sessions.get(1).is_some());
    }
}
