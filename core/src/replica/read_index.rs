//! `read_index` (1.4.0): linearizable reads at the primary without a log entry.
//!
//! As Raft's ReadIndex: a read that reaches the primary notes the primary's last op
//! (every op committed before the read arrived is in this primary's log, even one an
//! older view committed and this one has yet to), and waits for a round of
//! `ConfirmPrimacy` sent after it arrived. Once a quorum of voters, normal in this
//! view, answered that round, no other primary had been chosen when they did (each
//! would have had to leave this view first), so the state at the noted op is at least
//! as new as anything acknowledged before the read. The read runs once that op is
//! applied: no disk write, no log growth.
//!
//! Rounds are batched: reads only ask for one, and the round goes out when the host
//! next drains this member's messages (`poll_send`), covering every read that asked
//! since the last one. A lost round or answer is made good by asking again at each
//! heartbeat while reads wait, and when a client resends one. Waiting reads are
//! bounded by `request_queue_max`; a view change drops them unanswered, and their
//! clients resend to the new primary.

use alloc::collections::VecDeque;

use super::{Outgoing, Replica};
use crate::message::{ConfirmPrimacy, Message, PrimacyConfirmed, Reply, Request};
use crate::release::Feature;
use crate::state_machine::{KvCommand, StateMachine};
use crate::types::{Op, View, MEMBERS_MAX};

/// A read waiting for its round and its op.
#[derive(Clone, Debug)]
struct WaitingRead {
    request: Request,
    view: View,
    /// The primary's last op when the read arrived: the state it must see.
    read_op: Op,
    /// The round that confirms it; 0 until that round is sent.
    round: u64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct ReadIndex {
    waiting: VecDeque<WaitingRead>,
    /// The view the rounds below belong to.
    view: View,
    /// The newest round sent in `view`.
    sent_round: u64,
    /// The newest round each voter confirmed in `view`.
    confirmed_by: [u64; MEMBERS_MAX],
    /// A read asked for a round not sent yet.
    round_wanted: bool,
}

impl ReadIndex {
    pub(super) fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether this read (a client's resend) waits already.
    pub(super) fn waits_for(&self, request: &Request) -> bool {
        self.waiting.iter().any(|read| read.request.client == request.client && read.request.request >= request.request)
    }
}

impl<S: StateMachine> Replica<S> {
    /// Whether the primary serves `request` by read_index: a read-only command once the
    /// cluster runs 1.4.0. Registrations and writes go through the log.
    pub(super) fn reads_by_index(&self, request: &Request) -> bool {
        Feature::ReadIndex.enabled_at(self.upgrade.release)
            && !request.is_register()
            && KvCommand::is_read_only_encoded(&request.operation)
    }

    /// Takes a read (the caller checked the queue's bound and the primary's status).
    pub(super) fn queue_indexed_read(&mut self, request: Request) {
        self.reset_rounds_for_view();
        let read = WaitingRead { request, view: self.view, read_op: self.log.op(), round: 0 };
        self.read_index.waiting.push_back(read);
        self.read_index.round_wanted = true;
    }

    /// A round or its answers may be lost: reads still waiting ask for another (on
    /// the heartbeat, and when a client resends one). Any later round a quorum confirms
    /// covers them, as it was sent after they arrived.
    pub(super) fn ask_again_for_waiting_reads(&mut self) {
        if !self.read_index.waiting.is_empty() {
            self.read_index.round_wanted = true;
        }
    }

    fn reset_rounds_for_view(&mut self) {
        if self.read_index.view != self.view {
            self.read_index = ReadIndex { view: self.view, ..ReadIndex::default() };
        }
    }

    /// Sends the round reads asked for, if any: called as the host drains messages.
    pub(super) fn send_wanted_round(&mut self) {
        if !self.read_index.round_wanted {
            return;
        }
        self.read_index.round_wanted = false;
        if !self.is_serving_primary() {
            self.read_index.waiting.clear();
            return;
        }
        self.reset_rounds_for_view();
        self.read_index.sent_round += 1;
        let round = self.read_index.sent_round;
        for read in self.read_index.waiting.iter_mut().filter(|read| read.round == 0) {
            read.round = round;
        }
        self.read_index.confirmed_by[self.id as usize] = round;
        let message = ConfirmPrimacy { view: self.view, from: self.id, round };
        for member in self.voters_to_confirm() {
            self.outbox.push_back(Outgoing {
                to: super::Destination::Member(member),
                message: Message::ConfirmPrimacy(message.clone()),
            });
        }
        // A cluster of one confirms itself.
        self.serve_indexed_reads();
    }

    /// Every voter but this member, of both configurations while one is changing.
    fn voters_to_confirm(&self) -> alloc::vec::Vec<crate::types::MemberId> {
        let mut voters: alloc::vec::Vec<_> = self.membership().active().to_vec();
        if let Some((_, old)) = self.pending_reconfig() {
            voters.extend_from_slice(old.active());
        }
        voters.sort_unstable();
        voters.dedup();
        voters.retain(|member| *member != self.id);
        voters
    }

    /// A backup answers only while normal in the primary's view: having answered, it
    /// joins no other view without leaving this one first.
    pub(super) fn on_confirm_primacy(&mut self, confirm: ConfirmPrimacy) {
        if confirm.view != self.view || self.status() != super::Status::Normal || self.is_primary() {
            return;
        }
        if self.role() != super::Role::Active {
            return;
        }
        let answer = PrimacyConfirmed { view: self.view, from: self.id, round: confirm.round };
        self.send(confirm.from, Message::PrimacyConfirmed(answer));
    }

    pub(super) fn on_primacy_confirmed(&mut self, confirmed: PrimacyConfirmed) {
        if confirmed.view != self.view || !self.is_serving_primary() || self.read_index.view != self.view {
            return;
        }
        let slot = &mut self.read_index.confirmed_by[confirmed.from as usize];
        *slot = (*slot).max(confirmed.round.min(self.read_index.sent_round));
        self.serve_indexed_reads();
    }

    /// The newest round a quorum (of both configurations while one changes) confirmed.
    fn quorum_confirmed_round(&self) -> u64 {
        let confirmed = |membership: &super::Membership| {
            let mut rounds: alloc::vec::Vec<u64> =
                membership.active().iter().map(|member| self.read_index.confirmed_by[*member as usize]).collect();
            rounds.sort_unstable_by(|a, b| b.cmp(a));
            rounds[membership.quorum() - 1]
        };
        let mut round = confirmed(self.membership());
        if let Some((_, old)) = self.pending_reconfig() {
            round = round.min(confirmed(old));
        }
        round
    }

    /// Answers every read whose round a quorum confirmed and whose op is applied, in
    /// arrival order. Called when a round is confirmed and when ops are applied.
    pub(super) fn serve_indexed_reads(&mut self) {
        if self.read_index.waiting.is_empty() {
            return;
        }
        if !self.is_serving_primary() {
            self.read_index.waiting.clear();
            return;
        }
        let confirmed = self.quorum_confirmed_round();
        while let Some(read) = self.read_index.waiting.front() {
            if read.view != self.view {
                self.read_index.waiting.pop_front();
                continue;
            }
            if read.round == 0 || read.round > confirmed || read.read_op > self.applied {
                break;
            }
            let read = self.read_index.waiting.pop_front().expect("just seen");
            // A read-only command by its first byte: if the rest does not decode, the
            // state machine answers it as malformed and changes nothing.
            let result = self.state.apply(self.upgrade.release, &read.request.operation);
            let reply = Reply {
                view: self.view,
                client: read.request.client,
                request: read.request.request,
                op: self.applied,
                result,
            };
            self.counters.reads_by_index += 1;
            self.outbox.push_back(Outgoing {
                to: super::Destination::Client(read.request.client),
                message: Message::Reply(reply),
            });
        }
    }
}
