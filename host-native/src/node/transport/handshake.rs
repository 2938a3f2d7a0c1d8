//! The handshake every peer connection starts with, before any frame.
//!
//! ```text
//! listener -> dialer  challenge (32 bytes): magic "VSHS", version, kind 1, 2 reserved,
//!                     cluster u64, listener member u8, 7 reserved, nonce u64
//! dialer -> listener  hello (32 bytes): magic, version, kind 2, 2 reserved,
//!                     cluster u64, dialer member u8, target member u8, 6 reserved, proof u64
//! listener -> dialer  verdict (8 bytes): magic, version, kind 3, code u8 (0 = accepted), 1 reserved
//! ```
//!
//! All integers are little-endian. The proof is a keyed checksum over the shared key, the
//! listener's fresh nonce, the cluster and both member ids, so a recorded hello does not
//! open a second connection. Without a configured key the proof is over an empty key:
//! members must all have the same key or all have none.
//!
//! This authenticates the dialer only (frames flow from dialer to listener, so only the
//! listener needs to know who is talking) and encrypts nothing. The checksum is not a
//! cryptographic MAC: it keeps out misconfigured members and casual intruders, not a
//! determined attacker who can watch the network. Run peers on a private network, or
//! inside a tunnel (WireGuard, TLS), where that matters.

use std::collections::BTreeSet;
use std::fmt;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use viewstamp_core::checksum::Hasher64;
use viewstamp_core::types::MemberId;

pub const HANDSHAKE_MAGIC: [u8; 4] = *b"VSHS";
pub const HANDSHAKE_VERSION: u8 = 1;
const CHALLENGE_BYTES: usize = 32;
const HELLO_BYTES: usize = 32;
const VERDICT_BYTES: usize = 8;
const KIND_CHALLENGE: u8 = 1;
const KIND_HELLO: u8 = 2;
const KIND_VERDICT: u8 = 3;
const ACCEPTED: u8 = 0;
/// Separates these proofs from any other use of the same key.
const PROOF_DOMAIN: &[u8] = b"viewstamp transport proof v1";

/// Who this member is, as the handshake presents it.
#[derive(Clone)]
pub(super) struct Identity {
    pub(super) member: MemberId,
    pub(super) cluster: u64,
    pub(super) key: Vec<u8>,
}

/// Why the listener closed a connection before its handshake completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refusal {
    /// Too many connections were already mid-handshake.
    TooManyPending,
    /// The handshake did not complete within the timeout.
    Timeout,
    /// The dialer closed the connection (or it failed) mid-handshake.
    Closed,
    /// The bytes are not a viewstamp handshake.
    BadMagic,
    UnsupportedVersion,
    /// Right magic and version, but a wrong kind or non-zero reserved bytes.
    Malformed,
    WrongCluster,
    /// The dialer's member id is not one of this member's configured peers.
    UnknownMember,
    /// The dialer meant to reach another member: its peer address list is wrong.
    WrongTarget,
    /// The key proof does not match this member's shared key.
    BadProof,
}

impl Refusal {
    pub const ALL: [Refusal; 10] = [
        Refusal::TooManyPending,
        Refusal::Timeout,
        Refusal::Closed,
        Refusal::BadMagic,
        Refusal::UnsupportedVersion,
        Refusal::Malformed,
        Refusal::WrongCluster,
        Refusal::UnknownMember,
        Refusal::WrongTarget,
        Refusal::BadProof,
    ];

    /// A stable snake_case name, for metrics and logs.
    pub const fn label(self) -> &'static str {
        match self {
            Refusal::TooManyPending => "too_many_pending",
            Refusal::Timeout => "timeout",
            Refusal::Closed => "closed",
            Refusal::BadMagic => "bad_magic",
            Refusal::UnsupportedVersion => "unsupported_version",
            Refusal::Malformed => "malformed",
            Refusal::WrongCluster => "wrong_cluster",
            Refusal::UnknownMember => "unknown_member",
            Refusal::WrongTarget => "wrong_target",
            Refusal::BadProof => "bad_proof",
        }
    }

    /// The verdict code sent to the dialer; never 0, which means accepted.
    const fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|refusal| refusal.code() == code)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::TooManyPending => "too many connections are mid-handshake; retry later",
            Refusal::Timeout => {
                "the handshake did not complete in time: the peer is slow, silent or not a viewstamp node"
            }
            Refusal::Closed => "the connection closed mid-handshake",
            Refusal::BadMagic => "the bytes are not a viewstamp peer handshake: something other than a peer connected",
            Refusal::UnsupportedVersion => "the handshake version differs: run compatible releases on both members",
            Refusal::Malformed => "the handshake is malformed: run compatible releases on both members",
            Refusal::WrongCluster => "the cluster ids differ: check the cluster id in both members' configs",
            Refusal::UnknownMember => "the dialer's member id is not among this member's peers: check the peer lists",
            Refusal::WrongTarget => {
                "the dialer meant to reach another member id: check the peer addresses in the dialer's config"
            }
            Refusal::BadProof => "the key proof is wrong: set the same shared key (or none) on every member",
        })
    }
}

/// Why dialing a peer failed.
#[derive(Debug)]
pub(super) enum DialError {
    Io(io::Error),
    Timeout,
    /// What answered is not a viewstamp member speaking this handshake.
    NotAPeer,
    /// The listener refused us; it announced this cluster and member id.
    Refused {
        reason: Refusal,
        cluster: u64,
        member: MemberId,
    },
}

impl From<io::Error> for DialError {
    fn from(error: io::Error) -> Self {
        DialError::Io(error)
    }
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialError::Io(error) => write!(f, "{error}"),
            DialError::Timeout => f.write_str("timed out connecting or in the handshake"),
            DialError::NotAPeer => {
                f.write_str("the address does not answer as a viewstamp member: check the peer address in the config")
            }
            DialError::Refused { reason, cluster, member } => {
                write!(f, "refused by the listener (member {member} of cluster {cluster}): {reason}")
            }
        }
    }
}

/// The proof a dialer gives that it holds `key`, bound to this connection's nonce and ids.
pub(super) fn proof(key: &[u8], nonce: u64, cluster: u64, dialer: MemberId, target: MemberId) -> u64 {
    let mut hasher = Hasher64::new();
    hasher.write_bytes(PROOF_DOMAIN);
    hasher.write_u64(key.len() as u64);
    hasher.write_bytes(key);
    hasher.write_u64(nonce);
    hasher.write_u64(cluster);
    hasher.write_u64(u64::from(dialer));
    hasher.write_u64(u64::from(target));
    hasher.finish()
}

fn preamble(kind: u8) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    bytes[0..4].copy_from_slice(&HANDSHAKE_MAGIC);
    bytes[4] = HANDSHAKE_VERSION;
    bytes[5] = kind;
    bytes
}

/// Checks magic, version, kind and that the reserved bytes at `reserved` are zero.
fn check(bytes: &[u8], kind: u8, mut reserved: impl Iterator<Item = usize>) -> Result<(), Refusal> {
    if bytes[0..4] != HANDSHAKE_MAGIC {
        return Err(Refusal::BadMagic);
    }
    if bytes[4] != HANDSHAKE_VERSION {
        return Err(Refusal::UnsupportedVersion);
    }
    let reserved_clear = reserved.all(|at| bytes[at] == 0);
    if bytes[5] != kind || !reserved_clear {
        return Err(Refusal::Malformed);
    }
    Ok(())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Challenge {
    pub(super) cluster: u64,
    pub(super) member: MemberId,
    pub(super) nonce: u64,
}

impl Challenge {
    fn encode(&self) -> [u8; CHALLENGE_BYTES] {
        let mut bytes = [0u8; CHALLENGE_BYTES];
        bytes[0..8].copy_from_slice(&preamble(KIND_CHALLENGE));
        bytes[8..16].copy_from_slice(&self.cluster.to_le_bytes());
        bytes[16] = self.member;
        bytes[24..32].copy_from_slice(&self.nonce.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8; CHALLENGE_BYTES]) -> Result<Self, Refusal> {
        check(bytes, KIND_CHALLENGE, (6..8).chain(17..24))?;
        Ok(Challenge { cluster: u64_at(bytes, 8), member: bytes[16], nonce: u64_at(bytes, 24) })
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Hello {
    pub(super) cluster: u64,
    pub(super) from: MemberId,
    pub(super) to: MemberId,
    pub(super) proof: u64,
}

impl Hello {
    fn encode(&self) -> [u8; HELLO_BYTES] {
        let mut bytes = [0u8; HELLO_BYTES];
        bytes[0..8].copy_from_slice(&preamble(KIND_HELLO));
        bytes[8..16].copy_from_slice(&self.cluster.to_le_bytes());
        bytes[16] = self.from;
        bytes[17] = self.to;
        bytes[24..32].copy_from_slice(&self.proof.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8; HELLO_BYTES]) -> Result<Self, Refusal> {
        check(bytes, KIND_HELLO, (6..8).chain(18..24))?;
        Ok(Hello { cluster: u64_at(bytes, 8), from: bytes[16], to: bytes[17], proof: u64_at(bytes, 24) })
    }
}

fn verdict(outcome: Result<(), Refusal>) -> [u8; VERDICT_BYTES] {
    let mut bytes = preamble(KIND_VERDICT);
    bytes[6] = match outcome {
        Ok(()) => ACCEPTED,
        Err(refusal) => refusal.code(),
    };
    bytes
}

/// Reads exactly `buffer.len()` bytes, failing as soon as what arrived cannot start with
/// the handshake magic, so garbage is refused at once rather than at the timeout.
async fn read_handshake<S: AsyncRead + Unpin>(stream: &mut S, buffer: &mut [u8]) -> Result<(), Refusal> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = stream.read(&mut buffer[filled..]).await.map_err(|_| Refusal::Closed)?;
        if read == 0 {
            return Err(Refusal::Closed);
        }
        filled += read;
        if !HANDSHAKE_MAGIC.starts_with(&buffer[..filled.min(HANDSHAKE_MAGIC.len())]) {
            return Err(Refusal::BadMagic);
        }
    }
    Ok(())
}

/// The listener's side: answers the dialer's member id once it proved who it is. On a
/// refusal it tells the dialer why (best effort) before the caller closes the connection.
/// The caller bounds the whole exchange with the handshake timeout.
pub(super) async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    identity: &Identity,
    known: &BTreeSet<MemberId>,
    nonce: u64,
) -> Result<MemberId, Refusal> {
    let challenge = Challenge { cluster: identity.cluster, member: identity.member, nonce };
    stream.write_all(&challenge.encode()).await.map_err(|_| Refusal::Closed)?;
    let mut bytes = [0u8; HELLO_BYTES];
    let outcome = match read_handshake(stream, &mut bytes).await {
        Ok(()) => judge(&bytes, identity, known, nonce),
        Err(refusal) => Err(refusal),
    };
    if outcome != Err(Refusal::Closed) {
        let answer = verdict(outcome.map(|_| ()));
        let written = stream.write_all(&answer).await;
        if outcome.is_ok() {
            written.map_err(|_| Refusal::Closed)?;
        }
    }
    outcome
}

fn judge(
    bytes: &[u8; HELLO_BYTES],
    identity: &Identity,
    known: &BTreeSet<MemberId>,
    nonce: u64,
) -> Result<MemberId, Refusal> {
    let hello = Hello::decode(bytes)?;
    if hello.cluster != identity.cluster {
        return Err(Refusal::WrongCluster);
    }
    if !known.contains(&hello.from) {
        return Err(Refusal::UnknownMember);
    }
    if hello.to != identity.member {
        return Err(Refusal::WrongTarget);
    }
    if hello.proof != proof(&identity.key, nonce, identity.cluster, hello.from, identity.member) {
        return Err(Refusal::BadProof);
    }
    Ok(hello.from)
}

/// The dialer's side: proves who it is to the member it means to reach. The caller bounds
/// the exchange with the handshake timeout.
pub(super) async fn dial<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    identity: &Identity,
    target: MemberId,
) -> Result<(), DialError> {
    let mut bytes = [0u8; CHALLENGE_BYTES];
    stream.read_exact(&mut bytes).await?;
    let challenge = Challenge::decode(&bytes).map_err(|_| DialError::NotAPeer)?;
    let hello = Hello {
        cluster: identity.cluster,
        from: identity.member,
        to: target,
        proof: proof(&identity.key, challenge.nonce, identity.cluster, identity.member, target),
    };
    stream.write_all(&hello.encode()).await?;
    let mut answer = [0u8; VERDICT_BYTES];
    stream.read_exact(&mut answer).await?;
    check(&answer, KIND_VERDICT, 7..8).map_err(|_| DialError::NotAPeer)?;
    match answer[6] {
        ACCEPTED => Ok(()),
        code => Err(DialError::Refused {
            reason: Refusal::from_code(code).unwrap_or(Refusal::Malformed),
            cluster: challenge.cluster,
            member: challenge.member,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(member: MemberId, cluster: u64, key: &[u8]) -> Identity {
        Identity { member, cluster, key: key.to_vec() }
    }

    /// Runs both sides over an in-memory pipe.
    async fn run(
        dialer: Identity,
        target: MemberId,
        listener: Identity,
    ) -> (Result<(), DialError>, Result<MemberId, Refusal>) {
        let (mut near, mut far) = tokio::io::duplex(1024);
        let known: BTreeSet<MemberId> = [0, 1, 2].into();
        tokio::join!(dial(&mut near, &dialer, target), accept(&mut far, &listener, &known, 0x5eed))
    }

    #[test]
    fn messages_round_trip() {
        let challenge = Challenge { cluster: u64::MAX - 3, member: 200, nonce: 77 };
        assert_eq!(Challenge::decode(&challenge.encode()), Ok(challenge));
        let hello = Hello { cluster: 9, from: 1, to: 2, proof: 0xdead_beef };
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
        for refusal in Refusal::ALL {
            assert_eq!(Refusal::from_code(refusal.code()), Some(refusal));
            assert_ne!(refusal.code(), ACCEPTED);
        }
    }

    #[test]
    fn decoding_checks_every_fixed_byte() {
        let hello = Hello { cluster: 9, from: 1, to: 2, proof: 3 }.encode();
        let mut bad = hello;
        bad[0] = b'X';
        assert_eq!(Hello::decode(&bad), Err(Refusal::BadMagic));
        let mut bad = hello;
        bad[4] = 9;
        assert_eq!(Hello::decode(&bad), Err(Refusal::UnsupportedVersion));
        for at in [5, 6, 7, 18, 23] {
            let mut bad = hello;
            bad[at] ^= 0x40;
            assert_eq!(Hello::decode(&bad), Err(Refusal::Malformed), "{at}");
        }
    }

    #[test]
    fn proof_depends_on_every_input() {
        let base = proof(b"key", 1, 2, 3, 4);
        assert_ne!(base, proof(b"kez", 1, 2, 3, 4));
        assert_ne!(base, proof(b"", 1, 2, 3, 4));
        assert_ne!(base, proof(b"key", 9, 2, 3, 4));
        assert_ne!(base, proof(b"key", 1, 9, 3, 4));
        assert_ne!(base, proof(b"key", 1, 2, 9, 4));
        assert_ne!(base, proof(b"key", 1, 2, 3, 9));
    }

    #[tokio::test]
    async fn matching_members_are_accepted() {
        let (dialed, accepted) = run(identity(1, 7, b"k"), 0, identity(0, 7, b"k")).await;
        assert!(dialed.is_ok(), "{dialed:?}");
        assert_eq!(accepted, Ok(1));
    }

    #[tokio::test]
    async fn each_mismatch_is_refused_with_its_reason_on_both_sides() {
        let cases = [
            (identity(1, 8, b"k"), 0, Refusal::WrongCluster),
            (identity(5, 7, b"k"), 0, Refusal::UnknownMember),
            (identity(1, 7, b"k"), 2, Refusal::WrongTarget),
            (identity(1, 7, b"other"), 0, Refusal::BadProof),
            (identity(1, 7, b""), 0, Refusal::BadProof),
        ];
        for (dialer, target, expected) in cases {
            let (dialed, accepted) = run(dialer, target, identity(0, 7, b"k")).await;
            assert_eq!(accepted, Err(expected));
            match dialed {
                Err(DialError::Refused { reason, cluster: 7, member: 0 }) => assert_eq!(reason, expected),
                other => panic!("expected a refusal for {expected:?}, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn garbage_is_refused_before_the_hello_is_complete() {
        let (mut near, mut far) = tokio::io::duplex(1024);
        let known: BTreeSet<MemberId> = [1].into();
        let garbage = async {
            near.write_all(b"GET /").await.unwrap();
            let mut seen = Vec::new();
            near.read_to_end(&mut seen).await.unwrap();
            seen
        };
        let listener = async {
            let outcome = accept(&mut far, &identity(0, 7, b""), &known, 1).await;
            drop(far);
            outcome
        };
        let (seen, accepted) = tokio::join!(garbage, listener);
        assert_eq!(accepted, Err(Refusal::BadMagic));
        // The challenge, then a verdict naming the reason.
        assert_eq!(seen.len(), CHALLENGE_BYTES + VERDICT_BYTES);
        assert_eq!(seen[CHALLENGE_BYTES + 6], Refusal::BadMagic.code());
    }
}
