use alloc::format;

use super::*;
use crate::release::Release;
use crate::sim::{SimConfig, Simulator};
use crate::state_machine::KvCommand;
use crate::types::{MemberId, Tick};

/// The text a name serialises to (postcard writes a string as its length, then its bytes).
fn serialised(value: &impl Serialize) -> String {
    let bytes = postcard::to_allocvec(value).expect("serialises");
    String::from_utf8(bytes[1..].to_vec()).expect("text")
}

#[test]
fn roles_and_statuses_serialise_as_the_specs_words() {
    let roles = [Role::Active, Role::Standby, Role::Removed];
    assert_eq!(roles.map(Role::name), ["active", "standby", "removed"]);
    assert!(roles.iter().all(|role| role.name() == serialised(role)));
    let statuses = ReportedStatus::ALL;
    assert!(statuses.iter().all(|status| ReportedStatus::from_name(status.name()) == Some(*status)));
    assert!(roles.iter().all(|role| Role::from_name(role.name()) == Some(*role)));
    assert_eq!(
        statuses.map(ReportedStatus::name),
        ["normal", "view-change", "recovering", "catching-up", "halted", "crashed", "storage-failed"]
    );
    assert!(statuses.iter().all(|status| status.name() == serialised(status)));
}

/// Three replicas and a standby that start on 1.0.0, write a few keys and upgrade.
fn upgraded_cluster() -> Simulator {
    let mut config = SimConfig::new(3, 1, 7);
    config.release = Release::new(1, 0, 0);
    let mut sim = Simulator::new(config);
    for i in 0..3u64 {
        let put = KvCommand::Put { key: format!("k{i}").into(), value: "v".into() };
        sim.submit(1 + i, put).unwrap();
    }
    sim.run_until(3_000);
    sim
}

#[test]
fn the_primary_shows_the_cluster_as_it_knows_it() {
    let sim = upgraded_cluster();
    let primary = sim.primary().expect("a primary");
    let snapshot = StatusSnapshot::of(sim.replica(primary).unwrap(), sim.now());
    assert_eq!((snapshot.member, snapshot.role, snapshot.status), (primary, Role::Active, ReportedStatus::Normal));
    assert!(snapshot.is_primary);
    assert_eq!(snapshot.primary_hint, primary);
    assert!(snapshot.commit >= 3 && snapshot.commit == snapshot.commit_max, "{snapshot:?}");
    assert_eq!(snapshot.cluster_release, "1.4.0");
    assert!(snapshot.features.iter().all(|feature| feature.on), "{:?}", snapshot.features);
    let events: Vec<&str> = snapshot.upgrade_events.iter().map(|event| event.event.as_str()).collect();
    assert_eq!(events, ["committed 1.0.0 -> 1.4.0"]);
    assert_eq!(snapshot.upgrade_target, None);
    assert_eq!((snapshot.membership.active(), snapshot.membership.standbys()), (&[0, 1, 2][..], &[3][..]));
    assert_eq!(snapshot.advertised.len(), 4);
    assert!(snapshot.advertised.iter().all(|advertised| advertised.release.as_deref() == Some("1.4.0")));
    let standby = &snapshot.standbys[..];
    assert_eq!(standby.len(), 1);
    assert_eq!((standby[0].view.member, standby[0].view.healthy), (3, true));
    assert!(!standby[0].lag_history.is_empty());
    assert_eq!(snapshot.standby_stats.healthy, 1);
    assert_eq!(snapshot.counters.len(), 14);
}

#[test]
fn backups_and_standbys_show_themselves() {
    let sim = upgraded_cluster();
    let primary = sim.primary().expect("a primary");
    let backup = (0..3).find(|member| *member != primary).unwrap();
    let snapshot = StatusSnapshot::of(sim.replica(backup).unwrap(), sim.now());
    assert!(!snapshot.is_primary);
    assert_eq!(snapshot.primary_hint, primary);
    assert!(snapshot.standbys.is_empty(), "only the primary watches standbys");
    let standby = StatusSnapshot::of(sim.replica(3).unwrap(), sim.now());
    assert_eq!((standby.role, standby.status), (Role::Standby, ReportedStatus::Normal));
}

#[test]
fn a_member_that_is_down_shows_as_crashed_in_the_role_the_primary_knows() {
    let mut sim = upgraded_cluster();
    sim.crash(3);
    assert_eq!((sim.reported_status(3), sim.role_of(3)), (ReportedStatus::Crashed, Role::Standby));
    let primary = sim.primary().unwrap();
    assert_eq!(sim.role_of(primary), Role::Active);
    assert_eq!(sim.reported_status(primary), ReportedStatus::Normal);
}

#[test]
fn the_primary_shows_each_followers_lag_in_ops_and_time_and_its_failure_tolerance() {
    let mut sim = upgraded_cluster();
    let primary = sim.primary().expect("a primary");
    let snapshot = StatusSnapshot::of(sim.replica(primary).unwrap(), sim.now());
    assert_eq!((snapshot.failure_tolerance, snapshot.failure_tolerance_configured), (Some(1), 1));
    let members: Vec<MemberId> = snapshot.followers.iter().map(|follower| follower.member).collect();
    assert_eq!(members.len(), 3, "two backups and the standby: {members:?}");
    for follower in &snapshot.followers {
        assert_eq!((follower.lag_ops, follower.lag_ticks), (Some(0), Some(0)), "{follower:?}");
        assert!(follower.last_contact_ticks_ago.is_some_and(|ago| ago <= 200), "{follower:?}");
    }
    // The standby goes quiet while writes go on: its lag grows in ops and in time.
    sim.crash(3);
    let crashed_at = sim.now();
    for i in 0..5u64 {
        sim.submit(1 + i % 3, KvCommand::Put { key: format!("later{i}").into(), value: "v".into() }).unwrap();
        sim.run_until(crashed_at + 200 * (i + 1));
    }
    let primary = sim.primary().expect("a primary");
    let lag_at = |sim: &Simulator, at: Tick| {
        let snapshot = StatusSnapshot::of(sim.replica(primary).unwrap(), at);
        snapshot.followers.into_iter().find(|follower| follower.member == 3).expect("the standby")
    };
    let now = sim.now();
    let standby = lag_at(&sim, now);
    assert_eq!(standby.lag_ops, Some(5), "{standby:?}");
    let lag_ticks = standby.lag_ticks.unwrap();
    assert!((800..=1_000).contains(&lag_ticks), "the first put it lacks committed about 1,000 ticks ago: {lag_ticks}");
    assert!(standby.last_contact_ticks_ago.unwrap() >= 1_000);
    assert_eq!(lag_at(&sim, now + 5_000).lag_ticks, Some(lag_ticks + 5_000), "and it keeps growing");
    // A backup down: one failure more would stop the cluster.
    let backup = (0..3).find(|member| *member != primary).unwrap();
    sim.crash(backup);
    sim.run_until(now + 1_000);
    let snapshot = StatusSnapshot::of(sim.replica(primary).unwrap(), sim.now());
    assert_eq!((snapshot.failure_tolerance, snapshot.failure_tolerance_configured), (Some(0), 1));
    let other = StatusSnapshot::of(sim.replica(3 - primary - backup).unwrap(), sim.now());
    assert_eq!((other.failure_tolerance, other.followers.len()), (None, 0), "only the primary knows");
}

#[test]
fn health_says_who_serves_and_why_not() {
    use crate::replica::health::Health;
    let mut sim = upgraded_cluster();
    let primary = sim.primary().expect("a primary");
    let health = |sim: &Simulator, member: MemberId| StatusSnapshot::of(sim.replica(member).unwrap(), sim.now()).health;
    for member in 0..4 {
        assert_eq!(health(&sim, member).health, Health::Serving, "member {member}");
    }
    let backup = (0..3).find(|member| *member != primary).unwrap();
    sim.crash(backup);
    let crashed_at = sim.now();
    sim.run_until(crashed_at + 1_000);
    let report = health(&sim, primary);
    assert_eq!(report.health, Health::Degraded, "{report:?}");
    assert!(report.reason.contains("tolerates 0 failure(s) of the 1"), "{report:?}");
    assert!(report.health.takes_clients());
    let other = 3 - primary - backup;
    sim.crash(other);
    sim.run_until(crashed_at + 1_400);
    let report = health(&sim, primary);
    assert!(!report.health.takes_clients(), "alone, the primary serves no one: {report:?}");
}
