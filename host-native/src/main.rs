//! `viewstamp`: run cluster members (`start`, `format`, `dev`), operate them (`status`,
//! `upgrade`, `promote`), replay scenario scripts, explore random fault schedules, and
//! measure.

mod admin_cli;
mod bench;
mod cli;
mod dev;
mod error;
#[cfg(test)]
mod golden_tests;
mod link_proxy;
mod node;
mod replay;
mod sim_cmd;
mod wasm_engine;

use std::process::ExitCode;

use cli::Command;
use error::Error;

fn main() -> ExitCode {
    let cli = cli::parse();
    let result = match &cli.command {
        Command::Replay(args) => replay::run(args),
        Command::Sim(args) => sim_cmd::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Start(args) => start(args),
        Command::Format(args) => format(args),
        Command::Dev(args) => dev::run(args),
        Command::Status(args) => admin_cli::run_status(args).map_err(Error::Admin),
        Command::Upgrade(args) => admin_cli::run_upgrade(args).map_err(Error::Admin),
        Command::Promote(args) => admin_cli::run_promote(args).map_err(Error::Admin),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            error::report(&error);
            ExitCode::from(error.exit_status())
        }
    }
}

/// Logs go to stderr, quiet unless RUST_LOG asks for more.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // No colour codes in files and journals.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
}

fn overrides(
    data_dir: &Option<std::path::PathBuf>,
    binary_release: Option<viewstamp_core::release::Release>,
) -> node::config::Overrides {
    node::config::Overrides { data_dir: data_dir.clone(), binary_release, ..Default::default() }
}

fn start(args: &cli::StartArgs) -> Result<u8, Error> {
    init_logging();
    let mut overrides = overrides(&args.member.data_dir, args.binary_release);
    overrides.client_address = args.client_address.clone();
    overrides.admin_address = args.admin_address.clone();
    overrides.peer_listen = args.peer_listen.clone();
    node::launch::start(node::launch::StartOptions {
        config_path: args.member.config.clone(),
        member: args.member.member,
        overrides,
        fail_after_bytes: args.fail_after_bytes,
        emulated: args.emulated,
    })?;
    Ok(0)
}

fn format(args: &cli::FormatArgs) -> Result<u8, Error> {
    let member = &args.member;
    let config =
        node::launch::load_config(&member.config, member.member, &overrides(&member.data_dir, args.binary_release))?;
    let dir = node::launch::format_member(&config, member.member as u8, args.recover)?;
    if args.recover {
        println!(
            "formatted {} for member {}: it will rebuild its data from its peers when started",
            dir.display(),
            member.member,
        );
    } else {
        println!(
            "formatted {} for member {} of cluster {} at release {}",
            dir.display(),
            member.member,
            config.cluster_id,
            config.binary_release
        );
    }
    Ok(0)
}
