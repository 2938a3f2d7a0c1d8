//! The register checker on histories known to be good and known to be bad, on long
//! generated ones, and against the first, exhaustive version of itself on small random
//! ones.

use super::*;
use std::collections::HashMap;

fn write(client: u32, key: &str, value: &str, invoked_at: u64, completed_at: u64) -> Operation {
    Operation {
        client,
        key: key.into(),
        call: Call::Write(value.into()),
        outcome: Outcome::Written,
        invoked_at,
        completed_at: Some(completed_at),
    }
}

fn unknown_write(client: u32, key: &str, value: &str, invoked_at: u64) -> Operation {
    Operation {
        client,
        key: key.into(),
        call: Call::Write(value.into()),
        outcome: Outcome::Unknown,
        invoked_at,
        completed_at: None,
    }
}

fn read(client: u32, key: &str, seen: Option<&str>, invoked_at: u64, completed_at: u64) -> Operation {
    Operation {
        client,
        key: key.into(),
        call: Call::Read,
        outcome: Outcome::Read(seen.map(String::from)),
        invoked_at,
        completed_at: Some(completed_at),
    }
}

#[test]
fn sequential_and_concurrent_histories_that_hold() {
    let sequential = [read(1, "k", None, 0, 1), write(1, "k", "a", 2, 3), read(2, "k", Some("a"), 4, 5)];
    assert_eq!(check(&sequential), vec![]);
    // Two overlapping writes: a read after both may see either, and later reads agree.
    let concurrent = [
        write(1, "k", "a", 0, 10),
        write(2, "k", "b", 1, 9),
        read(3, "k", Some("a"), 11, 12),
        read(4, "k", Some("a"), 13, 14),
    ];
    assert_eq!(check(&concurrent), vec![]);
    // A read overlapping a write may see the old value or the new one.
    let overlapping = [write(1, "k", "a", 0, 1), write(1, "k", "b", 2, 10), read(2, "k", Some("a"), 3, 4)];
    assert_eq!(check(&overlapping), vec![]);
}

#[test]
fn a_stale_read_is_caught() {
    let history = [write(1, "k", "a", 0, 1), write(1, "k", "b", 2, 3), read(2, "k", Some("a"), 4, 5)];
    let violations = check(&history);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].key, "k");
    assert!(violations[0].placed_at_most < 3, "{}", violations[0]);
}

#[test]
fn a_lost_write_is_caught() {
    // Acknowledged, then a later read finds the register empty.
    let history = [write(1, "k", "a", 0, 1), read(2, "k", None, 2, 3)];
    assert_eq!(check(&history).len(), 1);
}

#[test]
fn a_read_of_a_value_never_written_is_caught() {
    let history = [write(1, "k", "a", 0, 1), read(2, "k", Some("z"), 2, 3)];
    assert_eq!(check(&history).len(), 1);
}

#[test]
fn a_real_time_order_violation_is_caught() {
    // The write of a is still pending when client 2 sees it; client 3, reading after
    // client 2's read finished, must see it too.
    let history = [write(1, "k", "a", 0, 10), read(2, "k", Some("a"), 1, 2), read(3, "k", None, 3, 4)];
    assert_eq!(check(&history).len(), 1);
    // Had the reads overlapped, either order would do.
    let overlapping = [write(1, "k", "a", 0, 10), read(2, "k", Some("a"), 1, 4), read(3, "k", None, 3, 5)];
    assert_eq!(check(&overlapping), vec![]);
}

#[test]
fn unknown_writes_may_have_happened_or_not_but_not_both() {
    let seen = [unknown_write(1, "k", "a", 0), read(2, "k", Some("a"), 5, 6)];
    assert_eq!(check(&seen), vec![], "a timed-out write may have been applied");
    let unseen = [unknown_write(1, "k", "a", 0), read(2, "k", None, 5, 6)];
    assert_eq!(check(&unseen), vec![], "or not");
    let before_invoked = [read(2, "k", Some("a"), 0, 1), unknown_write(1, "k", "a", 5)];
    assert_eq!(check(&before_invoked).len(), 1, "but never before it was sent");
    let flip_flop = [
        write(1, "k", "x", 0, 1),
        unknown_write(2, "k", "a", 2),
        read(3, "k", Some("a"), 5, 6),
        read(3, "k", Some("x"), 7, 8),
    ];
    assert_eq!(check(&flip_flop).len(), 1, "seen, then unseen, with no other write");
}

#[test]
fn failed_operations_never_happened_and_keys_are_apart() {
    let failed = Operation {
        client: 1,
        key: "k".into(),
        call: Call::Write("a".into()),
        outcome: Outcome::Failed,
        invoked_at: 0,
        completed_at: Some(1),
    };
    assert_eq!(check(&[failed.clone(), read(2, "k", None, 2, 3)]), vec![]);
    assert_eq!(check(&[failed, read(2, "k", Some("a"), 2, 3)]).len(), 1, "a failed write cannot be seen");
    let two_keys = [write(1, "k", "a", 0, 1), read(2, "j", None, 2, 3), read(2, "k", Some("a"), 4, 5)];
    assert_eq!(check(&two_keys), vec![]);
}

#[test]
fn long_histories_of_many_clients_check_quickly_enough_to_finish() {
    // 8 clients, 150 operations each, on one key, every one overlapping its neighbours:
    // the memoised search must finish (a correctness test, not a timed one).
    let mut history = Vec::new();
    for round in 0..150u64 {
        for client in 0..8u32 {
            let at = round * 10 + client as u64;
            if client == 0 {
                history.push(write(client, "k", &format!("v{round}"), at, at + 5));
            } else {
                let seen = format!("v{round}");
                history.push(read(client, "k", Some(&seen), at + 6, at + 9));
            }
        }
    }
    assert_eq!(check(&history), vec![]);
    history.push(read(9, "k", Some("v3"), 10_000, 10_001));
    assert_eq!(check(&history).len(), 1, "a read of a long-gone value at the end");
}

fn failed_write(client: u32, key: &str, value: &str, invoked_at: u64, completed_at: u64) -> Operation {
    Operation { outcome: Outcome::Failed, ..write(client, key, value, invoked_at, completed_at) }
}

fn unknown_read(client: u32, key: &str, invoked_at: u64) -> Operation {
    Operation { client, key: key.into(), call: Call::Read, outcome: Outcome::Unknown, invoked_at, completed_at: None }
}

fn steps(history: &[Operation]) -> Vec<Step> {
    prepare(&history.iter().collect::<Vec<_>>())
}

#[test]
fn an_unknown_write_no_read_saw_is_left_out() {
    let history = [write(1, "k", "a", 0, 1), unknown_write(2, "k", "u", 2), read(3, "k", Some("a"), 3, 4)];
    let prepared = steps(&history);
    assert_eq!(prepared.len(), 2);
    assert!(prepared.iter().all(|step| step.required()));
    assert_eq!(check(&history), vec![]);
    // Left out of a violation's count too; it cannot explain a stale read either.
    let stale = [
        write(1, "k", "a", 0, 1),
        unknown_write(2, "k", "u", 2),
        write(1, "k", "b", 3, 4),
        read(3, "k", Some("a"), 5, 6),
    ];
    let violations = check(&stale);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].operations, 3);
    assert_eq!(violations[0].kind, ViolationKind::NotLinearizable);
}

#[test]
fn a_read_of_an_unknown_write_forces_it_in_place() {
    let history = [
        write(1, "k", "x", 0, 1),
        unknown_write(2, "k", "a", 2),
        read(3, "k", Some("a"), 10, 11),
        read(4, "k", Some("a"), 20, 21),
    ];
    let prepared = steps(&history);
    assert_eq!(
        prepared[1],
        Step { effect: Effect::Write { value: 2, optional: false }, invoked_at: 2, completed_at: 11 },
        "required, and done by the first read of its value"
    );
    assert_eq!(check(&history), vec![]);
    // It took effect before the first read of it: it cannot also come after a later write.
    let after_another = [
        unknown_write(2, "k", "a", 0),
        read(3, "k", Some("a"), 5, 6),
        write(1, "k", "b", 7, 8),
        read(4, "k", Some("a"), 9, 10),
    ];
    assert_eq!(check(&after_another).len(), 1);
    // It may take effect long after it was sent, after other reads saw the old value.
    let late = [
        write(1, "k", "x", 0, 1),
        unknown_write(2, "k", "a", 2),
        read(3, "k", Some("x"), 50, 51),
        read(4, "k", Some("a"), 60, 61),
    ];
    assert_eq!(check(&late), vec![]);
    // Seen, then gone with no other write: the flip-flop, once more past a commit point.
    let gone = [
        write(1, "k", "x", 0, 1),
        unknown_write(2, "k", "a", 2),
        read(3, "k", Some("a"), 5, 6),
        read(3, "k", Some("a"), 7, 8),
        read(3, "k", Some("x"), 9, 10),
    ];
    assert_eq!(check(&gone).len(), 1);
}

#[test]
fn an_unknown_write_of_a_value_written_twice_stays_optional() {
    // Not in the model (values are unique) but handled: either write may explain a read.
    let history = [
        write(1, "k", "a", 0, 1),
        write(1, "k", "b", 2, 3),
        unknown_write(2, "k", "a", 4),
        read(3, "k", Some("a"), 10, 11),
    ];
    let prepared = steps(&history);
    assert_eq!(
        prepared[2],
        Step { effect: Effect::Write { value: 1, optional: true }, invoked_at: 4, completed_at: 11 }
    );
    assert_eq!(check(&history), vec![]);
    let never = [write(1, "k", "a", 0, 1), unknown_write(2, "k", "a", 2), read(3, "k", None, 5, 6)];
    assert_eq!(check(&never).len(), 1);
    let skipped = [
        write(1, "k", "b", 0, 1),
        unknown_write(2, "k", "a", 2),
        read(3, "k", Some("b"), 5, 6),
        write(1, "k", "a", 7, 8),
        read(3, "k", Some("a"), 9, 10),
    ];
    assert_eq!(check(&skipped), vec![]);
}

#[test]
fn commit_points_are_quiescent_with_one_possible_value() {
    let history = [
        read(1, "k", None, 0, 1),
        write(1, "k", "a", 2, 3),
        // Nothing in flight before this one, but a or b may be last: no commit point after.
        write(2, "k", "b", 4, 6),
        write(3, "k", "c", 5, 7),
        read(1, "k", Some("c"), 8, 9),
        // Both writes done before this read began: c.
        write(1, "k", "d", 10, 11),
        // Only d is left: d.
        read(2, "k", Some("d"), 12, 13),
    ];
    let prepared = steps(&history);
    assert_eq!(commit_points(&prepared), vec![(1, EMPTY), (2, 1), (5, 3), (6, 4)]);
    assert_eq!(check(&history), vec![]);
}

#[test]
fn failed_and_unknown_reads_are_left_out_and_a_confused_answer_is_a_violation() {
    let history = [
        failed_write(1, "k", "a", 0, 1),
        unknown_read(2, "k", 2),
        read(3, "k", None, 3, 4),
        unknown_write(1, "k", "b", 5),
    ];
    assert!(steps(&history).len() == 1);
    assert_eq!(check(&history), vec![]);
    let confused =
        [Operation { outcome: Outcome::Read(Some("a".into())), ..write(1, "k", "a", 0, 1) }, read(2, "k", None, 2, 3)];
    assert_eq!(check(&confused).len(), 1);
}

#[test]
fn an_exhausted_budget_is_undecided_not_a_violation_nor_a_pass() {
    let good = [
        write(1, "k", "a", 0, 1),
        read(2, "k", Some("a"), 2, 3),
        write(1, "k", "b", 4, 5),
        read(2, "k", Some("b"), 6, 7),
    ];
    let bad = [write(1, "k", "a", 0, 1), write(1, "k", "b", 2, 3), read(2, "k", Some("a"), 4, 5)];
    assert_eq!(check_with_budget(&good, 100), vec![]);
    assert_eq!(check_with_budget(&bad, 100)[0].kind, ViolationKind::NotLinearizable);
    for history in [&good[..], &bad[..]] {
        let violations = check_with_budget(history, 1);
        assert_eq!(violations.len(), 1);
        let violation = &violations[0];
        assert!(violation.is_undecided(), "{violation}");
        assert_eq!(violation.kind, ViolationKind::Undecided { explored: 2 });
        assert!(violation.to_string().contains("undecided"), "{violation}");
    }
    // Only the key that needs more is undecided.
    let mut two = good.to_vec();
    two.push(read(3, "j", None, 0, 1));
    let violations = check_with_budget(&two, 1);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].key, "k");
}

/// A seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Give each read the value of the register, a real sequential one per key, at the
/// read's linearization point (`None`: the operation never took effect).
fn simulate(planned: &mut [(Operation, Option<u64>)]) {
    let mut order: Vec<usize> = (0..planned.len()).filter(|&index| planned[index].1.is_some()).collect();
    order.sort_by_key(|&index| (planned[index].1, index));
    let mut registers: HashMap<String, String> = HashMap::new();
    for index in order {
        let operation = &mut planned[index].0;
        match &operation.call {
            Call::Write(value) => {
                registers.insert(operation.key.clone(), value.clone());
            }
            Call::Read => operation.outcome = Outcome::Read(registers.get(&operation.key).cloned()),
        }
    }
}

/// `clients` clients each issuing `per_client` operations back to back on `keys` keys,
/// simulated against real registers: 40% writes of unique values, 2.5% of those timing
/// out (about 1% of all operations; half of those applied, some long after the client
/// gave up at 100), a few failed writes and unknown reads, latencies of 1 to 20 with the
/// linearization point anywhere inside.
fn generated_history(seed: u64, clients: u32, keys: u64, per_client: u32) -> Vec<Operation> {
    generated_history_slow(seed, clients, keys, per_client, 0, 0)
}

/// [`generated_history`], with `slow_per_mille` of the operations taking up to `slow`.
fn generated_history_slow(
    seed: u64,
    clients: u32,
    keys: u64,
    per_client: u32,
    slow_per_mille: u64,
    slow: u64,
) -> Vec<Operation> {
    let mut rng = Rng(seed);
    let mut planned: Vec<(Operation, Option<u64>)> = Vec::new();
    for client in 0..clients {
        let mut now = rng.below(20);
        for sequence in 0..per_client {
            let invoked_at = now + rng.below(4);
            let key = format!("k{}", rng.below(keys));
            let latency = 1 + if rng.below(1000) < slow_per_mille { rng.below(slow) } else { rng.below(20) };
            let at = invoked_at + rng.below(latency + 1);
            let completed_at = invoked_at + latency;
            let (call, outcome, completed_at, at) = if rng.percent(40) {
                let call = Call::Write(format!("c{client}-{sequence}"));
                if rng.below(1000) < 25 {
                    now = invoked_at + 100;
                    let at = rng.percent(50).then(|| invoked_at + rng.below(300));
                    (call, Outcome::Unknown, None, at)
                } else if rng.below(1000) < 5 {
                    (call, Outcome::Failed, Some(completed_at), None)
                } else {
                    (call, Outcome::Written, Some(completed_at), Some(at))
                }
            } else if rng.below(1000) < 5 {
                now = invoked_at + 100;
                (Call::Read, Outcome::Unknown, None, None)
            } else {
                (Call::Read, Outcome::Read(None), Some(completed_at), Some(at))
            };
            if let Some(completed_at) = completed_at {
                now = completed_at;
            }
            planned.push((Operation { client, key, call, outcome, invoked_at, completed_at }, at));
        }
    }
    simulate(&mut planned);
    planned.into_iter().map(|(operation, _)| operation).collect()
}

/// `history` with one read of `key`, halfway, changed to return the value of a write
/// that completed before another write completed before the read began.
fn with_a_stale_read(history: &[Operation], key: &str) -> Vec<Operation> {
    let mut bad = history.to_vec();
    let on_key = |operation: &&Operation| operation.key == key;
    let mut reads: Vec<usize> = (0..history.len())
        .filter(|&index| on_key(&&history[index]) && matches!(history[index].outcome, Outcome::Read(_)))
        .collect();
    reads.sort_by_key(|&index| history[index].invoked_at);
    let target = reads[reads.len() / 2];
    let acknowledged: Vec<&Operation> =
        history.iter().filter(on_key).filter(|operation| operation.outcome == Outcome::Written).collect();
    let before = |operation: &Operation, at: u64| operation.completed_at.is_some_and(|done| done < at);
    let newer = acknowledged
        .iter()
        .filter(|operation| before(operation, history[target].invoked_at))
        .max_by_key(|operation| operation.completed_at)
        .expect("a write before the read");
    let older = acknowledged
        .iter()
        .filter(|operation| before(operation, newer.invoked_at))
        .max_by_key(|operation| operation.completed_at)
        .expect("a write before that one");
    let Call::Write(stale) = &older.call else { unreachable!() };
    bad[target].outcome = Outcome::Read(Some(stale.clone()));
    bad
}

#[test]
fn a_long_generated_history_holds_and_one_stale_read_in_it_is_found() {
    // 10 clients, 4 keys, 200,000 operations: some 50,000 a key.
    let history = generated_history(7, 10, 4, 20_000);
    assert_eq!(history.len(), 200_000);
    let read_values: HashSet<&str> = history
        .iter()
        .filter_map(|operation| match &operation.outcome {
            Outcome::Read(Some(value)) => Some(value.as_str()),
            _ => None,
        })
        .collect();
    let unknown = history.iter().filter(|operation| operation.outcome == Outcome::Unknown);
    let seen_unknown = unknown
        .filter(|operation| matches!(&operation.call, Call::Write(value) if read_values.contains(value.as_str())));
    assert!(seen_unknown.count() > 50, "some unknown writes took effect and were read");
    assert_eq!(check(&history), vec![]);

    let bad = with_a_stale_read(&history, "k2");
    let violations = check(&bad);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].key, "k2");
    assert_eq!(violations[0].kind, ViolationKind::NotLinearizable);
    assert!(violations[0].placed_at_most < violations[0].operations);
}

#[test]
fn a_long_history_with_no_quiet_moment_needs_no_deep_stack() {
    // 100,000 operations on one key, each overlapping the next: no commit point, and an
    // order as long as the history.
    let mut rng = Rng(11);
    let mut planned: Vec<(Operation, Option<u64>)> = (0..100_000u64)
        .map(|index| {
            let (invoked_at, completed_at) = (2 * index, 2 * index + 3);
            let call = if rng.percent(50) { Call::Write(format!("v{index}")) } else { Call::Read };
            let outcome = if call == Call::Read { Outcome::Read(None) } else { Outcome::Written };
            let operation = Operation {
                client: (index % 10) as u32,
                key: "k".into(),
                call,
                outcome,
                invoked_at,
                completed_at: Some(completed_at),
            };
            (operation, Some(invoked_at + rng.below(4)))
        })
        .collect();
    simulate(&mut planned);
    let mut history: Vec<Operation> = planned.into_iter().map(|(operation, _)| operation).collect();
    assert!(commit_points(&steps(&history)).is_empty());
    assert_eq!(check(&history), vec![]);
    // A read of the first value at the very end: the search must give up on every order.
    let first = history.iter().find_map(|operation| match &operation.call {
        Call::Write(value) => Some(value.clone()),
        Call::Read => None,
    });
    history.push(read(1, "k", first.as_deref(), 300_000, 300_001));
    let violations = check(&history);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].kind, ViolationKind::NotLinearizable);
}

/// The checker as first written: recursive, a set of placed operations and a value as
/// its memo, unknown writes optional with no bound, no commit points. It is the
/// specification the fast one must agree with, on histories small enough for it.
fn reference(history: &[Operation]) -> Vec<String> {
    struct Reference {
        writes: Option<String>,
        expects: Option<String>,
        invoked_at: u64,
        completed_at: u64,
        required: bool,
    }
    fn explore(
        steps: &[Reference],
        placed: &mut Vec<bool>,
        seen: &mut HashSet<(Vec<bool>, Option<String>)>,
        value: Option<String>,
    ) -> bool {
        if steps.iter().zip(placed.iter()).all(|(step, placed)| *placed || !step.required) {
            return true;
        }
        if !seen.insert((placed.clone(), value.clone())) {
            return false;
        }
        let deadline = steps
            .iter()
            .zip(placed.iter())
            .filter(|(step, placed)| step.required && !**placed)
            .map(|(step, _)| step.completed_at)
            .min()
            .unwrap_or(u64::MAX);
        for index in 0..steps.len() {
            let step = &steps[index];
            if placed[index] || step.invoked_at > deadline {
                continue;
            }
            let next = match &step.writes {
                Some(written) => Some(written.clone()),
                None if step.expects == value => value.clone(),
                None => continue,
            };
            placed[index] = true;
            if explore(steps, placed, seen, next) {
                return true;
            }
            placed[index] = false;
        }
        false
    }
    let mut by_key: BTreeMap<&str, Vec<Reference>> = BTreeMap::new();
    for operation in history {
        let step = |writes: Option<String>, expects: Option<String>, required: bool| Reference {
            writes,
            expects,
            invoked_at: operation.invoked_at,
            completed_at: if required { operation.completed_at.unwrap_or(u64::MAX) } else { u64::MAX },
            required,
        };
        let step = match (&operation.call, &operation.outcome) {
            (_, Outcome::Failed) | (Call::Read, Outcome::Unknown) => None,
            (Call::Read, Outcome::Read(seen)) => Some(step(None, seen.clone(), true)),
            (Call::Write(value), Outcome::Written) => Some(step(Some(value.clone()), None, true)),
            (Call::Write(value), Outcome::Unknown) => Some(step(Some(value.clone()), None, false)),
            (Call::Read, Outcome::Written) | (Call::Write(_), Outcome::Read(_)) => {
                Some(step(None, Some(String::from("\u{0}impossible")), true))
            }
        };
        let steps = by_key.entry(operation.key.as_str()).or_default();
        steps.extend(step);
    }
    by_key
        .into_iter()
        .filter(|(_, steps)| {
            let mut placed = vec![false; steps.len()];
            !explore(steps, &mut placed, &mut HashSet::new(), None)
        })
        .map(|(key, _)| key.to_string())
        .collect()
}

/// A small history over two keys and three values (so values repeat, and unknown
/// writes may share a value): simulated against a register, then perhaps one read
/// changed at random; timestamps close together, so that many overlap or tie.
fn small_history(rng: &mut Rng) -> Vec<Operation> {
    let values = ["a", "b", "c"];
    let count = 1 + rng.below(12);
    let span = 4 * count + 1;
    let mut planned: Vec<(Operation, Option<u64>)> = (0..count)
        .map(|index| {
            let key = if rng.percent(75) { "k" } else { "j" };
            let invoked_at = rng.below(span);
            let completed_at = invoked_at + rng.below(8);
            let at = invoked_at + rng.below(completed_at - invoked_at + 1);
            let mut operation = Operation {
                client: index as u32,
                key: key.into(),
                call: Call::Read,
                outcome: Outcome::Read(None),
                invoked_at,
                completed_at: Some(completed_at),
            };
            let mut at = Some(at);
            if rng.percent(50) {
                operation.call = Call::Write(values[rng.below(3) as usize].into());
                operation.outcome = Outcome::Written;
                match rng.below(20) {
                    0..=4 => {
                        operation.outcome = Outcome::Unknown;
                        operation.completed_at = None;
                        at = rng.percent(60).then(|| invoked_at + rng.below(40));
                    }
                    5..=6 => {
                        operation.outcome = Outcome::Failed;
                        at = None;
                    }
                    7 => operation.outcome = Outcome::Read(None),
                    _ => {}
                }
            } else {
                match rng.below(20) {
                    0..=1 => {
                        operation.outcome = Outcome::Unknown;
                        operation.completed_at = None;
                    }
                    2 => operation.outcome = Outcome::Written,
                    _ => {}
                }
            }
            (operation, at)
        })
        .collect();
    let confused: Vec<bool> = planned
        .iter()
        .map(|(operation, _)| operation.outcome == Outcome::Written && operation.call == Call::Read)
        .collect();
    simulate(&mut planned);
    let mut history: Vec<Operation> = planned.into_iter().map(|(operation, _)| operation).collect();
    for (operation, confused) in history.iter_mut().zip(confused) {
        if confused {
            operation.outcome = Outcome::Written;
        }
    }
    if rng.percent(40) {
        let reads: Vec<usize> =
            (0..history.len()).filter(|&index| matches!(history[index].outcome, Outcome::Read(_))).collect();
        if !reads.is_empty() {
            let index = reads[rng.below(reads.len() as u64) as usize];
            let value = rng.below(4);
            history[index].outcome = Outcome::Read((value < 3).then(|| values[value as usize].to_string()));
        }
    }
    history
}

#[test]
fn small_random_histories_agree_with_the_exhaustive_checker() {
    agree_on_small_histories(2024, 20_000);
}

fn agree_on_small_histories(seed: u64, rounds: u32) {
    let mut rng = Rng(seed);
    let (mut held, mut broken) = (0, 0);
    for round in 0..rounds {
        let history = small_history(&mut rng);
        let expected = reference(&history);
        let found = check(&history);
        assert!(found.iter().all(|violation| !violation.is_undecided()));
        let found: Vec<String> = found.into_iter().map(|violation| violation.key).collect();
        assert_eq!(found, expected, "round {round}: {history:#?}");
        if expected.is_empty() {
            held += 1;
        } else {
            broken += 1;
        }
    }
    assert!(held > rounds / 4 && broken > rounds / 10, "{held} held, {broken} broken");
}

#[test]
fn generated_histories_of_a_few_clients_agree_with_the_exhaustive_checker() {
    // Unique values and clients issuing one operation at a time, as in a chaos run, some
    // slow and some timing out; in half of them one read answers another value of its key.
    agree_on_generated_histories(99, 1_000, 3, 15);
}

fn agree_on_generated_histories(seed: u64, rounds: u32, clients: u32, per_client: u32) {
    let mut rng = Rng(seed);
    let (mut held, mut broken) = (0, 0);
    for round in 0..rounds {
        let mut history = generated_history_slow(rng.next(), clients, 2, per_client, 100, 60);
        if rng.percent(50) {
            let reads: Vec<usize> =
                (0..history.len()).filter(|&index| matches!(history[index].outcome, Outcome::Read(_))).collect();
            let index = reads[rng.below(reads.len() as u64) as usize];
            let values: Vec<Option<String>> = std::iter::once(None)
                .chain(history.iter().filter(|operation| operation.key == history[index].key).filter_map(|operation| {
                    match &operation.call {
                        Call::Write(value) => Some(Some(value.clone())),
                        Call::Read => None,
                    }
                }))
                .collect();
            history[index].outcome = Outcome::Read(values[rng.below(values.len() as u64) as usize].clone());
        }
        let expected = reference(&history);
        let found: Vec<String> = check(&history).into_iter().map(|violation| violation.key).collect();
        assert_eq!(found, expected, "round {round}: {history:#?}");
        if expected.is_empty() {
            held += 1;
        } else {
            broken += 1;
        }
    }
    assert!(held > rounds * 2 / 5 && broken > rounds / 5, "{held} held, {broken} broken");
}
