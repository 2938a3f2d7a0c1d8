//! Loopback tests: real sockets on port 0, real frames from the core's encoder.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use viewstamp_core::message::{Heartbeat, Message, Request};
use viewstamp_core::release::NEWEST_RELEASE;
use viewstamp_core::types::MemberId;
use viewstamp_core::wire;

use super::handshake::{self, DialError, Identity, Refusal};
use super::metrics::DropReason;
use super::*;

const CLUSTER: u64 = 0x00c0_ffee;
const WAIT: Duration = Duration::from_secs(5);

fn heartbeat(cluster: u64, op: u64) -> Vec<u8> {
    let message = Heartbeat { view: 1, from: 0, op, commit: op, release: NEWEST_RELEASE, echo_sent_at: 0 };
    wire::encode(cluster, &Message::Heartbeat(message))
}

fn op_of(frame: &[u8]) -> u64 {
    match wire::decode(CLUSTER, frame) {
        Ok((Message::Heartbeat(heartbeat), _)) => heartbeat.op,
        other => panic!("expected a heartbeat frame, got {other:?}"),
    }
}

fn quick_limits() -> TransportLimits {
    TransportLimits {
        handshake_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(300),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        ..TransportLimits::default()
    }
}

fn config(member: MemberId, cluster: u64, key: Option<&[u8]>, peers: &[(MemberId, SocketAddr)]) -> TransportConfig {
    TransportConfig {
        member,
        cluster,
        shared_key: key.map(<[u8]>::to_vec),
        listen: "127.0.0.1:0".parse().unwrap(),
        peers: peers.iter().map(|(member, address)| (*member, address.to_string())).collect(),
        limits: quick_limits(),
    }
}

async fn loopback_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

/// An address nothing listens on (for now).
fn free_address() -> SocketAddr {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    reserved.local_addr().unwrap()
}

type Member = (TransportHandle, mpsc::Receiver<Inbound>);

/// Members 0 and 1, configured with the clusters and keys given, dialing each other.
async fn pair(clusters: [u64; 2], keys: [Option<&[u8]>; 2]) -> (Member, Member) {
    let (listener_0, address_0) = loopback_listener().await;
    let (listener_1, address_1) = loopback_listener().await;
    let zero = Transport::start_on(listener_0, config(0, clusters[0], keys[0], &[(1, address_1)])).unwrap();
    let one = Transport::start_on(listener_1, config(1, clusters[1], keys[1], &[(0, address_0)])).unwrap();
    (zero, one)
}

async fn receive(inbound: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(WAIT, inbound.recv()).await.expect("a frame arrives in time").expect("the transport runs")
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Connects and completes the handshake as `member`, as a dialing peer would.
async fn dial_as(address: SocketAddr, member: MemberId, target: MemberId) -> Result<TcpStream, DialError> {
    let mut stream = TcpStream::connect(address).await?;
    let identity = Identity { member, cluster: CLUSTER, key: Vec::new() };
    handshake::dial(&mut stream, &identity, target).await?;
    Ok(stream)
}

/// Reads until the other end closes; fails if it stays open past `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut seen = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut seen)).await.expect("the connection is closed in time").ok();
    seen
}

#[tokio::test]
async fn two_members_exchange_frames_both_ways() {
    let key: Option<&[u8]> = Some(b"correct horse");
    let ((zero, mut zero_inbound), (one, mut one_inbound)) = pair([CLUSTER; 2], [key; 2]).await;
    for op in 1..=3 {
        zero.send(1, heartbeat(CLUSTER, op));
    }
    one.send(0, heartbeat(CLUSTER, 10));
    for op in 1..=3 {
        let inbound = receive(&mut one_inbound).await;
        assert_eq!(inbound, Inbound { from: 0, frame: heartbeat(CLUSTER, op) });
    }
    assert_eq!(receive(&mut zero_inbound).await, Inbound { from: 1, frame: heartbeat(CLUSTER, 10) });
    eventually("member 0 counts its sends", || zero.metrics().peer(1).frames_sent == 3).await;
    assert_eq!(one.metrics().peer(0).frames_received, 3);
    assert_eq!(zero.metrics().peer(1).frames_received, 1);
    assert!(zero.metrics().peer(1).connected);
    assert_eq!(zero.metrics().drops.values().sum::<u64>(), 0);
    assert_eq!(zero.metrics().refusals.values().sum::<u64>(), 0);
}

#[tokio::test]
async fn a_peer_of_another_cluster_is_refused_and_counted() {
    let ((zero, mut zero_inbound), (one, _one_inbound)) = pair([CLUSTER, CLUSTER + 1], [None; 2]).await;
    one.send(0, heartbeat(CLUSTER + 1, 1));
    eventually("member 0 refuses member 1", || zero.metrics().refused(Refusal::WrongCluster) >= 1).await;
    eventually("member 1 fails to connect", || one.metrics().peer(0).connect_failures >= 1).await;
    assert!(!one.metrics().peer(0).connected);
    assert!(tokio::time::timeout(Duration::from_millis(200), zero_inbound.recv()).await.is_err());
}

#[tokio::test]
async fn a_peer_with_the_wrong_key_is_refused() {
    let ((zero, mut zero_inbound), (one, _one_inbound)) = pair([CLUSTER; 2], [Some(b"key"), Some(b"other")]).await;
    one.send(0, heartbeat(CLUSTER, 1));
    eventually("member 0 refuses the proof", || zero.metrics().refused(Refusal::BadProof) >= 1).await;
    eventually("member 1 refuses the proof", || one.metrics().refused(Refusal::BadProof) >= 1).await;
    assert_eq!(zero.metrics().peer(1).inbound_connections, 0);
    assert!(tokio::time::timeout(Duration::from_millis(200), zero_inbound.recv()).await.is_err());
}

#[tokio::test]
async fn garbage_on_the_listen_port_is_refused_without_harming_a_good_peer() {
    let ((zero, mut zero_inbound), (one, _one_inbound)) = pair([CLUSTER; 2], [None; 2]).await;
    one.send(0, heartbeat(CLUSTER, 1));
    assert_eq!(receive(&mut zero_inbound).await.frame, heartbeat(CLUSTER, 1));

    let mut garbage = TcpStream::connect(zero.local_addr()).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    closed_within(&mut garbage, Duration::from_secs(1)).await;
    assert_eq!(zero.metrics().refused(Refusal::BadMagic), 1);

    one.send(0, heartbeat(CLUSTER, 2));
    assert_eq!(receive(&mut zero_inbound).await.frame, heartbeat(CLUSTER, 2));
    assert_eq!(zero.metrics().peer(1).inbound_connections, 1);
}

#[tokio::test]
async fn unknown_members_are_refused() {
    let (listener, address) = loopback_listener().await;
    let (zero, _inbound) = Transport::start_on(listener, config(0, CLUSTER, None, &[(1, free_address())])).unwrap();
    match dial_as(address, 7, 0).await {
        Err(DialError::Refused { reason: Refusal::UnknownMember, cluster: CLUSTER, member: 0 }) => {}
        other => panic!("expected an unknown-member refusal, got {other:?}"),
    }
    assert_eq!(zero.metrics().refused(Refusal::UnknownMember), 1);
}

#[tokio::test]
async fn a_frame_with_a_bad_length_header_closes_the_connection() {
    let (listener, address) = loopback_listener().await;
    let (zero, mut inbound) = Transport::start_on(listener, config(0, CLUSTER, None, &[(1, free_address())])).unwrap();
    let mut peer = dial_as(address, 1, 0).await.expect("member 1 is accepted");
    let good = heartbeat(CLUSTER, 5);
    let mut oversized = heartbeat(CLUSTER, 6);
    oversized[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    peer.write_all(&good).await.unwrap();
    peer.write_all(&oversized).await.unwrap();

    assert_eq!(receive(&mut inbound).await, Inbound { from: 1, frame: good });
    closed_within(&mut peer, Duration::from_secs(1)).await;
    assert_eq!(zero.metrics().dropped(DropReason::TooLarge), 1);
    assert_eq!(zero.metrics().peer(1).frames_received, 1);
    assert!(tokio::time::timeout(Duration::from_millis(100), inbound.recv()).await.is_err());
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_handshake_timeout() {
    let (listener, address) = loopback_listener().await;
    let (zero, _inbound) = Transport::start_on(listener, config(0, CLUSTER, None, &[(1, free_address())])).unwrap();
    let started = Instant::now();
    let mut silent = TcpStream::connect(address).await.unwrap();
    let seen = closed_within(&mut silent, Duration::from_secs(2)).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "closed after {waited:?}, before the 300 ms timeout");
    assert_eq!(seen.len(), 32, "only the challenge was sent");
    assert_eq!(zero.metrics().refused(Refusal::Timeout), 1);
}

#[tokio::test]
async fn connections_beyond_the_pending_limit_are_closed_at_once() {
    let (listener, address) = loopback_listener().await;
    let mut limited = config(0, CLUSTER, None, &[(1, free_address())]);
    limited.limits.pending_handshakes_max = 2;
    limited.limits.handshake_timeout = Duration::from_secs(3);
    let (zero, _inbound) = Transport::start_on(listener, limited).unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut silent = TcpStream::connect(address).await.unwrap();
        let mut challenge = [0u8; 32];
        silent.read_exact(&mut challenge).await.unwrap();
        held.push(silent);
    }
    let mut third = TcpStream::connect(address).await.unwrap();
    let seen = closed_within(&mut third, Duration::from_secs(1)).await;
    assert!(seen.is_empty(), "no challenge for a connection over the limit");
    assert_eq!(zero.metrics().refused(Refusal::TooManyPending), 1);
}

#[tokio::test]
async fn a_member_reconnects_after_its_peer_restarts() {
    let ((zero, _zero_inbound), (one, mut one_inbound)) = pair([CLUSTER; 2], [None; 2]).await;
    zero.send(1, heartbeat(CLUSTER, 1));
    assert_eq!(receive(&mut one_inbound).await.frame, heartbeat(CLUSTER, 1));
    let address_1 = one.local_addr();
    one.shutdown().await;
    drop((one, one_inbound));
    eventually("member 0 notices", || !zero.metrics().peer(1).connected).await;

    let mut restarted = config(1, CLUSTER, None, &[(0, zero.local_addr())]);
    restarted.listen = address_1;
    let (_one, mut one_inbound) = Transport::start(restarted).expect("the port can be taken back");
    // Frames sent while the connection was down or being noticed may be lost: keep sending.
    let deadline = Instant::now() + WAIT;
    let arrived = loop {
        zero.send(1, heartbeat(CLUSTER, 2));
        if let Ok(Some(inbound)) = tokio::time::timeout(Duration::from_millis(50), one_inbound.recv()).await {
            break inbound;
        }
        assert!(Instant::now() < deadline, "member 0 never reconnected");
    };
    assert_eq!(arrived, Inbound { from: 0, frame: heartbeat(CLUSTER, 2) });
    assert_eq!(zero.metrics().peer(1).reconnects, 1);
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_frames_without_blocking() {
    let address_1 = free_address();
    let (listener, address_0) = loopback_listener().await;
    let mut small = config(0, CLUSTER, None, &[(1, address_1)]);
    small.limits.peer_queue_max_frames = 4;
    let (zero, _inbound) = Transport::start_on(listener, small).unwrap();
    let frames: Vec<Vec<u8>> = (1..=10).map(|op| heartbeat(CLUSTER, op)).collect();
    let started = Instant::now();
    for frame in frames {
        zero.send(1, frame);
    }
    // A blocked send would wait for the peer, which is down: any bound shows it did not.
    assert!(started.elapsed() < Duration::from_secs(1), "send blocked for {:?}", started.elapsed());
    let metrics = zero.metrics();
    assert_eq!(metrics.dropped(DropReason::QueueFull), 6);
    assert_eq!(metrics.peer(1).frames_dropped, 6);
    assert_eq!(metrics.peer(1).queued_frames, 4);

    // When the peer comes up, the newest four arrive, in order.
    let mut late = config(1, CLUSTER, None, &[(0, address_0)]);
    late.listen = address_1;
    let (_one, mut one_inbound) = Transport::start(late).unwrap();
    let mut ops = Vec::new();
    for _ in 0..4 {
        ops.push(op_of(&receive(&mut one_inbound).await.frame));
    }
    assert_eq!(ops, vec![7, 8, 9, 10]);
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_cut_off_without_blocking_the_sender() {
    // A listener that completes the handshake as member 1, then never reads.
    let (stalled, address_1) = loopback_listener().await;
    tokio::spawn(async move {
        let identity = Identity { member: 1, cluster: CLUSTER, key: Vec::new() };
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = stalled.accept().await {
            if handshake::accept(&mut stream, &identity, &[0].into(), 1).await.is_ok() {
                held.push(stream);
            }
        }
    });
    let (listener, _) = loopback_listener().await;
    let mut bounded = config(0, CLUSTER, None, &[(1, address_1)]);
    bounded.limits.peer_queue_max_bytes = 8 * 1024 * 1024;
    let (zero, _inbound) = Transport::start_on(listener, bounded).unwrap();
    eventually("member 0 connects", || zero.metrics().peer(1).connected).await;

    let big = wire::encode(
        CLUSTER,
        &Message::Request(Request { client: 1, session: 1, request: 1, operation: vec![7; 1 << 20] }),
    );
    let mut slowest_send = Duration::ZERO;
    for _ in 0..64 {
        let started = Instant::now();
        zero.send(1, big.clone());
        slowest_send = slowest_send.max(started.elapsed());
    }
    // Below the 300 ms write timeout, which a send waiting on the socket would reach.
    assert!(slowest_send < Duration::from_millis(200), "a send blocked for {slowest_send:?}");
    eventually("the stuck connection is closed", || zero.metrics().dropped(DropReason::WriteFailed) >= 1).await;
    let metrics = zero.metrics();
    assert!(metrics.dropped(DropReason::QueueFull) >= 1, "{metrics:?}");
    assert!(metrics.peer(1).queued_frames <= 8, "{metrics:?}");
}

#[tokio::test]
async fn dropping_the_handle_stops_everything() {
    let ((zero, mut zero_inbound), (one, _one_inbound)) = pair([CLUSTER; 2], [None; 2]).await;
    one.send(0, heartbeat(CLUSTER, 1));
    receive(&mut zero_inbound).await;
    let address_0 = zero.local_addr();
    drop(zero);
    // Every task holding the inbound sender has ended.
    let end = tokio::time::timeout(WAIT, zero_inbound.recv()).await.expect("the transport stops in time");
    assert_eq!(end, None);
    assert!(TcpStream::connect(address_0).await.is_err(), "the listener is closed");
    eventually("member 1 sees the connection go", || !one.metrics().peer(0).connected).await;
}

#[tokio::test]
async fn invalid_sends_are_dropped_and_counted() {
    let (listener, _) = loopback_listener().await;
    let (zero, _inbound) = Transport::start_on(listener, config(0, CLUSTER, None, &[(1, free_address())])).unwrap();
    zero.send(9, heartbeat(CLUSTER, 1));
    zero.send(0, heartbeat(CLUSTER, 1));
    zero.send(1, b"not a frame".to_vec());
    let mut two_frames = heartbeat(CLUSTER, 1);
    two_frames.extend(heartbeat(CLUSTER, 2));
    zero.send(1, two_frames);
    let metrics = zero.metrics();
    assert_eq!(metrics.dropped(DropReason::UnknownPeer), 2);
    assert_eq!(metrics.dropped(DropReason::InvalidOutgoing), 2);
    assert_eq!(metrics.peer(1).queued_frames, 0);
}

#[test]
fn bad_limits_are_refused_with_a_reason() {
    let mut bad = config(0, CLUSTER, None, &[]);
    bad.limits.backoff_min = Duration::from_secs(3);
    match TransportConfig::validate(&bad) {
        Err(TransportError::Invalid(problem)) => assert!(problem.contains("backoff_min"), "{problem}"),
        other => panic!("expected an invalid config, got {other:?}"),
    }
    let mut bad = config(0, CLUSTER, None, &[]);
    bad.limits.peer_queue_max_frames = 0;
    assert!(matches!(bad.validate(), Err(TransportError::Invalid(_))));
    // Outside a runtime, start says so instead of panicking.
    assert!(matches!(Transport::start(config(0, CLUSTER, None, &[])), Err(TransportError::NoRuntime)));
}

#[test]
fn config_peers_may_name_this_member() {
    let peers: BTreeMap<MemberId, String> = [(0, "127.0.0.1:1".to_string())].into();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut own = config(0, CLUSTER, None, &[]);
        own.peers = peers;
        let (zero, _inbound) = Transport::start(own).unwrap();
        assert!(zero.metrics().peers.is_empty());
    });
}
