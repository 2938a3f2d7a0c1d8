//! From the file as written to a `Config`, refusing anything a node could not run with.
//! Each error names the field, as `members[2].address`, so it can be found and fixed.

use std::path::{Path, PathBuf};

use viewstamp_core::release::NEWEST_RELEASE;

use super::{
    ConfigError, ConfigFile, HostPort, Limits, LimitsFile, Member, MemberFile, MemberRole, Timers, TimersFile,
    ACTIVE_MAX, STANDBY_MAX,
};

const TIMER_MAX_MS: u64 = 3_600_000;
const LOG_BOUND_MIN_OPS: u64 = 4;
const LOG_BOUND_MAX_OPS: u64 = 1 << 24;
const SHARED_KEY_MIN_BYTES: usize = 16;
const ARGUMENT_MAX_BYTES: u64 = 512 * 1024 * 1024;
const REQUEST_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// SET key value and MSET k v need three.
const ARGUMENTS_MIN: u64 = 3;
const ARGUMENTS_MAX: u64 = 1024 * 1024;
const CLIENT_CONNECTIONS_MAX: u64 = 1_000_000;

pub(super) fn config(file: ConfigFile, origin: &str, base_dir: &Path) -> Result<super::Config, ConfigError> {
    let invalid = |field: &str, message: String| ConfigError::invalid(origin, field, message);
    if file.members.is_empty() {
        return Err(invalid("members", "none are listed; add [[members]] tables, active members first".into()));
    }
    roles_and_ids(&file.members, origin)?;
    let mut members = Vec::with_capacity(file.members.len());
    for (index, member) in file.members.iter().enumerate() {
        members.push(resolve_member(index, member, &file.data_dir, origin, base_dir)?);
    }
    distinct_sockets(&members, origin)?;
    distinct_data_dirs(&members, origin)?;
    let timers = timers(&file.timers, origin)?;
    if !(LOG_BOUND_MIN_OPS..=LOG_BOUND_MAX_OPS).contains(&file.log_bound_ops) {
        return Err(invalid(
            "log_bound_ops",
            format!("{} is outside {LOG_BOUND_MIN_OPS} to {LOG_BOUND_MAX_OPS}", file.log_bound_ops),
        ));
    }
    if let Some(key) = &file.shared_key {
        if key.len() < SHARED_KEY_MIN_BYTES {
            return Err(invalid(
                "shared_key",
                format!("{} bytes is too short to keep strangers out; use at least {SHARED_KEY_MIN_BYTES} random characters", key.len()),
            ));
        }
    }
    Ok(super::Config {
        origin: origin.to_string(),
        cluster_id: file.cluster_id,
        members,
        timers,
        log_bound_ops: file.log_bound_ops,
        shared_key: file.shared_key,
        limits: limits(&file.limits, origin)?,
        binary_release: NEWEST_RELEASE,
        peer_listen: None,
    })
}

/// Ids 0..n in order, actives before standbys, and counts the core supports.
fn roles_and_ids(members: &[MemberFile], origin: &str) -> Result<(), ConfigError> {
    let mut first_standby = None;
    for (index, member) in members.iter().enumerate() {
        if member.id != index as u64 {
            return Err(ConfigError::invalid(
                origin,
                format!("members[{index}].id"),
                format!("is {}, expected {index}: members are numbered 0, 1, 2... in the order listed", member.id),
            ));
        }
        match (member.role, first_standby) {
            (MemberRole::Standby, None) => first_standby = Some(index),
            (MemberRole::Active, Some(standby)) => {
                return Err(ConfigError::invalid(
                    origin,
                    format!("members[{index}].role"),
                    format!(
                    "an active member after a standby (members[{standby}]); list active members first, then standbys"
                ),
                ))
            }
            _ => {}
        }
    }
    let actives = first_standby.unwrap_or(members.len());
    let standbys = members.len() - actives;
    if actives == 0 {
        return Err(ConfigError::invalid(origin, "members", "none is active; at least 1 active member is needed"));
    }
    if actives > ACTIVE_MAX {
        return Err(ConfigError::invalid(
            origin,
            "members",
            format!("{actives} are active; at most {ACTIVE_MAX} are supported"),
        ));
    }
    if standbys > STANDBY_MAX {
        return Err(ConfigError::invalid(
            origin,
            "members",
            format!("{standbys} are standbys; at most {STANDBY_MAX} are supported"),
        ));
    }
    Ok(())
}

fn resolve_member(
    index: usize,
    member: &MemberFile,
    data_dir_template: &str,
    origin: &str,
    base_dir: &Path,
) -> Result<Member, ConfigError> {
    let address = |field: &str, text: &str| {
        HostPort::parse(text)
            .map_err(|message| ConfigError::invalid(origin, format!("members[{index}].{field}"), message))
    };
    let peer = address("address", &member.address)?;
    if peer.is_unspecified() {
        return Err(ConfigError::invalid(
            origin,
            format!("members[{index}].address"),
            format!("{:?} is not an address other members can connect to; give this machine's address", member.address),
        ));
    }
    let (template, field) = match &member.data_dir {
        Some(own) => (own.as_str(), format!("members[{index}].data_dir")),
        None => (data_dir_template, String::from("data_dir")),
    };
    let data_dir =
        expand_data_dir(template, member.id).map_err(|message| ConfigError::invalid(origin, field, message))?;
    Ok(Member {
        id: index as u8,
        address: peer,
        client_address: address("client_address", &member.client_address)?,
        admin_address: address("admin_address", &member.admin_address)?,
        role: member.role,
        data_dir: base_dir.join(data_dir),
    })
}

fn expand_data_dir(template: &str, id: u64) -> Result<PathBuf, String> {
    if template.is_empty() {
        return Err(String::from("is empty; give a directory such as \"data/member-{id}\""));
    }
    let expanded = template.replace("{id}", &id.to_string());
    if expanded.contains(['{', '}']) {
        return Err(format!("{template:?} has an unknown placeholder; only {{id}} is replaced"));
    }
    Ok(PathBuf::from(expanded))
}

/// No two listeners on one socket: peer, client and admin addresses all differ.
fn distinct_sockets(members: &[Member], origin: &str) -> Result<(), ConfigError> {
    let mut seen: Vec<(&HostPort, String)> = Vec::new();
    for member in members {
        for (field, address) in [
            ("address", &member.address),
            ("client_address", &member.client_address),
            ("admin_address", &member.admin_address),
        ] {
            let name = format!("members[{}].{field}", member.id);
            if let Some((_, earlier)) = seen.iter().find(|(other, _)| other.same_socket(address)) {
                return Err(ConfigError::invalid(origin, name, format!("{address} is also {earlier}")));
            }
            seen.push((address, name));
        }
    }
    Ok(())
}

/// Two members writing one directory would corrupt each other's log.
fn distinct_data_dirs(members: &[Member], origin: &str) -> Result<(), ConfigError> {
    for (index, member) in members.iter().enumerate() {
        if let Some(earlier) = members[..index].iter().find(|earlier| earlier.data_dir == member.data_dir) {
            return Err(ConfigError::invalid(
                origin,
                format!("members[{}].data_dir", member.id),
                format!(
                    "{} is also the data directory of member {}; put {{id}} in the data_dir template",
                    member.data_dir.display(),
                    earlier.id
                ),
            ));
        }
    }
    Ok(())
}

fn timers(file: &TimersFile, origin: &str) -> Result<Timers, ConfigError> {
    let invalid = |field: &str, message: String| Err(ConfigError::invalid(origin, format!("timers.{field}"), message));
    if !(1..=1000).contains(&file.tick_ms) {
        return invalid("tick_ms", format!("{} is outside 1 to 1000", file.tick_ms));
    }
    for (field, value) in [
        ("heartbeat_interval_ms", file.heartbeat_interval_ms),
        ("primary_timeout_ms", file.primary_timeout_ms),
        ("view_change_timeout_ms", file.view_change_timeout_ms),
    ] {
        if value < file.tick_ms || value > TIMER_MAX_MS {
            return invalid(field, format!("{value} is outside tick_ms ({}) to {TIMER_MAX_MS}", file.tick_ms));
        }
    }
    if file.timeout_jitter_ms > TIMER_MAX_MS {
        return invalid("timeout_jitter_ms", format!("{} is above {TIMER_MAX_MS}", file.timeout_jitter_ms));
    }
    if file.primary_timeout_ms < 2 * file.heartbeat_interval_ms {
        return invalid(
            "primary_timeout_ms",
            format!(
                "{} is less than twice heartbeat_interval_ms ({}): backups would depose a healthy primary",
                file.primary_timeout_ms, file.heartbeat_interval_ms
            ),
        );
    }
    if file.view_change_timeout_ms < file.heartbeat_interval_ms {
        return invalid(
            "view_change_timeout_ms",
            format!(
                "{} is less than heartbeat_interval_ms ({}): view changes would give up before messages arrive",
                file.view_change_timeout_ms, file.heartbeat_interval_ms
            ),
        );
    }
    let quorum_timeout_ms = file.quorum_timeout_ms.unwrap_or(file.primary_timeout_ms * 3 / 4);
    if quorum_timeout_ms < file.heartbeat_interval_ms || quorum_timeout_ms >= file.primary_timeout_ms {
        return invalid(
            "quorum_timeout_ms",
            format!(
                "{quorum_timeout_ms} is outside heartbeat_interval_ms ({}) to below primary_timeout_ms ({}): \
                 a primary would give way at every heartbeat, or hold its lease while backups elect another",
                file.heartbeat_interval_ms, file.primary_timeout_ms
            ),
        );
    }
    // Whole ticks round both up: the lease must still end first.
    if quorum_timeout_ms.div_ceil(file.tick_ms) >= file.primary_timeout_ms.div_ceil(file.tick_ms) {
        let message = format!("{quorum_timeout_ms} rounds up to the ticks of primary_timeout_ms: no room for a lease");
        return invalid("quorum_timeout_ms", message);
    }
    Ok(Timers {
        tick_ms: file.tick_ms,
        heartbeat_interval_ms: file.heartbeat_interval_ms,
        primary_timeout_ms: file.primary_timeout_ms,
        timeout_jitter_ms: file.timeout_jitter_ms,
        view_change_timeout_ms: file.view_change_timeout_ms,
        quorum_timeout_ms,
    })
}

fn limits(file: &LimitsFile, origin: &str) -> Result<Limits, ConfigError> {
    let check = |field: &str, value: u64, min: u64, max: u64| {
        if (min..=max).contains(&value) {
            Ok(value as usize)
        } else {
            Err(ConfigError::invalid(origin, format!("limits.{field}"), format!("{value} is outside {min} to {max}")))
        }
    };
    let max_argument_bytes = check("max_argument_bytes", file.max_argument_bytes, 1, ARGUMENT_MAX_BYTES)?;
    Ok(Limits {
        max_client_connections: check(
            "max_client_connections",
            file.max_client_connections,
            1,
            CLIENT_CONNECTIONS_MAX,
        )?,
        max_argument_bytes,
        max_arguments: check("max_arguments", file.max_arguments, ARGUMENTS_MIN, ARGUMENTS_MAX)?,
        // A request must fit at least one argument of the largest size.
        max_request_bytes: check(
            "max_request_bytes",
            file.max_request_bytes,
            file.max_argument_bytes,
            REQUEST_MAX_BYTES,
        )?,
    })
}
