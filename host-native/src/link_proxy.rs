//! A TCP proxy in front of members' peer listeners that can cut single directed links,
//! so that failures such as a deaf primary can be staged against real processes.
//!
//! A peer connection carries frames one way, from dialer to listener (see
//! `node::transport`), so the link d -> t is exactly the connections d dialed to t. The
//! proxy in front of t relays the listener's challenge, reads the dialer's hello to
//! learn d, and then either relays everything or closes. Blocking a link also closes
//! its open connections; the dialer keeps redialing and keeps being closed.

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use viewstamp_core::types::MemberId;

use crate::node::transport::handshake::HANDSHAKE_MAGIC;

/// A directed link: frames from `.0` to `.1`.
pub type Link = (MemberId, MemberId);

/// The layout in `node/transport/handshake.rs`: challenge and hello are 32 bytes, the
/// hello's kind is byte 5 and the dialer's member id byte 16.
const CHALLENGE_BYTES: usize = 32;
const HELLO_BYTES: usize = 32;
const KIND_AT: usize = 5;
const KIND_HELLO: u8 = 2;
const DIALER_AT: usize = 16;
/// Longer than the transport's own handshake timeout, so the ends give up first.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// The blocked links, shared by every proxy of a cluster.
#[derive(Clone)]
pub struct Links {
    blocked: Arc<watch::Sender<BTreeSet<Link>>>,
}

impl Default for Links {
    fn default() -> Self {
        Self { blocked: Arc::new(watch::Sender::new(BTreeSet::new())) }
    }
}

impl Links {
    /// Blocks exactly `links` from now on (unblocking the rest) and closes their
    /// connections.
    pub fn set_blocked(&self, links: impl IntoIterator<Item = Link>) {
        self.blocked.send_replace(links.into_iter().collect());
    }
}

/// One member's proxy; it stops accepting when dropped. Open connections end when
/// their link is blocked or either side closes.
pub struct LinkProxy {
    task: JoinHandle<()>,
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LinkProxy {
    /// Relays connections accepted on `listener` to member `target`'s real peer
    /// listener at `upstream`. Must be called inside a tokio runtime.
    pub fn spawn(listener: TcpListener, target: MemberId, upstream: SocketAddr, links: Links) -> LinkProxy {
        let task = tokio::spawn(async move {
            loop {
                let Ok((dialer, _)) = listener.accept().await else {
                    // Out of descriptors, usually: wait instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let links = links.clone();
                tokio::spawn(async move {
                    if let Err(error) = relay(dialer, target, upstream, &links).await {
                        tracing::debug!(target, "link proxy: a connection ended: {error}");
                    }
                });
            }
        });
        LinkProxy { task }
    }
}

/// One dialer's connection: challenge down, hello up, then bytes both ways until the
/// link is blocked. Returning drops (closes) both sockets.
async fn relay(mut dialer: TcpStream, target: MemberId, upstream: SocketAddr, links: &Links) -> io::Result<()> {
    let mut listener = timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(upstream)).await??;
    listener.set_nodelay(true)?;
    dialer.set_nodelay(true)?;
    let mut challenge = [0u8; CHALLENGE_BYTES];
    timeout(HANDSHAKE_TIMEOUT, listener.read_exact(&mut challenge)).await??;
    dialer.write_all(&challenge).await?;
    let mut hello = [0u8; HELLO_BYTES];
    timeout(HANDSHAKE_TIMEOUT, dialer.read_exact(&mut hello)).await??;
    let mut blocked = links.blocked.subscribe();
    // Not a hello: relay it anyway and let the listener refuse it, as without a proxy.
    let link = is_hello(&hello).then(|| (hello[DIALER_AT], target));
    let cut = move |set: &BTreeSet<Link>| link.is_some_and(|link| set.contains(&link));
    if cut(&blocked.borrow_and_update()) {
        return Ok(());
    }
    listener.write_all(&hello).await?;
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut dialer, &mut listener) => copied.map(|_| ()),
        _ = blocked.wait_for(cut) => Ok(()),
    }
}

fn is_hello(bytes: &[u8; HELLO_BYTES]) -> bool {
    bytes.starts_with(&HANDSHAKE_MAGIC) && bytes[KIND_AT] == KIND_HELLO
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::sync::mpsc;
    use viewstamp_core::message::{Heartbeat, Message};
    use viewstamp_core::release::NEWEST_RELEASE;
    use viewstamp_core::wire;

    use super::*;
    use crate::node::transport::handshake::HANDSHAKE_VERSION;
    use crate::node::transport::{Inbound, Transport, TransportConfig, TransportLimits};

    const CLUSTER: u64 = 0x5eed;
    const WAIT: Duration = Duration::from_secs(5);

    fn handshake_message(kind: u8, member: MemberId) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&HANDSHAKE_MAGIC);
        bytes[4] = HANDSHAKE_VERSION;
        bytes[KIND_AT] = kind;
        bytes[DIALER_AT] = member;
        bytes
    }

    async fn loopback() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        (listener, address)
    }

    /// A stand-in listener: challenge, hello, an 8-byte verdict, then it echoes.
    async fn echo_listener() -> SocketAddr {
        let (listener, address) = loopback().await;
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    stream.write_all(&handshake_message(1, 0)).await?;
                    let mut hello = [0u8; HELLO_BYTES];
                    stream.read_exact(&mut hello).await?;
                    stream.write_all(&[7u8; 8]).await?;
                    let (mut reader, mut writer) = stream.split();
                    tokio::io::copy(&mut reader, &mut writer).await.map(|_| ())
                });
            }
        });
        address
    }

    /// Dials through the proxy as `member`: the bytes seen after the hello, to the end.
    async fn dial_as(proxy: SocketAddr, member: MemberId) -> TcpStream {
        let mut stream = TcpStream::connect(proxy).await.unwrap();
        let mut challenge = [0u8; CHALLENGE_BYTES];
        stream.read_exact(&mut challenge).await.unwrap();
        assert_eq!(challenge, handshake_message(1, 0), "the listener's challenge comes through unchanged");
        stream.write_all(&handshake_message(KIND_HELLO, member)).await.unwrap();
        stream
    }

    async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
        let mut seen = Vec::new();
        timeout(WAIT, stream.read_to_end(&mut seen)).await.expect("the proxy closes in time").ok();
        seen
    }

    #[tokio::test]
    async fn a_blocked_dialer_is_closed_after_its_hello_and_others_are_relayed() {
        let upstream = echo_listener().await;
        let (listener, proxy) = loopback().await;
        let links = Links::default();
        let _proxy = LinkProxy::spawn(listener, 0, upstream, links.clone());
        links.set_blocked([(1, 0), (0, 2)]);

        let mut blocked = dial_as(proxy, 1).await;
        assert_eq!(read_to_close(&mut blocked).await, Vec::<u8>::new(), "no verdict, no bytes");

        // Member 2's link into 0 is open; (0, 2) is the other direction.
        let mut open = dial_as(proxy, 2).await;
        let mut verdict = [0u8; 8];
        open.read_exact(&mut verdict).await.unwrap();
        open.write_all(b"frames").await.unwrap();
        let mut echoed = [0u8; 6];
        timeout(WAIT, open.read_exact(&mut echoed)).await.unwrap().unwrap();
        assert_eq!(&echoed, b"frames");

        // Blocking a link closes its open connection.
        links.set_blocked([(2, 0)]);
        assert_eq!(read_to_close(&mut open).await, Vec::<u8>::new());
    }

    fn heartbeat(op: u64) -> Vec<u8> {
        let message = Heartbeat { view: 1, from: 0, op, commit: op, release: NEWEST_RELEASE, echo_sent_at: 0 };
        wire::encode(CLUSTER, &Message::Heartbeat(message))
    }

    async fn frame_within(inbound: &mut mpsc::Receiver<Inbound>, within: Duration) -> Option<Inbound> {
        timeout(within, inbound.recv()).await.ok().flatten()
    }

    /// Members 0 and 1 of a real transport, each behind its own proxy.
    #[tokio::test]
    async fn real_members_talk_through_proxies_until_one_direction_is_cut() {
        let links = Links::default();
        let mut proxies = Vec::new();
        let mut real = Vec::new();
        let mut advertised = BTreeMap::new();
        for member in 0..2 {
            let (proxy_listener, proxy_address) = loopback().await;
            let (listener, address) = loopback().await;
            proxies.push(LinkProxy::spawn(proxy_listener, member, address, links.clone()));
            real.push(listener);
            advertised.insert(member, proxy_address.to_string());
        }
        let limits = TransportLimits {
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            ..TransportLimits::default()
        };
        let mut members = Vec::new();
        for (member, listener) in real.into_iter().enumerate() {
            let config = TransportConfig {
                member: member as MemberId,
                cluster: CLUSTER,
                shared_key: None,
                listen: listener.local_addr().unwrap(),
                peers: advertised.clone(),
                limits: limits.clone(),
            };
            members.push(Transport::start_on(listener, config).unwrap());
        }
        let [(zero, zero_inbound), (one, one_inbound)] = &mut members[..] else { unreachable!() };

        zero.send(1, heartbeat(1));
        one.send(0, heartbeat(2));
        assert_eq!(frame_within(one_inbound, WAIT).await.map(|inbound| inbound.from), Some(0));
        assert_eq!(frame_within(zero_inbound, WAIT).await.map(|inbound| inbound.from), Some(1));

        links.set_blocked([(0, 1)]);
        // Let the cut connection close and its redials be refused.
        tokio::time::sleep(Duration::from_millis(200)).await;
        zero.send(1, heartbeat(3));
        one.send(0, heartbeat(4));
        assert_eq!(frame_within(zero_inbound, WAIT).await.map(|inbound| inbound.frame), Some(heartbeat(4)));
        assert_eq!(frame_within(one_inbound, Duration::from_millis(300)).await, None, "0 -> 1 is cut");

        links.set_blocked([]);
        // The frame queued while cut goes once the dialer reconnects.
        assert_eq!(frame_within(one_inbound, WAIT).await.map(|inbound| inbound.frame), Some(heartbeat(3)));
    }
}
