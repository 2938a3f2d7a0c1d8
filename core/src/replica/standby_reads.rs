//! Reads at standbys (`standby_reads`, from 1.3.0): a standby answers a read-only
//! command from its own applied state.
//!
//! The guarantee is bounded staleness and monotonic reads per client, not
//! linearizability: the state is at most `standby_read_lag_ops` behind the commit the
//! standby knows, that commit is its primary's as of a moment within the primary's
//! lease (no other primary can have committed anything since: `heartbeat.rs`), and it
//! is never older than what the client has already seen (`min_op`). A standby cut off
//! with a primary that lost its quorum stops answering once the lease it was given
//! runs out.

use super::read_refusal::ReadRefusal;
use super::{Destination, Outgoing, Replica, Role, Status};
use crate::message::{Message, ReadRequest, Reply};
use crate::release::Feature;
use crate::state_machine::{KvCommand, KvResult, StateMachine};

impl<S: StateMachine> Replica<S> {
    /// The spec's codes, in its order: `feature-off`, `not-standby`, `too-stale`.
    fn standby_read_refusal(&self, read: &ReadRequest) -> Option<ReadRefusal> {
        if !self.feature_enabled(Feature::StandbyReads) {
            // The cluster may have turned reads on in an op this standby has not
            // applied yet: it is behind, not without the feature.
            let announced = Feature::StandbyReads.enabled_at(self.announced_release);
            return Some(if announced { ReadRefusal::TooStale } else { ReadRefusal::FeatureOff });
        }
        if self.role() != Role::Standby {
            return Some(ReadRefusal::NotStandby);
        }
        let stale = self.status() != Status::Normal
            || self.awaiting_checkpoint
            || self.now >= self.read_lease_until
            || self.commit_max.saturating_sub(self.applied) > self.options.standby_read_lag_ops
            || self.applied < read.min_op;
        stale.then_some(ReadRefusal::TooStale)
    }

    pub(super) fn on_read_request(&mut self, read: ReadRequest) {
        let result = match self.standby_read_refusal(&read) {
            Some(refusal) => KvResult::Error(refusal.code().into()).encode(),
            None => match KvCommand::decode(&read.operation) {
                // Only reads: the state machine must not change outside the log.
                Some(command) if command.is_read_only() => self.state.apply(self.upgrade.release, &read.operation),
                _ => KvResult::Error(ReadRefusal::NotReadOnly.code().into()).encode(),
            },
        };
        let reply = Reply { view: self.view, client: read.client, request: read.request, op: self.applied, result };
        self.outbox.push_back(Outgoing { to: Destination::Client(read.client), message: Message::Reply(reply) });
    }
}
