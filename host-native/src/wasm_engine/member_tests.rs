//! The member ABI in both engines: the same inputs must give byte-identical replies.

use viewstamp_core::message::{Message, Request};
use viewstamp_core::replica::{Options, RequestOutcome};
use viewstamp_core::state_machine::KvCommand;
use viewstamp_core::wire;
use viewstamp_wasm::member::envelope::{encode_config, Config, Event, Outcome, Start};
use viewstamp_wasm::member::loopback::Loopback;
use viewstamp_wasm::member::options::MemberOptions;

use super::*;

const CLUSTER: u64 = 11;

fn config(id: u8) -> Config {
    let mut options = Options::new(3, 0);
    options.cluster = CLUSTER;
    options.preregistered_clients = 1;
    options.report_applied = true;
    options.seed = 5;
    Config { id, now: 0, options: MemberOptions::from(&options), start: Start::Formatted }
}

/// The wasm member, or `None` when this binary embeds no module: then (and only then,
/// as build.rs's cfg says) there is nothing to compare, and the test says so.
fn wasm_member(config: &[u8]) -> Option<Result<WasmMember, MemberError>> {
    match WasmMember::create(config) {
        Err(MemberError::Wasm(WasmError::NotBuilt(reason))) if !cfg!(viewstamp_wasm_built) => {
            eprintln!("skipped: the wasm module is not embedded: {reason}");
            None
        }
        created => Some(created),
    }
}

fn put(request: u64, key: &str, value: &str) -> Request {
    let operation = KvCommand::Put { key: key.into(), value: value.into() }.encode();
    Request { client: 1, session: 0, request, operation }
}

#[test]
fn both_engines_answer_a_cluster_run_byte_for_byte() {
    let mut pairs = Vec::new();
    for id in 0..3 {
        let bytes = encode_config(MEMBER_ABI_VERSION, &config(id));
        let Some(wasm) = wasm_member(&bytes) else { return };
        let wasm = wasm.unwrap_or_else(|error| panic!("member {id} in wasm: {error:?}"));
        pairs.push((NativeMember::create(&bytes).expect("a native member"), wasm));
    }
    let mut steps = 0;
    let mut step = |member: usize, input: &[u8]| {
        let (native, wasm) = &mut pairs[member];
        let native = native.input_bytes(input).expect("native replies");
        let wasm = wasm.input_bytes(input).unwrap_or_else(|error| panic!("member {member} in wasm: {error:?}"));
        assert_eq!(native, wasm, "member {member} answered input {steps} differently");
        steps += 1;
        native
    };
    let mut cluster = Loopback::new(CLUSTER, 3);
    cluster.submit(0, put(1, "a", "1"));
    cluster.submit(1, put(2, "b", "2"));
    // A frame damaged on the way, and one that is no request: refused alike.
    let mut damaged = wire::encode(CLUSTER, &Message::Request(put(3, "c", "3")));
    damaged[40] ^= 0x10;
    cluster.push(2, Event::Message(damaged));
    cluster.push(2, Event::Request(wire::encode(CLUSTER + 1, &Message::Request(put(3, "c", "3")))));
    cluster.push(0, Event::Promote { standby: 2, replace: None });
    assert!(cluster.run(2_000, &mut step, |c| !c.replies.is_empty()), "no reply by tick {}", cluster.now());
    cluster.submit(0, put(4, "d", "4"));
    assert!(cluster.run(4_000, &mut step, |c| c.replies.len() == 2));
    // Then heartbeats and timers only, for a while.
    assert!(!cluster.run(4_000, &mut step, |_| false));
    assert_eq!(cluster.outcomes[0], (0, Outcome::Request(RequestOutcome::Queued)));
    assert!(cluster.outcomes.contains(&(2, Outcome::BadFrame(String::from("bad_checksum")))), "{:?}", cluster.outcomes);
    assert!(cluster.outcomes.contains(&(2, Outcome::BadFrame(String::from("wrong_cluster")))));
    assert!(cluster.outcomes.contains(&(0, Outcome::Refused(String::from("not-standby")))), "{:?}", cluster.outcomes);
    assert!(cluster.summaries.iter().all(|s| s.as_ref().is_some_and(|s| s.commit == 2)), "{:?}", cluster.summaries);
    assert!(cluster.inputs > 100, "only {} inputs compared", cluster.inputs);
}

#[test]
fn an_unknown_abi_version_is_refused_not_trapped() {
    let bytes = encode_config(2, &config(0));
    let expected = CreateError::AbiVersion { requested: 2, supported: vec![1] };
    match NativeMember::create(&bytes) {
        Err(MemberError::Refused(error)) => assert_eq!(error, expected),
        other => panic!("a native member of ABI 2: {:?}", other.map(|_| ())),
    }
    let Some(wasm) = wasm_member(&bytes) else { return };
    match wasm {
        Err(MemberError::Refused(error)) => assert_eq!(error, expected),
        other => panic!("a wasm member of ABI 2: {:?}", other.map(|_| ())),
    }
    // The module is still fine for a version it speaks.
    let Some(good) = wasm_member(&encode_config(MEMBER_ABI_VERSION, &config(1))) else { return };
    let mut member = good.expect("a wasm member of ABI 1");
    let output = member.input(&Input { now: 0, event: Event::Poll }).expect("an output");
    assert_eq!(output.summary.status, "normal");
}

#[test]
fn inputs_that_are_not_taken_are_errors_in_both_engines() {
    let bytes = encode_config(MEMBER_ABI_VERSION, &config(0));
    let mut native = NativeMember::create(&bytes).expect("a native member");
    let Some(wasm) = wasm_member(&bytes) else { return };
    let mut wasm = wasm.expect("a wasm member");
    let garbage = [0xff, 0xff, 0xff];
    assert_eq!(native.input_bytes(&garbage).unwrap(), wasm.input_bytes(&garbage).unwrap());
    assert!(matches!(
        wasm.input_bytes(&garbage).map(|reply| from_exact_bytes::<InputReply>(&reply)),
        Ok(Ok(InputReply::Malformed(_)))
    ));
}
