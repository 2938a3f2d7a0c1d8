//! The figures of a run: operations by outcome, faults by kind, and for each kind the
//! longest time without an acknowledged write after the fault began (a benchmark
//! figure, never an assertion).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::nemesis::FaultEvent;
use super::registers::{Call, Outcome};
use super::run::Options;
use super::workload::Record;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub attempted: usize,
    pub acknowledged_writes: usize,
    pub answered_reads: usize,
    pub failed: usize,
    pub unknown: usize,
    pub faults: BTreeMap<String, usize>,
    /// Per fault kind, the longest write stall seen after one, in milliseconds.
    pub longest_stall_ms: BTreeMap<String, u64>,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.attempted += other.attempted;
        self.acknowledged_writes += other.acknowledged_writes;
        self.answered_reads += other.answered_reads;
        self.failed += other.failed;
        self.unknown += other.unknown;
        for (kind, count) in &other.faults {
            *self.faults.entry(kind.clone()).or_default() += count;
        }
        for (kind, stall) in &other.longest_stall_ms {
            let longest = self.longest_stall_ms.entry(kind.clone()).or_default();
            *longest = (*longest).max(*stall);
        }
    }
}

pub fn counts(records: &[Record], events: &[FaultEvent]) -> Counts {
    let mut counts = Counts::default();
    for record in records {
        counts.attempted += 1;
        match (&record.operation.call, &record.operation.outcome) {
            (Call::Write(_), Outcome::Written) => counts.acknowledged_writes += 1,
            (Call::Read, Outcome::Read(_)) => counts.answered_reads += 1,
            (_, Outcome::Failed) => counts.failed += 1,
            _ => counts.unknown += 1,
        }
    }
    let acks = acknowledgement_times(records);
    for (index, event) in events.iter().enumerate() {
        *counts.faults.entry(event.kind.clone()).or_default() += 1;
        let window_end = events.get(index + 1).map_or(u64::MAX, |next| next.started_us);
        let stall = longest_stall(&acks, event.started_us, window_end);
        let longest = counts.longest_stall_ms.entry(event.kind.clone()).or_default();
        *longest = (*longest).max(stall / 1000);
    }
    counts
}

/// When each acknowledged write was acknowledged, sorted.
fn acknowledgement_times(records: &[Record]) -> Vec<u64> {
    let mut acks: Vec<u64> = records
        .iter()
        .filter(|record| record.operation.outcome == Outcome::Written)
        .filter_map(|record| record.operation.completed_at)
        .collect();
    acks.sort_unstable();
    acks
}

/// The longest stretch without an acknowledgement in `acks` (sorted) from `from` on,
/// up to the first one at or after `until`: a stall that outlasts its fault's window
/// is counted whole. With no acknowledgement after `from` at all, the figure is
/// `until - from` (or 0 for the last window).
pub fn longest_stall(acks: &[u64], from: u64, until: u64) -> u64 {
    let mut previous = from;
    let mut longest = 0;
    for &ack in acks.iter().filter(|ack| **ack >= from) {
        longest = longest.max(ack - previous);
        previous = ack;
        if ack >= until {
            return longest;
        }
    }
    if until == u64::MAX {
        longest
    } else {
        longest.max(until - previous)
    }
}

pub fn render(options: &Options, counts: &Counts, events: &[FaultEvent], records: &[Record]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "chaos seed {} plan {} shape {}+{}, {} s, {} clients over {} keys",
        options.seed,
        options.plan.name(),
        options.replicas,
        options.standbys,
        options.duration.as_secs(),
        options.clients,
        options.keys
    );
    let _ = writeln!(text, "{}", render_counts(counts));
    let errors = records.iter().filter(|record| record.error.is_some()).count();
    let _ = writeln!(text, "  {} faults, {errors} client errors", events.len());
    for event in events.iter().filter(|event| event.kind == "upgrade_restart") {
        let _ = writeln!(text, "  {}", restart_figures(event, records));
    }
    text
}

/// A graceful restart (SIGTERM, then the new binary) must cost no write: the member
/// answers everything it read and refuses the rest as not applied, which clients retry
/// elsewhere. Each write invoked in a restart's window that got no `+OK` is a violation.
pub fn restart_write_failures(events: &[FaultEvent], records: &[Record]) -> Vec<String> {
    let mut failures = Vec::new();
    for event in events.iter().filter(|event| event.kind == "upgrade_restart") {
        for record in records.iter().filter(|record| {
            (event.started_us..=event.healed_us).contains(&record.operation.invoked_at)
                && matches!(record.operation.call, Call::Write(_))
                && record.operation.outcome != Outcome::Written
        }) {
            failures.push(format!(
                "a write of client {} to member {} during the restart of {} got no +OK: {}",
                record.operation.client,
                record.member,
                event.detail,
                record.error.as_deref().unwrap_or("no answer")
            ));
        }
    }
    failures
}

/// What clients saw while one member restarted onto the new binary (from its stop to
/// its catching up): the pause (the longest time without an acknowledged write), the
/// writes that got no `+OK` (failed or unknown), and the p99 and worst latency of the
/// operations answered. Figures, not assertions (see `restart_write_failures`).
pub fn restart_figures(event: &FaultEvent, records: &[Record]) -> String {
    let within = |record: &&Record| (event.started_us..=event.healed_us).contains(&record.operation.invoked_at);
    let window: Vec<&Record> = records.iter().filter(within).collect();
    let writes = window.iter().filter(|record| matches!(record.operation.call, Call::Write(_))).count();
    let failed = window
        .iter()
        .filter(|record| {
            matches!(record.operation.call, Call::Write(_)) && record.operation.outcome != Outcome::Written
        })
        .count();
    let mut latencies_us: Vec<u64> =
        window.iter().filter_map(|record| Some(record.operation.completed_at? - record.operation.invoked_at)).collect();
    latencies_us.sort_unstable();
    let p99 = latencies_us.get((latencies_us.len() * 99 / 100).min(latencies_us.len().saturating_sub(1)));
    let worst = latencies_us.last();
    let acks = acknowledgement_times(records);
    let pause = longest_stall(&acks, event.started_us, event.healed_us);
    let ms = |us: Option<&u64>| us.map_or_else(|| "-".to_string(), |us| format!("{:.1} ms", *us as f64 / 1000.0));
    format!(
        "restart of {} onto the new binary: {:.1} s until caught up; pause {:.1} ms; {writes} writes, {failed} \
         without +OK; latency p99 {}, worst {}",
        event.detail,
        (event.healed_us - event.started_us) as f64 / 1e6,
        pause as f64 / 1000.0,
        ms(p99),
        ms(worst)
    )
}

pub fn render_counts(counts: &Counts) -> String {
    let mut text = format!(
        "  ops {} attempted: {} writes acknowledged, {} reads answered, {} failed, {} unknown",
        counts.attempted, counts.acknowledged_writes, counts.answered_reads, counts.failed, counts.unknown
    );
    for (kind, count) in &counts.faults {
        let stall = counts.longest_stall_ms.get(kind).copied().unwrap_or(0);
        let _ = write!(text, "\n  {kind:<28} x{count:<4} longest time without a committed write after it: {stall} ms");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::registers::Operation;

    fn record(call: Call, outcome: Outcome, invoked_at: u64, completed_at: Option<u64>) -> Record {
        let operation = Operation { client: 0, key: "k0".into(), call, outcome, invoked_at, completed_at };
        Record { operation, member: 0, error: None }
    }

    #[test]
    fn restart_figures_count_the_window_of_the_restart() {
        let write = || Call::Write("v".into());
        let records = [
            record(write(), Outcome::Written, 900, Some(1_000)),
            record(write(), Outcome::Written, 1_100, Some(3_100)),
            record(write(), Outcome::Unknown, 1_200, None),
            record(Call::Read, Outcome::Read(None), 1_300, Some(1_400)),
            record(write(), Outcome::Written, 9_000, Some(9_100)),
        ];
        let event = FaultEvent {
            kind: "upgrade_restart".into(),
            started_us: 1_000,
            healed_us: 2_000,
            detail: "member 1".into(),
        };
        let text = restart_figures(&event, &records);
        assert!(text.contains("2 writes, 1 without +OK"), "the write invoked before the stop is not counted: {text}");
        assert!(text.contains("pause 2.1 ms"), "from the stop to the next acknowledgement: {text}");
        assert!(text.contains("worst 2.0 ms"), "{text}");
    }

    #[test]
    fn a_write_without_ok_in_a_restart_window_is_a_violation() {
        let write = || Call::Write("v".into());
        let mut unknown = record(write(), Outcome::Unknown, 1_200, None);
        unknown.error = Some("i/o: connection reset".into());
        let records = [
            record(write(), Outcome::Unknown, 900, None),
            record(write(), Outcome::Written, 1_100, Some(1_300)),
            unknown,
            record(Call::Read, Outcome::Unknown, 1_300, None),
        ];
        let event = FaultEvent {
            kind: "upgrade_restart".into(),
            started_us: 1_000,
            healed_us: 2_000,
            detail: "member 1".into(),
        };
        let failures = restart_write_failures(std::slice::from_ref(&event), &records);
        assert_eq!(failures.len(), 1, "only the write invoked in the window and not acknowledged: {failures:?}");
        assert!(failures[0].contains("connection reset"), "{failures:?}");
        let other = FaultEvent { kind: "kill".into(), ..event };
        assert!(restart_write_failures(&[other], &records).is_empty(), "a kill may cost writes");
    }

    #[test]
    fn the_stall_counts_from_the_fault_to_each_next_ack() {
        let acks = [10, 20, 100, 110, 400];
        assert_eq!(longest_stall(&acks, 15, 105), 80, "15 -> 20, then 20 -> 100, up to 110");
        assert_eq!(longest_stall(&acks, 120, 500), 280);
        assert_eq!(longest_stall(&acks, 120, 300), 280, "the stall outlasting its window counts whole");
        assert_eq!(longest_stall(&acks, 500, 600), 100, "nothing acknowledged in the window");
        assert_eq!(longest_stall(&acks, 500, u64::MAX), 0, "the last window, after the last write");
    }
}
