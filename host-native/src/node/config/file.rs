//! The TOML file as written, before validation. Unknown keys are errors, so that a
//! misspelt setting is reported instead of silently left at its default.

use serde::{Deserialize, Serialize};

use super::MemberRole;

pub const DEFAULT_DATA_DIR: &str = "data/member-{id}";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub cluster_id: u64,
    /// A directory template; `{id}` becomes the member's id.
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    #[serde(default = "default_log_bound_ops")]
    pub log_bound_ops: u64,
    /// A secret every member shares, for the peer handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_key: Option<String>,
    #[serde(default)]
    pub timers: TimersFile,
    #[serde(default)]
    pub limits: LimitsFile,
    pub members: Vec<MemberFile>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MemberFile {
    pub id: u64,
    /// Where the other members reach this one.
    pub address: String,
    pub client_address: String,
    /// The HTTP port for status and metrics.
    pub admin_address: String,
    pub role: MemberRole,
    /// Replaces the top-level template for this member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimersFile {
    /// One core tick: every other timer is rounded up to whole ticks.
    pub tick_ms: u64,
    pub heartbeat_interval_ms: u64,
    /// A backup that hears nothing from the primary for this long starts a view change.
    pub primary_timeout_ms: u64,
    /// Up to this much extra wait, so that backups do not all time out at once.
    pub timeout_jitter_ms: u64,
    /// A view change not finished in this long moves on to the next view.
    pub view_change_timeout_ms: u64,
    /// A primary that heard from no quorum for this long gives way; it is also the
    /// lease standbys read on. Below `primary_timeout_ms`; by default three quarters of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_timeout_ms: Option<u64>,
}

impl Default for TimersFile {
    fn default() -> Self {
        Self {
            tick_ms: 10,
            heartbeat_interval_ms: 100,
            primary_timeout_ms: 1000,
            timeout_jitter_ms: 500,
            view_change_timeout_ms: 1500,
            quorum_timeout_ms: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    pub max_client_connections: u64,
    /// The longest key, value or other argument a client may send.
    pub max_argument_bytes: u64,
    /// The most arguments in one client request, command name included.
    pub max_arguments: u64,
    /// The most bytes one client request may take, which bounds each connection's buffer.
    pub max_request_bytes: u64,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            max_client_connections: 1024,
            max_argument_bytes: 1024 * 1024,
            max_arguments: 4096,
            max_request_bytes: 64 * 1024 * 1024,
        }
    }
}

fn default_data_dir() -> String {
    String::from(DEFAULT_DATA_DIR)
}

/// A checkpoint every 1024 ops: snapshots copy the whole state, so not too often.
fn default_log_bound_ops() -> u64 {
    4096
}
