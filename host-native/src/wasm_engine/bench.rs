//! `viewstamp bench replay`: one long scenario replayed natively and in wasmtime in
//! the same process; events/s of each and their ratio. Prints figures; fails only if
//! the two engines disagree.

use std::fs;
use std::time::{Duration, Instant};

use viewstamp_core::sim::explore::{generate, ExploreOptions};
use viewstamp_wasm::replay::{replay as replay_native, ReplayReport, FLAG_TRACE};

use super::{WasmEngine, WasmError, DEFAULT_TIMEOUT_SECONDS};
use crate::cli::BenchReplayArgs;
use crate::error::Error;
use crate::replay::first_difference;

/// Each engine runs the script this many times; the fastest run counts.
const REPEATS: usize = 3;

pub fn replay(args: &BenchReplayArgs) -> Result<u8, Error> {
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with --release for representative native figures");
    }
    let (name, script) = match &args.file {
        Some(path) => {
            (path.display().to_string(), fs::read_to_string(path).map_err(|e| Error::read_scenario(path, e))?)
        }
        None => {
            let options = ExploreOptions { rounds: args.rounds, ..ExploreOptions::default() };
            (format!("seed 1, {} rounds, every fault", args.rounds), generate(1, &options).to_string())
        }
    };
    let path = args.file.clone().unwrap_or_else(|| "generated scenario".into());
    let wasm_error = |error| match error {
        WasmError::NotBuilt(reason) => Error::WasmNotBuilt(reason),
        error => Error::Wasm { path: path.clone(), error },
    };
    let compile_started = Instant::now();
    let engine = WasmEngine::shared().map_err(wasm_error)?;
    let compile = compile_started.elapsed();

    println!("scenario: {name}; fastest of {REPEATS} runs; wasm compiled once in {:.0} ms", ms(compile));
    println!("{:<8} {:<7} {:>10} {:>10} {:>14} {:>8}", "output", "engine", "events", "ms", "events/s", "ratio");
    let mut status = 0;
    for (output, trace) in [("quiet", false), ("trace", true)] {
        let flags = if trace { FLAG_TRACE } else { 0 };
        let (native, native_time) =
            fastest(|| Ok(replay_native(script.as_bytes(), flags, Some(super::shared_archive()))))?;
        let (wasm, wasm_time) = fastest(|| {
            engine
                .replay(script.as_bytes(), trace, true, Duration::from_secs(DEFAULT_TIMEOUT_SECONDS))
                .map_err(wasm_error)
        })?;
        let native_rate = native.events as f64 / native_time.as_secs_f64().max(1e-9);
        let wasm_rate = wasm.events as f64 / wasm_time.as_secs_f64().max(1e-9);
        println!(
            "{output:<8} {:<7} {:>10} {:>10.1} {native_rate:>14.0} {:>8}",
            "native",
            native.events,
            ms(native_time),
            "1.00"
        );
        println!(
            "{output:<8} {:<7} {:>10} {:>10.1} {wasm_rate:>14.0} {:>8.2}",
            "wasm",
            wasm.events,
            ms(wasm_time),
            wasm_rate / native_rate
        );
        if let Some(difference) = first_difference(&native, &wasm) {
            eprintln!("error: the engines disagree on the benchmark scenario: {difference}");
            status = 1;
        }
    }
    Ok(status)
}

fn fastest(mut run: impl FnMut() -> Result<ReplayReport, Error>) -> Result<(ReplayReport, Duration), Error> {
    let mut best: Option<(ReplayReport, Duration)> = None;
    for _ in 0..REPEATS {
        let started = Instant::now();
        let report = run()?;
        let elapsed = started.elapsed();
        if best.as_ref().is_none_or(|(_, fastest)| elapsed < *fastest) {
            best = Some((report, elapsed));
        }
    }
    Ok(best.expect("REPEATS is at least 1"))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
