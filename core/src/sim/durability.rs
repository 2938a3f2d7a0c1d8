//! What the simulator checks of every member's storage, which the replicas cannot see
//! for themselves:
//! - each newly committed op is durable on a majority of the active replicas of the
//!   configuration that prepared it (and of the new one, for a reconfiguration);
//! - every committed op stays durable on a majority of the current configuration, at
//!   every event that may have dropped a durable entry (an install, a checkpoint, a
//!   rewrite, a crash, a lost disk) or changed the configuration;
//! - in both, less one for each active member whose disk was lost and who has not
//!   recovered yet;
//! - no member's durable release goes down, so that an old binary halts at every restart.
//!
//! Durable means stored with its header (a damaged body still counts: it was durable
//! when acknowledged, and damage never nacks) or covered by a checkpoint. Standbys and
//! removed members never count.

use alloc::string::String;
use alloc::vec::Vec;

use super::Simulator;
use crate::replica::Membership;
use crate::types::{MemberId, Op};

impl Simulator {
    fn holders(&self, membership: &Membership, op: Op, checksum: u64) -> usize {
        membership.active().iter().filter(|member| self.members[**member as usize].storage.holds(op, checksum)).count()
    }

    /// The committed configuration now, as the checkers learned it from applied ops.
    pub(super) fn current_membership(&self) -> Membership {
        self.checker
            .reconfigurations
            .values()
            .next_back()
            .cloned()
            .unwrap_or_else(|| Membership::initial(self.config.replicas, self.config.standbys))
    }

    /// How many active members must hold a committed op, and how many disks of the
    /// configuration are lost. A lost disk is a failure until its member recovers:
    /// meanwhile an op may be on that many fewer (one acknowledged just before its
    /// disk went, say), and the recovering member votes in no view change, so every
    /// quorum of the others still meets a holder.
    fn durable_quorum(&self, membership: &Membership) -> (usize, usize) {
        let lost = membership.active().iter().filter(|member| self.disks_lost.contains(member)).count();
        (membership.quorum().saturating_sub(lost).max(1), lost)
    }

    pub(super) fn check_durability(&mut self) {
        self.check_new_commits();
        if core::mem::take(&mut self.storage_shrank) || self.checker.reconfigurations.len() != self.config_changes_seen
        {
            self.config_changes_seen = self.checker.reconfigurations.len();
            self.check_every_commit();
        }
    }

    fn check_new_commits(&mut self) {
        let initial = Membership::initial(self.config.replicas, self.config.standbys);
        let mut violations = Vec::new();
        while self.quorum_checked_commit < self.checker.committed_max {
            let op = self.quorum_checked_commit + 1;
            // An op is checked once some member applied it, so that its checksum is known.
            let Some(checksum) = self.checker.committed_checksum(op) else { break };
            self.quorum_checked_commit = op;
            let changes = &self.checker.reconfigurations;
            let prepared_by = changes.range(..op).next_back().map_or(&initial, |(_, membership)| membership);
            for membership in core::iter::once(prepared_by).chain(changes.get(&op)) {
                let holders = self.holders(membership, op, checksum);
                if holders < self.durable_quorum(membership).0 {
                    violations.push(alloc::format!(
                        "op {op} committed while durable on only {holders} of active replicas {:?}",
                        membership.active()
                    ));
                }
            }
        }
        violations.into_iter().for_each(|violation| self.checker.violation(violation));
    }

    fn check_every_commit(&mut self) {
        let membership = self.current_membership();
        // Below the quorum-th highest checkpoint a quorum covers every op by checkpoints.
        let mut checkpoints: Vec<Op> =
            membership.active().iter().map(|member| self.members[*member as usize].storage.checkpoint_op()).collect();
        checkpoints.sort_unstable_by(|a, b| b.cmp(a));
        let (required, lost) = self.durable_quorum(&membership);
        let covered = checkpoints[required - 1];
        for op in covered + 1..=self.quorum_checked_commit {
            let Some(checksum) = self.checker.committed_checksum(op) else { continue };
            let holders = self.holders(&membership, op, checksum);
            if holders < required {
                let losing = if lost > 0 { alloc::format!(" ({lost} lost disk(s) recovering)") } else { String::new() };
                self.checker.violation(alloc::format!(
                    "committed op {op} is durable on only {holders} of active replicas {:?} now{losing}",
                    membership.active()
                ));
                return;
            }
        }
    }

    /// After a write completed at `member`: its durable release must not go down.
    pub(super) fn check_durable_release(&mut self, member: MemberId) {
        let Some(release) = self.members[member as usize].storage.superblock_release() else { return };
        let highest = &mut self.durable_release_max[member as usize];
        match *highest {
            Some(before) if release < before => {
                self.checker.violation(alloc::format!(
                    "member {member}'s durable release went down from {before} to {release}"
                ));
            }
            _ => *highest = Some(release),
        }
    }
}
