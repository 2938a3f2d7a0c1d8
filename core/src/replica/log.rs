//! The in-memory window of the log: contiguous slots after `base`.

use alloc::collections::VecDeque;

use crate::message::{Body, Entry, Header, Slot};
use crate::types::Op;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSlot {
    pub header: Header,
    /// `None` while the body is damaged or missing and waits for repair.
    pub body: Option<Body>,
    /// True once the host reported this slot's current contents durable.
    pub durable: bool,
}

impl LogSlot {
    pub fn entry(&self) -> Option<Entry> {
        self.body.clone().map(|body| Entry { header: self.header, body })
    }
}

/// Slots `base + 1 ..= op`, every one with a known header. Ops at or below `base` are
/// covered by a checkpoint (or were never retained).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    base: Op,
    slots: VecDeque<LogSlot>,
}

impl Log {
    pub fn new(base: Op) -> Self {
        Self { base, slots: VecDeque::new() }
    }

    pub fn base(&self) -> Op {
        self.base
    }

    /// The highest op with a header.
    pub fn op(&self) -> Op {
        self.base + self.slots.len() as Op
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get(&self, op: Op) -> Option<&LogSlot> {
        if op <= self.base {
            return None;
        }
        self.slots.get((op - self.base - 1) as usize)
    }

    pub fn get_mut(&mut self, op: Op) -> Option<&mut LogSlot> {
        if op <= self.base {
            return None;
        }
        self.slots.get_mut((op - self.base - 1) as usize)
    }

    pub fn header(&self, op: Op) -> Option<Header> {
        self.get(op).map(|slot| slot.header)
    }

    pub fn push(&mut self, slot: LogSlot) {
        assert_eq!(slot.header.op, self.op() + 1, "log slots are contiguous");
        self.slots.push_back(slot);
    }

    /// Extend the window one op back: the slot for `base`.
    pub fn prepend(&mut self, slot: LogSlot) {
        assert_eq!(slot.header.op, self.base, "a prepended slot is the one at base");
        assert!(self.base > 0);
        self.slots.push_front(slot);
        self.base -= 1;
    }

    /// The highest op in the window whose body is missing.
    pub fn last_missing_body(&self) -> Option<Op> {
        self.slots.iter().rposition(|slot| slot.body.is_none()).map(|index| self.base + 1 + index as Op)
    }

    /// Keep ops `..= op`.
    pub fn truncate_after(&mut self, op: Op) {
        if op < self.base {
            self.slots.clear();
            self.base = op;
            return;
        }
        self.slots.truncate((op - self.base) as usize);
    }

    /// Drop ops below `op`, so that the window starts at `op`.
    pub fn trim_before(&mut self, op: Op) {
        while self.base + 1 < op {
            if self.slots.pop_front().is_none() {
                self.base = op - 1;
                return;
            }
            self.base += 1;
        }
    }

    /// Empty the window and start it after `base`.
    pub fn reset(&mut self, base: Op) {
        self.slots.clear();
        self.base = base;
    }

    /// The highest op such that every slot from `from + 1` up to it is durable with a body.
    /// A `from` below `base` stays where it is: the ops between are not in the window.
    pub fn durable_through(&self, from: Op) -> Op {
        if from < self.base {
            return from;
        }
        let mut op = from;
        while let Some(slot) = self.get(op + 1) {
            if !slot.durable || slot.body.is_none() {
                break;
            }
            op += 1;
        }
        op
    }

    pub fn slots_after(&self, op: Op) -> impl Iterator<Item = &LogSlot> {
        let skip = op.saturating_sub(self.base) as usize;
        self.slots.iter().skip(skip)
    }

    pub fn view_change_slots(&self) -> alloc::vec::Vec<Slot> {
        self.slots.iter().map(|slot| Slot { header: slot.header, body: slot.body.clone() }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn slot(op: Op) -> LogSlot {
        let entry = Entry::new(op, 0, Body::Requests(vec![]));
        LogSlot { header: entry.header, body: Some(entry.body), durable: true }
    }

    #[test]
    fn window_operations() {
        let mut log = Log::new(10);
        for op in 11..=15 {
            log.push(slot(op));
        }
        assert_eq!(log.op(), 15);
        assert!(log.get(10).is_none());
        assert_eq!(log.get(12).unwrap().header.op, 12);
        log.truncate_after(13);
        assert_eq!(log.op(), 13);
        log.trim_before(13);
        assert_eq!(log.base(), 12);
        assert_eq!(log.get(13).unwrap().header.op, 13);
        log.get_mut(13).unwrap().durable = false;
        assert_eq!(log.durable_through(12), 12);
        assert_eq!(log.durable_through(3), 3);
        log.trim_before(20);
        assert_eq!((log.base(), log.op()), (19, 19));
    }
}
