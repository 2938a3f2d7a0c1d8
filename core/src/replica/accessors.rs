//! What hosts and checkers may read of a replica. Nothing here changes it.

use super::*;
use crate::status_snapshot::ReportedStatus;

impl<S: StateMachine> Replica<S> {
    pub fn id(&self) -> MemberId {
        self.id
    }
    pub fn options(&self) -> &Options {
        &self.options
    }
    pub fn status(&self) -> Status {
        self.phase.status()
    }
    /// Its status as hosts show it: `normal` splits off `catching-up`.
    pub fn reported_status(&self) -> ReportedStatus {
        match self.status() {
            Status::Normal if self.awaiting_checkpoint => ReportedStatus::CatchingUp,
            Status::Normal => ReportedStatus::Normal,
            Status::ViewChange => ReportedStatus::ViewChange,
            Status::Recovering => ReportedStatus::Recovering,
            Status::Halted => ReportedStatus::Halted,
        }
    }
    pub fn halt_reason(&self) -> Option<&HaltReason> {
        match &self.phase {
            Phase::Halted(reason) => Some(reason),
            _ => None,
        }
    }
    pub fn view(&self) -> View {
        self.view
    }
    pub fn log_view(&self) -> View {
        self.log_view
    }
    pub fn op(&self) -> Op {
        self.log.op()
    }
    pub fn commit(&self) -> Op {
        self.applied
    }
    /// Every op up to here is durable here, contiguously.
    pub fn durable_op(&self) -> Op {
        self.durable_op
    }
    pub fn commit_max(&self) -> Op {
        self.commit_max
    }
    pub fn checkpoint_op(&self) -> Op {
        self.checkpoint.op
    }
    pub fn log(&self) -> &Log {
        &self.log
    }
    pub fn state(&self) -> &S {
        &self.state
    }
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }
    /// The committed cluster release, as far as this member applied.
    pub fn release(&self) -> Release {
        self.upgrade.release
    }
    /// The primary's view of a standby: health, lag and whether it is promotable.
    pub fn standby_view(&self, member: MemberId) -> Option<StandbyView> {
        self.standbys.view(member, self.commit_max, self.now)
    }
    pub fn standby_manager(&self) -> &StandbyManager {
        &self.standbys
    }
    /// Every other member of the configuration, how far behind in ops and time, as of
    /// `now`; empty unless this member is the serving primary, the one that knows.
    pub fn follower_lags(&self, now: Tick) -> alloc::vec::Vec<super::follower_lag::FollowerLag> {
        if !self.is_serving_primary() {
            return alloc::vec::Vec::new();
        }
        let membership = self.membership();
        let backups = membership.active().iter().filter(|member| **member != self.id).map(|m| (*m, Role::Active));
        let standbys = membership.standbys().iter().map(|member| (*member, Role::Standby));
        backups
            .chain(standbys)
            .map(|(member, role)| self.contacts.lag(member, role, &self.commit_times, self.commit_max, now))
            .collect()
    }
    /// How many more active replicas may fail before the cluster stops, as the serving
    /// primary sees it now: those it heard within the quorum timeout (itself included)
    /// beyond a quorum, the least over both configurations while one is changing.
    /// `None` on any other member: only the primary hears everyone.
    pub fn failure_tolerance(&self, now: Tick) -> Option<u8> {
        if !self.is_serving_primary() {
            return None;
        }
        let window_ticks = self.options.quorum_timeout_ticks;
        let spare = |membership: &Membership| {
            let heard = membership
                .active()
                .iter()
                .filter(|member| **member == self.id || self.contacts.recent(**member, now, window_ticks))
                .count();
            heard.saturating_sub(membership.quorum()) as u8
        };
        let mut tolerance = spare(self.membership());
        if let Some((_, old)) = self.pending_reconfig() {
            tolerance = tolerance.min(spare(old));
        }
        Some(tolerance)
    }
    /// The failures the current configuration tolerates with every member up.
    pub fn failure_tolerance_configured(&self) -> u8 {
        let membership = self.membership();
        (membership.active().len() - membership.quorum()) as u8
    }
    pub fn upgrade_state(&self) -> &UpgradeState {
        &self.upgrade
    }
    pub fn binary_release(&self) -> Release {
        self.options.binary_release
    }
    pub fn advertised(&self, member: MemberId) -> Option<Release> {
        self.advertised.latest(member)
    }
    pub fn feature_enabled(&self, feature: Feature) -> bool {
        feature.enabled_at(self.upgrade.release)
    }
    pub fn is_primary(&self) -> bool {
        // A member with a gap between what it applied and its log window may have
        // missed a reconfiguration in the gap: it leads nothing until state transfer.
        self.is_voter(self.id)
            && self.primary_of(self.view) == self.id
            && self.applied >= self.log.base()
            && self.backup_of_view != Some(self.view)
    }
    /// The member this one believes is the primary of its current view: where a host
    /// forwards client requests. Only a hint: it may be stale or mid view change.
    pub fn primary_hint(&self) -> MemberId {
        match self.known_primary {
            Some((view, primary)) if view == self.view => primary,
            _ => self
                .hint_for_view(self.view)
                .map_or_else(|| self.primary_of(self.view), |hint| hint.primary_of(self.view)),
        }
    }
    /// Where this member's host sends a client's request: the primary of the newest
    /// view it heard a primary serve. That can be newer than its own view: a standby
    /// that does not follow yet (below `standby_replicas`) stays in the view it started
    /// in, and `primary_hint` would name that view's primary, who ignores the request.
    pub fn request_target(&self) -> MemberId {
        match self.known_primary {
            Some((view, primary)) if view >= self.view => primary,
            _ => self.primary_hint(),
        }
    }
    /// Primary of its view and in normal status: the member that takes requests.
    pub fn is_serving_primary(&self) -> bool {
        self.status() == Status::Normal && self.is_primary()
    }
    /// The digest of the applied state: state machine, sessions, release and op.
    pub fn state_digest(&self) -> u64 {
        let mut hasher = crate::checksum::Hasher64::new();
        hasher.write_u64(self.applied);
        hasher.write_u64(self.state.digest());
        hasher.write_u64(self.sessions.digest());
        hasher.write_u64(crate::message::release_word(self.upgrade.release));
        // Only once the membership changed, so that digests of runs without a
        // reconfiguration stay as they were.
        if self.config.last_change.is_some() {
            self.config.membership.hash_into(&mut hasher);
        }
        hasher.finish()
    }
}
