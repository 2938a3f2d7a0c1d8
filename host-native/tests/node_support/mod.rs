//! A cluster of real `viewstamp start` processes on loopback, for the node tests.
//! Every child is killed when the cluster is dropped, pass or fail.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_viewstamp");

pub struct Ports {
    pub peer: u16,
    pub client: u16,
    pub admin: u16,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub ports: Vec<Ports>,
    children: Vec<Option<Child>>,
}

/// `count` distinct free ports: the listeners are held until all are chosen, so the
/// system cannot hand one out twice.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
}

impl Cluster {
    /// Writes the cluster file (fast timers) and formats every member at `release`.
    pub fn format(replicas: u8, standbys: u8, release: Option<&str>) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let count = replicas + standbys;
        let free = free_ports(3 * count as usize);
        let ports: Vec<Ports> =
            free.chunks(3).map(|three| Ports { peer: three[0], client: three[1], admin: three[2] }).collect();
        let mut text = String::from(
            "cluster_id = 42\n\n[timers]\ntick_ms = 5\nheartbeat_interval_ms = 50\nprimary_timeout_ms = 500\n\
             timeout_jitter_ms = 200\nview_change_timeout_ms = 800\n\n",
        );
        for (id, port) in ports.iter().enumerate() {
            let role = if (id as u8) < replicas { "active" } else { "standby" };
            text.push_str(&format!(
                "[[members]]\nid = {id}\naddress = \"127.0.0.1:{}\"\nclient_address = \"127.0.0.1:{}\"\n\
                 admin_address = \"127.0.0.1:{}\"\nrole = \"{role}\"\n\n",
                port.peer, port.client, port.admin
            ));
        }
        let config = dir.path().join("cluster.toml");
        std::fs::write(&config, text).unwrap();
        let cluster = Cluster { dir, config, ports, children: (0..count).map(|_| None).collect() };
        for member in 0..count {
            let mut command = cluster.command("format", member);
            if let Some(release) = release {
                command.args(["--binary-release", release]);
            }
            let output = command.output().unwrap();
            assert!(output.status.success(), "format {member}: {}", String::from_utf8_lossy(&output.stderr));
        }
        cluster
    }

    fn command(&self, subcommand: &str, member: u8) -> Command {
        let mut command = Command::new(BIN);
        command.arg(subcommand).arg("--config").arg(&self.config).args(["--member", &member.to_string()]);
        command
    }

    pub fn data_dir(&self, member: u8) -> PathBuf {
        self.dir.path().join(format!("data/member-{member}"))
    }

    pub fn log_path(&self, member: u8) -> PathBuf {
        self.dir.path().join(format!("member-{member}.log"))
    }

    pub fn log(&self, member: u8) -> String {
        std::fs::read_to_string(self.log_path(member)).unwrap_or_default()
    }

    pub fn start_with(&mut self, member: u8, extra: &[&str]) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path(member)).unwrap();
        let child = self
            .command("start", member)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children[member as usize] = Some(child);
    }

    pub fn start(&mut self, member: u8, release: Option<&str>) {
        match release {
            Some(release) => self.start_with(member, &["--binary-release", release]),
            None => self.start_with(member, &[]),
        }
    }

    pub fn start_all(&mut self, release: Option<&str>) {
        for member in 0..self.ports.len() as u8 {
            self.start(member, release);
        }
    }

    pub fn kill(&mut self, member: u8) {
        if let Some(mut child) = self.children[member as usize].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, without waiting for the member to exit (see `wait_exit`).
    pub fn terminate(&self, member: u8) {
        let child = self.children[member as usize].as_ref().expect("member running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }

    /// SIGTERM, and wait for a clean exit.
    pub fn stop(&mut self, member: u8) -> ExitStatus {
        let mut child = self.children[member as usize].take().expect("member running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "member {member} did not stop on SIGTERM:\n{}", self.log(member));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_exit(&mut self, member: u8, timeout: Duration) -> ExitStatus {
        let mut child = self.children[member as usize].take().expect("member running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "member {member} kept running:\n{}", self.log(member));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client_address(&self, member: u8) -> String {
        format!("127.0.0.1:{}", self.ports[member as usize].client)
    }

    pub fn status(&self, member: u8) -> Option<Value> {
        let (code, body) = http(self.ports[member as usize].admin, "GET", "/status").ok()?;
        (code == 200).then(|| serde_json::from_str(&body).ok()).flatten()
    }

    pub fn primary(&self) -> Option<u8> {
        (0..self.ports.len() as u8).find(|member| self.status(*member).is_some_and(|s| s["is_primary"] == true))
    }

    /// Polls `check` until it holds; panics with `what` and the logs after `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Cluster) -> bool) {
        let deadline = Instant::now() + timeout;
        while !check(self) {
            if Instant::now() > deadline {
                let logs: Vec<String> = (0..self.ports.len() as u8)
                    .map(|m| {
                        let status = self.status(m).map(|s| {
                            format!(
                                "status={} view={} op={} commit={} primary={}",
                                s["status"], s["view"], s["op"], s["commit"], s["is_primary"]
                            )
                        });
                        format!("--- member {m}: {status:?}\n{}", self.log(m))
                    })
                    .collect();
                panic!("timed out waiting for {what}\n{}", logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `member` is in normal status with a commit at least `leader`'s.
    pub fn wait_caught_up(&self, member: u8, leader: u8, what: &str) {
        self.wait_until(what, Duration::from_secs(40), |c| {
            let commit = c.status(leader).and_then(|s| s["commit"].as_u64()).unwrap_or(u64::MAX);
            c.status(member).is_some_and(|s| s["status"] == "normal" && s["commit"].as_u64() >= Some(commit))
        });
    }

    pub fn wait_for_primary(&self) -> u8 {
        let mut found = None;
        self.wait_until("a primary", Duration::from_secs(30), |cluster| {
            found = cluster.primary();
            found.is_some()
        });
        found.unwrap()
    }

    /// Sends `arguments` to `member` until it answers without an error.
    pub fn command_until_ok(&self, member: u8, arguments: &[&str], timeout: Duration) -> Reply {
        let deadline = Instant::now() + timeout;
        loop {
            match resp(&self.client_address(member), arguments) {
                Ok(reply) if !reply.is_error() => return reply,
                outcome if Instant::now() > deadline => panic!("{arguments:?} at member {member}: {outcome:?}"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for member in 0..self.children.len() as u8 {
            self.kill(member);
        }
    }
}

/// One HTTP request; the status code and body.
pub fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let code = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    Ok((code, body))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    pub fn text(&self) -> String {
        match self {
            Reply::Status(text) | Reply::Error(text) => text.clone(),
            Reply::Integer(n) => n.to_string(),
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            Reply::Bulk(None) => String::from("(nil)"),
            Reply::Array(items) => items.iter().map(Reply::text).collect::<Vec<_>>().join(","),
        }
    }
}

/// A RESP connection.
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    pub fn open(address: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Connection { reader: BufReader::new(stream) })
    }

    pub fn call(&mut self, arguments: &[&str]) -> std::io::Result<Reply> {
        let mut request = format!("*{}\r\n", arguments.len()).into_bytes();
        for argument in arguments {
            request.extend_from_slice(format!("${}\r\n{argument}\r\n", argument.len()).as_bytes());
        }
        self.reader.get_mut().write_all(&request)?;
        read_reply(&mut self.reader)
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    pub fn read(&mut self) -> std::io::Result<Reply> {
        read_reply(&mut self.reader)
    }
}

pub fn resp(address: &str, arguments: &[&str]) -> std::io::Result<Reply> {
    Connection::open(address)?.call(arguments)
}

fn read_reply(reader: &mut BufReader<TcpStream>) -> std::io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad reply line {line:?}"));
    match kind {
        "+" => Ok(Reply::Status(rest.to_string())),
        "-" => Ok(Reply::Error(rest.to_string())),
        ":" => Ok(Reply::Integer(rest.parse().map_err(|_| bad())?)),
        "$" => {
            let length: i64 = rest.parse().map_err(|_| bad())?;
            if length < 0 {
                return Ok(Reply::Bulk(None));
            }
            let mut bytes = vec![0; length as usize + 2];
            reader.read_exact(&mut bytes)?;
            bytes.truncate(length as usize);
            Ok(Reply::Bulk(Some(bytes)))
        }
        "*" => {
            let count: i64 = rest.parse().map_err(|_| bad())?;
            (0..count.max(0)).map(|_| read_reply(reader)).collect::<Result<_, _>>().map(Reply::Array)
        }
        _ => Err(bad()),
    }
}

/// Every file of a directory with its bytes, to show nothing was written.
pub fn directory_contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).unwrap_or_default())
        })
        .collect();
    files.sort();
    files
}

/// Writers that keep setting distinct keys through `member`, retrying each write until
/// it is acknowledged; they return the keys acknowledged and how many writes failed
/// for good (none may).
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Load {
    pub fn start(addresses: Vec<String>, writers: usize) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..writers)
            .map(|writer| {
                let stop = stop.clone();
                let addresses = addresses.clone();
                std::thread::spawn(move || {
                    let mut acknowledged = Vec::new();
                    let mut attempt = writer;
                    let mut connection: Option<Connection> = None;
                    let mut index = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let key = format!("w{writer}-{index}");
                        // The same SET again is harmless, so a write is retried until acknowledged.
                        let deadline = Instant::now() + Duration::from_secs(40);
                        loop {
                            assert!(Instant::now() < deadline, "write {key} never succeeded");
                            if connection.is_none() {
                                attempt += 1;
                                connection = Connection::open(&addresses[attempt % addresses.len()]).ok();
                            }
                            let outcome = connection.as_mut().map(|c| c.call(&["SET", &key, &key]));
                            match outcome {
                                Some(Ok(Reply::Status(status))) if status == "OK" => break,
                                Some(Ok(_)) => std::thread::sleep(Duration::from_millis(20)),
                                _ => {
                                    connection = None;
                                    std::thread::sleep(Duration::from_millis(20));
                                }
                            }
                        }
                        acknowledged.push(key);
                        index += 1;
                    }
                    acknowledged
                })
            })
            .collect();
        Load { stop, threads }
    }

    pub fn finish(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads.into_iter().flat_map(|thread| thread.join().expect("a writer failed")).collect()
    }
}
