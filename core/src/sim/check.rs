//! Invariant checkers, run after every simulated event. They compare members with each
//! other and with what clients saw; none runs the replica's own code to decide.
//!
//! - committed prefixes agree on every member, and no committed op ever changes;
//! - no committed op is lost: every new primary holds every op committed so far;
//! - at most one primary per view;
//! - a member's commit number never goes backwards while it is up;
//! - equal commit numbers give equal state digests;
//! - every member agrees on the release and the membership after every op;
//! - a standby read is never older than what its client saw, nor older than the
//!   commit of a lease ago by more than the bound (bounded staleness in truth);
//! - an upgrade entry is prepared only on advertisements its primary heard, in its
//!   view, from every member (`on_upgrade_prepared`);
//! - (`logged_release.rs`) no op carries a command its release lacks, when its
//!   primary's code knew to refuse it, nor a batch before `batched_prepares`;
//! - (`durability.rs`) every committed op stays durable on a majority of the current
//!   configuration, and no member's durable release goes down;
//! - (`history.rs`) the clients' history is linearizable, by an independent model.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::release::{Feature, Release};
use crate::replica::Applied;
use crate::types::{ClientId, MemberId, Op, Tick, View};

/// Record `value` as what every member must reach at `op`, the first time; afterwards
/// return the recorded value when `value` differs from it.
fn first_seen<T: Copy + PartialEq>(seen: &mut BTreeMap<Op, T>, op: Op, value: T) -> Option<T> {
    let recorded = *seen.entry(op).or_insert(value);
    (recorded != value).then_some(recorded)
}

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
    /// The binary of the primary that prepared each entry of client requests (op,
    /// checksum), until the entry is first applied.
    preparer_binaries: BTreeMap<(Op, u64), Release>,
    /// The highest op known committed anywhere.
    pub committed_max: Op,
    last_commit: BTreeMap<MemberId, Op>,
    /// The highest op applied anywhere: ops are first applied in order.
    applied_max: Op,
    /// The highest commit known in each view's log.
    committed_by_view: BTreeMap<View, Op>,
    /// When the highest committed op rose, and to what: for bounded staleness.
    commit_timeline: Vec<(Tick, Op)>,
    /// How stale a standby read may be: ops behind the commit of `staleness_window_ticks` ago.
    pub staleness_bound_ops: Op,
    pub staleness_window_ticks: Tick,
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
                if applied.op != self.applied_max + 1 {
                    self.violation(alloc::format!(
                        "member {member} applied op {} before anyone applied op {}",
                        applied.op,
                        self.applied_max + 1
                    ));
                }
                self.applied_max = self.applied_max.max(applied.op);
                self.committed.insert(applied.op, applied.checksum);
                self.check_logged_release(applied);
            }
        }
        if let Some(release) = first_seen(&mut self.releases, applied.op, applied.release) {
            self.violation(alloc::format!(
                "member {member} runs release {} after op {}, another member {release}",
                applied.release,
                applied.op
            ));
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

    pub fn on_prepared(&mut self, op: Op, checksum: u64, binary: Release) {
        self.preparer_binaries.insert((op, checksum), binary);
    }

    /// What the op carries must be the release's, judged by the spec's own table
    /// (`logged_release.rs`) at the release before the op (a client op leaves it as it
    /// was). Commands are judged only when the preparing primary's binary knows them:
    /// older code cannot refuse what it cannot decode, and logs it to answer malformed.
    fn check_logged_release(&mut self, applied: &Applied) {
        let before = applied.op.checked_sub(1).and_then(|op| self.releases.get(&op)).copied();
        let release = before.unwrap_or(applied.release);
        let preparer = self.preparer_binaries.remove(&(applied.op, applied.checksum));
        self.preparer_binaries.retain(|(op, _), _| *op > applied.op);
        let batch = super::logged_release::check_batch(applied.op, release, applied.requests.len());
        let commands = applied.requests.iter().filter_map(|request| {
            let binary = preparer?;
            super::logged_release::check_operation(applied.op, release, binary, &request.operation)
        });
        let found: Vec<String> = batch.into_iter().chain(commands).collect();
        for text in found {
            self.violation(text);
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

    /// A member whose log is `log_view`'s knows every op up to `commit_max` committed.
    pub fn on_commit_max(&mut self, now: Tick, log_view: View, commit_max: Op) {
        let known = self.committed_by_view.entry(log_view).or_insert(0);
        *known = (*known).max(commit_max);
        if commit_max > self.committed_max {
            self.committed_max = commit_max;
            self.commit_timeline.push((now, commit_max));
        }
    }

    /// The highest op known committed at time `at`.
    fn committed_at(&self, at: Tick) -> Op {
        let index = self.commit_timeline.partition_point(|(time, _)| *time <= at);
        index.checked_sub(1).map_or(0, |index| self.commit_timeline[index].1)
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
        // A new primary must hold every op committed in an earlier view. One committed
        // in a later view may be missing: a view can complete after a later one began,
        // and its primary then commits nothing (the quorum has moved on).
        let required = self.committed_by_view.range(..view).map(|(_, op)| *op).max().unwrap_or(0);
        if op < required {
            self.violation(alloc::format!(
                "member {member} became primary of view {view} with op {op}, but op {required} was committed before"
            ));
        }
        for committed_op in base + 1..=required.min(op) {
            if let (Some(expected), Some(found)) = (self.committed.get(&committed_op), log_headers(committed_op)) {
                if *expected != found {
                    self.violation(alloc::format!(
                        "member {member} became primary of view {view} with a different op {committed_op}"
                    ));
                }
            }
        }
    }

    /// A member must never run a release its binary lacks.
    pub fn on_release(&mut self, member: MemberId, release: Release, binary: Release) {
        if release > binary {
            self.violation(alloc::format!("member {member} runs release {release} on a binary of release {binary}"));
        }
    }

    /// A standby read must never be older than what its client had already seen, nor
    /// older by more than the bound than what was committed a lease ago: a standby cut
    /// off with a deposed primary must stop answering.
    pub fn on_standby_read(&mut self, now: Tick, client: ClientId, min_op: Op, served_at_op: Op, refused: bool) {
        if refused {
            return;
        }
        if served_at_op < min_op {
            self.violation(alloc::format!(
                "client {client} read at a standby at op {served_at_op} after it had seen op {min_op}"
            ));
        }
        let committed = self.committed_at(now.saturating_sub(self.staleness_window_ticks));
        if served_at_op + self.staleness_bound_ops < committed {
            self.violation(alloc::format!(
                "client {client} read at a standby at op {served_at_op}, but op {committed} had committed {} ticks \
                 before: more than {} ops stale",
                self.staleness_window_ticks,
                self.staleness_bound_ops
            ));
        }
    }

    /// An upgrade to `release` was prepared by `primary` in `view`: every other member
    /// of its configuration must have told that primary, in that view, that its binary
    /// runs the release. `last_heard(m)` is what `m` last advertised to the primary and
    /// in which of the primary's views.
    pub fn on_upgrade_prepared(
        &mut self,
        primary: MemberId,
        view: View,
        release: Release,
        members: &[MemberId],
        last_heard: impl Fn(MemberId) -> Option<(View, Release)>,
    ) {
        for member in members.iter().copied().filter(|member| *member != primary) {
            match last_heard(member) {
                Some((heard_in, advertised)) if heard_in == view && advertised >= release => {}
                Some((heard_in, advertised)) => self.violation(alloc::format!(
                    "member {primary} prepared an upgrade to {release} in view {view}, but member {member} last \
                     advertised {advertised} to it in view {heard_in}"
                )),
                None => self.violation(alloc::format!(
                    "member {primary} prepared an upgrade to {release} in view {view} without hearing member {member}"
                )),
            }
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
    use alloc::vec;

    const R: Release = crate::release::NEWEST_RELEASE;

    fn applied(op: Op, checksum: u64, digest: u64) -> Applied {
        Applied { op, checksum, requests: vec![], digest, release: R, membership_digest: 0, reconfiguration: None }
    }

    #[test]
    fn detects_diverging_memberships() {
        let mut checker = Checker::default();
        checker.on_applied(0, &applied(1, 7, 1));
        let mut other = applied(1, 7, 1);
        other.membership_digest = 5;
        checker.on_applied(1, &other);
        assert_eq!(checker.count(), 1, "{:?}", checker.violations);
        assert!(checker.violations[0].contains("membership"));
    }

    #[test]
    fn detects_diverging_commits_digests_and_gaps() {
        let mut checker = Checker::default();
        checker.on_applied(0, &applied(1, 7, 1));
        assert_eq!(checker.count(), 0);
        checker.on_applied(1, &applied(1, 8, 2));
        assert_eq!(checker.count(), 2);
        checker.on_applied(1, &applied(3, 9, 3));
        assert_eq!(checker.count(), 3, "op 3 before op 2: {:?}", checker.violations);
    }

    #[test]
    fn detects_a_command_logged_before_its_release_by_code_that_knows_it() {
        use crate::replica::AppliedRequest;
        use crate::state_machine::KvCommand;
        let base: Release = "1.0.0".parse().unwrap();
        let set_nx = KvCommand::SetNx { key: vec![1], value: vec![2] }.encode();
        let request = AppliedRequest { client: 1, request: 1, operation: set_nx, result: vec![], fresh: true };
        let at_base = |op| Applied { requests: vec![request.clone()], release: base, ..applied(op, op * 10, op) };
        let mut checker = Checker::default();
        checker.on_prepared(1, 10, base);
        checker.on_applied(0, &at_base(1));
        assert_eq!(checker.count(), 0, "1.0.0 code cannot decode SETNX: it logs it to answer malformed");
        checker.on_prepared(2, 20, R);
        checker.on_applied(0, &at_base(2));
        assert_eq!(checker.count(), 1, "{:?}", checker.violations);
        assert!(checker.violations[0].contains("never enter the log"));
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

    #[test]
    fn a_new_primary_needs_what_earlier_views_committed_only() {
        let mut checker = Checker::default();
        checker.on_commit_max(0, 4, 30);
        checker.on_commit_max(0, 6, 40);
        checker.on_primary(0, 5, |_| None, 30, 0);
        assert_eq!(checker.count(), 0, "op 40 committed in view 6, after view 5 began");
        checker.on_primary(1, 7, |_| None, 35, 0);
        assert_eq!(checker.count(), 1, "view 7 must hold what view 6 committed: {:?}", checker.violations);
    }

    #[test]
    fn detects_a_standby_read_staler_than_its_bound() {
        let mut checker = Checker { staleness_bound_ops: 4, staleness_window_ticks: 100, ..Checker::default() };
        checker.on_commit_max(10, 1, 20);
        checker.on_commit_max(500, 1, 40);
        checker.on_standby_read(550, 1, 0, 16, false);
        assert_eq!(checker.count(), 0, "op 20 was the commit a window ago: 16 is within 4 of it");
        checker.on_standby_read(700, 1, 0, 16, false);
        assert_eq!(checker.count(), 1, "op 40 committed 200 ticks before: 16 is too stale");
        checker.on_standby_read(700, 1, 0, 16, true);
        assert_eq!(checker.count(), 1, "a refusal is no read");
        checker.on_standby_read(700, 1, 50, 45, false);
        assert_eq!(checker.count(), 2, "older than what the client saw");
    }

    #[test]
    fn detects_an_upgrade_on_stale_advertisements() {
        let mut checker = Checker::default();
        let old: Release = "1.0.0".parse().unwrap();
        checker.on_upgrade_prepared(0, 4, R, &[0, 1, 2], |_| Some((4, R)));
        assert_eq!(checker.count(), 0);
        checker.on_upgrade_prepared(0, 4, R, &[0, 1, 2], |m| Some((if m == 1 { 3 } else { 4 }, R)));
        assert_eq!(checker.count(), 1, "member 1 was heard only in an older view");
        checker.on_upgrade_prepared(0, 4, R, &[0, 1, 2], |m| if m == 2 { Some((4, old)) } else { Some((4, R)) });
        checker.on_upgrade_prepared(0, 4, R, &[0, 1, 2], |m| if m == 2 { None } else { Some((4, R)) });
        assert_eq!(checker.count(), 3, "{:?}", checker.violations);
    }
}
