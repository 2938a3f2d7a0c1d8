//! A member cut off from every other one cannot finish its view change; it must not
//! hold its clients until the partition heals. Past twice the primary timeout it
//! answers what it holds with TRYAGAIN and refuses new commands as not applied, so
//! that a client moves to another member. A member cut off one way (it hears its
//! primary but cannot reach it) stays normal; it learns the same from a primary that
//! answers nothing, and does the same. Uses the chaos test's cluster and proxies.

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

fn start_cluster(name: &str) -> Cluster {
    let dir = std::env::temp_dir().join(format!("viewstamp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_viewstamp"));
    let mut cluster = Cluster::create(binary, &dir, 77, 3, 0, None, false).expect("lay out a cluster");
    for id in 0..3 {
        cluster.start(id).expect("start a member");
    }
    cluster
}

fn wait_for_write(cluster: &Cluster, member: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if matches!(set(cluster.member(member).client, "healed"), Ok(Reply::Simple(_))) {
            break;
        }
        assert!(Instant::now() < deadline, "member {member} serves no write 30 s after the heal");
        sleep(Duration::from_millis(200));
    }
}

fn finish(cluster: Cluster) {
    let dir = cluster.dir.clone();
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_mute_member_answers_its_clients_instead_of_holding_them() {
    let cluster = start_cluster("mute");
    let primary = wait_for_primary(&cluster);
    let mute = (primary + 1) % 3;
    let outgoing = (0..3).filter(|id| *id != mute).map(|other| (mute, other));
    cluster.proxies.set_blocked(outgoing.collect::<Vec<_>>());

    // Forwarded, so maybe applied; answered once the primary has answered nothing for a while.
    let asked = Instant::now();
    let held = set(cluster.member(mute).client, "held").expect("an answer, not a client timeout");
    match &held {
        Reply::Error(text) => assert!(text.starts_with("TRYAGAIN") && text.contains("may or may not"), "{text}"),
        other => panic!("a mute member acknowledged a write: {other:?}"),
    }
    assert!(asked.elapsed() < Duration::from_secs(10), "held for {:?}", asked.elapsed());
    let status = cluster.status(mute).expect("the mute member's status");
    assert_eq!(status.status, "normal", "it still hears its primary");
    // One command goes through as a probe; while it waits, others are refused at once.
    let probe_address = cluster.member(mute).client;
    let probe = std::thread::spawn(move || set(probe_address, "probe"));
    sleep(Duration::from_millis(300));
    let refused = set(cluster.member(mute).client, "refused").expect("an answer");
    match &refused {
        Reply::Error(text) => {
            assert!(text.contains("no answer from primary") && text.contains("not applied"), "{text}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let probed = probe.join().expect("the probe's thread").expect("an answer");
    assert!(matches!(&probed, Reply::Error(text) if text.starts_with("TRYAGAIN")), "{probed:?}");
    cluster.proxies.set_blocked([]);
    wait_for_write(&cluster, mute);
    finish(cluster);
}

#[test]
fn a_cut_off_member_answers_its_clients_instead_of_holding_them() {
    let cluster = start_cluster("cut-off");
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
    // Once it knows it has no primary (its view change has gone on too long), it
    // refuses at once, certainly not applied; until then a probe may wait, TRYAGAIN.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match set(cluster.member(cut_off).client, "refused").expect("an answer") {
            Reply::Error(text) if text.contains("has had no primary") && text.contains("not applied") => break,
            Reply::Error(text) => {
                assert!(text.starts_with("TRYAGAIN") || text.contains("no answer from primary"), "{text}")
            }
            other => panic!("a cut-off member acknowledged a write: {other:?}"),
        }
        assert!(Instant::now() < deadline, "member {cut_off} still does not refuse at once");
    }
    // The others go on meanwhile, and the member serves again once healed.
    let through_others = set(cluster.member(others[0]).client, "others").expect("an answer");
    assert!(matches!(through_others, Reply::Simple(_)), "{through_others:?}");
    cluster.proxies.set_blocked([]);
    wait_for_write(&cluster, cut_off);
    finish(cluster);
}
