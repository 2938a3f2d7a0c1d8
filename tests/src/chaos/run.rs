//! One chaos run from start to verdict: a fresh cluster, load, the nemesis for the
//! run's duration, then heal, convergence, a read of every key through every member,
//! and the checks. A failed run keeps everything and says how to run it again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::cluster::{log_tail, Cluster};
use super::nemesis::Nemesis;
use super::registers::{self, Call, Operation, Outcome};
use super::report::{self, Counts};
use super::resp::RespClient;
use super::rng::Rng;
use super::timeline::Timeline;
use super::workload::{self, classify, History, Record, Workload, CONNECT_TIMEOUT};

/// What happens besides the random faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Random faults only.
    Faults,
    /// The cluster starts at an older release and is upgraded, one member at a time, under load.
    Upgrade,
    /// A replica is killed for good and the standby promoted in its place.
    Promotion,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Faults, Plan::Upgrade, Plan::Promotion];

    pub fn name(self) -> &'static str {
        match self {
            Plan::Faults => "faults",
            Plan::Upgrade => "upgrade",
            Plan::Promotion => "promotion",
        }
    }

    pub fn parse(text: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|plan| plan.name() == text)
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub binary: PathBuf,
    /// Where the run's files go; removed after a passing run unless `keep`.
    pub dir: PathBuf,
    pub seed: u64,
    pub plan: Plan,
    pub duration: Duration,
    pub replicas: u64,
    pub standbys: u64,
    pub clients: u32,
    pub keys: usize,
    /// The release an upgrade run starts at.
    pub upgrade_from: String,
    pub keep: bool,
}

pub struct RunOutcome {
    pub passed: bool,
    pub summary: String,
    pub counts: Counts,
}

const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);
/// Load before the first fault and after the last heal.
const WARM_UP: Duration = Duration::from_secs(2);
const COOL_DOWN: Duration = Duration::from_secs(3);
const PROGRESS_EVERY: Duration = Duration::from_secs(60);

/// The command line that runs this run again.
pub fn rerun_command(options: &Options) -> String {
    format!(
        "scripts/chaos.sh --seed {} --plan {} --duration {}s --shape {}+{} --clients {} --keys {}",
        options.seed,
        options.plan.name(),
        options.duration.as_secs(),
        options.replicas,
        options.standbys,
        options.clients,
        options.keys
    )
}

pub fn run(options: &Options) -> Result<RunOutcome, String> {
    let _ = fs::remove_dir_all(&options.dir);
    fs::create_dir_all(&options.dir).map_err(|error| format!("cannot create {}: {error}", options.dir.display()))?;
    let use_tmpfs = super::fullfs::can_mount();
    let from = (options.plan == Plan::Upgrade).then_some(options.upgrade_from.as_str());
    let cluster_id = 0xc4a0_0000 + options.seed % 0x1_0000;
    let mut cluster = Cluster::create(
        &options.binary,
        &options.dir,
        cluster_id,
        options.replicas,
        options.standbys,
        from,
        use_tmpfs,
    )?;
    for id in 0..cluster.members.len() as u64 {
        cluster.start(id)?;
    }
    let mut rng = Rng::new(options.seed);
    let started = Instant::now();
    let history = History::new(started);
    let admins = (0..cluster.members.len() as u64).map(|id| cluster.member(id).admin).collect();
    let timeline = Timeline::start(&options.dir.join("timeline.txt"), admins, started)?;
    let log_path = options.dir.join("nemesis.log");
    let log = File::create(&log_path).map_err(|error| format!("cannot create {}: {error}", log_path.display()))?;
    let mut nemesis = Nemesis::new(&mut cluster, rng.fork(1), log, history.clone());
    nemesis.note(&format!("seed {} plan {} tmpfs {use_tmpfs}", options.seed, options.plan.name()));
    let workload = Workload::start(
        options.clients,
        workload::keys(options.keys),
        nemesis.client_targets.clone(),
        history.clone(),
        &mut rng.fork(2),
    );
    let deadline = Instant::now() + options.duration;
    sleep(WARM_UP);
    match options.plan {
        Plan::Faults => {}
        Plan::Upgrade => nemesis.rolling_upgrade(&options.upgrade_from, carries_archived(&options.binary, from)),
        Plan::Promotion => nemesis.promotion(),
    }
    let mut next_progress = Instant::now() + PROGRESS_EVERY;
    while Instant::now() + COOL_DOWN < deadline {
        if Instant::now() >= next_progress {
            next_progress += PROGRESS_EVERY;
            println!(
                "  [{:>4} s] {} ops, {} writes acknowledged, {} faults, {} violations so far",
                history.now_us() / 1_000_000,
                history.len(),
                history.acknowledged_writes_invoked_after(0),
                nemesis.events.len(),
                nemesis.violations.len()
            );
        }
        nemesis.random_fault(use_tmpfs);
        sleep(Duration::from_millis(500 + rng.below(1500)));
        for (id, status) in nemesis.cluster.reap() {
            nemesis.note(&format!("member {id} exited on its own: {status}"));
        }
    }
    nemesis.heal_all();
    sleep(COOL_DOWN);
    workload.stop();
    let mut violations = std::mem::take(&mut nemesis.violations);
    let live = nemesis.live();
    let converged = converge(&nemesis, &live);
    nemesis.note(&match &converged {
        Ok(line) => format!("converged: {line}"),
        Err(error) => format!("did not converge: {error}"),
    });
    if let Err(error) = &converged {
        violations.push(error.clone());
    }
    final_reads(&nemesis, &live, &history, options.keys, &mut violations);
    for (id, status) in nemesis.cluster.reap() {
        nemesis.note(&format!("member {id} exited on its own: {status}"));
    }
    for (id, status) in nemesis.cluster.exited.clone() {
        violations.push(format!(
            "member {id} exited on its own ({status}): see {}",
            nemesis.cluster.member(id).log_path().display()
        ));
    }
    let events = nemesis.events.clone();
    drop(nemesis);
    timeline.stop();

    let records = history.records();
    let operations: Vec<Operation> = records.iter().map(|record| record.operation.clone()).collect();
    for violation in registers::check(&operations) {
        // An undecided key fails the run too: no verdict is not a pass.
        let label = if violation.is_undecided() { "the checker could not decide" } else { "not linearizable" };
        violations.push(format!("{label}: {violation}"));
    }
    violations.extend(lost_writes(&records));
    violations.extend(report::restart_write_failures(&events, &records));
    let counts = report::counts(&records, &events);
    if counts.acknowledged_writes == 0 {
        violations.push("no write was acknowledged in the whole run".into());
    }
    let mut summary = report::render(options, &counts, &events, &records);
    write_history(&options.dir.join("history.txt"), &records);
    let passed = violations.is_empty();
    if passed {
        drop(cluster);
        if !options.keep {
            let _ = fs::remove_dir_all(&options.dir);
        }
    } else {
        cluster.keep_data();
        let _ = writeln!(summary, "FAILED: {} violation(s):", violations.len());
        for violation in &violations {
            let _ = writeln!(summary, "  - {violation}");
        }
        for member in &cluster.members {
            let _ = writeln!(summary, "  member {} log tail:\n{}", member.id, indent(&log_tail(&member.log_path(), 8)));
        }
        let _ = writeln!(
            summary,
            "  kept: {} (history.txt, nemesis.log, timeline.txt, member-N/member.log, member-N/data-kept)\n  rerun: {}",
            options.dir.display(),
            rerun_command(options)
        );
        drop(cluster);
    }
    Ok(RunOutcome { passed, summary, counts })
}

/// Whether the binary runs `from`'s real code (it says so in `--version`).
fn carries_archived(binary: &std::path::Path, from: Option<&str>) -> bool {
    let Some(from) = from else { return false };
    let version = std::process::Command::new(binary).arg("--version").output();
    version.is_ok_and(|output| {
        let text = String::from_utf8_lossy(&output.stdout);
        text.split("carries the real code of ")
            .nth(1)
            .is_some_and(|list| list.trim().trim_end_matches(')').split(", ").any(|release| release == from))
    })
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("      {line}")).collect::<Vec<_>>().join("\n")
}

/// One primary, every member normal in one view with one commit, one configuration
/// and one release.
fn converge(nemesis: &Nemesis, live: &[u64]) -> Result<String, String> {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        let statuses: Result<Vec<_>, String> = live.iter().map(|id| nemesis.cluster.status(*id)).collect();
        match statuses {
            Ok(statuses) => {
                let first = &statuses[0];
                let primaries = statuses.iter().filter(|status| status.is_primary).count();
                let agreed = statuses.iter().all(|status| {
                    status.status == "normal"
                        && status.view == first.view
                        && status.commit == first.commit
                        && status.membership == first.membership
                        && status.cluster_release == first.cluster_release
                });
                last = statuses
                    .iter()
                    .zip(live)
                    .map(|(status, id)| {
                        format!(
                            "{id}: {} view {} commit {}{}",
                            status.status,
                            status.view,
                            status.commit,
                            if status.is_primary { " primary" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                if agreed && primaries == 1 {
                    return Ok(format!("{last}; release {}, active {:?}", first.cluster_release, first.membership.0));
                }
            }
            Err(error) => last = error,
        }
        sleep(Duration::from_millis(200));
    }
    Err(format!("no convergence within {} s: {last}", CONVERGE_TIMEOUT.as_secs()))
}

/// Every key read through every member in turn, into the history.
fn final_reads(nemesis: &Nemesis, live: &[u64], history: &History, keys: usize, violations: &mut Vec<String>) {
    for &id in live {
        let address = nemesis.cluster.member(id).client;
        for key in workload::keys(keys) {
            let mut answered = false;
            for _ in 0..5 {
                let invoked_at = history.now_us();
                let answer = RespClient::connect(address, CONNECT_TIMEOUT, Duration::from_secs(5))
                    .and_then(|mut client| client.command(&[b"GET", key.as_bytes()]));
                let (outcome, error) = classify(&Call::Read, answer);
                let completed_at = (outcome != Outcome::Unknown).then(|| history.now_us());
                answered = error.is_none();
                history.push(Record {
                    operation: Operation {
                        client: 1000 + id as u32,
                        key: key.clone(),
                        call: Call::Read,
                        outcome,
                        invoked_at,
                        completed_at,
                    },
                    member: id,
                    error,
                });
                if answered {
                    break;
                }
                sleep(Duration::from_millis(500));
            }
            if !answered {
                violations.push(format!("member {id} could not serve a read of {key} after convergence"));
            }
        }
    }
}

/// An acknowledged write is lost when the final value of its key was written by a
/// write that completed before it was invoked (or when nothing is left at all).
/// Linearizability implies this; it is checked apart to name the write.
fn lost_writes(records: &[Record]) -> Vec<String> {
    let mut final_value: BTreeMap<&str, &Option<String>> = BTreeMap::new();
    for record in records.iter().filter(|record| record.operation.client >= 1000) {
        if let Outcome::Read(value) = &record.operation.outcome {
            final_value.insert(&record.operation.key, value);
        }
    }
    let mut writes: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for record in records {
        if let Call::Write(_) = record.operation.call {
            writes.entry(&record.operation.key).or_default().push(&record.operation);
        }
    }
    let mut lost = Vec::new();
    for (key, value) in final_value {
        let ops = writes.get(key).cloned().unwrap_or_default();
        let last_written = ops.iter().filter(|op| op.outcome == Outcome::Written).max_by_key(|op| op.invoked_at);
        let Some(last_written) = last_written else { continue };
        let Call::Write(last_value) = &last_written.call else { continue };
        let source = value.as_ref().and_then(|value| ops.iter().find(|op| op.call == Call::Write(value.clone())));
        let superseded = match source {
            None => true,
            Some(source) => source.completed_at.is_some_and(|completed| completed < last_written.invoked_at),
        };
        if superseded {
            lost.push(format!(
                "acknowledged write {last_value:?} to {key} lost: the key ends as {value:?}, written before it"
            ));
        }
    }
    lost
}

fn write_history(path: &Path, records: &[Record]) {
    let mut text = String::from("# invoked_us completed_us client member key call outcome [error]\n");
    for record in records {
        let op = &record.operation;
        let _ = writeln!(
            text,
            "{} {} {} {} {} {:?} {:?}{}",
            op.invoked_at,
            op.completed_at.map_or("-".to_string(), |at| at.to_string()),
            op.client,
            record.member,
            op.key,
            op.call,
            op.outcome,
            record.error.as_ref().map_or(String::new(), |error| format!(" {error:?}"))
        );
    }
    let _ = fs::write(path, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(client: u32, key: &str, call: Call, outcome: Outcome, at: (u64, Option<u64>)) -> Record {
        Record {
            operation: Operation { client, key: key.into(), call, outcome, invoked_at: at.0, completed_at: at.1 },
            member: 0,
            error: None,
        }
    }

    #[test]
    fn a_final_value_older_than_an_acknowledged_write_is_a_lost_write() {
        let write = |value: &str, at| record(1, "k", Call::Write(value.into()), Outcome::Written, at);
        let final_read = |value: Option<&str>| {
            record(1000, "k", Call::Read, Outcome::Read(value.map(str::to_string)), (100, Some(101)))
        };
        let kept = [write("a", (1, Some(2))), write("b", (3, Some(4))), final_read(Some("b"))];
        assert!(lost_writes(&kept).is_empty());
        let lost = [write("a", (1, Some(2))), write("b", (3, Some(4))), final_read(Some("a"))];
        assert_eq!(lost_writes(&lost).len(), 1, "b was acknowledged after a completed");
        let vanished = [write("a", (1, Some(2))), final_read(None)];
        assert_eq!(lost_writes(&vanished).len(), 1);
        // Concurrent writes: either may win.
        let concurrent = [write("a", (1, Some(5))), write("b", (2, Some(4))), final_read(Some("a"))];
        assert!(lost_writes(&concurrent).is_empty());
        // A write that timed out may be what is left.
        let unknown = [
            write("a", (1, Some(2))),
            record(2, "k", Call::Write("u".into()), Outcome::Unknown, (3, None)),
            final_read(Some("u")),
        ];
        assert!(lost_writes(&unknown).is_empty());
    }
}
