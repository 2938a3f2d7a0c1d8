//! `upgrade-target` reads the release the primary is moving the cluster to: an
//! `Upgrade` entry in flight, or else the operator's pending proposal, which the core
//! projects from the committed upgrade state and the upgrade entries in its log
//! (`Replica::upgrade_target`). Member ABI 1 does not report it, so for a primary that
//! runs archived code the simulator projects it the same way from what it can see:
//! every write each member makes (so, each member's log as it holds it) and the ops
//! the checkers saw committed.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::message::{Body, Entry};
use crate::release::Release;
use crate::replica::{Durable, StoredEntry, Write};
use crate::types::{MemberId, Op};
use crate::upgrade::{UpgradeCommand, UpgradeState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UpgradeBody {
    Control(UpgradeCommand),
    Upgrade(Release),
}

impl UpgradeBody {
    fn of(body: &Body) -> Option<UpgradeBody> {
        match body {
            Body::UpgradeControl(command) => Some(UpgradeBody::Control(*command)),
            Body::Upgrade { release } => Some(UpgradeBody::Upgrade(*release)),
            _ => None,
        }
    }

    fn apply(self, state: &mut UpgradeState, op: Op) {
        match self {
            UpgradeBody::Control(command) => state.apply_command(op, command),
            UpgradeBody::Upgrade(release) => state.apply_upgrade(op, release),
        }
    }
}

#[derive(Clone)]
pub struct UpgradeWatch {
    /// Every upgrade entry any member wrote, by op and checksum.
    written: BTreeMap<(Op, u64), UpgradeBody>,
    /// Each member's log as it holds it: its upgrade entries, by op.
    logs: Vec<BTreeMap<Op, UpgradeBody>>,
    /// The upgrade state committed through `committed_through`.
    committed: UpgradeState,
    committed_through: Op,
}

impl UpgradeWatch {
    pub fn new(release: Release, members: usize) -> Self {
        UpgradeWatch {
            written: BTreeMap::new(),
            logs: alloc::vec![BTreeMap::new(); members],
            committed: UpgradeState::new(release),
            committed_through: 0,
        }
    }

    fn hold(&mut self, member: MemberId, op: Op, checksum: u64, body: Option<&Body>) {
        let log = &mut self.logs[member as usize];
        match body.and_then(UpgradeBody::of) {
            Some(upgrade) => {
                log.insert(op, upgrade);
                self.written.insert((op, checksum), upgrade);
            }
            None => {
                log.remove(&op);
            }
        }
    }

    fn hold_entry(&mut self, member: MemberId, entry: &Entry) {
        self.hold(member, entry.header.op, entry.header.checksum, Some(&entry.body));
    }

    /// A write `member` queued: its log holds what it wrote from now on.
    pub fn on_write(&mut self, member: MemberId, write: &Write) {
        match write {
            Write::Entry(entry) => self.hold_entry(member, entry),
            Write::Install { truncate_after, slots, .. } => {
                self.logs[member as usize].retain(|op, _| op <= truncate_after);
                for slot in slots {
                    self.hold(member, slot.header.op, slot.header.checksum, slot.body.as_ref());
                }
            }
            Write::Checkpoint { retain_from, .. } => self.logs[member as usize].retain(|op, _| op >= retain_from),
            Write::Superblock(_) | Write::Verify { .. } => {}
        }
    }

    /// `member` starts from `durable` (empty: a fresh or lost disk).
    pub fn on_boot(&mut self, member: MemberId, durable: Option<&Durable>) {
        self.logs[member as usize].clear();
        for stored in durable.map(|durable| durable.entries.as_slice()).unwrap_or_default() {
            if let StoredEntry::Intact(entry) = stored {
                self.hold_entry(member, entry);
            }
        }
    }

    /// Follow the committed ops in order while their checksums are known.
    pub fn advance(&mut self, committed_checksum: impl Fn(Op) -> Option<u64>) {
        while let Some(checksum) = committed_checksum(self.committed_through + 1) {
            let op = self.committed_through + 1;
            if let Some(upgrade) = self.written.get(&(op, checksum)) {
                upgrade.apply(&mut self.committed, op);
            }
            self.committed_through = op;
        }
    }

    /// What `primary`, with `commit_max` and its log through `op`, is moving to.
    /// The cluster's committed upgrade state (release, auto, history), as far as the
    /// checker saw ops commit.
    pub fn committed(&self) -> &UpgradeState {
        &self.committed
    }

    pub fn target(&self, primary: MemberId, commit_max: Op, op: Op) -> Option<Release> {
        let log = &self.logs[primary as usize];
        // `range` refuses a start past its end: an empty suffix is no range at all.
        let after = |from: Op| log.range(from..).take_while(move |(at, _)| **at <= op);
        let in_flight = after(commit_max + 1).find_map(|(_, upgrade)| match upgrade {
            UpgradeBody::Upgrade(release) => Some(*release),
            UpgradeBody::Control(_) => None,
        });
        let mut projected = self.committed.clone();
        for (at, upgrade) in after(self.committed_through + 1) {
            upgrade.apply(&mut projected, *at);
        }
        in_flight.or(projected.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Header;

    fn entry(op: Op, checksum: u64, body: Body) -> Write {
        Write::Entry(Entry { header: Header { op, view: 0, parent: 0, checksum }, body })
    }

    const V1_1: Release = Release::new(1, 1, 0);
    const V1_2: Release = Release::new(1, 2, 0);

    #[test]
    fn a_proposal_is_the_target_until_its_upgrade_commits() {
        let mut watch = UpgradeWatch::new(V1_1, 3);
        watch.on_write(0, &entry(1, 11, Body::UpgradeControl(UpgradeCommand::Propose(V1_2))));
        assert_eq!(watch.target(0, 0, 1), Some(V1_2), "pending in the primary's log");
        assert_eq!(watch.target(1, 0, 1), None, "member 1 holds no such entry");
        watch.on_write(0, &entry(2, 12, Body::Upgrade { release: V1_2 }));
        watch.advance(|op| [None, Some(11), Some(12)].get(op as usize).copied().flatten());
        assert_eq!(watch.target(0, 2, 2), None, "the upgrade committed: nothing pending");
    }

    #[test]
    fn an_upgrade_entry_in_flight_is_the_target_and_a_truncation_drops_it() {
        let mut watch = UpgradeWatch::new(V1_1, 3);
        watch.on_write(0, &entry(1, 21, Body::Upgrade { release: V1_2 }));
        assert_eq!(watch.target(0, 0, 1), Some(V1_2));
        let install = Write::Install {
            superblock: crate::replica::Superblock { view: 1, log_view: 1, log_start: 0, release: V1_1 },
            truncate_after: 0,
            slots: Vec::new(),
        };
        watch.on_write(0, &install);
        assert_eq!(watch.target(0, 0, 1), None, "the view change dropped the entry");
        // A committed op whose entry was never seen leaves the projection where it is.
        watch.advance(|op| (op == 1).then_some(99));
        assert_eq!(watch.target(0, 1, 1), None);
    }
}
