//! `viewstamp replay`: run scenario scripts and print what the spec says a run prints,
//! with the core compiled in (native), in wasmtime (wasm), or both, compared.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::time::Duration;

use viewstamp_core::scenario::run::{run_text, RunOptions};
use viewstamp_wasm::replay::{replay as replay_collected, ReplayReport, FLAG_TRACE};

use crate::cli::{Engine, ReplayArgs};
use crate::error::{report, Error};
use crate::wasm_engine::{shared_archive, WasmEngine, WasmError};

/// The exit status of the run: the worst of the scripts' (2 > 1 > 0).
pub fn run(args: &ReplayArgs) -> Result<u8, Error> {
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
    let wasm = match args.engine {
        Engine::Native => None,
        Engine::Wasm | Engine::Both => Some(WasmEngine::shared().map_err(|error| match error {
            WasmError::NotBuilt(reason) => Error::WasmNotBuilt(reason),
            error => Error::Wasm { path: args.files[0].clone(), error },
        })?),
    };

    let trace = !args.quiet;
    let archived = !args.emulated;
    let archive = || archived.then(shared_archive);
    let options = || RunOptions { archive: archive(), ..RunOptions::new(trace, true) };
    let mut out = BufWriter::new(io::stdout().lock());
    let several = scripts.len() > 1;
    let mut worst = 0;
    let mut differences = Vec::new();
    for (path, text) in &scripts {
        if several {
            writeln!(out, "== {}", path.display()).map_err(Error::Output)?;
        }
        let status = match wasm {
            None => replay_text(text, options(), &mut out)?,
            Some(wasm) => {
                let in_wasm = wasm
                    .replay(text.as_bytes(), trace, archived, Duration::from_secs(args.timeout))
                    .map_err(|error| Error::Wasm { path: path.to_path_buf(), error })?;
                // With both, the native run is the one printed: the reference.
                let shown = if args.engine == Engine::Both {
                    let native = replay_collected(text.as_bytes(), if trace { FLAG_TRACE } else { 0 }, archive());
                    if let Some(difference) = first_difference(&native, &in_wasm) {
                        differences.push(Error::EnginesDiffer { path: path.to_path_buf(), difference });
                    }
                    native
                } else {
                    in_wasm
                };
                print_lines(&shown, &mut out)?;
                shown.exit_status
            }
        };
        worst = worst.max(status);
    }
    out.flush().map_err(Error::Output)?;
    differing(differences)?;
    Ok(worst)
}

/// Report every script whose engines differ; the last one is the command's error.
fn differing(mut differences: Vec<Error>) -> Result<(), Error> {
    match differences.pop() {
        None => Ok(()),
        Some(last) => {
            differences.iter().for_each(report);
            Err(last)
        }
    }
}

fn print_lines(report: &ReplayReport, out: &mut impl Write) -> Result<(), Error> {
    for line in &report.lines {
        writeln!(out, "{line}").map_err(Error::Output)?;
    }
    Ok(())
}

/// Run one script natively, writing its output lines to `out` as they come; its exit status.
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

/// Where two runs of one script first differ, in words: the first differing output
/// line (1-based, the digest line included), else the figures the lines do not show.
pub fn first_difference(native: &ReplayReport, wasm: &ReplayReport) -> Option<String> {
    let shown = |line: Option<&String>| line.map_or_else(|| String::from("(no line: the output ended)"), Clone::clone);
    let lines = native.lines.len().max(wasm.lines.len());
    if let Some(index) = (0..lines).find(|index| native.lines.get(*index) != wasm.lines.get(*index)) {
        return Some(format!(
            "engines differ at trace line {}:\n  native: {}\n  wasm:   {}",
            index + 1,
            shown(native.lines.get(index)),
            shown(wasm.lines.get(index))
        ));
    }
    let figures = |r: &ReplayReport| (r.exit_status, r.digest, r.violations, r.events, r.messages_delivered);
    (figures(native) != figures(wasm)).then(|| {
        format!(
            "identical output, but (exit status, digest, violations, events, messages) are {:?} natively and {:?} \
             in wasm",
            figures(native),
            figures(wasm)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(lines: &[&str], digest: u64) -> ReplayReport {
        ReplayReport {
            exit_status: 0,
            digest: Some(digest),
            violations: 0,
            events: 10,
            messages_delivered: 4,
            lines: lines.iter().map(|line| line.to_string()).collect(),
        }
    }

    #[test]
    fn identical_runs_have_no_difference() {
        let run = report(&["t=1 timeout 0", "digest=00000000000000ab violations=0"], 0xab);
        assert_eq!(first_difference(&run, &run.clone()), None);
    }

    #[test]
    fn the_first_differing_line_is_named_with_both_versions() {
        let native = report(&["t=1 timeout 0", "t=2 timeout 1", "t=3 timeout 2"], 1);
        let wasm = report(&["t=1 timeout 0", "t=2 timeout 9", "t=3 timeout 2"], 1);
        let difference = first_difference(&native, &wasm).unwrap();
        assert_eq!(difference, "engines differ at trace line 2:\n  native: t=2 timeout 1\n  wasm:   t=2 timeout 9");
    }

    #[test]
    fn a_shorter_output_or_other_figures_differ_too() {
        let native = report(&["a", "b"], 1);
        let wasm = report(&["a"], 1);
        assert!(first_difference(&native, &wasm).unwrap().contains("line 2:\n  native: b\n  wasm:   (no line"));
        let mut other_digest = native.clone();
        other_digest.digest = Some(2);
        assert!(first_difference(&native, &other_digest).unwrap().starts_with("identical output, but"));
    }
}
