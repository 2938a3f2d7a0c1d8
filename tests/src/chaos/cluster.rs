//! The cluster under test: real `viewstamp` processes on loopback, each with its own
//! cluster file (whose peer addresses are that member's link proxies), its own data
//! directory (on a size-limited tmpfs when this machine can mount one) and its own log.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::admin::{self, MemberStatus};
use super::fullfs::Tmpfs;
use super::proxy::Proxies;

/// Room for a few minutes of writes and a checkpoint; small, so that filling it is quick.
const DATA_FS_BYTES: u64 = 256 << 20;
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Active,
    Standby,
}

pub struct Member {
    pub id: u64,
    pub role: Role,
    pub peer_listen: SocketAddr,
    pub client: SocketAddr,
    pub admin: SocketAddr,
    pub dir: PathBuf,
    child: Option<Child>,
    tmpfs: Option<Tmpfs>,
    /// What this process runs as: `None` is the binary's own release.
    pub binary_release: Option<String>,
    /// Set while stopped with SIGSTOP.
    pub paused: bool,
}

impl Member {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("cluster.toml")
    }
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("member.log")
    }
    pub fn tmpfs(&self) -> Option<&Tmpfs> {
        self.tmpfs.as_ref()
    }
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

pub struct Cluster {
    pub binary: PathBuf,
    pub dir: PathBuf,
    pub cluster_id: u64,
    pub members: Vec<Member>,
    pub proxies: Proxies,
    /// Processes that ended without being told to, with how.
    pub exited: Vec<(u64, ExitStatus)>,
}

/// Held until the proxies have their ports, so that no two listeners get the same one.
fn reserve_port(held: &mut Vec<TcpListener>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    held.push(listener);
    Ok(address)
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> String {
    move |error| format!("cannot {what}: {error}")
}

impl Cluster {
    /// Lays out `replicas` active members and `standbys` standbys in `dir`, formats
    /// them (as `binary_release` when given) and starts none of them.
    pub fn create(
        binary: &Path,
        dir: &Path,
        cluster_id: u64,
        replicas: u64,
        standbys: u64,
        binary_release: Option<&str>,
        use_tmpfs: bool,
    ) -> Result<Cluster, String> {
        fs::create_dir_all(dir).map_err(io_error(format!("create {}", dir.display())))?;
        let mut members = Vec::new();
        let mut held = Vec::new();
        for id in 0..replicas + standbys {
            let member_dir = dir.join(format!("member-{id}"));
            fs::create_dir_all(member_dir.join("data"))
                .map_err(io_error(format!("create {}", member_dir.display())))?;
            let tmpfs = if use_tmpfs {
                Some(Tmpfs::mount(&member_dir.join("data"), DATA_FS_BYTES).map_err(|error| error.to_string())?)
            } else {
                None
            };
            let mut port = || reserve_port(&mut held).map_err(io_error("find a free loopback port".into()));
            let (peer_listen, client, admin) = (port()?, port()?, port()?);
            members.push(Member {
                id,
                role: if id < replicas { Role::Active } else { Role::Standby },
                peer_listen,
                client,
                admin,
                dir: member_dir,
                child: None,
                tmpfs,
                binary_release: binary_release.map(str::to_string),
                paused: false,
            });
        }
        let upstream: BTreeMap<u64, SocketAddr> =
            members.iter().map(|member| (member.id, member.peer_listen)).collect();
        let proxies = Proxies::start(&upstream).map_err(io_error("start the link proxies".into()))?;
        drop(held);
        let cluster = Cluster {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            cluster_id,
            members,
            proxies,
            exited: Vec::new(),
        };
        for member in &cluster.members {
            let path = member.config_path();
            fs::write(&path, cluster.config_for(member.id)).map_err(io_error(format!("write {}", path.display())))?;
            let mut format = Command::new(&cluster.binary);
            format.arg("format").arg("--config").arg(&path).args(["--member", &member.id.to_string()]);
            if let Some(release) = binary_release {
                format.args(["--binary-release", release]);
            }
            let output = format.output().map_err(io_error(format!("run {}", cluster.binary.display())))?;
            if !output.status.success() {
                return Err(format!(
                    "viewstamp format of member {} failed: {}",
                    member.id,
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
        Ok(cluster)
    }

    /// Member `id`'s own cluster file: every other member's peer address is the proxy
    /// of the link from `id` to it.
    fn config_for(&self, id: u64) -> String {
        let mut text = format!("# Written by the chaos test for member {id}.\ncluster_id = {}\n", self.cluster_id);
        for member in &self.members {
            let address = if member.id == id { member.peer_listen } else { self.proxies.address(id, member.id) };
            let role = match member.role {
                Role::Active => "active",
                Role::Standby => "standby",
            };
            let _ = write!(
                text,
                "\n[[members]]\nid = {}\naddress = \"{address}\"\nclient_address = \"{}\"\nadmin_address = \"{}\"\nrole = \"{role}\"\ndata_dir = \"{}\"\n",
                member.id,
                member.client,
                member.admin,
                member.data_dir().display(),
            );
        }
        text
    }

    pub fn member(&self, id: u64) -> &Member {
        &self.members[id as usize]
    }

    pub fn start(&mut self, id: u64) -> Result<(), String> {
        let binary = self.binary.clone();
        let member = &mut self.members[id as usize];
        assert!(member.child.is_none(), "member {id} started twice");
        let log_path = member.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_error(format!("open {}", log_path.display())))?;
        let stderr = log.try_clone().map_err(io_error(format!("open {}", log_path.display())))?;
        let mut command = Command::new(&binary);
        command
            .arg("start")
            .arg("--config")
            .arg(member.config_path())
            .args(["--member", &id.to_string(), "--peer-listen", &member.peer_listen.to_string()])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        if let Some(release) = &member.binary_release {
            command.args(["--binary-release", release]);
        }
        member.child = Some(command.spawn().map_err(io_error(format!("start member {id}")))?);
        member.paused = false;
        Ok(())
    }

    /// SIGKILL: a crash, with nothing flushed.
    pub fn kill(&mut self, id: u64) {
        let member = &mut self.members[id as usize];
        if let Some(mut child) = member.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        member.paused = false;
    }

    /// SIGTERM and a wait, as an operator's restart; SIGKILL after a grace period.
    pub fn stop(&mut self, id: u64) {
        let member = &mut self.members[id as usize];
        if let Some(mut child) = member.child.take() {
            signal(child.id(), "TERM");
            let deadline = Instant::now() + STOP_GRACE;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        member.paused = false;
    }

    pub fn pause(&mut self, id: u64) {
        let member = &mut self.members[id as usize];
        if let Some(pid) = member.pid() {
            signal(pid, "STOP");
            member.paused = true;
        }
    }

    pub fn resume(&mut self, id: u64) {
        let member = &mut self.members[id as usize];
        if let Some(pid) = member.pid().filter(|_| member.paused) {
            signal(pid, "CONT");
        }
        member.paused = false;
    }

    /// Notes every process that ended on its own since the last look.
    pub fn reap(&mut self) -> Vec<(u64, ExitStatus)> {
        let mut ended = Vec::new();
        for member in &mut self.members {
            if let Some(status) = member.child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                member.child = None;
                ended.push((member.id, status));
            }
        }
        self.exited.extend(ended.iter().cloned());
        ended
    }

    pub fn status(&self, id: u64) -> Result<MemberStatus, String> {
        admin::status(self.member(id).admin)
    }

    /// Runs `viewstamp ARGS --config <a member's file>` as an operator would.
    pub fn admin_command(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(&self.binary)
            .args(args)
            .arg("--config")
            .arg(self.members[0].config_path())
            .output()
            .map_err(io_error(format!("run {}", self.binary.display())))?;
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        if output.status.success() {
            Ok(text.trim().to_string())
        } else {
            Err(format!("viewstamp {} failed: {}", args.join(" "), text.trim()))
        }
    }

    /// Keeps the data directories of tmpfs members after the unmount, for a failed run.
    pub fn keep_data(&self) {
        for member in &self.members {
            if let Some(tmpfs) = &member.tmpfs {
                let _ = tmpfs.copy_out(&member.dir.join("data-kept"));
            }
        }
    }

    pub fn kill_all(&mut self) {
        for id in 0..self.members.len() as u64 {
            self.resume(id);
            self.kill(id);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A log file's last lines, for a failure report.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
