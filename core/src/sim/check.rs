//! Invariant checkers, run after every simulated event.
//!
//! - committed prefixes agree on every member, and no committed op ever changes;
//! - no committed op is lost: every new primary holds every op committed so far;
//! - at most one primary per view;
//! - a member's commit number never goes backwards while it is up;
//! - equal commit numbers give equal state digests;
//! - client histories of the key-value machine are linearizable: the log order is a
//!   witness that respects real time, every reply matches a reference model run in
//!   that order, and every write applies exactly once;
//! - every member agrees on the release and the membership after every op;
//! - (in the simulator) every committed op is durable on a majority of the active
//!   replicas of the configuration that prepared it, and of the new one for a
//!   reconfiguration: standbys never count.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::release::{Feature, Release};
use crate::replica::{Applied, Sessions};
use crate::state_machine::{KvStore, StateMachine};
use crate::types::{ClientId, MemberId, Op, RequestNumber, View};

/// Record `value` as what every member must reach at `op`, the first time; afterwards
/// return the recorded value when `value` differs from it.
fn first_seen<T: Copy + PartialEq>(seen: &mut BTreeMap<Op, T>, op: Op, value: T) -> Option<T> {
    let recorded = *seen.entry(op).or_insert(value);
    (recorded != value).then_some(recorded)
}

/// A position in the linearization: op, then index inside a batched op.
type Position = (Op, usize);

#[derive(Clone, Debug, Default)]
pub struct Checker {
    /// The checksum of each committed op, as first applied anywhere.
    committed: BTreeMap<Op, u64>,
    /// The state digest after each op.
    digests: BTreeMap<Op, u64>,
    /// The cluster release after each op.
    releases: BTreeMap<Op, Release>,
    /// A digest of the membership after each op.
    memberships: BTreeMap<Op, u64>,
    /// Each committed reconfiguration: its op and the membership from it on.
    pub reconfigurations: BTreeMap<Op, crate::replica::Membership>,
    primaries: BTreeMap<View, MemberId>,
    /// The highest op known committed anywhere.
    pub committed_max: Op,
    last_commit: BTreeMap<MemberId, Op>,
    reference: KvStore,
    reference_sessions: Sessions,
    reference_op: Op,
    /// Where each client request took effect, and the result it must have returned.
    outcomes: BTreeMap<(ClientId, RequestNumber), (Position, Vec<u8>)>,
    /// For each outstanding request: the highest position completed before it was sent.
    invoked: BTreeMap<(ClientId, RequestNumber), Option<Position>>,
    completed_max: Option<Position>,
    pub violations: Vec<String>,
}

impl Checker {
    pub fn committed_checksum(&self, op: Op) -> Option<u64> {
        self.committed.get(&op).copied()
    }

    pub fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    pub fn on_applied(&mut self, member: MemberId, applied: &Applied) {
        match self.committed.get(&applied.op) {
            Some(checksum) if *checksum != applied.checksum => {
                self.violation(alloc::format!(
                    "member {member} applied op {} with checksum {:016x}, but it committed as {checksum:016x}",
                    applied.op,
                    applied.checksum
                ));
            }
            Some(_) => {}
            None => {
                if applied.op != self.reference_op + 1 {
                    self.violation(alloc::format!(
                        "member {member} applied op {} before anyone applied op {}",
                        applied.op,
                        self.reference_op + 1
                    ));
                }
                self.committed.insert(applied.op, applied.checksum);
                self.run_reference(applied);
            }
        }
        if let Some(release) = first_seen(&mut self.releases, applied.op, applied.release) {
            self.violation(alloc::format!(
                "member {member} runs release {} after op {}, another member {release}",
                applied.release,
                applied.op
            ));
        }
        if applied.requests.len() > 1 {
            let before = applied.op.checked_sub(1).and_then(|op| self.releases.get(&op)).copied();
            if before.is_some_and(|release| !Feature::BatchedPrepares.enabled_at(release)) {
                self.violation(alloc::format!(
                    "op {} batched {} requests before batched_prepares was on",
                    applied.op,
                    applied.requests.len()
                ));
            }
        }
        if let Some(digest) = first_seen(&mut self.memberships, applied.op, applied.membership_digest) {
            self.violation(alloc::format!(
                "member {member} has membership {:016x} after op {}, another member {digest:016x}",
                applied.membership_digest,
                applied.op,
            ));
        }
        if let Some(membership) = &applied.reconfiguration {
            self.reconfigurations.entry(applied.op).or_insert_with(|| membership.clone());
        }
        if let Some(digest) = first_seen(&mut self.digests, applied.op, applied.digest) {
            self.violation(alloc::format!(
                "member {member} reached op {} with state digest {:016x}, another member with {digest:016x}",
                applied.op,
                applied.digest
            ));
        }
    }

    fn run_reference(&mut self, applied: &Applied) {
        self.reference_op = applied.op;
        for (index, request) in applied.requests.iter().enumerate() {
            let fresh = !self.reference_sessions.is_duplicate(request.client, request.request);
            if fresh != request.fresh {
                self.violation(alloc::format!(
                    "client {} request {} at op {}: applied {} but should have been {}",
                    request.client,
                    request.request,
                    applied.op,
                    if request.fresh { "again" } else { "skipped" },
                    if fresh { "applied" } else { "skipped as a duplicate" },
                ));
            }
            if !fresh {
                continue;
            }
            let result = self.reference.apply(&request.operation);
            if result != request.result {
                self.violation(alloc::format!(
                    "op {} gave client {} a result the reference model does not",
                    applied.op,
                    request.client
                ));
            }
            self.reference_sessions.record(request.client, request.request, result.clone(), applied.op);
            self.outcomes.insert((request.client, request.request), ((applied.op, index), result));
        }
    }

    pub fn on_commit(&mut self, member: MemberId, incarnation_start: bool, commit: Op) {
        let last = self.last_commit.entry(member).or_insert(commit);
        if incarnation_start {
            *last = commit;
        } else if commit < *last {
            let last = *last;
            self.violation(alloc::format!("member {member}'s commit number went back from {last} to {commit}"));
        } else {
            *last = commit;
        }
    }

    pub fn on_commit_max(&mut self, commit_max: Op) {
        self.committed_max = self.committed_max.max(commit_max);
    }

    pub fn on_primary(
        &mut self,
        member: MemberId,
        view: View,
        log_headers: impl Fn(Op) -> Option<u64>,
        op: Op,
        base: Op,
    ) {
        match self.primaries.get(&view) {
            Some(other) if *other != member => {
                let other = *other;
                self.violation(alloc::format!("view {view} has two primaries: {other} and {member}"));
            }
            Some(_) => return,
            None => {
                self.primaries.insert(view, member);
            }
        }
        // A new primary must hold every committed op it has not already applied.
        if op < self.committed_max {
            self.violation(alloc::format!(
                "member {member} became primary of view {view} with op {op}, but op {} was committed",
                self.committed_max
            ));
        }
        for committed_op in base + 1..=self.committed_max.min(op) {
            if let (Some(expected), Some(found)) = (self.committed.get(&committed_op), log_headers(committed_op)) {
                if *expected != found {
                    self.violation(alloc::format!(
                        "member {member} became primary of view {view} with a different op {committed_op}"
                    ));
                }
            }
        }
    }

    pub fn on_invoke(&mut self, client: ClientId, request: RequestNumber) {
        self.invoked.insert((client, request), self.completed_max);
    }

    pub fn on_complete(&mut self, client: ClientId, request: RequestNumber, result: &[u8]) {
        let floor = self.invoked.remove(&(client, request)).flatten();
        let Some((position, expected)) = self.outcomes.get(&(client, request)).cloned() else {
            self.violation(alloc::format!("client {client} got a reply to request {request}, which never committed"));
            return;
        };
        if expected.as_slice() != result {
            self.violation(alloc::format!(
                "client {client} request {request}: the reply differs from the committed result"
            ));
        }
        if floor.is_some_and(|floor| position <= floor) {
            self.violation(alloc::format!(
                "client {client} request {request} took effect at op {} before an op that completed before it was sent",
                position.0
            ));
        }
        self.completed_max = self.completed_max.max(Some(position));
    }

    /// A member must never run a release its binary lacks.
    pub fn on_release(&mut self, member: MemberId, release: Release, binary: Release) {
        if release > binary {
            self.violation(alloc::format!("member {member} runs release {release} on a binary of release {binary}"));
        }
    }

    /// A standby read must never be older than what its client had already seen.
    pub fn on_standby_read(&mut self, client: ClientId, min_op: Op, served_at_op: Op, refused: bool) {
        if !refused && served_at_op < min_op {
            self.violation(alloc::format!(
                "client {client} read at a standby at op {served_at_op} after it had seen op {min_op}"
            ));
        }
    }

    /// Scrubbing is `log_scrubbing`'s behaviour: never before its release commits.
    pub fn on_scrub(&mut self, member: MemberId, release: Release) {
        if !Feature::LogScrubbing.enabled_at(release) {
            self.violation(alloc::format!("member {member} scrubbed its log at release {release}"));
        }
    }

    pub fn count(&self) -> u64 {
        self.violations.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::AppliedRequest;
    use crate::state_machine::KvCommand;
    use alloc::vec;

    const R: Release = crate::release::NEWEST_RELEASE;

    fn put(client: ClientId, request: RequestNumber, fresh: bool) -> AppliedRequest {
        let operation = KvCommand::Put { key: b"k".to_vec(), value: vec![request as u8] }.encode();
        let result = if fresh { KvStore::new().apply(&operation) } else { Vec::new() };
        AppliedRequest { client, request, operation, result, fresh }
    }

    fn applied(op: Op, checksum: u64, requests: Vec<AppliedRequest>, digest: u64) -> Applied {
        Applied { op, checksum, requests, digest, release: R, membership_digest: 0, reconfiguration: None }
    }

    #[test]
    fn detects_diverging_memberships() {
        let mut checker = Checker::default();
        checker.on_applied(0, &applied(1, 7, vec![], 1));
        let mut other = applied(1, 7, vec![], 1);
        other.membership_digest = 5;
        checker.on_applied(1, &other);
        assert_eq!(checker.count(), 1, "{:?}", checker.violations);
        assert!(checker.violations[0].contains("membership"));
    }

    #[test]
    fn detects_diverging_commits_and_digests() {
        let mut checker = Checker::default();
        checker.on_applied(0, &applied(1, 7, vec![put(1, 1, true)], 1));
        assert_eq!(checker.count(), 0);
        checker.on_applied(1, &applied(1, 8, vec![put(1, 1, true)], 2));
        assert_eq!(checker.count(), 2);
    }

    #[test]
    fn detects_double_apply_and_real_time_order() {
        let mut checker = Checker::default();
        checker.on_invoke(1, 1);
        checker.on_applied(0, &applied(1, 1, vec![put(1, 1, true)], 1));
        checker.on_applied(0, &applied(2, 2, vec![put(1, 1, true)], 2));
        assert_eq!(checker.count(), 1, "{:?}", checker.violations);
        let result = checker.outcomes[&(1, 1)].1.clone();
        checker.on_complete(1, 1, &result);
        assert_eq!(checker.count(), 1);
        checker.on_complete(2, 9, &[]);
        assert_eq!(checker.count(), 2, "a reply for something never committed");
    }

    #[test]
    fn detects_two_primaries_and_commit_going_back() {
        let mut checker = Checker::default();
        checker.on_primary(0, 3, |_| None, 0, 0);
        checker.on_primary(1, 3, |_| None, 0, 0);
        checker.on_commit(2, true, 5);
        checker.on_commit(2, false, 4);
        assert_eq!(checker.count(), 2);
    }
}
