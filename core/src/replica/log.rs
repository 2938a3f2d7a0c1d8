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

/// Slots `base + 1 ..= op`, every one with a known header, each the child of the one
/// before (`Header::parent`). Ops at or below `base` are covered by a checkpoint (or
/// were never retained).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    base: Op,
    /// The checksum of the entry at `base`, when known: the parent of the first slot.
    base_checksum: Option<u64>,
    slots: VecDeque<LogSlot>,
}

impl Log {
    pub fn new(base: Op, base_checksum: Option<u64>) -> Self {
        Self { base, base_checksum, slots: VecDeque::new() }
    }

    pub fn base(&self) -> Op {
        self.base
    }

    /// The checksum the next slot's header must name as its parent, when known.
    pub fn next_parent(&self) -> Option<u64> {
        self.slots.back().map(|slot| slot.header.checksum).or(self.base_checksum)
    }

    /// Whether `header` may follow the window's last slot.
    pub fn chains(&self, header: &Header) -> bool {
        header.op == self.op() + 1 && self.next_parent().is_none_or(|parent| parent == header.parent)
    }

    /// The checksum of the entry at `op`, when the window knows it (its own slots, or
    /// the one at `base`).
    pub fn checksum_at(&self, op: Op) -> Option<u64> {
        if op == self.base {
            return self.base_checksum.or_else(|| self.slots.front().map(|slot| slot.header.parent));
        }
        self.header(op).map(|header| header.checksum)
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
        assert!(
            self.chains(&slot.header),
            "log slots are contiguous and chained: op {} after {}",
            slot.header.op,
            self.op()
        );
        if self.slots.is_empty() && self.base_checksum.is_none() {
            self.base_checksum = Some(slot.header.parent);
        }
        self.slots.push_back(slot);
    }

    /// Extend the window one op back: the slot for `base`.
    pub fn prepend(&mut self, slot: LogSlot) {
        assert_eq!(slot.header.op, self.base, "a prepended slot is the one at base");
        assert!(self.base > 0);
        assert!(self.base_checksum.is_none_or(|checksum| checksum == slot.header.checksum), "a prepended slot chains");
        self.base_checksum = Some(slot.header.parent);
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
            self.reset(op, None);
            return;
        }
        self.slots.truncate((op - self.base) as usize);
    }

    /// Drop ops below `op`, so that the window starts at `op`.
    pub fn trim_before(&mut self, op: Op) {
        while self.base + 1 < op {
            match self.slots.pop_front() {
                Some(slot) => self.base_checksum = Some(slot.header.checksum),
                None => {
                    self.reset(op - 1, None);
                    return;
                }
            }
            self.base += 1;
        }
    }

    /// Empty the window and start it after `base`, whose checksum is `base_checksum`.
    pub fn reset(&mut self, base: Op, base_checksum: Option<u64>) {
        self.slots.clear();
        self.base = base;
        self.base_checksum = if base == 0 { Some(0) } else { base_checksum };
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

    /// Whether the slots `above + 1 ..= top` are the chain that ends in an entry with
    /// checksum `checksum` at `top`: each names the one below it as its parent.
    pub fn chain_ends_at(&self, top: Op, checksum: u64, above: Op) -> bool {
        let mut expected = checksum;
        let mut op = top;
        while op > above {
            match self.header(op) {
                Some(header) if header.checksum == expected => expected = header.parent,
                _ => return false,
            }
            op -= 1;
        }
        true
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
        let entry = Entry::new(op, 0, op - 1, Body::Requests(vec![]));
        LogSlot { header: entry.header, body: Some(entry.body), durable: true }
    }

    /// A chain of slots after `base`: each names the one before as its parent.
    fn chain(base: Op, count: u64) -> (Option<u64>, alloc::vec::Vec<LogSlot>) {
        let mut parent = 1000 + base;
        let mut slots = alloc::vec::Vec::new();
        for op in base + 1..=base + count {
            let entry = Entry::new(op, 0, parent, Body::Requests(vec![]));
            parent = entry.header.checksum;
            slots.push(LogSlot { header: entry.header, body: Some(entry.body), durable: true });
        }
        (Some(1000 + base), slots)
    }

    #[test]
    fn slots_chain_to_their_parents() {
        let (base_checksum, slots) = chain(10, 3);
        let mut log = Log::new(10, base_checksum);
        for slot in slots {
            log.push(slot);
        }
        let stranger = slot(14);
        assert!(!log.chains(&stranger.header), "a slot of another history does not follow");
        let (_, others) = chain(13, 1);
        assert!(!log.chains(&others[0].header));
        assert_eq!(log.checksum_at(10), Some(1010));
        log.trim_before(12);
        assert_eq!(log.checksum_at(11), log.get(12).map(|slot| slot.header.parent));
    }

    #[test]
    fn window_operations() {
        let (base_checksum, slots) = chain(10, 5);
        let mut log = Log::new(10, base_checksum);
        for slot in slots {
            log.push(slot);
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
