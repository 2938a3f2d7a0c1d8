//! Random fault schedules for `viewstamp sim`, generated as scenario scripts so that
//! any failure is reproduced by replaying the script the run emits.
//!
//! A schedule has a fault phase (client load mixed with faults) and a liveness phase:
//! every fault ends, every member restarts, and every client request must complete
//! within a bound.

use alloc::string::String;
use alloc::vec::Vec;

use crate::prng::Prng;
use crate::release::{KNOWN_RELEASES, NEWEST_RELEASE, OLDEST_RELEASE};
use crate::scenario::ast::{Command, CompareOp, Condition, Header, Line, MemberRef, Script, Subject};
use crate::scenario::run::{run_script_with_tail, RunOptions};
use crate::sim::archive::SharedArchive;
use crate::sim::Simulator;
use crate::types::MemberId;

/// Which faults a schedule may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultMix {
    pub crash: bool,
    pub partition: bool,
    pub block: bool,
    pub loss: bool,
    pub duplication: bool,
    pub delay: bool,
    pub corrupt: bool,
    /// Restarts with older or newer binaries, and operator upgrade commands.
    pub upgrade: bool,
    /// Promotions of standbys (with standbys in the cluster), replacing a replica or not.
    pub promote: bool,
    /// The bad disk lost whole, and its member recovered through the protocol (the
    /// scenario language cannot say it: such a seed is reproduced by its number).
    pub disk: bool,
}

impl Default for FaultMix {
    fn default() -> Self {
        Self {
            crash: true,
            partition: true,
            block: true,
            loss: true,
            duplication: true,
            delay: true,
            corrupt: true,
            upgrade: true,
            promote: true,
            disk: true,
        }
    }
}

impl FaultMix {
    pub const NAMES: [&'static str; 10] =
        ["crash", "partition", "block", "loss", "dup", "delay", "corrupt", "upgrade", "promote", "disk"];

    pub fn none() -> Self {
        Self {
            crash: false,
            partition: false,
            block: false,
            loss: false,
            duplication: false,
            delay: false,
            corrupt: false,
            upgrade: false,
            promote: false,
            disk: false,
        }
    }

    /// `all`, `none`, or a comma-separated list of [`FaultMix::NAMES`].
    pub fn parse(text: &str) -> Result<FaultMix, String> {
        match text {
            "all" => return Ok(FaultMix::default()),
            "none" => return Ok(FaultMix::none()),
            _ => {}
        }
        let mut mix = FaultMix::none();
        for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            match name {
                "crash" => mix.crash = true,
                "partition" => mix.partition = true,
                "block" => mix.block = true,
                "loss" => mix.loss = true,
                "dup" => mix.duplication = true,
                "delay" => mix.delay = true,
                "corrupt" => mix.corrupt = true,
                "upgrade" => mix.upgrade = true,
                "promote" => mix.promote = true,
                "disk" => mix.disk = true,
                other => {
                    return Err(alloc::format!(
                        "unknown fault '{other}': use all, none, or a list of {}",
                        FaultMix::NAMES.join(",")
                    ))
                }
            }
        }
        Ok(mix)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    pub replicas: u8,
    pub standbys: u8,
    pub faults: FaultMix,
    /// Rounds of load and faults before the liveness phase.
    pub rounds: u32,
    /// Ticks the cluster has to converge once faults stop.
    pub liveness_ticks: u64,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        Self { replicas: 3, standbys: 0, faults: FaultMix::default(), rounds: 40, liveness_ticks: 20_000 }
    }
}

const CLIENTS: u64 = 4;
const KEYS: u64 = 8;

struct Builder {
    lines: Vec<Line>,
}

impl Builder {
    fn push(&mut self, command: Command) {
        let number = self.lines.len() + 2;
        self.lines.push(Line { number, command });
    }
}

/// One of 1.4.0's key-value commands on `key`, its value unique by `serial`.
fn kv_command_words(prng: &mut Prng, key: String, serial: u64) -> Vec<String> {
    let value = alloc::format!("w{serial}");
    let words: Vec<&str> = match prng.range_inclusive(0, 5) {
        0 => alloc::vec!["SET", &key, &value, "NX"],
        1 => alloc::vec!["SET", &key, &value, "XX", "GET"],
        2 => alloc::vec!["APPEND", &key, &value],
        3 => alloc::vec!["GETDEL", &key],
        4 => alloc::vec!["SETNX", &key, &value],
        _ => alloc::vec!["STRLEN", &key],
    };
    words.into_iter().map(String::from).collect()
}

/// The schedule for one seed.
pub fn generate(seed: u64, options: &ExploreOptions) -> Script {
    let mut prng = Prng::new(seed ^ 0x5eed_5eed_5eed_5eed);
    let members = options.replicas + options.standbys;
    let faults = options.faults;
    let mut b = Builder { lines: Vec::new() };
    let mut crashed: Vec<MemberId> = Vec::new();
    // One member has the bad disk, so damage stays within what the cluster tolerates.
    let bad_disk = prng.range_inclusive(0, options.replicas as u64 - 1) as MemberId;
    let mut writes = 0u64;
    for _ in 0..options.rounds {
        for _ in 0..prng.range_inclusive(1, 6) {
            let client = prng.range_inclusive(1, CLIENTS);
            let key = alloc::format!("k{}", prng.range_inclusive(0, KEYS - 1));
            if options.standbys > 0 && prng.chance_ppm(150_000) {
                // A read at a standby: bounded staleness, checked for monotonic reads.
                let at = options.replicas + prng.range_inclusive(0, options.standbys as u64 - 1) as MemberId;
                b.push(Command::Get { key, client, at: Some(at) });
            } else if prng.chance_ppm(300_000) {
                b.push(Command::Get { key, client, at: None });
            } else if prng.chance_ppm(150_000) {
                // Not idempotent: an increment applied twice shows in every later read.
                let counter = alloc::format!("n{}", prng.range_inclusive(0, 3));
                b.push(Command::Cmd { words: alloc::vec![String::from("INCR"), counter], client });
            } else if prng.chance_ppm(120_000) {
                // 1.4.0's commands (refused as feature-off below it): conditional and
                // read-modify-write, which a write applied twice or out of order betrays.
                writes += 1;
                b.push(Command::Cmd { words: kv_command_words(&mut prng, key, writes), client });
            } else {
                writes += 1;
                let value = alloc::format!("v{writes}");
                b.push(Command::Put { key, value, client });
            }
        }
        let fault = prng.range_inclusive(0, 9);
        match fault {
            0 | 1 if faults.crash => {
                let member = prng.range_inclusive(0, members as u64 - 1) as MemberId;
                if crashed.contains(&member) || prng.chance_ppm(300_000) {
                    crashed.retain(|m| *m != member);
                    b.push(Command::Restart { member, binary: None });
                } else {
                    crashed.push(member);
                    b.push(Command::Crash(member));
                }
            }
            2 if faults.partition => {
                let mut groups: Vec<Vec<MemberId>> = alloc::vec![Vec::new(), Vec::new()];
                for member in 0..members {
                    groups[prng.range_inclusive(0, 1) as usize].push(member);
                }
                groups.retain(|group| !group.is_empty());
                if prng.chance_ppm(200_000) {
                    b.push(Command::Isolate(prng.range_inclusive(0, members as u64 - 1) as MemberId));
                } else {
                    b.push(Command::Partition(groups));
                }
            }
            3 if faults.block => {
                let member = prng.range_inclusive(0, members as u64 - 1) as MemberId;
                match prng.range_inclusive(0, 4) {
                    // The shapes a firewall makes: every link into one member, or out of it.
                    0 => block_all(&mut b, members, |other| (other, member)),
                    1 => block_all(&mut b, members, |other| (member, other)),
                    2 if members >= 5 => bridge(&mut b, members, member),
                    _ => {
                        let to = prng.range_inclusive(0, members as u64 - 1) as MemberId;
                        if member != to {
                            b.push(Command::Block { from: member, to });
                        }
                    }
                }
            }
            4 if faults.loss || faults.duplication || faults.delay => {
                let loss_ppm = faults.loss.then(|| prng.range_inclusive(0, 200_000) as u32);
                let dup_ppm = faults.duplication.then(|| prng.range_inclusive(0, 100_000) as u32);
                let delay_ticks = faults.delay.then(|| {
                    let low = prng.range_inclusive(1, 5);
                    (low, low + prng.range_inclusive(0, 40))
                });
                b.push(Command::Net { loss_ppm, dup_ppm, delay_ticks });
            }
            // The only copy of a single replica's log is beyond repair: no damage there.
            // The one bad disk is damaged, or lost whole where the others still make a
            // quorum without it (from 3 replicas: with 2, both must vote, and a member
            // that lost its disk never votes again as itself).
            5 if faults.disk && options.replicas >= 3 && prng.chance_ppm(250_000) => {
                if !crashed.contains(&bad_disk) {
                    crashed.push(bad_disk);
                }
                b.push(Command::LoseDisk(bad_disk));
            }
            5 if faults.corrupt && writes > 0 && options.replicas > 1 => {
                let op = prng.range_inclusive(1, writes.max(1));
                b.push(Command::Corrupt { member: bad_disk, op });
            }
            6 => b.push(Command::Heal),
            7 | 8 if faults.upgrade => {
                // A restart with a random binary: an upgrade, a rollback, or an old
                // binary that must halt once the cluster has moved past it.
                let member = prng.range_inclusive(0, members as u64 - 1) as MemberId;
                let binary = KNOWN_RELEASES[prng.range_inclusive(0, KNOWN_RELEASES.len() as u64 - 1) as usize];
                crashed.retain(|m| *m != member);
                b.push(Command::Restart { member, binary: Some(binary) });
                match prng.range_inclusive(0, 3) {
                    0 => {
                        let to = KNOWN_RELEASES[prng.range_inclusive(0, KNOWN_RELEASES.len() as u64 - 1) as usize];
                        b.push(Command::UpgradePropose { to });
                    }
                    1 => b.push(Command::UpgradeCancel),
                    2 => b.push(Command::UpgradeAuto(prng.chance_ppm(600_000))),
                    _ => {}
                }
            }
            9 if faults.promote && options.standbys > 0 => {
                // Usually a standby, sometimes any member (a refusal); replacing a
                // random member (perhaps the crashed one, perhaps the primary) or none.
                let standby = if prng.chance_ppm(800_000) {
                    options.replicas + prng.range_inclusive(0, options.standbys as u64 - 1) as MemberId
                } else {
                    prng.range_inclusive(0, members as u64 - 1) as MemberId
                };
                let replace = match crashed.iter().find(|member| **member < options.replicas) {
                    // Disaster recovery: a dead replica replaced, often.
                    Some(dead) if prng.chance_ppm(500_000) => Some(*dead),
                    _ => prng.chance_ppm(600_000).then(|| prng.range_inclusive(0, members as u64 - 1) as MemberId),
                };
                b.push(Command::Promote { standby, replace });
                if prng.chance_ppm(200_000) {
                    // A long partition while the reconfiguration may still be pending.
                    let cut = prng.range_inclusive(0, members as u64 - 1) as MemberId;
                    b.push(Command::Isolate(cut));
                    b.push(Command::Tick(prng.range_inclusive(500, 2_000)));
                }
            }
            _ => {}
        }
        b.push(Command::Tick(prng.range_inclusive(10, 400)));
    }
    // Liveness: every fault ends and every member comes back.
    b.push(Command::Heal);
    b.push(Command::Net { loss_ppm: Some(0), dup_ppm: Some(0), delay_ticks: Some((1, 3)) });
    if faults.upgrade {
        // Every member gets the newest binary; the cluster must then reach it.
        for member in 0..members {
            b.push(Command::Restart { member, binary: Some(NEWEST_RELEASE) });
        }
    } else {
        for member in crashed {
            b.push(Command::Restart { member, binary: None });
        }
    }
    for client in 1..=CLIENTS {
        let condition =
            Condition { subject: Subject::Reply(client), op: CompareOp::Ne, value: String::from("pending") };
        b.push(Command::Until { condition, within_ticks: options.liveness_ticks });
    }
    b.push(Command::Put { key: String::from("final"), value: String::from("done"), client: CLIENTS + 1 });
    let condition = Condition { subject: Subject::Reply(CLIENTS + 1), op: CompareOp::Eq, value: String::from("ok") };
    b.push(Command::Until { condition, within_ticks: options.liveness_ticks });
    if faults.upgrade {
        let primary = Condition { subject: Subject::Primary, op: CompareOp::Ne, value: String::from("none") };
        b.push(Command::Until { condition: primary, within_ticks: options.liveness_ticks });
        b.push(Command::UpgradeAuto(true));
        let newest = alloc::format!("{NEWEST_RELEASE}");
        let condition = Condition { subject: Subject::ClusterRelease, op: CompareOp::Eq, value: newest };
        b.push(Command::Until { condition, within_ticks: options.liveness_ticks });
    }
    if faults.block && options.replicas >= 3 {
        // Progress while a quorum can talk both ways, not only after heal: once the
        // cluster is whole again, one member deaf or mute (or, with five, a bridge),
        // and a write must still commit. Whole means every member normal: a quorum
        // commits the write above while one that lost its disk may still recover, and
        // then one more member cut off is a failure beyond what it tolerates.
        if faults.disk {
            let normal = Condition {
                subject: Subject::Status(MemberRef::All),
                op: CompareOp::Eq,
                value: String::from("normal"),
            };
            b.push(Command::Until { condition: normal, within_ticks: options.liveness_ticks });
        }
        let member = prng.range_inclusive(0, options.replicas as u64 - 1) as MemberId;
        match prng.range_inclusive(0, 2) {
            0 => block_all(&mut b, members, |other| (other, member)),
            1 => block_all(&mut b, members, |other| (member, other)),
            // A bridge leaves a quorum only through an active member: without standbys
            // nothing was promoted, so every replica still is one.
            _ if options.replicas >= 5 && options.standbys == 0 => bridge(&mut b, members, member),
            _ => block_all(&mut b, members, |other| (other, member)),
        }
        b.push(Command::Put { key: String::from("asymmetric"), value: String::from("on"), client: CLIENTS + 2 });
        let condition =
            Condition { subject: Subject::Reply(CLIENTS + 2), op: CompareOp::Eq, value: String::from("ok") };
        b.push(Command::Until { condition, within_ticks: options.liveness_ticks });
        b.push(Command::Heal);
    }
    let condition = Condition { subject: Subject::Violations, op: CompareOp::Eq, value: String::from("0") };
    b.push(Command::Expect(condition));
    // Half the upgrade schedules start from the oldest release.
    let binary = (faults.upgrade && seed % 2 == 1).then_some(OLDEST_RELEASE);
    let header =
        Header { line: 1, replicas: options.replicas, standbys: options.standbys, seed, binary, release: None };
    Script { header, lines: b.lines }
}

/// Block one way the link between `member` and each other member, as `link` orders them.
fn block_all(b: &mut Builder, members: u8, link: impl Fn(MemberId) -> (MemberId, MemberId)) {
    for other in 0..members {
        let (from, to) = link(other);
        if from != to {
            b.push(Command::Block { from, to });
        }
    }
}

/// Two halves that talk only through `bridge`: every link between them cut both ways.
fn bridge(b: &mut Builder, members: u8, bridge: MemberId) {
    let others: Vec<MemberId> = (0..members).filter(|member| *member != bridge).collect();
    let (left, right) = others.split_at(others.len() / 2);
    for from in left {
        for to in right {
            b.push(Command::Block { from: *from, to: *to });
            b.push(Command::Block { from: *to, to: *from });
        }
    }
}

#[derive(Clone, Debug)]
pub struct SeedOutcome {
    pub seed: u64,
    pub passed: bool,
    pub events: u64,
    /// Member starts that ran an archived release's real code.
    pub archived_starts: u64,
    /// What failed: the failure lines the run printed.
    pub failure: Vec<String>,
    pub script: Script,
}

/// Generate and run one seed's schedule, with the checkers on. Once faults end, the
/// run must also converge (`convergence`); those lines join the script, so that the
/// script a failure writes replays it.
pub fn run_seed(seed: u64, options: &ExploreOptions) -> SeedOutcome {
    run_seed_with(seed, options, None)
}

/// [`run_seed`], with archived releases running in `archive` (as `viewstamp replay`
/// runs them, so that a failure's script replays the same).
pub fn run_seed_with(seed: u64, options: &ExploreOptions, archive: Option<SharedArchive>) -> SeedOutcome {
    run_seed_traced(seed, options, archive, None)
}

/// [`run_seed_with`], handing every trace line to `trace` when one is given: how a
/// seed the scenario language cannot say (a disk loss) is read event by event.
pub fn run_seed_traced(
    seed: u64,
    options: &ExploreOptions,
    archive: Option<SharedArchive>,
    mut trace: Option<&mut dyn FnMut(&str)>,
) -> SeedOutcome {
    let mut script = generate(seed, options);
    let last = script.lines.pop().expect("a schedule ends with its expectation");
    let mut failure = Vec::new();
    let tracing = trace.is_some();
    let mut out = |line: &str| {
        if let Some(trace) = trace.as_mut() {
            trace(line);
        }
        // Traced, a failure's lines are those the untraced run prints.
        let failed =
            !tracing || line.starts_with("violation: ") || line.starts_with("line ") || line.starts_with("panic");
        if failed && !line.starts_with("digest=") {
            failure.push(String::from(line));
        }
    };
    let within_ticks = options.liveness_ticks;
    let mut tail = |sim: &Simulator| {
        let mut commands = convergence(sim, within_ticks);
        commands.push(last.command.clone());
        commands
    };
    let (outcome, tail_lines) =
        run_script_with_tail(&script, RunOptions { archive, ..RunOptions::new(tracing, true) }, &mut out, &mut tail);
    script.lines.extend(tail_lines);
    SeedOutcome {
        seed,
        passed: outcome.exit_status == 0,
        events: outcome.events,
        archived_starts: outcome.archived_starts,
        failure,
        script,
    }
}

/// What a cluster with every fault gone must reach within `within_ticks`: every member
/// that is up normal, with the commit the primary has now, and every member the
/// configuration removed knowing it.
fn convergence(sim: &Simulator, within_ticks: u64) -> Vec<Command> {
    let until = |subject: Subject, op: CompareOp, value: String| Command::Until {
        condition: Condition { subject, op, value },
        within_ticks,
    };
    let mut commands = alloc::vec![until(Subject::Primary, CompareOp::Ne, String::from("none"))];
    let Some(primary) = sim.primary() else { return commands };
    let commit = sim.member_state(primary).map_or(0, |state| state.commit);
    let removed: Vec<MemberId> = sim.committed_membership_of(primary).removed().to_vec();
    for member in removed.into_iter().filter(|member| sim.member(*member).is_up()) {
        commands.push(until(Subject::Role(MemberRef::One(member)), CompareOp::Eq, String::from("removed")));
    }
    commands.push(until(Subject::Status(MemberRef::All), CompareOp::Eq, String::from("normal")));
    commands.push(until(Subject::Commit(MemberRef::All), CompareOp::Ge, alloc::format!("{commit}")));
    commands
}
