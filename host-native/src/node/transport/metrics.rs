//! Transport counters: atomics updated by the tasks, read as a snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use viewstamp_core::types::MemberId;
use viewstamp_core::wire::WireError;

use super::handshake::Refusal;

/// Why a frame was dropped rather than delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The peer's outgoing queue was full: the oldest frame went.
    QueueFull,
    /// `send` named a member that is not a configured peer.
    UnknownPeer,
    /// `send` was given bytes that are not one whole frame.
    InvalidOutgoing,
    /// Writing to the peer failed or timed out; the frames in flight were lost.
    WriteFailed,
    /// Inbound frames whose header `frame_length` refused (the connection is closed).
    BadMagic,
    UnsupportedVersion,
    ReservedNonZero,
    TooLarge,
    /// Any other header error (`frame_length` reports none today).
    InvalidFrame,
    /// The peer closed its connection in the middle of a frame.
    Truncated,
}

impl DropReason {
    pub const ALL: [DropReason; 10] = [
        DropReason::QueueFull,
        DropReason::UnknownPeer,
        DropReason::InvalidOutgoing,
        DropReason::WriteFailed,
        DropReason::BadMagic,
        DropReason::UnsupportedVersion,
        DropReason::ReservedNonZero,
        DropReason::TooLarge,
        DropReason::InvalidFrame,
        DropReason::Truncated,
    ];

    /// A stable snake_case name, for metrics and logs.
    pub const fn label(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::InvalidOutgoing => "invalid_outgoing",
            DropReason::WriteFailed => "write_failed",
            DropReason::BadMagic => "bad_magic",
            DropReason::UnsupportedVersion => "unsupported_version",
            DropReason::ReservedNonZero => "reserved_non_zero",
            DropReason::TooLarge => "too_large",
            DropReason::InvalidFrame => "invalid_frame",
            DropReason::Truncated => "truncated",
        }
    }

    pub(super) fn from_wire(error: WireError) -> Self {
        match error {
            WireError::BadMagic => DropReason::BadMagic,
            WireError::UnsupportedVersion(_) => DropReason::UnsupportedVersion,
            WireError::ReservedNonZero => DropReason::ReservedNonZero,
            WireError::TooLarge { .. } => DropReason::TooLarge,
            _ => DropReason::InvalidFrame,
        }
    }
}

/// One peer's counters, as of a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerMetrics {
    /// Frames written and flushed on the connection to the peer.
    pub frames_sent: u64,
    /// Whole frames received from the peer and handed to the node.
    pub frames_received: u64,
    /// Frames to or from this peer dropped, whatever the reason.
    pub frames_dropped: u64,
    /// Frames waiting in the outgoing queue.
    pub queued_frames: u64,
    /// Whether the outgoing connection is up.
    pub connected: bool,
    /// Outgoing connections established after an earlier one was lost.
    pub reconnects: u64,
    /// Failed attempts to connect (and complete the handshake) to the peer.
    pub connect_failures: u64,
    /// Authenticated incoming connections from the peer.
    pub inbound_connections: u64,
}

/// A snapshot of the transport's counters. Every reason is present, zero or not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransportMetrics {
    pub peers: BTreeMap<MemberId, PeerMetrics>,
    pub drops: BTreeMap<DropReason, u64>,
    pub refusals: BTreeMap<Refusal, u64>,
}

#[cfg(test)]
impl TransportMetrics {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.get(&reason).copied().unwrap_or(0)
    }

    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refusals.get(&reason).copied().unwrap_or(0)
    }

    pub fn peer(&self, member: MemberId) -> PeerMetrics {
        self.peers.get(&member).copied().unwrap_or_default()
    }
}

#[derive(Default)]
pub(super) struct PeerCounters {
    pub(super) frames_sent: AtomicU64,
    pub(super) frames_received: AtomicU64,
    pub(super) frames_dropped: AtomicU64,
    pub(super) connected: AtomicBool,
    pub(super) reconnects: AtomicU64,
    pub(super) connect_failures: AtomicU64,
    pub(super) inbound_connections: AtomicU64,
}

pub(super) struct Metrics {
    peers: BTreeMap<MemberId, PeerCounters>,
    drops: [AtomicU64; DropReason::ALL.len()],
    refusals: [AtomicU64; Refusal::ALL.len()],
}

pub(super) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Metrics {
    pub(super) fn new(peers: impl IntoIterator<Item = MemberId>) -> Self {
        Self {
            peers: peers.into_iter().map(|member| (member, PeerCounters::default())).collect(),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            refusals: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The counters of a configured peer; `None` for anyone else.
    pub(super) fn peer(&self, member: MemberId) -> Option<&PeerCounters> {
        self.peers.get(&member)
    }

    pub(super) fn dropped(&self, peer: Option<MemberId>, reason: DropReason, frames: u64) {
        if frames == 0 {
            return;
        }
        bump(&self.drops[reason as usize], frames);
        if let Some(counters) = peer.and_then(|member| self.peer(member)) {
            bump(&counters.frames_dropped, frames);
        }
    }

    pub(super) fn refused(&self, reason: Refusal) {
        bump(&self.refusals[reason as usize], 1);
    }

    pub(super) fn snapshot(&self, queued_frames: impl Fn(MemberId) -> usize) -> TransportMetrics {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let peers = self
            .peers
            .iter()
            .map(|(&member, counters)| {
                let metrics = PeerMetrics {
                    frames_sent: load(&counters.frames_sent),
                    frames_received: load(&counters.frames_received),
                    frames_dropped: load(&counters.frames_dropped),
                    queued_frames: queued_frames(member) as u64,
                    connected: counters.connected.load(Ordering::Relaxed),
                    reconnects: load(&counters.reconnects),
                    connect_failures: load(&counters.connect_failures),
                    inbound_connections: load(&counters.inbound_connections),
                };
                (member, metrics)
            })
            .collect();
        TransportMetrics {
            peers,
            drops: DropReason::ALL.into_iter().map(|reason| (reason, load(&self.drops[reason as usize]))).collect(),
            refusals: Refusal::ALL.into_iter().map(|reason| (reason, load(&self.refusals[reason as usize]))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_indexes_match_the_lists() {
        for (index, reason) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, index);
            assert!(DropReason::ALL[..index].iter().all(|other| other.label() != reason.label()));
        }
        for (index, reason) in Refusal::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, index);
            assert!(Refusal::ALL[..index].iter().all(|other| other.label() != reason.label()));
        }
    }

    #[test]
    fn drops_count_by_reason_and_by_peer() {
        let metrics = Metrics::new([1, 2]);
        metrics.dropped(Some(1), DropReason::QueueFull, 3);
        metrics.dropped(None, DropReason::UnknownPeer, 1);
        metrics.dropped(Some(9), DropReason::UnknownPeer, 1);
        metrics.refused(Refusal::BadProof);
        let snapshot = metrics.snapshot(|_| 0);
        assert_eq!(snapshot.dropped(DropReason::QueueFull), 3);
        assert_eq!(snapshot.dropped(DropReason::UnknownPeer), 2);
        assert_eq!(snapshot.peer(1).frames_dropped, 3);
        assert_eq!(snapshot.peer(2).frames_dropped, 0);
        assert_eq!(snapshot.refused(Refusal::BadProof), 1);
        assert_eq!(snapshot.drops.len(), DropReason::ALL.len());
    }
}
