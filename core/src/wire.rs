//! The wire format: one [`Message`] per frame, with magic, cluster id, length and checksum.
//!
//! # Frame layout
//!
//! Every frame is a fixed [`FRAME_HEADER_BYTES`]-byte header followed by the payload.
//! All integers are little-endian.
//!
//! | offset | size | field                                                        |
//! |-------:|-----:|--------------------------------------------------------------|
//! |      0 |    4 | magic, `b"VSTP"` ([`FRAME_MAGIC`])                            |
//! |      4 |    1 | format version, `1` ([`FRAME_VERSION`])                       |
//! |      5 |    3 | reserved, must be zero                                       |
//! |      8 |    8 | cluster id, `u64`                                            |
//! |     16 |    4 | payload length in bytes, `u32`, at most [`FRAME_PAYLOAD_MAX_BYTES`] |
//! |     20 |    4 | reserved, must be zero                                       |
//! |     24 |    8 | checksum, `u64`                                              |
//! |     32 |    n | payload: the postcard encoding of one [`Message`]             |
//!
//! The checksum is [`Hasher64`] over header bytes `0..24` (everything before the
//! checksum) followed by the payload, so a flipped bit anywhere in the frame is
//! detected: in the magic, version, reserved bytes or length by the field checks, and
//! everywhere else (cluster id, payload, the checksum itself) by the checksum.
//!
//! # Streaming
//!
//! A host reading a byte stream calls [`frame_length`] on what it has buffered; it
//! answers `Ok(None)` until the header is complete and the whole frame has arrived, and
//! fails as soon as the bytes present show a bad magic, version, reserved byte or an
//! oversized length, so a host never waits for (or allocates) a frame it will reject.
//! Once it answers `Ok(Some(n))`, [`decode`] on those `n` bytes checks the checksum and
//! cluster id and decodes the message. [`decode`] also accepts a buffer holding more
//! than one frame and reports how many bytes the first one took.
//!
//! Decoding never panics, whatever the bytes.

use alloc::vec::Vec;
use core::fmt;

use crate::checksum::Hasher64;
use crate::message::Message;
use crate::release::{Feature, Release, OLDEST_RELEASE};

/// The first four bytes of every frame.
pub const FRAME_MAGIC: [u8; 4] = *b"VSTP";
/// The frame format version this build writes and reads.
pub const FRAME_VERSION: u8 = 1;
/// The size of the fixed frame header, which precedes the payload.
pub const FRAME_HEADER_BYTES: usize = 32;
/// The largest payload a frame may carry; longer lengths are rejected before allocating.
pub const FRAME_PAYLOAD_MAX_BYTES: usize = 16 * 1024 * 1024;

const VERSION_OFFSET: usize = 4;
const RESERVED_A: core::ops::Range<usize> = 5..8;
const CLUSTER: core::ops::Range<usize> = 8..16;
const LENGTH: core::ops::Range<usize> = 16..20;
const RESERVED_B: core::ops::Range<usize> = 20..24;
const CHECKSUM: core::ops::Range<usize> = 24..32;
/// The header bytes the checksum covers (all of them before the checksum itself).
const CHECKSUMMED: core::ops::Range<usize> = 0..24;

/// Why a frame was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The bytes end before the frame does: wait for more.
    Incomplete,
    /// The bytes do not start with [`FRAME_MAGIC`].
    BadMagic,
    /// The frame's format version is not [`FRAME_VERSION`].
    UnsupportedVersion(u8),
    /// A reserved header byte is not zero.
    ReservedNonZero,
    /// The payload length exceeds [`FRAME_PAYLOAD_MAX_BYTES`].
    TooLarge { length_bytes: usize },
    /// The frame was sent to a different cluster.
    WrongCluster { expected: u64, found: u64 },
    /// The checksum does not match the header and payload.
    BadChecksum,
    /// The payload is not a message this release can decode (for example, an unknown
    /// variant from a newer release).
    Malformed,
    /// The payload holds bytes after the message it encodes.
    TrailingBytes,
    /// Refused at encoding: the message kind needs a newer release than the one the
    /// cluster runs, so an older peer could not decode it.
    NotInRelease { kind: &'static str, since: Release, release: Release },
}

impl WireError {
    /// A stable snake_case name, for metrics counters and logs.
    pub const fn label(&self) -> &'static str {
        match self {
            WireError::Incomplete => "incomplete",
            WireError::BadMagic => "bad_magic",
            WireError::UnsupportedVersion(_) => "unsupported_version",
            WireError::ReservedNonZero => "reserved_non_zero",
            WireError::TooLarge { .. } => "too_large",
            WireError::WrongCluster { .. } => "wrong_cluster",
            WireError::BadChecksum => "bad_checksum",
            WireError::Malformed => "malformed",
            WireError::TrailingBytes => "trailing_bytes",
            WireError::NotInRelease { .. } => "not_in_release",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Incomplete => f.write_str(
                "frame is incomplete: read more bytes before decoding \
                 (if the stream has ended, the peer closed it mid-frame)",
            ),
            WireError::BadMagic => f.write_str(
                "bytes do not start with the frame magic \"VSTP\": the peer is not a viewstamp node \
                 or the stream lost its framing; close the connection",
            ),
            WireError::UnsupportedVersion(version) => write!(
                f,
                "frame format version {version} is not supported (this node speaks version {FRAME_VERSION}): \
                 run releases with the same wire format on both ends",
            ),
            WireError::ReservedNonZero => f.write_str(
                "frame header has non-zero reserved bytes: the peer uses a newer wire format \
                 or the stream is corrupt; close the connection",
            ),
            WireError::TooLarge { length_bytes } => write!(
                f,
                "frame payload of {length_bytes} bytes exceeds the limit of {FRAME_PAYLOAD_MAX_BYTES} bytes: \
                 the peer is misbehaving or the stream is corrupt; close the connection",
            ),
            WireError::NotInRelease { kind, since, release } => write!(
                f,
                "a {kind} message needs release {since}, but the cluster runs {release}: \
                 it is not sent until the cluster release reaches {since}",
            ),
            WireError::WrongCluster { expected, found } => write!(
                f,
                "frame is for cluster {found}, this node belongs to cluster {expected}: \
                 check the cluster id in the config",
            ),
            WireError::BadChecksum => {
                f.write_str("frame checksum does not match its contents: the frame was corrupted in transit; drop it")
            }
            WireError::Malformed => f.write_str(
                "frame payload is not a message this release understands: the peer may run a newer release \
                 (compare releases) or the payload is corrupt",
            ),
            WireError::TrailingBytes => f.write_str(
                "frame payload has bytes left over after the message: the peer's encoder disagrees \
                 with this release (compare releases)",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WireError {}

/// The release that introduced a message kind to the wire. A binary older than it
/// cannot decode the kind: its decoder meets an unknown variant.
///
/// The kinds up to 1.3.0 are all part of the 1.0.0 wire, on purpose: features are
/// gated on the committed release, not on what can be decoded, so that an old binary
/// can still answer, for instance a read at a standby with `feature-off` as the spec
/// requires. A kind added later gets its release here (1.4.0's read_index rounds), and
/// `encode_for` keeps it off the wire until the cluster runs that release.
pub fn introduced_in(message: &Message) -> Release {
    match message {
        Message::Request(_)
        | Message::Reply(_)
        | Message::Prepare(_)
        | Message::PrepareOk(_)
        | Message::Commit(_)
        | Message::Heartbeat(_)
        | Message::StartViewChange(_)
        | Message::DoViewChange(_)
        | Message::StartView(_)
        | Message::RequestStartView(_)
        | Message::Recovery(_)
        | Message::RecoveryResponse(_)
        | Message::RequestPrepare(_)
        | Message::RequestCheckpoint(_)
        | Message::Checkpoint(_)
        | Message::ReadRequest(_) => OLDEST_RELEASE,
        Message::ConfirmPrimacy(_) | Message::PrimacyConfirmed(_) => Feature::ReadIndex.since(),
    }
}

/// Encode for a cluster running `cluster_release`: a message kind newer than it is
/// refused, so a member never sends what an older peer cannot decode.
pub fn encode_for(cluster: u64, cluster_release: Release, message: &Message) -> Result<Vec<u8>, WireError> {
    let since = introduced_in(message);
    if since > cluster_release {
        return Err(WireError::NotInRelease { kind: message.kind(), since, release: cluster_release });
    }
    try_encode(cluster, message)
}

/// Decode as a binary of release `binary` does: a kind newer than the binary is as
/// unknown to it as any unknown variant (`Malformed`), to be dropped and counted.
pub fn decode_for(binary: Release, expected_cluster: u64, bytes: &[u8]) -> Result<(Message, usize), WireError> {
    let (message, used) = decode(expected_cluster, bytes)?;
    if introduced_in(&message) > binary {
        return Err(WireError::Malformed);
    }
    Ok((message, used))
}

/// Encodes `message` as one frame for `cluster`.
///
/// # Panics
///
/// If the encoded message is longer than [`FRAME_PAYLOAD_MAX_BYTES`] (no receiver would
/// accept it). Use [`try_encode`] where a message can be that large.
pub fn encode(cluster: u64, message: &Message) -> Vec<u8> {
    match try_encode(cluster, message) {
        Ok(frame) => frame,
        Err(error) => panic!("cannot encode a {} message: {error}", message.kind()),
    }
}

/// Encodes `message` as one frame for `cluster`, or fails with [`WireError::TooLarge`]
/// when its payload would exceed [`FRAME_PAYLOAD_MAX_BYTES`].
pub fn try_encode(cluster: u64, message: &Message) -> Result<Vec<u8>, WireError> {
    // The header is written once the payload's length is known. Postcard cannot fail to
    // encode a `Message` (every sequence has a known length); were it ever to, the
    // receiver could not have decoded the result either, hence `Malformed`.
    let header = alloc::vec![0u8; FRAME_HEADER_BYTES];
    let mut frame = postcard::to_extend(message, header).map_err(|_| WireError::Malformed)?;
    seal(&mut frame, cluster)?;
    Ok(frame)
}

/// Frames payload bytes that are already encoded, whatever they hold: for tests and
/// fuzzing, which need frames around payloads no `Message` encodes to.
pub fn frame_payload(cluster: u64, payload: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut frame = alloc::vec![0u8; FRAME_HEADER_BYTES];
    frame.extend_from_slice(payload);
    seal(&mut frame, cluster)?;
    Ok(frame)
}

/// Write the header of `frame`, whose payload follows `FRAME_HEADER_BYTES` of room.
fn seal(frame: &mut [u8], cluster: u64) -> Result<(), WireError> {
    let length_bytes = frame.len() - FRAME_HEADER_BYTES;
    let length = match u32::try_from(length_bytes) {
        Ok(length) if length_bytes <= FRAME_PAYLOAD_MAX_BYTES => length,
        _ => return Err(WireError::TooLarge { length_bytes }),
    };
    frame[0..4].copy_from_slice(&FRAME_MAGIC);
    frame[VERSION_OFFSET] = FRAME_VERSION;
    frame[CLUSTER].copy_from_slice(&cluster.to_le_bytes());
    frame[LENGTH].copy_from_slice(&length.to_le_bytes());
    let checksum = frame_checksum(&frame[CHECKSUMMED], &frame[FRAME_HEADER_BYTES..]);
    frame[CHECKSUM].copy_from_slice(&checksum.to_le_bytes());
    Ok(())
}

fn frame_checksum(header: &[u8], payload: &[u8]) -> u64 {
    let mut hasher = Hasher64::new();
    hasher.write_bytes(header);
    hasher.write_bytes(payload);
    hasher.finish()
}

fn read_u32(bytes: &[u8], at: core::ops::Range<usize>) -> Option<u32> {
    bytes.get(at)?.try_into().ok().map(u32::from_le_bytes)
}

fn read_u64(bytes: &[u8], at: core::ops::Range<usize>) -> Option<u64> {
    bytes.get(at)?.try_into().ok().map(u64::from_le_bytes)
}

/// The length of the frame at the start of `bytes` (header plus payload), `Ok(None)`
/// while more bytes are needed to know it or to hold the whole frame.
///
/// Checks what the bytes present allow, in header order: the magic (even a partial
/// one), the version, the reserved bytes and the payload length, so a bad stream fails
/// early. It does not check the checksum or cluster id; [`decode`] does.
pub fn frame_length(bytes: &[u8]) -> Result<Option<usize>, WireError> {
    let magic_present = &bytes[..bytes.len().min(FRAME_MAGIC.len())];
    if !FRAME_MAGIC.starts_with(magic_present) {
        return Err(WireError::BadMagic);
    }
    if let Some(&version) = bytes.get(VERSION_OFFSET) {
        if version != FRAME_VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
    }
    if RESERVED_A.chain(RESERVED_B).filter_map(|at| bytes.get(at)).any(|&byte| byte != 0) {
        return Err(WireError::ReservedNonZero);
    }
    let Some(length) = read_u32(bytes, LENGTH) else {
        return Ok(None);
    };
    let length_bytes = usize::try_from(length).unwrap_or(usize::MAX);
    if length_bytes > FRAME_PAYLOAD_MAX_BYTES {
        return Err(WireError::TooLarge { length_bytes });
    }
    let total = FRAME_HEADER_BYTES + length_bytes;
    Ok((bytes.len() >= total).then_some(total))
}

/// Decodes the frame at the start of `bytes`, returning the message and the number of
/// bytes the frame took (bytes after it, such as the next frame, are left alone).
///
/// Fails with [`WireError::Incomplete`] when `bytes` ends before the frame does, and
/// with [`WireError::WrongCluster`] (after the checksum passed) for another cluster's
/// frame.
pub fn decode(expected_cluster: u64, bytes: &[u8]) -> Result<(Message, usize), WireError> {
    let total = frame_length(bytes)?.ok_or(WireError::Incomplete)?;
    let frame = bytes.get(..total).ok_or(WireError::Incomplete)?;
    let (header, payload) = frame.split_at_checked(FRAME_HEADER_BYTES).ok_or(WireError::Incomplete)?;
    let stored = read_u64(header, CHECKSUM).ok_or(WireError::Incomplete)?;
    if frame_checksum(&header[CHECKSUMMED], payload) != stored {
        return Err(WireError::BadChecksum);
    }
    let found = read_u64(header, CLUSTER).ok_or(WireError::Incomplete)?;
    if found != expected_cluster {
        return Err(WireError::WrongCluster { expected: expected_cluster, found });
    }
    match postcard::take_from_bytes::<Message>(payload) {
        Ok((message, [])) => Ok((message, total)),
        Ok((_, _rest)) => Err(WireError::TrailingBytes),
        Err(_) => Err(WireError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{
        Body, Checkpoint, CheckpointData, Commit, ConfigStamp, DoViewChange, Entry, Header, Prepare, PrepareOk,
        RecoveryResponse, Reply, Request, Slot, StartView, StartViewChange,
    };
    use crate::release::Release;
    use crate::upgrade::{UpgradeCommand, UpgradeState};
    use alloc::string::ToString;
    use alloc::vec;

    const CLUSTER_ID: u64 = 0x0123_4567_89ab_cdef;

    fn requests(op: u64) -> Entry {
        Entry::new(
            op,
            2,
            op * 7,
            Body::Requests(vec![
                Request { client: 9, session: 3, request: 1, operation: b"set x 1".to_vec() },
                Request::register(10),
            ]),
        )
    }

    fn config() -> ConfigStamp {
        ConfigStamp {
            op: 4,
            view: 1,
            checksum: 44,
            membership: crate::replica::Membership::initial(3, 1).promote(3, None),
            committed: true,
        }
    }

    fn samples() -> Vec<Message> {
        let release = Release::new(1, 2, 3);
        vec![
            Message::Request(Request { client: 1, session: 7, request: 2, operation: b"get x".to_vec() }),
            Message::StartViewChange(StartViewChange {
                view: 3,
                from: 1,
                handing_over: true,
                promised_view: 3,
                config: config(),
            }),
            Message::Reply(Reply { view: 3, client: 1, request: 2, op: 9, result: vec![0xff; 300] }),
            Message::Prepare(Prepare { view: 2, commit: 6, entry: requests(7) }),
            Message::Prepare(Prepare { view: 2, commit: 7, entry: Entry::new(8, 2, 77, Body::Upgrade { release }) }),
            Message::Prepare(Prepare {
                view: 2,
                commit: 8,
                entry: Entry::new(9, 2, 88, Body::UpgradeControl(UpgradeCommand::Auto(false))),
            }),
            Message::Prepare(Prepare {
                view: 2,
                commit: 9,
                entry: Entry::new(
                    10,
                    2,
                    99,
                    Body::Reconfigure(crate::message::Reconfiguration {
                        promoted: 3,
                        replaced: Some(1),
                        membership: crate::replica::Membership::initial(3, 1).promote(3, Some(1)),
                    }),
                ),
            }),
            Message::PrepareOk(PrepareOk { view: 2, op: 7, from: 1, release }),
            Message::Commit(Commit {
                view: 2,
                commit: 7,
                sent_at: 900,
                lease_remaining_ticks: 250,
                config: config(),
                checkpoint: 0,
                release,
                cluster_release: release,
                from: 0,
            }),
            Message::DoViewChange(DoViewChange {
                view: 4,
                from: 2,
                log_view: 2,
                commit: 6,
                checkpoint: 5,
                slots: vec![
                    Slot { header: requests(6).header, body: Some(requests(6).body) },
                    Slot { header: Header { op: 7, view: 2, parent: 1, checksum: 42 }, body: None },
                ],
            }),
            Message::RecoveryResponse(RecoveryResponse {
                view: 4,
                nonce: u64::MAX,
                from: 0,
                config: config(),
                primary_log: Some(StartView {
                    view: 4,
                    from: 1,
                    commit: 6,
                    config: config(),
                    checkpoint: 5,
                    checkpoint_checksum: 55,
                    slots: vec![Slot { header: requests(6).header, body: Some(requests(6).body) }],
                }),
            }),
            Message::Checkpoint(Checkpoint {
                view: 4,
                from: 0,
                data: CheckpointData {
                    op: 5,
                    last_header: requests(5).header,
                    upgrade: UpgradeState::new(release),
                    config: crate::replica::membership::ConfigState::initial(3, 1),
                    state: vec![1, 2, 3],
                    sessions: vec![],
                },
            }),
        ]
    }

    /// A frame around an arbitrary payload, with a correct header and checksum.
    fn frame_with_payload(cluster: u64, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0u8; FRAME_HEADER_BYTES];
        frame[0..4].copy_from_slice(&FRAME_MAGIC);
        frame[VERSION_OFFSET] = FRAME_VERSION;
        frame[CLUSTER].copy_from_slice(&cluster.to_le_bytes());
        frame[LENGTH].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        let checksum = frame_checksum(&frame[CHECKSUMMED], payload);
        frame[CHECKSUM].copy_from_slice(&checksum.to_le_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn round_trips_every_sample() {
        for message in samples() {
            let frame = encode(CLUSTER_ID, &message);
            assert_eq!(frame_length(&frame), Ok(Some(frame.len())), "{}", message.kind());
            assert_eq!(decode(CLUSTER_ID, &frame), Ok((message.clone(), frame.len())), "{}", message.kind());
        }
    }

    #[test]
    fn header_layout_is_as_documented() {
        let message = &samples()[0];
        let frame = encode(7, message);
        let payload = postcard::to_allocvec(message).unwrap();
        assert_eq!(&frame[0..4], b"VSTP");
        assert_eq!(frame[4], 1);
        assert_eq!(&frame[5..8], &[0, 0, 0]);
        assert_eq!(&frame[8..16], &7u64.to_le_bytes());
        assert_eq!(&frame[16..20], &(payload.len() as u32).to_le_bytes());
        assert_eq!(&frame[20..24], &[0, 0, 0, 0]);
        let mut hasher = Hasher64::new();
        hasher.write_bytes(&frame[..24]);
        hasher.write_bytes(&payload);
        assert_eq!(&frame[24..32], &hasher.finish().to_le_bytes());
        assert_eq!(&frame[32..], &payload[..]);
        assert_eq!(frame, frame_with_payload(7, &payload));
    }

    #[test]
    fn decodes_the_first_of_several_frames() {
        let samples = samples();
        let mut stream = encode(CLUSTER_ID, &samples[1]);
        let first = stream.len();
        stream.extend(encode(CLUSTER_ID, &samples[2]));
        assert_eq!(frame_length(&stream), Ok(Some(first)));
        assert_eq!(decode(CLUSTER_ID, &stream), Ok((samples[1].clone(), first)));
        assert_eq!(decode(CLUSTER_ID, &stream[first..]), Ok((samples[2].clone(), stream.len() - first)));
    }

    #[test]
    fn truncated_frames_are_incomplete() {
        for message in samples() {
            let frame = encode(CLUSTER_ID, &message);
            for end in 0..frame.len() {
                assert_eq!(decode(CLUSTER_ID, &frame[..end]), Err(WireError::Incomplete), "{end}");
                assert_eq!(frame_length(&frame[..end]), Ok(None), "{end}");
            }
        }
    }

    #[test]
    fn bad_magic_fails_early() {
        let mut frame = encode(CLUSTER_ID, &samples()[0]);
        frame[2] = b'X';
        assert_eq!(decode(CLUSTER_ID, &frame), Err(WireError::BadMagic));
        assert_eq!(frame_length(&frame[..3]), Err(WireError::BadMagic));
        assert_eq!(frame_length(b"GET / HTTP/1.1\r\n"), Err(WireError::BadMagic));
        assert_eq!(frame_length(b"V"), Ok(None));
        assert_eq!(frame_length(b""), Ok(None));
    }

    #[test]
    fn unsupported_version() {
        let mut frame = encode(CLUSTER_ID, &samples()[0]);
        frame[4] = 2;
        assert_eq!(decode(CLUSTER_ID, &frame), Err(WireError::UnsupportedVersion(2)));
        assert_eq!(frame_length(&frame[..5]), Err(WireError::UnsupportedVersion(2)));
    }

    #[test]
    fn reserved_bytes_must_be_zero() {
        let frame = encode(CLUSTER_ID, &samples()[0]);
        for at in [5, 6, 7, 20, 21, 22, 23] {
            let mut bad = frame.clone();
            bad[at] = 0x80;
            assert_eq!(decode(CLUSTER_ID, &bad), Err(WireError::ReservedNonZero), "{at}");
            assert_eq!(frame_length(&bad[..=at]), Err(WireError::ReservedNonZero), "{at}");
        }
    }

    #[test]
    fn oversized_length_fails_before_the_payload_arrives() {
        let mut header = encode(CLUSTER_ID, &samples()[0]);
        header.truncate(FRAME_HEADER_BYTES);
        for length in [FRAME_PAYLOAD_MAX_BYTES as u32 + 1, u32::MAX] {
            header[LENGTH].copy_from_slice(&length.to_le_bytes());
            let error = WireError::TooLarge { length_bytes: length as usize };
            assert_eq!(frame_length(&header[..20]), Err(error));
            assert_eq!(decode(CLUSTER_ID, &header), Err(error));
        }
        header[LENGTH].copy_from_slice(&(FRAME_PAYLOAD_MAX_BYTES as u32).to_le_bytes());
        assert_eq!(frame_length(&header), Ok(None));
        assert_eq!(decode(CLUSTER_ID, &header), Err(WireError::Incomplete));
    }

    #[test]
    fn try_encode_refuses_an_oversized_message() {
        let message = Message::Request(Request {
            client: 1,
            session: 1,
            request: 1,
            operation: vec![0; FRAME_PAYLOAD_MAX_BYTES],
        });
        match try_encode(CLUSTER_ID, &message) {
            Err(WireError::TooLarge { length_bytes }) => assert!(length_bytes > FRAME_PAYLOAD_MAX_BYTES),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn wrong_cluster_names_both_ids() {
        let frame = encode(7, &samples()[0]);
        let error = decode(3, &frame).unwrap_err();
        assert_eq!(error, WireError::WrongCluster { expected: 3, found: 7 });
        let text = error.to_string();
        assert!(text.contains("cluster 7") && text.contains("cluster 3") && text.contains("config"), "{text}");
    }

    #[test]
    fn corruption_fails_the_checksum() {
        let frame = encode(CLUSTER_ID, &samples()[2]);
        for at in (8..16).chain(24..frame.len()) {
            let mut bad = frame.clone();
            bad[at] ^= 0x10;
            assert_eq!(decode(CLUSTER_ID, &bad), Err(WireError::BadChecksum), "{at}");
        }
    }

    #[test]
    fn unknown_variant_is_malformed() {
        // A newer release's variant 200 (varint 0xc8 0x01) followed by some fields.
        let frame = frame_with_payload(CLUSTER_ID, &[0xc8, 0x01, 3, 4, 5]);
        assert_eq!(frame_length(&frame), Ok(Some(frame.len())));
        assert_eq!(decode(CLUSTER_ID, &frame), Err(WireError::Malformed));
        // A bare 200 is an unfinished varint; an empty payload has no variant at all.
        assert_eq!(decode(CLUSTER_ID, &frame_with_payload(CLUSTER_ID, &[200])), Err(WireError::Malformed));
        assert_eq!(decode(CLUSTER_ID, &frame_with_payload(CLUSTER_ID, &[])), Err(WireError::Malformed));
        // A known variant whose fields are cut short.
        let payload = postcard::to_allocvec(&samples()[2]).unwrap();
        let frame = frame_with_payload(CLUSTER_ID, &payload[..payload.len() - 1]);
        assert_eq!(decode(CLUSTER_ID, &frame), Err(WireError::Malformed));
    }

    #[test]
    fn bytes_after_the_message_are_trailing() {
        let mut payload = postcard::to_allocvec(&samples()[0]).unwrap();
        payload.push(0);
        assert_eq!(decode(CLUSTER_ID, &frame_with_payload(CLUSTER_ID, &payload)), Err(WireError::TrailingBytes));
    }

    #[test]
    fn labels_are_distinct_snake_case_and_messages_are_non_empty() {
        let errors = [
            WireError::Incomplete,
            WireError::BadMagic,
            WireError::UnsupportedVersion(9),
            WireError::ReservedNonZero,
            WireError::TooLarge { length_bytes: 1 << 30 },
            WireError::WrongCluster { expected: 3, found: 7 },
            WireError::BadChecksum,
            WireError::Malformed,
            WireError::TrailingBytes,
        ];
        for (i, error) in errors.iter().enumerate() {
            let label = error.label();
            assert!(!label.is_empty() && label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{label}");
            assert!(errors[..i].iter().all(|other| other.label() != label), "{label}");
            assert!(error.to_string().contains(": "), "{error}");
        }
        assert!(WireError::UnsupportedVersion(9).to_string().contains("version 9"));
        assert!(WireError::TooLarge { length_bytes: 1 << 30 }.to_string().contains("1073741824"));
    }
}

#[cfg(test)]
mod release_compatibility {
    use super::*;
    use crate::message::{Commit, ConfigStamp, Heartbeat, PrepareOk, ReadRequest, Request};
    use crate::release::KNOWN_RELEASES;
    use alloc::vec;

    fn one_of_each_kind() -> Vec<Message> {
        let release = crate::release::NEWEST_RELEASE;
        vec![
            Message::Request(Request { client: 1, session: 1, request: 1, operation: vec![1] }),
            Message::PrepareOk(PrepareOk { view: 1, op: 2, from: 1, release }),
            Message::Commit(Commit {
                view: 1,
                commit: 2,
                sent_at: 5,
                lease_remaining_ticks: 0,
                config: ConfigStamp {
                    op: 0,
                    view: 0,
                    checksum: 0,
                    membership: crate::replica::Membership::initial(3, 1),
                    committed: true,
                },
                checkpoint: 0,
                release,
                cluster_release: release,
                from: 1,
            }),
            Message::Heartbeat(Heartbeat { view: 1, from: 3, op: 2, commit: 2, release, echo_sent_at: 5 }),
            Message::ReadRequest(ReadRequest { client: 1, request: 2, operation: vec![2], min_op: 1 }),
        ]
    }

    /// Messages encoded under each release, decoded by each older release's rules:
    /// every kind a cluster at a release may send decodes on every binary that can run
    /// that release, and a kind newer than a binary is refused at encoding.
    #[test]
    fn every_kind_sent_at_a_release_decodes_on_every_binary_that_runs_it() {
        for message in one_of_each_kind() {
            let since = introduced_in(&message);
            for cluster_release in KNOWN_RELEASES {
                let encoded = encode_for(7, cluster_release, &message);
                if since > cluster_release {
                    assert!(matches!(encoded, Err(WireError::NotInRelease { .. })), "{}", message.kind());
                    continue;
                }
                let frame = encoded.expect("an old enough kind encodes");
                // Every member of a cluster at `cluster_release` runs a binary at least
                // that new, however much older than the sender's it is.
                for binary in KNOWN_RELEASES.into_iter().filter(|binary| *binary >= cluster_release) {
                    let (decoded, _) = decode_for(binary, 7, &frame).expect("decodes on every binary that runs it");
                    assert_eq!(decoded, message);
                }
            }
        }
    }

    /// What an old binary meets when a newer one sends a kind it does not know: an
    /// unknown variant, dropped as `Malformed`, never a panic.
    #[test]
    fn an_unknown_kind_from_a_newer_release_is_dropped() {
        let mut payload = encode(7, &one_of_each_kind()[0])[FRAME_HEADER_BYTES..].to_vec();
        // The variant index is the payload's first byte; the kinds known end well before 120.
        payload[0] = 120;
        let frame = frame_payload(7, &payload).expect("a small payload frames");
        for binary in KNOWN_RELEASES {
            assert_eq!(decode_for(binary, 7, &frame), Err(WireError::Malformed));
        }
    }
}
