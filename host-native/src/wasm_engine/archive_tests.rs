//! The archived releases (`releases/<version>/`, releases/1.3.0/README.md) are usable,
//! not just present: each module matches its SHA256SUMS, and release 1.3.0's module
//! runs members of a cluster, alone and next to this binary's native members.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::Digest as _;
use viewstamp_core::message::Request;
use viewstamp_core::release::Release;
use viewstamp_core::replica::{Options, RequestOutcome};
use viewstamp_core::state_machine::{KvCommand, KvResult};
use viewstamp_wasm::member::envelope::{encode_config, Config, Outcome, Start};
use viewstamp_wasm::member::loopback::Loopback;
use viewstamp_wasm::member::options::MemberOptions;
use viewstamp_wasm::member::MEMBER_ABI_VERSION;
use wasmtime::{Engine, Instance, Module, Store};

use super::member::{MemberEngine, NativeMember, WasmMember};

const CLUSTER: u64 = 13;
const RELEASE_1_3_0: Release = Release::new(1, 3, 0);

fn releases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../releases")
}

/// The archived module of `version`, checked against its SHA256SUMS.
fn archived_module(version: &str) -> Vec<u8> {
    let dir = releases_dir().join(version);
    let name = format!("viewstamp-core-{version}.wasm");
    let bytes = fs::read(dir.join(&name)).unwrap_or_else(|error| panic!("{}: {error}", dir.join(&name).display()));
    let sums = checksums(&dir);
    let expected = sums
        .iter()
        .find(|(file, _)| *file == name)
        .unwrap_or_else(|| panic!("SHA256SUMS of {version} lists no {name}"));
    assert_eq!(hex(&sha256(&bytes)), expected.1, "{name} is not the module SHA256SUMS names");
    bytes
}

/// `(file, sha256 hex)` for each line of `dir/SHA256SUMS` (`sha256sum`'s format).
fn checksums(dir: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(dir.join("SHA256SUMS")).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (sum, file) =
                line.split_once(' ').unwrap_or_else(|| panic!("a SHA256SUMS line without a file: {line}"));
            assert!(sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()), "not a sha256: {line}");
            (file.trim_start_matches([' ', '*']).to_string(), sum.to_ascii_lowercase())
        })
        .collect()
}

#[test]
fn every_archived_file_matches_its_sha256sums() {
    let mut releases = Vec::new();
    for entry in fs::read_dir(releases_dir()).expect("releases/ is in the repository") {
        let dir = entry.expect("a readable releases/ entry").path();
        if !dir.is_dir() {
            continue;
        }
        let version = dir.file_name().unwrap().to_string_lossy().into_owned();
        let module = format!("viewstamp-core-{version}.wasm");
        let sums = checksums(&dir);
        assert!(sums.iter().any(|(file, _)| *file == module), "SHA256SUMS of {version} lists no {module}");
        for (file, sum) in sums {
            let bytes = fs::read(dir.join(&file)).unwrap_or_else(|error| panic!("{version}/{file}: {error}"));
            assert_eq!(hex(&sha256(&bytes)), sum, "{version}/{file} does not match SHA256SUMS");
        }
        let commit = fs::read_to_string(dir.join("COMMIT")).expect("a COMMIT file");
        assert!(commit.trim().len() == 40 && commit.trim().bytes().all(|b| b.is_ascii_hexdigit()), "{commit:?}");
        releases.push(version);
    }
    assert!(releases.iter().any(|version| version == "1.3.0"), "{releases:?}");
}

#[test]
fn the_archived_1_3_0_module_speaks_member_abi_1_and_imports_nothing() {
    let bytes = archived_module("1.3.0");
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).expect("the archived module compiles");
    assert_eq!(module.imports().count(), 0, "the archived module imports something");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("it instantiates");
    let version = instance.get_typed_func::<(), u32>(&mut store, "member_abi_version").expect("member_abi_version");
    assert_eq!(version.call(&mut store, ()).expect("it answers"), 1);
    for export in ["alloc", "dealloc", "member_create", "member_input", "member_drop", "replay"] {
        assert!(instance.get_func(&mut store, export).is_some(), "no export {export}");
    }
}

/// A member of a 1.3.0 cluster: both kinds run 1.3.0's options (its binary release
/// and initial release), whatever this binary's newest release is.
fn config(id: u8) -> Vec<u8> {
    config_of_binary(id, RELEASE_1_3_0)
}

/// A member whose binary runs up to `binary`, formatted into a 1.3.0 cluster.
fn config_of_binary(id: u8, binary: Release) -> Vec<u8> {
    let mut options = Options::new(3, 0);
    options.cluster = CLUSTER;
    options.preregistered_clients = 1;
    options.report_applied = true;
    options.seed = 3;
    options.binary_release = binary;
    options.initial_release = RELEASE_1_3_0;
    encode_config(
        MEMBER_ABI_VERSION,
        &Config { id, now: 0, options: MemberOptions::from(&options), start: Start::Formatted },
    )
}

fn put(request: u64, key: &str, value: &str) -> Request {
    let operation = KvCommand::Put { key: key.into(), value: value.into() }.encode();
    Request { client: 1, session: 0, request, operation }
}

/// Runs a request through a cluster of these members to a reply, then until every
/// member applied it, and checks the reply and that all members agree.
fn commit_a_request(mut members: Vec<Box<dyn MemberEngine>>) {
    let mut step = |member: usize, input: &[u8]| {
        members[member].input_bytes(input).unwrap_or_else(|error| panic!("member {member}: {error:?}"))
    };
    let mut cluster = Loopback::new(CLUSTER, 3);
    cluster.submit(0, put(1, "a", "1"));
    assert!(cluster.run(2_000, &mut step, |c| !c.replies.is_empty()), "no reply by tick {}", cluster.now());
    assert_eq!(cluster.outcomes, [(0, Outcome::Request(RequestOutcome::Queued))]);
    let reply = &cluster.replies[0];
    assert_eq!((reply.client, reply.request, reply.op), (1, 1, 1));
    assert_eq!(KvResult::decode(&reply.result), Some(KvResult::Ok));
    let all_applied = |c: &Loopback| c.summaries.iter().all(|s| s.as_ref().is_some_and(|s| s.commit == 1));
    assert!(cluster.run(4_000, &mut step, all_applied), "{:?}", cluster.summaries);
    let summaries: Vec<_> = cluster.summaries.iter().map(|s| s.as_ref().unwrap()).collect();
    assert!(summaries.iter().all(|s| s.status == "normal" && s.release == RELEASE_1_3_0), "{summaries:?}");
    assert!(summaries.iter().all(|s| s.state_digest == summaries[0].state_digest), "{summaries:?}");
}

fn archived_member(module: &[u8], id: u8) -> Box<dyn MemberEngine> {
    let member = WasmMember::from_module_bytes(module, &config(id))
        .unwrap_or_else(|error| panic!("archived member {id}: {error:?}"));
    Box::new(member)
}

#[test]
fn three_archived_1_3_0_members_commit_a_request() {
    let module = archived_module("1.3.0");
    commit_a_request((0..3).map(|id| archived_member(&module, id)).collect());
}

#[test]
fn archived_1_3_0_members_and_native_ones_commit_a_request_together() {
    let module = archived_module("1.3.0");
    let native =
        |id: u8| -> Box<dyn MemberEngine> { Box::new(NativeMember::create(&config(id)).expect("a native member")) };
    // The primary in wasm with a native backup, and the other way round.
    commit_a_request(vec![archived_member(&module, 0), native(1), archived_member(&module, 2)]);
    commit_a_request(vec![native(0), archived_member(&module, 1), native(2)]);
}

fn request(request: u64, command: KvCommand) -> Request {
    Request { client: 1, session: 0, request, operation: command.encode() }
}

/// The real 1.3.0 code as both backups of a 1.4.0 primary, mid-upgrade: the cluster
/// stays at 1.3.0 (the backups advertise 1.3.0), the primary refuses 1.4.0's commands
/// before logging them, sends reads through the log and sends no 1.4.0 message (a
/// 1.3.0 member would count one as a bad frame). The backups apply all it logs, to the
/// primary's digest.
#[test]
fn a_1_4_0_primary_with_real_1_3_0_backups_logs_nothing_they_cannot_run() {
    let module = archived_module("1.3.0");
    // A 1.4.0 binary (this build) joining the 1.3.0 cluster, as a rolling upgrade does.
    let primary = NativeMember::create(&config_of_binary(0, Release::new(1, 4, 0))).expect("a 1.4.0 member");
    let mut members =
        [Box::new(primary) as Box<dyn MemberEngine>, archived_member(&module, 1), archived_member(&module, 2)];
    let mut step = |member: usize, input: &[u8]| {
        members[member].input_bytes(input).unwrap_or_else(|error| panic!("member {member}: {error:?}"))
    };
    let mut cluster = Loopback::new(CLUSTER, 3);
    cluster.submit(0, put(1, "a", "1"));
    assert!(cluster.run(2_000, &mut step, |c| c.replies.len() == 1), "no reply by tick {}", cluster.now());
    cluster.submit(0, request(2, KvCommand::Append { key: "a".into(), value: "x".into() }));
    cluster.submit(0, request(3, KvCommand::Scan { cursor: 0, pattern: None, count: 10 }));
    assert!(cluster.run(3_000, &mut step, |c| c.replies.len() == 3));
    for refused in &cluster.replies[1..3] {
        let result = KvResult::decode(&refused.result).expect("a result");
        assert_eq!(result.error_code(), Some("feature-off"), "{result:?}");
    }
    cluster.submit(0, request(4, KvCommand::Get { key: "a".into() }));
    assert!(cluster.run(4_000, &mut step, |c| c.replies.len() == 4));
    assert_eq!(KvResult::decode(&cluster.replies[3].result), Some(KvResult::Value(Some("1".into()))));
    // Heartbeats for a while: the cluster never moves past what every member runs.
    let later = cluster.now() + 2_000;
    cluster.run(later, &mut step, |_| false);
    let applied = |c: &Loopback| c.summaries.iter().all(|s| s.as_ref().is_some_and(|s| s.commit == 2));
    assert!(cluster.run(later + 2_000, &mut step, applied), "{:?}", cluster.summaries);
    let summaries: Vec<_> = cluster.summaries.iter().map(|s| s.as_ref().unwrap()).collect();
    assert!(summaries.iter().all(|s| s.release == RELEASE_1_3_0 && s.op == 2), "{summaries:?}");
    assert!(summaries.iter().all(|s| s.state_digest == summaries[0].state_digest), "{summaries:?}");
    let outcomes: Vec<_> = cluster.outcomes.iter().filter(|(_, o)| !matches!(o, Outcome::Request(_))).collect();
    assert!(outcomes.is_empty(), "a member refused a frame or a message: {outcomes:?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// A copy of an archived member (the simulator's `Clone`, for the browser's time
/// travel) is the member as it was: fed the same inputs, both answer the same bytes.
#[test]
fn a_duplicated_archived_member_answers_as_the_original() {
    use viewstamp_wasm::member::envelope::{to_bytes, Event, Input};
    let module = archived_module("1.3.0");
    let mut original = WasmMember::from_module_bytes(&module, &config(0)).expect("a 1.3.0 member");
    let input = |now: u64, event: Event| to_bytes(&Input { now, event });
    original.input_bytes(&input(0, Event::Poll)).expect("a poll");
    for now in [100, 200] {
        original.input_bytes(&input(now, Event::Timeout)).expect("a timeout");
    }
    let mut copy = original.duplicate().expect("a copy");
    for now in [300, 400, 500, 900] {
        let (a, b) = (original.input_bytes(&input(now, Event::Timeout)), copy.input_bytes(&input(now, Event::Timeout)));
        assert_eq!(a.expect("the original answers"), b.expect("the copy answers"), "at tick {now}");
    }
    // The copy is independent: what it is fed does not reach the original.
    copy.input_bytes(&input(1_000, Event::Persisted { id: 1 })).expect("a completion");
    let mut reference = original.duplicate().expect("another copy");
    let (a, b) = (original.input_bytes(&input(1_100, Event::Poll)), reference.input_bytes(&input(1_100, Event::Poll)));
    assert_eq!(a.expect("the original answers"), b.expect("the reference answers"));
}

/// `cluster ... binary=1.3.0` in the simulator: every member runs the archived module,
/// the cluster commits, and a clone of the simulator runs on as the original does.
#[test]
fn a_simulated_cluster_of_archived_members_commits_and_clones() {
    use viewstamp_core::sim::{SimConfig, Simulator};
    let mut config = SimConfig::new(3, 1, 5);
    (config.binary, config.release) = (RELEASE_1_3_0, RELEASE_1_3_0);
    let mut sim = Simulator::with_archive(config, Some(super::shared_archive()));
    assert!((0..4).all(|member| sim.member(member).archived_release() == Some(RELEASE_1_3_0)));
    assert!(sim.replica(0).is_none(), "an archived member has no native replica");
    sim.submit(1, KvCommand::Put { key: b"a".to_vec(), value: b"1".to_vec() }).expect("a client");
    sim.run_until(1_000);
    assert!((0..4).all(|member| sim.member_state(member).is_some_and(|state| state.commit >= 1)), "no commit");
    let mut copy = sim.clone();
    sim.run_until(3_000);
    copy.run_until(3_000);
    assert_eq!(sim.digest(), copy.digest(), "the clone ran otherwise");
    assert_eq!(sim.violations(), 0, "{:?}", sim.checker.violations);
}
