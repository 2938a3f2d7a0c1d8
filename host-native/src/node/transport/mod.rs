//! The peer transport: the core's frames between members, over TCP.
//!
//! # Connections
//!
//! Every member dials every peer, and each connection carries frames one way only: the
//! dialer writes, the listener reads. Between two members there are thus two
//! connections, one per direction, and nothing needs deciding when both dial at once. A
//! member sends to a peer only on the connection it dialed, and receives only on the
//! connections peers dialed to it. A newer authenticated connection from a member
//! replaces its older one, so a peer that restarts (or whose connection went half-open)
//! holds one slot, not one per restart.
//!
//! Lost connections are redialed with exponential backoff and jitter, between
//! `backoff_min` and `backoff_max`.
//!
//! # Handshake
//!
//! Before any frame, the listener sends a nonce and the dialer answers with its cluster,
//! member id, the member it meant to reach, and a keyed checksum over the shared key and
//! that nonce (see [`handshake`] for the layout). The listener refuses a wrong magic or
//! version, another cluster, an unknown member, a wrong target or a bad proof: it logs a
//! warning, counts the reason, and closes. A handshake must finish within
//! `handshake_timeout`, and at most `pending_handshakes_max` may be in progress, so silent
//! or slow connections cannot hold slots. This authenticates but does not encrypt, and
//! the checksum is not a cryptographic MAC: see [`handshake`].
//!
//! # Loss and bounds
//!
//! [`TransportHandle::send`] never blocks: each peer has a queue bounded in frames and
//! bytes, and when it is full the oldest frame is dropped and counted. VSR tolerates
//! loss (everything that matters is retransmitted), and a newer message supersedes an
//! older one, so the newest frames are the ones worth keeping. A peer that stops reading
//! fills only its own queue; a write that makes no progress within `write_timeout`
//! closes that connection. Incoming bytes are cut into frames by their headers; a
//! header that is invalid or announces an oversized frame closes the connection before
//! the frame is buffered. Frames are handed over undecoded: the node loop decodes them.

mod dialer;
mod entropy;
pub mod handshake;
mod listener;
pub mod metrics;
mod queue;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use viewstamp_core::types::MemberId;
use viewstamp_core::wire::frame_length;

use dialer::Dialer;
use handshake::Identity;
use listener::Listener;
pub use metrics::TransportMetrics;
use metrics::{DropReason, Metrics};
use queue::PeerQueue;

/// One whole frame from a peer, not yet decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    pub from: MemberId,
    pub frame: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// This member's id.
    pub member: MemberId,
    pub cluster: u64,
    /// The key every member shares, if any; see [`handshake`] for what it protects.
    pub shared_key: Option<Vec<u8>>,
    /// Where to accept peers' connections.
    pub listen: SocketAddr,
    /// Every peer's address (`host:port`, resolved on each dial). An entry for this
    /// member itself is ignored, so one members list can serve every member.
    pub peers: BTreeMap<MemberId, String>,
    pub limits: TransportLimits,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportLimits {
    /// Frames waiting for one peer, beyond which the oldest are dropped.
    pub peer_queue_max_frames: usize,
    /// Bytes waiting for one peer, beyond which the oldest frames are dropped.
    pub peer_queue_max_bytes: usize,
    /// Whole frames received but not yet taken by the node; when full, readers wait.
    pub inbound_queue_max_frames: usize,
    /// Incoming connections allowed to be mid-handshake at once.
    pub pending_handshakes_max: usize,
    pub handshake_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long one frame's write (or a flush) may make no headway before the connection closes.
    pub write_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            peer_queue_max_frames: 1024,
            peer_queue_max_bytes: 64 * 1024 * 1024,
            inbound_queue_max_frames: 4096,
            pending_handshakes_max: 64,
            handshake_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
        }
    }
}

#[derive(Debug)]
pub enum TransportError {
    /// A limit or address in the config cannot work.
    Invalid(String),
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
    /// `start` was called outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Invalid(problem) => write!(f, "invalid transport config: {problem}"),
            TransportError::Bind { address, source } => write!(
                f,
                "cannot listen for peers on {address}: {source}: check that no other process uses the port \
                 and that the address belongs to this host"
            ),
            TransportError::NoRuntime => f.write_str("the transport must be started from inside a tokio runtime"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl TransportConfig {
    fn validate(&self) -> Result<(), TransportError> {
        let limits = &self.limits;
        let problem = if limits.peer_queue_max_frames == 0 {
            Some("peer_queue_max_frames must be at least 1".to_string())
        } else if limits.inbound_queue_max_frames == 0 {
            Some("inbound_queue_max_frames must be at least 1".to_string())
        } else if limits.pending_handshakes_max == 0 {
            Some("pending_handshakes_max must be at least 1, or no peer could ever connect".to_string())
        } else if limits.backoff_min.is_zero() || limits.backoff_min > limits.backoff_max {
            Some(format!(
                "backoff must satisfy 0 < backoff_min <= backoff_max (got {:?} and {:?})",
                limits.backoff_min, limits.backoff_max
            ))
        } else if [limits.handshake_timeout, limits.connect_timeout, limits.write_timeout].iter().any(Duration::is_zero)
        {
            Some("handshake_timeout, connect_timeout and write_timeout must be above zero".to_string())
        } else {
            self.peers
                .iter()
                .find(|(_, address)| address.trim().is_empty())
                .map(|(member, _)| format!("peer {member} has an empty address"))
        };
        problem.map_or(Ok(()), |problem| Err(TransportError::Invalid(problem)))
    }
}

pub struct Transport;

impl Transport {
    /// Listens on `config.listen` and starts dialing every peer. Must be called inside a
    /// tokio runtime. Frames from peers arrive on the returned receiver.
    pub fn start(config: TransportConfig) -> Result<(TransportHandle, mpsc::Receiver<Inbound>), TransportError> {
        config.validate()?;
        tokio::runtime::Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        let listener = bind(config.listen).map_err(|source| TransportError::Bind { address: config.listen, source })?;
        Self::start_on(listener, config)
    }

    /// As [`Transport::start`], on a socket already listening (`config.listen` is unused):
    /// for tests, which must know every address before starting any member, and for
    /// sockets handed over by a service manager.
    pub fn start_on(
        listener: TcpListener,
        config: TransportConfig,
    ) -> Result<(TransportHandle, mpsc::Receiver<Inbound>), TransportError> {
        config.validate()?;
        tokio::runtime::Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        let local_addr =
            listener.local_addr().map_err(|source| TransportError::Bind { address: config.listen, source })?;
        let peers: BTreeMap<MemberId, String> =
            config.peers.into_iter().filter(|(member, _)| *member != config.member).collect();
        let identity = Arc::new(Identity {
            member: config.member,
            cluster: config.cluster,
            key: config.shared_key.unwrap_or_default(),
        });
        let metrics = Arc::new(Metrics::new(peers.keys().copied()));
        let limits = config.limits;
        let (inbound_sender, inbound) = mpsc::channel(limits.inbound_queue_max_frames);
        let (shutdown, shutdown_signal) = watch::channel(());

        let known: BTreeSet<MemberId> = peers.keys().copied().collect();
        let accepting =
            Arc::new(Listener::new(identity.clone(), known, metrics.clone(), limits.clone(), inbound_sender));
        let listener_task = tokio::spawn(accepting.run(listener, shutdown_signal));

        let mut queues = BTreeMap::new();
        let mut dialers = JoinSet::new();
        for (peer, address) in peers {
            let queue = Arc::new(PeerQueue::new(limits.peer_queue_max_frames, limits.peer_queue_max_bytes));
            queues.insert(peer, queue.clone());
            let dialer = Dialer {
                peer,
                address,
                identity: identity.clone(),
                queue,
                metrics: metrics.clone(),
                limits: limits.clone(),
            };
            dialers.spawn(dialer.run());
        }
        tracing::info!(member = config.member, address = %local_addr, peers = queues.len(), "peer transport started");
        let inner = Inner {
            queues,
            metrics,
            local_addr,
            shutdown,
            listener_task: Mutex::new(Some(listener_task)),
            dialers: Mutex::new(dialers),
        };
        Ok((TransportHandle { inner: Arc::new(inner) }, inbound))
    }
}

/// Listens with address reuse, so a restarted member can take its port back while
/// connections from its previous run linger in TIME_WAIT.
fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Sends frames to peers. Clones share one transport; dropping the last clone (or
/// calling [`TransportHandle::shutdown`]) closes the listener, every connection and
/// every task.
#[derive(Clone)]
pub struct TransportHandle {
    inner: Arc<Inner>,
}

struct Inner {
    queues: BTreeMap<MemberId, Arc<PeerQueue>>,
    metrics: Arc<Metrics>,
    local_addr: SocketAddr,
    /// Dropping it (with `Inner`) also stops the listener.
    shutdown: watch::Sender<()>,
    listener_task: Mutex<Option<JoinHandle<()>>>,
    /// Dropping the set aborts the dialers, closing their connections.
    dialers: Mutex<JoinSet<()>>,
}

impl TransportHandle {
    /// Queues `frame` for `to` and returns at once. A frame that cannot go (unknown peer,
    /// not one whole frame, or pushed out of a full queue) is dropped and counted.
    pub fn send(&self, to: MemberId, frame: Vec<u8>) {
        let metrics = &self.inner.metrics;
        let Some(queue) = self.inner.queues.get(&to) else {
            metrics.dropped(None, DropReason::UnknownPeer, 1);
            tracing::debug!(peer = to, "dropped a frame for a member that is not a configured peer");
            return;
        };
        // A broken frame would make the peer close the connection, losing the good ones behind it.
        if frame_length(&frame) != Ok(Some(frame.len())) {
            metrics.dropped(Some(to), DropReason::InvalidOutgoing, 1);
            tracing::warn!(peer = to, bytes = frame.len(), "dropped outgoing bytes that are not exactly one frame");
            return;
        }
        let pushed_out = queue.push(frame);
        metrics.dropped(Some(to), DropReason::QueueFull, pushed_out);
    }

    pub fn metrics(&self) -> TransportMetrics {
        let queues = &self.inner.queues;
        self.inner.metrics.snapshot(|member| queues.get(&member).map_or(0, |queue| queue.len()))
    }

    /// The address peers connect to (the real port when configured with port 0).
    #[cfg(test)]
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Stops accepting, closes every connection and waits for the tasks to end. Frames
    /// still queued are discarded. Clones of the handle can still be used, to no effect.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(());
        let listener_task = lock(&self.inner.listener_task).take();
        if let Some(task) = listener_task {
            if let Err(error) = task.await {
                tracing::warn!("the peer listener task failed: {error}");
            }
        }
        let mut dialers = std::mem::take(&mut *lock(&self.inner.dialers));
        dialers.shutdown().await;
        tracing::info!(address = %self.inner.local_addr, "peer transport stopped");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
