//! Each member's status, view and role over the run, sampled from its admin API into
//! `timeline.txt`, a line per change: what explains a stall after the fact (which
//! member was primary, which view change went round, who was down).

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant};

use super::admin;

const SAMPLE_EVERY: Duration = Duration::from_millis(50);

pub struct Timeline {
    stop: Arc<AtomicBool>,
    samplers: Vec<JoinHandle<()>>,
}

impl Timeline {
    /// One sampler per member (a paused member's admin API blocks only its own).
    pub fn start(path: &Path, admins: Vec<SocketAddr>, start: Instant) -> Result<Timeline, String> {
        let file = File::create(path).map_err(|error| format!("cannot create {}: {error}", path.display()))?;
        let file = Arc::new(Mutex::new(file));
        let stop = Arc::new(AtomicBool::new(false));
        let samplers = admins
            .into_iter()
            .enumerate()
            .map(|(id, address)| {
                let (file, stop) = (file.clone(), stop.clone());
                std::thread::spawn(move || sample(id, address, start, &file, &stop))
            })
            .collect();
        Ok(Timeline { stop, samplers })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for sampler in std::mem::take(&mut self.samplers) {
            let _ = sampler.join();
        }
    }
}

impl Drop for Timeline {
    /// A run that ends early (an error) stops its samplers too.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn sample(id: usize, address: SocketAddr, start: Instant, file: &Mutex<File>, stop: &AtomicBool) {
    let mut last = String::new();
    while !stop.load(Ordering::Relaxed) {
        let state = match admin::status(address) {
            Ok(status) => format!(
                "{} view {}{} commit {}",
                status.status,
                status.view,
                if status.is_primary { " primary" } else { "" },
                status.commit
            ),
            Err(_) => String::from("unreachable"),
        };
        // The commit number moves all the time; a line is worth writing when the rest does.
        let key = state.rsplit_once(" commit ").map_or(state.as_str(), |(rest, _)| rest).to_string();
        if key != last {
            let at = start.elapsed().as_secs_f64();
            if let Ok(mut file) = file.lock() {
                let _ = writeln!(file, "{at:>10.3} s  member {id}: {state}");
            }
            last = key;
        }
        sleep(SAMPLE_EVERY);
    }
}
