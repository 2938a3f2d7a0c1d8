//! `viewstamp`: replay scenario scripts, explore random fault schedules, and measure
//! the simulator. Production nodes (`start`, `dev`, `status`, `upgrade`, `promote`)
//! come later.

mod bench;
mod cli;
mod error;
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
        Command::Start(_) => Err(Error::NotBuilt("start")),
        Command::Dev(_) => Err(Error::NotBuilt("dev")),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            error::report(&error);
            ExitCode::from(error.exit_status())
        }
    }
}
