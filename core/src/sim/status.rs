//! What the simulator shows of a member ([`StatusSnapshot`]), whichever code it runs.
//! A native member shows everything its replica knows. An archived one is a sealed
//! module that reports only its ABI summary, so its snapshot holds that summary, what
//! the simulator itself knows (its binary, the committed configuration, the standby
//! and upgrade projections kept beside an archived primary, the committed upgrade
//! history) and nothing invented: advertised releases and counters stay empty.

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;

use super::engine::MemberState;
use super::Simulator;
use crate::release::{Feature, Release};
use crate::replica::Membership;
use crate::standby::{HealthStats, StandbyView};
use crate::status_snapshot::{FeatureState, StandbyState, StatusSnapshot, UpgradeEventText};
use crate::types::MemberId;

impl Simulator {
    /// The member's snapshot while it is up.
    pub fn status_of(&self, member: MemberId) -> Option<StatusSnapshot> {
        if let Some(replica) = self.replica(member) {
            return Some(StatusSnapshot::of(replica, self.now()));
        }
        let state = self.member_state(member)?;
        let membership = self.committed_membership_of(member);
        let views: Vec<StandbyView> = if state.serving_primary {
            membership.standbys().iter().filter_map(|&standby| self.standby_view(member, standby)).collect()
        } else {
            Vec::new()
        };
        let upgrade_target = if state.serving_primary { self.upgrade_target_of(member).ok().flatten() } else { None };
        // The committed upgrade state as the checker projected it; of its history, the
        // events this member has applied.
        let committed = self.upgrade_watch.committed();
        let mut snapshot = status_of_state(member, &state, self.member(member).binary, membership);
        snapshot.upgrade_target = upgrade_target.map(|release| release.to_string());
        snapshot.upgrade_auto = committed.auto;
        snapshot.upgrade_events = committed
            .history
            .iter()
            .filter(|event| event.op <= state.commit)
            .map(|event| UpgradeEventText { op: event.op, event: event.kind.to_string() })
            .collect();
        snapshot.standby_stats = HealthStats::of(&views);
        snapshot.standbys = views.into_iter().map(|view| StandbyState { view, lag_history: Vec::new() }).collect();
        Some(snapshot)
    }
}

/// What a member that reports only its [`MemberState`] shows (an archived release
/// behind the member ABI, in the simulator or in a node): that state, the features its
/// committed release turns on, and `membership` as its host knows it. The rest (upgrade
/// history, standbys, counters) is empty until the host fills in what it knows.
pub fn status_of_state(
    member: MemberId,
    state: &MemberState,
    binary: Release,
    membership: Membership,
) -> StatusSnapshot {
    let (membership_active, quorum) = (membership.active().len(), membership.quorum());
    StatusSnapshot {
        member,
        role: state.role,
        status: state.status,
        view: state.view,
        log_view: state.log_view,
        op: state.op,
        commit: state.commit,
        commit_max: state.commit_max,
        is_primary: state.serving_primary,
        primary_hint: state.primary_hint,
        binary_release: binary.to_string(),
        cluster_release: state.release.to_string(),
        advertised: Vec::new(),
        features: Feature::ALL
            .into_iter()
            .map(|feature| FeatureState {
                name: feature.name(),
                since: feature.since().to_string(),
                on: feature.enabled_at(state.release),
            })
            .collect(),
        upgrade_target: None,
        upgrade_auto: false,
        upgrade_events: Vec::new(),
        membership,
        reconfiguration_pending_op: None,
        promotions: Vec::new(),
        standbys: Vec::new(),
        standby_stats: HealthStats::default(),
        // The ABI's summary says nothing of followers: nothing is invented.
        followers: Vec::new(),
        failure_tolerance: None,
        failure_tolerance_configured: (membership_active - quorum) as u8,
        health: crate::replica::health::HealthReport::of_status(state.status),
        counters: BTreeMap::new(),
    }
}
