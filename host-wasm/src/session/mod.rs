//! A simulation session for the browser: a simulator driven one command at a time,
//! with everything it printed, a log of the commands that can be exported as a
//! `.scenario` script, and travel back to any earlier event.
//!
//! Plain Rust, so it is tested natively; [`crate::browser`] wraps it for JS.

mod lag;
mod seek;
mod snapshot;
mod travel;

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;

use serde::{Deserialize, Serialize};
use viewstamp_core::release::Release;
use viewstamp_core::scenario::run::{simulator_for, RunError, RunOptions, Runner};
use viewstamp_core::scenario::{parse_line, parse_script, Command, Header, Line, ParsedLine};
use viewstamp_core::sim::archive::SharedArchive;
use viewstamp_core::sim::Simulator;
use viewstamp_core::types::ClientId;

use lag::LagHistory;
pub use lag::LagSample;
pub use snapshot::{
    ClientView, InFlightView, Link, LogEntryView, LogWindow, MemberView, NetworkView, Snapshot, TimerView,
};
use travel::Checkpoints;

/// The most output lines a session keeps; past that it runs on but keeps no more
/// (and cannot travel to them).
pub const EVENTS_MAX: usize = 1_000_000;

/// Ticks a `tick` command runs between two lag samples.
const SLICE_TICKS: u64 = 10;

/// How to build a cluster, as the `cluster` header's arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct SessionOptions {
    /// Active replicas, 1 to 7.
    pub replicas: u8,
    /// Standbys, 0 to 6.
    #[serde(default)]
    pub standbys: u8,
    #[serde(default)]
    pub seed: u64,
    /// The release every member's binary runs up to (`X.Y.Z`); the newest by default.
    #[serde(default)]
    pub binary: Option<String>,
    /// The cluster's initial release; the binary's by default.
    #[serde(default)]
    pub release: Option<String>,
}

/// One line the simulation printed: a simulated event, a fault or operator note, a
/// failed expectation, or an invariant violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct TraceEvent {
    /// Its position in the session's output, from 0, as `travel` counts.
    pub index: u64,
    /// Simulated time in ticks.
    pub time: u64,
    /// `deliver`, `timeout`, `durable`, `crash`, ..., `violation` or `failure`.
    pub kind: String,
    /// The line as `viewstamp replay` prints it.
    pub text: String,
}

/// What one command did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct CommandOutcome {
    /// The command as the exported script writes it.
    pub command: String,
    /// False when it could not run (say, a member that does not exist); nothing
    /// changed then and the command is not recorded.
    pub ran: bool,
    /// Why it could not run.
    pub error: Option<String>,
    /// For `expect` and `until`: whether the condition held.
    pub held: Option<bool>,
    /// Failed expectations, as `line N: ...` (N is the line in the exported script).
    pub failures: Vec<String>,
    /// The last operator command's code (`none` when accepted).
    pub code: String,
    /// Simulated events the command processed.
    pub events: u64,
}

/// A condition's value now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct ConditionValue {
    pub holds: bool,
    /// What the subject reads, `[a, b]` for `[*]`.
    pub value: String,
}

/// A command the session ran, and where its output starts.
#[derive(Clone, Debug)]
struct Recorded {
    command: Command,
    /// Output lines before it ran.
    lines_before: usize,
    /// Simulated events before it ran, and after.
    events_before: u64,
    events_after: u64,
}

pub struct Session {
    header: Header,
    sim: Simulator,
    /// The runner's state between commands: a failed expectation, the operator code.
    failed: bool,
    error_code: String,
    log: Vec<Recorded>,
    lines: Vec<String>,
    /// Lines produced past [`EVENTS_MAX`], not kept.
    lines_dropped: u64,
    /// The first line [`Session::take_events`] has not returned yet.
    unread: usize,
    checkpoints: Checkpoints,
    /// The whole run while the session shows an earlier point of it (see [`Session::seek`]).
    ahead: Option<seek::Timeline>,
    lag: LagHistory,
    /// Where members of archived releases run their real code (the browser's loaded
    /// modules); `None`: the current code acts as every release.
    archive: Option<SharedArchive>,
}

impl SessionOptions {
    /// The option names, as JS writes them.
    pub const FIELDS: [&'static str; 5] = ["replicas", "standbys", "seed", "binary", "release"];
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("header", &self.header)
            .field("commands", &self.log.len())
            .field("events", &self.lines.len())
            .field("digest", &format_args!("{:016x}", self.sim.digest()))
            .finish()
    }
}

impl Session {
    /// A session on the cluster a `cluster ...` header describes; with `archive`,
    /// members whose binary is an archived release run that release's code.
    pub fn new(header: Header, archive: Option<SharedArchive>) -> Result<Session, String> {
        let sim = simulator_for(&header, run_options(&archive))?;
        Ok(Session {
            header,
            sim,
            failed: false,
            error_code: String::from("none"),
            log: Vec::new(),
            lines: Vec::new(),
            lines_dropped: 0,
            unread: 0,
            checkpoints: Checkpoints::default(),
            ahead: None,
            lag: LagHistory::default(),
            archive,
        })
    }

    /// A new simulator of the session's header, as the session started.
    fn fresh_simulator(&self) -> Result<Simulator, String> {
        simulator_for(&self.header, run_options(&self.archive))
    }

    /// Whether members of archived releases run their real code here.
    pub fn carries_archive(&self) -> bool {
        self.archive.is_some()
    }

    /// From a header line's text: `cluster replicas=3 seed=7`.
    pub fn from_header(text: &str, archive: Option<SharedArchive>) -> Result<Session, String> {
        match parse_line(text.trim(), 1).map_err(|error| error.to_string())? {
            Some(ParsedLine::Header(header)) => Session::new(header, archive),
            _ => Err(String::from(
                "expected a header: cluster replicas=N [standbys=M] [seed=S] [binary=X.Y.Z] [release=X.Y.Z]",
            )),
        }
    }

    pub fn from_options(options: &SessionOptions, archive: Option<SharedArchive>) -> Result<Session, String> {
        let release = |text: &Option<String>, what: &str| -> Result<Option<Release>, String> {
            text.as_deref().map(|text| text.parse().map_err(|error| format!("{what} {text}: {error:?}"))).transpose()
        };
        if !(1..=7).contains(&options.replicas) || options.standbys > 6 {
            return Err(String::from("a cluster has 1 to 7 replicas and 0 to 6 standbys"));
        }
        let header = Header {
            line: 1,
            replicas: options.replicas,
            standbys: options.standbys,
            seed: options.seed,
            binary: release(&options.binary, "binary")?,
            release: release(&options.release, "release")?,
        };
        Session::new(header, archive)
    }

    /// Import a whole script: its header, then every command in order. A line that
    /// does not parse or cannot run is an error (`line N: ...`).
    pub fn from_script(text: &str, archive: Option<SharedArchive>) -> Result<Session, String> {
        let script = parse_script(text).map_err(|error| error.to_string())?;
        let mut session = Session::new(script.header, archive)?;
        for line in script.lines {
            let outcome = session.apply(line.command);
            if let Some(error) = outcome.error {
                return Err(format!("line {}: {error}", line.number));
            }
        }
        Ok(session)
    }

    /// Parse one scenario line (a command, not a header) and run it.
    pub fn apply_text(&mut self, text: &str) -> Result<CommandOutcome, String> {
        match parse_line(text, self.log.len() + 2).map_err(|error| error.reason)? {
            Some(ParsedLine::Command(command)) => Ok(self.apply(command)),
            Some(ParsedLine::Header(_)) => Err(String::from("a session has its header already; start a new one")),
            None => Err(String::from("the line holds no command")),
        }
    }

    pub fn step(&mut self, events: u64) -> CommandOutcome {
        self.apply(Command::Step(events.max(1)))
    }

    pub fn tick(&mut self, ticks: u64) -> CommandOutcome {
        self.apply(Command::Tick(ticks.max(1)))
    }

    /// `until CONDITION within TICKS`.
    pub fn run_until(&mut self, condition: &str, within_ticks: u64) -> Result<CommandOutcome, String> {
        let condition = viewstamp_core::scenario::parse::parse_condition_text(condition)?;
        Ok(self.apply(Command::Until { condition, within_ticks }))
    }

    /// Run one command; record it unless it could not run.
    pub fn apply(&mut self, command: Command) -> CommandOutcome {
        self.branch();
        self.checkpoints.maybe_take(&self.sim, self.log.len(), self.lines.len(), self.failed, &self.error_code);
        let lines_before = self.lines.len();
        let events_before = self.sim.events_processed();
        let (result, output) = self.run_command(&command);
        let events = self.sim.events_processed() - events_before;
        let failures = output.iter().filter(|line| line.starts_with("line ")).cloned().collect();
        self.keep_lines(output);
        let text = command.to_string();
        let held = match &command {
            Command::Expect(_) | Command::Until { .. } if result.is_ok() => {
                Some(!self.lines[lines_before..].iter().any(|line| line.starts_with("line ")))
            }
            _ => None,
        };
        let error = match result {
            Ok(()) => {
                let events_after = self.sim.events_processed();
                self.log.push(Recorded { command, lines_before, events_before, events_after });
                None
            }
            Err(RunError(reason)) => Some(reason),
        };
        CommandOutcome {
            command: text,
            ran: error.is_none(),
            error,
            held,
            failures,
            code: self.error_code.clone(),
            events,
        }
    }

    /// Execute through the scenario runner, as `viewstamp replay` does; the output lines.
    /// Time-taking commands run in slices so standby lag is sampled along the way; the
    /// slices process exactly the events, in the order, the whole command would.
    fn run_command(&mut self, command: &Command) -> (Result<(), RunError>, Vec<String>) {
        let line = Line { number: self.log.len() + 2, command: command.clone() };
        let mut output = Vec::new();
        let mut out = |text: &str| output.push(text.to_string());
        let mut runner = Runner::new(&mut self.sim);
        runner.failed = self.failed;
        runner.error_code = core::mem::take(&mut self.error_code);
        let lag = &mut self.lag;
        let result = match command {
            Command::Tick(ticks) => {
                let until = runner.sim.now() + ticks;
                while runner.sim.now() < until {
                    let next = until.min(runner.sim.now() + SLICE_TICKS);
                    runner.sim.run_until(next);
                    lag.record(runner.sim);
                }
                Ok(())
            }
            Command::Step(count) => {
                for _ in 0..*count {
                    if !runner.sim.step() {
                        break;
                    }
                    lag.record(runner.sim);
                }
                Ok(())
            }
            Command::Until { condition, within_ticks } => {
                // As the runner does it, one tick at a time.
                let deadline = runner.sim.now() + within_ticks;
                loop {
                    let (holds, actual) = match runner.evaluate(condition) {
                        Ok(value) => value,
                        Err(error) => break Err(error),
                    };
                    if holds {
                        break Ok(());
                    }
                    if runner.sim.now() >= deadline {
                        runner.failed = true;
                        runner.flush(&mut out);
                        out(&format!(
                            "line {}: until {condition} did not hold within {within_ticks} ticks ({} is {actual})",
                            line.number, condition.subject
                        ));
                        break Ok(());
                    }
                    let next = runner.sim.now() + 1;
                    runner.sim.run_until(next);
                    lag.record(runner.sim);
                }
            }
            _ => {
                let result = runner.execute_line(&line, &mut out);
                lag.record(runner.sim);
                result
            }
        };
        runner.flush(&mut out);
        self.failed = runner.failed;
        self.error_code = core::mem::take(&mut runner.error_code);
        (result, output)
    }

    /// Each standby's lag over time, oldest first (bounded: older samples thin out).
    pub fn lag_history(&self) -> &[LagSample] {
        self.lag.samples()
    }

    fn keep_lines(&mut self, output: Vec<String>) {
        for line in output {
            if self.lines.len() < EVENTS_MAX {
                self.lines.push(line);
            } else {
                self.lines_dropped += 1;
            }
        }
    }

    /// A condition's value now, without running anything.
    pub fn evaluate(&mut self, condition: &str) -> Result<ConditionValue, String> {
        let condition = viewstamp_core::scenario::parse::parse_condition_text(condition)?;
        let mut runner = Runner::new(&mut self.sim);
        runner.error_code = self.error_code.clone();
        let (holds, value) = runner.evaluate(&condition).map_err(|RunError(reason)| reason)?;
        Ok(ConditionValue { holds, value })
    }

    /// The lines printed since the last call.
    pub fn take_events(&mut self) -> Vec<TraceEvent> {
        let start = self.unread.min(self.lines.len());
        self.unread = self.lines.len();
        self.events(start as u64, self.lines.len() as u64)
    }

    /// The lines `from..to` (clamped to what the session kept).
    pub fn events(&self, from: u64, to: u64) -> Vec<TraceEvent> {
        let to = (to as usize).min(self.lines.len());
        let from = (from as usize).min(to);
        let mut last_time = 0;
        self.lines[from..to]
            .iter()
            .enumerate()
            .map(|(offset, text)| {
                let event = trace_event((from + offset) as u64, text, last_time);
                last_time = event.time;
                event
            })
            .collect()
    }

    /// The lines `from..to` whose kind is one of `kinds`, the newest `limit` of them
    /// (a log filter, or a scan for rare events, without carrying every line to JS).
    pub fn events_of_kinds(&self, from: u64, to: u64, kinds: &[String], limit: usize) -> Vec<TraceEvent> {
        let all = self.events(from, to);
        let mut chosen: Vec<TraceEvent> =
            all.into_iter().rev().filter(|event| kinds.contains(&event.kind)).take(limit).collect();
        chosen.reverse();
        chosen
    }

    /// How many lines the session has kept.
    pub fn event_count(&self) -> u64 {
        self.lines.len() as u64
    }

    /// The session so far as a `.scenario` script: replaying it gives this state and
    /// prints what the session printed. The header is line 1 and command k line k + 1,
    /// as the session's failure lines say.
    pub fn export(&self) -> String {
        export_of(&self.header, self.log.iter().map(|recorded| &recorded.command))
    }

    pub fn digest(&self) -> u64 {
        self.sim.digest()
    }

    /// Client numbers the session's commands used, in order.
    fn clients(&self) -> BTreeSet<ClientId> {
        self.log
            .iter()
            .filter_map(|recorded| match &recorded.command {
                Command::Put { client, .. } | Command::Get { client, .. } => Some(*client),
                _ => None,
            })
            .collect()
    }

    pub fn snapshot(&self) -> Snapshot {
        snapshot::build(self)
    }
}

/// What every session runs with: trace on (the visualizer shows it), the checkers on
/// (it shows violations), and the archive it was given.
fn run_options(archive: &Option<SharedArchive>) -> RunOptions {
    RunOptions { archive: archive.clone(), ..RunOptions::new(true, true) }
}

/// A script: the header, then one command a line.
fn export_of<'a>(header: &Header, commands: impl Iterator<Item = &'a Command>) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{header}");
    for command in commands {
        let _ = writeln!(text, "{command}");
    }
    text
}

/// A printed line as an event: its time (`t=N`; for lines without one, the time of
/// the line before) and its kind.
fn trace_event(index: u64, text: &str, last_time: u64) -> TraceEvent {
    let (time, rest) = match text.strip_prefix("t=").and_then(|rest| rest.split_once(' ')) {
        Some((time, rest)) => (time.parse().unwrap_or(last_time), rest),
        None => (last_time, text),
    };
    let kind = if text.starts_with("violation:") {
        "violation"
    } else if text.starts_with("line ") {
        "failure"
    } else {
        rest.split(' ').next().unwrap_or("")
    };
    TraceEvent { index, time, kind: String::from(kind), text: String::from(text) }
}

#[cfg(test)]
mod tests;
