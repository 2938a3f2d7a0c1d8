//! The code a simulated member runs: the current core, natively, or an archived
//! release's module behind the member ABI (see `archive.rs`). The simulator speaks to
//! both through [`MemberCore`]; what it observes of either is a [`MemberState`].
//!
//! Messages to an archived member cross as wire frames (`wire::encode`, exactly what a
//! socket carries) and are decoded by that release's own decoder; its frames out are
//! decoded by the current decoder. So a mixed run tests the wire format for real.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::archive::SharedArchive;
use crate::member_abi::envelope::{
    encode_config, from_exact_bytes, to_bytes, Config, Event, Input, InputReply, Outcome, Output, Start, Summary,
};
use crate::member_abi::options::MemberOptions;
use crate::message::{Message, Request};
use crate::release::Release;
use crate::replica::{Applied, Destination, Durable, Options, Persist, Replica, RequestOutcome, Role};
use crate::state_machine::KvStore;
use crate::status_snapshot::ReportedStatus;
use crate::types::{MemberId, Op, Tick, View};
use crate::upgrade::{Refusal, UpgradeCommand};
use crate::wire;

/// What the simulator and the scenario subjects read of a member that is up, from
/// either engine (for an archived member: its ABI `Summary`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberState {
    pub status: ReportedStatus,
    pub role: Role,
    pub view: View,
    pub log_view: View,
    pub op: Op,
    pub commit: Op,
    pub commit_max: Op,
    /// The committed cluster release, as far as it applied.
    pub release: Release,
    pub primary_hint: MemberId,
    pub serving_primary: bool,
}

/// One message a member sent, decoded for the simulator's network and traces; `frame`
/// is what an archived sender put on the wire, delivered as it is.
#[derive(Clone)]
pub struct Sent {
    pub to: Destination,
    pub message: Message,
    pub frame: Option<Vec<u8>>,
}

/// Everything a member emitted since the last drain.
#[derive(Clone, Default)]
pub struct Drained {
    pub sends: Vec<Sent>,
    pub persists: Vec<Persist>,
    pub applied: Vec<Applied>,
    pub timeout: Option<Tick>,
    /// Frames an archived member sent that the current decoder rejects, by label: a
    /// wire incompatibility, counted and traced.
    pub undecodable: Vec<String>,
}

/// What became of a message handed to a member.
pub enum Delivery {
    Taken,
    /// It decoded and failed validation: the core's reason.
    Invalid(String),
    /// The member's decoder rejected the frame (a binary older than the message's kind).
    Undecodable(String),
}

#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // One per member: a box would only add a hop.
pub enum MemberCore {
    Native(Replica<KvStore>),
    Archived(ArchivedMember),
}

impl MemberCore {
    pub fn native(options: Options, id: MemberId, durable: Option<Durable>, now: Tick) -> MemberCore {
        MemberCore::Native(match durable {
            None => Replica::new_formatted(options, id, KvStore::new(), now),
            Some(durable) => Replica::open(options, id, durable, KvStore::new(), now),
        })
    }

    pub fn replica(&self) -> Option<&Replica<KvStore>> {
        match self {
            MemberCore::Native(replica) => Some(replica),
            MemberCore::Archived(_) => None,
        }
    }

    /// The archived release this member runs, if it runs one.
    pub fn archived_release(&self) -> Option<Release> {
        match self {
            MemberCore::Native(_) => None,
            MemberCore::Archived(member) => Some(member.release),
        }
    }

    pub fn state(&self) -> MemberState {
        match self {
            MemberCore::Native(replica) => MemberState {
                status: replica.reported_status(),
                role: replica.role(),
                view: replica.view(),
                log_view: replica.log_view(),
                op: replica.op(),
                commit: replica.commit(),
                commit_max: replica.commit_max(),
                release: replica.release(),
                primary_hint: replica.primary_hint(),
                serving_primary: replica.is_serving_primary(),
            },
            MemberCore::Archived(member) => member.state(),
        }
    }

    /// `Replica::state_digest` (not in [`MemberState`]: it costs a pass over the sessions).
    pub fn state_digest(&self) -> u64 {
        match self {
            MemberCore::Native(replica) => replica.state_digest(),
            MemberCore::Archived(member) => member.summary.state_digest,
        }
    }

    /// When the member next wants a timeout.
    pub fn poll_timeout(&self) -> Option<Tick> {
        match self {
            MemberCore::Native(replica) => replica.poll_timeout(),
            MemberCore::Archived(member) => member.timeout,
        }
    }

    pub fn halt_reason(&self) -> Option<String> {
        match self {
            MemberCore::Native(replica) => replica.halt_reason().map(|reason| reason.to_string()),
            MemberCore::Archived(member) => member.summary.halt_reason.clone(),
        }
    }

    pub fn timeout(&mut self, now: Tick) {
        match self {
            MemberCore::Native(replica) => replica.handle_timeout(now),
            MemberCore::Archived(member) => member.done(now, Event::Timeout),
        }
    }

    pub fn persisted(&mut self, now: Tick, id: u64) {
        match self {
            MemberCore::Native(replica) => replica.handle_persisted(now, id),
            MemberCore::Archived(member) => member.done(now, Event::Persisted { id }),
        }
    }

    pub fn verified(&mut self, now: Tick, op: Op, checksum: u64, intact: bool) {
        match self {
            MemberCore::Native(replica) => replica.handle_verified(now, op, checksum, intact),
            MemberCore::Archived(member) => member.done(now, Event::Verified { op, checksum, intact }),
        }
    }

    pub fn message(&mut self, now: Tick, message: Message, frame: Option<Vec<u8>>) -> Delivery {
        match self {
            MemberCore::Native(replica) => {
                replica.handle_message(now, message);
                replica.take_invalid_reason().map_or(Delivery::Taken, |reason| Delivery::Invalid(String::from(reason)))
            }
            MemberCore::Archived(member) => {
                let frame = frame.unwrap_or_else(|| wire::encode(member.cluster, &message));
                match member.call(now, Event::Message(frame)) {
                    Outcome::BadFrame(label) => Delivery::Undecodable(label),
                    Outcome::Invalid(reason) => Delivery::Invalid(reason),
                    _ => Delivery::Taken,
                }
            }
        }
    }

    /// A request from this member's own host (a node's client): what became of it.
    pub fn request(&mut self, now: Tick, request: Request) -> RequestOutcome {
        match self {
            MemberCore::Native(replica) => replica.handle_request(now, request),
            MemberCore::Archived(member) => {
                let frame = wire::encode(member.cluster, &Message::Request(request));
                match member.call(now, Event::Request(frame)) {
                    Outcome::Request(outcome) => outcome,
                    other => panic!("archived release {} answered a request with {other:?}", member.release),
                }
            }
        }
    }

    pub fn upgrade_command(&mut self, now: Tick, command: UpgradeCommand) -> Result<(), Refusal> {
        match self {
            MemberCore::Native(replica) => replica.handle_upgrade_command(now, command),
            MemberCore::Archived(member) => member.operator(now, Event::Upgrade(command)),
        }
    }

    pub fn promote(&mut self, now: Tick, standby: MemberId, replace: Option<MemberId>) -> Result<(), Refusal> {
        match self {
            MemberCore::Native(replica) => replica.handle_promote(now, standby, replace),
            MemberCore::Archived(member) => member.operator(now, Event::Promote { standby, replace }),
        }
    }

    /// Everything queued since the last drain, and when the member next wants a timeout.
    pub fn drain(&mut self) -> Drained {
        match self {
            MemberCore::Native(replica) => Drained {
                sends: core::iter::from_fn(|| replica.poll_send())
                    .map(|outgoing| Sent { to: outgoing.to, message: outgoing.message, frame: None })
                    .collect(),
                persists: core::iter::from_fn(|| replica.poll_persist()).collect(),
                applied: core::iter::from_fn(|| replica.poll_applied()).collect(),
                timeout: replica.poll_timeout(),
                undecodable: Vec::new(),
            },
            MemberCore::Archived(member) => {
                let mut drained = core::mem::take(&mut member.queued);
                drained.timeout = member.timeout;
                drained
            }
        }
    }
}

/// A member running an archived release's module, held by the host's archive.
pub struct ArchivedMember {
    archive: SharedArchive,
    handle: u32,
    release: Release,
    cluster: u64,
    summary: Summary,
    timeout: Option<Tick>,
    queued: Drained,
}

impl ArchivedMember {
    /// Create (formatted, or opened from `durable`) and poll once, as the ABI asks.
    pub fn create(
        archive: SharedArchive,
        release: Release,
        options: &Options,
        id: MemberId,
        durable: Option<Durable>,
        now: Tick,
    ) -> Result<ArchivedMember, String> {
        let start = durable.map_or(Start::Formatted, Start::Open);
        let config = Config { id, now, options: MemberOptions::from(options), start };
        let bytes = encode_config(crate::member_abi::envelope::MEMBER_ABI_VERSION, &config);
        let handle = archive.borrow_mut().create(release, &bytes)?;
        let summary = Summary {
            status: String::from("normal"),
            role: String::new(),
            view: 0,
            log_view: 0,
            op: 0,
            commit: 0,
            commit_max: 0,
            durable_op: 0,
            checkpoint_op: 0,
            release,
            primary_hint: 0,
            serving_primary: false,
            state_digest: 0,
            halt_reason: None,
        };
        let mut member = ArchivedMember {
            archive,
            handle,
            release,
            cluster: options.cluster,
            summary,
            timeout: None,
            queued: Drained::default(),
        };
        member.done(now, Event::Poll);
        Ok(member)
    }

    fn state(&self) -> MemberState {
        let summary = &self.summary;
        MemberState {
            status: ReportedStatus::from_name(&summary.status).unwrap_or(ReportedStatus::Halted),
            role: Role::from_name(&summary.role).unwrap_or(Role::Removed),
            view: summary.view,
            log_view: summary.log_view,
            op: summary.op,
            commit: summary.commit,
            commit_max: summary.commit_max,
            release: summary.release,
            primary_hint: summary.primary_hint,
            serving_primary: summary.serving_primary,
        }
    }

    fn done(&mut self, now: Tick, event: Event) {
        let _ = self.call(now, event);
    }

    fn operator(&mut self, now: Tick, event: Event) -> Result<(), Refusal> {
        match self.call(now, event) {
            Outcome::Refused(code) => Err(Refusal::from_code(&code).unwrap_or_else(|| {
                panic!("archived release {} refused an operator command with an unknown code {code:?}", self.release)
            })),
            _ => Ok(()),
        }
    }

    /// One input; its outputs are queued for the next drain. An archived core that
    /// breaks (a trap: its assertion failed) stops the run, as a native panic does.
    fn call(&mut self, now: Tick, event: Event) -> Outcome {
        let input = to_bytes(&Input { now, event });
        let reply = self.archive.borrow_mut().input(self.handle, &input);
        let output = match reply.as_deref().map(from_exact_bytes::<InputReply>) {
            Ok(Ok(InputReply::Output(output))) => output,
            Ok(Ok(other)) => panic!("archived release {} answered {other:?}", self.release),
            Ok(Err(why)) => panic!("archived release {} answered bytes that are no InputReply: {why}", self.release),
            Err(why) => panic!("archived release {} failed: {why}", self.release),
        };
        self.take(output)
    }

    fn take(&mut self, output: Output) -> Outcome {
        let Output { outcome, sends, persists, applied, timeout, unsendable, summary } = output;
        assert!(unsendable.is_empty(), "archived release {} could not send {unsendable:?}", self.release);
        for outbound in sends {
            match wire::decode(self.cluster, &outbound.frame) {
                Ok((message, used)) if used == outbound.frame.len() => {
                    self.queued.sends.push(Sent { to: outbound.to, message, frame: Some(outbound.frame) });
                }
                Ok(_) => self.queued.undecodable.push(String::from("trailing_bytes")),
                Err(error) => self.queued.undecodable.push(String::from(error.label())),
            }
        }
        self.queued.persists.extend(persists);
        self.queued.applied.extend(applied);
        self.timeout = timeout;
        self.summary = summary;
        outcome
    }
}

impl Clone for ArchivedMember {
    fn clone(&self) -> Self {
        let handle = self
            .archive
            .borrow_mut()
            .duplicate(self.handle)
            .unwrap_or_else(|why| panic!("cannot copy an archived {} member: {why}", self.release));
        ArchivedMember {
            archive: self.archive.clone(),
            handle,
            release: self.release,
            cluster: self.cluster,
            summary: self.summary.clone(),
            timeout: self.timeout,
            queued: self.queued.clone(),
        }
    }
}

impl Drop for ArchivedMember {
    fn drop(&mut self) {
        if let Ok(mut archive) = self.archive.try_borrow_mut() {
            archive.forget(self.handle);
        }
    }
}
