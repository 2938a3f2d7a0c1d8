//! The primary's side of rolling upgrades: operator commands and proposing the
//! `Upgrade` entry once every member advertises a binary that runs the target.

use alloc::vec::Vec;

use super::Replica;
use crate::message::Body;
use crate::release::{Feature, Release};
use crate::state_machine::StateMachine;
use crate::types::MemberId;
use crate::upgrade::{Refusal, UpgradeCommand, UpgradeEvent, UpgradeState};

/// What every host shows of rolling upgrades.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeStatus {
    pub cluster_release: Release,
    pub binary_release: Release,
    /// What each member advertises, as this member last heard.
    pub advertised: Vec<(MemberId, Option<Release>)>,
    pub target: Option<Release>,
    pub auto: bool,
    pub features_on: Vec<Feature>,
    pub history: Vec<UpgradeEvent>,
}

impl<S: StateMachine> Replica<S> {
    /// The upgrade state with this primary's uncommitted entries applied: what the
    /// cluster will have once its pipeline commits, and what operator commands are
    /// checked against.
    pub fn projected_upgrade(&self) -> UpgradeState {
        let mut state = self.upgrade.clone();
        for op in self.applied + 1..=self.log.op() {
            let Some(slot) = self.log.get(op) else { continue };
            match &slot.body {
                Some(Body::UpgradeControl(command)) => state.apply_command(op, *command),
                Some(Body::Upgrade { release }) => state.apply_upgrade(op, *release),
                _ => {}
            }
        }
        state
    }

    /// Take an operator's upgrade command. Only the serving primary accepts one; it
    /// becomes a log entry, so it survives view changes.
    pub fn handle_upgrade_command(&mut self, now: crate::types::Tick, command: UpgradeCommand) -> Result<(), Refusal> {
        self.now = now;
        if !self.is_serving_primary() {
            return Err(Refusal::NoPrimary);
        }
        let projected = self.projected_upgrade();
        let in_flight = self.upgrade_in_flight();
        // The spec's order: what is wrong with the command itself first, then what is
        // pending (an upgrade, or a reconfiguration nothing is prepared behind).
        let pending = match command {
            UpgradeCommand::Propose(to) => {
                projected.check_propose(to)?;
                in_flight.is_some()
            }
            // With an upgrade entry in the pipeline it is committing: too late to
            // withdraw, and saying `no-upgrade` would mislead the operator.
            UpgradeCommand::Cancel if in_flight.is_none() => {
                projected.check_cancel()?;
                false
            }
            UpgradeCommand::Cancel => true,
            UpgradeCommand::Auto(_) => false,
        };
        if pending || self.reconfig_in_progress() {
            return Err(Refusal::InProgress);
        }
        self.prepare_body(Body::UpgradeControl(command));
        self.maybe_propose_upgrade();
        Ok(())
    }

    /// The release of an `Upgrade` entry prepared but not yet committed.
    pub fn upgrade_in_flight(&self) -> Option<Release> {
        (self.commit_max + 1..=self.log.op()).find_map(|op| match self.log.get(op)?.body.as_ref()? {
            Body::Upgrade { release } => Some(*release),
            _ => None,
        })
    }

    /// The release the cluster is moving to: an upgrade entry in flight, or else the
    /// operator's pending proposal.
    pub fn upgrade_target(&self) -> Option<Release> {
        self.upgrade_in_flight().or(self.projected_upgrade().target)
    }

    /// Prepare an `Upgrade` entry when every member runs the release the cluster may
    /// move to (the operator's target, or with auto on, the newest they all run).
    pub(super) fn maybe_propose_upgrade(&mut self) {
        if !self.is_serving_primary() || self.applied < self.commit_max || self.upgrade_in_flight().is_some() {
            return;
        }
        // Every active replica and standby counts; a removed member does not.
        if self.reconfig_in_progress() {
            return;
        }
        let membership = self.membership();
        let members = membership.active().iter().chain(membership.standbys());
        let (now, window_ticks) = (self.now, self.options.quorum_timeout_ticks);
        let advertised: Vec<Option<Release>> =
            members.map(|member| self.advertised.counted(*member, now, window_ticks)).collect();
        let Some(release) = self.projected_upgrade().next_release(&advertised) else { return };
        debug_assert!(release <= self.options.binary_release);
        self.prepare_body(Body::Upgrade { release });
    }

    pub fn upgrade_status(&self) -> UpgradeStatus {
        let projected = self.projected_upgrade();
        UpgradeStatus {
            cluster_release: self.upgrade.release,
            binary_release: self.options.binary_release,
            advertised: (0..self.options.member_count()).map(|m| (m, self.advertised.latest(m))).collect(),
            target: self.upgrade_in_flight().or(projected.target),
            auto: projected.auto,
            features_on: Feature::ALL.into_iter().filter(|f| self.feature_enabled(*f)).collect(),
            history: self.upgrade.history.clone(),
        }
    }
}
