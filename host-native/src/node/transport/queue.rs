//! A peer's outgoing frames: bounded, and never blocking the sender.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Frames waiting for a peer's connection. When a push would exceed either bound, the
/// oldest frames go: VSR retransmits what matters, and a newer message (a later view or
/// commit number) supersedes an older one, so the newest frames are the ones worth keeping.
pub(super) struct PeerQueue {
    state: Mutex<QueueState>,
    /// Woken on every push; holds a permit if nobody waits, so a wakeup is never lost.
    pub(super) ready: Notify,
    max_frames: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct QueueState {
    frames: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl PeerQueue {
    pub(super) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Self { state: Mutex::default(), ready: Notify::new(), max_frames: max_frames.max(1), max_bytes }
    }

    /// Queues `frame` and answers how many older frames were dropped to make room. A frame
    /// larger than the byte bound is still queued, alone, so that it is not starved forever.
    pub(super) fn push(&self, frame: Vec<u8>) -> u64 {
        let mut dropped = 0;
        {
            let mut state = self.lock();
            while !state.frames.is_empty()
                && (state.frames.len() >= self.max_frames || state.bytes + frame.len() > self.max_bytes)
            {
                if let Some(oldest) = state.frames.pop_front() {
                    state.bytes -= oldest.len();
                    dropped += 1;
                }
            }
            state.bytes += frame.len();
            state.frames.push_back(frame);
        }
        self.ready.notify_one();
        dropped
    }

    pub(super) fn pop(&self) -> Option<Vec<u8>> {
        let mut state = self.lock();
        let frame = state.frames.pop_front()?;
        state.bytes -= frame.len();
        Some(frame)
    }

    pub(super) fn len(&self) -> usize {
        self.lock().frames.len()
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // No code panics while holding the lock; if one ever did, the queue is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_oldest_when_the_frame_bound_is_reached() {
        let queue = PeerQueue::new(3, usize::MAX);
        let dropped: u64 = (0..5u8).map(|i| queue.push(vec![i])).sum();
        assert_eq!(dropped, 2);
        let left: Vec<Vec<u8>> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(left, vec![vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn drops_the_oldest_when_the_byte_bound_is_reached() {
        let queue = PeerQueue::new(100, 10);
        assert_eq!(queue.push(vec![1; 4]), 0);
        assert_eq!(queue.push(vec![2; 4]), 0);
        assert_eq!(queue.push(vec![3; 4]), 1);
        assert_eq!(queue.len(), 2);
        // Larger than the bound: everything else goes, and it is kept alone.
        assert_eq!(queue.push(vec![4; 50]), 2);
        assert_eq!(queue.pop(), Some(vec![4; 50]));
        assert_eq!(queue.pop(), None);
    }
}
