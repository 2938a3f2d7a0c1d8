use alloc::string::String;
use alloc::vec::Vec;

use viewstamp_core::message::{Message, Request};
use viewstamp_core::replica::{format_durable_with_checkpoint, Options, RequestOutcome};
use viewstamp_core::state_machine::{KvCommand, KvResult, KvStore};
use viewstamp_core::wire;

use super::envelope::*;
use super::loopback::Loopback;
use super::options::MemberOptions;
use super::Members;

const CLUSTER: u64 = 7;

fn options() -> MemberOptions {
    let mut options = Options::new(3, 0);
    options.cluster = CLUSTER;
    options.preregistered_clients = 1;
    options.report_applied = true;
    MemberOptions::from(&options)
}

fn config(id: u8) -> Config {
    Config { id, now: 0, options: options(), start: Start::Formatted }
}

fn create(members: &mut Members, config: &Config) -> u32 {
    match from_exact_bytes::<CreateReply>(&members.create(&encode_config(MEMBER_ABI_VERSION, config))) {
        Ok(CreateReply::Created { handle }) => handle,
        other => panic!("not created: {other:?}"),
    }
}

fn put(request: u64, key: &str, value: &str) -> Request {
    let operation = KvCommand::Put { key: key.into(), value: value.into() }.encode();
    Request { client: 1, session: 0, request, operation }
}

fn input(members: &mut Members, handle: u32, now: u64, event: Event) -> InputReply {
    from_exact_bytes(&members.input(handle, &to_bytes(&Input { now, event }))).expect("an InputReply")
}

fn output(reply: InputReply) -> Output {
    match reply {
        InputReply::Output(output) => output,
        other => panic!("no output: {other:?}"),
    }
}

/// The layouts are the ABI: these bytes are written down in docs/member-abi.md.
#[test]
fn the_envelope_layouts_are_pinned() {
    assert_eq!(to_bytes(&Input { now: 5, event: Event::Timeout }), [5, 3]);
    assert_eq!(to_bytes(&Input { now: 300, event: Event::Persisted { id: 2 } }), [0xac, 0x02, 4, 2]);
    assert_eq!(to_bytes(&Input { now: 1, event: Event::Message(alloc::vec![9, 8]) }), [1, 1, 2, 9, 8]);
    assert_eq!(to_bytes(&Input { now: 0, event: Event::Promote { standby: 3, replace: Some(1) } }), [0, 7, 3, 1, 1]);
    assert_eq!(to_bytes(&CreateReply::Created { handle: 1 }), [0, 1]);
    let refused = CreateReply::Refused(CreateError::AbiVersion { requested: 2, supported: alloc::vec![1] });
    assert_eq!(to_bytes(&refused), [1, 0, 2, 1, 1]);
    assert_eq!(to_bytes(&InputReply::NoMember { handle: 9 }), [1, 9]);
    // The version comes first, on its own, so that any version can read it.
    assert_eq!(encode_config(1, &config(2))[..2], [1, 2]);
    assert_eq!(prefixed(&[7, 7]), [6, 0, 0, 0, 7, 7]);
    assert_eq!(announced_len([6, 0, 0, 0]), 6);
}

#[test]
fn envelopes_round_trip() {
    let durable = format_durable_with_checkpoint(&options().to_core().unwrap(), &KvStore::new());
    let config = Config { id: 1, now: 3, options: options(), start: Start::Open(durable) };
    assert_eq!(decode_config(&encode_config(1, &config)), Ok(config));
    let events = [
        Event::Poll,
        Event::Request(alloc::vec![1, 2, 3]),
        Event::Verified { op: 4, checksum: u64::MAX, intact: false },
        Event::Upgrade(viewstamp_core::upgrade::UpgradeCommand::Auto(true)),
    ];
    for event in events {
        let input = Input { now: 11, event };
        assert_eq!(from_exact_bytes::<Input>(&to_bytes(&input)), Ok(input));
    }
    // A byte more is another layout, not this one.
    let mut longer = to_bytes(&Input { now: 1, event: Event::Poll });
    longer.push(0);
    assert!(from_exact_bytes::<Input>(&longer).is_err());
}

#[test]
fn an_unknown_abi_version_is_refused_clearly() {
    let mut members = Members::new();
    for requested in [0, 2, u32::MAX] {
        // A version-2 config might have any layout: only its version is read.
        let mut bytes = to_bytes(&requested);
        bytes.extend_from_slice(&[0xff; 40]);
        let reply = from_exact_bytes::<CreateReply>(&members.create(&bytes)).expect("a CreateReply");
        assert_eq!(reply, CreateReply::Refused(CreateError::AbiVersion { requested, supported: alloc::vec![1] }));
    }
    let reply = from_exact_bytes::<CreateReply>(&members.create(&[])).expect("a CreateReply");
    assert!(matches!(reply, CreateReply::Refused(CreateError::Malformed(_))), "{reply:?}");
    let reply = from_exact_bytes::<CreateReply>(&members.create(&[1, 0xff])).expect("a CreateReply");
    assert!(matches!(reply, CreateReply::Refused(CreateError::Malformed(_))), "{reply:?}");
}

#[test]
fn configs_the_core_would_panic_on_are_refused() {
    let mut members = Members::new();
    let mut bad_timeouts = config(0);
    bad_timeouts.options.quorum_timeout_ticks = bad_timeouts.options.primary_timeout_ticks;
    let mut too_many = config(0);
    too_many.options.standby_count = 250;
    for config in [config(3), bad_timeouts, too_many] {
        let reply = from_exact_bytes::<CreateReply>(&members.create(&encode_config(1, &config))).unwrap();
        assert!(matches!(reply, CreateReply::Refused(CreateError::Invalid(_))), "{reply:?}");
    }
}

#[test]
fn handles_and_malformed_inputs() {
    let mut members = Members::new();
    let first = create(&mut members, &config(0));
    let second = create(&mut members, &config(1));
    assert_eq!((first, second), (1, 2));
    assert_eq!(input(&mut members, 0, 0, Event::Poll), InputReply::NoMember { handle: 0 });
    assert_eq!(input(&mut members, 3, 0, Event::Poll), InputReply::NoMember { handle: 3 });
    let reply = from_exact_bytes::<InputReply>(&members.input(first, &[0, 99])).unwrap();
    assert!(matches!(reply, InputReply::Malformed(_)), "{reply:?}");
    assert!(members.remove(first));
    assert!(!members.remove(first));
    assert_eq!(input(&mut members, first, 0, Event::Poll), InputReply::NoMember { handle: first });
    // The second member is untouched, and a new one never gets a dropped handle.
    assert!(matches!(input(&mut members, second, 0, Event::Poll), InputReply::Output(_)));
    assert_eq!(create(&mut members, &config(2)), 3);
}

#[test]
fn frames_are_checked_as_the_node_checks_them() {
    let mut members = Members::new();
    let handle = create(&mut members, &config(1));
    let frame = wire::encode(CLUSTER, &Message::Request(put(1, "a", "1")));
    let mut flipped = frame.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let other_cluster = wire::encode(CLUSTER + 1, &Message::Request(put(1, "a", "1")));
    let mut two = frame.clone();
    two.extend_from_slice(&frame);
    let cases: [(Event, Outcome); 5] = [
        (Event::Message(flipped), Outcome::BadFrame(String::from("bad_checksum"))),
        (Event::Message(other_cluster), Outcome::BadFrame(String::from("wrong_cluster"))),
        (Event::Message(two), Outcome::BadFrame(String::from("trailing_bytes"))),
        (
            Event::Request(frame),
            Outcome::Request(RequestOutcome::Dropped(viewstamp_core::replica::RequestDrop::NotPrimary)),
        ),
        (
            Event::Request(wire::encode(
                CLUSTER,
                &Message::Recovery(viewstamp_core::message::Recovery { from: 0, nonce: 1 }),
            )),
            Outcome::NotARequest,
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(output(input(&mut members, handle, 1, event)).outcome, expected);
    }
    let refused = output(input(&mut members, handle, 1, Event::Promote { standby: 2, replace: None }));
    assert_eq!(refused.outcome, Outcome::Refused(String::from("no-primary")));
}

/// Three members wired in a loop through the byte API: a request commits everywhere.
#[test]
fn a_three_member_cluster_commits_a_request_through_bytes() {
    let mut members = Members::new();
    let handles: Vec<u32> = (0..3).map(|id| create(&mut members, &config(id))).collect();
    let mut step = |member: usize, bytes: &[u8]| members.input(handles[member], bytes);
    let mut cluster = Loopback::new(CLUSTER, 3);
    assert!(cluster.run(200, &mut step, |c| c.summaries.iter().all(Option::is_some)));
    assert!(!cluster.run(200, &mut step, |_| false), "the cluster settles");
    let primary = cluster.summaries[0].as_ref().unwrap();
    assert!(primary.serving_primary && primary.status == "normal", "{primary:?}");

    cluster.submit(0, put(1, "a", "1"));
    assert!(cluster.run(1_000, &mut step, |c| !c.replies.is_empty()), "no reply by tick {}", cluster.now());
    assert_eq!(cluster.outcomes, [(0, Outcome::Request(RequestOutcome::Queued))]);
    let reply = &cluster.replies[0];
    assert_eq!((reply.client, reply.request, reply.op), (1, 1, 1));
    assert_eq!(KvResult::decode(&reply.result), Some(KvResult::Ok));

    // Backups learn the commit from the next heartbeat and apply it too.
    let all_applied = |c: &Loopback| c.summaries.iter().all(|s| s.as_ref().is_some_and(|s| s.commit == 1));
    assert!(cluster.run(2_000, &mut step, all_applied), "{:?}", cluster.summaries);
    let digests: Vec<u64> = cluster.summaries.iter().map(|s| s.as_ref().unwrap().state_digest).collect();
    assert!(digests.iter().all(|&digest| digest == digests[0]), "{digests:?}");
}

#[test]
fn a_member_reports_what_it_applied_and_opens_from_durable_state() {
    let mut members = Members::new();
    let handles: Vec<u32> = (0..3).map(|id| create(&mut members, &config(id))).collect();
    let mut applied = Vec::new();
    let mut step = |member: usize, bytes: &[u8]| {
        let reply = members.input(handles[member], bytes);
        if let Ok(InputReply::Output(output)) = from_exact_bytes::<InputReply>(&reply) {
            applied.extend(output.applied.into_iter().map(|note| (member, note.op)));
        }
        reply
    };
    let mut cluster = Loopback::new(CLUSTER, 3);
    cluster.submit(0, put(1, "a", "1"));
    assert!(cluster.run(2_000, &mut step, |c| !c.replies.is_empty()));
    assert!(applied.contains(&(0, 1)), "{applied:?}");

    // A restarted member opens from a checkpointed format and asks for a timeout.
    let core = options().to_core().unwrap();
    let durable = format_durable_with_checkpoint(&core, &KvStore::new());
    let handle = create(&mut members, &Config { id: 2, now: 10, options: options(), start: Start::Open(durable) });
    let output = output(input(&mut members, handle, 10, Event::Poll));
    assert!(output.timeout.is_some() && output.summary.status == "normal", "{output:?}");
}
