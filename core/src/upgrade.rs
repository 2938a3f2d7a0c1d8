//! Rolling upgrades: the replicated upgrade state, operator commands and their refusals.
//!
//! The cluster release changes only when an `Upgrade` entry commits; operator commands
//! (`propose`, `cancel`, `auto`) are log entries too, so a pending proposal survives
//! view changes and restarts. The primary prepares an `Upgrade` entry only once every
//! member, standbys included, advertises a binary that runs the target release.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::release::{is_known_release, Feature, Release, KNOWN_RELEASES};
use crate::types::Op;

/// Upgrade events kept in the replicated history.
pub const HISTORY_MAX: usize = 64;

/// An operator's upgrade command, as carried in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpgradeCommand {
    Propose(Release),
    Cancel,
    Auto(bool),
}

impl core::fmt::Display for UpgradeCommand {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UpgradeCommand::Propose(to) => write!(f, "propose to={to}"),
            UpgradeCommand::Cancel => f.write_str("cancel"),
            UpgradeCommand::Auto(on) => write!(f, "auto={}", if *on { "on" } else { "off" }),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpgradeEventKind {
    Proposed(Release),
    Cancelled(Release),
    AutoSet(bool),
    /// The cluster release moved from the first to the second.
    Committed(Release, Release),
}

/// The text every host shows for an event: `proposed 1.3.0`, `committed 1.0.0 -> 1.3.0`.
impl core::fmt::Display for UpgradeEventKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UpgradeEventKind::Proposed(release) => write!(f, "proposed {release}"),
            UpgradeEventKind::Cancelled(release) => write!(f, "cancelled {release}"),
            UpgradeEventKind::AutoSet(on) => write!(f, "auto {}", if *on { "on" } else { "off" }),
            UpgradeEventKind::Committed(from, to) => write!(f, "committed {from} -> {to}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeEvent {
    pub op: Op,
    pub kind: UpgradeEventKind,
}

/// Why the cluster refused an operator command: the spec's codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    MajorMismatch,
    NotNewer,
    UnknownRelease,
    InProgress,
    NoUpgrade,
    NotStandby,
    NotPromotable,
    FeatureOff,
    NoPrimary,
}

impl Refusal {
    pub const fn code(self) -> &'static str {
        match self {
            Refusal::MajorMismatch => "major-mismatch",
            Refusal::NotNewer => "not-newer",
            Refusal::UnknownRelease => "unknown-release",
            Refusal::InProgress => "in-progress",
            Refusal::NoUpgrade => "no-upgrade",
            Refusal::NotStandby => "not-standby",
            Refusal::NotPromotable => "not-promotable",
            Refusal::FeatureOff => "feature-off",
            Refusal::NoPrimary => "no-primary",
        }
    }

    /// Every refusal, in the spec's order.
    pub const ALL: [Refusal; 9] = [
        Refusal::MajorMismatch,
        Refusal::NotNewer,
        Refusal::UnknownRelease,
        Refusal::InProgress,
        Refusal::NoUpgrade,
        Refusal::NotStandby,
        Refusal::NotPromotable,
        Refusal::FeatureOff,
        Refusal::NoPrimary,
    ];

    /// The refusal a [`code`](Self::code) names (what the member ABI and the admin
    /// endpoint carry).
    pub fn from_code(code: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|refusal| refusal.code() == code)
    }
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

/// The replicated upgrade state: part of every checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeState {
    /// The committed cluster release.
    pub release: Release,
    /// The operator's pending proposal.
    pub target: Option<Release>,
    pub auto: bool,
    pub history: Vec<UpgradeEvent>,
}

impl UpgradeState {
    pub fn new(release: Release) -> Self {
        Self { release, target: None, auto: true, history: Vec::new() }
    }

    pub fn feature_enabled(&self, feature: Feature) -> bool {
        feature.enabled_at(self.release)
    }

    /// The spec's checks for `upgrade propose`, in the spec's order.
    pub fn check_propose(&self, to: Release) -> Result<(), Refusal> {
        if !to.compatible_with(&self.release) {
            return Err(Refusal::MajorMismatch);
        }
        if to <= self.release {
            return Err(Refusal::NotNewer);
        }
        if !is_known_release(to) {
            return Err(Refusal::UnknownRelease);
        }
        if self.target.is_some() {
            return Err(Refusal::InProgress);
        }
        Ok(())
    }

    pub fn check_cancel(&self) -> Result<(), Refusal> {
        match self.target {
            Some(_) => Ok(()),
            None => Err(Refusal::NoUpgrade),
        }
    }

    fn record(&mut self, op: Op, kind: UpgradeEventKind) {
        if self.history.len() == HISTORY_MAX {
            // From 1.4.0 the commits stay (`release_at` reads them; strictly rising
            // releases, so few); below it, the rule older binaries apply alike.
            let oldest = if Feature::KvCommands.enabled_at(self.release) {
                self.history.iter().position(|event| !matches!(event.kind, UpgradeEventKind::Committed(..)))
            } else {
                None
            };
            self.history.remove(oldest.unwrap_or(0));
        }
        self.history.push(UpgradeEvent { op, kind });
    }

    /// The cluster release in force when `op` applied: the release a client session
    /// registered at `op` opened under. From 1.4.0 on the history keeps every commit,
    /// so the answer is exact from there; an op older than a commit evicted before
    /// 1.4.0 may read a later release, but still one below 1.4.0, which is all that
    /// the features checked by session (1.4.0's and later) need.
    pub fn release_at(&self, op: Op) -> Release {
        let mut release = self.release;
        for event in self.history.iter().rev() {
            if event.op < op {
                break;
            }
            if let UpgradeEventKind::Committed(from, _) = event.kind {
                release = from;
            }
        }
        release
    }

    /// Apply a committed operator command. Commands were checked when proposed, but
    /// an older entry may have changed the state since, so they are checked again.
    pub fn apply_command(&mut self, op: Op, command: UpgradeCommand) {
        match command {
            UpgradeCommand::Propose(to) => {
                if self.check_propose(to).is_ok() {
                    self.target = Some(to);
                    self.record(op, UpgradeEventKind::Proposed(to));
                }
            }
            UpgradeCommand::Cancel => {
                if let Some(target) = self.target.take() {
                    self.record(op, UpgradeEventKind::Cancelled(target));
                }
            }
            UpgradeCommand::Auto(on) => {
                self.auto = on;
                self.record(op, UpgradeEventKind::AutoSet(on));
            }
        }
    }

    /// Apply a committed `Upgrade` entry: the release moves up, never down.
    pub fn apply_upgrade(&mut self, op: Op, to: Release) {
        if to > self.release && to.compatible_with(&self.release) {
            let from = self.release;
            self.release = to;
            if self.target.is_some_and(|target| target <= to) {
                self.target = None;
            }
            self.record(op, UpgradeEventKind::Committed(from, to));
        }
    }

    /// The release the primary may commit now, given what each member advertises
    /// (`None` for a member not heard from yet): the pending target once every member
    /// runs it, or with `auto` on, the newest known release every member runs.
    pub fn next_release(&self, advertised: &[Option<Release>]) -> Option<Release> {
        let mut floor: Option<Release> = None;
        for release in advertised {
            let release = (*release)?;
            floor = Some(floor.map_or(release, |floor| floor.min(release)));
        }
        let floor = floor?;
        let candidate = match self.target {
            Some(target) => (floor >= target).then_some(target)?,
            None if self.auto => KNOWN_RELEASES
                .iter()
                .copied()
                .filter(|release| *release <= floor && release.compatible_with(&self.release))
                .max()?,
            None => return None,
        };
        (candidate > self.release).then_some(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Release {
        text.parse().unwrap()
    }

    #[test]
    fn propose_checks_run_in_the_spec_order() {
        let mut state = UpgradeState::new(r("1.1.0"));
        assert_eq!(state.check_propose(r("2.0.0")), Err(Refusal::MajorMismatch));
        assert_eq!(state.check_propose(r("1.0.0")), Err(Refusal::NotNewer));
        assert_eq!(state.check_propose(r("1.1.0")), Err(Refusal::NotNewer));
        assert_eq!(state.check_propose(r("1.2.5")), Err(Refusal::UnknownRelease));
        assert_eq!(state.check_propose(r("1.3.0")), Ok(()));
        state.apply_command(5, UpgradeCommand::Propose(r("1.3.0")));
        assert_eq!(state.check_propose(r("1.2.0")), Err(Refusal::InProgress));
        // not-newer comes before in-progress.
        assert_eq!(state.check_propose(r("1.0.0")), Err(Refusal::NotNewer));
        assert_eq!(state.check_cancel(), Ok(()));
        state.apply_command(6, UpgradeCommand::Cancel);
        assert_eq!(state.check_cancel(), Err(Refusal::NoUpgrade));
        assert_eq!(state.history.len(), 2);
    }

    #[test]
    fn release_at_reads_the_release_in_force_at_an_op_and_keeps_it_from_1_4_0() {
        let mut state = UpgradeState::new(r("1.0.0"));
        state.apply_upgrade(10, r("1.3.0"));
        state.apply_upgrade(20, r("1.4.0"));
        assert_eq!((state.release_at(0), state.release_at(9)), (r("1.0.0"), r("1.0.0")));
        assert_eq!((state.release_at(11), state.release_at(19)), (r("1.3.0"), r("1.3.0")));
        assert_eq!(state.release_at(21), r("1.4.0"));
        // A full history of other events keeps its commits from 1.4.0 on.
        for op in 0..2 * HISTORY_MAX as u64 {
            state.apply_command(100 + op, UpgradeCommand::Auto(op % 2 == 0));
        }
        assert_eq!(state.history.len(), HISTORY_MAX);
        assert_eq!(
            (state.release_at(9), state.release_at(19), state.release_at(21)),
            (r("1.0.0"), r("1.3.0"), r("1.4.0"))
        );
        // Below 1.4.0 the oldest event goes, whatever it is, as older binaries do it.
        let mut old = UpgradeState::new(r("1.0.0"));
        old.apply_upgrade(10, r("1.3.0"));
        for op in 0..HISTORY_MAX as u64 {
            old.apply_command(100 + op, UpgradeCommand::Auto(true));
        }
        assert!(old.history.iter().all(|event| !matches!(event.kind, UpgradeEventKind::Committed(..))));
    }

    #[test]
    fn next_release_waits_for_every_member() {
        let mut state = UpgradeState::new(r("1.0.0"));
        let all = |text: &str| [Some(r(text)), Some(r(text)), Some(r(text))];
        assert_eq!(state.next_release(&[Some(r("1.3.0")), None, Some(r("1.3.0"))]), None);
        assert_eq!(state.next_release(&[Some(r("1.3.0")), Some(r("1.1.0")), Some(r("1.3.0"))]), Some(r("1.1.0")));
        assert_eq!(state.next_release(&all("1.3.0")), Some(r("1.3.0")));
        state.auto = false;
        assert_eq!(state.next_release(&all("1.3.0")), None);
        state.apply_command(1, UpgradeCommand::Propose(r("1.2.0")));
        assert_eq!(state.next_release(&all("1.1.0")), None);
        assert_eq!(state.next_release(&all("1.3.0")), Some(r("1.2.0")));
        state.apply_upgrade(2, r("1.2.0"));
        assert_eq!(state.release, r("1.2.0"));
        assert_eq!(state.target, None);
        state.apply_upgrade(3, r("1.1.0"));
        assert_eq!(state.release, r("1.2.0"), "never moves down");
    }
}
