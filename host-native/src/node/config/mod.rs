//! The node's TOML configuration (`viewstamp start --config cluster.toml --member N`):
//! the members and their addresses, data directories, timers and limits, checked as a
//! whole when loaded so that a node never starts on a file its peers would disagree with.
//!
//! Relative data directories are relative to the file's directory, so a cluster's files
//! can move together; paths given on the command line are relative to where it runs.

mod address;
mod file;
mod local;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use viewstamp_core::release::{Release, NEWEST_RELEASE};
use viewstamp_core::replica::Options;
use viewstamp_core::types::{MemberId, Op, Tick};

use super::resp::ParserLimits;

pub use address::HostPort;
pub use file::{ConfigFile, LimitsFile, MemberFile, TimersFile, DEFAULT_DATA_DIR};
// `viewstamp dev` is the first user of these.
#[allow(unused_imports)]
pub use local::{local_cluster_toml, write_local_cluster, LocalCluster};

/// The most active replicas and standbys the core supports.
pub const ACTIVE_MAX: usize = 7;
pub const STANDBY_MAX: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Active,
    Standby,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub address: HostPort,
    pub client_address: HostPort,
    pub admin_address: HostPort,
    pub role: MemberRole,
    pub data_dir: PathBuf,
}

impl Member {
    /// The three listeners, with their field names.
    pub fn sockets(&self) -> [(&'static str, &HostPort); 3] {
        [("address", &self.address), ("client_address", &self.client_address), ("admin_address", &self.admin_address)]
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timers {
    pub tick_ms: u64,
    pub heartbeat_interval_ms: u64,
    pub primary_timeout_ms: u64,
    pub timeout_jitter_ms: u64,
    pub view_change_timeout_ms: u64,
    pub quorum_timeout_ms: u64,
}

impl Timers {
    /// Whole ticks, rounded up so that no timer fires early.
    pub fn ticks(&self, duration_ms: u64) -> Tick {
        duration_ms.div_ceil(self.tick_ms)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_client_connections: usize,
    pub max_argument_bytes: usize,
    pub max_arguments: usize,
    pub max_request_bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it came from, as given, for messages.
    pub origin: String,
    pub cluster_id: u64,
    /// Actives first (ids 0..R), then standbys (R..), as the core numbers them.
    pub members: Vec<Member>,
    pub timers: Timers,
    pub log_bound_ops: Op,
    pub shared_key: Option<String>,
    pub limits: Limits,
    /// The release this binary reports; older than it is only to rehearse upgrades.
    pub binary_release: Release,
    /// Where this member listens for peers when that is not its advertised `address`:
    /// behind a proxy or a port mapping. Only the command line sets it, so every
    /// member's file still agrees on the addresses peers dial.
    pub peer_listen: Option<HostPort>,
}

/// Command-line settings that replace the file's for the member being started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub client_address: Option<String>,
    pub admin_address: Option<String>,
    /// `--peer-listen`: bind here for peers, still advertising the file's address.
    pub peer_listen: Option<String>,
    pub binary_release: Option<Release>,
}

#[derive(Debug)]
pub enum ConfigError {
    Read {
        path: PathBuf,
        source: io::Error,
    },
    Write {
        path: PathBuf,
        source: io::Error,
    },
    /// Not TOML, or not the expected fields and types; the message shows the line.
    Syntax {
        origin: String,
        message: String,
    },
    /// A value that is well-formed but unusable, with the field it is in.
    Invalid {
        origin: String,
        field: String,
        message: String,
    },
    UnknownMember {
        origin: String,
        member: u64,
        member_count: usize,
    },
    /// A local cluster that cannot be laid out (too many members, ports past 65535).
    LocalCluster(String),
}

impl ConfigError {
    fn invalid(origin: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid { origin: origin.to_string(), field: field.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            ConfigError::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            ConfigError::Syntax { origin, message } => write!(f, "{origin}: {}", message.trim_end()),
            ConfigError::Invalid { origin, field, message } => write!(f, "{origin}: {field}: {message}"),
            ConfigError::UnknownMember { origin, member, member_count } => write!(
                f,
                "{origin}: there is no member {member}; the members are 0 to {}",
                member_count.saturating_sub(1)
            ),
            ConfigError::LocalCluster(message) => write!(f, "cannot lay out a local cluster: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } | ConfigError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Config {
    /// Read and check a cluster file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        Config::from_toml(&text, &path.display().to_string(), base_dir)
    }

    /// Check TOML text; `origin` names it in errors, `base_dir` anchors relative data directories.
    pub fn from_toml(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text)
            .map_err(|error| ConfigError::Syntax { origin: origin.to_string(), message: error.to_string() })?;
        validate::config(file, origin, base_dir)
    }

    pub fn member(&self, id: u64) -> Result<&Member, ConfigError> {
        let member_count = self.members.len();
        usize::try_from(id).ok().and_then(|index| self.members.get(index)).ok_or_else(|| ConfigError::UnknownMember {
            origin: self.origin.clone(),
            member: id,
            member_count,
        })
    }

    pub fn active_count(&self) -> u8 {
        self.members.iter().filter(|member| member.role == MemberRole::Active).count() as u8
    }

    pub fn standby_count(&self) -> u8 {
        self.members.iter().filter(|member| member.role == MemberRole::Standby).count() as u8
    }

    /// Replace the file's settings for `member` with the command line's, and check again.
    pub fn apply_overrides(&mut self, member: u64, overrides: &Overrides) -> Result<(), ConfigError> {
        let index = self.member(member)?.id as usize;
        let origin = "command line";
        let parse = |flag: &str, text: &str| {
            HostPort::parse(text).map_err(|message| ConfigError::invalid(origin, flag, message))
        };
        let mut changed = self.members[index].clone();
        if let Some(data_dir) = &overrides.data_dir {
            changed.data_dir = data_dir.clone();
        }
        if let Some(text) = &overrides.client_address {
            changed.client_address = parse("--client-address", text)?;
        }
        if let Some(text) = &overrides.admin_address {
            changed.admin_address = parse("--admin-address", text)?;
        }
        if let Some(release) = overrides.binary_release {
            if release > NEWEST_RELEASE {
                return Err(ConfigError::invalid(
                    origin,
                    "--binary-release",
                    format!("{release} is newer than this binary, which runs releases up to {NEWEST_RELEASE}"),
                ));
            }
        }
        let mut members = self.members.clone();
        members[index] = changed;
        let overridden = [
            ("--client-address", "client_address", overrides.client_address.is_some()),
            ("--admin-address", "admin_address", overrides.admin_address.is_some()),
        ];
        for (flag, field, _) in overridden.into_iter().filter(|(_, _, given)| *given) {
            let Some((_, address)) = members[index].sockets().into_iter().find(|(name, _)| *name == field) else {
                continue;
            };
            if let Some(taken) = taken_by(&members, address, (index, field)) {
                return Err(ConfigError::invalid(origin, flag, format!("{address} is also {taken}")));
            }
        }
        let peer_listen = match &overrides.peer_listen {
            Some(text) => {
                let listen = parse("--peer-listen", text)?;
                // Its own advertised address is fine: that is listening as if not overridden.
                if let Some(taken) = taken_by(&members, &listen, (index, "address")) {
                    return Err(ConfigError::invalid(origin, "--peer-listen", format!("{listen} is also {taken}")));
                }
                Some(listen)
            }
            None => self.peer_listen.clone(),
        };
        let changed = &members[index];
        if let Some(other) =
            members.iter().find(|other| other.id as usize != index && other.data_dir == changed.data_dir)
        {
            return Err(ConfigError::invalid(
                origin,
                "--data-dir",
                format!("{} is also the data directory of member {}", changed.data_dir.display(), other.id),
            ));
        }
        self.members = members;
        self.peer_listen = peer_listen;
        if let Some(release) = overrides.binary_release {
            self.binary_release = release;
        }
        Ok(())
    }

    /// The core's settings for `member`: membership counts, release and timers in ticks.
    pub fn replica_options(&self, member: MemberId) -> Options {
        let mut options = Options::new(self.active_count(), self.standby_count());
        options.cluster = self.cluster_id;
        options.binary_release = self.binary_release;
        // A cluster formatted by this binary starts at its release (see `viewstamp format`).
        options.initial_release = self.binary_release;
        options.heartbeat_interval_ticks = self.timers.ticks(self.timers.heartbeat_interval_ms);
        options.primary_timeout_ticks = self.timers.ticks(self.timers.primary_timeout_ms);
        options.timeout_jitter_ticks = self.timers.ticks(self.timers.timeout_jitter_ms);
        options.view_change_timeout_ticks = self.timers.ticks(self.timers.view_change_timeout_ms);
        options.quorum_timeout_ticks = self.timers.ticks(self.timers.quorum_timeout_ms);
        options.log_bound_ops = self.log_bound_ops;
        // Distinct per member, so that backups' timeout jitter differs.
        options.seed = self.cluster_id.rotate_left(8) ^ member as u64;
        options
    }

    pub fn parser_limits(&self) -> ParserLimits {
        ParserLimits {
            max_argument_bytes: self.limits.max_argument_bytes,
            max_arguments: self.limits.max_arguments,
            max_request_bytes: self.limits.max_request_bytes,
            ..ParserLimits::default()
        }
    }
}

/// Which member's listener other than `except` (member index, field) is on `address`.
fn taken_by(members: &[Member], address: &HostPort, except: (usize, &str)) -> Option<String> {
    members.iter().find_map(|other| {
        other
            .sockets()
            .into_iter()
            .find(|(name, used)| (other.id as usize, *name) != except && used.same_socket(address))
            .map(|(name, _)| format!("members[{}].{name}", other.id))
    })
}
