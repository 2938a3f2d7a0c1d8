//! A member cut off from every other one cannot finish its view change; it must not
//! hold its clients until the partition heals. Past twice the primary timeout it
//! answers what it holds with TRYAGAIN and refuses new commands as not applied, so
//! that a client moves to another member. Uses the chaos test's cluster and proxies.

use std::net::SocketAddr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use viewstamp_tests::chaos::cluster::Cluster;
use viewstamp_tests::chaos::resp::{Reply, RespClient};

/// Under the node's own 30 s give-up: an answer before it is the behaviour tested.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

fn set(address: SocketAddr, key: &str) -> std::io::Result<Reply> {
    let mut client = RespClient::connect(address, Duration::from_secs(1), CLIENT_TIMEOUT)?;
    client.command(&[b"SET", key.as_bytes(), b"v"])
}

fn wait_for_primary(cluster: &Cluster) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let primary =
            (0..3).find(|id| cluster.status(*id).is_ok_and(|status| status.is_primary && status.status == "normal"));
        if let Some(primary) = primary {
            if matches!(set(cluster.member(primary).client, "ready"), Ok(Reply::Simple(_))) {
                return primary;
            }
        }
        sleep(Duration::from_millis(100));
    }
    panic!("no primary within 30 s: see the member logs in {}", cluster.dir.display());
}

#[test]
fn a_cut_off_member_answers_its_clients_instead_of_holding_them() {
    let dir = std::env::temp_dir().join(format!("viewstamp-cut-off-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_viewstamp"));
    let mut cluster = Cluster::create(binary, &dir, 77, 3, 0, None, false).expect("lay out a cluster");
    for id in 0..3 {
        cluster.start(id).expect("start a member");
    }
    let primary = wait_for_primary(&cluster);
    let cut_off = (primary + 1) % 3;
    let others: Vec<u64> = (0..3).filter(|id| *id != cut_off).collect();
    let links = others.iter().flat_map(|other| [(*other, cut_off), (cut_off, *other)]);
    cluster.proxies.set_blocked(links.collect::<Vec<_>>());

    // Sent while the member still believes in its primary: it is forwarded, so it may
    // have been applied, and the answer says so.
    let held = set(cluster.member(cut_off).client, "held").expect("an answer, not a client timeout");
    match &held {
        Reply::Error(text) => assert!(text.starts_with("TRYAGAIN") && text.contains("may or may not"), "{text}"),
        other => panic!("a cut-off member acknowledged a write: {other:?}"),
    }
    // Now it knows it has no primary: refused at once, certainly not applied.
    let refused = set(cluster.member(cut_off).client, "refused").expect("an answer");
    match &refused {
        Reply::Error(text) => assert!(text.contains("has had no primary") && text.contains("not applied"), "{text}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The others go on meanwhile, and the member serves again once healed.
    let through_others = set(cluster.member(others[0]).client, "others").expect("an answer");
    assert!(matches!(through_others, Reply::Simple(_)), "{through_others:?}");
    cluster.proxies.set_blocked([]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if matches!(set(cluster.member(cut_off).client, "healed"), Ok(Reply::Simple(_))) {
            break;
        }
        assert!(Instant::now() < deadline, "member {cut_off} serves no write 30 s after the heal");
        sleep(Duration::from_millis(200));
    }
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
