//! Scrubbing: `seek` moves back and forth over the whole run without losing its end,
//! as a video player's scrubber does. The run as it was before the first seek (its
//! commands, output and checkpoints) is kept aside as the timeline; the session is
//! rebuilt at any point of it from the nearest checkpoint. A new command while the
//! session is not at the timeline's end starts a new branch: the rest is dropped.
//!
//! `peek` shows what the next ticks would print, on a copy, changing nothing.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use viewstamp_core::scenario::run::Runner;
use viewstamp_core::scenario::{Command, Line};

use super::travel::Checkpoints;
use super::{trace_event, Recorded, Session, TraceEvent};

/// The whole run while the session shows an earlier point of it.
pub(super) struct Timeline {
    log: Vec<Recorded>,
    lines: Vec<String>,
    checkpoints: Checkpoints,
    /// The leading commands the session's log shares with the timeline's.
    shared_commands: usize,
}

/// The most ticks `peek` looks ahead (a bound on the work one call does).
pub const PEEK_TICKS_MAX: u64 = 10_000;

impl Session {
    /// Output lines of the whole run: the timeline's while the session shows an
    /// earlier point, else the session's own.
    pub fn timeline_length(&self) -> u64 {
        self.ahead.as_ref().map_or(self.lines.len(), |timeline| timeline.lines.len()) as u64
    }

    /// The whole run as a script (the session's own export when it is at the end).
    pub fn timeline_export(&self) -> String {
        match &self.ahead {
            None => self.export(),
            Some(timeline) => super::export_of(&self.header, timeline.log.iter().map(|recorded| &recorded.command)),
        }
    }

    /// Show the state right after output line `keep - 1` of the whole run (`0`: the
    /// start), earlier or later than now; the number of lines kept. `export` gives
    /// that state; the run's end stays reachable until a new command runs.
    pub fn seek(&mut self, keep: u64) -> Result<u64, String> {
        let total = self.timeline_length();
        if keep > total {
            return Err(alloc::format!("there is no event {keep}: the run has {total} events"));
        }
        if self.ahead.is_none() && keep == total {
            return Ok(total);
        }
        let keep = keep as usize;
        let mut timeline = self.ahead.take().unwrap_or_else(|| Timeline {
            log: core::mem::take(&mut self.log),
            lines: core::mem::take(&mut self.lines),
            checkpoints: core::mem::take(&mut self.checkpoints),
            shared_commands: 0,
        });
        let total = timeline.lines.len();
        let log = &timeline.log;
        let target = match keep {
            0 => None,
            _ => log.iter().rposition(|recorded| recorded.lines_before < keep),
        };
        let full_commands = target.unwrap_or(0);

        // From the nearest checkpoint, else from the header.
        let start = match timeline.checkpoints.latest_through(full_commands) {
            Some((start, lines, sim, failed, error_code)) => {
                self.sim = sim;
                self.failed = failed;
                self.error_code = error_code;
                self.lines = timeline.lines[..lines].to_vec();
                start
            }
            None => {
                self.sim = self.fresh_simulator()?;
                self.failed = false;
                self.error_code = String::from("none");
                self.lines = Vec::new();
                0
            }
        };
        self.log = log[..start].to_vec();
        self.lag.forget_after(self.sim.now());
        // No checkpoints while re-running: the timeline has them.
        self.checkpoints = Checkpoints::suspended();
        for recorded in &log[start..full_commands] {
            self.apply(recorded.command.clone());
        }
        if let Some(index) = target {
            let lines_after = log.get(index + 1).map_or(total, |next| next.lines_before);
            self.replay_up_to(&log[index], keep, lines_after);
        }
        self.unread = self.unread.min(self.lines.len());
        self.lines_dropped = 0;
        if self.log.len() == timeline.log.len() && self.lines.len() == total {
            // Back at the end: the session is the whole run again.
            self.checkpoints = timeline.checkpoints;
        } else {
            timeline.shared_commands = full_commands;
            self.ahead = Some(timeline);
        }
        Ok(self.lines.len() as u64)
    }

    /// Before a command that changes the run: drop what is ahead, keeping the
    /// checkpoints of the part the session shares with it.
    pub(super) fn branch(&mut self) {
        if let Some(mut timeline) = self.ahead.take() {
            timeline.checkpoints.keep_through(timeline.shared_commands);
            self.checkpoints = timeline.checkpoints;
        }
    }

    /// What the next `ticks` ticks would print (at most [`PEEK_TICKS_MAX`]), run on a
    /// copy of the simulator: the session does not change.
    pub fn peek(&self, ticks: u64) -> Vec<TraceEvent> {
        let mut sim = self.sim.clone();
        let mut output = Vec::new();
        let mut runner = Runner::new(&mut sim);
        let line = Line { number: 0, command: Command::Tick(ticks.clamp(1, PEEK_TICKS_MAX)) };
        let _ = runner.execute_line(&line, &mut |text: &str| output.push(text.to_string()));
        runner.flush(&mut |text: &str| output.push(text.to_string()));
        let first = self.lines.len() as u64;
        let mut last_time = self.sim.now();
        output
            .iter()
            .enumerate()
            .map(|(offset, text)| {
                let event = trace_event(first + offset as u64, text, last_time);
                last_time = event.time;
                event
            })
            .collect()
    }
}
