//! The clients: each a thread holding one RESP connection to a member it picked at
//! random, sending writes of unique values and reads over a small key set, and moving
//! to another member after an error, as an application behind a Redis client would.
//! Every operation is recorded with its invocation and completion times.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::registers::{Call, Operation, Outcome};
use super::resp::{Reply, RespClient};
use super::rng::Rng;

pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longer than the node's own give-up time, so that a stuck request is answered by the
/// node (TRYAGAIN) rather than abandoned by the client.
pub const IO_TIMEOUT: Duration = Duration::from_secs(12);
/// A client that has done this many ops on one member picks another.
const OPS_PER_CONNECTION: u64 = 40;
/// Tries of one command answered "not applied", each on another member.
const NOT_APPLIED_ATTEMPTS_MAX: usize = 3;

/// One recorded operation and where it went.
#[derive(Clone, Debug)]
pub struct Record {
    pub operation: Operation,
    pub member: u64,
    /// The error text a client saw, or the I/O error.
    pub error: Option<String>,
}

/// The history, shared by every client; times are microseconds since `start`.
#[derive(Clone)]
pub struct History {
    pub start: Instant,
    records: Arc<Mutex<Vec<Record>>>,
}

impl History {
    pub fn new(start: Instant) -> Self {
        Self { start, records: Arc::new(Mutex::new(Vec::new())) }
    }
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
    pub fn push(&self, record: Record) {
        self.records.lock().expect("history lock").push(record);
    }
    /// Writes invoked after `since_us` and acknowledged.
    pub fn acknowledged_writes_invoked_after(&self, since_us: u64) -> usize {
        let records = self.records.lock().expect("history lock");
        records
            .iter()
            .filter(|record| record.operation.outcome == Outcome::Written)
            .filter(|record| record.operation.invoked_at > since_us)
            .count()
    }
    pub fn len(&self) -> usize {
        self.records.lock().expect("history lock").len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().expect("history lock").clone()
    }
}

pub struct Workload {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<()>>,
}

pub fn keys(count: usize) -> Vec<String> {
    (0..count).map(|key| format!("k{key}")).collect()
}

impl Workload {
    /// `members()` says where clients may connect now (the members of the current
    /// configuration); it is asked at every reconnect.
    pub fn start(
        clients: u32,
        keys: Vec<String>,
        members: Arc<Mutex<Vec<(u64, SocketAddr)>>>,
        history: History,
        rng: &mut Rng,
    ) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..clients)
            .map(|client| {
                let mut client_rng = rng.fork(u64::from(client));
                let (stop, keys, members, history) = (stop.clone(), keys.clone(), members.clone(), history.clone());
                thread::Builder::new()
                    .name(format!("client {client}"))
                    .spawn(move || run_client(client, &keys, &members, &history, &mut client_rng, &stop))
                    .expect("spawn a client thread")
            })
            .collect();
        Workload { stop, clients: handles }
    }

    /// Lets every client finish the operation in hand.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for client in self.clients {
            let _ = client.join();
        }
    }
}

fn run_client(
    client: u32,
    keys: &[String],
    members: &Mutex<Vec<(u64, SocketAddr)>>,
    history: &History,
    rng: &mut Rng,
    stop: &AtomicBool,
) {
    let mut connection: Option<(u64, RespClient, u64)> = None;
    let mut written = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if connection.as_ref().is_none_or(|(_, _, used)| *used >= OPS_PER_CONNECTION) {
            let choices = members.lock().expect("members lock").clone();
            let &(member, address) = rng.pick(&choices);
            match RespClient::connect(address, CONNECT_TIMEOUT, IO_TIMEOUT) {
                Ok(resp) => connection = Some((member, resp, 0)),
                Err(_) => {
                    connection = None;
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            }
        }
        let (member, resp, used) = connection.as_mut().expect("connected above");
        *used += 1;
        let key = rng.pick(keys).clone();
        let call = if rng.percent(50) {
            written += 1;
            Call::Write(format!("c{client}-{written}"))
        } else {
            Call::Read
        };
        let invoked_at = history.now_us();
        let send = |resp: &mut RespClient| match &call {
            Call::Write(value) => resp.command(&[b"SET", key.as_bytes(), value.as_bytes()]),
            Call::Read => resp.command(&[b"GET", key.as_bytes()]),
        };
        let (mut outcome, mut error) = classify(&call, send(resp));
        // Certainly not applied ("retry on another member": a member stopping, cut off
        // or full): as a careful client does, the same command goes to another member,
        // still one operation from its first invocation.
        for _ in 1..NOT_APPLIED_ATTEMPTS_MAX {
            if outcome != Outcome::Failed || stop.load(Ordering::SeqCst) {
                break;
            }
            let choices: Vec<(u64, SocketAddr)> =
                members.lock().expect("members lock").iter().copied().filter(|(id, _)| id != member).collect();
            let Some(&(other, address)) = choices.get(rng.below(choices.len().max(1) as u64) as usize) else { break };
            let Ok(mut retry) = RespClient::connect(address, CONNECT_TIMEOUT, IO_TIMEOUT) else { break };
            *member = other;
            (outcome, error) = classify(&call, send(&mut retry));
            *resp = retry;
            *used = 0;
        }
        let completed_at = history.now_us();
        let drop_connection = error.is_some();
        history.push(Record {
            operation: Operation {
                client,
                key,
                call,
                completed_at: (outcome != Outcome::Unknown).then_some(completed_at),
                outcome,
                invoked_at,
            },
            member: *member,
            error,
        });
        if drop_connection {
            connection = None;
            thread::sleep(Duration::from_millis(rng.between(10, 100)));
        }
    }
}

/// What the client learned from an answer. Only an error that says so makes a write
/// certainly not applied; anything else that is not `+OK` may have been.
pub fn classify(call: &Call, answer: std::io::Result<Reply>) -> (Outcome, Option<String>) {
    match (call, answer) {
        (Call::Write(_), Ok(Reply::Simple(text))) if text == "OK" => (Outcome::Written, None),
        (Call::Read, Ok(Reply::Bulk(value))) => match value.map(String::from_utf8) {
            None => (Outcome::Read(None), None),
            Some(Ok(value)) => (Outcome::Read(Some(value)), None),
            Some(Err(_)) => (Outcome::Read(Some("\u{0}not utf-8".into())), None),
        },
        (_, Ok(Reply::Error(text))) if text.contains("not applied") => (Outcome::Failed, Some(text)),
        (_, Ok(Reply::Error(text))) => (Outcome::Unknown, Some(text)),
        (_, Ok(other)) => (Outcome::Unknown, Some(format!("unexpected reply {other:?}"))),
        (_, Err(error)) => (Outcome::Unknown, Some(format!("i/o: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ok_acknowledges_and_only_not_applied_fails() {
        let write = Call::Write("v".into());
        assert_eq!(classify(&write, Ok(Reply::Simple("OK".into()))).0, Outcome::Written);
        assert_eq!(
            classify(&write, Ok(Reply::Error("TRYAGAIN may or may not have been applied".into()))).0,
            Outcome::Unknown
        );
        assert_eq!(
            classify(&write, Ok(Reply::Error("ERR queue full: the command was not applied".into()))).0,
            Outcome::Failed
        );
        assert_eq!(classify(&write, Err(std::io::ErrorKind::TimedOut.into())).0, Outcome::Unknown);
        assert_eq!(classify(&write, Ok(Reply::Bulk(None))).0, Outcome::Unknown);
        assert_eq!(classify(&Call::Read, Ok(Reply::Bulk(Some(b"x".to_vec())))).0, Outcome::Read(Some("x".into())));
        assert_eq!(classify(&Call::Read, Ok(Reply::Bulk(None))).0, Outcome::Read(None));
    }
}
