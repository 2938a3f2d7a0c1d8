//! Real processes: what an operator and a load balancer read of a cluster with a
//! member down: `/health`, each follower's lag in ops and in seconds, the failure
//! tolerance, in `/status`, `/metrics` and `viewstamp status`.

mod node_support;

use std::process::Command;
use std::time::Duration;

use node_support::{http, Cluster, BIN};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(40);

fn health(cluster: &Cluster, member: u8) -> (u16, Value) {
    let (code, body) = http(cluster.ports[member as usize].admin, "GET", "/health").unwrap();
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn lag_of(status: &Value, member: u8) -> Value {
    status["lag"].as_array().and_then(|list| list.iter().find(|entry| entry["member"] == member)).cloned().unwrap()
}

#[test]
fn health_lag_in_seconds_and_failure_tolerance_follow_a_member_going_down() {
    let mut cluster = Cluster::format(3, 1, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    cluster.command_until_ok(primary, &["SET", "before", "1"], LONG);
    cluster.wait_until("every member serving", LONG, |c| (0..4).all(|m| health(c, m).1["health"] == "serving"));
    let (code, body) = health(&cluster, primary);
    assert_eq!(
        (code, body["failure_tolerance"].as_u64(), body["failure_tolerance_configured"].as_u64()),
        (200, Some(1), Some(1))
    );

    cluster.wait_until("the primary to hear the standby", LONG, |c| {
        c.status(primary).is_some_and(|status| lag_of(&status, 3)["lag_ops"] == 0)
    });

    // The standby goes down; writes go on: the primary sees it fall behind in ops and time.
    cluster.kill(3);
    for i in 0..20 {
        cluster.command_until_ok(primary, &["SET", &format!("k{i}"), "v"], LONG);
    }
    std::thread::sleep(Duration::from_millis(1_500));
    let status = cluster.status(primary).unwrap();
    let standby = lag_of(&status, 3);
    assert_eq!(standby["role"], "standby");
    assert!(standby["lag_ops"].as_u64().is_some_and(|ops| ops >= 20), "{standby}\n{status:#}");
    let lag_seconds = standby["lag_seconds"].as_f64().unwrap();
    assert!(lag_seconds >= 1.4, "its oldest missing write committed 1.5 s ago or more: {standby}");
    assert!(standby["last_contact_seconds_ago"].as_f64().unwrap() >= 1.4, "{standby}");
    std::thread::sleep(Duration::from_millis(500));
    let later = lag_of(&cluster.status(primary).unwrap(), 3)["lag_seconds"].as_f64().unwrap();
    assert!(later >= lag_seconds + 0.4, "the lag keeps growing while it is down: {lag_seconds} then {later}");
    let backup = (0..3).find(|m| *m != primary).unwrap();
    let caught_up = lag_of(&status, backup);
    assert_eq!(
        (caught_up["role"].as_str(), caught_up["lag_seconds"].as_f64()),
        (Some("active"), Some(0.0)),
        "{caught_up}"
    );
    let (_, metrics) = http(cluster.ports[primary as usize].admin, "GET", "/metrics").unwrap();
    let line = metrics.lines().find(|line| line.starts_with("viewstamp_follower_lag_seconds{member=\"3\"")).unwrap();
    let seconds: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(seconds >= lag_seconds, "{line}");
    assert!(metrics.contains("\nviewstamp_failure_tolerance 1\n"), "a standby down costs no tolerance");

    // A backup goes down: the primary still serves, with no failure left to spare.
    cluster.kill(backup);
    cluster.wait_until("the primary degraded", LONG, |c| health(c, primary).1["health"] == "degraded");
    let (code, body) = health(&cluster, primary);
    assert_eq!((code, body["failure_tolerance"].as_u64()), (200, Some(0)), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("not heard"), "{body}");
    let output = Command::new(BIN).args(["status", "--config"]).arg(&cluster.config).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("failure tolerance   0 failures (of 1), reduced"), "{text}");
    assert!(text.lines().any(|line| line.starts_with(&format!("{primary} ")) && line.ends_with('-')), "{text}");

    // The last backup too: no quorum, so no one should send clients here.
    let other = 3 - primary - backup;
    cluster.kill(other);
    cluster.wait_until("the primary refusing clients", LONG, |c| health(c, primary).0 == 503);
    let (_, body) = health(&cluster, primary);
    assert!(["ready", "unavailable"].contains(&body["health"].as_str().unwrap()), "{body}");
}
