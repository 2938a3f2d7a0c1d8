//! What a node shows of itself: the core's status snapshot of its replica, with what
//! only the node knows (its cluster id, client request outcomes, storage figures).
//! `GET /status` returns it as JSON and `GET /metrics` renders it in the Prometheus
//! text format. The node loop captures it, so the admin endpoint never touches the
//! replica itself.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use viewstamp_core::replica::Role;
use viewstamp_core::status_snapshot::StatusSnapshot;
use viewstamp_core::types::{MemberId, Tick};

use super::engine::NodeCore;
use super::storage::StorageMetrics;

#[derive(Clone, Debug, Serialize)]
pub struct NodeSnapshot {
    pub cluster_id: u64,
    /// Its fields stand at the top level of the JSON, beside the node's own.
    #[serde(flatten)]
    pub replica: StatusSnapshot,
    /// The archived release whose real code runs this member (its module from
    /// `releases/`, in wasmtime); absent when the current code runs it. An archived
    /// core reports only its ABI summary: no counters, advertised releases or history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_core: Option<String>,
    /// Client requests answered, by outcome (`ok`, `error`, `refused`, ...).
    pub requests: BTreeMap<String, u64>,
    pub storage: StorageFigures,
    /// `followers` in seconds (the primary only): how far behind each other member is.
    pub lag: Vec<FollowerSeconds>,
}

/// One follower's lag with the core's ticks turned into seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FollowerSeconds {
    pub member: MemberId,
    pub role: Role,
    pub lag_ops: Option<u64>,
    /// How long ago the oldest committed op it lacks was committed (0: it lacks none).
    pub lag_seconds: Option<f64>,
    pub last_contact_seconds_ago: Option<f64>,
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

impl NodeSnapshot {
    /// Everything the core shows; node-level figures (`requests`, `storage`) are the
    /// caller's to fill.
    /// `tick` is how long one of the core's ticks lasts on this node.
    pub fn capture(cluster_id: u64, core: &NodeCore, now: Tick, tick: Duration) -> NodeSnapshot {
        let replica = core.status_snapshot(now);
        let seconds = |ticks: Tick| tick.as_secs_f64() * ticks as f64;
        let lag = replica
            .followers
            .iter()
            .map(|follower| FollowerSeconds {
                member: follower.member,
                role: follower.role,
                lag_ops: follower.lag_ops,
                lag_seconds: follower.lag_ticks.map(seconds),
                last_contact_seconds_ago: follower.last_contact_ticks_ago.map(seconds),
            })
            .collect();
        NodeSnapshot {
            cluster_id,
            replica,
            archived_core: core.archived_release().map(|release| release.to_string()),
            requests: BTreeMap::new(),
            storage: StorageFigures::default(),
            lag,
        }
    }
}

/// A fresh primary of three replicas and a standby, for tests to adjust.
#[cfg(test)]
pub fn sample() -> NodeSnapshot {
    use viewstamp_core::replica::{Options, Replica};
    use viewstamp_core::state_machine::KvStore;
    let replica = Replica::new_formatted(Options::new(3, 1), 0, KvStore::new(), 0);
    NodeSnapshot::capture(7, &NodeCore::Native(Box::new(replica)), 0, Duration::from_millis(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_primary_shows_its_cluster() {
        let snapshot = sample();
        let replica = &snapshot.replica;
        assert_eq!((snapshot.cluster_id, replica.member, replica.role), (7, 0, Role::Active));
        assert!(replica.is_primary);
        assert_eq!(replica.membership.active(), [0, 1, 2]);
        assert_eq!(replica.membership.standbys(), [3]);
        assert_eq!(replica.features.len(), viewstamp_core::release::Feature::ALL.len());
        assert!(replica.features.iter().all(|feature| feature.on), "a fresh cluster runs the newest release");
        let json = serde_json::to_value(&snapshot).expect("serializes");
        assert_eq!((json["cluster_id"].as_u64(), json["member"].as_u64()), (Some(7), Some(0)));
        assert_eq!((json["role"].as_str(), json["status"].as_str()), (Some("active"), Some("normal")));
        assert_eq!(json["cluster_release"], replica.cluster_release.as_str());
        assert_eq!(json["membership"]["standbys"][0], 3);
        assert_eq!(json["standbys"][0]["member"], 3);
        assert_eq!(json["standbys"][0]["healthy"], true);
        assert!(json["standbys"][0]["lag_history"].is_array());
        assert!(json["storage"]["fsync_buckets"].is_array());
    }
}
