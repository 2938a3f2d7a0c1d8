//! The simulator's event queue: ordered by time, then by the order of scheduling.

use alloc::collections::BinaryHeap;
use core::cmp::{Ordering, Reverse};

use crate::types::{ClientId, MemberId, Tick};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Deliver the in-flight message with this id.
    Deliver(u64),
    /// A member's timer; stale unless the member's incarnation and deadline still match.
    Timer {
        member: MemberId,
        incarnation: u64,
    },
    /// A member's storage made writes up to `persist_id` durable.
    WriteDone {
        member: MemberId,
        incarnation: u64,
        persist_id: u64,
    },
    ClientTimer {
        client: ClientId,
        generation: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub time: Tick,
    pub seq: u64,
    pub kind: EventKind,
}

impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Event>>,
    next_seq: u64,
}

impl EventQueue {
    pub fn schedule(&mut self, time: Tick, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Event { time, seq, kind }));
    }

    pub fn peek_time(&self) -> Option<Tick> {
        self.heap.peek().map(|Reverse(event)| event.time)
    }

    pub fn pop(&mut self) -> Option<Event> {
        self.heap.pop().map(|Reverse(event)| event)
    }

    /// Every pending event, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Event> + '_ {
        self.heap.iter().map(|Reverse(event)| event)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
