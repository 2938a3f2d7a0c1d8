//! Protocol messages and log entries.
//!
//! New variants are only ever appended, so that an older release decoding a newer
//! message fails cleanly (an unknown variant) and drops it rather than misreading it.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::checksum::Hasher64;
use crate::release::Release;
use crate::replica::membership::{ConfigState, Membership};
use crate::types::{ClientId, MemberId, Op, RequestNumber, Tick, View};
use crate::upgrade::{UpgradeCommand, UpgradeState};

/// What identifies a log entry: the primary of `view` assigned it `op`, after the
/// entry whose checksum is `parent`. The parents chain every entry to the whole log
/// before it (as in TigerBeetle), so one trusted header vouches for every entry
/// below it: a member can tell which of the entries it holds are the committed ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub op: Op,
    /// The view whose primary prepared this entry.
    pub view: View,
    /// The checksum of the entry at `op - 1` (0 before op 1).
    pub parent: u64,
    /// Checksum of `op`, `view`, `parent` and the body.
    pub checksum: u64,
}

impl Header {
    /// Whether `body` is the body this header names: undamaged, and the same entry.
    pub fn covers(&self, body: &Body) -> bool {
        body.checksum(self.op, self.view, self.parent) == self.checksum
    }
}

/// What an entry asks the replicas to do when it commits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Client requests, applied in order (one, unless prepares are batched).
    Requests(Vec<Request>),
    /// Move the cluster to `release` at this op.
    Upgrade { release: Release },
    /// An operator's upgrade command: propose, cancel, or switch auto-upgrade.
    UpgradeControl(UpgradeCommand),
    /// Promote a standby (`cluster_reconfig`): the membership from this op on.
    Reconfigure(Reconfiguration),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconfiguration {
    pub promoted: MemberId,
    pub replaced: Option<MemberId>,
    pub membership: Membership,
}

impl Body {
    pub fn checksum(&self, op: Op, view: View, parent: u64) -> u64 {
        let mut hasher = Hasher64::new();
        hasher.write_u64(op);
        hasher.write_u64(view);
        hasher.write_u64(parent);
        match self {
            Body::Requests(requests) => {
                hasher.write_u64(0);
                hasher.write_u64(requests.len() as u64);
                for request in requests {
                    hasher.write_u64(request.client);
                    hasher.write_u64(request.session);
                    hasher.write_u64(request.request);
                    hasher.write_bytes(&request.operation);
                }
            }
            Body::Upgrade { release } => {
                hasher.write_u64(1);
                hasher.write_u64(release_word(*release));
            }
            Body::UpgradeControl(command) => {
                hasher.write_u64(2);
                match command {
                    UpgradeCommand::Propose(release) => hasher.write_u64(release_word(*release)),
                    UpgradeCommand::Cancel => hasher.write_u64(u64::MAX),
                    UpgradeCommand::Auto(on) => hasher.write_u64(u64::MAX - 1 - u64::from(*on)),
                }
            }
            Body::Reconfigure(reconfiguration) => {
                hasher.write_u64(3);
                hasher.write_u64(reconfiguration.promoted as u64);
                hasher.write_u64(reconfiguration.replaced.map_or(u64::MAX, |member| member as u64));
                reconfiguration.membership.hash_into(&mut hasher);
            }
        }
        hasher.finish()
    }
}

pub fn release_word(release: Release) -> u64 {
    (release.major as u64) << 48
        | (release.minor as u64) << 32
        | (release.patch as u64) << 16
        | (release.stage as u64) << 12
        | (release.stage_number as u64 & 0xfff)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub header: Header,
    pub body: Body,
}

impl Entry {
    pub fn new(op: Op, view: View, parent: u64, body: Body) -> Self {
        let checksum = body.checksum(op, view, parent);
        Self { header: Header { op, view, parent, checksum }, body }
    }

    /// True when the body still matches the header, i.e. the entry is undamaged.
    pub fn is_intact(&self) -> bool {
        self.header.covers(&self.body)
    }
}

/// A log slot as a view change sees it: the header always, the body when intact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub header: Header,
    pub body: Option<Body>,
}

/// A client's request, as sent to the primary and as carried in a log entry.
///
/// A client first registers (`request` 0, `session` 0, no operation): the op that commits
/// the registration is its session, which every later request names. Sessions are
/// bounded and the oldest is evicted; a request naming a session that is gone is
/// refused (`session-evicted`) rather than executed again, as in TigerBeetle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub client: ClientId,
    /// The op that committed this client's registration; 0 for the registration itself.
    pub session: Op,
    pub request: RequestNumber,
    /// The state machine's own encoding of the operation.
    pub operation: Vec<u8>,
}

impl Request {
    /// A client's first request: it opens a session and executes nothing.
    pub fn register(client: ClientId) -> Self {
        Self { client, session: 0, request: 0, operation: Vec::new() }
    }

    pub fn is_register(&self) -> bool {
        self.request == 0
    }
}

/// A membership and the Reconfigure entry that set it (`op` 0: the initial one).
/// Members carry the newest they know in view-change messages and heartbeats, so that
/// one whose log lacks a reconfiguration still finds the members that count, a standby
/// learns it was promoted, and a removed member learns it was removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigStamp {
    pub op: Op,
    /// The view whose primary prepared the change (0 for the initial membership).
    pub view: View,
    /// The checksum of the Reconfigure entry (0 for the initial membership): a member
    /// whose log holds that entry knows, from a committed stamp, that its log is
    /// committed that far (the entry's parents vouch for every entry before it).
    pub checksum: u64,
    pub membership: Membership,
    /// Whether the sender knows the change committed: only then does it say who leads.
    pub committed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub view: View,
    pub client: ClientId,
    pub request: RequestNumber,
    /// The op whose state the result reflects: clients keep the highest they saw, so
    /// that a later read at a standby is never older (monotonic reads).
    pub op: Op,
    pub result: Vec<u8>,
}

/// A read served by one standby from its own applied state (`standby_reads`, 1.3.0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    pub client: ClientId,
    pub request: RequestNumber,
    pub operation: Vec<u8>,
    /// The highest op the client has seen: a standby behind it answers `too-stale`.
    pub min_op: Op,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepare {
    pub view: View,
    /// The primary's commit number rides on every prepare.
    pub commit: Op,
    pub entry: Entry,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareOk {
    pub view: View,
    /// Every op up to and including this one is durable at `from`.
    pub op: Op,
    pub from: MemberId,
    pub release: Release,
}

/// The primary's heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub view: View,
    pub commit: Op,
    /// The primary's clock when it sent this; followers echo it in their `Heartbeat`, so
    /// the primary knows a quorum heard it at least this recently (its lease).
    pub sent_at: Tick,
    /// How long, from its receipt, a standby may serve reads on what this primary told
    /// it: what is left of the primary's lease. 0 when the primary holds none.
    pub lease_remaining_ticks: Tick,
    /// The committed configuration, so that members whose log lacks a reconfiguration
    /// (a removed member cut off while it committed) learn it.
    pub config: ConfigStamp,
    /// The primary's newest checkpoint: a member behind it needs state transfer.
    pub checkpoint: Op,
    /// The primary's binary release (what it advertises).
    pub release: Release,
    /// The committed cluster release: standbys learn from it whether to follow, and a
    /// member whose binary is older halts.
    pub cluster_release: Release,
    /// The primary: a member whose log misses a reconfiguration could not tell.
    pub from: MemberId,
}

/// A member's answer to the primary's heartbeat: its progress and its binary release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub view: View,
    pub from: MemberId,
    pub op: Op,
    pub commit: Op,
    pub release: Release,
    /// The `sent_at` of the primary's `Commit` this answers.
    pub echo_sent_at: Tick,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartViewChange {
    pub view: View,
    pub from: MemberId,
    /// Sent by the primary of the view before, giving way with no lease outstanding:
    /// its followers may leave that view at once, without waiting out their timeout.
    pub handing_over: bool,
    /// The newest view the sender promised (it sent its DoViewChange, or adopted that
    /// view's log): it can never go back to an older one, so a cluster in an older view
    /// must come to at least that one, even from a healthy primary.
    pub promised_view: View,
    /// The sender's newest configuration: a member whose log lacks it counts the votes
    /// it names, and a standby it promotes joins in.
    pub config: ConfigStamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoViewChange {
    pub view: View,
    pub from: MemberId,
    /// The last view in which the sender was in normal status.
    pub log_view: View,
    pub commit: Op,
    /// The sender's newest checkpoint; slots start after it.
    pub checkpoint: Op,
    /// The sender's contiguous log after its checkpoint.
    pub slots: Vec<Slot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartView {
    pub view: View,
    /// The view's primary: fixed when the view starts, whatever commits during it.
    pub from: MemberId,
    pub commit: Op,
    /// The primary's committed configuration (its Reconfigure entry may be older than the window).
    pub config: ConfigStamp,
    /// The primary's window starts after this op.
    pub checkpoint: Op,
    /// The checksum of the entry at `checkpoint`: a follower whose log reaches that far
    /// keeps whatever of its own chains to it, committed for sure.
    pub checkpoint_checksum: u64,
    /// The primary's whole window: every header, and the body where it holds one (a
    /// damaged history slot has none, and followers keep or repair their own).
    pub slots: Vec<Slot>,
}

/// A member that missed a view's start asks its primary to send it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestStartView {
    pub view: View,
    pub from: MemberId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub from: MemberId,
    pub nonce: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryResponse {
    pub view: View,
    pub nonce: u64,
    pub from: MemberId,
    /// The responder's newest configuration: a member that lost its disk counts answers
    /// against the current configuration, not the one it was formatted with.
    pub config: ConfigStamp,
    /// Set only by the primary of `view`: its log, to adopt.
    pub primary_log: Option<StartView>,
}

/// Ask for the entry at `op` (whose checksum is known, when it is).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestPrepare {
    pub view: View,
    pub from: MemberId,
    pub op: Op,
    pub checksum: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCheckpoint {
    pub view: View,
    pub from: MemberId,
}

/// A whole checkpoint: the state machine, client sessions and cluster release at `op`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointData {
    pub op: Op,
    /// The header of the entry at `op` (zeroes at op 0), to chain the log onto.
    pub last_header: Header,
    /// The cluster release, pending proposal and upgrade history at `op`.
    pub upgrade: UpgradeState,
    /// The membership at `op`, and its newest change.
    pub config: ConfigState,
    pub state: Vec<u8>,
    pub sessions: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub view: View,
    pub from: MemberId,
    pub data: CheckpointData,
}

/// The primary asks its fellow voters to confirm it still leads `view` (1.4.0,
/// `read_index`): reads waiting when it sent `round` are served once a quorum has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmPrimacy {
    pub view: View,
    pub from: MemberId,
    pub round: u64,
}

/// A voter, normal in `view`, confirms its primary's `round`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimacyConfirmed {
    pub view: View,
    pub from: MemberId,
    pub round: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // One message is moved a few times; boxing buys nothing.
pub enum Message {
    Request(Request),
    Reply(Reply),
    Prepare(Prepare),
    PrepareOk(PrepareOk),
    Commit(Commit),
    Heartbeat(Heartbeat),
    StartViewChange(StartViewChange),
    DoViewChange(DoViewChange),
    StartView(StartView),
    RequestStartView(RequestStartView),
    Recovery(Recovery),
    RecoveryResponse(RecoveryResponse),
    RequestPrepare(RequestPrepare),
    RequestCheckpoint(RequestCheckpoint),
    Checkpoint(Checkpoint),
    ReadRequest(ReadRequest),
    // ----- 1.4.0: appended, so that every older kind keeps its index -----
    ConfirmPrimacy(ConfirmPrimacy),
    PrimacyConfirmed(PrimacyConfirmed),
}

impl Message {
    /// A short lower-case name for traces and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Request(_) => "request",
            Message::Reply(_) => "reply",
            Message::Prepare(_) => "prepare",
            Message::PrepareOk(_) => "prepare_ok",
            Message::Commit(_) => "commit",
            Message::Heartbeat(_) => "heartbeat",
            Message::StartViewChange(_) => "start_view_change",
            Message::DoViewChange(_) => "do_view_change",
            Message::StartView(_) => "start_view",
            Message::RequestStartView(_) => "request_start_view",
            Message::Recovery(_) => "recovery",
            Message::RecoveryResponse(_) => "recovery_response",
            Message::RequestPrepare(_) => "request_prepare",
            Message::RequestCheckpoint(_) => "request_checkpoint",
            Message::Checkpoint(_) => "checkpoint",
            Message::ReadRequest(_) => "read_request",
            Message::ConfirmPrimacy(_) => "confirm_primacy",
            Message::PrimacyConfirmed(_) => "primacy_confirmed",
        }
    }
}
