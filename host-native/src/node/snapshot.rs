//! What a node shows of itself: one serializable snapshot that `GET /status` returns
//! as JSON and `GET /metrics` renders in the Prometheus text format. The node loop
//! captures it from the core's read-only views, so the admin endpoint never touches
//! the replica itself.

use std::collections::BTreeMap;

use serde::Serialize;
use viewstamp_core::release::Feature;
use viewstamp_core::replica::{Replica, Role};
use viewstamp_core::state_machine::KvStore;
use viewstamp_core::types::{MemberId, Op, Tick};
use viewstamp_core::upgrade::UpgradeEventKind;

use super::storage::StorageMetrics;

#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeSnapshot {
    pub cluster_id: u64,
    pub member: MemberId,
    pub role: String,
    pub status: String,
    pub view: u64,
    pub op: Op,
    pub commit: Op,
    /// Whether this member is the primary serving clients.
    pub is_primary: bool,
    /// The member this one believes leads its view (where it forwards client requests).
    pub primary_hint: MemberId,
    pub binary_release: String,
    pub cluster_release: String,
    /// What each member advertises, as this member last heard (`None`: not heard).
    pub advertised: Vec<Advertised>,
    pub features: Vec<FeatureState>,
    pub upgrade_target: Option<String>,
    pub upgrade_auto: bool,
    pub upgrade_events: Vec<UpgradeEventView>,
    pub membership: MembershipView,
    /// The op of a reconfiguration that is in the log but not committed.
    pub reconfiguration_pending_op: Option<Op>,
    pub promotions: Vec<PromotionView>,
    /// Filled on the primary only: it is the one watching standbys.
    pub standbys: Vec<StandbyState>,
    pub standby_stats: StandbyStats,
    pub counters: BTreeMap<String, u64>,
    /// Client requests answered, by outcome (`ok`, `error`, `refused`, ...).
    pub requests: BTreeMap<String, u64>,
    pub storage: StorageFigures,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Advertised {
    pub member: MemberId,
    pub release: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FeatureState {
    pub name: String,
    pub since: String,
    pub on: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct UpgradeEventView {
    pub op: Op,
    pub event: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MembershipView {
    pub active: Vec<MemberId>,
    pub standbys: Vec<MemberId>,
    pub removed: Vec<MemberId>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PromotionView {
    pub op: Op,
    pub promoted: MemberId,
    pub replaced: Option<MemberId>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StandbyState {
    pub member: MemberId,
    pub healthy: bool,
    pub lag_ops: Option<Op>,
    pub promotable: bool,
    /// Recent (tick, lag) samples, oldest first, for plotting.
    pub lag_history: Vec<(Tick, Op)>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StandbyStats {
    pub healthy: usize,
    pub unhealthy: usize,
    pub lag_min_ops: Option<Op>,
    pub lag_max_ops: Option<Op>,
    pub lag_median_ops: Option<Op>,
}

/// Durable storage figures, as the storage worker reports them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StorageFigures {
    pub fsyncs: u64,
    pub bytes_written: u64,
    /// Cumulative counts of fsyncs that took at most `le_seconds`, Prometheus style.
    /// The last bound is +Inf, which JSON (`/status`) writes as `null`.
    pub fsync_buckets: Vec<(f64, u64)>,
    pub fsync_seconds_sum: f64,
    /// Set once a write failed (a full disk): the node then refuses writes.
    pub failed: Option<String>,
}

impl StorageFigures {
    pub fn from_metrics(metrics: &StorageMetrics, failed: Option<String>) -> Self {
        let histogram = &metrics.fsync_latency;
        StorageFigures {
            fsyncs: metrics.fsyncs,
            bytes_written: metrics.bytes_written,
            fsync_buckets: histogram
                .cumulative()
                .into_iter()
                .map(|(bound_us, count)| (bound_us.map_or(f64::INFINITY, |us| us as f64 / 1e6), count))
                .collect(),
            fsync_seconds_sum: histogram.sum_us() as f64 / 1e6,
            failed,
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Active => "active",
        Role::Standby => "standby",
        Role::Removed => "removed",
    }
}

fn event_text(kind: &UpgradeEventKind) -> String {
    match kind {
        UpgradeEventKind::Proposed(release) => format!("proposed {release}"),
        UpgradeEventKind::Cancelled(release) => format!("cancelled {release}"),
        UpgradeEventKind::AutoSet(on) => format!("auto {}", if *on { "on" } else { "off" }),
        UpgradeEventKind::Committed(from, to) => format!("committed {from} -> {to}"),
    }
}

impl NodeSnapshot {
    /// Everything the core shows; node-level figures (`requests`, `storage`) are the
    /// caller's to fill.
    pub fn capture(cluster_id: u64, replica: &Replica<KvStore>, now: Tick) -> NodeSnapshot {
        let upgrade = replica.upgrade_status();
        let reconfig = replica.reconfig_status();
        let membership = &reconfig.membership;
        let standbys = if replica.is_serving_primary() {
            let manager = replica.standby_manager();
            manager
                .views(replica.commit_max(), now)
                .into_iter()
                .map(|view| StandbyState {
                    member: view.member,
                    healthy: view.healthy,
                    lag_ops: view.lag_ops,
                    promotable: view.promotable,
                    lag_history: manager
                        .track(view.member)
                        .map(|track| track.lag_history.iter().copied().collect())
                        .unwrap_or_default(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let stats = replica.standby_stats();
        let counters = &replica.counters;
        let counters = BTreeMap::from([
            ("messages_dropped".to_string(), counters.messages_dropped),
            ("requests_dropped".to_string(), counters.requests_dropped),
            ("view_changes".to_string(), counters.view_changes),
            ("repairs_requested".to_string(), counters.repairs_requested),
            ("state_transfers".to_string(), counters.state_transfers),
            ("entries_scrubbed".to_string(), counters.entries_scrubbed),
            ("scrub_damage_found".to_string(), counters.scrub_damage_found),
            ("reconfigurations_prepared".to_string(), counters.reconfigurations_prepared),
            ("reconfigurations_applied".to_string(), counters.reconfigurations_applied),
        ]);
        NodeSnapshot {
            cluster_id,
            member: replica.id(),
            role: role_name(replica.role()).to_string(),
            status: replica.reported_status().name().to_string(),
            view: replica.view(),
            op: replica.op(),
            commit: replica.commit(),
            is_primary: replica.is_serving_primary(),
            primary_hint: replica.primary_hint(),
            binary_release: upgrade.binary_release.to_string(),
            cluster_release: upgrade.cluster_release.to_string(),
            advertised: upgrade
                .advertised
                .iter()
                .map(|(member, release)| Advertised {
                    member: *member,
                    release: release.map(|release| release.to_string()),
                })
                .collect(),
            features: Feature::ALL
                .into_iter()
                .map(|feature| FeatureState {
                    name: feature.name().to_string(),
                    since: feature.since().to_string(),
                    on: upgrade.features_on.contains(&feature),
                })
                .collect(),
            upgrade_target: upgrade.target.map(|release| release.to_string()),
            upgrade_auto: upgrade.auto,
            upgrade_events: upgrade
                .history
                .iter()
                .map(|event| UpgradeEventView { op: event.op, event: event_text(&event.kind) })
                .collect(),
            membership: MembershipView {
                active: membership.active().to_vec(),
                standbys: membership.standbys().to_vec(),
                removed: (0..replica.options().member_count())
                    .filter(|m| membership.role_of(*m) == Role::Removed)
                    .collect(),
            },
            reconfiguration_pending_op: reconfig.pending.as_ref().map(|(op, _)| *op),
            promotions: reconfig
                .promotions
                .iter()
                .map(|event| PromotionView { op: event.op, promoted: event.promoted, replaced: event.replaced })
                .collect(),
            standbys,
            standby_stats: StandbyStats {
                healthy: stats.healthy,
                unhealthy: stats.unhealthy,
                lag_min_ops: stats.lag_min_ops,
                lag_max_ops: stats.lag_max_ops,
                lag_median_ops: stats.lag_median_ops,
            },
            counters,
            requests: BTreeMap::new(),
            storage: StorageFigures::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use viewstamp_core::replica::Options;

    #[test]
    fn a_fresh_primary_shows_its_cluster() {
        let replica = Replica::new_formatted(Options::new(3, 1), 0, KvStore::new(), 0);
        let snapshot = NodeSnapshot::capture(7, &replica, 0);
        assert_eq!((snapshot.cluster_id, snapshot.member, snapshot.role.as_str()), (7, 0, "active"));
        assert!(snapshot.is_primary);
        assert_eq!(snapshot.membership.active, vec![0, 1, 2]);
        assert_eq!(snapshot.membership.standbys, vec![3]);
        assert_eq!(snapshot.features.len(), 5);
        assert!(snapshot.features.iter().all(|feature| feature.on), "a fresh cluster runs the newest release");
        let json = serde_json::to_value(&snapshot).expect("serializes");
        assert_eq!(json["cluster_release"], snapshot.cluster_release.as_str());
        assert_eq!(json["standbys"][0]["member"], 3);
    }
}
