//! Time travel: back to the state right after any earlier output line, so the
//! visualizer can scrub.
//!
//! The session re-runs its command log, the last command cut short with `step k` where
//! the target falls inside it (`tick`, `until` and `step` process events in one
//! order, so their first k events are `step k`). It starts from the nearest checkpoint
//! (a copy of the simulator taken every few thousand events, at command boundaries)
//! or, when the simulator cannot be copied, from the header.

use alloc::string::String;
use alloc::vec::Vec;

use viewstamp_core::scenario::Command;
use viewstamp_core::sim::Simulator;

use super::{Recorded, Session};

/// Events between checkpoints at first; doubled each time the list fills.
const CHECKPOINT_EVERY_EVENTS: u64 = 2_000;
/// The most checkpoints kept: past it every other one goes.
const CHECKPOINTS_MAX: usize = 64;

/// A copy of the session's state before command `command_index` ran.
struct Checkpoint {
    command_index: usize,
    lines: usize,
    events: u64,
    sim: Simulator,
    failed: bool,
    error_code: String,
}

pub(super) struct Checkpoints {
    list: Vec<Checkpoint>,
    every_events: u64,
}

impl Default for Checkpoints {
    fn default() -> Self {
        Checkpoints { list: Vec::new(), every_events: CHECKPOINT_EVERY_EVENTS }
    }
}

impl Checkpoints {
    /// Take a checkpoint before command `command_index` if enough events passed.
    pub(super) fn maybe_take(
        &mut self,
        sim: &Simulator,
        command_index: usize,
        lines: usize,
        failed: bool,
        error_code: &str,
    ) {
        let last_events = self.list.last().map_or(0, |checkpoint| checkpoint.events);
        if sim.events_processed() < last_events.saturating_add(self.every_events) {
            return;
        }
        let Some(copy) = copy_of(sim) else { return };
        if self.list.len() >= CHECKPOINTS_MAX {
            let mut index = 0;
            self.list.retain(|_| {
                index += 1;
                index % 2 == 1
            });
            self.every_events *= 2;
        }
        let events = sim.events_processed();
        let error_code = String::from(error_code);
        self.list.push(Checkpoint { command_index, lines, events, sim: copy, failed, error_code });
    }
}

impl Checkpoints {
    /// Takes none (while a seek re-runs commands the timeline has checkpoints for).
    pub(super) fn suspended() -> Self {
        Checkpoints { list: Vec::new(), every_events: u64::MAX }
    }

    /// A copy of the newest checkpoint before command `command_index` or earlier: the
    /// command it is before, the output lines then, the simulator, `failed`, the code.
    pub(super) fn latest_through(&self, command_index: usize) -> Option<(usize, usize, Simulator, bool, String)> {
        let checkpoint = self.list.iter().rev().find(|checkpoint| checkpoint.command_index <= command_index)?;
        let sim = copy_of(&checkpoint.sim)?;
        Some((checkpoint.command_index, checkpoint.lines, sim, checkpoint.failed, checkpoint.error_code.clone()))
    }

    /// Drop the checkpoints after command `command_index`.
    pub(super) fn keep_through(&mut self, command_index: usize) {
        self.list.retain(|checkpoint| checkpoint.command_index <= command_index);
        if self.every_events == u64::MAX {
            self.every_events = CHECKPOINT_EVERY_EVENTS;
        }
    }
}

#[cfg(test)]
impl Checkpoints {
    pub(super) fn count(&self) -> usize {
        self.list.len()
    }
}

/// Whether checkpoints are possible: the core's `Simulator` is `Clone`.
#[cfg(test)]
pub(super) fn can_checkpoint(sim: &Simulator) -> bool {
    copy_of(sim).is_some()
}

/// A copy of the simulator if it is `Clone`, else `None`, decided at compile time
/// (autoref specialization): checkpoints turn on by themselves once the core's
/// `Simulator` derives `Clone`, and travel replays from the header until then.
// The borrow picks the fallback when `Clone` is missing: clippy cannot see that.
#[allow(clippy::needless_borrow)]
fn copy_of(sim: &Simulator) -> Option<Simulator> {
    #[allow(unused_imports)]
    use probe::{Probe, ViaClone as _, ViaNothing as _};
    (&Probe(sim)).copy()
}

// One of the two paths is dead code, whichever way the core goes.
#[allow(dead_code)]
mod probe {
    pub struct Probe<'a, T>(pub &'a T);

    pub trait ViaClone<T> {
        fn copy(&self) -> Option<T>;
    }
    impl<T: Clone> ViaClone<T> for Probe<'_, T> {
        fn copy(&self) -> Option<T> {
            Some(self.0.clone())
        }
    }

    pub trait ViaNothing<T> {
        fn copy(&self) -> Option<T>;
    }
    impl<T> ViaNothing<T> for &Probe<'_, T> {
        fn copy(&self) -> Option<T> {
            None
        }
    }
}

impl Session {
    /// Go back to the state right after output line `keep - 1` was printed (`0`: the
    /// start). Lines printed by the same event as that line stay too; the command log
    /// is cut to match, so `export` gives this state. The number of lines kept.
    pub fn travel(&mut self, keep: u64) -> Result<u64, String> {
        self.branch();
        let total = self.lines.len();
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        if keep > total {
            return Err(alloc::format!("there is no event {keep}: the session has {total} events so far"));
        }
        if keep == total {
            return Ok(total as u64);
        }
        let lines_after = |log: &[Recorded], index: usize| log.get(index + 1).map_or(total, |next| next.lines_before);
        // The command that printed line `keep - 1`.
        let target = match keep {
            0 => None,
            _ => self.log.iter().rposition(|recorded| recorded.lines_before < keep),
        };
        // Commands before the target run whole; so do all of them for keep == 0: none.
        let full_commands = target.unwrap_or(0);
        let old_log = core::mem::take(&mut self.log);
        let start = self.restore(full_commands)?;
        self.log = old_log[..start].to_vec();
        for recorded in &old_log[start..full_commands] {
            self.apply(recorded.command.clone());
        }
        if let Some(index) = target {
            self.replay_up_to(&old_log[index], keep, lines_after(&old_log, index));
        }
        self.unread = self.unread.min(self.lines.len());
        self.lines_dropped = 0;
        Ok(self.lines.len() as u64)
    }

    /// Bring back the state before command `command_index`, from the nearest
    /// checkpoint at or before it, else from the header; the index of the command
    /// the state is before (the caller re-runs the commands from there).
    fn restore(&mut self, command_index: usize) -> Result<usize, String> {
        let checkpoints = &mut self.checkpoints.list;
        checkpoints.retain(|checkpoint| checkpoint.command_index <= command_index);
        let base = checkpoints.last().and_then(|checkpoint| Some((checkpoint, copy_of(&checkpoint.sim)?)));
        let (start, lines) = match base {
            Some((checkpoint, sim)) => {
                self.sim = sim;
                self.failed = checkpoint.failed;
                self.error_code = checkpoint.error_code.clone();
                (checkpoint.command_index, checkpoint.lines)
            }
            None => {
                self.sim = self.fresh_simulator()?;
                self.failed = false;
                self.error_code = String::from("none");
                self.checkpoints.list.clear();
                (0, 0)
            }
        };
        self.lines.truncate(lines);
        self.lag.forget_after(self.sim.now());
        Ok(start)
    }

    /// Process single events until `keep` lines exist (or `events_max` events ran),
    /// recording them as one `step k`.
    pub(super) fn step_until_lines(&mut self, keep: usize, events_max: u64) {
        let lines_before = self.lines.len();
        let events_before = self.sim.events_processed();
        let mut steps = 0;
        while self.lines.len() < keep && steps < events_max {
            let (_, output) = self.run_command(&Command::Step(1));
            self.keep_lines(output);
            steps += 1;
        }
        if steps > 0 {
            let events_after = self.sim.events_processed();
            self.log.push(Recorded { command: Command::Step(steps), lines_before, events_before, events_after });
        }
    }
}

impl Session {
    /// Replays `recorded`, whole when `keep` reaches past its events (or it cannot be
    /// cut), else only until the session holds `keep` trace lines.
    pub(super) fn replay_up_to(&mut self, recorded: &Recorded, keep: usize, lines_after: usize) {
        let whole = keep >= lines_after
            || !matches!(recorded.command, Command::Tick(_) | Command::Step(_) | Command::Until { .. });
        if whole {
            self.apply(recorded.command.clone());
        } else {
            self.step_until_lines(keep, recorded.events_after - recorded.events_before);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::probe::{Probe, ViaClone as _, ViaNothing as _};

    struct NotClone;

    #[test]
    #[allow(clippy::needless_borrow)]
    fn the_probe_copies_exactly_what_is_clone() {
        assert_eq!((&Probe(&7u32)).copy(), Some(7));
        assert!((&Probe(&NotClone)).copy().is_none());
    }
}
