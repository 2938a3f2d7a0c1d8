//! Properties of the wire format: decoding never panics, frames round-trip, and any
//! single bit flip or truncation is rejected.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use viewstamp_core::checksum::Hasher64;
use viewstamp_core::message::{
    Body, Checkpoint, CheckpointData, Commit, ConfigStamp, DoViewChange, Entry, Header, Heartbeat, Message, Prepare,
    PrepareOk, ReadRequest, Recovery, RecoveryResponse, Reply, Request, RequestCheckpoint, RequestPrepare,
    RequestStartView, Slot, StartView, StartViewChange,
};
use viewstamp_core::release::{Release, Stage};
use viewstamp_core::upgrade::{UpgradeCommand, UpgradeEvent, UpgradeEventKind, UpgradeState};
use viewstamp_core::wire::{self, WireError, FRAME_HEADER_BYTES};

// ---- strategies ----------------------------------------------------------------------

/// Small numbers most of the time (the common case, and one-byte varints), any u64 sometimes.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..300u64, 1 => any::<u64>()]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn release() -> impl Strategy<Value = Release> {
    let stage = prop_oneof![Just(Stage::Alpha), Just(Stage::Beta), Just(Stage::Rc), Just(Stage::Stable)];
    (0..4u16, 0..20u16, any::<u16>(), stage, 0..5u16).prop_map(|(major, minor, patch, stage, stage_number)| Release {
        major,
        minor,
        patch,
        stage,
        stage_number,
    })
}

fn upgrade_command() -> impl Strategy<Value = UpgradeCommand> {
    prop_oneof![
        release().prop_map(UpgradeCommand::Propose),
        Just(UpgradeCommand::Cancel),
        any::<bool>().prop_map(UpgradeCommand::Auto)
    ]
}

fn client_request() -> impl Strategy<Value = Request> {
    (number(), number(), number(), bytes(24)).prop_map(|(client, session, request, operation)| Request {
        client,
        session,
        request,
        operation,
    })
}

fn config() -> impl Strategy<Value = ConfigStamp> {
    (number(), number(), 1..=5u8, 0..=3u8).prop_map(|(op, view, replicas, standbys)| ConfigStamp {
        op,
        view,
        checksum: op ^ view,
        membership: viewstamp_core::replica::Membership::initial(replicas, standbys),
        committed: op % 2 == 0,
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        3 => vec(client_request(), 0..4).prop_map(Body::Requests),
        1 => release().prop_map(|release| Body::Upgrade { release }),
        1 => upgrade_command().prop_map(Body::UpgradeControl),
        1 => (1..=5u8, 1..=3u8, proptest::bool::ANY).prop_map(|(replicas, standbys, replace)| {
            let replaced = replace.then_some(0);
            let membership =
                viewstamp_core::replica::Membership::initial(replicas, standbys).promote(replicas, replaced);
            Body::Reconfigure(viewstamp_core::message::Reconfiguration { promoted: replicas, replaced, membership })
        }),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (number(), number(), any::<u64>(), any::<u64>()).prop_map(|(op, view, parent, checksum)| Header {
        op,
        view,
        parent,
        checksum,
    })
}

fn entry() -> impl Strategy<Value = Entry> {
    (number(), number(), any::<u64>(), body()).prop_map(|(op, view, parent, body)| Entry::new(op, view, parent, body))
}

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![
        entry().prop_map(|entry| Slot { header: entry.header, body: Some(entry.body) }),
        header().prop_map(|header| Slot { header, body: None }),
    ]
}

fn start_view() -> impl Strategy<Value = StartView> {
    (number(), number(), config(), (number(), any::<u64>()), vec(slot(), 0..4)).prop_map(
        |(view, commit, config, (checkpoint, checkpoint_checksum), slots)| StartView {
            view,
            from: (view % 7) as u8,
            commit,
            config,
            checkpoint,
            checkpoint_checksum,
            slots,
        },
    )
}

fn upgrade_state() -> impl Strategy<Value = UpgradeState> {
    let kind = prop_oneof![
        release().prop_map(UpgradeEventKind::Proposed),
        release().prop_map(UpgradeEventKind::Cancelled),
        any::<bool>().prop_map(UpgradeEventKind::AutoSet),
        (release(), release()).prop_map(|(from, to)| UpgradeEventKind::Committed(from, to)),
    ];
    let event = (number(), kind).prop_map(|(op, kind)| UpgradeEvent { op, kind });
    (release(), option::of(release()), any::<bool>(), vec(event, 0..4))
        .prop_map(|(release, target, auto, history)| UpgradeState { release, target, auto, history })
}

fn member() -> impl Strategy<Value = u8> {
    prop_oneof![4 => 0..16u8, 1 => any::<u8>()]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        1 => client_request().prop_map(Message::Request),
        1 => (number(), number(), number(), number(), bytes(32)).prop_map(|(view, client, request, op, result)| {
            Message::Reply(Reply { view, client, request, op, result })
        }),
        1 => (number(), number(), bytes(32), number()).prop_map(|(client, request, operation, min_op)| {
            Message::ReadRequest(ReadRequest { client, request, operation, min_op })
        }),
        3 => (number(), number(), entry())
            .prop_map(|(view, commit, entry)| Message::Prepare(Prepare { view, commit, entry })),
        1 => (number(), number(), member(), release())
            .prop_map(|(view, op, from, release)| Message::PrepareOk(PrepareOk { view, op, from, release })),
        1 => (number(), number(), (number(), number(), config()), number(), release(), release(), member()).prop_map(
            |(view, commit, (sent_at, lease_remaining_ticks, config), checkpoint, release, cluster_release, from)| {
                Message::Commit(Commit {
                    view,
                    commit,
                    sent_at,
                    lease_remaining_ticks,
                    config,
                    checkpoint,
                    release,
                    cluster_release,
                    from,
                })
            }
        ),
        1 => (number(), member(), number(), number(), release(), number()).prop_map(
            |(view, from, op, commit, release, echo_sent_at)| {
                Message::Heartbeat(Heartbeat { view, from, op, commit, release, echo_sent_at })
            }
        ),
        1 => (number(), member(), any::<bool>(), number(), config()).prop_map(
            |(view, from, handing_over, promised_view, config)| {
                Message::StartViewChange(StartViewChange { view, from, handing_over, promised_view, config })
            }
        ),
        3 => (number(), member(), number(), number(), number(), vec(slot(), 0..5)).prop_map(
            |(view, from, log_view, commit, checkpoint, slots)| {
                Message::DoViewChange(DoViewChange { view, from, log_view, commit, checkpoint, slots })
            }
        ),
        1 => start_view().prop_map(Message::StartView),
        1 => (number(), member()).prop_map(|(view, from)| Message::RequestStartView(RequestStartView { view, from })),
        1 => (member(), any::<u64>()).prop_map(|(from, nonce)| Message::Recovery(Recovery { from, nonce })),
        1 => (number(), any::<u64>(), member(), config(), option::of(start_view())).prop_map(
            |(view, nonce, from, config, primary_log)| {
                Message::RecoveryResponse(RecoveryResponse { view, nonce, from, config, primary_log })
            }
        ),
        1 => (number(), member(), number(), option::of(any::<u64>())).prop_map(|(view, from, op, checksum)| {
            Message::RequestPrepare(RequestPrepare { view, from, op, checksum })
        }),
        1 => (number(), member()).prop_map(|(view, from)| Message::RequestCheckpoint(RequestCheckpoint { view, from })),
        1 => (number(), member(), number(), header(), upgrade_state(), bytes(48), bytes(48)).prop_map(
            |(view, from, op, last_header, upgrade, state, sessions)| {
                Message::Checkpoint(Checkpoint {
                    view,
                    from,
                    data: CheckpointData {
                        op,
                        last_header,
                        upgrade,
                        config: viewstamp_core::replica::membership::ConfigState::initial(3, 1),
                        state,
                        sessions,
                    },
                })
            }
        ),
    ]
}

// ---- helpers -------------------------------------------------------------------------

/// Recomputes the checksum of a frame whose header is well-formed, so that mutated
/// payloads get past the checksum and exercise the message decoder.
fn reseal(frame: &mut [u8]) {
    let mut hasher = Hasher64::new();
    hasher.write_bytes(&frame[..24]);
    hasher.write_bytes(&frame[FRAME_HEADER_BYTES..]);
    let checksum = hasher.finish();
    frame[24..32].copy_from_slice(&checksum.to_le_bytes());
}

/// A frame with a valid header and checksum around an arbitrary payload.
fn sealed(cluster: u64, payload: &[u8]) -> Vec<u8> {
    wire::frame_payload(cluster, payload).expect("test payloads are small")
}

/// Decodes `bytes` both ways and checks what any answer must satisfy.
fn decode_checked(cluster: u64, bytes: &[u8]) -> Result<(Message, usize), WireError> {
    let length = wire::frame_length(bytes);
    if let Ok(Some(length)) = length {
        assert!(length >= FRAME_HEADER_BYTES && length <= bytes.len());
    }
    let decoded = wire::decode(cluster, bytes);
    match (&length, &decoded) {
        (Ok(Some(length)), Ok((_, consumed))) => assert_eq!(consumed, length),
        (Ok(None), result) => assert_eq!(result, &Err(WireError::Incomplete)),
        (Err(error), result) => assert_eq!(result, &Err(*error)),
        (Ok(Some(_)), Err(error)) => assert_ne!(*error, WireError::Incomplete),
    }
    decoded
}

// ---- properties ----------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (1) Arbitrary bytes never make the decoder panic.
    #[test]
    fn arbitrary_bytes_never_panic(cluster in any::<u64>(), bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_checked(cluster, &bytes);
    }

    /// (1) Arbitrary bytes after a well-formed header never make the decoder panic.
    #[test]
    fn arbitrary_bytes_after_a_header_never_panic(
        cluster in any::<u64>(),
        header in vec(any::<u8>(), 0..=FRAME_HEADER_BYTES),
        rest in vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = sealed(cluster, &[]);
        bytes[..header.len()].copy_from_slice(&header);
        bytes[4] = 1;
        bytes.extend(rest);
        let _ = decode_checked(cluster, &bytes);
    }

    /// (1) Arbitrary payloads that pass the checksum never make the message decoder panic.
    #[test]
    fn arbitrary_sealed_payloads_never_panic(cluster in any::<u64>(), payload in vec(any::<u8>(), 0..256)) {
        let frame = sealed(cluster, &payload);
        match decode_checked(cluster, &frame) {
            Ok((_, consumed)) => prop_assert_eq!(consumed, frame.len()),
            Err(error) => prop_assert!(matches!(error, WireError::Malformed | WireError::TrailingBytes), "{error:?}"),
        }
    }

    /// (1) Mutated payloads of real messages that pass the checksum never panic either.
    #[test]
    fn mutated_sealed_payloads_never_panic(
        cluster in any::<u64>(),
        message in message(),
        mutations in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut frame = wire::encode(cluster, &message);
        let payload_len = frame.len() - FRAME_HEADER_BYTES;
        for (index, value) in mutations {
            frame[FRAME_HEADER_BYTES + index.index(payload_len)] = value;
        }
        reseal(&mut frame);
        match decode_checked(cluster, &frame) {
            Ok((_, consumed)) => prop_assert_eq!(consumed, frame.len()),
            Err(error) => prop_assert!(matches!(error, WireError::Malformed | WireError::TrailingBytes), "{error:?}"),
        }
    }

    /// (2) Every message round-trips, also with the next frame's bytes behind it.
    #[test]
    fn round_trip(cluster in any::<u64>(), message in message(), next in vec(any::<u8>(), 0..64)) {
        let mut frame = wire::encode(cluster, &message);
        let length = frame.len();
        prop_assert_eq!(wire::frame_length(&frame), Ok(Some(length)));
        prop_assert_eq!(decode_checked(cluster, &frame), Ok((message.clone(), length)));
        frame.extend(next);
        prop_assert_eq!(decode_checked(cluster, &frame), Ok((message, length)));
    }

    /// (2) A frame for another cluster is refused, naming both ids.
    #[test]
    fn other_clusters_are_refused(cluster in any::<u64>(), other in any::<u64>(), message in message()) {
        prop_assume!(cluster != other);
        let frame = wire::encode(cluster, &message);
        let refused = Err(WireError::WrongCluster { expected: other, found: cluster });
        prop_assert_eq!(decode_checked(other, &frame), refused);
    }

    /// (4) Every truncation of a frame is incomplete, never a message.
    #[test]
    fn truncations_are_incomplete(cluster in any::<u64>(), message in message()) {
        let frame = wire::encode(cluster, &message);
        for end in 0..frame.len() {
            prop_assert_eq!(wire::frame_length(&frame[..end]), Ok(None));
            prop_assert_eq!(decode_checked(cluster, &frame[..end]), Err(WireError::Incomplete));
        }
    }
}

proptest! {
    // Each case flips every bit of the frame, so fewer cases suffice.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (3) Any single bit flip anywhere in a frame is rejected.
    #[test]
    fn every_single_bit_flip_is_rejected(cluster in any::<u64>(), message in message()) {
        let frame = wire::encode(cluster, &message);
        let mut flipped = frame.clone();
        for bit in 0..frame.len() * 8 {
            flipped[bit / 8] ^= 1 << (bit % 8);
            let result = decode_checked(cluster, &flipped);
            let byte = bit / 8;
            let expected_error = match result {
                Ok(_) => false,
                Err(error) => match byte {
                    0..=3 => error == WireError::BadMagic,
                    4 => matches!(error, WireError::UnsupportedVersion(_)),
                    5..=7 | 20..=23 => error == WireError::ReservedNonZero,
                    // A longer length waits for bytes that are not there (or is too large);
                    // a shorter one cuts the payload, which the checksum catches.
                    16..=19 => {
                        matches!(error, WireError::Incomplete | WireError::TooLarge { .. } | WireError::BadChecksum)
                    }
                    // The cluster id, the checksum and the payload are all checksummed.
                    _ => error == WireError::BadChecksum,
                },
            };
            prop_assert!(
                expected_error,
                "flipping bit {} of a {}-byte {} frame gave {:?}",
                bit,
                frame.len(),
                message.kind(),
                result
            );
            flipped[bit / 8] ^= 1 << (bit % 8);
        }
    }
}
