//! INFO's sections, from the node's status snapshot: `server`, `replication` (Redis's
//! names where they fit, so tools that read `role:` work), `upgrade`, `standby`, `stats`.

use super::resp::InfoSection;
use super::snapshot::NodeSnapshot;

pub fn info_sections(snapshot: &NodeSnapshot, version: &str) -> Vec<InfoSection> {
    let section = |name: &str, fields: Vec<(&str, String)>| InfoSection {
        name: name.to_string(),
        fields: fields.into_iter().map(|(key, value)| (key.to_string(), value)).collect(),
    };
    let on_off = |on: bool| if on { "on" } else { "off" }.to_string();
    let list = |members: &[u8]| members.iter().map(|member| member.to_string()).collect::<Vec<_>>().join(",");
    let replica = &snapshot.replica;

    let server = section(
        "Server",
        vec![
            ("viewstamp_version", version.to_string()),
            ("cluster_id", snapshot.cluster_id.to_string()),
            ("member", replica.member.to_string()),
        ],
    );
    let replication = section(
        "Replication",
        vec![
            ("role", if replica.is_primary { "master" } else { "slave" }.to_string()),
            ("member_role", replica.role.name().to_string()),
            ("status", replica.status.name().to_string()),
            ("primary", replica.primary_hint.to_string()),
            ("view", replica.view.to_string()),
            ("op", replica.op.to_string()),
            ("commit", replica.commit.to_string()),
            ("active_members", list(replica.membership.active())),
            ("standby_members", list(replica.membership.standbys())),
            ("removed_members", list(replica.membership.removed())),
        ],
    );
    let mut upgrade_fields = vec![
        ("cluster_release", replica.cluster_release.clone()),
        ("binary_release", replica.binary_release.clone()),
        ("upgrade_target", replica.upgrade_target.clone().unwrap_or_else(|| "none".to_string())),
        ("upgrade_auto", on_off(replica.upgrade_auto)),
    ];
    let features: Vec<(String, String)> = replica
        .features
        .iter()
        .map(|feature| {
            (format!("feature_{}", feature.name), format!("{} (since {})", on_off(feature.on), feature.since))
        })
        .collect();
    let advertised: Vec<(String, String)> = replica
        .advertised
        .iter()
        .map(|entry| {
            let release = entry.release.clone().unwrap_or_else(|| "unknown".to_string());
            (format!("member{}_advertises", entry.member), release)
        })
        .collect();
    upgrade_fields.push(("upgrade_events", replica.upgrade_events.len().to_string()));
    let mut upgrade = section("Upgrade", upgrade_fields);
    upgrade.fields.extend(features);
    upgrade.fields.extend(advertised);

    let mut standby = section(
        "Standby",
        vec![
            ("standbys_healthy", replica.standby_stats.healthy.to_string()),
            ("standbys_unhealthy", replica.standby_stats.unhealthy.to_string()),
            ("promotions", replica.promotions.len().to_string()),
        ],
    );
    for state in replica.standbys.iter().map(|standby| &standby.view) {
        let lag = state.lag_ops.map_or_else(|| "unknown".to_string(), |lag| lag.to_string());
        standby.fields.push((
            format!("standby{}", state.member),
            format!("healthy={},lag_ops={lag},promotable={}", state.healthy, state.promotable),
        ));
    }
    let stats = section(
        "Stats",
        snapshot.requests.iter().map(|(outcome, count)| (outcome.as_str(), count.to_string())).collect(),
    );
    let mut stats = stats;
    for field in &mut stats.fields {
        field.0 = format!("requests_{}", field.0);
    }
    vec![server, replication, upgrade, standby, stats]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::resp::{info_reply, Protocol};
    use crate::node::snapshot::sample;

    #[test]
    fn info_names_the_role_release_and_flags() {
        let mut snapshot = sample();
        snapshot.replica.cluster_release = "1.2.0".into();
        let standby_reads = snapshot.replica.features.iter_mut().find(|feature| feature.name == "standby_reads");
        standby_reads.expect("a feature of the newest release").on = false;
        snapshot.requests.insert("ok".into(), 3);
        let text = info_reply(&info_sections(&snapshot, "0.1.0"), &[]).to_bytes(Protocol::Resp2);
        let text = String::from_utf8(text).unwrap();
        for expected in
            ["role:master", "cluster_release:1.2.0", "feature_standby_reads:off (since 1.3.0)", "requests_ok:3"]
        {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
        let only = info_reply(&info_sections(&snapshot, "0.1.0"), &["upgrade".to_string()]).to_bytes(Protocol::Resp2);
        let only = String::from_utf8(only).unwrap();
        assert!(only.contains("# Upgrade") && !only.contains("role:master"));
    }
}
