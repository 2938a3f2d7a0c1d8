//! The command line, as clap types. Parsing only: each command runs in its own module.

use std::path::PathBuf;

use clap::{value_parser, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use viewstamp_core::release::NEWEST_RELEASE;
use viewstamp_core::sim::explore::{ExploreOptions, FaultMix};

#[derive(Debug, Parser)]
#[command(name = "viewstamp", about = "Viewstamped Replication: scenario replay, fault simulation and benchmarks")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenario scripts and print their trace and final digest.
    Replay(ReplayArgs),
    /// Run random fault schedules with the invariant checkers on; stop at the first failing seed.
    Sim(SimArgs),
    /// Measure the simulator's speed.
    Bench(BenchArgs),
    /// Start a production node (not built yet).
    #[command(hide = true)]
    Start(NotBuiltArgs),
    /// Run a local cluster with the visualizer (not built yet).
    #[command(hide = true)]
    Dev(NotBuiltArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// The core compiled into this binary.
    Native,
    /// The core compiled to WebAssembly, run in wasmtime.
    Wasm,
    /// Both engines, comparing their output.
    Both,
}

#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 when every script's expectations held and no invariant broke, 1 otherwise, \
2 for a script that does not parse or a run that could not finish. With --engine both, output that differs \
between the engines (trace, digest or exit status) is reported as an error naming the first differing trace \
line, and exits 2.")]
pub struct ReplayArgs {
    /// Which build of the core runs the scripts: native, wasm (the core compiled to
    /// wasm32, run in wasmtime), or both (fails unless their outputs are identical).
    #[arg(long, value_enum, default_value_t = Engine::Native)]
    pub engine: Engine,
    /// The wasm engine's time limit per script, in seconds: a script still running
    /// then stops with an error.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::wasm_engine::DEFAULT_TIMEOUT_SECONDS,
          value_parser = value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Print only failure lines and the digest line (no event trace).
    #[arg(long, short)]
    pub quiet: bool,
    /// Scenario files (`.scenario`) to run, in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// How many seeds to run.
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub start: u64,
    /// Active replicas (1 to 7).
    #[arg(long, value_name = "R", default_value_t = ExploreOptions::default().replicas,
          value_parser = value_parser!(u8).range(1..=7))]
    pub replicas: u8,
    /// Standbys (0 to 6).
    #[arg(long, value_name = "M", default_value_t = ExploreOptions::default().standbys,
          value_parser = value_parser!(u8).range(0..=6))]
    pub standbys: u8,
    /// Faults to inject: `all`, `none`, or a comma-separated list of
    /// crash, partition, block, loss, dup, delay, corrupt, upgrade.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_faults)]
    pub faults: FaultMix,
    /// Rounds of client load and faults before the liveness phase.
    #[arg(long, value_name = "K", default_value_t = ExploreOptions::default().rounds)]
    pub rounds: u32,
    /// Directory for the failing seed's script [default: ./viewstamp-failures].
    #[arg(long, value_name = "DIR")]
    pub emit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simulated events/s and ns per delivered message, with the checkers on and off.
    Sim(BenchSimArgs),
    /// One long scenario replayed natively and in wasmtime: events/s and their ratio.
    Replay(BenchReplayArgs),
}

#[derive(Debug, Args)]
pub struct BenchReplayArgs {
    /// Rounds of load and faults in the generated scenario (seed 1, every fault).
    #[arg(long, value_name = "K", default_value_t = 3000, value_parser = value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Replay this scenario file instead of the generated one.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchSimArgs {
    /// How many generated schedules (seeds 0..N) to run in each mode.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// Rounds of client load and faults in each schedule.
    #[arg(long, value_name = "K", default_value_t = ExploreOptions::default().rounds)]
    pub rounds: u32,
}

#[derive(Debug, Args)]
pub struct NotBuiltArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

fn parse_faults(text: &str) -> Result<FaultMix, String> {
    FaultMix::parse(text)
}

/// `0.1.0 (runs releases up to 1.3.0)`: clap prints it after the program name.
pub fn version() -> String {
    format!("{} (runs releases up to {NEWEST_RELEASE})", env!("CARGO_PKG_VERSION"))
}

/// Parse the process's arguments; on a usage error clap prints it and exits with status 2.
pub fn parse() -> Cli {
    let matches = Cli::command().version(version()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

/// The `--faults` value that selects exactly `mix`.
pub fn faults_text(mix: &FaultMix) -> String {
    if *mix == FaultMix::default() {
        return String::from("all");
    }
    let flags = [
        mix.crash,
        mix.partition,
        mix.block,
        mix.loss,
        mix.duplication,
        mix.delay,
        mix.corrupt,
        mix.upgrade,
        mix.promote,
    ];
    let names: Vec<&str> = FaultMix::NAMES.iter().zip(flags).filter(|(_, on)| *on).map(|(name, _)| *name).collect();
    if names.is_empty() {
        String::from("none")
    } else {
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().version(version()).debug_assert();
    }

    #[test]
    fn faults_text_reads_back() {
        for text in ["all", "none", "crash", "crash,partition", "loss,dup,delay", "corrupt,upgrade"] {
            let mix = FaultMix::parse(text).unwrap();
            assert_eq!(FaultMix::parse(&faults_text(&mix)).unwrap(), mix, "{text}");
        }
    }
}
