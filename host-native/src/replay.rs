//! `viewstamp replay`: run scenario scripts and print what the spec says a run prints.

use std::fs;
use std::io::{self, BufWriter, Write};

use viewstamp_core::scenario::run::{run_text, RunOptions};

use crate::cli::{Engine, ReplayArgs};
use crate::error::{report, Error};

/// The exit status of the run: the worst of the scripts' (2 > 1 > 0).
pub fn run(args: &ReplayArgs) -> Result<u8, Error> {
    if args.engine != Engine::Native {
        return Err(Error::WasmEngineNotBuilt);
    }
    // Read every file before running any, so a mistyped name fails at once.
    let mut scripts = Vec::with_capacity(args.files.len());
    let mut unreadable = Vec::new();
    for path in &args.files {
        match fs::read_to_string(path) {
            Ok(text) => scripts.push((path, text)),
            Err(source) => unreadable.push(Error::read_scenario(path, source)),
        }
    }
    if let Some(last) = unreadable.pop() {
        unreadable.iter().for_each(report);
        return Err(last);
    }

    let options = RunOptions { trace: !args.quiet, check: true };
    let mut out = BufWriter::new(io::stdout().lock());
    let several = scripts.len() > 1;
    let mut worst = 0;
    for (path, text) in &scripts {
        if several {
            writeln!(out, "== {}", path.display()).map_err(Error::Output)?;
        }
        worst = worst.max(replay_text(text, options, &mut out)?);
    }
    out.flush().map_err(Error::Output)?;
    Ok(worst)
}

/// Run one script, writing its output lines to `out`; its exit status.
fn replay_text(text: &str, options: RunOptions, out: &mut impl Write) -> Result<u8, Error> {
    let mut failed_write: Option<io::Error> = None;
    let outcome = run_text(text, options, &mut |line: &str| {
        if failed_write.is_none() {
            if let Err(error) = writeln!(out, "{line}") {
                failed_write = Some(error);
            }
        }
    });
    match failed_write {
        Some(error) => Err(Error::Output(error)),
        None => Ok(outcome.exit_status),
    }
}
