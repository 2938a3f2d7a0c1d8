//! `viewstamp format` and `viewstamp start`: from a cluster file to a running member.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use viewstamp_core::release::Release;
use viewstamp_core::replica::{format_durable_with_checkpoint, Durable};
use viewstamp_core::state_machine::KvStore;
use viewstamp_core::types::MemberId;

use super::admin;
use super::client_port::{self, ClientPort};
use super::config::{Config, HostPort, Overrides};
use super::engine::NodeCore;
use super::runtime::{Clock, Inputs, Node, Stop};
use super::snapshot::NodeSnapshot;
use super::storage::{self, Identity, StorageOptions};
use super::transport::{Transport, TransportConfig, TransportLimits};
use crate::error::Error;

/// Client calls waiting for the node loop; a connection has at most one outstanding.
const CLIENT_CALLS_QUEUE_MAX: usize = 4096;
/// How long a stopped member waits for its client connections to go quiet and close
/// (see `client_port::STOPPING_QUIET`) before it exits and cuts the rest.
const CLIENT_CLOSE_MAX: Duration = Duration::from_secs(2);
const ADMIN_QUEUE_MAX: usize = 64;

pub struct StartOptions {
    pub config_path: PathBuf,
    pub member: u64,
    pub overrides: Overrides,
    /// Fault injection for tests: storage fails as a full disk once this much is written.
    pub fail_after_bytes: Option<u64>,
    /// Run the current code even when the binary release is an archived one.
    pub emulated: bool,
}

/// Loads the cluster file with the command line's overrides for `member`.
pub fn load_config(path: &Path, member: u64, overrides: &Overrides) -> Result<Config, Error> {
    let mut config = Config::load(path)?;
    config.member(member)?;
    config.apply_overrides(member, overrides)?;
    Ok(config)
}

/// Creates `member`'s data directory: a new member of a new cluster, at the binary's
/// release; or, with `recover`, a member that lost its data and must rebuild it from
/// its peers before it votes (formatting it as new would let it vote with an empty log).
pub fn format_member(config: &Config, member: MemberId, recover: bool) -> Result<PathBuf, Error> {
    let dir = config.member(member as u64)?.data_dir.clone();
    let identity = Identity { cluster: config.cluster_id, member };
    let durable = if recover {
        Durable { superblock: None, checkpoint: None, entries: Vec::new() }
    } else {
        format_durable_with_checkpoint(&config.replica_options(member), &KvStore::new())
    };
    storage::format(&dir, identity, &durable)?;
    Ok(dir)
}

pub fn start(options: StartOptions) -> Result<(), Error> {
    let config = load_config(&options.config_path, options.member, &options.overrides)?;
    // One thread for the loop and every socket: handing work between threads costs
    // more than it buys here (the replica is one state machine); fsyncs have their own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime(source.to_string()))?;
    runtime.block_on(run_member(config, options.member as MemberId, options.fail_after_bytes, options.emulated))
}

async fn bind(what: &'static str, address: &HostPort) -> Result<TcpListener, Error> {
    let text = address.to_string();
    TcpListener::bind(&text).await.map_err(|source| Error::Listen { what, address: text, source })
}

async fn resolve(address: &HostPort) -> Result<SocketAddr, Error> {
    let text = address.to_string();
    let found = tokio::net::lookup_host(text.as_str()).await.map(|mut found| found.next());
    match found {
        Ok(Some(address)) => Ok(address),
        Ok(None) => Err(Error::Listen {
            what: "peers",
            address: text,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "the name resolves to no address"),
        }),
        Err(source) => Err(Error::Listen { what: "peers", address: text, source }),
    }
}

async fn run_member(
    config: Config,
    member: MemberId,
    fail_after_bytes: Option<u64>,
    emulated: bool,
) -> Result<(), Error> {
    let me = config.member(member as u64)?.clone();
    let identity = Identity { cluster: config.cluster_id, member };
    let storage_options = StorageOptions { fail_after_bytes, ..StorageOptions::default() };
    let (storage, durable) = storage::open(&me.data_dir, identity, storage_options)?;

    let clock = Clock::new(config.timers.tick_ms);
    let mut replica_options = config.replica_options(member);
    replica_options.request_queue_max = config.limits.max_client_connections.max(1) * config.members.len();
    let replica = NodeCore::open(replica_options, member, durable, clock.now(), emulated)
        .map_err(|reason| Error::Halted { member, reason })?;
    if let Some(reason) = replica.halted() {
        // Before any write: the data directory stays as it was, for a newer binary.
        return Err(Error::Halted { member, reason });
    }
    let worker = storage::spawn(storage)?;

    let client_listener = bind("clients", &me.client_address).await?;
    let admin_listener = bind("the admin endpoint", &me.admin_address).await?;

    let transport_config = TransportConfig {
        member,
        cluster: config.cluster_id,
        shared_key: config.shared_key.as_ref().map(|key| key.as_bytes().to_vec()),
        listen: resolve(config.peer_listen.as_ref().unwrap_or(&me.address)).await?,
        peers: config.members.iter().map(|peer| (peer.id, peer.address.to_string())).collect(),
        limits: TransportLimits::default(),
    };
    let (transport, frames) =
        Transport::start(transport_config).map_err(|error| Error::Transport(error.to_string()))?;

    let (shutdown_sender, shutdown) = watch::channel(false);
    let (snapshot_sender, snapshot) =
        watch::channel(Arc::new(NodeSnapshot::capture(config.cluster_id, &replica, clock.now(), clock.tick())));
    let (call_sender, calls) = mpsc::channel(CLIENT_CALLS_QUEUE_MAX);
    let (admin_sender, admin_requests) = mpsc::channel(ADMIN_QUEUE_MAX);

    let connections = Arc::new(Semaphore::new(config.limits.max_client_connections));
    let port = Arc::new(ClientPort {
        member,
        incarnation: incarnation(),
        version: crate::cli::version(),
        limits: config.parser_limits(),
        calls: call_sender,
        snapshot,
        connections: connections.clone(),
        next_connection: AtomicU32::new(1),
        stopping: shutdown.clone(),
    });
    let client_task = tokio::spawn(client_port::serve(client_listener, port, shutdown.clone()));
    let admin_task = tokio::spawn(admin::serve(admin_listener, admin_sender, shutdown.clone()));
    let signals = tokio::spawn(wait_for_signal(shutdown_sender));

    let release: Release = replica.binary_release();
    let code = match replica.archived_release() {
        Some(archived) => format!("the archived {archived} code"),
        None => String::from("the current code"),
    };
    tracing::info!(
        member,
        cluster = config.cluster_id,
        %release,
        %code,
        peers = %me.address,
        clients = %me.client_address,
        admin = %me.admin_address,
        "member started"
    );
    eprintln!(
        "viewstamp member {member} of cluster {} (binary release {release}, running {code}): clients on {}, admin on {}",
        config.cluster_id, me.client_address, me.admin_address
    );

    let node = Node::new(replica, clock, config.cluster_id, transport, worker, snapshot_sender);
    let inputs = Inputs { frames, calls, admin: admin_requests, shutdown };
    let (result, worker, transport) = node.run(inputs).await;

    signals.abort();
    client_task.abort();
    transport.shutdown().await;
    // Everything acknowledged is already durable; the thread only finishes its batch.
    let _ = tokio::task::spawn_blocking(move || worker.shutdown()).await;
    close_client_connections(&connections, config.limits.max_client_connections).await;
    admin_task.abort();
    match result {
        Ok(()) => {
            eprintln!("viewstamp member {member} stopped");
            Ok(())
        }
        Err(Stop::Halted(reason)) => Err(Error::Halted { member, reason }),
    }
}

/// Waits for every client connection to close: each has answered all it read, and
/// closes once quiet, so no client is left with a command unanswered.
async fn close_client_connections(connections: &Arc<Semaphore>, max: usize) {
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let closed = tokio::time::timeout(CLIENT_CLOSE_MAX, connections.acquire_many(all)).await;
    if closed.is_err() {
        let open = max.saturating_sub(connections.available_permits());
        tracing::warn!(open, "exiting with client connections still busy after {} ms", CLIENT_CLOSE_MAX.as_millis());
    }
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in hand, exit.
async fn wait_for_signal(shutdown: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = ctrl_c.await;
                let _ = shutdown.send(true);
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    let _ = shutdown.send(true);
}

/// Distinguishes this run's client ids from a previous run's (see `requests::client_id`).
fn incarnation() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or_default();
    let mixed = (nanos ^ (std::process::id() as u64).rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 40) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::config::{local_cluster_toml, LocalCluster};
    use viewstamp_core::release::NEWEST_RELEASE;
    use viewstamp_core::replica::{Replica, Status};

    fn config_in(dir: &Path, binary_release: Release) -> Config {
        let text = local_cluster_toml(&LocalCluster::default()).unwrap();
        let mut config = Config::from_toml(&text, "test", dir).unwrap();
        config.binary_release = binary_release;
        config
    }

    fn open_member(config: &Config) -> Replica<KvStore> {
        let identity = Identity { cluster: config.cluster_id, member: 0 };
        let (_, durable) = storage::open(&config.members[0].data_dir, identity, StorageOptions::default()).unwrap();
        Replica::open(config.replica_options(0), 0, durable, KvStore::new(), 0)
    }

    #[test]
    fn a_cluster_runs_the_release_it_was_formatted_at_whatever_binary_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let old = Release::new(1, 0, 0);
        format_member(&config_in(dir.path(), old), 0, false).unwrap();
        let newer_binary = open_member(&config_in(dir.path(), NEWEST_RELEASE));
        assert_ne!(newer_binary.status(), Status::Halted);
        assert_eq!(newer_binary.release(), old, "only a committed upgrade entry moves the release");
        let same_binary = open_member(&config_in(dir.path(), old));
        assert_ne!(same_binary.status(), Status::Halted, "{:?}", same_binary.halt_reason());
        assert_eq!(same_binary.release(), old);
    }

    #[test]
    fn a_binary_older_than_the_formatted_release_halts() {
        let dir = tempfile::tempdir().unwrap();
        format_member(&config_in(dir.path(), NEWEST_RELEASE), 0, false).unwrap();
        let replica = open_member(&config_in(dir.path(), Release::new(1, 0, 0)));
        assert_eq!(replica.status(), Status::Halted);
    }
}
