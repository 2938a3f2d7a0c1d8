//! One TCP proxy per directed peer link: member `from` dials member `to` at the
//! address its own cluster file gives for `to`, which is this proxy's. Blocking a link
//! closes its connections and refuses new ones, so partitions of any shape (one-way
//! links too) are staged without touching the members.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A directed link: frames from `.0` to `.1`.
pub type Link = (u64, u64);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Shared {
    blocked: BTreeSet<Link>,
    /// Open connections (dialer and upstream ends) per link and connection number, to
    /// close when the link is blocked; a connection's relay removes it when it ends.
    open: BTreeMap<Link, BTreeMap<u64, [TcpStream; 2]>>,
    next_connection: u64,
}

/// Every link's proxy; dropping it stops them all and closes their connections.
pub struct Proxies {
    shared: Arc<Mutex<Shared>>,
    stopping: Arc<AtomicBool>,
    listen: BTreeMap<Link, SocketAddr>,
}

impl Proxies {
    /// A proxy for every ordered pair of `members`, relaying to `upstream[to]`.
    pub fn start(upstream: &BTreeMap<u64, SocketAddr>) -> io::Result<Proxies> {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let mut listen = BTreeMap::new();
        for &from in upstream.keys() {
            for (&to, &target) in upstream {
                if from == to {
                    continue;
                }
                let listener = TcpListener::bind("127.0.0.1:0")?;
                listen.insert((from, to), listener.local_addr()?);
                let (shared, stopping) = (shared.clone(), stopping.clone());
                thread::Builder::new()
                    .name(format!("proxy {from}->{to}"))
                    .spawn(move || accept_loop(listener, (from, to), target, &shared, &stopping))?;
            }
        }
        Ok(Proxies { shared, stopping, listen })
    }

    /// Where `from` dials `to`.
    pub fn address(&self, from: u64, to: u64) -> SocketAddr {
        self.listen[&(from, to)]
    }

    /// Blocks exactly `links` from now on and closes their open connections.
    pub fn set_blocked(&self, links: impl IntoIterator<Item = Link>) {
        let mut shared = self.shared.lock().expect("proxy lock");
        shared.blocked = links.into_iter().collect();
        let blocked = shared.blocked.clone();
        for link in blocked {
            for stream in shared.open.remove(&link).unwrap_or_default().into_values().flatten() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Connections relayed now, over every link.
    pub fn open_connections(&self) -> usize {
        self.shared.lock().expect("proxy lock").open.values().map(BTreeMap::len).sum()
    }

    pub fn blocked(&self) -> BTreeSet<Link> {
        self.shared.lock().expect("proxy lock").blocked.clone()
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut shared = self.shared.lock().expect("proxy lock");
        for stream in std::mem::take(&mut shared.open).into_values().flat_map(BTreeMap::into_values).flatten() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        drop(shared);
        // Wake every accept so its loop sees the flag.
        for address in self.listen.values() {
            let _ = TcpStream::connect_timeout(address, Duration::from_millis(100));
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    link: Link,
    target: SocketAddr,
    shared: &Arc<Mutex<Shared>>,
    stopping: &AtomicBool,
) {
    for dialer in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(dialer) = dialer else {
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        if shared.lock().expect("proxy lock").blocked.contains(&link) {
            continue;
        }
        let Ok(upstream) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else {
            continue;
        };
        let _ = (dialer.set_nodelay(true), upstream.set_nodelay(true));
        let registered = (|| {
            let mut guard = shared.lock().expect("proxy lock");
            // Blocked while connecting: drop it.
            if guard.blocked.contains(&link) {
                return None;
            }
            let ends = [dialer.try_clone().ok()?, upstream.try_clone().ok()?];
            let number = guard.next_connection;
            guard.next_connection += 1;
            guard.open.entry(link).or_default().insert(number, ends);
            Some(number)
        })();
        let Some(number) = registered else { continue };
        let (Ok(dialer_reader), Ok(upstream_writer)) = (dialer.try_clone(), upstream.try_clone()) else { continue };
        let shared = shared.clone();
        let _ = thread::Builder::new().name(format!("relay {}->{}", link.0, link.1)).spawn(move || {
            relay(dialer_reader, upstream_writer);
            // This direction carries the dialer's frames: once it ends, so does the connection.
            if let Some(open) = shared.lock().expect("proxy lock").open.get_mut(&link) {
                open.remove(&number);
            }
        });
        let _ =
            thread::Builder::new().name(format!("relay {}<-{}", link.0, link.1)).spawn(move || relay(upstream, dialer));
    }
}

/// Copies one direction until either end closes, then closes both.
fn relay(mut from: TcpStream, mut to: TcpStream) {
    let _ = copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

fn copy(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = from.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        to.write_all(&buffer[..read])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut reader = stream.try_clone().unwrap();
                    let mut writer = stream;
                    let _ = copy(&mut reader, &mut writer);
                });
            }
        });
        address
    }

    fn echoes(address: SocketAddr) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) else { return false };
        stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut seen = [0u8; 4];
        stream.write_all(b"ping").is_ok() && stream.read_exact(&mut seen).is_ok() && &seen == b"ping"
    }

    #[test]
    fn a_blocked_link_closes_and_refuses_while_others_relay() {
        let upstream: BTreeMap<u64, SocketAddr> = (0..3).map(|member| (member, echo_server())).collect();
        let proxies = Proxies::start(&upstream).unwrap();
        assert!(echoes(proxies.address(0, 1)) && echoes(proxies.address(1, 0)));
        let mut open = TcpStream::connect(proxies.address(0, 1)).unwrap();
        open.write_all(b"ping").unwrap();
        let mut seen = [0u8; 4];
        open.read_exact(&mut seen).unwrap();

        proxies.set_blocked([(0, 1)]);
        open.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        assert_eq!(open.read(&mut seen).unwrap_or(0), 0, "the open connection was closed");
        assert!(!echoes(proxies.address(0, 1)), "0 -> 1 is refused");
        assert!(echoes(proxies.address(1, 0)), "1 -> 0 still relays");
        assert!(echoes(proxies.address(2, 1)));

        proxies.set_blocked([]);
        assert!(echoes(proxies.address(0, 1)));
        // Every connection above has closed: none is still held.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while proxies.open_connections() > 0 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(proxies.open_connections(), 0, "closed connections are forgotten");
    }
}
