//! Client requests this member accepted and has not answered yet.
//!
//! A request goes to the member believed to be the primary. Replies come back either
//! from the local replica or, for a request another member committed, over the peer
//! transport. A request without a reply is resent on a schedule: the core drops
//! duplicates of a request in flight and answers a committed one from its session, so
//! resending is always safe. Each connection has at most one request outstanding
//! (RESP answers in order), so requests are keyed by client.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use viewstamp_core::types::{ClientId, MemberId, Op, RequestNumber};

/// How a request is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Through the primary's log: writes, and linearizable reads.
    Linearizable,
    /// From this standby's own state (`READONLY`), no older than `min_op`.
    StandbyRead { min_op: Op },
}

/// The replica's answer: the state machine's encoded result and the op it reflects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub result: Vec<u8>,
    pub op: Op,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered(Answer),
    /// No answer in time; the write may or may not have been applied.
    TimedOut,
    /// This member cannot take requests (its storage failed, it halted): why.
    Unavailable(String),
}

/// When to resend, and when to give up.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The first resend; each later one waits twice as long, up to `resend_max`.
    pub resend_after: Duration,
    pub resend_max: Duration,
    /// After this many resends to the believed primary, send to every active member.
    pub broadcast_after_resends: u32,
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            resend_after: Duration::from_millis(300),
            resend_max: Duration::from_secs(2),
            broadcast_after_resends: 2,
            give_up_after: Duration::from_secs(30),
        }
    }
}

struct Pending {
    session: Op,
    request: RequestNumber,
    operation: Vec<u8>,
    answer: oneshot::Sender<Outcome>,
    /// Sent to the primary (not a standby's own read), so its answer is the primary's.
    through_primary: bool,
    sent_at: Instant,
    resend_at: Instant,
    resends: u32,
    give_up_at: Instant,
}

/// What to do about a request now.
#[derive(Debug, PartialEq, Eq)]
pub struct Resend {
    pub client: ClientId,
    pub session: Op,
    pub request: RequestNumber,
    pub operation: Vec<u8>,
    /// To every active member, not just the believed primary.
    pub broadcast: bool,
}

/// A request as it was first sent.
pub struct Sent {
    pub client: ClientId,
    pub session: Op,
    pub request: RequestNumber,
    pub operation: Vec<u8>,
    pub mode: ReadMode,
}

/// Bounded by the node's client connection limit (one request per connection).
pub struct PendingRequests {
    policy: RetryPolicy,
    by_client: BTreeMap<ClientId, Pending>,
    /// When a waiter last got an answer: a primary that answers nothing while
    /// requests wait is out of this member's reach (see `unanswered_since`).
    answered_at: Option<Instant>,
}

impl PendingRequests {
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy, by_client: BTreeMap::new(), answered_at: None }
    }

    /// When the oldest waiter was sent, if nothing has been answered since: the
    /// primary has answered none of what this member sent it in that time. A member
    /// that still believes in its primary but cannot reach it (its own links cut one
    /// way) learns it from this, not from its status, which stays normal.
    pub fn unanswered_since(&self) -> Option<Instant> {
        let oldest =
            self.by_client.values().filter(|pending| pending.through_primary).map(|pending| pending.sent_at).min()?;
        self.answered_at.is_none_or(|answered| answered < oldest).then_some(oldest)
    }

    /// Whether any request sent to the primary waits for an answer.
    pub fn awaits_primary(&self) -> bool {
        self.by_client.values().any(|pending| pending.through_primary)
    }

    /// Requests waiting for their answer.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// Track a request just sent. A client's newer request replaces its older one,
    /// whose connection has moved on.
    pub fn insert(&mut self, now: Instant, sent: Sent, answer: oneshot::Sender<Outcome>) {
        let pending = Pending {
            session: sent.session,
            request: sent.request,
            operation: sent.operation,
            answer,
            through_primary: sent.mode == ReadMode::Linearizable,
            sent_at: now,
            resend_at: now + self.policy.resend_after,
            resends: 0,
            give_up_at: now + self.policy.give_up_after,
        };
        self.by_client.insert(sent.client, pending);
    }

    /// Deliver a reply; false when nobody waits for it (a late duplicate).
    pub fn complete(&mut self, client: ClientId, request: RequestNumber, answer: Answer) -> bool {
        self.answer(client, request, Outcome::Answered(answer))
    }

    /// Answer a waiter with why its request was not taken; false when nobody waits.
    pub fn refuse(&mut self, client: ClientId, request: RequestNumber, why: String) -> bool {
        self.answer(client, request, Outcome::Unavailable(why))
    }

    fn answer(&mut self, client: ClientId, request: RequestNumber, outcome: Outcome) -> bool {
        match self.by_client.get(&client) {
            Some(pending) if pending.request == request => {
                let pending = self.by_client.remove(&client).expect("just found");
                if pending.through_primary {
                    self.answered_at = Some(Instant::now());
                }
                // The connection may have closed meanwhile; nothing to tell then.
                let _ = pending.answer.send(outcome);
                true
            }
            _ => false,
        }
    }

    /// Every waiter, to answer at once (the member stops taking requests).
    pub fn take_all(&mut self) -> Vec<oneshot::Sender<Outcome>> {
        std::mem::take(&mut self.by_client).into_values().map(|pending| pending.answer).collect()
    }

    /// A new primary: every request goes to it at the next `due`, with its backoff
    /// started over (to the primary first, not to every member).
    pub fn retry_all_now(&mut self, now: Instant) {
        for pending in self.by_client.values_mut() {
            pending.resend_at = now;
            pending.resends = 0;
        }
    }

    /// Answers every waiter `TimedOut` now: the member cannot get them committed.
    pub fn time_out_all(&mut self) {
        for (_, pending) in std::mem::take(&mut self.by_client) {
            let _ = pending.answer.send(Outcome::TimedOut);
        }
    }

    /// The earliest instant `due` has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_client.values().map(|pending| pending.resend_at.min(pending.give_up_at)).min()
    }

    /// Requests to resend now; requests past their deadline are answered `TimedOut`, and
    /// those whose connection closed are forgotten.
    pub fn due(&mut self, now: Instant) -> Vec<Resend> {
        let policy = self.policy;
        self.by_client.retain(|_, pending| !pending.answer.is_closed());
        let expired: Vec<ClientId> =
            self.by_client.iter().filter(|(_, pending)| pending.give_up_at <= now).map(|(client, _)| *client).collect();
        for client in expired {
            let pending = self.by_client.remove(&client).expect("listed");
            let _ = pending.answer.send(Outcome::TimedOut);
        }
        let mut resends = Vec::new();
        for (client, pending) in self.by_client.iter_mut().filter(|(_, pending)| pending.resend_at <= now) {
            pending.resends += 1;
            let backoff = policy.resend_after.saturating_mul(1 << pending.resends.min(8)).min(policy.resend_max);
            pending.resend_at = now + backoff;
            resends.push(Resend {
                client: *client,
                session: pending.session,
                request: pending.request,
                operation: pending.operation.clone(),
                broadcast: pending.resends > policy.broadcast_after_resends,
            });
        }
        resends
    }
}

/// Client ids name the member whose connection sent the request, so that the member
/// that commits it knows where to send the reply. Layout: the origin member in the top
/// 8 bits, a per-process random incarnation in the next 24 (a restarted member must not
/// reuse an id whose session holds a higher request number), then a connection counter.
pub fn client_id(origin: MemberId, incarnation: u32, connection: u32) -> ClientId {
    (origin as u64) << 56 | ((incarnation & 0x00ff_ffff) as u64) << 32 | connection as u64
}

pub fn origin_of(client: ClientId) -> MemberId {
    (client >> 56) as MemberId
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(client: ClientId, session: Op, request: RequestNumber, operation: Vec<u8>, mode: ReadMode) -> Sent {
        Sent { client, session, request, operation, mode }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            resend_after: Duration::from_millis(100),
            resend_max: Duration::from_millis(400),
            broadcast_after_resends: 1,
            give_up_after: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_reply_reaches_its_waiter_once() {
        let now = Instant::now();
        let mut pending = PendingRequests::new(policy());
        let (sender, mut receiver) = oneshot::channel();
        pending.insert(now, sent(7, 1, 3, vec![1], ReadMode::Linearizable), sender);
        assert!(!pending.complete(7, 2, Answer { result: vec![], op: 1 }), "an older request's reply is ignored");
        assert!(pending.complete(7, 3, Answer { result: vec![9], op: 5 }));
        assert_eq!(receiver.try_recv().unwrap(), Outcome::Answered(Answer { result: vec![9], op: 5 }));
        assert!(!pending.complete(7, 3, Answer { result: vec![9], op: 5 }), "a duplicate finds nobody");
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn resends_back_off_then_broadcast_then_time_out() {
        let start = Instant::now();
        let mut pending = PendingRequests::new(policy());
        let (sender, mut receiver) = oneshot::channel();
        pending.insert(start, sent(1, 1, 1, vec![4], ReadMode::Linearizable), sender);
        assert!(pending.due(start).is_empty());
        let first = pending.due(start + Duration::from_millis(100));
        assert_eq!(first, vec![Resend { client: 1, session: 1, request: 1, operation: vec![4], broadcast: false }]);
        assert!(pending.due(start + Duration::from_millis(250)).is_empty(), "backed off to 200 ms");
        let second = pending.due(start + Duration::from_millis(300));
        assert!(second[0].broadcast);
        assert!(pending.due(start + Duration::from_millis(999)).len() <= 1);
        assert!(pending.due(start + Duration::from_secs(1)).is_empty());
        assert_eq!(receiver.try_recv().unwrap(), Outcome::TimedOut);
        assert_eq!(pending.next_deadline(), None);
    }

    #[test]
    fn a_new_primary_gets_every_request_at_once_to_itself_first() {
        let start = Instant::now();
        let mut pending = PendingRequests::new(policy());
        let (sender, _receiver) = oneshot::channel();
        pending.insert(start, sent(1, 1, 1, vec![4], ReadMode::Linearizable), sender);
        assert_eq!(pending.due(start + Duration::from_millis(100)).len(), 1);
        assert_eq!(pending.due(start + Duration::from_millis(300)).len(), 1, "broadcast, backed off further");
        let later = start + Duration::from_millis(310);
        assert!(pending.due(later).is_empty());
        pending.retry_all_now(later);
        assert_eq!(pending.next_deadline(), Some(later));
        let retried = pending.due(later);
        assert_eq!(retried.len(), 1);
        assert!(!retried[0].broadcast, "to the new primary, not to everyone");
    }

    #[test]
    fn timing_out_all_answers_every_waiter() {
        let now = Instant::now();
        let mut pending = PendingRequests::new(policy());
        let (first, mut first_answer) = oneshot::channel();
        let (second, mut second_answer) = oneshot::channel();
        pending.insert(now, sent(1, 1, 1, vec![], ReadMode::Linearizable), first);
        pending.insert(now, sent(2, 1, 1, vec![], ReadMode::Linearizable), second);
        pending.time_out_all();
        assert_eq!(first_answer.try_recv().unwrap(), Outcome::TimedOut);
        assert_eq!(second_answer.try_recv().unwrap(), Outcome::TimedOut);
        assert_eq!((pending.len(), pending.next_deadline()), (0, None));
    }

    #[test]
    fn a_closed_connection_is_forgotten() {
        let now = Instant::now();
        let mut pending = PendingRequests::new(policy());
        let (sender, receiver) = oneshot::channel();
        pending.insert(now, sent(1, 1, 1, vec![], ReadMode::Linearizable), sender);
        drop(receiver);
        assert!(pending.due(now + Duration::from_millis(100)).is_empty());
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn an_unanswering_primary_is_noticed_from_the_oldest_unanswered_request() {
        let start = Instant::now();
        let mut pending = PendingRequests::new(policy());
        assert_eq!(pending.unanswered_since(), None);
        let (first, _first_answer) = oneshot::channel();
        pending.insert(start, sent(1, 1, 1, vec![], ReadMode::Linearizable), first);
        let (read, _read_answer) = oneshot::channel();
        pending.insert(start, sent(3, 1, 1, vec![], ReadMode::StandbyRead { min_op: 0 }), read);
        assert_eq!(pending.unanswered_since(), Some(start));
        // A standby's own read answered says nothing of the primary.
        assert!(pending.complete(3, 1, Answer { result: vec![], op: 0 }));
        assert_eq!(pending.unanswered_since(), Some(start));
        assert!(pending.awaits_primary());
        let later = Instant::now() + Duration::from_millis(5);
        let (second, _second_answer) = oneshot::channel();
        pending.insert(later, sent(2, 1, 1, vec![], ReadMode::Linearizable), second);
        // An answer from the primary after the oldest was sent: it answers.
        assert!(pending.complete(1, 1, Answer { result: vec![], op: 1 }));
        assert_eq!(pending.unanswered_since(), Some(later), "answered before the second was sent");
        pending.time_out_all();
        assert_eq!(pending.unanswered_since(), None);
        assert!(!pending.awaits_primary());
    }

    #[test]
    fn client_ids_name_their_origin() {
        let id = client_id(5, 0xabcdef12, 77);
        assert_eq!(origin_of(id), 5);
        assert_eq!(id & 0xffff_ffff, 77);
        assert_ne!(client_id(5, 1, 77), client_id(5, 2, 77));
    }
}
