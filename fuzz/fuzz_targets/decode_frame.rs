//! Feeds arbitrary bytes to the frame decoder: it must never panic, `frame_length` and
//! `decode` must agree, and whatever decodes must survive a re-encode.
//!
//! Input: the first 8 bytes (when present) are the expected cluster id, little-endian;
//! the rest is the frame. The same rest is also decoded as the payload of a frame with a
//! valid header and checksum, so the fuzzer reaches the message decoder without having
//! to forge a checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use viewstamp_core::wire::{self, WireError, FRAME_PAYLOAD_MAX_BYTES};

fuzz_target!(|data: &[u8]| {
    let (cluster, frame) = match data.split_first_chunk::<8>() {
        Some((cluster, rest)) => (u64::from_le_bytes(*cluster), rest),
        None => (0, data),
    };
    check(cluster, frame);
    if frame.len() <= FRAME_PAYLOAD_MAX_BYTES {
        check(cluster, &sealed(cluster, frame));
    }
});

fn check(cluster: u64, bytes: &[u8]) {
    let length = wire::frame_length(bytes);
    let decoded = wire::decode(cluster, bytes);
    match (length, &decoded) {
        (Ok(Some(length)), Ok((_, consumed))) => assert_eq!(length, *consumed),
        (Ok(Some(length)), Err(error)) => {
            assert!(length <= bytes.len());
            assert_ne!(*error, WireError::Incomplete);
        }
        (Ok(None), result) => assert_eq!(*result, Err(WireError::Incomplete)),
        (Err(error), result) => assert_eq!(*result, Err(error)),
    }
    if let Ok((message, _)) = decoded {
        let again = wire::try_encode(cluster, &message).expect("a decoded message re-encodes");
        assert_eq!(wire::decode(cluster, &again), Ok((message, again.len())));
    }
}

/// A frame around `payload` with a valid header and checksum.
fn sealed(cluster: u64, payload: &[u8]) -> Vec<u8> {
    wire::frame_payload(cluster, payload).unwrap_or_default()
}
