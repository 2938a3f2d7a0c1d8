//! The command line, as clap types. Parsing only: each command runs in its own module.

use std::path::PathBuf;

use clap::{value_parser, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use viewstamp_core::release::{Release, NEWEST_RELEASE};
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
    /// Measure the simulator's speed, and failover against real processes.
    Bench(BenchArgs),
    /// Run a local cluster (3 replicas and a standby) with the visualizer; Ctrl-C stops it.
    Dev(DevArgs),
    /// Create a member's data directory (once, before its first start).
    Format(FormatArgs),
    /// Run one member of a cluster described by a TOML file.
    Start(StartArgs),
    /// Show every member's role, view, op, releases, flags and standby lag.
    Status(crate::admin_cli::StatusArgs),
    /// Propose, cancel or automate a cluster release upgrade.
    Upgrade(crate::admin_cli::UpgradeArgs),
    /// Promote a standby to an active replica through a committed reconfiguration.
    Promote(crate::admin_cli::PromoteArgs),
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
    /// Have the current code act as every release, archived ones too. By default a
    /// member whose binary is an archived release (releases/, today 1.3.0) runs that
    /// release's real code, in wasmtime, as the spec asks of a build that carries it.
    #[arg(long)]
    pub emulated: bool,
    /// What runs by default (kept for scripts that ask for it by name).
    #[arg(long, hide = true, conflicts_with = "emulated")]
    pub archived: bool,
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
    /// crash, partition, block, loss, dup, delay, corrupt (damaged entries), upgrade
    /// (restarts onto other binaries, operator upgrade commands), promote (standbys
    /// promoted, dead replicas replaced, long partitions while that is pending), disk
    /// (a whole disk lost, then recovered through the protocol as `format --recover`).
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_faults)]
    pub faults: FaultMix,
    /// Rounds of client load and faults before the liveness phase.
    #[arg(long, value_name = "K", default_value_t = ExploreOptions::default().rounds)]
    pub rounds: u32,
    /// Directory for the failing seed's script [default: ./viewstamp-failures].
    #[arg(long, value_name = "DIR")]
    pub emit: Option<PathBuf>,
    /// Have the current code act as every release, archived ones too. By default a
    /// member whose binary is an archived release (releases/, today 1.3.0) runs that
    /// release's real code, in wasmtime, as the spec asks of a build that carries it.
    #[arg(long)]
    pub emulated: bool,
    /// What runs by default (kept for scripts that ask for it by name).
    #[arg(long, hide = true, conflicts_with = "emulated")]
    pub archived: bool,
    /// Print every seed's trace, as `viewstamp replay` prints a script's: how to read
    /// a seed whose script cannot replay it (one with a disk loss).
    #[arg(long)]
    pub trace: bool,
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
    /// Real `viewstamp start` processes behind link proxies, default timers: how long
    /// writes stop after the primary crashes, is cut off, goes deaf or mute, or a bridge forms.
    Failover(BenchFailoverArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Each run formats a fresh cluster in a temporary directory, waits for a primary, applies \
the fault and sends a SET every 50 ms through the members that keep a quorum both ways. Exit status 1 when some \
run took no write within 60 s (its logs are kept and named); the figures are printed either way.")]
pub struct BenchFailoverArgs {
    /// Runs of each shape.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = value_parser!(u32).range(1..))]
    pub runs: u32,
    /// The fault shapes to run, comma-separated [default: all].
    #[arg(long, value_enum, value_name = "LIST", value_delimiter = ',')]
    pub shapes: Vec<FailoverShape>,
    /// After the first write, keep writing this long and report the longest gap between writes.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub observe_ms: u64,
}

/// How the primary is cut off in `bench failover`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum FailoverShape {
    /// The primary's process is killed (SIGKILL).
    Crash,
    /// The primary is stopped (SIGTERM), as for a restart: it hands over first.
    Stop,
    /// Every link into and out of the primary is blocked: a partition leaves it alone.
    Isolated,
    /// Every link into the primary is blocked; it can still send.
    Deaf,
    /// Every link out of the primary is blocked; it can still hear.
    Mute,
    /// 5 replicas: the primary and one backup cannot reach two others either way; a fifth reaches all.
    Bridge,
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
#[command(after_help = "Stops on Ctrl-C or SIGTERM after finishing the writes in hand. Logs go to stderr; \
set RUST_LOG=info (or debug) for more. Exit status 3: the binary is older than the cluster's release.")]
pub struct StartArgs {
    #[command(flatten)]
    pub member: MemberArgs,
    /// Overrides the file's client (RESP) address for this member.
    #[arg(long, value_name = "HOST:PORT")]
    pub client_address: Option<String>,
    /// Overrides the file's admin (HTTP) address for this member.
    #[arg(long, value_name = "HOST:PORT")]
    pub admin_address: Option<String>,
    /// Listen for peers here instead of the file's address, which peers still dial: for a
    /// member behind a proxy or a port mapping (as Docker's `-p`).
    #[arg(long, value_name = "HOST:PORT")]
    pub peer_listen: Option<String>,
    /// Run as a binary of this older release: a release this binary carries in its
    /// archive (`viewstamp version` lists them; today 1.3.0) runs that release's real
    /// code, in wasmtime; an older one has the current code act as it (for staged
    /// rollouts and tests).
    #[arg(long, value_name = "RELEASE", value_parser = parse_release)]
    pub binary_release: Option<Release>,
    /// With --binary-release of an archived release: the current code acts as it
    /// instead of running its real code.
    #[arg(long, requires = "binary_release")]
    pub emulated: bool,
    /// Fault injection for tests: storage fails as a full disk once this many bytes are written.
    #[arg(long, value_name = "BYTES", hide = true)]
    pub fail_after_bytes: Option<u64>,
}

/// Which member of which cluster file: shared by `start` and `format`.
#[derive(Debug, Args)]
pub struct MemberArgs {
    /// The cluster file.
    #[arg(long, value_name = "FILE", default_value = "cluster.toml")]
    pub config: PathBuf,
    /// Which member of the file (its `id`).
    #[arg(long, value_name = "N")]
    pub member: u64,
    /// Overrides the file's data directory for this member.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    #[command(flatten)]
    pub member: MemberArgs,
    /// The member lost its data: it rebuilds it from its peers before taking part.
    #[arg(long)]
    pub recover: bool,
    /// The release a new cluster starts at (default: this binary's newest).
    #[arg(long, value_name = "RELEASE", value_parser = parse_release)]
    pub binary_release: Option<Release>,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where the cluster file, data and logs go. An existing cluster there is restarted.
    #[arg(long, value_name = "DIR", default_value = "viewstamp-dev")]
    pub dir: PathBuf,
    /// Delete the cluster in --dir first and format a new one.
    #[arg(long)]
    pub fresh: bool,
    /// Active replicas.
    #[arg(long, default_value_t = 3, value_parser = value_parser!(u8).range(1..=7))]
    pub replicas: u8,
    /// Standbys.
    #[arg(long, default_value_t = 1, value_parser = value_parser!(u8).range(0..=6))]
    pub standbys: u8,
    /// Client (RESP) port of member 0; member N listens on this + N.
    #[arg(long, default_value_t = 6380)]
    pub client_port: u16,
    /// The visualizer's HTTP port (0: do not serve it).
    #[arg(long, default_value_t = 8080)]
    pub web_port: u16,
    /// The visualizer's files [default: the web-visualizer directory of this source tree].
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// Start every member as a binary of this release (then upgrade them one by one).
    #[arg(long, value_name = "RELEASE", value_parser = parse_release)]
    pub binary_release: Option<Release>,
}

fn parse_release(text: &str) -> Result<Release, String> {
    text.parse::<Release>().map_err(|error| error.to_string())
}

fn parse_faults(text: &str) -> Result<FaultMix, String> {
    FaultMix::parse(text)
}

/// `0.1.0 (runs releases up to 1.4.0; carries the real code of 1.3.0)`: clap prints it
/// after the program name.
pub fn version() -> String {
    let archived: Vec<String> =
        crate::wasm_engine::archive::ARCHIVED.iter().map(|(release, _)| release.to_string()).collect();
    format!(
        "{} (runs releases up to {NEWEST_RELEASE}; carries the real code of {})",
        env!("CARGO_PKG_VERSION"),
        archived.join(", ")
    )
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
        mix.disk,
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
        for text in ["all", "none", "crash", "crash,partition", "loss,dup,delay", "corrupt,upgrade", "crash,disk"] {
            let mix = FaultMix::parse(text).unwrap();
            assert_eq!(FaultMix::parse(&faults_text(&mix)).unwrap(), mix, "{text}");
        }
    }
}
