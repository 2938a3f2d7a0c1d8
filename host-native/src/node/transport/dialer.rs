//! The outgoing side: one task per peer dials it, proves who we are, and writes the
//! peer's queued frames. It redials with backoff whenever the connection is lost.

use std::fmt;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::time::timeout;
use viewstamp_core::types::MemberId;

use super::entropy::random_u64;
use super::handshake::{self, DialError, Identity};
use super::metrics::{bump, DropReason, Metrics};
use super::queue::PeerQueue;
use super::TransportLimits;

const WRITE_BUFFER_BYTES: usize = 64 * 1024;
/// Flush at least this often under a steady stream, so `frames_sent` keeps up.
const FLUSH_EVERY_FRAMES: u64 = 256;

pub(super) struct Dialer {
    pub(super) peer: MemberId,
    pub(super) address: String,
    pub(super) identity: Arc<Identity>,
    pub(super) queue: Arc<PeerQueue>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) limits: TransportLimits,
}

/// How a working connection ended.
enum ConnectionEnd {
    PeerClosed,
    /// The listener sent bytes, which it never does after the handshake.
    UnexpectedBytes,
    ReadFailed(io::Error),
    WriteFailed(io::Error),
    WriteTimedOut,
}

impl fmt::Display for ConnectionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionEnd::PeerClosed => f.write_str("the peer closed the connection"),
            ConnectionEnd::UnexpectedBytes => f.write_str("the peer sent bytes on a send-only connection"),
            ConnectionEnd::ReadFailed(error) | ConnectionEnd::WriteFailed(error) => write!(f, "{error}"),
            ConnectionEnd::WriteTimedOut => f.write_str("a write made no progress in time: the peer is not reading"),
        }
    }
}

/// How long to wait before the next attempt after `failures` failed ones: a random delay
/// between `min` and an exponential ceiling capped at `max`, so members that lost each
/// other at once do not redial in lockstep.
pub(super) fn backoff_delay(failures: u32, min: Duration, max: Duration, random: u64) -> Duration {
    let ceiling = min.saturating_mul(1u32 << failures.min(20)).min(max).max(min);
    let spread_ns = (ceiling - min).as_nanos() as u64;
    min + Duration::from_nanos(random % spread_ns.saturating_add(1))
}

impl Dialer {
    pub(super) async fn run(self) {
        let Some(counters) = self.metrics.peer(self.peer) else { return };
        let mut failures: u32 = 0;
        let mut connected_before = false;
        loop {
            if failures > 0 || connected_before {
                let delay = backoff_delay(failures, self.limits.backoff_min, self.limits.backoff_max, random_u64());
                tokio::time::sleep(delay).await;
            }
            let stream = match self.connect().await {
                Ok(stream) => stream,
                Err(error) => {
                    bump(&counters.connect_failures, 1);
                    self.log_failure(failures, &error);
                    failures = failures.saturating_add(1);
                    continue;
                }
            };
            if connected_before {
                bump(&counters.reconnects, 1);
            }
            connected_before = true;
            failures = 0;
            counters.connected.store(true, Ordering::Relaxed);
            tracing::info!(peer = self.peer, address = %self.address, "connected to peer");
            let end = self.serve(stream).await;
            counters.connected.store(false, Ordering::Relaxed);
            tracing::info!(peer = self.peer, address = %self.address, "connection to peer ended: {end}");
        }
    }

    fn log_failure(&self, failures: u32, error: &DialError) {
        match error {
            // A configuration mistake: worth a warning every time.
            DialError::NotAPeer | DialError::Refused { .. } => {
                tracing::warn!(peer = self.peer, address = %self.address, "cannot connect to peer: {error}")
            }
            // The peer is down or restarting: say so once, then quietly keep trying.
            DialError::Io(_) | DialError::Timeout if failures == 0 => {
                tracing::info!(peer = self.peer, address = %self.address, "cannot connect to peer, will retry: {error}")
            }
            DialError::Io(_) | DialError::Timeout => {
                tracing::debug!(peer = self.peer, address = %self.address, "cannot connect to peer: {error}")
            }
        }
    }

    async fn connect(&self) -> Result<TcpStream, DialError> {
        let mut stream = timeout(self.limits.connect_timeout, TcpStream::connect(self.address.as_str()))
            .await
            .map_err(|_| DialError::Timeout)??;
        // Frames are small and latency-bound; batching happens in our write buffer.
        stream.set_nodelay(true)?;
        timeout(self.limits.handshake_timeout, handshake::dial(&mut stream, &self.identity, self.peer))
            .await
            .map_err(|_| DialError::Timeout)??;
        Ok(stream)
    }

    /// Writes queued frames until the connection fails. The connection is send-only, so
    /// the read side only watches for the peer closing it.
    async fn serve(&self, stream: TcpStream) -> ConnectionEnd {
        let Some(counters) = self.metrics.peer(self.peer) else { return ConnectionEnd::PeerClosed };
        let (mut reader, writer) = stream.into_split();
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, writer);
        // Written to the buffer but not yet flushed: lost, not sent, if the flush fails.
        let mut unflushed: u64 = 0;
        loop {
            let frame = self.queue.pop();
            if let Some(frame) = &frame {
                let end = match timeout(self.limits.write_timeout, writer.write_all(frame)).await {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(ConnectionEnd::WriteFailed(error)),
                    Err(_) => Some(ConnectionEnd::WriteTimedOut),
                };
                if let Some(end) = end {
                    self.metrics.dropped(Some(self.peer), DropReason::WriteFailed, unflushed + 1);
                    return end;
                }
                unflushed += 1;
            }
            if unflushed > 0 && (frame.is_none() || unflushed >= FLUSH_EVERY_FRAMES) {
                let end = match timeout(self.limits.write_timeout, writer.flush()).await {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(ConnectionEnd::WriteFailed(error)),
                    Err(_) => Some(ConnectionEnd::WriteTimedOut),
                };
                if let Some(end) = end {
                    self.metrics.dropped(Some(self.peer), DropReason::WriteFailed, unflushed);
                    return end;
                }
                bump(&counters.frames_sent, unflushed);
                unflushed = 0;
                continue;
            }
            if frame.is_some() {
                continue;
            }
            let mut probe = [0u8; 1];
            tokio::select! {
                _ = self.queue.ready.notified() => {}
                read = reader.read(&mut probe) => {
                    return match read {
                        Ok(0) => ConnectionEnd::PeerClosed,
                        Ok(_) => ConnectionEnd::UnexpectedBytes,
                        Err(error) => ConnectionEnd::ReadFailed(error),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_its_bounds() {
        let min = Duration::from_millis(50);
        let max = Duration::from_secs(2);
        assert_eq!(backoff_delay(0, min, max, u64::MAX), min);
        for failures in 0..40 {
            let ceiling = (min * 2u32.pow(failures.min(20))).min(max);
            for random in [0, 1, 12_345_678_901, u64::MAX / 3, u64::MAX] {
                let delay = backoff_delay(failures, min, max, random);
                assert!(delay >= min && delay <= ceiling, "{failures} {random}: {delay:?}");
            }
        }
        // Jitter spreads the delays once the ceiling is above the floor.
        let delays: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| backoff_delay(6, min, max, random_u64())).collect();
        assert!(delays.len() > 10, "{delays:?}");
    }
}
