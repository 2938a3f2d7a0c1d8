//! Client sessions: what makes a resent write apply exactly once.
//!
//! A client registers first; the op that commits its registration is its session, and
//! every later request names it. The table keeps each client's newest request and its
//! reply, so a resend is answered from the cache. The table is bounded: when it is full,
//! a registration evicts the session committed longest ago. A request naming a session
//! that is gone is refused (`session-evicted`), never executed again: the client cannot
//! know whether it was applied, and a table that forgot it cannot either (TigerBeetle
//! evicts clients the same way). A late copy of a registration, after the client moved
//! on, opens nothing. From 1.4.0 a client may renew its session (see `SESSION_TOO_OLD`).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::checksum::Hasher64;
use crate::message::Request;
use crate::types::{ClientId, Op, RequestNumber};

/// Sessions kept before the one committed longest ago is evicted.
pub const SESSIONS_MAX: usize = 4096;

/// The reply code of a request whose session was evicted.
pub const SESSION_EVICTED: &str = "session-evicted";

/// The reply code of a command whose release the cluster runs but the client's session
/// predates. Refusing by the session's release, which never changes, makes the answer
/// the same for every copy of the request at every member, before and after an upgrade
/// commits; the client opens a new session and sends the command again as a new request.
pub const SESSION_TOO_OLD: &str = "session-too-old";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The op that committed the registration: requests name it.
    pub session: Op,
    /// The newest request applied (0: only the registration).
    pub request: RequestNumber,
    pub reply: Vec<u8>,
    /// The op that committed `request`; evictions go by it.
    pub op: Op,
}

/// How a request stands against the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission<'a> {
    /// Not applied yet: execute it (or, for a registration, open the session).
    New,
    /// The session's newest request, already applied: answer from the cache.
    Duplicate(&'a Session),
    /// Older than the session's newest request: a late copy nobody waits for.
    Stale,
    /// Its session is gone: refuse it.
    Evicted,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    by_client: BTreeMap<ClientId, Session>,
}

impl Sessions {
    /// A table that starts with sessions for clients `1 ..= count`, registered at op 0:
    /// the simulator's clients, so that a script's first write is its first op.
    pub fn preregistered(count: u64) -> Self {
        let by_client =
            (1..=count).map(|client| (client, Session { session: 0, request: 0, reply: Vec::new(), op: 0 })).collect();
        Self { by_client }
    }

    pub fn get(&self, client: ClientId) -> Option<&Session> {
        self.by_client.get(&client)
    }

    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// How `request` stands. With `renewals` (from 1.4.0), a registration that names
    /// the client's current session replaces it: how a client whose session is too old
    /// for a command opens a new one. Its late copies name the replaced session, so
    /// they open nothing.
    pub fn admit(&self, request: &Request, renewals: bool) -> Admission<'_> {
        let session = self.by_client.get(&request.client);
        if request.is_register() {
            return match session {
                None => Admission::New,
                Some(session) if renewals && session.session == request.session => Admission::New,
                Some(session) if session.request == 0 => Admission::Duplicate(session),
                Some(_) => Admission::Stale,
            };
        }
        match session {
            Some(session) if session.session == request.session => {
                if request.request > session.request {
                    Admission::New
                } else if request.request == session.request {
                    Admission::Duplicate(session)
                } else {
                    Admission::Stale
                }
            }
            _ => Admission::Evicted,
        }
    }

    /// Open a session for `client`, committed at `op`, evicting the oldest when full.
    pub fn register(&mut self, client: ClientId, op: Op) {
        if let Some(replaced) = self.by_client.remove(&client) {
            assert!(replaced.session < op, "a renewal replaces an older session");
        }
        if self.by_client.len() >= SESSIONS_MAX {
            // Deterministic: the same on every replica since all apply the same ops.
            let oldest = self.by_client.iter().min_by_key(|(id, session)| (session.op, **id)).map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                self.by_client.remove(&oldest);
            }
        }
        self.by_client.insert(client, Session { session: op, request: 0, reply: Vec::new(), op });
    }

    /// Record an applied request (admitted as `New`) and its reply.
    pub fn record(&mut self, client: ClientId, request: RequestNumber, reply: Vec<u8>, op: Op) {
        let session = self.by_client.get_mut(&client).expect("a request is applied only within its session");
        assert!(request > session.request, "a request applies once");
        session.request = request;
        session.reply = reply;
        session.op = op;
    }

    pub fn digest(&self) -> u64 {
        let mut hasher = Hasher64::new();
        for (client, session) in &self.by_client {
            hasher.write_u64(*client);
            hasher.write_u64(session.session);
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

    fn request(client: ClientId, session: Op, number: RequestNumber) -> Request {
        Request { client, session, request: number, operation: vec![1] }
    }

    #[test]
    fn registration_then_requests_apply_once() {
        let mut sessions = Sessions::default();
        assert_eq!(sessions.admit(&Request::register(1), false), Admission::New);
        assert_eq!(sessions.admit(&request(1, 5, 1), false), Admission::Evicted, "no session yet");
        sessions.register(1, 5);
        assert!(matches!(sessions.admit(&Request::register(1), false), Admission::Duplicate(_)));
        assert_eq!(sessions.admit(&request(1, 5, 1), false), Admission::New);
        sessions.record(1, 1, vec![7], 6);
        assert!(matches!(sessions.admit(&request(1, 5, 1), false), Admission::Duplicate(s) if s.reply == vec![7]));
        assert_eq!(sessions.admit(&request(1, 5, 2), false), Admission::New);
        assert_eq!(sessions.admit(&Request::register(1), false), Admission::Stale, "a late copy opens nothing");
        assert_eq!(sessions.admit(&request(1, 4, 2), false), Admission::Evicted, "another session's request");
        assert_eq!(Sessions::decode(&sessions.encode()), Some(sessions.clone()));
    }

    #[test]
    fn an_evicted_client_is_refused_not_executed_again() {
        let mut sessions = Sessions::default();
        sessions.register(0, 1);
        sessions.record(0, 1, vec![], 2);
        for client in 1..SESSIONS_MAX as u64 {
            sessions.register(client, 100 + client);
        }
        assert_eq!(sessions.len(), SESSIONS_MAX);
        sessions.register(99_999, 1_000_000);
        assert_eq!(sessions.len(), SESSIONS_MAX);
        assert!(sessions.get(0).is_none(), "the session committed longest ago goes");
        assert_eq!(sessions.admit(&request(0, 1, 1), false), Admission::Evicted, "its resend is refused");
        assert_eq!(sessions.admit(&request(0, 1, 2), false), Admission::Evicted);
        assert_eq!(sessions.admit(&Request::register(0), false), Admission::New, "it may register again");
    }

    #[test]
    fn a_renewal_replaces_the_session_it_names_and_its_late_copies_open_nothing() {
        let mut sessions = Sessions::default();
        sessions.register(1, 5);
        sessions.record(1, 3, vec![7], 9);
        let renewal = Request { client: 1, session: 5, request: 0, operation: vec![] };
        assert_eq!(sessions.admit(&renewal, false), Admission::Stale, "below 1.4.0 a session is never renewed");
        assert_eq!(sessions.admit(&renewal, true), Admission::New);
        sessions.register(1, 12);
        assert_eq!(sessions.get(1).map(|session| (session.session, session.request)), Some((12, 0)));
        assert!(matches!(sessions.admit(&renewal, true), Admission::Duplicate(s) if s.session == 12));
        assert_eq!(sessions.admit(&request(1, 5, 3), true), Admission::Evicted, "the old session's copies");
        assert_eq!(sessions.admit(&request(1, 5, 4), true), Admission::Evicted);
        sessions.record(1, 4, vec![8], 13);
        assert_eq!(sessions.admit(&renewal, true), Admission::Stale, "a late copy opens nothing");
    }
}
