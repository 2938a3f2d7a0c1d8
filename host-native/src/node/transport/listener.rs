//! The incoming side: accepts peers' connections, checks their handshake, and cuts what
//! they send into frames for the node.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;
use viewstamp_core::types::MemberId;
use viewstamp_core::wire::{frame_length, WireError};

use super::entropy::random_u64;
use super::handshake::{self, Identity, Refusal};
use super::metrics::{bump, DropReason, Metrics};
use super::{Inbound, TransportLimits};

const READ_CHUNK_BYTES: usize = 64 * 1024;
/// After a large frame, give the read buffer back rather than hold megabytes per idle peer.
const READ_BUFFER_KEEP_BYTES: usize = 1024 * 1024;
/// Pause after a failed accept (out of file descriptors, say) instead of spinning.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

pub(super) struct Listener {
    pub(super) identity: Arc<Identity>,
    pub(super) known: BTreeSet<MemberId>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) limits: TransportLimits,
    pub(super) inbound: mpsc::Sender<Inbound>,
    /// Bounds connections that have not finished their handshake.
    pending: Arc<Semaphore>,
    /// Each member's current incoming connection: its number, and the signal that stops it.
    current: Mutex<BTreeMap<MemberId, (u64, oneshot::Sender<()>)>>,
    connections: AtomicU64,
}

/// How an authenticated incoming connection ended.
enum InboundEnd {
    PeerClosed,
    /// A newer connection from the same member took over.
    Replaced,
    /// The node dropped its receiver: the transport is going away.
    NodeGone,
    InvalidFrame(WireError),
    ReadFailed(io::Error),
}

impl fmt::Display for InboundEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InboundEnd::PeerClosed => f.write_str("the peer closed the connection"),
            InboundEnd::Replaced => f.write_str("a newer connection from the peer replaced it"),
            InboundEnd::NodeGone => f.write_str("the node stopped receiving"),
            InboundEnd::InvalidFrame(error) => write!(f, "closed it after an invalid frame: {error}"),
            InboundEnd::ReadFailed(error) => write!(f, "{error}"),
        }
    }
}

impl Listener {
    pub(super) fn new(
        identity: Arc<Identity>,
        known: BTreeSet<MemberId>,
        metrics: Arc<Metrics>,
        limits: TransportLimits,
        inbound: mpsc::Sender<Inbound>,
    ) -> Self {
        let pending = Arc::new(Semaphore::new(limits.pending_handshakes_max));
        Self {
            identity,
            known,
            metrics,
            limits,
            inbound,
            pending,
            current: Mutex::default(),
            connections: AtomicU64::new(0),
        }
    }

    /// Accepts until `shutdown` fires (or its sender is dropped), then closes the listening
    /// socket and every connection before returning.
    pub(super) async fn run(self: Arc<Self>, listener: TcpListener, mut shutdown: watch::Receiver<()>) {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                Some(_) = connections.join_next() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, remote)) => match self.pending.clone().try_acquire_owned() {
                        Ok(permit) => {
                            connections.spawn(self.clone().serve(stream, remote, permit));
                        }
                        Err(_) => {
                            self.refuse(remote, Refusal::TooManyPending);
                            drop(stream);
                        }
                    },
                    Err(error) => {
                        tracing::warn!("accepting a peer connection failed, retrying: {error}");
                        tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                    }
                },
            }
        }
        drop(listener);
        connections.shutdown().await;
    }

    fn refuse(&self, remote: SocketAddr, reason: Refusal) {
        self.metrics.refused(reason);
        tracing::warn!(%remote, reason = reason.label(), "refused a peer connection: {reason}");
    }

    async fn serve(self: Arc<Self>, mut stream: TcpStream, remote: SocketAddr, permit: OwnedSemaphorePermit) {
        let handshake = handshake::accept(&mut stream, &self.identity, &self.known, random_u64());
        let outcome = timeout(self.limits.handshake_timeout, handshake).await;
        drop(permit);
        let from = match outcome {
            Ok(Ok(from)) => from,
            Ok(Err(reason)) => return self.refuse(remote, reason),
            Err(_) => return self.refuse(remote, Refusal::Timeout),
        };
        let Some(counters) = self.metrics.peer(from) else { return };
        bump(&counters.inbound_connections, 1);
        let (connection, stop) = self.register(from);
        tracing::info!(peer = from, %remote, "peer connected to us");
        let end = self.read_frames(stream, from, stop).await;
        self.unregister(from, connection);
        match end {
            InboundEnd::InvalidFrame(_) => tracing::warn!(peer = from, %remote, "peer connection: {end}"),
            _ => tracing::info!(peer = from, %remote, "peer connection ended: {end}"),
        }
    }

    /// Makes this the member's current connection, stopping the one before it.
    fn register(&self, member: MemberId) -> (u64, oneshot::Receiver<()>) {
        let connection = self.connections.fetch_add(1, Ordering::Relaxed);
        let (stop_sender, stop) = oneshot::channel();
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Dropping the old sender is the signal.
        current.insert(member, (connection, stop_sender));
        (connection, stop)
    }

    fn unregister(&self, member: MemberId, connection: u64) {
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.get(&member).is_some_and(|(current_connection, _)| *current_connection == connection) {
            current.remove(&member);
        }
    }

    /// Cuts the stream into frames by their headers. The buffer holds at most one frame
    /// (which `frame_length` bounds as soon as its header arrives) plus one read.
    async fn read_frames(&self, mut stream: TcpStream, from: MemberId, mut stop: oneshot::Receiver<()>) -> InboundEnd {
        let Some(counters) = self.metrics.peer(from) else { return InboundEnd::PeerClosed };
        let mut buffer: Vec<u8> = Vec::with_capacity(READ_CHUNK_BYTES);
        loop {
            let mut start = 0;
            loop {
                match frame_length(&buffer[start..]) {
                    Ok(Some(length)) => {
                        let frame = buffer[start..start + length].to_vec();
                        start += length;
                        // Waiting here pushes back on the peer, whose own queue then drops.
                        tokio::select! {
                            sent = self.inbound.send(Inbound { from, frame }) => {
                                if sent.is_err() {
                                    return InboundEnd::NodeGone;
                                }
                                bump(&counters.frames_received, 1);
                            }
                            _ = &mut stop => return InboundEnd::Replaced,
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        self.metrics.dropped(Some(from), DropReason::from_wire(error), 1);
                        return InboundEnd::InvalidFrame(error);
                    }
                }
            }
            buffer.drain(..start);
            if buffer.capacity() > READ_BUFFER_KEEP_BYTES && buffer.len() < READ_CHUNK_BYTES {
                buffer.shrink_to(READ_CHUNK_BYTES);
            }
            buffer.reserve(READ_CHUNK_BYTES);
            tokio::select! {
                read = stream.read_buf(&mut buffer) => match read {
                    Ok(0) => {
                        if !buffer.is_empty() {
                            self.metrics.dropped(Some(from), DropReason::Truncated, 1);
                        }
                        return InboundEnd::PeerClosed;
                    }
                    Ok(_) => {}
                    Err(error) => return InboundEnd::ReadFailed(error),
                },
                _ = &mut stop => return InboundEnd::Replaced,
            }
        }
    }
}
