//! `viewstamp bench`: how fast the simulator runs, and how long real processes take to
//! fail over (`failover`). Prints figures; asserts nothing.

mod failover;
mod proxied_cluster;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use viewstamp_core::scenario::parse_script;
use viewstamp_core::scenario::run::{run_script, run_text, simulator_for, RunOptions, RunOutcome, Runner};
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
        BenchCommand::Replay(args) => crate::wasm_engine::bench::replay(args),
        BenchCommand::Failover(args) => failover::run(args),
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
                totals.add(&run_script(script, RunOptions::new(false, check), &mut |_| {}));
            }
        });
        rows.push(("schedules", check, measured));
    }
    for check in [true, false] {
        let measured = measure(|totals| totals.add(&run_text(&steady, RunOptions::new(false, check), &mut |_| {})));
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
    batching();
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

/// Clients and writes per client of the batching workload.
const BATCH_CLIENTS: u64 = 64;
const BATCH_PUTS_PER_CLIENT: u64 = 20;

/// Committed client ops per prepare and per simulated second, with the cluster held
/// at 1.1.0 (no `batched_prepares`) and at 1.2.0 (batched), under the same load.
fn batching() {
    println!();
    println!(
        "batched_prepares: {BATCH_CLIENTS} clients x {BATCH_PUTS_PER_CLIENT} writes on 3 replicas, no faults, \
         upgrades held off"
    );
    println!(
        "{:<10} {:>10} {:>10} {:>14} {:>16}",
        "release", "client ops", "prepares", "ops/prepare", "ops/sim second"
    );
    for release in ["1.1.0", "1.2.0"] {
        let text = batching_script(release);
        let script = match parse_script(&text) {
            Ok(script) => script,
            Err(error) => {
                println!("{release:<10} the workload did not parse: {error}");
                continue;
            }
        };
        let options = RunOptions::new(false, false);
        let mut sim = match simulator_for(&script.header, options) {
            Ok(sim) => sim,
            Err(error) => {
                println!("{release:<10} {error}");
                continue;
            }
        };
        let mut failed = false;
        {
            let mut runner = Runner::new(&mut sim);
            for line in &script.lines {
                if runner.execute_line(line, &mut |_| {}).is_err() {
                    failed = true;
                    break;
                }
            }
            failed |= runner.failed;
        }
        let client_ops = BATCH_CLIENTS * BATCH_PUTS_PER_CLIENT;
        // One prepare per committed op, less the operator's `upgrade auto=off`.
        let prepares = sim.primary().and_then(|p| sim.replica(p)).map_or(0, |r| r.commit()).saturating_sub(1);
        let seconds = sim.now() as f64 * 0.01;
        println!(
            "{release:<10} {client_ops:>10} {prepares:>10} {:>14.2} {:>16.0}{}",
            client_ops as f64 / prepares.max(1) as f64,
            client_ops as f64 / seconds.max(1e-9),
            if failed { "  (the run failed: figures are not comparable)" } else { "" }
        );
    }
}

fn batching_script(release: &str) -> String {
    let mut text = format!("cluster replicas=3 seed=3 binary=1.3.0 release={release}\nupgrade auto=off\n");
    for round in 0..BATCH_PUTS_PER_CLIENT {
        for client in 1..=BATCH_CLIENTS {
            let _ = writeln!(text, "put k{client} v{round} client={client}");
        }
    }
    for client in 1..=BATCH_CLIENTS {
        let _ = writeln!(text, "until reply[{client}] = ok within 100000");
    }
    text
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

    #[test]
    fn the_steady_load_script_parses() {
        let script = parse_script(&steady_load_script()).expect("steady load script parses");
        assert_eq!(script.lines.len() as u64, STEADY_PUTS + STEADY_CLIENTS + 1);
    }

    #[test]
    fn the_batching_scripts_parse() {
        for release in ["1.1.0", "1.2.0"] {
            let script = parse_script(&batching_script(release)).expect("batching script parses");
            assert_eq!(script.lines.len() as u64, 1 + BATCH_CLIENTS * (BATCH_PUTS_PER_CLIENT + 1));
        }
    }
}
