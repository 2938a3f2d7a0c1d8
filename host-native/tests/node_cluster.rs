//! Real processes: `viewstamp format` and `viewstamp start` members on loopback,
//! killed, restarted, upgraded and fed garbage, with every acknowledged write checked.

mod node_support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use node_support::{directory_contents, http, resp, Cluster, Connection, Load, Reply};

const LONG: Duration = Duration::from_secs(40);

fn all_addresses(cluster: &Cluster) -> Vec<String> {
    (0..cluster.ports.len() as u8).map(|member| cluster.client_address(member)).collect()
}

/// Every acknowledged key reads back with its value, through `member`.
fn assert_all_readable(cluster: &Cluster, member: u8, keys: &[String]) {
    let mut connection = Connection::open(&cluster.client_address(member)).unwrap();
    for key in keys {
        let mut reply = connection.call(&["GET", key]).unwrap();
        for _ in 0..100 {
            if !reply.is_error() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            reply = connection.call(&["GET", key]).unwrap();
        }
        assert_eq!(reply, Reply::Bulk(Some(key.as_bytes().to_vec())), "acknowledged write {key} lost");
    }
}

#[test]
fn killing_the_primary_under_load_loses_no_acknowledged_write() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    let load = Load::start(all_addresses(&cluster), 4);
    std::thread::sleep(Duration::from_millis(800));
    cluster.kill(primary);
    cluster.wait_until("a new primary", LONG, |c| c.primary().is_some_and(|p| p != primary));
    std::thread::sleep(Duration::from_millis(800));
    let keys = load.finish();
    assert!(keys.len() > 20, "the load made progress: {} writes", keys.len());
    let survivor = (0..3).find(|m| *m != primary).unwrap();
    assert_all_readable(&cluster, survivor, &keys);

    // The old primary restarts and catches up with everything.
    cluster.start(primary, None);
    let leader = cluster.primary().unwrap();
    cluster.wait_caught_up(primary, leader, "the restarted member to catch up");
}

#[test]
fn a_stopped_backup_catches_up_on_500_writes_after_a_restart() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    let backup = (0..3).find(|m| *m != primary).unwrap();
    let status = cluster.stop(backup);
    assert!(status.success(), "member {backup} stops cleanly on SIGTERM: {status}");

    // The primary and the third member commit 500 writes without it.
    let mut connection = Connection::open(&cluster.client_address(primary)).unwrap();
    let keys: Vec<String> = (0..500).map(|index| format!("missed-{index}")).collect();
    for key in &keys {
        assert_eq!(connection.call(&["SET", key, key]).unwrap(), Reply::Status("OK".into()), "{key}");
    }
    let target = cluster.status(primary).unwrap()["commit"].as_u64().unwrap();
    assert!(target >= 500, "the primary committed every write: commit {target}");

    cluster.start(backup, None);
    cluster.wait_until("the restarted backup to reach the primary's commit", LONG, |c| {
        c.status(backup).is_some_and(|s| s["status"] == "normal" && s["commit"].as_u64() >= Some(target))
    });
    // It holds every write itself: with the third member gone, it and the primary commit.
    let third = (0..3).find(|m| *m != primary && *m != backup).unwrap();
    cluster.kill(third);
    cluster.command_until_ok(primary, &["SET", "after-catch-up", "1"], LONG);
    assert_all_readable(&cluster, backup, &keys);
}

#[test]
fn a_stopping_primary_answers_every_command_it_reads_and_closes_only_quiet_connections() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    let mut busy = Connection::open(&cluster.client_address(primary)).unwrap();
    let mut idle = Connection::open(&cluster.client_address(primary)).unwrap();
    assert_eq!(idle.call(&["SET", "idle", "1"]).unwrap(), Reply::Status("OK".into()));
    assert_eq!(busy.call(&["SET", "busy-0", "0"]).unwrap(), Reply::Status("OK".into()));

    // Commands keep coming on the busy connection across the stop: each is answered,
    // applied (+OK) or refused as not applied, and none meets a closed connection.
    cluster.terminate(primary);
    let (mut applied, mut refused) = (0, 0);
    let until = std::time::Instant::now() + Duration::from_millis(1_200);
    for index in 1.. {
        if std::time::Instant::now() >= until {
            break;
        }
        let key = format!("busy-{index}");
        match busy.call(&["SET", &key, &key]) {
            Ok(Reply::Status(ok)) if ok == "OK" => applied += 1,
            Ok(Reply::Error(error)) if error.contains("not applied") => refused += 1,
            other => panic!("{key} after the stop got {other:?} ({applied} applied, {refused} refused before)"),
        }
    }
    assert!(refused > 0, "the stopping primary refused new commands ({applied} applied)");
    // Quiet connections close, with nothing left unanswered, and the member exits.
    let idle_end = idle.read();
    assert!(idle_end.is_err(), "the idle connection closes: {idle_end:?}");
    let busy_end = busy.read();
    assert!(busy_end.is_err(), "the busy connection closes once quiet: {busy_end:?}");
    let status = cluster.wait_exit(primary, LONG);
    assert!(status.success(), "the primary stops cleanly on SIGTERM: {status}\n{}", cluster.log(primary));
}

#[test]
fn a_stopping_primary_hands_over_to_the_next_view_before_it_exits() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    let view = cluster.status(primary).unwrap()["view"].as_u64().unwrap();
    let status = cluster.stop(primary);
    assert!(status.success(), "{status}");
    let handed = format!("viewstamp member {primary} handed over to view {} before stopping", view + 1);
    assert!(cluster.log(primary).contains(&handed), "{}", cluster.log(primary));
    let next = cluster.wait_for_primary();
    assert_ne!(next, primary);
    assert!(cluster.status(next).unwrap()["view"].as_u64().unwrap() > view);
    cluster.command_until_ok(next, &["SET", "after-hand-over", "1"], LONG);
}

#[test]
fn a_rolling_upgrade_from_1_0_to_the_newest_under_load_fails_no_write() {
    let newest = viewstamp_core::release::NEWEST_RELEASE.to_string();
    let mut cluster = Cluster::format(3, 1, Some("1.0.0"));
    cluster.start_all(Some("1.0.0"));
    cluster.wait_for_primary();
    let load = Load::start(all_addresses(&cluster), 3);
    for member in 0..4u8 {
        let status = cluster.stop(member);
        assert!(status.success(), "member {member} stops cleanly on SIGTERM: {status}");
        cluster.start(member, None);
        cluster.wait_until("the restarted member to advertise the newest release", LONG, |c| {
            c.status(member).is_some_and(|s| s["binary_release"] == newest.as_str() && s["status"] == "normal")
        });
    }
    cluster.wait_until("the newest cluster release", LONG, |c| {
        c.primary().and_then(|p| c.status(p)).is_some_and(|s| s["cluster_release"] == newest.as_str())
    });
    let keys = load.finish();
    assert!(keys.len() > 20, "the load made progress: {} writes", keys.len());
    let primary = cluster.primary().unwrap();
    let status = cluster.status(primary).unwrap();
    let features = status["features"].as_array().unwrap();
    assert!(features.iter().all(|f| f["on"] == true), "every feature on at {newest}: {features:?}");
    assert_all_readable(&cluster, primary, &keys);

    // A member restarted with the old binary now refuses to run, and writes nothing.
    cluster.stop(2);
    let before = directory_contents(&cluster.data_dir(2));
    cluster.start(2, Some("1.0.0"));
    let exit = cluster.wait_exit(2, LONG);
    assert_eq!(exit.code(), Some(3), "{}", cluster.log(2));
    let refusal = format!("runs releases up to 1.0.0, but the cluster runs {newest}");
    assert!(cluster.log(2).contains(&refusal), "{}", cluster.log(2));
    assert_eq!(directory_contents(&cluster.data_dir(2)), before, "a halted member writes nothing");
}

#[test]
fn a_standby_at_1_0_0_forwards_requests_to_the_primary_at_once() {
    // At 1.0.0 a standby does not follow the log, so it stays in view 0; its requests
    // must still go to the primary it hears, whichever member that is.
    let mut cluster = Cluster::format(3, 1, Some("1.0.0"));
    cluster.start_all(Some("1.0.0"));
    let mut primary = cluster.wait_for_primary();
    if primary == 0 {
        cluster.kill(0);
        cluster.wait_until("a primary other than member 0", LONG, |c| c.primary().is_some_and(|p| p != 0));
        primary = cluster.primary().unwrap();
        cluster.start(0, Some("1.0.0"));
    }
    // The first command may go out before the standby has heard a primary at all.
    let mut standby = Connection::open(&cluster.client_address(3)).unwrap();
    assert_eq!(standby.call(&["SET", "warm-up", "1"]).unwrap(), Reply::Status("OK".into()));
    let resent = |cluster: &Cluster| cluster.status(3).unwrap()["counters"]["requests_resent"].as_u64().unwrap();
    let resent_before = resent(&cluster);
    for index in 0..20 {
        let key = format!("via-standby-{index}");
        assert_eq!(standby.call(&["SET", &key, &key]).unwrap(), Reply::Status("OK".into()), "{key}");
    }
    assert_eq!(resent(&cluster), resent_before, "no request through the standby waited for a resend");
    assert_all_readable(&cluster, primary, &(0..20).map(|index| format!("via-standby-{index}")).collect::<Vec<_>>());
}

#[test]
fn a_promoted_standby_serves_in_the_quorum() {
    let mut cluster = Cluster::format(3, 1, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    cluster.command_until_ok(primary, &["SET", "before", "1"], LONG);
    cluster.wait_until("the standby to be promotable", LONG, |c| {
        c.status(primary).is_some_and(|s| s["standbys"][0]["promotable"] == true)
    });
    let victim = (0..3).find(|m| *m != primary).unwrap();
    cluster.kill(victim);
    let promote = format!("/promote?standby=3&replace={victim}");
    // A standby counts as promotable only while its heartbeats are fresh; on a loaded
    // machine one can be late, so retry as an operator would.
    let mut last = String::new();
    cluster.wait_until("the promotion to be accepted", LONG, |c| {
        let (code, body) = http(c.ports[primary as usize].admin, "POST", &promote).unwrap();
        assert!(code == 202 || body.contains("not-promotable"), "{code} {body}");
        last = body;
        code == 202
    });
    assert!(last.contains("accepted"), "{last}");
    cluster.wait_until("member 3 to be active", LONG, |c| {
        c.status(primary).is_some_and(|s| s["membership"]["active"].as_array().unwrap().contains(&3.into()))
    });
    // With the other original replica gone too, the primary and the promoted member are
    // the quorum of the new membership.
    let other = (0..3).find(|m| *m != primary && *m != victim).unwrap();
    cluster.kill(other);
    cluster.command_until_ok(3, &["SET", "after", "2"], LONG);
    assert_eq!(cluster.command_until_ok(primary, &["GET", "after"], LONG).text(), "2");
    assert_eq!(cluster.command_until_ok(3, &["GET", "before"], LONG).text(), "1");
}

#[test]
fn garbage_on_the_ports_and_a_wrong_cluster_are_refused() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();

    // Client port: an unknown command, then malformed RESP, which closes the connection.
    let mut connection = Connection::open(&cluster.client_address(primary)).unwrap();
    let unknown = connection.call(&["FLUSHALL"]).unwrap();
    assert!(unknown.text().starts_with("ERR unknown command"), "{unknown:?}");
    connection.send_raw(b"*2\r\n$3\r\nGET\r\n$-7\r\n").unwrap();
    let error = connection.read().unwrap();
    assert!(error.text().contains("Protocol error"), "{error:?}");
    assert!(connection.read().is_err(), "the connection is closed after a protocol error");
    let oversized = resp(&cluster.client_address(primary), &["SET", "k", &"x".repeat(2 * 1024 * 1024)]);
    assert!(matches!(&oversized, Ok(reply) if reply.is_error()) || oversized.is_err(), "{oversized:?}");

    // Peer port: random bytes, a frame header announcing 4 GiB, and a wrong cluster id.
    let peer = cluster.ports[primary as usize].peer;
    let mut garbage = TcpStream::connect(("127.0.0.1", peer)).unwrap();
    let _ = garbage.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(4096));
    let mut huge = TcpStream::connect(("127.0.0.1", peer)).unwrap();
    let _ = huge.write_all(b"VSTP\x01\x00\x00\x00\xff\xff\xff\xff");
    // A member of cluster 7 whose peer 0 is the primary's peer address dials it.
    let stray_dir = tempfile::tempdir().unwrap();
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let text = format!(
        "cluster_id = 7\n\n[[members]]\nid = 0\naddress = \"127.0.0.1:{peer}\"\nclient_address = \"127.0.0.1:{}\"\n\
         admin_address = \"127.0.0.1:{}\"\nrole = \"active\"\n\n[[members]]\nid = 1\naddress = \"127.0.0.1:{}\"\n\
         client_address = \"127.0.0.1:{}\"\nadmin_address = \"127.0.0.1:{}\"\nrole = \"active\"\n",
        free(),
        free(),
        free(),
        free(),
        free()
    );
    let stray_config = stray_dir.path().join("cluster.toml");
    std::fs::write(&stray_config, text).unwrap();
    let run = |subcommand: &str| {
        std::process::Command::new(node_support::BIN)
            .args([subcommand, "--member", "1", "--config"])
            .arg(&stray_config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    assert!(run("format").wait().unwrap().success());
    let mut stray = run("start");
    cluster.wait_until("the wrong cluster to be refused", LONG, |c| {
        c.status(primary).is_some_and(|s| s["counters"]["peer_connections_refused_wrong_cluster"].as_u64() > Some(0))
    });
    let _ = stray.kill();
    let _ = stray.wait();
    // And the cluster still commits.
    cluster.command_until_ok(primary, &["SET", "still", "ok"], LONG);
    assert_eq!(cluster.command_until_ok(primary, &["GET", "still"], LONG).text(), "ok");
}

#[test]
fn a_full_disk_stops_one_member_and_loses_nothing() {
    let mut cluster = Cluster::format(3, 0, None);
    for member in 0..3 {
        if member == 2 {
            cluster.start_with(member, &["--fail-after-bytes", "60000"]);
        } else {
            cluster.start(member, None);
        }
    }
    let primary = cluster.wait_for_primary();
    let value = "v".repeat(500);
    let mut keys = Vec::new();
    for index in 0..400 {
        let key = format!("k{index}");
        cluster.command_until_ok(primary, &["SET", &key, &value], LONG);
        keys.push(key);
        if cluster.status(2).is_some_and(|s| s["status"] == "storage-failed") {
            break;
        }
    }
    cluster.wait_until("member 2's storage to fail", LONG, |c| {
        c.status(2).is_some_and(|s| s["status"] == "storage-failed" && s["storage"]["failed"].is_string())
    });
    let refused = resp(&cluster.client_address(2), &["SET", "x", "1"]).unwrap();
    assert!(refused.text().contains("storage failed"), "{refused:?}");
    cluster.command_until_ok(primary, &["SET", "after-failure", "1"], LONG);
    let mut connection = Connection::open(&cluster.client_address(primary)).unwrap();
    for key in &keys {
        assert_eq!(connection.call(&["GET", key]).unwrap(), Reply::Bulk(Some(value.as_bytes().to_vec())), "{key}");
    }
}

#[test]
fn a_flipped_byte_in_a_log_file_is_detected_and_repaired() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    for index in 0..50 {
        cluster.command_until_ok(primary, &["SET", &format!("k{index}"), "value-that-is-long-enough"], LONG);
    }
    let backup = (0..3).find(|m| *m != primary).unwrap();
    cluster.wait_until("the backup to hold op 50", LONG, |c| {
        c.status(backup).is_some_and(|s| s["op"].as_u64() >= Some(50))
    });
    cluster.stop(backup);
    let wal = std::fs::read_dir(cluster.data_dir(backup))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("wal."))
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&wal).unwrap();
    let target = bytes.len() * 2 / 3;
    bytes[target] ^= 0x5a;
    std::fs::write(&wal, bytes).unwrap();

    cluster.start(backup, None);
    cluster.wait_caught_up(backup, primary, "the damaged backup to repair and catch up");
    let counters = &cluster.status(backup).unwrap()["counters"];
    let fixes = counters["repairs_requested"].as_u64().unwrap_or(0) + counters["state_transfers"].as_u64().unwrap_or(0);
    assert!(fixes > 0, "the damage was found and fixed from peers: {counters}");
    // The repaired member carries the cluster with the primary alone beside it.
    let third = (0..3).find(|m| *m != primary && *m != backup).unwrap();
    cluster.kill(third);
    cluster.command_until_ok(primary, &["SET", "after-repair", "1"], LONG);
    let mut connection = Connection::open(&cluster.client_address(backup)).unwrap();
    for index in 0..50 {
        let value = connection.call(&["GET", &format!("k{index}")]).unwrap();
        assert_eq!(value.text(), "value-that-is-long-enough", "k{index}");
    }
}

#[test]
fn redis_cli_and_redis_benchmark_work_unmodified() {
    if std::process::Command::new("redis-cli").arg("--version").output().is_err() {
        eprintln!("redis-cli not installed (Debian's redis-tools): skipping");
        return;
    }
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    let backup = (0..3).find(|m| *m != primary).unwrap();
    let port = cluster.ports[backup as usize].client.to_string();
    let cli = |arguments: &[&str]| {
        let output = std::process::Command::new("redis-cli").args(["-p", &port]).args(arguments).output().unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    cluster.command_until_ok(backup, &["SET", "warm", "1"], LONG);
    assert_eq!(cli(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello");
    assert_eq!(cli(&["INCR", "n"]), "1");
    assert_eq!(cli(&["MGET", "greeting", "missing"]), "hello");
    assert!(cli(&["INFO", "replication"]).contains("role:slave"));
    let bench = std::process::Command::new("redis-benchmark")
        .args(["-p", &port, "-t", "set,get", "-n", "2000", "-c", "10", "--csv"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bench.stdout);
    assert!(bench.status.success() && text.contains("\"SET\"") && text.contains("\"GET\""), "{text}");
}

#[test]
fn a_member_that_lost_its_data_directory_rebuilds_it_from_its_peers() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    for index in 0..30 {
        cluster.command_until_ok(primary, &["SET", &format!("k{index}"), "kept"], LONG);
    }
    let lost = (0..3).find(|m| *m != primary).unwrap();
    cluster.kill(lost);
    std::fs::remove_dir_all(cluster.data_dir(lost)).unwrap();

    // Starting it without a data directory is refused with what to do.
    cluster.start(lost, None);
    assert_eq!(cluster.wait_exit(lost, LONG).code(), Some(2));
    assert!(cluster.log(lost).contains("viewstamp format --recover"), "{}", cluster.log(lost));

    let recover = std::process::Command::new(node_support::BIN)
        .args(["format", "--recover", "--member", &lost.to_string(), "--config"])
        .arg(&cluster.config)
        .output()
        .unwrap();
    assert!(recover.status.success(), "{}", String::from_utf8_lossy(&recover.stderr));
    cluster.start(lost, None);
    cluster.wait_caught_up(lost, primary, "the recovered member to catch up");
    // It now holds the data: with the third member gone, it and the primary commit.
    let third = (0..3).find(|m| *m != primary && *m != lost).unwrap();
    cluster.kill(third);
    cluster.command_until_ok(primary, &["SET", "after-recovery", "1"], LONG);
    assert_eq!(cluster.command_until_ok(lost, &["GET", "k29"], LONG).text(), "kept");
}

#[test]
fn the_redis_crate_works_unmodified_and_standbys_answer_readonly_reads() {
    let mut cluster = Cluster::format(3, 1, None);
    cluster.start_all(None);
    cluster.wait_for_primary();
    // Through a backup, so the write is forwarded to the primary.
    let backup = cluster.primary().map(|p| (0..3).find(|m| *m != p).unwrap()).unwrap();
    let url = format!("redis://{}/", cluster.client_address(backup));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let set: String = redis::cmd("SET").arg("crate").arg("works").query(&mut connection).unwrap();
    assert_eq!(set, "OK");
    let value: String = redis::cmd("GET").arg("crate").query(&mut connection).unwrap();
    assert_eq!(value, "works");
    let counter: i64 = redis::cmd("INCR").arg("hits").query(&mut connection).unwrap();
    assert_eq!(counter, 1);
    let values: Vec<Option<String>> = redis::cmd("MGET").arg("crate").arg("none").query(&mut connection).unwrap();
    assert_eq!(values, vec![Some("works".to_string()), None]);
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    keys.sort();
    assert_eq!(keys, ["crate", "hits"]);
    let unknown = redis::cmd("HSET").arg("h").arg("f").arg("v").query::<i64>(&mut connection).unwrap_err();
    assert!(unknown.to_string().contains("unknown command"), "{unknown}");

    // READONLY at the standby reads its own state once it has caught up.
    let mut standby = Connection::open(&cluster.client_address(3)).unwrap();
    assert_eq!(standby.call(&["READONLY"]).unwrap(), Reply::Status("OK".into()));
    cluster.wait_until("the standby to read the write", LONG, |_| {
        standby.call(&["GET", "crate"]).is_ok_and(|reply| reply.text() == "works")
    });
    let info = standby.call(&["INFO", "replication"]).unwrap().text();
    assert!(info.contains("member_role:standby"), "{info}");
}

#[test]
fn viewstamp_dev_starts_a_local_cluster_and_stops_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let base = {
        // Four consecutive free client ports (and +720, +1720 for peers and admin).
        let mut base = 20000 + (std::process::id() % 20000) as u16;
        while (0..4u16).any(|i| {
            [0u16, 720, 1720]
                .iter()
                .any(|offset| std::net::TcpListener::bind(("127.0.0.1", base + i + offset)).is_err())
        }) {
            base += 7;
        }
        base
    };
    let mut dev = std::process::Command::new(node_support::BIN)
        .args(["dev", "--web-port", "0", "--client-port", &base.to_string(), "--dir"])
        .arg(dir.path().join("cluster"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = dev.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.starts_with("Ctrl-C stops every member") {
            break;
        }
        assert!(seen.len() < 200, "{seen:?}");
    }
    let output = seen.join("\n");
    assert!(output.contains("the cluster committed its first write"), "{output}");
    assert!(output.contains(&format!("redis-cli -p {base} SET greeting hello")), "{output}");
    let address = format!("127.0.0.1:{}", base + 3);
    assert_eq!(resp(&address, &["SET", "from-dev", "1"]).unwrap(), Reply::Status("OK".into()));

    let _ = std::process::Command::new("kill").args(["-TERM", &dev.id().to_string()]).status();
    assert!(dev.wait().unwrap().success());
    // Every member it started is gone: their ports are free again.
    for member in 0..4u16 {
        assert!(TcpStream::connect(("127.0.0.1", base + member)).is_err(), "member {member} still running");
    }
}

#[test]
fn release_1_4_0_commands_and_reads_by_index_work_through_the_redis_crate() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    let url = format!("redis://{}/", cluster.client_address(primary));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let set_nx: bool =
        redis::cmd("SET").arg("k").arg("v").arg("NX").query::<Option<String>>(&mut connection).unwrap().is_some();
    assert!(set_nx);
    let again: Option<String> = redis::cmd("SET").arg("k").arg("w").arg("NX").query(&mut connection).unwrap();
    assert_eq!(again, None, "NX does not overwrite");
    let old: Option<String> = redis::cmd("GETSET").arg("k").arg("x").query(&mut connection).unwrap();
    assert_eq!(old.as_deref(), Some("v"));
    let length: i64 = redis::cmd("APPEND").arg("k").arg("yz").query(&mut connection).unwrap();
    assert_eq!(length, 3);
    let setnx: i64 = redis::cmd("SETNX").arg("k").arg("_").query(&mut connection).unwrap();
    assert_eq!(setnx, 0);
    for n in 0..30 {
        let _: () = redis::cmd("SET").arg(format!("user:{n}")).arg(n).query(&mut connection).unwrap();
    }
    let scanned: Vec<String> =
        redis::Commands::scan_match::<_, String>(&mut connection, "user:*").unwrap().collect::<Result<_, _>>().unwrap();
    let distinct: std::collections::BTreeSet<&String> = scanned.iter().collect();
    assert_eq!((scanned.len(), distinct.len()), (30, 30), "every key once: {scanned:?}");
    let size: i64 = redis::cmd("DBSIZE").query(&mut connection).unwrap();
    assert_eq!(size, 31);
    let taken: Option<String> = redis::cmd("GETDEL").arg("k").query(&mut connection).unwrap();
    assert_eq!(taken.as_deref(), Some("xyz"));

    // Reads take no log entry: the commit number stays while the primary serves them.
    let commit_before = cluster.status(primary).unwrap()["commit"].as_u64().unwrap();
    for _ in 0..50 {
        let value: Option<String> = redis::cmd("GET").arg("user:7").query(&mut connection).unwrap();
        assert_eq!(value.as_deref(), Some("7"));
    }
    let status = cluster.status(primary).unwrap();
    assert_eq!(status["commit"].as_u64().unwrap(), commit_before, "reads are not ops");
    assert!(status["counters"]["reads_by_index"].as_u64().unwrap() >= 50, "{}", status["counters"]);
}

/// Sends `commands` in one write and reads one reply each, in order.
fn pipelined(connection: &mut Connection, commands: &[&[&str]]) -> Vec<Reply> {
    let mut bytes = Vec::new();
    for arguments in commands {
        bytes.extend_from_slice(format!("*{}\r\n", arguments.len()).as_bytes());
        for argument in *arguments {
            bytes.extend_from_slice(format!("${}\r\n{argument}\r\n", argument.len()).as_bytes());
        }
    }
    connection.send_raw(&bytes).unwrap();
    commands.iter().map(|_| connection.read().unwrap()).collect()
}

#[test]
fn pipelined_commands_answer_in_order_and_take_one_op_per_batch() {
    let mut cluster = Cluster::format(3, 0, None);
    cluster.start_all(None);
    let primary = cluster.wait_for_primary();
    let backup = (0..3).find(|m| *m != primary).unwrap();
    let commands: [&[&str]; 9] = [
        &["SET", "p", "1"],
        &["INCR", "p"],
        &["APPEND", "p", "x"],
        &["INCR", "p"],
        &["GET", "p"],
        &["GET", "missing"],
        &["PING"],
        &["SET", "q", "v", "NX"],
        &["DEL", "p", "q"],
    ];
    for member in [primary, backup] {
        let mut connection = Connection::open(&cluster.client_address(member)).unwrap();
        assert_eq!(connection.call(&["SET", "warm-up", "1"]).unwrap(), Reply::Status("OK".into()));
        let op_before = cluster.status(primary).unwrap()["op"].as_u64().unwrap();
        let replies = pipelined(&mut connection, &commands);
        let op_after = cluster.status(primary).unwrap()["op"].as_u64().unwrap();
        assert_eq!(replies[0], Reply::Status("OK".into()), "member {member}: {replies:?}");
        assert_eq!(replies[1], Reply::Integer(2));
        assert_eq!(replies[2], Reply::Integer(2), "APPEND answers the new length");
        assert!(replies[3].is_error() && replies[3].text().contains("not an integer"), "{:?}", replies[3]);
        assert_eq!(replies[4], Reply::Bulk(Some(b"2x".to_vec())), "the failed INCR changed nothing");
        assert_eq!(replies[5], Reply::Bulk(None));
        assert_eq!(replies[6], Reply::Status("PONG".into()));
        assert_eq!(replies[7], Reply::Status("OK".into()));
        assert_eq!(replies[8], Reply::Integer(2));
        // Two runs of data commands around the PING: two ops, not eight.
        assert_eq!(op_after - op_before, 2, "member {member}: one op per pipelined run");
    }

    // Many commands in flight at once, from several connections, all in order.
    let mut connection = Connection::open(&cluster.client_address(primary)).unwrap();
    let keys: Vec<String> = (0..600).map(|index| format!("many-{index}")).collect();
    let writes: Vec<[&str; 3]> = keys.iter().map(|key| ["SET", key.as_str(), key.as_str()]).collect();
    let write_refs: Vec<&[&str]> = writes.iter().map(|write| &write[..]).collect();
    assert!(pipelined(&mut connection, &write_refs).iter().all(|reply| *reply == Reply::Status("OK".into())));
    let reads: Vec<[&str; 2]> = keys.iter().map(|key| ["GET", key.as_str()]).collect();
    let read_refs: Vec<&[&str]> = reads.iter().map(|read| &read[..]).collect();
    let values = pipelined(&mut connection, &read_refs);
    for (key, value) in keys.iter().zip(values) {
        assert_eq!(value, Reply::Bulk(Some(key.as_bytes().to_vec())), "{key}");
    }
    assert_all_readable(&cluster, backup, &keys);
}

#[test]
fn a_1_3_0_cluster_answers_pipelined_commands_one_by_one() {
    // 1.3.0 code cannot decode a pipeline op: below 1.4.0 each command is its own op.
    let mut cluster = Cluster::format(3, 0, Some("1.3.0"));
    cluster.start_all(Some("1.3.0"));
    let primary = cluster.wait_for_primary();
    cluster.command_until_ok(primary, &["SET", "warm-up", "1"], LONG);
    let mut connection = Connection::open(&cluster.client_address(primary)).unwrap();
    assert_eq!(connection.call(&["SET", "warm-up", "2"]).unwrap(), Reply::Status("OK".into()));
    let commit_before = cluster.status(primary).unwrap()["commit"].as_u64().unwrap();
    let commands: [&[&str]; 4] = [&["SET", "p", "1"], &["INCR", "p"], &["APPEND", "p", "x"], &["GET", "p"]];
    let replies = pipelined(&mut connection, &commands);
    assert_eq!(replies[0], Reply::Status("OK".into()));
    assert_eq!(replies[1], Reply::Integer(2));
    assert!(replies[2].text().contains("feature-off: APPEND needs release 1.4.0"), "{:?}", replies[2]);
    assert_eq!(replies[3], Reply::Bulk(Some(b"2".to_vec())));
    let commit_after = cluster.status(primary).unwrap()["commit"].as_u64().unwrap();
    assert_eq!(commit_after - commit_before, 3, "SET, INCR and GET, one op each");
}

#[test]
fn a_1_3_0_cluster_refuses_1_4_0_commands_before_logging_them() {
    // Binaries of 1.3.0 (the archived 1.3.0 code; the 1.4.0 host refuses what 1.3.0
    // lacks before the core sees it): the cluster stays there.
    let mut cluster = Cluster::format(3, 0, Some("1.3.0"));
    cluster.start_all(Some("1.3.0"));
    let primary = cluster.wait_for_primary();
    cluster.command_until_ok(primary, &["SET", "a", "1"], LONG);
    let commit_before = cluster.status(primary).unwrap()["commit"].as_u64().unwrap();
    let backup = (0..3).find(|m| *m != primary).unwrap();
    for member in [primary, backup] {
        let refused = resp(&cluster.client_address(member), &["APPEND", "a", "x"]).unwrap();
        assert!(refused.is_error(), "{refused:?}");
        assert!(refused.text().contains("feature-off: APPEND needs release 1.4.0"), "{}", refused.text());
        let scan = resp(&cluster.client_address(member), &["SCAN", "0"]).unwrap();
        assert!(scan.text().contains("needs release 1.4.0"), "{}", scan.text());
    }
    let value = resp(&cluster.client_address(primary), &["GET", "a"]).unwrap();
    assert_eq!(value.text(), "1", "nothing appended");
    // (An archived core reports no counters: the commit below is what shows it.)
    let reads_by_index = cluster.status(primary).unwrap()["counters"]["reads_by_index"].as_u64().unwrap_or(0);
    assert_eq!(reads_by_index, 0, "1.3.0 reads go through the log");
    assert!(cluster.status(primary).unwrap()["commit"].as_u64().unwrap() > commit_before, "the GET was an op");
}

#[test]
fn a_connection_opened_before_1_4_0_runs_its_commands_once_the_cluster_has_it() {
    let mut cluster = Cluster::format(3, 0, Some("1.3.0"));
    cluster.start_all(Some("1.3.0"));
    let first = cluster.wait_for_primary();
    // The connection's member runs 1.4.0 code already; the cluster stays at 1.3.0 until
    // the other two do.
    let member = (0..3).find(|m| *m != first).unwrap();
    cluster.stop(member);
    cluster.start(member, None);
    cluster.wait_until("the member back, normal", LONG, |c| c.status(member).is_some_and(|s| s["status"] == "normal"));
    let url = format!("redis://{}/", cluster.client_address(member));
    let mut connection = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut connection).unwrap();
    let refused = redis::cmd("APPEND").arg("a").arg("x").query::<i64>(&mut connection).unwrap_err();
    assert!(refused.to_string().contains("feature-off: APPEND needs release 1.4.0"), "{refused}");
    for other in (0..3).filter(|m| *m != member) {
        cluster.stop(other);
        cluster.start(other, None);
    }
    // (Until the member itself has applied the upgrade, it refuses the new commands
    // without asking: a primary of 1.3.0 would log what it cannot run.)
    cluster.wait_until("cluster release 1.4.0 at the connection's member", LONG, |c| {
        c.status(member).is_some_and(|s| s["cluster_release"] == "1.4.0")
    });
    // Its session opened at 1.3.0: the member renews it and sends the command again,
    // and the refused APPEND never ran.
    let length: i64 = redis::cmd("APPEND").arg("a").arg("y").query(&mut connection).unwrap();
    assert_eq!(length, 2);
    let value: String = redis::cmd("GET").arg("a").query(&mut connection).unwrap();
    assert_eq!(value, "1y");
}

/// `--binary-release 1.3.0` runs the real 1.3.0 code (the archived module) as a real
/// member: a 3 + 1 cluster of them serves writes; restarted one by one as 1.4.0 (onto
/// the same data directories) under load, it commits 1.4.0, and the commands 1.3.0
/// lacks and `read_index` work. No acknowledged write is lost.
#[test]
fn members_on_the_archived_1_3_0_code_roll_to_1_4_0_under_load() {
    let mut cluster = Cluster::format(3, 1, Some("1.3.0"));
    cluster.start_all(Some("1.3.0"));
    let primary = cluster.wait_for_primary();
    cluster.command_until_ok(primary, &["SET", "before", "1"], LONG);
    for member in 0..4u8 {
        // Its admin endpoint answers once it has compiled the module and opened.
        cluster.wait_until("the member's status", LONG, |c| c.status(member).is_some());
        let status = cluster.status(member).expect("a status");
        assert_eq!(status["archived_core"], "1.3.0", "member {member} runs the archived code: {status}");
        assert_eq!(status["binary_release"], "1.3.0");
    }
    assert!(cluster.log(0).contains("running the archived 1.3.0 code"), "{}", cluster.log(0));
    let refused = resp(&cluster.client_address(primary), &["SET", "x", "1", "NX"]).unwrap();
    assert!(refused.is_error(), "the cluster runs 1.3.0, which has no SET NX: {refused:?}");

    let load = Load::start(all_addresses(&cluster), 3);
    for member in [3u8, 1, 2, 0] {
        assert!(cluster.stop(member).success(), "member {member} stops cleanly");
        cluster.start(member, None);
        cluster.wait_until("the restarted member back on the current code", LONG, |c| {
            c.status(member).is_some_and(|s| {
                s["binary_release"] == "1.4.0" && s["status"] == "normal" && s.get("archived_core").is_none()
            })
        });
    }
    cluster.wait_until("cluster release 1.4.0", LONG, |c| {
        c.primary().and_then(|p| c.status(p)).is_some_and(|s| s["cluster_release"] == "1.4.0")
    });
    let keys = load.finish();
    assert!(keys.len() > 20, "the load made progress: {} writes", keys.len());
    let primary = cluster.primary().unwrap();
    assert_all_readable(&cluster, primary, &keys);
    assert_eq!(cluster.command_until_ok(primary, &["SET", "x", "1", "NX"], LONG), Reply::Status("OK".into()));
    assert_eq!(cluster.command_until_ok(primary, &["APPEND", "x", "23"], LONG), Reply::Integer(3));
    assert_eq!(cluster.command_until_ok(primary, &["GET", "before"], LONG), Reply::Bulk(Some(b"1".to_vec())));
    let reads = cluster.status(primary).unwrap()["counters"]["reads_by_index"].as_u64().unwrap_or(0);
    assert!(reads > 0, "reads go by read_index at 1.4.0");
}
