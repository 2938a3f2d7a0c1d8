//! `viewstamp bench`: how fast the simulator runs. Prints figures; asserts nothing.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use viewstamp_core::scenario::run::{run_script, run_text, RunOptions, RunOutcome};
use viewstamp_core::scenario::Script;
use viewstamp_core::sim::explore::{generate, ExploreOptions};

use crate::cli::{BenchArgs, BenchCommand, BenchSimArgs};
use crate::error::Error;

/// The steady load: this many writes, spread over `STEADY_CLIENTS` clients.
const STEADY_PUTS: u64 = 2000;
const STEADY_CLIENTS: u64 = 8;
const STEADY_KEYS: u64 = 64;

pub fn run(args: &BenchArgs) -> Result<u8, Error> {
    match &args.command {
        BenchCommand::Sim(args) => sim(args),
    }
}

/// What one workload cost in one mode.
#[derive(Default)]
struct Measured {
    runs: u64,
    failed: u64,
    events: u64,
    messages: u64,
    elapsed: Duration,
}

impl Measured {
    fn add(&mut self, outcome: &RunOutcome) {
        self.runs += 1;
        self.failed += u64::from(outcome.exit_status != 0);
        self.events += outcome.events;
        self.messages += outcome.messages_delivered;
    }
}

fn sim(args: &BenchSimArgs) -> Result<u8, Error> {
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with --release for representative figures");
    }
    let options = ExploreOptions { rounds: args.rounds, ..ExploreOptions::default() };
    // Generation stays outside the timed part: both modes run the very same scripts.
    let scripts: Vec<Script> = (0..args.seeds).map(|seed| generate(seed, &options)).collect();
    let steady = steady_load_script();

    let mut rows = Vec::new();
    for check in [true, false] {
        let measured = measure(|totals| {
            for script in &scripts {
                totals.add(&run_script(script, RunOptions { trace: false, check }, &mut |_| {}));
            }
        });
        rows.push(("schedules", check, measured));
    }
    for check in [true, false] {
        let measured =
            measure(|totals| totals.add(&run_text(&steady, RunOptions { trace: false, check }, &mut |_| {})));
        rows.push(("steady load", check, measured));
    }

    println!(
        "schedules: seeds 0..{} of {} rounds, every fault; steady load: {STEADY_PUTS} puts from {STEADY_CLIENTS} \
         clients on 3 replicas, no faults",
        args.seeds, args.rounds
    );
    println!("{:<12} {:>8} {:>12} {:>14} {:>12}", "workload", "checkers", "events", "events/s", "ns/message");
    for (workload, check, m) in &rows {
        let seconds = m.elapsed.as_secs_f64().max(1e-9);
        let per_message = match m.messages {
            0 => String::from("-"),
            messages => format!("{:.0}", m.elapsed.as_nanos() as f64 / messages as f64),
        };
        println!(
            "{workload:<12} {:>8} {:>12} {:>14.0} {per_message:>12}",
            if *check { "on" } else { "off" },
            m.events,
            m.events as f64 / seconds,
        );
    }
    for (workload, check, m) in &rows {
        if m.failed > 0 {
            println!(
                "note: {} of {} runs of the {workload} workload failed with the checkers {} (figures still count them; \
                 `viewstamp sim` finds the failing seeds)",
                m.failed,
                m.runs,
                if *check { "on" } else { "off" }
            );
        }
    }
    Ok(0)
}

fn measure(work: impl FnOnce(&mut Measured)) -> Measured {
    let mut measured = Measured::default();
    let started = Instant::now();
    work(&mut measured);
    measured.elapsed = started.elapsed();
    measured
}

/// Three replicas, no faults, `STEADY_PUTS` writes queued by `STEADY_CLIENTS` clients,
/// then wait for every client's last write.
fn steady_load_script() -> String {
    let mut text = String::from("# steady load: clients writing to a healthy cluster\ncluster replicas=3 seed=1\n");
    for put in 0..STEADY_PUTS {
        let client = put % STEADY_CLIENTS + 1;
        let _ = writeln!(text, "put k{} v{put} client={client}", put % STEADY_KEYS);
    }
    for client in 1..=STEADY_CLIENTS {
        let _ = writeln!(text, "until reply[{client}] = ok within {}", STEADY_PUTS * 1000);
    }
    text.push_str("expect violations = 0\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use viewstamp_core::scenario::parse_script;

    #[test]
    fn the_steady_load_script_parses() {
        let script = parse_script(&steady_load_script()).expect("steady load script parses");
        assert_eq!(script.lines.len() as u64, STEADY_PUTS + STEADY_CLIENTS + 1);
    }
}
