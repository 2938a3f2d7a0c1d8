//! What a member is doing, with the state that only that phase has.
//!
//! The view-change round (votes, DoViewChanges, where ours went, the log being
//! installed) lives in `Phase::ViewChange`, the recovery nonce and answers in
//! `Phase::Recovering`, the reason in `Phase::Halted`. Entering a phase builds its
//! state afresh, so nothing of one round can leak into the next; the replica's other
//! fields are the ones that outlive a phase.

use alloc::collections::BTreeMap;

use super::{HaltReason, Status};
use crate::message::{DoViewChange, RecoveryResponse};
use crate::types::MemberId;

#[derive(Clone, Debug)]
pub(super) enum Phase {
    Normal,
    ViewChange(ViewChangeRound),
    Recovering(RecoveryRound),
    Halted(HaltReason),
}

impl Phase {
    pub(super) fn status(&self) -> Status {
        match self {
            Phase::Normal => Status::Normal,
            Phase::ViewChange(_) => Status::ViewChange,
            Phase::Recovering(_) => Status::Recovering,
            Phase::Halted(_) => Status::Halted,
        }
    }
}

/// One round of a view change, for the member's current view.
#[derive(Clone, Debug)]
pub(super) struct ViewChangeRound {
    /// Members whose StartViewChange (or DoViewChange) for this view we heard, by bit.
    pub(super) svc_votes: u32,
    /// The DoViewChanges sent to this member for this view, by sender.
    pub(super) dvcs: BTreeMap<MemberId, DoViewChange>,
    /// Where this member sent its DoViewChange for the view: one member, for good.
    pub(super) dvc_target: Option<MemberId>,
    /// This member adopted the view's log as its primary and waits for it to be durable.
    pub(super) installing: bool,
}

impl ViewChangeRound {
    /// A round that has only this member's own vote.
    pub(super) fn new(me: MemberId) -> Self {
        Self { svc_votes: 1 << me, dvcs: BTreeMap::new(), dvc_target: None, installing: false }
    }
}

/// A recovery from a lost disk (VRR): the nonce our Recovery carried, and the answers.
#[derive(Clone, Debug)]
pub(super) struct RecoveryRound {
    pub(super) nonce: u64,
    pub(super) responses: BTreeMap<MemberId, RecoveryResponse>,
}

impl RecoveryRound {
    pub(super) fn new(nonce: u64) -> Self {
        Self { nonce, responses: BTreeMap::new() }
    }
}
