//! What a member shows of itself: one serialisable snapshot of a replica, and the
//! spec's words for its status. Every host shows this one view model (a node at
//! `GET /status` and `/metrics`, the browser for each simulated member) and adds only
//! what the core cannot know: addresses, storage figures, the simulator's clock.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Serialize, Serializer};

use crate::release::Feature;
use crate::replica::follower_lag::FollowerLag;
use crate::replica::health::HealthReport;
use crate::replica::membership::PromotionEvent;
use crate::replica::{Counters, Membership, Replica, Role};
use crate::standby::{HealthStats, StandbyView};
use crate::state_machine::StateMachine;
use crate::types::{MemberId, Op, Tick, View};

/// A member's status in the spec's words: the protocol's `Status`, with `normal` shown
/// as `catching-up` while it waits for state transfer, and what only a host knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportedStatus {
    Normal,
    ViewChange,
    Recovering,
    CatchingUp,
    Halted,
    /// A simulated member that is down.
    Crashed,
    /// A node whose storage failed a write: it takes no further part.
    StorageFailed,
}

impl ReportedStatus {
    pub const fn name(self) -> &'static str {
        match self {
            ReportedStatus::Normal => "normal",
            ReportedStatus::ViewChange => "view-change",
            ReportedStatus::Recovering => "recovering",
            ReportedStatus::CatchingUp => "catching-up",
            ReportedStatus::Halted => "halted",
            ReportedStatus::Crashed => "crashed",
            ReportedStatus::StorageFailed => "storage-failed",
        }
    }

    pub const ALL: [ReportedStatus; 7] = [
        ReportedStatus::Normal,
        ReportedStatus::ViewChange,
        ReportedStatus::Recovering,
        ReportedStatus::CatchingUp,
        ReportedStatus::Halted,
        ReportedStatus::Crashed,
        ReportedStatus::StorageFailed,
    ];

    /// The status a [`name`](Self::name) names (the member ABI's `Summary.status`).
    pub fn from_name(name: &str) -> Option<ReportedStatus> {
        ReportedStatus::ALL.into_iter().find(|status| status.name() == name)
    }
}

impl Serialize for ReportedStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Everything a member shows of itself, as it knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusSnapshot {
    pub member: MemberId,
    pub role: Role,
    pub status: ReportedStatus,
    pub view: View,
    /// The view in which its log was last brought up to date.
    pub log_view: View,
    pub op: Op,
    pub commit: Op,
    /// The newest commit it has heard of; ahead of `commit` while it catches up.
    pub commit_max: Op,
    /// Whether this member is the primary serving clients.
    pub is_primary: bool,
    /// The member this one believes leads its view (where a host forwards requests).
    pub primary_hint: MemberId,
    /// The newest release its binary runs.
    pub binary_release: String,
    /// The committed cluster release, as far as this member applied.
    pub cluster_release: String,
    /// What each member advertises, as this member last heard.
    pub advertised: Vec<AdvertisedRelease>,
    pub features: Vec<FeatureState>,
    /// Where the cluster is moving: an upgrade entry in flight, or a pending proposal.
    pub upgrade_target: Option<String>,
    pub upgrade_auto: bool,
    /// Committed upgrade events, oldest first (the core keeps the newest 64).
    pub upgrade_events: Vec<UpgradeEventText>,
    /// As of the newest op this member applied.
    pub membership: Membership,
    /// The op of a reconfiguration that is in the log but not committed.
    pub reconfiguration_pending_op: Option<Op>,
    pub promotions: Vec<PromotionEvent>,
    /// Filled on the serving primary only: it is the one watching standbys.
    pub standbys: Vec<StandbyState>,
    pub standby_stats: HealthStats,
    /// Every other member, how far behind in ops and in time (the serving primary only).
    pub followers: Vec<FollowerLag>,
    /// Active replicas that may still fail before the cluster stops, by what the serving
    /// primary heard within its quorum timeout; `None` on other members.
    pub failure_tolerance: Option<u8>,
    /// The same with every active replica up: what the configuration is built for.
    pub failure_tolerance_configured: u8,
    /// Whether it can serve clients now, and why not.
    pub health: HealthReport,
    /// The replica's counters by name; a host may add its own.
    pub counters: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdvertisedRelease {
    pub member: MemberId,
    /// `None`: not heard from yet.
    pub release: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureState {
    pub name: &'static str,
    /// The release that brings it.
    pub since: String,
    pub on: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpgradeEventText {
    pub op: Op,
    /// `proposed 1.3.0`, `committed 1.0.0 -> 1.3.0`, `auto off`, ...
    pub event: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StandbyState {
    #[serde(flatten)]
    pub view: StandbyView,
    /// Recent `(tick, lag_ops)` samples, oldest first, for plotting.
    pub lag_history: Vec<(Tick, Op)>,
}

impl StatusSnapshot {
    /// `now` is the host's clock: standby health is judged against it, which may be
    /// later than the replica's last event.
    pub fn of<S: StateMachine>(replica: &Replica<S>, now: Tick) -> StatusSnapshot {
        let upgrade = replica.upgrade_status();
        let reconfig = replica.reconfig_status();
        StatusSnapshot {
            member: replica.id(),
            role: replica.role(),
            status: replica.reported_status(),
            view: replica.view(),
            log_view: replica.log_view(),
            op: replica.op(),
            commit: replica.commit(),
            commit_max: replica.commit_max(),
            is_primary: replica.is_serving_primary(),
            primary_hint: replica.primary_hint(),
            binary_release: upgrade.binary_release.to_string(),
            cluster_release: upgrade.cluster_release.to_string(),
            advertised: upgrade
                .advertised
                .iter()
                .map(|(member, release)| AdvertisedRelease {
                    member: *member,
                    release: release.map(|release| release.to_string()),
                })
                .collect(),
            features: Feature::ALL
                .into_iter()
                .map(|feature| FeatureState {
                    name: feature.name(),
                    since: feature.since().to_string(),
                    on: upgrade.features_on.contains(&feature),
                })
                .collect(),
            upgrade_target: upgrade.target.map(|release| release.to_string()),
            upgrade_auto: upgrade.auto,
            upgrade_events: upgrade
                .history
                .iter()
                .map(|event| UpgradeEventText { op: event.op, event: event.kind.to_string() })
                .collect(),
            membership: reconfig.membership,
            reconfiguration_pending_op: reconfig.pending.map(|(op, _)| op),
            promotions: reconfig.promotions,
            standbys: standbys(replica, now),
            standby_stats: replica.standby_manager().stats(replica.commit_max(), now),
            followers: replica.follower_lags(now),
            failure_tolerance: replica.failure_tolerance(now),
            failure_tolerance_configured: replica.failure_tolerance_configured(),
            health: replica.health(now),
            counters: named_counters(&replica.counters)
                .into_iter()
                .map(|(name, count)| (name.to_string(), count))
                .collect(),
        }
    }
}

fn standbys<S: StateMachine>(replica: &Replica<S>, now: Tick) -> Vec<StandbyState> {
    if !replica.is_serving_primary() {
        return Vec::new();
    }
    let manager = replica.standby_manager();
    manager
        .views(replica.commit_max(), now)
        .into_iter()
        .map(|view| StandbyState {
            lag_history: manager
                .track(view.member)
                .map(|track| track.lag_history.iter().copied().collect())
                .unwrap_or_default(),
            view,
        })
        .collect()
}

/// Destructured so that a new counter does not compile until it is shown.
fn named_counters(counters: &Counters) -> [(&'static str, u64); 14] {
    let Counters {
        messages_dropped,
        messages_invalid,
        abdications,
        sessions_evicted_refused,
        requests_refused_release,
        reads_by_index,
        requests_dropped,
        view_changes,
        repairs_requested,
        state_transfers,
        entries_scrubbed,
        scrub_damage_found,
        reconfigurations_prepared,
        reconfigurations_applied,
    } = *counters;
    [
        ("messages_dropped", messages_dropped),
        ("messages_invalid", messages_invalid),
        ("abdications", abdications),
        ("sessions_evicted_refused", sessions_evicted_refused),
        ("requests_refused_release", requests_refused_release),
        ("reads_by_index", reads_by_index),
        ("requests_dropped", requests_dropped),
        ("view_changes", view_changes),
        ("repairs_requested", repairs_requested),
        ("state_transfers", state_transfers),
        ("entries_scrubbed", entries_scrubbed),
        ("scrub_damage_found", scrub_damage_found),
        ("reconfigurations_prepared", reconfigurations_prepared),
        ("reconfigurations_applied", reconfigurations_applied),
    ]
}

#[cfg(test)]
mod tests;
