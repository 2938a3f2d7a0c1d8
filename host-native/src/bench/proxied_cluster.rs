//! A cluster of real `viewstamp start` processes on loopback, each behind a link proxy
//! (`crate::link_proxy`), with the default timers: what `bench failover` cuts links in.
//! Every process is killed when the cluster is dropped.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use viewstamp_core::types::MemberId;

use crate::error::Error;
use crate::link_proxy::{LinkProxy, Links};
use crate::node::admin::client::{self, Timeouts};
use crate::node::config::{Config, Timers};
use crate::node::launch::format_member;

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STATUS_TIMEOUTS: Timeouts = Timeouts { connect: Duration::from_millis(500), io: Duration::from_secs(2) };

/// What a member's admin endpoint says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// `normal`, `view_change`, ...
    pub state: String,
    pub view: u64,
    pub is_primary: bool,
}

pub struct ProxiedCluster {
    pub dir: PathBuf,
    pub config: Config,
    pub links: Links,
    children: Vec<Option<Child>>,
    _proxies: Vec<LinkProxy>,
}

impl ProxiedCluster {
    /// Writes a cluster file of `replicas` active members in `dir`, formats them, puts
    /// a proxy on each advertised peer address and starts each member behind its proxy.
    pub async fn start(binary: &Path, dir: &Path, replicas: u8, cluster_id: u64) -> Result<Self, Error> {
        let failed = |what: &str, error: std::io::Error| Error::Bench(format!("cannot {what}: {error}"));
        std::fs::create_dir_all(dir).map_err(|error| failed(&format!("create {}", dir.display()), error))?;
        // Per member: advertised peer (the proxy), real peer, client and admin ports.
        let ports = free_ports(4 * replicas as usize).map_err(|error| failed("find free loopback ports", error))?;
        let path = dir.join("cluster.toml");
        std::fs::write(&path, cluster_toml(cluster_id, &ports))
            .map_err(|error| failed(&format!("write {}", path.display()), error))?;
        let config = Config::load(&path)?;
        for member in &config.members {
            format_member(&config, member.id, false)?;
        }
        let links = Links::default();
        let mut proxies = Vec::new();
        for (member, four) in config.members.iter().zip(ports.chunks(4)) {
            let advertised = member.address.to_string();
            let listener = TcpListener::bind(&advertised).await.map_err(|source| Error::Listen {
                what: "a link proxy",
                address: advertised,
                source,
            })?;
            proxies.push(LinkProxy::spawn(listener, member.id, loopback(four[1]), links.clone()));
        }
        let mut cluster =
            ProxiedCluster { dir: dir.to_path_buf(), config, links, children: Vec::new(), _proxies: proxies };
        for (member, four) in ports.chunks(4).enumerate() {
            let child = cluster.spawn_member(binary, member as MemberId, loopback(four[1]))?;
            cluster.children.push(Some(child));
        }
        Ok(cluster)
    }

    fn spawn_member(&self, binary: &Path, member: MemberId, peer_listen: SocketAddr) -> Result<Child, Error> {
        let log_path = self.log_path(member);
        let failed = |error: std::io::Error| Error::Bench(format!("cannot start member {member}: {error}"));
        let log = std::fs::File::create(&log_path).map_err(failed)?;
        Command::new(binary)
            .arg("start")
            .arg("--config")
            .arg(self.dir.join("cluster.toml"))
            .args(["--member", &member.to_string(), "--peer-listen", &peer_listen.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(failed)?)
            .stderr(log)
            .spawn()
            .map_err(failed)
    }

    pub fn log_path(&self, member: MemberId) -> PathBuf {
        self.dir.join(format!("member-{member}.log"))
    }

    pub fn timers(&self) -> &Timers {
        &self.config.timers
    }

    pub fn client_address(&self, member: MemberId) -> String {
        self.config.members[member as usize].client_address.to_string()
    }

    /// SIGTERM, as an operator's restart: the member finishes what it can and exits.
    pub fn terminate(&mut self, member: MemberId) {
        if let Some(child) = &self.children[member as usize] {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
    }

    /// SIGKILL: no chance to finish anything, as a crash.
    pub fn kill(&mut self, member: MemberId) {
        if let Some(mut child) = self.children[member as usize].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn status(&self, member: MemberId) -> Option<Status> {
        self.children[member as usize].as_ref()?;
        let address = self.config.members[member as usize].admin_address.to_string();
        let answer = tokio::task::spawn_blocking(move || client::call(&address, "GET", "/status", STATUS_TIMEOUTS))
            .await
            .ok()?
            .ok()?;
        let json = answer.json()?;
        Some(Status {
            state: json["status"].as_str()?.to_string(),
            view: json["view"].as_u64()?,
            is_primary: json["is_primary"].as_bool()?,
        })
    }

    /// The serving primary of the highest view, as (member, view).
    pub async fn primary(&self) -> Option<(MemberId, u64)> {
        let mut found = None;
        for member in 0..self.children.len() as MemberId {
            if let Some(status) = self.status(member).await.filter(|status| status.is_primary) {
                if found.is_none_or(|(_, view)| status.view > view) {
                    found = Some((member, status.view));
                }
            }
        }
        found
    }

    /// Waits until every member is normal in one view with one primary, and a write
    /// through that primary commits: the primary and its view.
    pub async fn wait_ready(&mut self) -> Result<(MemberId, u64), Error> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.check_running()?;
            if let Some(ready) = self.settled().await {
                let written = super::failover::set(&self.client_address(ready.0), "bench:ready").await;
                if written && self.settled().await == Some(ready) {
                    return Ok(ready);
                }
            }
            if Instant::now() > deadline {
                return Err(Error::Bench(format!(
                    "the cluster in {} settled on no primary within {} s: see its member-N.log files",
                    self.dir.display(),
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn settled(&self) -> Option<(MemberId, u64)> {
        let mut statuses = Vec::new();
        for member in 0..self.children.len() as MemberId {
            statuses.push(self.status(member).await?);
        }
        let view = statuses[0].view;
        let mut primaries = statuses.iter().enumerate().filter(|(_, status)| status.is_primary);
        let (primary, _) = primaries.next()?;
        let agreed = statuses.iter().all(|status| status.state == "normal" && status.view == view);
        (agreed && primaries.next().is_none()).then_some((primary as MemberId, view))
    }

    fn check_running(&mut self) -> Result<(), Error> {
        for (member, child) in self.children.iter_mut().enumerate() {
            if let Some(status) = child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                return Err(Error::Bench(format!(
                    "member {member} exited ({status}) while starting: see {}",
                    self.dir.join(format!("member-{member}.log")).display()
                )));
            }
        }
        Ok(())
    }
}

impl Drop for ProxiedCluster {
    fn drop(&mut self) {
        for member in 0..self.children.len() as MemberId {
            self.kill(member);
        }
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `count` distinct free loopback ports: every listener is held until all are chosen.
fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<Vec<_>, _>>()?;
    listeners.iter().map(|listener| listener.local_addr().map(|address| address.port())).collect()
}

/// No `[timers]` table: the defaults, as an operator gets them.
fn cluster_toml(cluster_id: u64, ports: &[u16]) -> String {
    let mut text = format!("# Written by viewstamp bench failover.\ncluster_id = {cluster_id}\n");
    for (id, four) in ports.chunks(4).enumerate() {
        let _ = write!(
            text,
            "\n[[members]]\nid = {id}\naddress = \"127.0.0.1:{}\"\nclient_address = \"127.0.0.1:{}\"\n\
             admin_address = \"127.0.0.1:{}\"\nrole = \"active\"\n",
            four[0], four[2], four[3]
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::config::TimersFile;

    #[test]
    fn the_cluster_file_has_the_default_timers() {
        let ports: Vec<u16> = (7001..7013).collect();
        let config = Config::from_toml(&cluster_toml(9, &ports), "bench", Path::new("")).unwrap();
        let defaults = TimersFile::default();
        assert_eq!(config.timers.primary_timeout_ms, defaults.primary_timeout_ms);
        assert_eq!(config.timers.heartbeat_interval_ms, defaults.heartbeat_interval_ms);
        assert_eq!(config.members.len(), 3);
        assert_eq!(config.members[2].address.to_string(), "127.0.0.1:7009");
        assert_eq!(config.members[2].client_address.to_string(), "127.0.0.1:7011");
    }
}
