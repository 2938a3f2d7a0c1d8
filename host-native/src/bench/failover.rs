//! `viewstamp bench failover`: how long writes stop when the primary crashes, is cut
//! off, goes deaf or mute, or sits in a half of a bridged partition, against real processes with the
//! default timers. Each run starts a fresh cluster, applies the fault, and sends a SET
//! every `ATTEMPT_EVERY` through the members that keep a quorum both ways; the figure is
//! the time from the fault to the first `+OK`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::timeout;
use viewstamp_core::types::MemberId;

use super::proxied_cluster::ProxiedCluster;
use crate::cli::{BenchFailoverArgs, FailoverShape};
use crate::error::Error;
use crate::link_proxy::Link;
use crate::node::config::Timers;

/// A new write this often, each on its own connection: the figure's resolution.
const ATTEMPT_EVERY: Duration = Duration::from_millis(50);
/// A run with no write by then is reported as not recovered.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const ALL_SHAPES: [FailoverShape; 6] = [
    FailoverShape::Crash,
    FailoverShape::Stop,
    FailoverShape::Isolated,
    FailoverShape::Deaf,
    FailoverShape::Mute,
    FailoverShape::Bridge,
];

/// The fault of one shape for a cluster whose primary is `primary`.
#[derive(Debug, PartialEq, Eq)]
struct Fault {
    /// Killed rather than cut off.
    kill: bool,
    /// Stopped (SIGTERM) rather than cut off.
    stop: bool,
    blocked: Vec<Link>,
    /// Where clients write: members on the side that keeps a quorum both ways.
    entries: Vec<MemberId>,
}

fn replicas(shape: FailoverShape) -> u8 {
    if shape == FailoverShape::Bridge {
        5
    } else {
        3
    }
}

fn fault(shape: FailoverShape, primary: MemberId, replicas: u8) -> Fault {
    let others: Vec<MemberId> = (0..replicas).filter(|member| *member != primary).collect();
    let into: Vec<Link> = others.iter().map(|other| (*other, primary)).collect();
    let out_of: Vec<Link> = others.iter().map(|other| (primary, *other)).collect();
    match shape {
        FailoverShape::Crash => Fault { kill: true, stop: false, blocked: Vec::new(), entries: others },
        FailoverShape::Stop => Fault { kill: false, stop: true, blocked: Vec::new(), entries: others },
        FailoverShape::Isolated => {
            Fault { kill: false, stop: false, blocked: [into, out_of].concat(), entries: others }
        }
        FailoverShape::Deaf => Fault { kill: false, stop: false, blocked: into, entries: others },
        FailoverShape::Mute => Fault { kill: false, stop: false, blocked: out_of, entries: others },
        FailoverShape::Bridge => {
            // {primary, others[0]} and {others[1], others[2]} lose each other; others[3]
            // reaches everyone. Clients write through the primary's half and the bridge.
            let halves = ([primary, others[0]], [others[1], others[2]]);
            let blocked = halves.0.iter().flat_map(|a| halves.1.iter().flat_map(move |b| [(*a, *b), (*b, *a)]));
            let entries = vec![primary, others[0], others[3]];
            Fault { kill: false, stop: false, blocked: blocked.collect(), entries }
        }
    }
}

/// One run's outcome.
struct Measured {
    shape: FailoverShape,
    run: u32,
    before: (MemberId, u64),
    /// From the fault to the first acknowledged write.
    first_write: Option<Duration>,
    /// The longest wait between acknowledged writes in the observed time after the first.
    longest_gap: Option<Duration>,
    after: Option<(MemberId, u64)>,
    /// What the old primary says of itself at the end.
    old_primary: String,
}

pub fn run(args: &BenchFailoverArgs) -> Result<u8, Error> {
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with --release for representative figures");
    }
    let binary =
        std::env::current_exe().map_err(|error| Error::Bench(format!("cannot find this binary to start: {error}")))?;
    let root = std::env::temp_dir().join(format!("viewstamp-bench-failover-{}", std::process::id()));
    let shapes = if args.shapes.is_empty() { ALL_SHAPES.to_vec() } else { args.shapes.clone() };
    let observe = Duration::from_millis(args.observe_ms);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::Runtime(error.to_string()))?;
    println!(
        "{:<8} {:>3} {:>15} {:>15}  {:<22} old primary now",
        "shape", "run", "first write ms", "longest gap ms", "primary (view)"
    );
    let mut results = Vec::new();
    let mut timers = None;
    for (index, shape) in shapes.iter().enumerate() {
        for run in 1..=args.runs {
            let dir = root.join(format!("{shape:?}-{run}").to_lowercase());
            let cluster_id = 1000 + (index as u64) * 100 + run as u64;
            let measured = runtime.block_on(measure(*shape, run, &binary, &dir, cluster_id, observe, &mut timers))?;
            print_row(&measured);
            if measured.first_write.is_some() {
                let _ = std::fs::remove_dir_all(&dir);
            } else {
                println!("        no write within {} s: the logs are in {}", GIVE_UP_AFTER.as_secs(), dir.display());
            }
            results.push(measured);
        }
    }
    let _ = std::fs::remove_dir(&root);
    print_summary(&results, timers.as_ref(), observe);
    Ok(u8::from(results.iter().any(|measured| measured.first_write.is_none())))
}

async fn measure(
    shape: FailoverShape,
    run: u32,
    binary: &Path,
    dir: &Path,
    cluster_id: u64,
    observe: Duration,
    timers: &mut Option<Timers>,
) -> Result<Measured, Error> {
    let mut cluster = ProxiedCluster::start(binary, dir, replicas(shape), cluster_id).await?;
    timers.get_or_insert_with(|| cluster.timers().clone());
    let before = cluster.wait_ready().await?;
    let fault = fault(shape, before.0, replicas(shape));
    let entries: Vec<String> = fault.entries.iter().map(|member| cluster.client_address(*member)).collect();
    let started = Instant::now();
    if fault.kill {
        cluster.kill(before.0);
    }
    if fault.stop {
        cluster.terminate(before.0);
    }
    cluster.links.set_blocked(fault.blocked);
    let acknowledged = write_until(&entries, started, observe).await;
    let old_primary = match cluster.status(before.0).await {
        _ if fault.kill => String::from("killed"),
        _ if fault.stop => String::from("stopped"),
        Some(status) => format!("{} in view {}", status.state, status.view),
        None => String::from("no answer"),
    };
    Ok(Measured {
        shape,
        run,
        before,
        first_write: acknowledged.first().copied(),
        longest_gap: acknowledged.windows(2).map(|pair| pair[1] - pair[0]).max(),
        after: cluster.primary().await,
        old_primary,
    })
}

/// Writes every `ATTEMPT_EVERY`, round the `entries`, until `observe` after the first
/// acknowledgement (or `GIVE_UP_AFTER`): when each was acknowledged, since `started`.
async fn write_until(entries: &[String], started: Instant, observe: Duration) -> Vec<Duration> {
    let (sender, mut acknowledgements) = mpsc::unbounded_channel();
    // Dropped at the end, which aborts the writes still waiting.
    let mut attempts = JoinSet::new();
    let mut acknowledged = Vec::new();
    let mut ticker = tokio::time::interval(ATTEMPT_EVERY);
    for attempt in 0.. {
        ticker.tick().await;
        while let Ok(at) = acknowledgements.try_recv() {
            acknowledged.push(at);
        }
        acknowledged.sort();
        let elapsed = started.elapsed();
        match acknowledged.first() {
            Some(first) if elapsed > *first + observe => break,
            None if elapsed > GIVE_UP_AFTER => break,
            _ => {}
        }
        let address = entries[attempt % entries.len()].clone();
        let sender = sender.clone();
        attempts.spawn(async move {
            if set(&address, &format!("bench:failover:{attempt}")).await {
                let _ = sender.send(started.elapsed());
            }
        });
    }
    acknowledged
}

/// One SET on a new connection; whether it got `+OK`. The member retries it inside the
/// cluster until it commits (or gives up with an error).
pub async fn set(address: &str, key: &str) -> bool {
    let Ok(address) = address.parse::<SocketAddr>() else { return false };
    let Ok(Ok(mut stream)) = timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await else { return false };
    let request = format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\n1\r\n", key.len());
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut line = String::new();
    let read = BufReader::new(stream).read_line(&mut line).await;
    read.is_ok() && line.starts_with("+OK")
}

fn milliseconds(duration: Option<Duration>) -> String {
    duration.map_or_else(|| String::from("-"), |duration| duration.as_millis().to_string())
}

fn print_row(measured: &Measured) {
    let (before, view) = measured.before;
    let after = measured.after.map_or_else(|| String::from("none"), |(member, view)| format!("{member} ({view})"));
    println!(
        "{:<8} {:>3} {:>15} {:>15}  {:<22} {}",
        format!("{:?}", measured.shape).to_lowercase(),
        measured.run,
        milliseconds(measured.first_write),
        milliseconds(measured.longest_gap),
        format!("{before} ({view}) -> {after}"),
        measured.old_primary
    );
}

fn print_summary(results: &[Measured], timers: Option<&Timers>, observe: Duration) {
    println!();
    if let Some(t) = timers {
        println!(
            "default timers: tick {} ms, heartbeat {} ms, primary timeout {} ms (+ up to {} ms jitter), \
             view change {} ms, quorum timeout {} ms",
            t.tick_ms,
            t.heartbeat_interval_ms,
            t.primary_timeout_ms,
            t.timeout_jitter_ms,
            t.view_change_timeout_ms,
            t.quorum_timeout_ms
        );
    }
    println!(
        "a SET every {} ms on a new connection through the members with a quorum both ways; \
         longest gap: between acknowledged writes over the {} ms after the first",
        ATTEMPT_EVERY.as_millis(),
        observe.as_millis()
    );
    println!(
        "{:<8} {:>8} {:>5} {:>10} {:>10} {:>10} {:>10}",
        "shape", "replicas", "runs", "min ms", "median ms", "max ms", "recovered"
    );
    let mut shapes: Vec<FailoverShape> = results.iter().map(|measured| measured.shape).collect();
    shapes.dedup();
    for shape in shapes {
        let of_shape: Vec<&Measured> = results.iter().filter(|measured| measured.shape == shape).collect();
        let mut times: Vec<Duration> = of_shape.iter().filter_map(|measured| measured.first_write).collect();
        times.sort();
        println!(
            "{:<8} {:>8} {:>5} {:>10} {:>10} {:>10} {:>10}",
            format!("{shape:?}").to_lowercase(),
            replicas(shape),
            of_shape.len(),
            milliseconds(times.first().copied()),
            milliseconds(median(&times)),
            milliseconds(times.last().copied()),
            format!("{}/{}", times.len(), of_shape.len())
        );
    }
}

/// Of sorted durations; the mean of the middle two for an even count.
fn median(sorted: &[Duration]) -> Option<Duration> {
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        odd if odd % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_cuts_what_it_says() {
        let deaf = fault(FailoverShape::Deaf, 1, 3);
        assert_eq!((deaf.kill, deaf.blocked, deaf.entries), (false, vec![(0, 1), (2, 1)], vec![0, 2]));
        let mute = fault(FailoverShape::Mute, 0, 3);
        assert_eq!((mute.blocked, mute.entries), (vec![(0, 1), (0, 2)], vec![1, 2]));
        let isolated = fault(FailoverShape::Isolated, 0, 3);
        assert_eq!(isolated.blocked, vec![(1, 0), (2, 0), (0, 1), (0, 2)]);
        let crash = fault(FailoverShape::Crash, 2, 3);
        assert_eq!((crash.kill, crash.blocked.len(), crash.entries), (true, 0, vec![0, 1]));

        let bridge = fault(FailoverShape::Bridge, 2, 5);
        // Halves {2, 0} and {1, 3}; member 4 is the bridge.
        assert_eq!(bridge.blocked.len(), 8);
        for (a, b) in [(2, 1), (2, 3), (0, 1), (0, 3)] {
            assert!(bridge.blocked.contains(&(a, b)) && bridge.blocked.contains(&(b, a)), "{a} {b}");
        }
        assert!(bridge.blocked.iter().all(|(from, to)| *from != 4 && *to != 4 && from != to));
        assert_eq!(bridge.entries, vec![2, 0, 4]);
    }

    #[test]
    fn medians() {
        let ms = |values: &[u64]| values.iter().map(|value| Duration::from_millis(*value)).collect::<Vec<_>>();
        assert_eq!(median(&[]), None);
        assert_eq!(median(&ms(&[5])), Some(Duration::from_millis(5)));
        assert_eq!(median(&ms(&[1, 2, 9])), Some(Duration::from_millis(2)));
        assert_eq!(median(&ms(&[1, 3, 5, 9])), Some(Duration::from_millis(4)));
    }
}
