use super::*;
use crate::replica::Role;
use crate::state_machine::KvCommand;
use crate::types::Tick;
use alloc::format;
use alloc::vec;

fn put(sim: &mut Simulator, client: ClientId, key: &str, value: &str) {
    sim.submit(client, KvCommand::Put { key: key.into(), value: value.into() }).unwrap();
}

fn assert_converged(sim: &Simulator) {
    assert_eq!(sim.violations(), 0, "{:#?}", sim.checker.violations);
    assert!(sim.clients_idle(), "clients still waiting");
    let up: Vec<_> = (0..sim.config().replicas).filter_map(|m| sim.replica(m)).collect();
    let commit = up[0].commit();
    for replica in &up {
        assert_eq!(replica.commit(), commit, "member {} lags", replica.id());
        assert_eq!(replica.state_digest(), up[0].state_digest());
    }
}

#[test]
fn normal_writes_commit_everywhere() {
    let mut sim = Simulator::new(SimConfig::new(3, 0, 1));
    for i in 0..20 {
        put(&mut sim, 1 + i % 3, &format!("k{i}"), "v");
    }
    sim.run_until(2_000);
    assert_converged(&sim);
    assert_eq!(sim.replica(0).unwrap().commit(), 20);
    assert_eq!(sim.primary(), Some(0));
}

#[test]
fn primary_crash_view_change_and_rejoin() {
    let mut sim = Simulator::new(SimConfig::new(3, 0, 2));
    for i in 0..10 {
        put(&mut sim, 1, &format!("a{i}"), "1");
    }
    sim.run_until(500);
    sim.crash(0);
    for i in 0..10 {
        put(&mut sim, 2, &format!("b{i}"), "2");
    }
    sim.run_until(3_000);
    assert_eq!(sim.primary(), Some(1));
    assert_eq!(sim.replica(1).unwrap().commit(), 20);
    sim.restart(0, None);
    sim.run_until(6_000);
    assert_converged(&sim);
    assert_eq!(sim.replica(0).unwrap().commit(), 20);
}

#[test]
fn lossy_network_with_partitions_stays_safe_and_converges() {
    for seed in 0..20 {
        let mut sim = Simulator::new(SimConfig::new(5, 0, seed));
        sim.network.set(Some(100_000), Some(50_000), Some((1, 20)));
        for i in 0..40 {
            put(&mut sim, 1 + i % 4, &format!("k{i}"), &format!("{i}"));
        }
        sim.run_until(1_000);
        sim.network.partition(&[vec![0, 1], vec![2, 3, 4]]);
        sim.run_until(3_000);
        sim.crash(3);
        sim.run_until(4_000);
        sim.network.heal();
        sim.network.set(Some(0), Some(0), Some((1, 3)));
        sim.restart(3, None);
        sim.run_until(20_000);
        assert_converged(&sim);
        assert!(sim.replica(0).unwrap().commit() >= 40, "seed {seed}");
    }
}

#[test]
fn isolation_beyond_the_log_bound_catches_up_by_state_transfer() {
    let mut sim = Simulator::new(SimConfig::new(3, 0, 3));
    sim.network.isolate(2);
    for i in 0..200 {
        put(&mut sim, 1 + i % 5, &format!("k{i}"), "x");
    }
    sim.run_until(10_000);
    assert_eq!(sim.replica(0).unwrap().commit(), 200);
    assert!(sim.replica(0).unwrap().log().base() > 0, "the log was truncated");
    sim.network.heal();
    sim.run_until(15_000);
    assert_converged(&sim);
    assert!(sim.replica(2).unwrap().counters.state_transfers > 0);
}

#[test]
fn damaged_entry_is_repaired_before_it_is_needed() {
    let mut sim = Simulator::new(SimConfig::new(3, 0, 4));
    for i in 0..5 {
        put(&mut sim, 1, &format!("k{i}"), "x");
    }
    sim.run_until(1_000);
    assert!(sim.corrupt(1, 3));
    sim.restart(1, None);
    sim.run_until(2_000);
    // Now only member 1 and member 2 remain: op 3 must have been repaired at 1.
    sim.crash(0);
    sim.crash(2);
    sim.restart(2, None);
    sim.run_until(6_000);
    assert_eq!(sim.violations(), 0, "{:#?}", sim.checker.violations);
    assert!(sim.primary().is_some());
    put(&mut sim, 1, "after", "y");
    sim.run_until(8_000);
    assert_eq!(sim.violations(), 0, "{:#?}", sim.checker.violations);
    assert!(sim.replica(1).unwrap().commit() >= 6);
}

#[test]
fn same_seed_same_trace() {
    let run = |seed| {
        let mut sim = Simulator::new(SimConfig::new(3, 1, seed));
        sim.network.set(Some(50_000), Some(50_000), Some((1, 10)));
        for i in 0..10 {
            put(&mut sim, 1, &format!("k{i}"), "v");
        }
        sim.run_until(3_000);
        (sim.take_trace(), sim.digest())
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9).0, run(10).0);
}

#[test]
fn a_member_that_lost_its_data_recovers_through_the_protocol() {
    let mut sim = Simulator::new(SimConfig::new(3, 0, 12));
    for i in 0..40 {
        put(&mut sim, 1 + i % 3, &format!("k{i}"), "v");
    }
    sim.run_until(3_000);
    assert_eq!(sim.replica(2).unwrap().commit(), 40);
    sim.crash(2);
    sim.lose_data(2);
    sim.restart(2, None);
    assert_eq!(sim.reported_status(2).name(), "recovering");
    sim.run_until(3_500);
    assert_eq!(sim.reported_status(2).name(), "normal");
    sim.run_until(6_000);
    assert_converged(&sim);
    assert_eq!(sim.replica(2).unwrap().commit(), 40);
    // Recovered state is durable: it survives the other two crashing in turn.
    sim.crash(0);
    for i in 0..5 {
        put(&mut sim, 1, &format!("after{i}"), "w");
    }
    sim.run_until(10_000);
    assert_eq!(sim.violations(), 0, "{:#?}", sim.checker.violations);
    assert!(sim.replica(2).unwrap().commit() >= 45);
}

fn roles_after_losing_replica_2(auto_promote_after_ticks: Option<Tick>) -> (Simulator, Role, Role) {
    let mut config = SimConfig::new(3, 1, 41);
    config.auto_promote_after_ticks = auto_promote_after_ticks;
    let mut sim = Simulator::new(config);
    put(&mut sim, 1, "a", "1");
    sim.run_until(1_000);
    sim.crash(2);
    put(&mut sim, 1, "b", "2");
    sim.run_until(5_000);
    let primary = sim.replica(sim.primary().expect("a primary")).expect("up");
    let membership = primary.committed_membership();
    let roles = (membership.role_of(2), membership.role_of(3));
    (sim, roles.0, roles.1)
}

#[test]
fn automatic_promotion_replaces_a_silent_replica_only_when_enabled() {
    let (sim, replaced, promoted) = roles_after_losing_replica_2(Some(1_000));
    assert_eq!((replaced, promoted), (Role::Removed, Role::Active));
    assert_eq!(sim.violations(), 0, "{:#?}", sim.checker.violations);
    let status = sim.replica(sim.primary().unwrap()).unwrap().reconfig_status();
    assert_eq!(status.promotions.len(), 1);
    assert_eq!((status.promotions[0].promoted, status.promotions[0].replaced), (3, Some(2)));
    assert_eq!(status.pending, None);
    assert!(sim.clients_idle());
    let (sim, replaced, promoted) = roles_after_losing_replica_2(None);
    assert_eq!((replaced, promoted), (Role::Active, Role::Standby), "off by default");
    assert_eq!(sim.violations(), 0);
}

#[test]
fn a_write_of_an_evicted_session_is_refused_never_applied_twice() {
    use crate::replica::sessions::SESSIONS_MAX;
    let mut sim = Simulator::new(SimConfig::new(3, 0, 8));
    sim.submit(1, KvCommand::Increment { key: b"n".to_vec(), by: 1 }).unwrap();
    sim.run_until(500);
    assert_eq!(sim.client_reply(1).text(), "1");
    // Thousands of other clients come and go: client 1's session is the oldest.
    for client in 1_000..1_000 + SESSIONS_MAX as u64 {
        put(&mut sim, client, "k", "v");
    }
    sim.run_until(200_000);
    assert!(sim.clients_idle());
    let primary = sim.replica(sim.primary().unwrap()).unwrap();
    assert!(primary.sessions().get(1).is_none(), "client 1's session was evicted");
    assert_eq!(primary.sessions().len(), SESSIONS_MAX);
    // Its next increment is refused, not applied; the client then registers again.
    sim.submit(1, KvCommand::Increment { key: b"n".to_vec(), by: 1 }).unwrap();
    sim.run_until(201_000);
    assert_eq!(sim.client_reply(1).text(), "error:session-evicted");
    sim.submit(1, KvCommand::Increment { key: b"n".to_vec(), by: 1 }).unwrap();
    sim.run_until(202_000);
    assert_eq!(sim.client_reply(1).text(), "2", "applied once per accepted request");
    sim.check_history();
    assert_eq!(sim.violations(), 0, "{:#?}", sim.checker.violations);
}

#[test]
fn the_explorer_loses_disks_only_where_the_others_make_a_quorum() {
    use crate::scenario::ast::Command;
    use crate::sim::explore::{generate, ExploreOptions};
    let losses = |replicas: u8| -> usize {
        (0..40)
            .map(|seed| {
                let script = generate(seed, &ExploreOptions { replicas, ..ExploreOptions::default() });
                assert_eq!(script.is_expressible(), !script.commands().any(|c| matches!(c, Command::LoseDisk(_))));
                script.commands().filter(|command| matches!(command, Command::LoseDisk(_))).count()
            })
            .sum()
    };
    assert!(losses(3) > 5, "disk loss is among the default faults from 3 replicas");
    assert_eq!(losses(2), 0, "with 2 replicas both must vote: a lost disk is beyond what they survive");
    assert_eq!(losses(1), 0);
}

#[test]
fn a_lost_disk_in_a_schedule_is_a_comment_and_its_member_recovers() {
    use crate::scenario::ast::{Command, Line};
    use crate::scenario::run::{run_script, RunOptions};
    let mut script = crate::scenario::parse::parse_script(
        "cluster replicas=3 seed=4\nput a 1\nuntil commit[*] >= 1 within 1000\nexpect status[2] = recovering\n\
         until status[*] = normal within 3000\nget a client=2\nuntil reply[2] = 1 within 1000\n",
    )
    .unwrap();
    script.lines.insert(2, Line { number: 4, command: Command::LoseDisk(2) });
    script.lines.insert(3, Line { number: 5, command: Command::Restart { member: 2, binary: None } });
    let text = alloc::string::ToString::to_string(&script);
    assert!(text.contains("# lose-disk 2:"), "{text}");
    assert!(!script.is_expressible());
    let reparsed = crate::scenario::parse::parse_script(&text).unwrap();
    assert!(reparsed.is_expressible(), "the parser never makes a disk loss");
    let mut trace = Vec::new();
    let outcome = run_script(&script, RunOptions::new(true, true), &mut |line: &str| {
        trace.push(alloc::string::String::from(line))
    });
    assert_eq!(outcome.exit_status, 0, "{}", trace.join("\n"));
    assert!(trace.iter().any(|line| line.contains("lose-data 2")));
    assert!(trace.iter().any(|line| line.contains("deliver recovery_response")), "recovered through the protocol");
}
