//! Running a scenario script against the simulator: the native engine of
//! `viewstamp replay`, and what the browser and wasmtime run too.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::ast::{Command, CompareOp, Condition, Header, Line, MemberRef, Script, Subject};
use super::parse::parse_script;
use crate::release::{is_known_release, Release, NEWEST_RELEASE};
use crate::replica::Role;
use crate::sim::archive::SharedArchive;
use crate::sim::{SimConfig, Simulator};
use crate::state_machine::KvCommand;
use crate::types::MemberId;
use crate::upgrade::UpgradeCommand;

#[derive(Clone)]
pub struct RunOptions {
    /// Print a line for every simulated event.
    pub trace: bool,
    /// Run the invariant checkers after every event.
    pub check: bool,
    /// Where the archived releases this host carries run (the spec's archived
    /// releases); `None`: the current code acts as every release.
    pub archive: Option<SharedArchive>,
}

impl RunOptions {
    /// Tracing and checking as given, with no archive.
    pub const fn new(trace: bool, check: bool) -> Self {
        Self { trace, check, archive: None }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self::new(true, true)
    }
}

impl core::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RunOptions")
            .field("trace", &self.trace)
            .field("check", &self.check)
            .field("archive", &self.archive.as_ref().map(|_| "archive"))
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// 0: every expectation held and no invariant broke; 1: otherwise; 2: did not parse.
    pub exit_status: u8,
    /// `None` when the script did not parse (nothing was simulated).
    pub digest: Option<u64>,
    pub violations: u64,
    pub events: u64,
    pub messages_delivered: u64,
    /// Member starts that ran an archived release's real code.
    pub archived_starts: u64,
}

/// What stops a line from running.
pub struct RunError(pub String);

pub fn digest_line(digest: u64, violations: u64) -> String {
    alloc::format!("digest={digest:016x} violations={violations}")
}

/// Parse and run a script, sending every output line to `out`.
pub fn run_text(text: &str, options: RunOptions, out: &mut dyn FnMut(&str)) -> RunOutcome {
    match parse_script(text) {
        Ok(script) => run_script(&script, options, out),
        Err(error) => {
            out(&error.to_string());
            RunOutcome {
                exit_status: 2,
                digest: None,
                violations: 0,
                events: 0,
                messages_delivered: 0,
                archived_starts: 0,
            }
        }
    }
}

/// The simulator a script's header describes.
pub fn simulator_for(header: &Header, options: RunOptions) -> Result<Simulator, String> {
    let binary = header.binary.unwrap_or(NEWEST_RELEASE);
    let release = header.release.unwrap_or(binary);
    let at = header.line;
    if !is_known_release(binary) {
        return Err(alloc::format!("line {at}: no binary of this build has release {binary}"));
    }
    if !is_known_release(release) {
        return Err(alloc::format!("line {at}: this build knows no release {release}"));
    }
    if release > binary {
        return Err(alloc::format!(
            "line {at}: the cluster release {release} is newer than the binary {binary} that must run it"
        ));
    }
    let mut config = SimConfig::new(header.replicas, header.standbys, header.seed);
    config.binary = binary;
    config.release = release;
    config.trace = options.trace;
    config.check = options.check;
    Ok(Simulator::with_archive(config, options.archive))
}

pub fn run_script(script: &Script, options: RunOptions, out: &mut dyn FnMut(&str)) -> RunOutcome {
    run_script_with_tail(script, options, out, &mut |_| Vec::new()).0
}

/// Run a script, then the lines `tail` makes from the simulator as the script left it
/// (when nothing stopped it): what a sweep checks once faults end. Returns the outcome
/// and the tail's lines, numbered after the script's.
pub fn run_script_with_tail(
    script: &Script,
    options: RunOptions,
    out: &mut dyn FnMut(&str),
    tail: &mut dyn FnMut(&Simulator) -> Vec<Command>,
) -> (RunOutcome, Vec<Line>) {
    let mut sim = match simulator_for(&script.header, options) {
        Ok(sim) => sim,
        Err(error) => {
            out(&error);
            let outcome = RunOutcome {
                exit_status: 1,
                digest: None,
                violations: 0,
                events: 0,
                messages_delivered: 0,
                archived_starts: 0,
            };
            return (outcome, Vec::new());
        }
    };
    let mut runner = Runner::new(&mut sim);
    let mut stopped = !runner.run_lines(&script.lines, out);
    let mut tail_lines = Vec::new();
    if !stopped {
        let first = script.lines.last().map_or(script.header.line, |line| line.number) + 1;
        tail_lines = tail(runner.sim)
            .into_iter()
            .enumerate()
            .map(|(index, command)| Line { number: first + index, command })
            .collect();
        stopped = !runner.run_lines(&tail_lines, out);
    }
    let _ = stopped;
    let failed = runner.failed;
    sim.check_history();
    runner_flush(&mut sim, out);
    let violations = sim.violations();
    out(&digest_line(sim.digest(), violations));
    let outcome = RunOutcome {
        exit_status: if failed || violations > 0 { 1 } else { 0 },
        digest: Some(sim.digest()),
        violations,
        events: sim.events_processed(),
        messages_delivered: sim.messages_delivered(),
        archived_starts: sim.archived_starts(),
    };
    (outcome, tail_lines)
}

fn runner_flush(sim: &mut Simulator, out: &mut dyn FnMut(&str)) {
    for line in sim.take_trace() {
        out(&line);
    }
}

/// Executes lines against one simulator: the scenario engine shared by every host.
pub struct Runner<'a> {
    pub sim: &'a mut Simulator,
    pub failed: bool,
    /// The last operator command's code.
    pub error_code: String,
}

impl<'a> Runner<'a> {
    pub fn new(sim: &'a mut Simulator) -> Self {
        Runner { sim, failed: false, error_code: String::from("none") }
    }

    /// Run `lines` in order; false when one could not run (the run stops there).
    pub fn run_lines(&mut self, lines: &[Line], out: &mut dyn FnMut(&str)) -> bool {
        for line in lines {
            let result = self.execute_line(line, out);
            self.flush(out);
            if let Err(RunError(reason)) = result {
                out(&alloc::format!("line {}: {reason}", line.number));
                self.failed = true;
                return false;
            }
        }
        true
    }

    /// Send the simulator's trace and any new violations to `out`.
    pub fn flush(&mut self, out: &mut dyn FnMut(&str)) {
        for line in self.sim.take_trace() {
            out(&line);
        }
    }

    fn member(&self, member: u8) -> Result<MemberId, RunError> {
        let count = self.sim.member_count();
        if member < count {
            Ok(member)
        } else {
            Err(RunError(alloc::format!("member {member} does not exist: this cluster has members 0 to {}", count - 1)))
        }
    }

    /// Run one line. Failed expectations are printed and remembered; a line that
    /// cannot run returns an error and stops the run.
    pub fn execute_line(&mut self, line: &Line, out: &mut dyn FnMut(&str)) -> Result<(), RunError> {
        match &line.command {
            Command::Tick(ticks) => {
                let until = self.sim.now() + ticks;
                self.sim.run_until(until);
            }
            Command::Step(count) => {
                for _ in 0..*count {
                    if !self.sim.step() {
                        break;
                    }
                }
            }
            Command::Until { condition, within_ticks } => {
                let deadline = self.sim.now() + within_ticks;
                loop {
                    let (holds, actual) = self.evaluate(condition)?;
                    if holds {
                        break;
                    }
                    if self.sim.now() >= deadline {
                        self.failed = true;
                        self.flush(out);
                        out(&alloc::format!(
                            "line {}: until {condition} did not hold within {within_ticks} ticks ({} is {actual})",
                            line.number,
                            condition.subject
                        ));
                        break;
                    }
                    let next = self.sim.now() + 1;
                    self.sim.run_until(next);
                }
            }
            Command::Expect(condition) => {
                let (holds, actual) = self.evaluate(condition)?;
                if !holds {
                    self.failed = true;
                    self.flush(out);
                    out(&alloc::format!(
                        "line {}: expect {condition} failed: {} is {actual}",
                        line.number,
                        condition.subject
                    ));
                }
            }
            Command::Put { key, value, client } => {
                let command = KvCommand::Put { key: key.as_bytes().to_vec(), value: value.as_bytes().to_vec() };
                self.sim.submit(*client, command).map_err(|error| RunError(error.0))?;
            }
            Command::Get { key, client, at: None } => {
                let command = KvCommand::Get { key: key.as_bytes().to_vec() };
                self.sim.submit(*client, command).map_err(|error| RunError(error.0))?;
            }
            Command::Get { key, client, at: Some(member) } => {
                let member = self.member(*member)?;
                let command = KvCommand::Get { key: key.as_bytes().to_vec() };
                self.sim.submit_to(*client, command, Some(member)).map_err(|error| RunError(error.0))?;
            }
            Command::Cmd { words, client } => match super::commands::kv_command(words) {
                Ok(command) => self.sim.submit(*client, command).map_err(|error| RunError(error.0))?,
                Err(super::commands::CmdError::NotInRelease) => {
                    self.sim.refuse(*client, "feature-off").map_err(|error| RunError(error.0))?
                }
                Err(super::commands::CmdError::Invalid(reason)) => return Err(RunError(reason)),
            },
            Command::Crash(member) => {
                let member = self.member(*member)?;
                self.sim.crash(member);
            }
            Command::Restart { member, binary } => {
                let member = self.member(*member)?;
                if let Some(binary) = binary {
                    if !is_known_release(*binary) {
                        return Err(RunError(alloc::format!("no binary of this build has release {binary}")));
                    }
                }
                self.sim.restart(member, *binary);
            }
            Command::Partition(groups) => {
                let mut seen = 0u32;
                for group in groups {
                    for member in group {
                        let member = self.member(*member)?;
                        if seen & (1 << member) != 0 {
                            return Err(RunError(alloc::format!("member {member} is named in two groups")));
                        }
                        seen |= 1 << member;
                    }
                }
                self.sim.network.partition(groups);
                self.trace_fault(&line.command);
            }
            Command::Isolate(member) => {
                let member = self.member(*member)?;
                self.sim.network.isolate(member);
                self.trace_fault(&line.command);
            }
            Command::Block { from, to } => {
                let (from, to) = (self.member(*from)?, self.member(*to)?);
                self.sim.network.block(from, to);
                self.trace_fault(&line.command);
            }
            Command::Unblock { from, to } => {
                let (from, to) = (self.member(*from)?, self.member(*to)?);
                self.sim.network.unblock(from, to);
                self.trace_fault(&line.command);
            }
            Command::Heal => {
                self.sim.network.heal();
                self.trace_fault(&line.command);
            }
            Command::Net { loss_ppm, dup_ppm, delay_ticks } => {
                self.sim.network.set(*loss_ppm, *dup_ppm, *delay_ticks);
                self.trace_fault(&line.command);
            }
            Command::Corrupt { member, op } => {
                let member = self.member(*member)?;
                self.sim.corrupt(member, *op);
            }
            Command::LoseDisk(member) => {
                let member = self.member(*member)?;
                self.sim.crash(member);
                self.sim.lose_data(member);
            }
            Command::UpgradePropose { to } => self.operator(UpgradeCommand::Propose(*to)),
            Command::UpgradeCancel => self.operator(UpgradeCommand::Cancel),
            Command::UpgradeAuto(on) => self.operator(UpgradeCommand::Auto(*on)),
            Command::Promote { standby, replace } => {
                let standby = self.member(*standby)?;
                let replace = replace.map(|member| self.member(member)).transpose()?;
                self.error_code = match self.sim.promote(standby, replace) {
                    Ok(()) => String::from("none"),
                    Err(refusal) => String::from(refusal.code()),
                };
            }
        }
        Ok(())
    }

    fn operator(&mut self, command: UpgradeCommand) {
        self.error_code = match self.sim.upgrade_command(command) {
            Ok(()) => String::from("none"),
            Err(refusal) => String::from(refusal.code()),
        };
    }

    fn trace_fault(&mut self, command: &Command) {
        if self.sim.config().trace {
            let text = command.to_string();
            self.sim.note(&text);
        }
    }

    /// Whether a condition holds, and the value(s) it saw.
    pub fn evaluate(&mut self, condition: &Condition) -> Result<(bool, String), RunError> {
        if condition.subject == Subject::Violations {
            self.sim.check_history();
        }
        let values = self.values(&condition.subject)?;
        let holds = values.iter().all(|value| compare(value, condition.op, &condition.value));
        let shown = match values.len() {
            1 => values[0].clone(),
            _ => alloc::format!("[{}]", values.join(", ")),
        };
        Ok((holds, shown))
    }

    /// Members a `[*]` subject ranges over: every member that is up, leaving out those
    /// that know they were removed (one that does not know it yet still counts).
    fn members_up(&self) -> Vec<MemberId> {
        (0..self.sim.member_count())
            .filter(|m| self.sim.member_state(*m).is_some_and(|state| state.role != Role::Removed))
            .collect()
    }

    /// `upgrade-target`: as the primary projects it (for archived code, as the
    /// simulator projects it beside it: `Simulator::upgrade_target_of`).
    fn upgrade_target(&self, subject: &Subject) -> Result<Option<Release>, RunError> {
        let Some(primary) = self.sim.primary() else { return Ok(None) };
        self.sim
            .upgrade_target_of(primary)
            .map_err(|crate::sim::SimError(reason)| RunError(alloc::format!("{subject} cannot be read: {reason}")))
    }

    fn per_member(&self, target: &MemberRef, value: impl Fn(MemberId) -> String) -> Result<Vec<String>, RunError> {
        match target {
            MemberRef::One(member) => Ok(alloc::vec![value(self.member(*member)?)]),
            MemberRef::All => Ok(self.members_up().into_iter().map(value).collect()),
        }
    }

    /// A standby subject, as the current primary tracks it: `none` without a primary
    /// or for a member that is no standby; `[*]` ranges over the standbys that are up.
    fn per_standby(
        &self,
        subject: &Subject,
        target: &MemberRef,
        value: impl Fn(&crate::standby::StandbyView) -> String,
    ) -> Result<Vec<String>, RunError> {
        let _ = subject;
        let primary = self.sim.primary();
        let read = |member: MemberId| match primary.and_then(|p| self.sim.standby_view(p, member)) {
            Some(view) => value(&view),
            None => String::from("none"),
        };
        match target {
            MemberRef::One(member) => Ok(alloc::vec![read(self.member(*member)?)]),
            MemberRef::All => {
                Ok(self.members_up().into_iter().filter(|m| *m >= self.sim.config().replicas).map(read).collect())
            }
        }
    }

    fn values(&self, subject: &Subject) -> Result<Vec<String>, RunError> {
        let none = || String::from("none");
        let primary = self.sim.primary().and_then(|p| self.sim.member_state(p));
        let one = |value: String| Ok(alloc::vec![value]);
        match subject {
            Subject::ClusterRelease => one(primary.map_or_else(none, |p| p.release.to_string())),
            Subject::Feature(feature) => {
                one(primary
                    .map_or_else(none, |p| String::from(if feature.enabled_at(p.release) { "on" } else { "off" })))
            }
            Subject::UpgradeTarget => one(self.upgrade_target(subject)?.map_or_else(none, |t| t.to_string())),
            Subject::Primary => one(self.sim.primary().map_or_else(none, |p| p.to_string())),
            Subject::View => one(primary.map_or_else(none, |p| p.view.to_string())),
            Subject::Commit(target) => self
                .per_member(target, |m| self.sim.member_state(m).map_or_else(none, |state| state.commit.to_string())),
            Subject::Status(target) => self.per_member(target, |m| String::from(self.sim.reported_status(m).name())),
            Subject::Role(target) => self.per_member(target, |m| String::from(self.sim.role_of(m).name())),
            Subject::Binary(target) => self.per_member(target, |m| self.sim.member(m).binary.to_string()),
            Subject::Lag(target) => {
                self.per_standby(subject, target, |view| view.lag_ops.map_or_else(none, |lag| lag.to_string()))
            }
            Subject::Health(target) => self
                .per_standby(subject, target, |view| String::from(if view.healthy { "healthy" } else { "unhealthy" })),
            Subject::Promotable(target) => {
                self.per_standby(subject, target, |view| String::from(if view.promotable { "yes" } else { "no" }))
            }
            Subject::Replicas => one(self
                .sim
                .primary()
                .map_or_else(none, |p| self.sim.committed_membership_of(p).active().len().to_string())),
            Subject::Standbys => one(self
                .sim
                .primary()
                .map_or_else(none, |p| self.sim.committed_membership_of(p).standbys().len().to_string())),
            Subject::Reply(client) => one(self.sim.client_reply(*client).text()),
            Subject::Error => one(self.error_code.clone()),
            Subject::Violations => one(self.sim.violations().to_string()),
        }
    }
}

/// Releases compare as releases, numbers as numbers, everything else as text. An
/// ordering against `none` never holds, so `until view >= 1` waits for a primary.
pub fn compare(actual: &str, op: CompareOp, expected: &str) -> bool {
    use core::cmp::Ordering;
    let ordering: Ordering = if let (Ok(a), Ok(b)) = (actual.parse::<u64>(), expected.parse::<u64>()) {
        a.cmp(&b)
    } else if let (Ok(a), Ok(b)) = (actual.parse::<Release>(), expected.parse::<Release>()) {
        a.cmp(&b)
    } else {
        if (actual == "none" || expected == "none") && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return false;
        }
        actual.cmp(expected)
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
    }
}
