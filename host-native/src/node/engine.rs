//! The code a node runs: the current core natively, or, for a member whose configured
//! binary release is one this binary carries in its archive (releases/1.3.0/), that
//! release's real code, compiled to wasm and driven through the member ABI in
//! wasmtime. So the 1.4.0 binary carries its predecessor, as TigerBeetle's
//! multiversion binaries do, and a rolling upgrade from 1.3.0 runs the real 1.3.0 code
//! until each member is restarted with 1.4.0.
//!
//! The choice is the member's configured binary release (`--binary-release`, or the
//! cluster file), made once at start: a member never switches code while it runs.
//! The switch is the restart an upgrade asks for anyway, onto the same data directory:
//! both codes read and write the one storage format the member ABI pins.

use std::collections::VecDeque;

use viewstamp_core::message::{Message, Request};
use viewstamp_core::release::Release;
use viewstamp_core::replica::{Destination, Durable, Membership, Options, Persist, Replica, RequestOutcome, Status};
use viewstamp_core::sim::archive::SharedArchive;
use viewstamp_core::sim::engine::{ArchivedMember, MemberCore};
use viewstamp_core::sim::status::status_of_state;
use viewstamp_core::state_machine::KvStore;
use viewstamp_core::status_snapshot::{ReportedStatus, StatusSnapshot};
use viewstamp_core::types::{MemberId, Op, Tick, View};
use viewstamp_core::upgrade::{Refusal, UpgradeCommand};

use crate::wasm_engine::shared_archive;

/// One message out: `frame` is what an archived core put on the wire, sent as it is.
pub struct Outgoing {
    pub to: Destination,
    pub message: Message,
    pub frame: Option<Vec<u8>>,
}

pub enum NodeCore {
    Native(Box<Replica<KvStore>>),
    Archived(Box<ArchivedCore>),
}

/// An archived release's core and what it emitted, queued for the node to drain.
pub struct ArchivedCore {
    member: MemberCore,
    id: MemberId,
    /// Its `binary_release` is the archived release it runs.
    options: Options,
    sends: VecDeque<Outgoing>,
    persists: VecDeque<Persist>,
}

impl NodeCore {
    /// Open `durable` with the code for `options.binary_release`: its archived module
    /// when this binary carries one (unless `emulated`), else the current core.
    pub fn open(options: Options, id: MemberId, durable: Durable, now: Tick, emulated: bool) -> Result<Self, String> {
        let release = options.binary_release;
        let archive = shared_archive();
        if emulated || !archive.borrow_mut().releases().contains(&release) {
            return Ok(NodeCore::Native(Box::new(Replica::open(options, id, durable, KvStore::new(), now))));
        }
        Ok(NodeCore::Archived(Box::new(ArchivedCore::open(archive, options, id, durable, now)?)))
    }

    /// The archived release whose real code runs here, if one does.
    pub fn archived_release(&self) -> Option<Release> {
        match self {
            NodeCore::Native(_) => None,
            NodeCore::Archived(core) => Some(core.options.binary_release),
        }
    }

    pub fn id(&self) -> MemberId {
        match self {
            NodeCore::Native(replica) => replica.id(),
            NodeCore::Archived(core) => core.id,
        }
    }

    pub fn options(&self) -> &Options {
        match self {
            NodeCore::Native(replica) => replica.options(),
            NodeCore::Archived(core) => &core.options,
        }
    }

    pub fn binary_release(&self) -> Release {
        self.options().binary_release
    }

    /// The committed cluster release, as far as this member applied.
    pub fn release(&self) -> Release {
        match self {
            NodeCore::Native(replica) => replica.release(),
            NodeCore::Archived(core) => core.member.state().release,
        }
    }

    pub fn view(&self) -> View {
        match self {
            NodeCore::Native(replica) => replica.view(),
            NodeCore::Archived(core) => core.member.state().view,
        }
    }

    pub fn primary_hint(&self) -> MemberId {
        match self {
            NodeCore::Native(replica) => replica.primary_hint(),
            NodeCore::Archived(core) => core.member.state().primary_hint,
        }
    }

    /// The host is stopping: a serving primary hands over first (see
    /// `Replica::step_down`). Member ABI 1 has no such input: an archived core's
    /// backups wait out their primary timeout, as before.
    pub fn step_down(&mut self, now: Tick) -> bool {
        match self {
            NodeCore::Native(replica) => replica.step_down(now),
            NodeCore::Archived(_) => false,
        }
    }

    /// Whether it is the primary of its view, in normal status.
    pub fn is_serving_primary(&self) -> bool {
        match self {
            NodeCore::Native(replica) => replica.is_serving_primary(),
            NodeCore::Archived(core) => {
                let state = core.member.state();
                state.primary_hint == core.id && matches!(state.status, ReportedStatus::Normal)
            }
        }
    }

    /// Where a client's request goes (see `Replica::request_target`); member ABI 1
    /// reports only the primary hint.
    pub fn request_target(&self) -> MemberId {
        match self {
            NodeCore::Native(replica) => replica.request_target(),
            NodeCore::Archived(core) => core.member.state().primary_hint,
        }
    }

    /// In normal status (catching up counts: it is normal, waiting for state).
    pub fn is_normal(&self) -> bool {
        match self {
            NodeCore::Native(replica) => replica.status() == Status::Normal,
            NodeCore::Archived(core) => {
                matches!(core.member.state().status, ReportedStatus::Normal | ReportedStatus::CatchingUp)
            }
        }
    }

    /// Why it halted, if it did.
    pub fn halted(&self) -> Option<String> {
        match self {
            NodeCore::Native(replica) => (replica.status() == Status::Halted)
                .then(|| replica.halt_reason().map_or_else(|| "halted".to_string(), |reason| reason.to_string())),
            NodeCore::Archived(core) => (core.member.state().status == ReportedStatus::Halted)
                .then(|| core.member.halt_reason().unwrap_or_else(|| "halted".to_string())),
        }
    }

    pub fn poll_timeout(&self) -> Option<Tick> {
        match self {
            NodeCore::Native(replica) => replica.poll_timeout(),
            NodeCore::Archived(core) => core.member.poll_timeout(),
        }
    }

    pub fn handle_timeout(&mut self, now: Tick) {
        match self {
            NodeCore::Native(replica) => replica.handle_timeout(now),
            NodeCore::Archived(core) => core.input(|member| member.timeout(now)),
        }
    }

    pub fn handle_persisted(&mut self, now: Tick, id: u64) {
        match self {
            NodeCore::Native(replica) => replica.handle_persisted(now, id),
            NodeCore::Archived(core) => core.input(|member| member.persisted(now, id)),
        }
    }

    pub fn handle_verified(&mut self, now: Tick, op: Op, checksum: u64, intact: bool) {
        match self {
            NodeCore::Native(replica) => replica.handle_verified(now, op, checksum, intact),
            NodeCore::Archived(core) => core.input(|member| member.verified(now, op, checksum, intact)),
        }
    }

    /// A message; `frame` is the bytes a peer's came in, which an archived core decodes
    /// with its own decoder (without one, as for the node's own standby reads, it is
    /// encoded for it).
    pub fn handle_message(&mut self, now: Tick, message: Message, frame: Option<&[u8]>) {
        match self {
            NodeCore::Native(replica) => replica.handle_message(now, message),
            NodeCore::Archived(core) => core.input(|member| {
                member.message(now, message, frame.map(<[u8]>::to_vec));
            }),
        }
    }

    pub fn handle_request(&mut self, now: Tick, request: Request) -> RequestOutcome {
        match self {
            NodeCore::Native(replica) => replica.handle_request(now, request),
            NodeCore::Archived(core) => core.input(|member| member.request(now, request)),
        }
    }

    pub fn handle_upgrade_command(&mut self, now: Tick, command: UpgradeCommand) -> Result<(), Refusal> {
        match self {
            NodeCore::Native(replica) => replica.handle_upgrade_command(now, command),
            NodeCore::Archived(core) => core.input(|member| member.upgrade_command(now, command)),
        }
    }

    pub fn handle_promote(&mut self, now: Tick, standby: MemberId, replace: Option<MemberId>) -> Result<(), Refusal> {
        match self {
            NodeCore::Native(replica) => replica.handle_promote(now, standby, replace),
            NodeCore::Archived(core) => core.input(|member| member.promote(now, standby, replace)),
        }
    }

    pub fn poll_persist(&mut self) -> Option<Persist> {
        match self {
            NodeCore::Native(replica) => replica.poll_persist(),
            NodeCore::Archived(core) => core.persists.pop_front(),
        }
    }

    pub fn poll_send(&mut self) -> Option<Outgoing> {
        match self {
            NodeCore::Native(replica) => {
                replica.poll_send().map(|outgoing| Outgoing { to: outgoing.to, message: outgoing.message, frame: None })
            }
            NodeCore::Archived(core) => core.sends.pop_front(),
        }
    }

    /// Where a request goes when the believed primary has not answered: every active
    /// member of the committed configuration. An archived core does not report its
    /// configuration (member ABI 1), so every member then; the core ignores requests
    /// it cannot take.
    pub fn broadcast_targets(&self) -> Vec<MemberId> {
        match self {
            NodeCore::Native(replica) => replica.committed_membership().active().to_vec(),
            NodeCore::Archived(core) => (0..core.options.replica_count + core.options.standby_count).collect(),
        }
    }

    /// What it shows of itself at `GET /status`, INFO and `/metrics`.
    pub fn status_snapshot(&self, now: Tick) -> StatusSnapshot {
        match self {
            NodeCore::Native(replica) => StatusSnapshot::of(replica, now),
            NodeCore::Archived(core) => {
                let options = &core.options;
                let membership = Membership::initial(options.replica_count, options.standby_count);
                status_of_state(core.id, &core.member.state(), options.binary_release, membership)
            }
        }
    }
}

impl ArchivedCore {
    fn open(
        archive: SharedArchive,
        options: Options,
        id: MemberId,
        durable: Durable,
        now: Tick,
    ) -> Result<Self, String> {
        let release = options.binary_release;
        let member = ArchivedMember::create(archive, release, &options, id, Some(durable), now)
            .map_err(|why| format!("the archived {release} core would not open this member: {why}"))?;
        let mut core = ArchivedCore {
            member: MemberCore::Archived(member),
            id,
            options,
            sends: VecDeque::new(),
            persists: VecDeque::new(),
        };
        core.queue_outputs();
        Ok(core)
    }

    /// One input, then its outputs queued for the node's drain.
    fn input<T>(&mut self, call: impl FnOnce(&mut MemberCore) -> T) -> T {
        let result = call(&mut self.member);
        self.queue_outputs();
        result
    }

    fn queue_outputs(&mut self) {
        let drained = self.member.drain();
        for label in drained.undecodable {
            tracing::error!(release = %self.options.binary_release, "the archived core sent a frame this binary cannot decode ({label})");
        }
        self.persists.extend(drained.persists);
        self.sends.extend(drained.sends.into_iter().map(|sent| Outgoing {
            to: sent.to,
            message: sent.message,
            frame: sent.frame,
        }));
    }
}
