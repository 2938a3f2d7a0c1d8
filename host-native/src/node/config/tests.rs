use std::path::{Path, PathBuf};

use viewstamp_core::release::{Release, NEWEST_RELEASE};

use super::*;

const VALID: &str = r#"
cluster_id = 42
data_dir = "/var/lib/viewstamp/member-{id}"
log_bound_ops = 1024
shared_key = "0123456789abcdef0123"

[timers]
tick_ms = 10
heartbeat_interval_ms = 105
primary_timeout_ms = 800

[limits]
max_client_connections = 100

[[members]]
id = 0
address = "10.0.0.1:7000"
client_address = "10.0.0.1:6379"
admin_address = "10.0.0.1:8000"
role = "active"

[[members]]
id = 1
address = "10.0.0.2:7000"
client_address = "10.0.0.2:6379"
admin_address = "10.0.0.2:8000"
role = "active"

[[members]]
id = 2
address = "node-3.example:7000"
client_address = "0.0.0.0:6379"
admin_address = "[::1]:8000"
role = "standby"
data_dir = "elsewhere"
"#;

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "cluster.toml", Path::new("/etc/viewstamp"))
}

fn error(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

/// VALID with the first occurrence of `from` replaced by `to`.
fn edited(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from:?} is not in the valid file");
    VALID.replacen(from, to, 1)
}

#[test]
fn a_valid_file_loads_with_defaults_filled_in() {
    let config = load(VALID).unwrap();
    assert_eq!(config.cluster_id, 42);
    assert_eq!((config.active_count(), config.standby_count()), (2, 1));
    let standby = config.member(2).unwrap();
    assert_eq!(standby.role, MemberRole::Standby);
    assert_eq!(standby.address, HostPort { host: "node-3.example".into(), port: 7000 });
    assert_eq!(standby.data_dir, PathBuf::from("/etc/viewstamp/elsewhere"), "relative to the file's directory");
    assert_eq!(config.member(0).unwrap().data_dir, PathBuf::from("/var/lib/viewstamp/member-0"));
    assert_eq!(config.member(1).unwrap().data_dir, PathBuf::from("/var/lib/viewstamp/member-1"));
    assert_eq!(config.timers.timeout_jitter_ms, 500, "a default");
    assert_eq!(config.limits.max_client_connections, 100);
    assert_eq!(config.limits.max_argument_bytes, 1024 * 1024, "a default");
    assert_eq!(config.shared_key.as_deref(), Some("0123456789abcdef0123"));
    assert_eq!(config.binary_release, NEWEST_RELEASE);
}

#[test]
fn replica_options_carry_counts_and_timers_in_ticks() {
    let config = load(VALID).unwrap();
    let options = config.replica_options(1);
    assert_eq!((options.replica_count, options.standby_count, options.cluster), (2, 1, 42));
    assert_eq!(options.heartbeat_interval_ticks, 11, "105 ms rounds up to 11 ticks of 10 ms");
    assert_eq!(options.primary_timeout_ticks, 80);
    assert_eq!(options.log_bound_ops, 1024);
    assert_ne!(options.seed, config.replica_options(0).seed);
    let limits = config.parser_limits();
    assert_eq!((limits.max_arguments, limits.max_argument_bytes), (4096, 1024 * 1024));
}

#[test]
fn unknown_members_are_refused_with_the_range() {
    let config = load(VALID).unwrap();
    assert_eq!(config.member(3).unwrap_err().to_string(), "cluster.toml: there is no member 3; the members are 0 to 2");
}

#[test]
fn member_errors_name_the_field() {
    let cases = [
        (
            edited("\"10.0.0.2:7000\"", "\"localhost\""),
            r#"cluster.toml: members[1].address: "localhost" is not host:port"#,
        ),
        (
            edited("\"10.0.0.1:6379\"", "\"10.0.0.1:99999\""),
            r#"cluster.toml: members[0].client_address: "10.0.0.1:99999": the port must be a number from 1 to 65535"#,
        ),
        (
            edited("\"10.0.0.1:7000\"", "\"0.0.0.0:7000\""),
            "cluster.toml: members[0].address: \"0.0.0.0:7000\" is not an address other members can connect to; \
             give this machine's address",
        ),
        (
            edited("\"10.0.0.2:8000\"", "\"10.0.0.1:7000\""),
            "cluster.toml: members[1].admin_address: 10.0.0.1:7000 is also members[0].address",
        ),
        (
            edited("\"10.0.0.2:7000\"", "\"10.0.0.1:6379\""),
            "cluster.toml: members[1].address: 10.0.0.1:6379 is also members[0].client_address",
        ),
        (
            edited("id = 1", "id = 5"),
            "cluster.toml: members[1].id: is 5, expected 1: members are numbered 0, 1, 2... in the order listed",
        ),
        (
            edited("role = \"active\"", "role = \"standby\""),
            "cluster.toml: members[1].role: an active member after a standby (members[0]); \
             list active members first, then standbys",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(&text), expected);
    }
}

fn members_file(actives: usize, standbys: usize) -> String {
    let mut text = String::from("cluster_id = 1\n");
    for id in 0..actives + standbys {
        let role = if id < actives { "active" } else { "standby" };
        text.push_str(&format!(
            "[[members]]\nid = {id}\naddress = \"h:{}\"\nclient_address = \"h:{}\"\nadmin_address = \"h:{}\"\nrole = \"{role}\"\n",
            1000 + id,
            2000 + id,
            3000 + id
        ));
    }
    text
}

#[test]
fn member_counts_are_checked() {
    assert!(load(&members_file(7, 6)).is_ok());
    assert_eq!(error(&members_file(8, 0)), "cluster.toml: members: 8 are active; at most 7 are supported");
    assert_eq!(error(&members_file(1, 7)), "cluster.toml: members: 7 are standbys; at most 6 are supported");
    assert_eq!(error(&members_file(0, 1)), "cluster.toml: members: none is active; at least 1 active member is needed");
    assert_eq!(
        error("cluster_id = 1\nmembers = []\n"),
        "cluster.toml: members: none are listed; add [[members]] tables, active members first"
    );
}

#[test]
fn data_directories_must_differ() {
    assert_eq!(
        error(&edited("data_dir = \"/var/lib/viewstamp/member-{id}\"", "data_dir = \"/data\"")),
        "cluster.toml: members[1].data_dir: /data is also the data directory of member 0; \
         put {id} in the data_dir template"
    );
    assert_eq!(
        error(&edited("member-{id}", "member-{name}")),
        r#"cluster.toml: data_dir: "/var/lib/viewstamp/member-{name}" has an unknown placeholder; only {id} is replaced"#
    );
    assert_eq!(
        error(&edited("data_dir = \"elsewhere\"", "data_dir = \"\"")),
        r#"cluster.toml: members[2].data_dir: is empty; give a directory such as "data/member-{id}""#
    );
}

#[test]
fn settings_outside_their_ranges_are_refused() {
    let cases = [
        (edited("tick_ms = 10", "tick_ms = 0"), "timers.tick_ms: 0 is outside 1 to 1000"),
        (
            edited("primary_timeout_ms = 800", "primary_timeout_ms = 150"),
            "timers.primary_timeout_ms: 150 is less than twice heartbeat_interval_ms (105): \
             backups would depose a healthy primary",
        ),
        (
            edited("heartbeat_interval_ms = 105", "heartbeat_interval_ms = 5"),
            "timers.heartbeat_interval_ms: 5 is outside tick_ms (10) to 3600000",
        ),
        (
            edited("primary_timeout_ms = 800", "primary_timeout_ms = 800\nview_change_timeout_ms = 50"),
            "timers.view_change_timeout_ms: 50 is less than heartbeat_interval_ms (105): \
             view changes would give up before messages arrive",
        ),
        (edited("log_bound_ops = 1024", "log_bound_ops = 2"), "log_bound_ops: 2 is outside 4 to 16777216"),
        (
            edited("shared_key = \"0123456789abcdef0123\"", "shared_key = \"short\""),
            "shared_key: 5 bytes is too short to keep strangers out; use at least 16 random characters",
        ),
        (
            edited("max_client_connections = 100", "max_client_connections = 0"),
            "limits.max_client_connections: 0 is outside 1 to 1000000",
        ),
        (
            edited("max_client_connections = 100", "max_arguments = 2"),
            "limits.max_arguments: 2 is outside 3 to 1048576",
        ),
        (
            edited("max_client_connections = 100", "max_argument_bytes = 2000\nmax_request_bytes = 1000"),
            "limits.max_request_bytes: 1000 is outside 2000 to 2147483648",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(&text), format!("cluster.toml: {expected}"));
    }
}

#[test]
fn syntax_and_type_errors_show_the_line() {
    let misspelt = error(&edited("log_bound_ops", "log_bound_opps"));
    assert!(misspelt.starts_with("cluster.toml: TOML parse error at line 4"), "{misspelt}");
    assert!(misspelt.contains("unknown field `log_bound_opps`"), "{misspelt}");
    let bad_role = error(&edited("role = \"standby\"", "role = \"leader\""));
    assert!(bad_role.contains("unknown variant `leader`"), "{bad_role}");
    let missing = error(&edited("client_address = \"10.0.0.2:6379\"\n", ""));
    assert!(missing.contains("missing field `client_address`"), "{missing}");
    assert!(error("cluster_id = \n").starts_with("cluster.toml: TOML parse error"));
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, VALID).unwrap();
    let config = Config::load(&path).unwrap();
    assert_eq!(config.member(2).unwrap().data_dir, dir.path().join("elsewhere"));
    assert_eq!(config.origin, path.display().to_string());
    let missing = dir.path().join("absent.toml");
    let message = Config::load(&missing).unwrap_err().to_string();
    assert!(message.starts_with(&format!("cannot read {}: ", missing.display())), "{message}");
}

#[test]
fn overrides_replace_the_members_settings() {
    let mut config = load(VALID).unwrap();
    let overrides = Overrides {
        data_dir: Some(PathBuf::from("here")),
        client_address: Some("127.0.0.1:16379".into()),
        admin_address: Some("127.0.0.1:18000".into()),
        peer_listen: Some("0.0.0.0:17000".into()),
        binary_release: Some(Release::new(1, 0, 0)),
    };
    config.apply_overrides(1, &overrides).unwrap();
    let member = config.member(1).unwrap();
    assert_eq!(member.data_dir, PathBuf::from("here"), "command-line paths are left as typed");
    assert_eq!(member.client_address.to_string(), "127.0.0.1:16379");
    assert_eq!(member.admin_address.to_string(), "127.0.0.1:18000");
    assert_eq!(config.binary_release, Release::new(1, 0, 0));
    assert_eq!(config.replica_options(1).binary_release, Release::new(1, 0, 0));
    assert_eq!(config.member(0).unwrap().client_address.to_string(), "10.0.0.1:6379", "others keep theirs");
    assert_eq!(config.peer_listen.as_ref().map(HostPort::to_string).as_deref(), Some("0.0.0.0:17000"));
    assert_eq!(member.address.to_string(), "10.0.0.2:7000", "peers still dial the advertised address");
}

#[test]
fn a_peer_listen_override_must_not_take_another_listener() {
    let mut config = load(VALID).unwrap();
    let listen = |text: &str| Overrides { peer_listen: Some(text.into()), ..Overrides::default() };
    assert_eq!(
        config.apply_overrides(0, &listen("10.0.0.2:7000")).unwrap_err().to_string(),
        "command line: --peer-listen: 10.0.0.2:7000 is also members[1].address"
    );
    assert_eq!(
        config.apply_overrides(0, &listen("10.0.0.1:6379")).unwrap_err().to_string(),
        "command line: --peer-listen: 10.0.0.1:6379 is also members[0].client_address"
    );
    assert_eq!(
        config.apply_overrides(0, &listen("nowhere")).unwrap_err().to_string(),
        r#"command line: --peer-listen: "nowhere" is not host:port"#
    );
    assert_eq!(config.peer_listen, None);
    assert!(config.apply_overrides(0, &listen("10.0.0.1:7000")).is_ok(), "its own advertised address is fine");
}

#[test]
fn bad_overrides_are_refused_and_change_nothing() {
    let mut config = load(VALID).unwrap();
    let before = config.clone();
    let attempt =
        |config: &mut Config, overrides: Overrides| config.apply_overrides(0, &overrides).unwrap_err().to_string();
    assert_eq!(
        attempt(&mut config, Overrides { client_address: Some("nowhere".into()), ..Overrides::default() }),
        r#"command line: --client-address: "nowhere" is not host:port"#
    );
    assert_eq!(
        attempt(&mut config, Overrides { admin_address: Some("10.0.0.2:7000".into()), ..Overrides::default() }),
        "command line: --admin-address: 10.0.0.2:7000 is also members[1].address"
    );
    assert_eq!(
        attempt(
            &mut config,
            Overrides { data_dir: Some("/var/lib/viewstamp/member-1".into()), ..Overrides::default() }
        ),
        "command line: --data-dir: /var/lib/viewstamp/member-1 is also the data directory of member 1"
    );
    let too_new = Release::new(NEWEST_RELEASE.major + 1, 0, 0);
    assert_eq!(
        attempt(&mut config, Overrides { binary_release: Some(too_new), ..Overrides::default() }),
        format!(
            "command line: --binary-release: {too_new} is newer than this binary, which runs releases up to {NEWEST_RELEASE}"
        )
    );
    assert_eq!(config, before);
    assert_eq!(
        attempt(&mut config, Overrides { client_address: Some("10.0.0.1:8000".into()), ..Overrides::default() }),
        "command line: --client-address: 10.0.0.1:8000 is also members[0].admin_address"
    );
    let same = Overrides { client_address: Some("10.0.0.1:6379".into()), ..Overrides::default() };
    assert!(config.apply_overrides(0, &same).is_ok(), "a member may keep its own address");
    let swapped = Overrides {
        client_address: Some("10.0.0.1:8000".into()),
        admin_address: Some("10.0.0.1:6379".into()),
        ..Overrides::default()
    };
    assert!(config.apply_overrides(0, &swapped).is_ok(), "client and admin ports may swap");
    let clash = Overrides {
        client_address: Some("10.0.0.1:9".into()),
        admin_address: Some("10.0.0.1:9".into()),
        ..Overrides::default()
    };
    assert_eq!(
        config.apply_overrides(0, &clash).unwrap_err().to_string(),
        "command line: --client-address: 10.0.0.1:9 is also members[0].admin_address"
    );
    assert!(config.apply_overrides(9, &Overrides::default()).is_err());
}

#[test]
fn a_local_cluster_file_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.toml");
    let spec = LocalCluster { cluster_id: 9, replicas: 3, standbys: 2, ..LocalCluster::default() };
    let config = write_local_cluster(&path, &spec).unwrap();
    assert_eq!((config.active_count(), config.standby_count(), config.cluster_id), (3, 2, 9));
    let last = config.member(4).unwrap();
    assert_eq!(last.role, MemberRole::Standby);
    assert_eq!(last.address.to_string(), "127.0.0.1:7104");
    assert_eq!(last.client_address.to_string(), "127.0.0.1:6384");
    assert_eq!(last.admin_address.to_string(), "127.0.0.1:8104");
    assert_eq!(last.data_dir, dir.path().join("data/member-4"));
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("# A local cluster of 3 active replica(s) and 2 standby(s)"));
}

#[test]
fn impossible_local_clusters_are_refused() {
    let refuse = |spec: LocalCluster| local_cluster_toml(&spec).unwrap_err().to_string();
    let base = LocalCluster::default();
    assert_eq!(
        refuse(LocalCluster { replicas: 0, ..base.clone() }),
        "cannot lay out a local cluster: 0 active replicas; choose 1 to 7"
    );
    assert_eq!(
        refuse(LocalCluster { standbys: 7, ..base.clone() }),
        "cannot lay out a local cluster: 7 standbys; choose 0 to 6"
    );
    assert_eq!(
        refuse(LocalCluster { admin_base_port: 65534, ..base.clone() }),
        "cannot lay out a local cluster: admin ports 65534 to 65536 are not all valid ports"
    );
    assert_eq!(
        refuse(LocalCluster { client_base_port: 7102, ..base }),
        "cannot lay out a local cluster: peer ports from 7100 and client ports from 7102 overlap for 3 members"
    );
}
