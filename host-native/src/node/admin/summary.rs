//! The readable summary `viewstamp status` prints from every member's `/status` JSON.
//! It reads the JSON loosely (missing fields show as `-`), so that a client still
//! reads a node of another version.

use serde_json::Value;
use viewstamp_core::types::MemberId;

/// The fact names' column: the longest, "last upgrade event", and two spaces.
const FACT_WIDTH: usize = 20;

/// One member's answer to `GET /status`, or why there is none.
#[derive(Clone, Debug)]
pub struct MemberStatus {
    /// From the cluster file, when the member was named by one.
    pub member: Option<MemberId>,
    pub admin: String,
    pub status: Result<Value, String>,
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::from("-"),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The member whose view of the cluster is shown: the primary, else the most advanced.
fn reference(members: &[MemberStatus]) -> Option<&Value> {
    let reachable = members.iter().filter_map(|member| member.status.as_ref().ok());
    reachable.max_by_key(|status| {
        (status["is_primary"].as_bool().unwrap_or(false), status["view"].as_u64(), status["commit"].as_u64())
    })
}

/// Columns padded to their widest cell; a row's last cell is not padded and does not
/// widen its column (an unreachable member's message spans the row).
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter().filter(|row| column + 1 < row.len()).map(|row| row[column].chars().count()).max().unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[column]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The readable summary: a table of members, then the cluster as the primary sees it.
pub fn render_summary(members: &[MemberStatus]) -> String {
    let reference = reference(members);
    let advertised_by = |member: &Value| -> String {
        let Some(reference) = reference else { return String::from("-") };
        reference["advertised"]
            .as_array()
            .and_then(|list| list.iter().find(|entry| entry["member"] == *member))
            .map_or_else(|| String::from("-"), |entry| text(&entry["release"]))
    };
    // How far behind the primary sees each member, in ops and time, and since when unheard.
    let lag_of = |member: &Value| -> String {
        let Some(entry) = reference
            .and_then(|reference| reference["lag"].as_array())
            .and_then(|list| list.iter().find(|entry| entry["member"] == *member))
        else {
            return String::from("-");
        };
        let (Some(ops), Some(seconds)) = (entry["lag_ops"].as_u64(), entry["lag_seconds"].as_f64()) else {
            return String::from("not heard in this view");
        };
        let mut lag = format!("{ops} ops, {seconds:.1} s");
        if let Some(ago) = entry["last_contact_seconds_ago"].as_f64().filter(|ago| *ago >= 1.0) {
            lag.push_str(&format!(" (heard {ago:.0} s ago)"));
        }
        lag
    };
    let mut rows = vec![["member", "admin", "role", "status", "view", "op", "commit", "binary", "advertised", "lag"]
        .map(String::from)
        .to_vec()];
    for member in members {
        let row = match &member.status {
            Ok(status) => {
                let mut role = text(&status["role"]);
                if status["is_primary"].as_bool() == Some(true) {
                    role.push_str(" (primary)");
                }
                vec![
                    text(&status["member"]),
                    member.admin.clone(),
                    role,
                    text(&status["status"]),
                    text(&status["view"]),
                    text(&status["op"]),
                    text(&status["commit"]),
                    text(&status["binary_release"]),
                    advertised_by(&status["member"]),
                    lag_of(&status["member"]),
                ]
            }
            Err(problem) => vec![
                member.member.map_or_else(|| String::from("?"), |member| member.to_string()),
                member.admin.clone(),
                format!("unreachable: {problem}"),
            ],
        };
        rows.push(row);
    }
    let mut out = table(&rows);
    let Some(status) = reference else { return out };
    let source = if status["is_primary"].as_bool() == Some(true) {
        format!("as member {} (the primary) sees it", text(&status["member"]))
    } else {
        format!("as member {} sees it; no reachable member is the primary", text(&status["member"]))
    };
    out.push_str(&format!("\ncluster {} {source}\n", text(&status["cluster_id"])));
    let mut facts: Vec<[String; 2]> = Vec::new();
    let primary = if status["is_primary"].as_bool() == Some(true) {
        format!("member {}", text(&status["member"]))
    } else {
        match status["primary_hint"].as_u64() {
            Some(hint) => format!("none reachable (member {} takes member {hint} for it)", text(&status["member"])),
            None => String::from("none reachable"),
        }
    };
    facts.push(["primary".into(), primary]);
    if let (Some(now), Some(built)) =
        (status["failure_tolerance"].as_u64(), status["failure_tolerance_configured"].as_u64())
    {
        let word = if now == 1 { "failure" } else { "failures" };
        let reduced = if now < built { ", reduced: a replica is not heard" } else { "" };
        facts.push(["failure tolerance".into(), format!("{now} {word} (of {built}){reduced}")]);
    }
    facts.push(["release".into(), text(&status["cluster_release"])]);
    let target = match status["upgrade_target"].as_str() {
        Some(release) => format!("{release} pending"),
        None => String::from("none pending"),
    };
    let auto = if status["upgrade_auto"].as_bool() == Some(true) { "on" } else { "off" };
    facts.push(["upgrade".into(), format!("{target}, auto {auto}")]);
    let features: Vec<String> = status["features"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|feature| {
            let on = if feature["on"].as_bool() == Some(true) { "on" } else { "off" };
            format!("{} {on}", text(&feature["name"]))
        })
        .collect();
    facts.push(["features".into(), if features.is_empty() { "-".into() } else { features.join(", ") }]);
    if let Some(op) = status["reconfiguration_pending_op"].as_u64() {
        facts.push(["reconfiguration".into(), format!("pending at op {op}")]);
    }
    let standbys: Vec<String> = status["standbys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|standby| {
            let health = if standby["healthy"].as_bool() == Some(true) { "healthy" } else { "unhealthy" };
            let lag =
                standby["lag_ops"].as_u64().map_or_else(|| String::from("lag unknown"), |lag| format!("lag {lag} ops"));
            let promotable =
                if standby["promotable"].as_bool() == Some(true) { "promotable" } else { "not promotable" };
            format!("{}: {health}, {lag}, {promotable}", text(&standby["member"]))
        })
        .collect();
    if !standbys.is_empty() {
        facts.push(["standbys".into(), standbys.join("; ")]);
    } else if status["membership"]["standbys"].as_array().is_some_and(|list| !list.is_empty()) {
        facts.push(["standbys".into(), "tracked by the primary only".into()]);
    }
    let promotions: Vec<String> = status["promotions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|promotion| match promotion["replaced"].as_u64() {
            Some(replaced) => {
                format!("{} replaced {replaced} at op {}", text(&promotion["promoted"]), text(&promotion["op"]))
            }
            None => format!("{} added at op {}", text(&promotion["promoted"]), text(&promotion["op"])),
        })
        .collect();
    facts.push(["promotions".into(), if promotions.is_empty() { "none".into() } else { promotions.join("; ") }]);
    if let Some(event) = status["upgrade_events"].as_array().and_then(|events| events.last()) {
        facts.push(["last upgrade event".into(), format!("{} at op {}", text(&event["event"]), text(&event["op"]))]);
    }
    if let Some(failed) = status["storage"]["failed"].as_str() {
        facts.push(["storage".into(), format!("FAILED: {failed}")]);
    }
    for [name, value] in facts {
        out.push_str(&format!("{name:<FACT_WIDTH$}{value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn primary() -> Value {
        json!({
            "cluster_id": 7, "member": 0, "role": "active", "status": "normal", "view": 4, "op": 120, "commit": 118,
            "is_primary": true, "binary_release": "1.3.0", "cluster_release": "1.2.0",
            "advertised": [{"member": 0, "release": "1.3.0"}, {"member": 1, "release": null}, {"member": 2, "release": "1.2.0"}],
            "features": [{"name": "cluster_reconfig", "since": "1.2.0", "on": true}, {"name": "standby_reads", "since": "1.3.0", "on": false}],
            "upgrade_target": "1.3.0", "upgrade_auto": false,
            "upgrade_events": [{"op": 9, "event": "proposed 1.3.0"}],
            "membership": {"active": [0, 1], "standbys": [2], "removed": []},
            "promotions": [{"op": 50, "promoted": 3, "replaced": 2}],
            "standbys": [{"member": 2, "healthy": true, "lag_ops": 4, "promotable": true, "lag_history": []}],
            "lag": [{"member": 1, "role": "active", "lag_ops": 30, "lag_seconds": 12.04, "last_contact_seconds_ago": 12.6},
                    {"member": 2, "role": "standby", "lag_ops": 4, "lag_seconds": 0.31, "last_contact_seconds_ago": 0.05}],
            "failure_tolerance": 0, "failure_tolerance_configured": 0,
            "storage": {"failed": null}
        })
    }

    fn backup() -> Value {
        json!({"cluster_id": 7, "member": 2, "role": "standby", "status": "normal", "view": 4, "op": 118,
               "commit": 116, "is_primary": false, "binary_release": "1.2.0",
               "membership": {"standbys": [2]}})
    }

    #[test]
    fn the_summary_shows_members_and_the_primarys_view() {
        let members = [
            MemberStatus { member: Some(2), admin: "127.0.0.1:8102".into(), status: Ok(backup()) },
            MemberStatus { member: Some(0), admin: "127.0.0.1:8100".into(), status: Ok(primary()) },
            MemberStatus { member: Some(1), admin: "127.0.0.1:8101".into(), status: Err("connection refused".into()) },
        ];
        let text = render_summary(&members);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["member", "admin", "role", "status", "view", "op", "commit", "binary", "advertised", "lag"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["2", "127.0.0.1:8102", "standby", "normal", "4", "118", "116", "1.2.0", "1.2.0", "4", "ops,", "0.3", "s"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["0", "127.0.0.1:8100", "active", "(primary)", "normal", "4", "120", "118", "1.3.0", "1.3.0", "-"]
        );
        assert_eq!(lines[3], "1       127.0.0.1:8101  unreachable: connection refused");
        assert!(text.contains("cluster 7 as member 0 (the primary) sees it"), "{text}");
        assert!(text.contains("primary             member 0\n"), "{text}");
        for expected in [
            "release             1.2.0",
            "upgrade             1.3.0 pending, auto off",
            "features            cluster_reconfig on, standby_reads off",
            "standbys            2: healthy, lag 4 ops, promotable",
            "failure tolerance   0 failures (of 0)",
            "promotions          3 replaced 2 at op 50",
            "last upgrade event  proposed 1.3.0 at op 9",
        ] {
            assert!(text.lines().any(|line| line == expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn a_member_long_unheard_shows_its_lag_growing_and_the_tolerance_reduced() {
        let mut lagging = backup();
        (lagging["member"], lagging["role"]) = (json!(1), json!("active"));
        let mut primary = primary();
        primary["failure_tolerance_configured"] = json!(1);
        let members = [
            MemberStatus { member: Some(0), admin: "h:0".into(), status: Ok(primary) },
            MemberStatus { member: Some(1), admin: "h:1".into(), status: Ok(lagging) },
        ];
        let text = render_summary(&members);
        assert!(text.lines().nth(2).unwrap().ends_with("30 ops, 12.0 s (heard 13 s ago)"), "{text}");
        assert!(text.contains("failure tolerance   0 failures (of 1), reduced: a replica is not heard\n"), "{text}");
    }

    #[test]
    fn without_a_primary_the_most_advanced_member_speaks() {
        let members = [MemberStatus { member: None, admin: "h:1".into(), status: Ok(backup()) }];
        let text = render_summary(&members);
        assert!(text.contains("as member 2 sees it; no reachable member is the primary"), "{text}");
        assert!(text.contains("standbys            tracked by the primary only"), "{text}");
        assert!(text.contains("release             -"), "{text}");
        assert!(text.contains("primary             none reachable\n"), "{text}");
        let nobody = [MemberStatus { member: None, admin: "h:1".into(), status: Err("no answer in time".into()) }];
        assert_eq!(render_summary(&nobody).lines().nth(1), Some("?       h:1    unreachable: no answer in time"));
    }
}
