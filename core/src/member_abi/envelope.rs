//! The member ABI's envelope: what crosses the boundary, as postcard. Every byte is
//! described in docs/member-abi.md; the tests pin the layouts, so a change to any of
//! these types shows up as a failing test rather than as a silent new ABI.
//!
//! Variants and fields are only ever appended (at the end, in a new ABI version):
//! postcard numbers enum variants by position and writes fields in order.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::release::Release;
use crate::replica::{Applied, Destination, Durable, Persist, RequestOutcome};
use crate::types::{MemberId, Op, Tick};
use crate::upgrade::UpgradeCommand;

use super::options::MemberOptions;

/// The ABI version this module speaks, and the only one `create` accepts.
pub const MEMBER_ABI_VERSION: u32 = 1;

/// The versions `create` accepts: a later module keeps serving older versions.
pub const SUPPORTED_ABI_VERSIONS: &[u32] = &[MEMBER_ABI_VERSION];

/// `create`'s argument after its leading `abi_version` (a postcard `u32` of its own,
/// read first, so that a host speaking another version gets a refusal, not a
/// decoding error on a layout it never meant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub id: MemberId,
    /// The tick the member opens at (it seeds the member's PRNG, with `options.seed`).
    pub now: Tick,
    pub options: MemberOptions,
    pub start: Start,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // One per call: a box would buy nothing.
pub enum Start {
    /// 0: a member of a newly formatted cluster (`Replica::new_formatted`).
    Formatted,
    /// 1: a member restarting from what it made durable (`Replica::open`).
    Open(Durable),
}

/// What `create` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateReply {
    /// 0: the member exists; later calls name it by `handle` (never 0).
    Created { handle: u32 },
    /// 1: no member was made.
    Refused(CreateError),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateError {
    /// 0: this module does not speak `requested`. Its layout never changes, so a host
    /// of any version can read it.
    AbiVersion { requested: u32, supported: Vec<u32> },
    /// 1: the bytes are not a `Config` of the version they name.
    Malformed(String),
    /// 2: a `Config` the core would refuse (it would panic): the reason.
    Invalid(String),
}

/// One input, and the tick it happens at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub now: Tick,
    pub event: Event,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// 0: nothing happens: drain what is queued (after `create`) and read the summary.
    Poll,
    /// 1: one wire frame from a peer, exactly as it came off the network.
    Message(Vec<u8>),
    /// 2: one wire frame holding a `Message::Request`, handed in by this member's own
    /// host (`handle_request`): the outcome says what became of it.
    Request(Vec<u8>),
    /// 3: the tick of `Output::timeout` (or a later one) has come.
    Timeout,
    /// 4: every write up to `id` is durable.
    Persisted { id: u64 },
    /// 5: the stored entry a `Write::Verify` named was read back.
    Verified { op: Op, checksum: u64, intact: bool },
    /// 6: an operator's upgrade command (`viewstamp admin upgrade`).
    Upgrade(UpgradeCommand),
    /// 7: an operator's `promote standby [replace]`.
    Promote { standby: MemberId, replace: Option<MemberId> },
}

/// What `input` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // One per call: a box would buy nothing.
pub enum InputReply {
    /// 0: the member took the input.
    Output(Output),
    /// 1: no member has this handle (never created, or dropped).
    NoMember { handle: u32 },
    /// 2: the bytes are not an `Input`: nothing happened.
    Malformed(String),
}

/// Everything the member emitted after one input, in the order the core queued it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub outcome: Outcome,
    pub sends: Vec<Outbound>,
    /// Writes to make durable in this order, then report with `Event::Persisted`.
    pub persists: Vec<Persist>,
    /// Ops applied (only with `options.report_applied`).
    pub applied: Vec<Applied>,
    /// When to send `Event::Timeout` next; `None`: never (a halted member).
    pub timeout: Option<Tick>,
    /// Messages the core queued that the cluster's release cannot carry: dropped, with
    /// why (a bug in the core if it ever happens; the node logs it the same way).
    pub unsendable: Vec<String>,
    pub summary: Summary,
}

/// What became of the input itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// 0: taken (timeouts, completions, polls, and messages that passed validation).
    Done,
    /// 1: what became of an `Event::Request`.
    Request(RequestOutcome),
    /// 2: an admin command refused, by the spec's code (`no-primary`, ...).
    Refused(String),
    /// 3: the frame was not decoded, by `WireError::label` (`bad_checksum`, ...):
    /// dropped, as the node drops it.
    BadFrame(String),
    /// 4: the message decoded but failed validation: dropped, with the core's reason.
    Invalid(String),
    /// 5: an `Event::Request` whose frame holds another kind of message.
    NotARequest,
}

/// One message to send, framed for the wire (`wire::encode_for` at the cluster's release).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    pub to: Destination,
    pub frame: Vec<u8>,
}

/// The member's state after the input, for hosts and the simulator's checkers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `ReportedStatus::name`: `normal`, `view-change`, `recovering`, `catching-up`, `halted`.
    pub status: String,
    /// `Role::name`: `active`, `standby`, `removed`.
    pub role: String,
    pub view: u64,
    pub log_view: u64,
    pub op: Op,
    /// Applied through here.
    pub commit: Op,
    pub commit_max: Op,
    pub durable_op: Op,
    pub checkpoint_op: Op,
    /// The committed cluster release, as far as this member applied.
    pub release: Release,
    pub primary_hint: MemberId,
    /// Primary of its view and in normal status: it takes requests.
    pub serving_primary: bool,
    /// `Replica::state_digest`: state machine, sessions, release and op.
    pub state_digest: u64,
    pub halt_reason: Option<String>,
}

/// `create`'s argument: `abi_version` as its own postcard `u32`, then the `Config`.
pub fn encode_config(abi_version: u32, config: &Config) -> Vec<u8> {
    let mut bytes = to_bytes(&abi_version);
    bytes.extend_from_slice(&to_bytes(config));
    bytes
}

/// The version a `create` argument names, and its `Config` when it is version 1.
pub fn decode_config(bytes: &[u8]) -> Result<Config, CreateError> {
    let (requested, rest) = postcard::take_from_bytes::<u32>(bytes)
        .map_err(|_| CreateError::Malformed(String::from("it does not start with an abi_version")))?;
    if !SUPPORTED_ABI_VERSIONS.contains(&requested) {
        return Err(CreateError::AbiVersion { requested, supported: SUPPORTED_ABI_VERSIONS.to_vec() });
    }
    from_exact_bytes(rest).map_err(|why| CreateError::Malformed(alloc::format!("not a version-1 Config: {why}")))
}

/// The postcard encoding of any envelope value.
pub fn to_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("envelope values always encode")
}

/// Decode a value that must take every byte: trailing bytes mean another layout.
pub fn from_exact_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(alloc::format!("{} bytes follow it", rest.len())),
        Err(error) => Err(alloc::format!("{error}")),
    }
}

/// The raw exports hand a reply out as one buffer: its total length as a little-endian
/// `u32` (these 4 bytes included, as the replay ABI does), then the postcard body.
pub fn prefixed(body: &[u8]) -> Vec<u8> {
    let total = body.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The total length a reply buffer announces in its first 4 bytes.
pub fn announced_len(prefix: [u8; 4]) -> usize {
    u32::from_le_bytes(prefix) as usize
}
