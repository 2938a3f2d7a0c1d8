//! A cluster on one machine, for `viewstamp dev` and tests: every member on loopback,
//! ports counted up from a base for each kind of listener.

use std::path::Path;

use super::{
    Config, ConfigError, ConfigFile, LimitsFile, MemberFile, MemberRole, TimersFile, ACTIVE_MAX, DEFAULT_DATA_DIR,
    STANDBY_MAX,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCluster {
    pub cluster_id: u64,
    pub replicas: u8,
    pub standbys: u8,
    /// Member `i` listens for peers on `peer_base_port + i`, and so on.
    pub peer_base_port: u16,
    pub client_base_port: u16,
    pub admin_base_port: u16,
}

impl Default for LocalCluster {
    fn default() -> Self {
        Self {
            cluster_id: 1,
            replicas: 3,
            standbys: 0,
            peer_base_port: 7100,
            client_base_port: 6380,
            admin_base_port: 8100,
        }
    }
}

/// The TOML text of a local cluster, checked by loading it back.
pub fn local_cluster_toml(spec: &LocalCluster) -> Result<String, ConfigError> {
    let fail = |message: String| Err(ConfigError::LocalCluster(message));
    if !(1..=ACTIVE_MAX as u8).contains(&spec.replicas) {
        return fail(format!("{} active replicas; choose 1 to {ACTIVE_MAX}", spec.replicas));
    }
    if spec.standbys > STANDBY_MAX as u8 {
        return fail(format!("{} standbys; choose 0 to {STANDBY_MAX}", spec.standbys));
    }
    let count = (spec.replicas + spec.standbys) as u32;
    let ranges = [("peer", spec.peer_base_port), ("client", spec.client_base_port), ("admin", spec.admin_base_port)];
    for (kind, base) in ranges {
        if base == 0 || base as u32 + count - 1 > u16::MAX as u32 {
            return fail(format!("{kind} ports {base} to {} are not all valid ports", base as u32 + count - 1));
        }
    }
    for (index, (kind, base)) in ranges.iter().enumerate() {
        for (other_kind, other_base) in &ranges[index + 1..] {
            if (*base as u32).abs_diff(*other_base as u32) < count {
                return fail(format!(
                    "{kind} ports from {base} and {other_kind} ports from {other_base} overlap for {count} members"
                ));
            }
        }
    }
    let members = (0..count as u16)
        .map(|id| MemberFile {
            id: id as u64,
            address: format!("127.0.0.1:{}", spec.peer_base_port + id),
            client_address: format!("127.0.0.1:{}", spec.client_base_port + id),
            admin_address: format!("127.0.0.1:{}", spec.admin_base_port + id),
            role: if id < spec.replicas as u16 { MemberRole::Active } else { MemberRole::Standby },
            data_dir: None,
        })
        .collect();
    let file = ConfigFile {
        cluster_id: spec.cluster_id,
        data_dir: String::from(DEFAULT_DATA_DIR),
        log_bound_ops: 4096,
        shared_key: None,
        timers: TimersFile::default(),
        limits: LimitsFile::default(),
        members,
    };
    let body = toml::to_string(&file).map_err(|error| ConfigError::LocalCluster(error.to_string()))?;
    let text = format!(
        "# A local cluster of {} active replica(s) and {} standby(s), written by viewstamp.\n\
         # Data directories are relative to this file's directory.\n\n{body}",
        spec.replicas, spec.standbys
    );
    Config::from_toml(&text, "generated local cluster", Path::new(""))?;
    Ok(text)
}

/// Write a local cluster's file to `path` and return it as loaded from there.
pub fn write_local_cluster(path: &Path, spec: &LocalCluster) -> Result<Config, ConfigError> {
    let text = local_cluster_toml(spec)?;
    std::fs::write(path, text).map_err(|source| ConfigError::Write { path: path.to_path_buf(), source })?;
    Config::load(path)
}
