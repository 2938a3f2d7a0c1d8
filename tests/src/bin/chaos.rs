//! `chaos`: the real-process fault test by hand or in CI. See `scripts/chaos.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use viewstamp_tests::chaos::report::{render_counts, Counts};
use viewstamp_tests::chaos::run::{self, Options, Plan};

const USAGE: &str = "\
usage: chaos [--seed N] [--seeds COUNT] [--duration 60s|30m] [--plan faults|upgrade|promotion|all]
             [--shape 3+1|5+2] [--clients N] [--keys N] [--viewstamp PATH] [--dir DIR] [--keep] [--ci]

Runs real `viewstamp start` processes under client load while a nemesis kills, pauses,
partitions and damages them, then checks the clients' history is linearizable and that
nothing acknowledged was lost. --ci is three fixed-seed runs of a minute each (faults,
upgrade, promotion). --seeds runs COUNT runs with seeds N, N+1, ...; --plan all cycles
the plans. Exit status 0 when every run passed, 1 when some run failed (its files are
kept and its rerun command printed), 2 for bad arguments or a run that could not start.";

struct Args {
    seed: u64,
    seeds: u64,
    duration: Duration,
    plans: Vec<Plan>,
    shape: (u64, u64),
    clients: u32,
    keys: usize,
    viewstamp: PathBuf,
    dir: PathBuf,
    keep: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let value: u64 = number.parse().map_err(|_| format!("--duration {text}: expected a number with s, m or h"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        "h" => Ok(Duration::from_secs(value * 3600)),
        _ => Err(format!("--duration {text}: the unit is s, m or h")),
    }
}

fn parse_args() -> Result<Args, String> {
    let exe_dir = std::env::current_exe().ok().and_then(|path| path.parent().map(PathBuf::from)).unwrap_or_default();
    let now_seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |since| since.as_secs());
    let mut args = Args {
        seed: now_seed,
        seeds: 1,
        duration: Duration::from_secs(60),
        plans: Plan::ALL.to_vec(),
        shape: (3, 1),
        clients: 10,
        keys: 8,
        viewstamp: exe_dir.join("viewstamp"),
        dir: std::env::temp_dir().join(format!("viewstamp-chaos-{}", std::process::id())),
        keep: false,
    };
    let mut ci = false;
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let mut value = || words.next().ok_or_else(|| format!("{word} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|_| format!("{word} {text}: not a number"));
        match word.as_str() {
            "--seed" => args.seed = number(value()?)?,
            "--seeds" => args.seeds = number(value()?)?.max(1),
            "--duration" => args.duration = parse_duration(&value()?)?,
            "--plan" => {
                let text = value()?;
                args.plans =
                    match text.as_str() {
                        "all" => Plan::ALL.to_vec(),
                        name => vec![Plan::parse(name)
                            .ok_or_else(|| format!("--plan {name}: faults, upgrade, promotion or all"))?],
                    }
            }
            "--shape" => {
                let text = value()?;
                let (replicas, standbys) =
                    text.split_once('+').ok_or_else(|| format!("--shape {text}: R+S, like 3+1"))?;
                args.shape = (number(replicas.into())?, number(standbys.into())?);
                if !(3..=7).contains(&args.shape.0) || args.shape.1 > 3 {
                    return Err(format!("--shape {text}: 3 to 7 replicas and up to 3 standbys"));
                }
            }
            "--clients" => args.clients = number(value()?)? as u32,
            "--keys" => args.keys = number(value()?)?.max(1) as usize,
            "--viewstamp" => args.viewstamp = PathBuf::from(value()?),
            "--dir" => args.dir = PathBuf::from(value()?),
            "--keep" => args.keep = true,
            "--ci" => ci = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if ci {
        args.seed = 1;
        args.seeds = 3;
        args.duration = Duration::from_secs(55);
        args.plans = Plan::ALL.to_vec();
    }
    if !args.viewstamp.is_file() {
        return Err(format!(
            "{} is not a viewstamp binary: build it, or pass --viewstamp PATH",
            args.viewstamp.display()
        ));
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) if error.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("chaos: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut total = Counts::default();
    let mut failed = Vec::new();
    for index in 0..args.seeds {
        let seed = args.seed + index;
        let plan = args.plans[index as usize % args.plans.len()];
        let options = Options {
            binary: args.viewstamp.clone(),
            dir: args.dir.join(format!("seed-{seed}-{}", plan.name())),
            seed,
            plan,
            duration: args.duration,
            replicas: args.shape.0,
            standbys: args.shape.1,
            clients: args.clients,
            keys: args.keys,
            // The real 1.3.0 code (the binary's archive) rolled to the current code.
            upgrade_from: "1.3.0".into(),
            keep: args.keep,
        };
        println!("== chaos run {}/{}: {}", index + 1, args.seeds, run::rerun_command(&options));
        match run::run(&options) {
            Ok(outcome) => {
                print!("{}", outcome.summary);
                println!("{}", if outcome.passed { "passed" } else { "FAILED" });
                total.add(&outcome.counts);
                if !outcome.passed {
                    failed.push(run::rerun_command(&options));
                }
            }
            Err(error) => {
                eprintln!("chaos: the run could not start: {error}");
                return ExitCode::from(2);
            }
        }
    }
    if args.seeds > 1 {
        println!("== all {} runs\n{}", args.seeds, render_counts(&total));
    }
    if failed.is_empty() {
        let _ = std::fs::remove_dir(&args.dir);
        println!("chaos: {} run(s) passed", args.seeds);
        ExitCode::SUCCESS
    } else {
        println!("chaos: {} of {} run(s) FAILED; rerun with:", failed.len(), args.seeds);
        for command in failed {
            println!("  {command}");
        }
        ExitCode::from(1)
    }
}
