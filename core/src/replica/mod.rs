//! One member of a Viewstamped Replication cluster, as a pure state machine.
//!
//! Inputs: `handle_request`, `handle_message`, `handle_timeout`, `handle_persisted`.
//! Outputs, drained by the host: `poll_send`, `poll_persist`, `poll_timeout`.
//! Nothing is acknowledged (PrepareOk, DoViewChange, StartView) before the writes it
//! depends on were reported durable.

pub mod advertised;
pub mod follower_lag;
pub mod health;
pub mod io;
pub mod log;
pub mod membership;
pub mod read_refusal;
pub mod sessions;

mod accessors;
mod heartbeat;
mod normal;
mod open;
mod phase;
mod read_index;
pub mod reconfig;
mod repair;
mod scrub;
mod standby_reads;
mod timers;
mod upgrading;
mod validate;
mod view_change;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

pub use io::{Durable, Persist, StoredEntry, Superblock, Write};
use log::{Log, LogSlot};
pub use membership::Membership;
pub use open::{format_durable, format_durable_with_checkpoint};
use phase::{Phase, ViewChangeRound};
pub use reconfig::ReconfigStatus;
pub use sessions::Sessions;
use timers::{Timer, Timers};

use crate::message::{CheckpointData, ConfigStamp, DoViewChange, Entry, Header, Message, Request};
use crate::prng::Prng;
use crate::release::{Feature, Release};
use crate::standby::{StandbyManager, StandbyOptions, StandbyView};
use crate::state_machine::StateMachine;
use crate::types::{ClientId, MemberId, Op, RequestNumber, Tick, View, MEMBERS_MAX};
use crate::upgrade::UpgradeState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Normal,
    ViewChange,
    /// Lost its durable state; rebuilding it from a quorum (VRR recovery).
    Recovering,
    /// Refuses to run, e.g. its binary is older than the cluster's release.
    Halted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Active,
    Standby,
    /// Replaced by a reconfiguration: takes no part.
    Removed,
}

impl Role {
    /// The spec's role names, as every host shows them.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Active => "active",
            Role::Standby => "standby",
            Role::Removed => "removed",
        }
    }

    /// The role a [`name`](Self::name) names (the member ABI's `Summary.role`).
    pub fn from_name(name: &str) -> Option<Role> {
        [Role::Active, Role::Standby, Role::Removed].into_iter().find(|role| role.name() == name)
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Destination {
    Member(MemberId),
    Client(ClientId),
}

/// What became of a client request (`handle_request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequestOutcome {
    /// Queued to be prepared: the reply comes once it commits.
    Queued,
    /// Answered already (a duplicate of an executed request, or a refusal): the reply
    /// is in the outbox.
    Answered,
    /// This request (or a newer one of the same client) is queued or being prepared.
    InProgress,
    /// Not taken; the client may resend.
    Dropped(RequestDrop),
}

/// Why a request was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequestDrop {
    /// This member is not the primary of its view in normal status.
    NotPrimary,
    /// A new primary that has not yet applied everything committed.
    CatchingUp,
    /// The client has already sent a newer request.
    Superseded,
    /// `request_queue_max` requests already wait to be prepared.
    QueueFull,
    /// This member halted (see `halt_reason`).
    Halted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Destination,
    pub message: Message,
}

/// Why a replica halted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HaltReason {
    BinaryTooOld { binary: Release, cluster: Release },
}

impl core::fmt::Display for HaltReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HaltReason::BinaryTooOld { binary, cluster } => write!(
                f,
                "this binary runs releases up to {binary}, but the cluster runs {cluster}: \
                 start a binary of release {cluster} or newer"
            ),
        }
    }
}

/// Settings. Timer values are in ticks (10 ms in the simulator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub cluster: u64,
    pub replica_count: u8,
    pub standby_count: u8,
    pub binary_release: Release,
    /// The release a freshly formatted cluster starts at.
    pub initial_release: Release,
    pub heartbeat_interval_ticks: Tick,
    /// A backup that hears nothing from its primary for this long starts a view change.
    pub primary_timeout_ticks: Tick,
    /// Random extra wait, so that backups do not all time out at once.
    pub timeout_jitter_ticks: Tick,
    /// A view change that has not finished in this long moves on to the next view,
    /// once a quorum voted for it.
    pub view_change_timeout_ticks: Tick,
    /// A primary that has not heard from a quorum for this long gives way (Raft's
    /// CheckQuorum). It is also the primary's lease: below `primary_timeout_ticks`, so
    /// that no other primary can exist while a standby reads on it.
    pub quorum_timeout_ticks: Tick,
    pub prepare_timeout_ticks: Tick,
    pub repair_interval_ticks: Tick,
    pub recovery_interval_ticks: Tick,
    /// With `log_scrubbing` on, one stored entry is re-verified this often.
    pub scrub_interval_ticks: Tick,
    /// The most entries the log keeps; checkpoints are taken every quarter of it.
    pub log_bound_ops: Op,
    pub pipeline_max_ops: Op,
    pub request_queue_max: usize,
    /// A healthy standby at most this many ops behind the commit may be promoted.
    pub promotable_lag_ops: Op,
    /// A standby answers reads while at most this many ops behind the commit it knows,
    /// and while it heard from its primary within `3 * heartbeat_interval_ticks`.
    pub standby_read_lag_ops: Op,
    /// Off by default. When set, the primary promotes the most caught-up healthy
    /// standby in place of an active replica it has not heard from for this long.
    pub auto_promote_after_ticks: Option<Tick>,
    /// Record what each applied op did, for checkers (`poll_applied`).
    pub report_applied: bool,
    /// Clients `1 ..= N` have sessions from the start (session 0), as if registered
    /// before the cluster's first op: the simulator's scripted clients. 0 for nodes.
    pub preregistered_clients: u64,
    pub seed: u64,
}

impl Options {
    pub fn new(replica_count: u8, standby_count: u8) -> Self {
        Self {
            cluster: 0,
            replica_count,
            standby_count,
            binary_release: crate::release::NEWEST_RELEASE,
            initial_release: crate::release::NEWEST_RELEASE,
            heartbeat_interval_ticks: 100,
            primary_timeout_ticks: 400,
            timeout_jitter_ticks: 150,
            view_change_timeout_ticks: 500,
            quorum_timeout_ticks: 300,
            prepare_timeout_ticks: 60,
            repair_interval_ticks: 40,
            recovery_interval_ticks: 200,
            scrub_interval_ticks: 50,
            log_bound_ops: 64,
            pipeline_max_ops: 16,
            request_queue_max: 256,
            promotable_lag_ops: 16,
            standby_read_lag_ops: 16,
            auto_promote_after_ticks: None,
            report_applied: false,
            preregistered_clients: 0,
            seed: 0,
        }
    }

    pub fn member_count(&self) -> u8 {
        self.replica_count + self.standby_count
    }

    pub fn checkpoint_interval_ops(&self) -> Op {
        (self.log_bound_ops / 4).max(1)
    }

    /// The most slots a log window holds: the bound, plus the uncommitted pipeline.
    pub fn window_max_ops(&self) -> Op {
        self.log_bound_ops + self.pipeline_max_ops + 1
    }
}

/// What one applied op did, for the simulator's checkers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    pub op: Op,
    pub checksum: u64,
    pub requests: Vec<AppliedRequest>,
    /// The state digest after the op.
    pub digest: u64,
    /// The cluster release after the op.
    pub release: Release,
    /// A digest of the membership after the op, which every member must agree on.
    pub membership_digest: u64,
    /// The new membership, when the op is a reconfiguration.
    pub reconfiguration: Option<Membership>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppliedRequest {
    pub client: ClientId,
    pub request: RequestNumber,
    pub operation: Vec<u8>,
    pub result: Vec<u8>,
    /// False when the request was a duplicate and did not change the state.
    pub fresh: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages_dropped: u64,
    /// Messages that failed validation (see `validate.rs`): counted and dropped.
    pub messages_invalid: u64,
    /// Times this member gave up being primary for want of a quorum.
    pub abdications: u64,
    /// Requests refused because their session was evicted.
    pub sessions_evicted_refused: u64,
    /// Commands refused before logging: they need a release the cluster has not committed.
    pub requests_refused_release: u64,
    /// Reads the primary served by read_index, without a log entry.
    pub reads_by_index: u64,
    pub requests_dropped: u64,
    pub view_changes: u64,
    pub repairs_requested: u64,
    pub state_transfers: u64,
    pub entries_scrubbed: u64,
    pub scrub_damage_found: u64,
    pub reconfigurations_prepared: u64,
    pub reconfigurations_applied: u64,
}

/// What a durable write completion unblocks.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Entry { op: Op, checksum: u64 },
    View { view: View },
    Install { view: View, op: Op },
    Checkpoint { op: Op, retain_from: Op },
    Verify,
}

#[derive(Clone)]
pub struct Replica<S: StateMachine> {
    options: Options,
    id: MemberId,
    phase: Phase,
    view: View,
    log_view: View,
    /// The newest view whose superblock is durable: the newest view this member has
    /// promised (by a DoViewChange or by adopting its log) never to leave for an older one.
    durable_view: View,
    /// The newest release any superblock of this member recorded: superblocks never
    /// record less, so an old binary halts at every restart once the cluster moved on.
    durable_release: Release,
    log: Log,
    /// Every op up to here is durable with a body, contiguously.
    durable_op: Op,
    /// The highest op known to be committed.
    commit_max: Op,
    /// Every op up to here is applied to the state machine.
    applied: Op,
    /// The checksum of the entry at `applied`: what the next entry names as its parent
    /// when the window holds nothing after it.
    applied_checksum: u64,
    state: S,
    sessions: Sessions,
    upgrade: UpgradeState,
    /// The membership as of the applied op, and its newest change.
    config: membership::ConfigState,
    checkpoint: CheckpointData,
    /// Entries that arrived ahead of a gap, waiting for it to fill.
    future: BTreeMap<Op, Entry>,

    // Primary.
    /// The highest op each member acknowledged as durable in this view.
    acked: [Op; MEMBERS_MAX],
    advertised: advertised::Advertisements,
    /// When the primary last heard from each member in this view.
    last_heard_at: [Tick; MEMBERS_MAX],
    /// When this primary last heard each member in its view, and what it holds.
    contacts: follower_lag::Contacts,
    /// When this primary's commit rose: the followers' lag in time.
    commit_times: follower_lag::CommitTimes,
    /// The newest of the primary's `Commit.sent_at` each member echoed in this view:
    /// the member heard this primary at least that recently (the primary's lease).
    heard_round_at: [Option<Tick>; MEMBERS_MAX],
    request_queue: VecDeque<Request>,
    inflight: BTreeMap<ClientId, RequestNumber>,
    /// The last op of the log this primary took over when it began serving its view.
    inherited_op: Op,
    /// Reads waiting for a confirmed round (`read_index`, 1.4.0).
    read_index: read_index::ReadIndex,

    // Backup.
    prepare_ok_sent: Op,
    awaiting_checkpoint: bool,

    // View change.
    /// A view whose log this member installed from that view's primary: it is not
    /// that view's primary, even if a log missing a reconfiguration's body says so.
    backup_of_view: Option<View>,
    /// The primary of a view, as its own Commit messages name it: a member whose log
    /// misses a reconfiguration would otherwise ask the wrong member for repairs.
    known_primary: Option<(View, MemberId)>,
    /// A view change a voter drew this standby into (see `on_start_view_change`).
    drafted_view: Option<View>,
    /// The newest configuration another member named that our log does not hold yet:
    /// where to send votes, and whose votes to count, until the log catches up.
    config_hint: Option<ConfigStamp>,
    /// The newest committed configuration a primary named, when newer than ours: a
    /// member it removed stops taking part even before its log learns it.
    committed_hint: Option<ConfigStamp>,
    /// Until when a standby may serve reads: what its primary's lease had left.
    read_lease_until: Tick,
    /// The newest committed cluster release a primary named: a standby that has not
    /// applied it yet knows reads are on, and that it is behind.
    announced_release: Release,
    /// When this primary began serving its view.
    serving_since: Tick,
    /// The latest end of a lease this primary handed to standbys.
    lease_granted_until: Tick,
    /// This primary is to hand over, to at least this view, once no lease is left: a
    /// reconfiguration committed, or a member promised a later view and cannot come back.
    hand_over_to: Option<View>,
    /// Its host is stopping it (`step_down`): it grants no more lease, so that the
    /// hand-over it scheduled comes as soon as what it granted runs out.
    stepping_down: bool,
    /// The view this member moved to as the primary handing over (its votes say so).
    handing_over_view: Option<View>,

    /// The primary's watch over standbys: health, lag, promotable.
    standbys: StandbyManager,
    /// When this member last heard from its primary (for standby reads' staleness).
    last_primary_contact_at: Tick,
    /// The next op log scrubbing re-verifies.
    scrub_cursor: Op,

    // Recovery.
    timers: Timers,
    now: Tick,
    prng: Prng,
    outbox: VecDeque<Outgoing>,
    persists: VecDeque<Persist>,
    pending: VecDeque<(u64, Pending)>,
    next_persist_id: u64,
    applied_notes: VecDeque<Applied>,
    /// Why the last message was dropped as invalid, for the host to log.
    invalid_dropped: Option<&'static str>,
    pub counters: Counters,
}

impl<S: StateMachine> Replica<S> {
    // ----- Host interface -----

    /// A client request handed in by this member's host. The outcome says at once
    /// what became of it, so a host need not wait for its resend timer to learn that
    /// the request was dropped (as etcd's `Propose` answers `ErrProposalDropped`).
    pub fn handle_request(&mut self, now: Tick, request: Request) -> RequestOutcome {
        self.now = now;
        let outcome = self.on_request(request);
        self.assert_invariants();
        outcome
    }

    /// Cheap structural invariants, checked after every input (TigerBeetle style).
    fn assert_invariants(&self) {
        let log = &self.log;
        assert!(log.base() <= log.op());
        assert!(self.applied <= log.op(), "member {} applied {} past its log op {}", self.id, self.applied, log.op());
        assert!(
            self.applied <= self.commit_max || self.status() != Status::Normal || self.applied == self.checkpoint.op
        );
        assert!(self.durable_op <= log.op());
        assert!(
            log.len() as Op <= self.options.log_bound_ops + self.options.pipeline_max_ops + 1,
            "member {} log from {} to {} outgrew its bound (applied {}, commit {}, role {:?})",
            self.id,
            log.base(),
            log.op(),
            self.applied,
            self.commit_max,
            self.role()
        );
    }

    pub fn handle_message(&mut self, now: Tick, message: Message) {
        self.now = now;
        if self.status() == Status::Halted {
            return;
        }
        if let Some(reason) = self.invalid_reason(&message) {
            self.counters.messages_invalid += 1;
            self.invalid_dropped = Some(reason);
            return;
        }
        match message {
            Message::Request(request) => {
                // A forwarding member resends on its own timer; nothing to tell it.
                let _ = self.on_request(request);
            }
            Message::Prepare(prepare) => self.on_prepare(prepare),
            Message::PrepareOk(ok) => self.on_prepare_ok(ok),
            Message::Commit(commit) => self.on_commit(commit),
            Message::Heartbeat(heartbeat) => self.on_heartbeat(heartbeat),
            Message::StartViewChange(svc) => self.on_start_view_change(svc),
            Message::DoViewChange(dvc) => self.on_do_view_change(dvc),
            Message::StartView(sv) => self.on_start_view(sv),
            Message::RequestStartView(request) => self.on_request_start_view(request),
            Message::Recovery(recovery) => self.on_recovery(recovery),
            Message::RecoveryResponse(response) => self.on_recovery_response(response),
            Message::RequestPrepare(request) => self.on_request_prepare(request),
            Message::RequestCheckpoint(request) => self.on_request_checkpoint(request),
            Message::Checkpoint(checkpoint) => self.on_checkpoint(checkpoint),
            Message::ReadRequest(read) => self.on_read_request(read),
            Message::ConfirmPrimacy(confirm) => self.on_confirm_primacy(confirm),
            Message::PrimacyConfirmed(confirmed) => self.on_primacy_confirmed(confirmed),
            Message::Reply(_) => self.counters.messages_dropped += 1,
        }
        self.arm_scrub();
        self.assert_invariants();
    }

    pub fn handle_timeout(&mut self, now: Tick) {
        self.now = now;
        if self.status() == Status::Halted {
            return;
        }
        for timer in Timer::ALL {
            if self.timers.take_due(timer, now) {
                self.on_timer(timer);
            }
        }
        self.arm_scrub();
        self.assert_invariants();
    }

    /// The host made every write up to `id` durable.
    pub fn handle_persisted(&mut self, now: Tick, id: u64) {
        self.now = now;
        if self.status() == Status::Halted {
            return;
        }
        while let Some((pending_id, _)) = self.pending.front() {
            if *pending_id > id {
                break;
            }
            let (_, pending) = self.pending.pop_front().expect("front exists");
            match pending {
                Pending::Entry { op, checksum } => {
                    if let Some(slot) = self.log.get_mut(op) {
                        if slot.header.checksum == checksum && slot.body.is_some() {
                            slot.durable = true;
                        }
                    }
                }
                Pending::View { view } => self.durable_view = self.durable_view.max(view),
                Pending::Install { view, op } => {
                    self.durable_view = self.durable_view.max(view);
                    let base = self.log.base();
                    for op in base + 1..=op.min(self.log.op()) {
                        if let Some(slot) = self.log.get_mut(op) {
                            slot.durable = slot.body.is_some();
                        }
                    }
                    if self.view == view && self.round().is_some_and(|round| round.installing) {
                        self.on_view_installed();
                    }
                }
                Pending::Verify => {}
                Pending::Checkpoint { op, retain_from } => {
                    // The checkpoint now makes every op up to `op` durable.
                    if op <= self.applied && op == self.checkpoint.op {
                        self.durable_op = self.durable_op.max(op);
                        self.log.trim_before(retain_from.min(self.applied + 1));
                    }
                }
            }
        }
        self.durable_op = self.log.durable_through(self.durable_op.min(self.log.op()));
        self.after_durable();
        self.assert_invariants();
    }

    pub fn poll_send(&mut self) -> Option<Outgoing> {
        // One confirmation round for every read that asked since the last drain.
        self.send_wanted_round();
        self.outbox.pop_front()
    }

    pub fn poll_persist(&mut self) -> Option<Persist> {
        self.persists.pop_front()
    }

    pub fn poll_applied(&mut self) -> Option<Applied> {
        self.applied_notes.pop_front()
    }

    /// Why the last message handed in was dropped as invalid (once), for the host's log.
    pub fn take_invalid_reason(&mut self) -> Option<&'static str> {
        self.invalid_dropped.take()
    }

    /// The earliest tick at which `handle_timeout` has work to do.
    pub fn poll_timeout(&self) -> Option<Tick> {
        if self.status() == Status::Halted {
            return None;
        }
        self.timers.next()
    }

    /// The view change under way, if any.
    fn round(&self) -> Option<&ViewChangeRound> {
        match &self.phase {
            Phase::ViewChange(round) => Some(round),
            _ => None,
        }
    }

    fn round_mut(&mut self) -> Option<&mut ViewChangeRound> {
        match &mut self.phase {
            Phase::ViewChange(round) => Some(round),
            _ => None,
        }
    }

    /// The DoViewChanges of the view change under way (none outside one).
    fn dvcs(&self) -> &BTreeMap<MemberId, DoViewChange> {
        static NONE: BTreeMap<MemberId, DoViewChange> = BTreeMap::new();
        self.round().map_or(&NONE, |round| &round.dvcs)
    }

    // ----- Shared helpers -----

    fn send(&mut self, to: MemberId, message: Message) {
        if to == self.id {
            return;
        }
        self.outbox.push_back(Outgoing { to: Destination::Member(to), message });
    }

    /// Every other member, whatever our log says of its role.
    fn send_to_all(&mut self, message: &Message) {
        for member in 0..self.options.member_count() {
            if member != self.id {
                self.outbox.push_back(Outgoing { to: Destination::Member(member), message: message.clone() });
            }
        }
    }

    /// Every member whose votes count: the active replicas, and while a
    /// reconfiguration is uncommitted, the ones it replaces.
    fn send_to_replicas(&mut self, message: &Message) {
        for member in 0..self.options.member_count() {
            if member != self.id && self.is_voter(member) {
                self.outbox.push_back(Outgoing { to: Destination::Member(member), message: message.clone() });
            }
        }
    }

    /// Replicas, and standbys when the cluster's release lets them follow.
    fn send_to_followers(&mut self, message: &Message) {
        self.send_to_replicas(message);
        if self.feature_enabled(Feature::StandbyReplicas) {
            for member in 0..self.options.member_count() {
                if member != self.id && !self.is_voter(member) && self.membership().role_of(member) == Role::Standby {
                    self.outbox.push_back(Outgoing { to: Destination::Member(member), message: message.clone() });
                }
            }
        }
    }

    fn persist(&mut self, write: Write) {
        let id = self.next_persist_id;
        self.next_persist_id += 1;
        if let Write::Superblock(superblock) | Write::Install { superblock, .. } = &write {
            assert!(superblock.release >= self.durable_release, "a superblock never records an older release");
            self.durable_release = superblock.release;
        }
        let pending = match &write {
            Write::Entry(entry) => Pending::Entry { op: entry.header.op, checksum: entry.header.checksum },
            Write::Superblock(superblock) => Pending::View { view: superblock.view },
            Write::Install { superblock, slots, truncate_after } => Pending::Install {
                view: superblock.view,
                op: slots.last().map(|slot| slot.header.op).unwrap_or(*truncate_after),
            },
            Write::Checkpoint { data, retain_from } => Pending::Checkpoint { op: data.op, retain_from: *retain_from },
            Write::Verify { .. } => Pending::Verify,
        };
        self.pending.push_back((id, pending));
        self.persists.push_back(Persist { id, write });
    }

    fn superblock(&self) -> Superblock {
        Superblock {
            view: self.view,
            log_view: self.log_view,
            log_start: self.log.base(),
            release: self.upgrade.release.max(self.durable_release),
        }
    }

    fn jitter(&mut self) -> Tick {
        self.prng.range_inclusive(0, self.options.timeout_jitter_ticks)
    }

    fn set_primary_timeout(&mut self) {
        let jitter = self.jitter();
        self.timers.set(Timer::PrimaryTimeout, self.now + self.options.primary_timeout_ticks + jitter);
    }

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::Heartbeat => self.on_heartbeat_timeout(),
            Timer::Prepare => self.on_prepare_timeout(),
            Timer::PrimaryTimeout => self.on_primary_timeout(),
            Timer::ViewChange => self.on_view_change_timeout(),
            Timer::Repair => self.on_repair_timeout(),
            Timer::Recovery => self.on_recovery_timeout(),
            Timer::Scrub => self.on_scrub_timeout(),
        }
    }

    /// Called after any durable completion: send what was waiting for it.
    fn after_durable(&mut self) {
        match self.status() {
            Status::Normal => {
                if self.is_primary() {
                    self.acked[self.id as usize] = self.durable_op;
                    self.advance_commit();
                } else {
                    self.maybe_send_prepare_ok();
                }
            }
            Status::ViewChange => {
                self.maybe_send_do_view_change();
                self.maybe_start_view();
            }
            Status::Recovering | Status::Halted => {}
        }
    }
}

#[cfg(test)]
mod tests;
