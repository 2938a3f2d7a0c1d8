//! The member ABI's own copy of the core's `Options`, frozen at version 1: the core's
//! struct grows with new settings, and a version-1 module must go on reading what a
//! newer host writes. A setting added later comes with a new ABI version.

use serde::{Deserialize, Serialize};

use crate::release::Release;
use crate::replica::Options;
use crate::types::{Op, Tick};

/// `Options` field for field, in this order (postcard writes fields in order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberOptions {
    pub cluster: u64,
    pub replica_count: u8,
    pub standby_count: u8,
    pub binary_release: Release,
    pub initial_release: Release,
    pub heartbeat_interval_ticks: Tick,
    pub primary_timeout_ticks: Tick,
    pub timeout_jitter_ticks: Tick,
    pub view_change_timeout_ticks: Tick,
    pub quorum_timeout_ticks: Tick,
    pub prepare_timeout_ticks: Tick,
    pub repair_interval_ticks: Tick,
    pub recovery_interval_ticks: Tick,
    pub scrub_interval_ticks: Tick,
    pub log_bound_ops: Op,
    pub pipeline_max_ops: Op,
    /// `usize` in the core: `u64` here, so that a 32-bit module and a 64-bit host agree.
    pub request_queue_max: u64,
    pub promotable_lag_ops: Op,
    pub standby_read_lag_ops: Op,
    pub auto_promote_after_ticks: Option<Tick>,
    pub report_applied: bool,
    pub preregistered_clients: u64,
    pub seed: u64,
}

impl From<&Options> for MemberOptions {
    fn from(options: &Options) -> Self {
        Self {
            cluster: options.cluster,
            replica_count: options.replica_count,
            standby_count: options.standby_count,
            binary_release: options.binary_release,
            initial_release: options.initial_release,
            heartbeat_interval_ticks: options.heartbeat_interval_ticks,
            primary_timeout_ticks: options.primary_timeout_ticks,
            timeout_jitter_ticks: options.timeout_jitter_ticks,
            view_change_timeout_ticks: options.view_change_timeout_ticks,
            quorum_timeout_ticks: options.quorum_timeout_ticks,
            prepare_timeout_ticks: options.prepare_timeout_ticks,
            repair_interval_ticks: options.repair_interval_ticks,
            recovery_interval_ticks: options.recovery_interval_ticks,
            scrub_interval_ticks: options.scrub_interval_ticks,
            log_bound_ops: options.log_bound_ops,
            pipeline_max_ops: options.pipeline_max_ops,
            request_queue_max: options.request_queue_max as u64,
            promotable_lag_ops: options.promotable_lag_ops,
            standby_read_lag_ops: options.standby_read_lag_ops,
            auto_promote_after_ticks: options.auto_promote_after_ticks,
            report_applied: options.report_applied,
            preregistered_clients: options.preregistered_clients,
            seed: options.seed,
        }
    }
}

impl MemberOptions {
    /// The core's options, or why the core would refuse them (it asserts, and an
    /// assertion in wasm is a trap the host cannot tell from a bug).
    pub fn to_core(&self) -> Result<Options, &'static str> {
        let members = self.replica_count.checked_add(self.standby_count).ok_or("too many members")?;
        if self.replica_count == 0 {
            return Err("replica_count must be at least 1");
        }
        if members as usize > crate::types::MEMBERS_MAX {
            return Err("replica_count + standby_count is over MEMBERS_MAX (16)");
        }
        if self.quorum_timeout_ticks >= self.primary_timeout_ticks {
            return Err("quorum_timeout_ticks must be below primary_timeout_ticks");
        }
        let request_queue_max =
            usize::try_from(self.request_queue_max).map_err(|_| "request_queue_max is too large")?;
        Ok(Options {
            cluster: self.cluster,
            replica_count: self.replica_count,
            standby_count: self.standby_count,
            binary_release: self.binary_release,
            initial_release: self.initial_release,
            heartbeat_interval_ticks: self.heartbeat_interval_ticks,
            primary_timeout_ticks: self.primary_timeout_ticks,
            timeout_jitter_ticks: self.timeout_jitter_ticks,
            view_change_timeout_ticks: self.view_change_timeout_ticks,
            quorum_timeout_ticks: self.quorum_timeout_ticks,
            prepare_timeout_ticks: self.prepare_timeout_ticks,
            repair_interval_ticks: self.repair_interval_ticks,
            recovery_interval_ticks: self.recovery_interval_ticks,
            scrub_interval_ticks: self.scrub_interval_ticks,
            log_bound_ops: self.log_bound_ops,
            pipeline_max_ops: self.pipeline_max_ops,
            request_queue_max,
            promotable_lag_ops: self.promotable_lag_ops,
            standby_read_lag_ops: self.standby_read_lag_ops,
            auto_promote_after_ticks: self.auto_promote_after_ticks,
            report_applied: self.report_applied,
            preregistered_clients: self.preregistered_clients,
            seed: self.seed,
        })
    }
}
