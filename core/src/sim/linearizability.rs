//! An independent linearizability checker for client histories of the key-value store.
//!
//! Given what clients saw (each command's invocation, and its completion with an output, or an
//! unknown outcome), it decides whether one serial order of the commands, respecting real time and
//! applying each at most once, explains every output starting from an empty map.
//!
//! It shares no code with the replica or its state machine, by design: it has its own model of the
//! key-value machine, so a bug in the real one cannot vouch for itself.
//!
//! Algorithm: Wing & Gong's search with Lowe's memoization, as in Porcupine's `checkSingle`. Call
//! and return entries sit in a linked list sorted by time; the search linearizes the earliest pending
//! call whose recorded output the model agrees with, backtracks when it meets the return of an
//! operation not yet linearized, and never revisits a (linearized set, model state) configuration.
//! Operations are first split by key (P-compositionality; a multi-key command joins its keys), and
//! each component is searched alone, smallest first. An unknown outcome returns at +infinity with
//! any output, and need not be linearized at all; unknown-outcome reads constrain nothing and are
//! dropped.
//!
//! Limits: the search is exponential in the worst case, so it stops after a step budget with
//! `Inconclusive`. Unknown-outcome writes in the middle of a long history are the expensive case
//! (each stays pending to the end; around 10% of them in 2,000 operations can exhaust a large
//! budget), whereas those at the end of a run cost nothing. The cache keeps every configuration it
//! meets, so memory grows with the steps. A report shows one longest linearizable prefix, not a
//! minimal counterexample.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub type ClientId = u64;

/// A command, as the model understands it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Get {
        key: Vec<u8>,
    },
    /// Deletes each listed key; returns how many distinct keys existed and were removed.
    Delete {
        keys: Vec<Vec<u8>>,
    },
    /// Returns how many of the listed keys exist, counting a key listed twice twice (as Redis does).
    Exists {
        keys: Vec<Vec<u8>>,
    },
    /// Adds `by` to the key's integer value (a missing key counts as 0); the value is stored as decimal text.
    /// A value that is not the decimal text of an i64, or an overflow, is an error and changes nothing.
    Increment {
        key: Vec<u8>,
        by: i64,
    },
    GetMany {
        keys: Vec<Vec<u8>>,
    },
    /// Sets every pair, in order.
    PutMany {
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// Writes the value when `when` holds of the key; returns the value before when
    /// `get`, else `Ok` if it wrote and `Value(None)` if not (Redis's SET NX|XX [GET]).
    SetWhen {
        key: Vec<u8>,
        value: Vec<u8>,
        when: Presence,
        get: bool,
    },
    /// Writes a missing key; returns 1 if it wrote, else 0 (Redis's SETNX).
    PutIfMissing {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Concatenates onto the value (missing: empty); returns the new length.
    Append {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Returns the value's length, 0 when missing.
    Length {
        key: Vec<u8>,
    },
    /// Returns the value and removes the key.
    Take {
        key: Vec<u8>,
    },
}

/// When a conditional write writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Any,
    Missing,
    Present,
}

impl KvOp {
    /// Every key the command touches, in order, repeats included.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            KvOp::Put { key, .. }
            | KvOp::Get { key }
            | KvOp::Increment { key, .. }
            | KvOp::SetWhen { key, .. }
            | KvOp::PutIfMissing { key, .. }
            | KvOp::Append { key, .. }
            | KvOp::Length { key }
            | KvOp::Take { key } => alloc::vec![key.as_slice()],
            KvOp::Delete { keys } | KvOp::Exists { keys } | KvOp::GetMany { keys } => {
                keys.iter().map(Vec::as_slice).collect()
            }
            KvOp::PutMany { pairs } => pairs.iter().map(|(key, _)| key.as_slice()).collect(),
        }
    }

    pub fn is_read_only(&self) -> bool {
        matches!(self, KvOp::Get { .. } | KvOp::Exists { .. } | KvOp::GetMany { .. } | KvOp::Length { .. })
    }
}

/// What a completed command returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutput {
    Ok,
    Value(Option<Vec<u8>>),
    Values(Vec<Option<Vec<u8>>>),
    Integer(i64),
    Error,
    /// Refused before it could take effect (a command the cluster's release lacks):
    /// it never happened, so the check leaves it out. Had it taken effect after all,
    /// the reads after it would say so.
    Refused,
}

/// One client operation: invoked at `invoke`, and either completed at a later time with an
/// output, or of unknown outcome (`complete: None`: it timed out, or the run ended first; it may
/// have taken effect once at any point after its invocation, or never).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub client: ClientId,
    pub op: KvOp,
    pub invoke: u64,
    pub complete: Option<(u64, KvOutput)>,
}

/// A history being recorded. Times are caller-supplied and strictly increasing across all calls
/// (a global event counter), so no two events share a time.
#[derive(Clone, Debug, Default)]
pub struct History {
    operations: Vec<Operation>,
    last_at: Option<u64>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an invocation; the index names the operation for `complete`.
    pub fn invoke(&mut self, client: ClientId, op: KvOp, at: u64) -> usize {
        self.advance_to(at);
        self.operations.push(Operation { client, op, invoke: at, complete: None });
        self.operations.len() - 1
    }

    /// Records the output of an operation invoked earlier. Panics on an unknown index, or on a
    /// second completion: both are bugs of the recorder.
    pub fn complete(&mut self, index: usize, at: u64, output: KvOutput) {
        self.advance_to(at);
        let operation = &mut self.operations[index];
        assert!(operation.complete.is_none(), "operation {index} completed twice");
        operation.complete = Some((at, output));
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    pub fn len(&self) -> usize {
        self.operations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    pub fn check(&self, budget_steps: u64) -> Verdict {
        check(&self.operations, budget_steps)
    }

    fn advance_to(&mut self, at: u64) {
        assert!(
            self.last_at.is_none_or(|last| at > last),
            "history times must strictly increase: {at} after {:?}",
            self.last_at
        );
        self.last_at = Some(at);
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    Violation(Report),
    /// The search budget ran out first.
    Inconclusive,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => f.write_str("linearizable"),
            Verdict::Violation(report) => report.fmt(f),
            Verdict::Inconclusive => f.write_str("inconclusive: the search budget ran out"),
        }
    }
}

/// An operation as a report lists it, with its index in the checked slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedOperation {
    pub index: usize,
    pub operation: Operation,
}

/// Why a component of the history has no linearization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The component's keys, sorted.
    pub keys: Vec<Vec<u8>>,
    /// The component's operations in invocation order.
    pub operations: Vec<ReportedOperation>,
    /// The longest linearizable prefix the search reached: indices in the checked slice, in
    /// linearization order.
    pub longest_prefix: Vec<usize>,
    /// The completed operation that prefix could not be extended past: it had to take effect
    /// before anything invoked after its completion, and could not.
    pub unplaceable: Option<usize>,
    pub explanation: String,
}

/// Operations a report lists at most, around the one that cannot be placed.
const REPORT_LISTING_MAX: usize = 30;
/// Keys a report names at most.
const REPORT_KEYS_MAX: usize = 8;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "linearizability violation: {}", self.explanation)?;
        let total = self.operations.len();
        let focus = self
            .unplaceable
            .or(self.longest_prefix.last().copied())
            .and_then(|index| self.operations.iter().position(|reported| reported.index == index))
            .unwrap_or(0);
        let first = focus.saturating_sub(REPORT_LISTING_MAX / 2).min(total.saturating_sub(REPORT_LISTING_MAX));
        let last = (first + REPORT_LISTING_MAX).min(total);
        writeln!(f, "operations on {}, in invocation order:", KeyList(&self.keys))?;
        if first > 0 {
            writeln!(f, "  ... {first} earlier operations left out")?;
        }
        for reported in &self.operations[first..last] {
            let operation = &reported.operation;
            write!(f, "  #{} client {} {}..", reported.index, operation.client, operation.invoke)?;
            match &operation.complete {
                Some((at, output)) => write!(f, "{at} {} -> {output}", operation.op)?,
                None => write!(f, "? {} -> unknown", operation.op)?,
            }
            if let Some(position) = self.longest_prefix.iter().position(|index| *index == reported.index) {
                write!(f, "  [linearized {}]", position + 1)?;
            }
            if self.unplaceable == Some(reported.index) {
                f.write_str("  <- cannot be placed")?;
            }
            writeln!(f)?;
        }
        if last < total {
            writeln!(f, "  ... {} later operations left out", total - last)?;
        }
        Ok(())
    }
}

/// Decides whether `operations` is linearizable. `budget_steps`: the most search steps (over all
/// components) before giving up with `Inconclusive`.
pub fn check(operations: &[Operation], budget_steps: u64) -> Verdict {
    if let Some(report) = malformed(operations) {
        return Verdict::Violation(report);
    }
    let mut steps = 0;
    for component in split_into_components(operations) {
        match search(operations, &component.members, &mut steps, budget_steps) {
            SearchOutcome::Linearizable => {}
            SearchOutcome::Violation(longest) => return Verdict::Violation(report(operations, &component, longest)),
            SearchOutcome::OutOfBudget => return Verdict::Inconclusive,
        }
    }
    Verdict::Linearizable
}

/// An operation that completes no later than its invocation cannot be ordered at all.
fn malformed(operations: &[Operation]) -> Option<Report> {
    let (index, operation) = operations
        .iter()
        .enumerate()
        .find(|(_, operation)| operation.complete.as_ref().is_some_and(|(at, _)| *at <= operation.invoke))?;
    let at = operation.complete.as_ref().map_or(0, |(at, _)| *at);
    let mut keys: Vec<Vec<u8>> = operation.op.keys().into_iter().map(<[u8]>::to_vec).collect();
    keys.sort();
    keys.dedup();
    Some(Report {
        keys,
        operations: alloc::vec![ReportedOperation { index, operation: operation.clone() }],
        longest_prefix: Vec::new(),
        unplaceable: Some(index),
        explanation: format!(
            "malformed history: #{index} completes at {at}, not after its invocation at {}",
            operation.invoke
        ),
    })
}

// ----- The model -----

/// The model's state for one component: the part of the map its keys cover.
type ModelState = BTreeMap<Vec<u8>, Vec<u8>>;

/// Runs `op` on `state`: its output, and the next state when it changed anything.
fn model_step(state: &ModelState, op: &KvOp) -> (KvOutput, Option<ModelState>) {
    match op {
        KvOp::Put { key, value } => {
            let mut next = state.clone();
            next.insert(key.clone(), value.clone());
            (KvOutput::Ok, Some(next))
        }
        KvOp::Get { key } => (KvOutput::Value(state.get(key).cloned()), None),
        KvOp::Delete { keys } => {
            let mut next = state.clone();
            let removed = keys.iter().filter(|key| next.remove(*key).is_some()).count();
            (KvOutput::Integer(removed as i64), (removed > 0).then_some(next))
        }
        KvOp::Exists { keys } => {
            (KvOutput::Integer(keys.iter().filter(|key| state.contains_key(*key)).count() as i64), None)
        }
        KvOp::Increment { key, by } => {
            let current = match state.get(key) {
                None => 0,
                Some(text) => match decimal_i64(text) {
                    Some(number) => number,
                    None => return (KvOutput::Error, None),
                },
            };
            let Some(sum) = current.checked_add(*by) else { return (KvOutput::Error, None) };
            let mut next = state.clone();
            next.insert(key.clone(), format!("{sum}").into_bytes());
            (KvOutput::Integer(sum), Some(next))
        }
        KvOp::GetMany { keys } => (KvOutput::Values(keys.iter().map(|key| state.get(key).cloned()).collect()), None),
        KvOp::PutMany { pairs } => {
            let mut next = state.clone();
            for (key, value) in pairs {
                next.insert(key.clone(), value.clone());
            }
            (KvOutput::Ok, Some(next))
        }
        KvOp::SetWhen { key, value, when, get } => {
            let before = state.get(key).cloned();
            let writes = match when {
                Presence::Any => true,
                Presence::Missing => before.is_none(),
                Presence::Present => before.is_some(),
            };
            let output = if *get {
                KvOutput::Value(before)
            } else if writes {
                KvOutput::Ok
            } else {
                KvOutput::Value(None)
            };
            let next = writes.then(|| {
                let mut next = state.clone();
                next.insert(key.clone(), value.clone());
                next
            });
            (output, next)
        }
        KvOp::PutIfMissing { key, value } => match state.get(key) {
            Some(_) => (KvOutput::Integer(0), None),
            None => {
                let mut next = state.clone();
                next.insert(key.clone(), value.clone());
                (KvOutput::Integer(1), Some(next))
            }
        },
        KvOp::Append { key, value } => {
            let mut joined = state.get(key).cloned().unwrap_or_default();
            joined.extend_from_slice(value);
            let output = KvOutput::Integer(joined.len() as i64);
            let mut next = state.clone();
            next.insert(key.clone(), joined);
            (output, Some(next))
        }
        KvOp::Length { key } => (KvOutput::Integer(state.get(key).map_or(0, |value| value.len() as i64)), None),
        KvOp::Take { key } => {
            let mut next = state.clone();
            let taken = next.remove(key);
            let changed = taken.is_some();
            (KvOutput::Value(taken), changed.then_some(next))
        }
    }
}

/// The integer a stored value spells: an optional sign and ASCII digits, in i64 range.
fn decimal_i64(text: &[u8]) -> Option<i64> {
    core::str::from_utf8(text).ok()?.parse().ok()
}

// ----- P-compositionality -----

struct Component {
    /// Indices in the checked slice, ascending.
    members: Vec<usize>,
    keys: BTreeSet<Vec<u8>>,
}

fn find_root(parent: &mut [usize], mut node: usize) -> usize {
    while parent[node] != node {
        parent[node] = parent[parent[node]];
        node = parent[node];
    }
    node
}

/// Groups the operations that matter by connected keys, smallest group first.
fn split_into_components(operations: &[Operation]) -> Vec<Component> {
    let matters = |operation: &Operation| match &operation.complete {
        Some((_, KvOutput::Refused)) => false,
        Some(_) => true,
        None => !operation.op.is_read_only(),
    };
    let mut key_ids: BTreeMap<&[u8], usize> = BTreeMap::new();
    let mut parent: Vec<usize> = Vec::new();
    let mut first_key_of: Vec<Option<usize>> = Vec::with_capacity(operations.len());
    for operation in operations {
        if !matters(operation) {
            first_key_of.push(None);
            continue;
        }
        let mut first = None;
        for key in operation.op.keys() {
            let id = *key_ids.entry(key).or_insert_with(|| {
                parent.push(parent.len());
                parent.len() - 1
            });
            match first {
                None => first = Some(id),
                Some(first) => {
                    let (a, b) = (find_root(&mut parent, first), find_root(&mut parent, id));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        first_key_of.push(first);
    }
    let mut by_root: BTreeMap<usize, Component> = BTreeMap::new();
    let mut keyless = Vec::new();
    for (index, operation) in operations.iter().enumerate() {
        if !matters(operation) {
            continue;
        }
        let keys = operation.op.keys().into_iter().map(<[u8]>::to_vec);
        match first_key_of[index] {
            None => keyless.push(Component { members: alloc::vec![index], keys: BTreeSet::new() }),
            Some(id) => {
                let root = find_root(&mut parent, id);
                let component =
                    by_root.entry(root).or_insert_with(|| Component { members: Vec::new(), keys: BTreeSet::new() });
                component.members.push(index);
                component.keys.extend(keys);
            }
        }
    }
    let mut components: Vec<Component> = by_root.into_values().chain(keyless).collect();
    components.sort_by_key(|component| (component.members.len(), component.members[0]));
    components
}

// ----- The search -----

/// A call or return in the time-sorted doubly linked list; entry 0 is the head, the last the tail.
#[derive(Clone, Copy, Debug)]
struct Entry {
    prev: usize,
    next: usize,
    /// The operation's position in the component.
    member: usize,
    /// For a call, its return entry.
    return_entry: Option<usize>,
}

const HEAD: usize = 0;

struct EntryList {
    entries: Vec<Entry>,
    tail: usize,
}

impl EntryList {
    fn new(operations: &[Operation], members: &[usize]) -> Self {
        // (time, rank, member, is_call): calls sort before returns at one time, so only a return
        // strictly before a call orders two operations; unknown returns come last.
        let mut events: Vec<(u64, u8, usize, bool)> = Vec::with_capacity(members.len() * 2);
        for (member, index) in members.iter().enumerate() {
            let operation = &operations[*index];
            events.push((operation.invoke, 0, member, true));
            match &operation.complete {
                Some((at, _)) => events.push((*at, 1, member, false)),
                None => events.push((u64::MAX, 2, member, false)),
            }
        }
        events.sort_unstable();
        let tail = events.len() + 1;
        let mut entries = Vec::with_capacity(events.len() + 2);
        entries.push(Entry { prev: HEAD, next: 1, member: usize::MAX, return_entry: None });
        let mut return_of = alloc::vec![0; members.len()];
        for (position, (_, _, member, is_call)) in events.iter().enumerate() {
            if !is_call {
                return_of[*member] = position + 1;
            }
            entries.push(Entry { prev: position, next: position + 2, member: *member, return_entry: None });
        }
        entries.push(Entry { prev: tail - 1, next: tail, member: usize::MAX, return_entry: None });
        for (position, (_, _, member, is_call)) in events.iter().enumerate() {
            if *is_call {
                entries[position + 1].return_entry = Some(return_of[*member]);
            }
        }
        EntryList { entries, tail }
    }

    fn first(&self) -> usize {
        self.entries[HEAD].next
    }

    fn unlink(&mut self, at: usize) {
        let Entry { prev, next, .. } = self.entries[at];
        self.entries[prev].next = next;
        self.entries[next].prev = prev;
    }

    fn relink(&mut self, at: usize) {
        let Entry { prev, next, .. } = self.entries[at];
        self.entries[prev].next = at;
        self.entries[next].prev = at;
    }

    /// Takes a call and its return out of the list.
    fn lift(&mut self, call: usize) {
        let return_entry = self.entries[call].return_entry.expect("only calls are lifted");
        self.unlink(call);
        self.unlink(return_entry);
    }

    /// Undoes the latest `lift`, which must be of `call`.
    fn unlift(&mut self, call: usize) {
        let return_entry = self.entries[call].return_entry.expect("only calls are lifted");
        self.relink(return_entry);
        self.relink(call);
    }
}

struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    fn new(bits: usize) -> Self {
        Bitset { words: alloc::vec![0; bits.div_ceil(64)] }
    }
    fn set(&mut self, bit: usize) {
        self.words[bit / 64] |= 1 << (bit % 64);
    }
    fn clear(&mut self, bit: usize) {
        self.words[bit / 64] &= !(1 << (bit % 64));
    }
}

/// The deepest dead end the search met.
struct LongestPrefix {
    /// Indices in the checked slice, in linearization order.
    linearized: Vec<usize>,
    unplaceable: Option<usize>,
}

enum SearchOutcome {
    Linearizable,
    Violation(LongestPrefix),
    OutOfBudget,
}

fn search(operations: &[Operation], members: &[usize], steps: &mut u64, budget: u64) -> SearchOutcome {
    let is_completed = |member: usize| operations[members[member]].complete.is_some();
    let completed_total = (0..members.len()).filter(|member| is_completed(*member)).count();
    let mut list = EntryList::new(operations, members);
    let mut linearized = Bitset::new(members.len());
    let mut linearized_completed = 0;
    let mut state = Rc::new(ModelState::new());
    let mut seen: BTreeSet<(Vec<u64>, Rc<ModelState>)> = BTreeSet::new();
    // Each linearized call, with the state before it.
    let mut stack: Vec<(usize, Rc<ModelState>)> = Vec::new();
    let mut longest: Option<LongestPrefix> = None;
    let mut at = list.first();
    while linearized_completed < completed_total {
        if *steps >= budget {
            return SearchOutcome::OutOfBudget;
        }
        *steps += 1;
        let entry = list.entries[at];
        if entry.return_entry.is_some() {
            let operation = &operations[members[entry.member]];
            let (output, changed) = model_step(&state, &operation.op);
            let changed = changed.filter(|next| *next != *state);
            let fits = match &operation.complete {
                Some((_, recorded)) => *recorded == output,
                // An unknown operation that changes nothing is better left out: that keeps every option.
                None => changed.is_some(),
            };
            if fits {
                let next = changed.map_or_else(|| Rc::clone(&state), Rc::new);
                linearized.set(entry.member);
                if seen.insert((linearized.words.clone(), Rc::clone(&next))) {
                    stack.push((at, core::mem::replace(&mut state, next)));
                    linearized_completed += usize::from(operation.complete.is_some());
                    list.lift(at);
                    at = list.first();
                    continue;
                }
                linearized.clear(entry.member);
            }
            at = entry.next;
        } else {
            // The return of an operation not linearized yet (or, defensively, the tail): a dead end.
            if longest.as_ref().is_none_or(|longest| stack.len() > longest.linearized.len()) {
                longest = Some(LongestPrefix {
                    linearized: stack.iter().map(|(call, _)| members[list.entries[*call].member]).collect(),
                    unplaceable: (at != list.tail).then(|| members[entry.member]),
                });
            }
            let Some((call, before)) = stack.pop() else {
                return SearchOutcome::Violation(longest.expect("recorded just above"));
            };
            state = before;
            let member = list.entries[call].member;
            linearized.clear(member);
            linearized_completed -= usize::from(is_completed(member));
            list.unlift(call);
            at = list.entries[call].next;
        }
    }
    SearchOutcome::Linearizable
}

// ----- Reports -----

fn report(operations: &[Operation], component: &Component, longest: LongestPrefix) -> Report {
    let mut listed: Vec<ReportedOperation> = component
        .members
        .iter()
        .map(|index| ReportedOperation { index: *index, operation: operations[*index].clone() })
        .collect();
    listed.sort_by_key(|reported| (reported.operation.invoke, reported.index));
    let keys: Vec<Vec<u8>> = component.keys.iter().cloned().collect();
    let mut explanation = format!(
        "no linearization of the {} operations on {}: the longest linearizable prefix has {}",
        listed.len(),
        KeyList(&keys),
        longest.linearized.len()
    );
    if let Some(index) = longest.unplaceable {
        let mut state = ModelState::new();
        for linearized in &longest.linearized {
            if let (_, Some(next)) = model_step(&state, &operations[*linearized].op) {
                state = next;
            }
        }
        let operation = &operations[index];
        let (model_output, _) = model_step(&state, &operation.op);
        if let Some((at, recorded)) = &operation.complete {
            explanation += &format!(
                ", and it cannot be extended past #{index} (client {}: {} -> {recorded}, {}..{at}), ",
                operation.client, operation.op, operation.invoke
            );
            if model_output == *recorded {
                explanation += "which fits there, but every continuation after it fails";
            } else {
                explanation += &format!("where the model returns {model_output}");
            }
        }
    }
    Report {
        keys,
        operations: listed,
        longest_prefix: longest.linearized,
        unplaceable: longest.unplaceable,
        explanation,
    }
}

/// Bytes as a quoted string: printable ASCII as is, anything else escaped.
struct Bytes<'a>(&'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for byte in self.0 {
            match byte {
                b'"' | b'\\' => write!(f, "\\{}", *byte as char)?,
                0x20..=0x7e => write!(f, "{}", *byte as char)?,
                _ => write!(f, "\\x{byte:02x}")?,
            }
        }
        f.write_str("\"")
    }
}

struct MaybeBytes<'a>(&'a Option<Vec<u8>>);

impl fmt::Display for MaybeBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(bytes) => Bytes(bytes).fmt(f),
            None => f.write_str("nil"),
        }
    }
}

struct KeyList<'a>(&'a [Vec<u8>]);

impl fmt::Display for KeyList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => return f.write_str("no keys"),
            1 => f.write_str("key ")?,
            _ => f.write_str("keys ")?,
        }
        for (position, key) in self.0.iter().take(REPORT_KEYS_MAX).enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            Bytes(key).fmt(f)?;
        }
        if self.0.len() > REPORT_KEYS_MAX {
            write!(f, " and {} more", self.0.len() - REPORT_KEYS_MAX)?;
        }
        Ok(())
    }
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let write_keys = |f: &mut fmt::Formatter<'_>, name: &str, keys: &[Vec<u8>]| {
            f.write_str(name)?;
            keys.iter().try_for_each(|key| write!(f, " {}", Bytes(key)))
        };
        match self {
            KvOp::Put { key, value } => write!(f, "put {} {}", Bytes(key), Bytes(value)),
            KvOp::Get { key } => write!(f, "get {}", Bytes(key)),
            KvOp::Delete { keys } => write_keys(f, "delete", keys),
            KvOp::Exists { keys } => write_keys(f, "exists", keys),
            KvOp::Increment { key, by } => write!(f, "increment {} by {by}", Bytes(key)),
            KvOp::GetMany { keys } => write_keys(f, "get-many", keys),
            KvOp::PutMany { pairs } => {
                f.write_str("put-many")?;
                pairs.iter().try_for_each(|(key, value)| write!(f, " {}={}", Bytes(key), Bytes(value)))
            }
            KvOp::SetWhen { key, value, when, get } => {
                let when = match when {
                    Presence::Any => "",
                    Presence::Missing => " if missing",
                    Presence::Present => " if present",
                };
                let get = if *get { " answering the old value" } else { "" };
                write!(f, "put {} {}{when}{get}", Bytes(key), Bytes(value))
            }
            KvOp::PutIfMissing { key, value } => {
                write!(f, "put {} {} if missing, answering 1 or 0", Bytes(key), Bytes(value))
            }
            KvOp::Append { key, value } => write!(f, "append {} {}", Bytes(key), Bytes(value)),
            KvOp::Length { key } => write!(f, "length {}", Bytes(key)),
            KvOp::Take { key } => write!(f, "take {}", Bytes(key)),
        }
    }
}

impl fmt::Display for KvOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOutput::Ok => f.write_str("ok"),
            KvOutput::Value(value) => MaybeBytes(value).fmt(f),
            KvOutput::Values(values) => {
                f.write_str("[")?;
                for (position, value) in values.iter().enumerate() {
                    if position > 0 {
                        f.write_str(", ")?;
                    }
                    MaybeBytes(value).fmt(f)?;
                }
                f.write_str("]")
            }
            KvOutput::Integer(number) => write!(f, "{number}"),
            KvOutput::Error => f.write_str("error"),
            KvOutput::Refused => f.write_str("refused"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const BUDGET: u64 = 1_000_000;
    const NIL: KvOutput = KvOutput::Value(None);

    fn bytes(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }
    fn put(key: &str, value: &str) -> KvOp {
        KvOp::Put { key: bytes(key), value: bytes(value) }
    }
    fn get(key: &str) -> KvOp {
        KvOp::Get { key: bytes(key) }
    }
    fn increment(key: &str, by: i64) -> KvOp {
        KvOp::Increment { key: bytes(key), by }
    }
    fn key_list(keys: &[&str]) -> Vec<Vec<u8>> {
        keys.iter().map(|key| bytes(key)).collect()
    }
    fn value(text: &str) -> KvOutput {
        KvOutput::Value(Some(bytes(text)))
    }
    fn done(client: ClientId, op: KvOp, invoke: u64, complete: u64, output: KvOutput) -> Operation {
        Operation { client, op, invoke, complete: Some((complete, output)) }
    }
    fn unknown(client: ClientId, op: KvOp, invoke: u64) -> Operation {
        Operation { client, op, invoke, complete: None }
    }

    fn assert_linearizable(operations: &[Operation]) {
        match check(operations, BUDGET) {
            Verdict::Linearizable => {}
            other => panic!("expected linearizable, got {other}"),
        }
    }

    fn assert_violation(operations: &[Operation]) -> Report {
        match check(operations, BUDGET) {
            Verdict::Violation(report) => {
                let text = report.to_string();
                assert!(text.starts_with("linearizability violation: no linearization"), "{text}");
                report
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    // ----- Known-bad histories -----

    #[test]
    fn stale_read_after_a_newer_write_completed() {
        let report = assert_violation(&[
            done(1, put("a", "1"), 1, 2, KvOutput::Ok),
            done(2, put("a", "2"), 3, 4, KvOutput::Ok),
            done(3, get("a"), 5, 6, value("1")),
        ]);
        assert_eq!(report.keys, vec![bytes("a")]);
        assert_eq!(report.unplaceable, Some(2));
        assert_eq!(report.longest_prefix, vec![0, 1]);
        assert!(report.explanation.contains("where the model returns \"2\""), "{}", report.explanation);
    }

    #[test]
    fn lost_write() {
        assert_violation(&[done(1, put("a", "1"), 1, 2, KvOutput::Ok), done(2, get("a"), 3, 4, NIL)]);
    }

    #[test]
    fn read_of_a_value_never_written() {
        assert_violation(&[done(1, put("a", "1"), 1, 2, KvOutput::Ok), done(2, get("a"), 3, 6, value("7"))]);
    }

    #[test]
    fn real_time_order_violation_between_two_clients() {
        // Client 2's read completes before client 1's write is even invoked.
        assert_violation(&[done(2, get("a"), 1, 2, value("1")), done(1, put("a", "1"), 3, 4, KvOutput::Ok)]);
    }

    #[test]
    fn double_applied_increment() {
        assert_violation(&[
            done(1, increment("n", 1), 1, 2, KvOutput::Integer(1)),
            done(2, increment("n", 1), 3, 4, KvOutput::Integer(2)),
            done(3, get("n"), 5, 6, value("3")),
        ]);
        // Concurrent increments of unknown outputs cannot apply twice either.
        assert_violation(&[
            unknown(1, increment("n", 1), 1),
            done(2, increment("n", 1), 2, 3, KvOutput::Integer(1)),
            done(3, get("n"), 4, 5, value("3")),
        ]);
    }

    #[test]
    fn old_value_reappearing() {
        assert_violation(&[
            done(1, put("a", "1"), 1, 2, KvOutput::Ok),
            done(1, put("a", "2"), 3, 4, KvOutput::Ok),
            done(2, get("a"), 5, 6, value("2")),
            done(3, get("a"), 7, 8, value("1")),
        ]);
    }

    #[test]
    fn unknown_write_cannot_take_effect_then_vanish() {
        assert_violation(&[
            unknown(1, put("a", "1"), 1),
            done(2, get("a"), 2, 3, value("1")),
            done(3, get("a"), 4, 5, NIL),
        ]);
    }

    #[test]
    fn get_many_sees_half_of_a_put_many() {
        let pairs = |a: &str, b: &str| KvOp::PutMany { pairs: vec![(bytes("a"), bytes(a)), (bytes("b"), bytes(b))] };
        let report = assert_violation(&[
            done(1, pairs("1", "1"), 1, 2, KvOutput::Ok),
            done(1, pairs("2", "2"), 3, 4, KvOutput::Ok),
            done(
                2,
                KvOp::GetMany { keys: key_list(&["a", "b"]) },
                5,
                6,
                KvOutput::Values(vec![Some(bytes("2")), Some(bytes("1"))]),
            ),
        ]);
        assert_eq!(report.keys, key_list(&["a", "b"]));
    }

    #[test]
    fn a_refused_op_never_happened() {
        let append = KvOp::Append { key: bytes("a"), value: bytes("x") };
        assert_linearizable(&[
            done(1, put("a", "1"), 1, 2, KvOutput::Ok),
            done(2, append.clone(), 3, 4, KvOutput::Refused),
            done(1, get("a"), 5, 6, value("1")),
        ]);
        // Had it taken effect after all, the read after it says so.
        assert_violation(&[
            done(1, put("a", "1"), 1, 2, KvOutput::Ok),
            done(2, append, 3, 4, KvOutput::Refused),
            done(1, get("a"), 5, 6, value("1x")),
        ]);
    }

    #[test]
    fn conditional_writes_append_and_take_follow_the_model() {
        let set_if = |value: &str, when, get| KvOp::SetWhen { key: bytes("k"), value: bytes(value), when, get };
        assert_linearizable(&[
            done(1, set_if("1", Presence::Missing, false), 1, 2, KvOutput::Ok),
            done(1, set_if("2", Presence::Missing, false), 3, 4, KvOutput::Value(None)),
            done(1, set_if("3", Presence::Present, true), 5, 6, value("1")),
            done(1, KvOp::Append { key: bytes("k"), value: bytes("45") }, 7, 8, KvOutput::Integer(3)),
            done(1, KvOp::Length { key: bytes("k") }, 9, 10, KvOutput::Integer(3)),
            done(1, KvOp::Take { key: bytes("k") }, 11, 12, value("345")),
            done(1, get("k"), 13, 14, KvOutput::Value(None)),
        ]);
        assert_linearizable(&[
            done(1, KvOp::PutIfMissing { key: bytes("n"), value: bytes("1") }, 1, 2, KvOutput::Integer(1)),
            done(1, KvOp::PutIfMissing { key: bytes("n"), value: bytes("2") }, 3, 4, KvOutput::Integer(0)),
            done(1, get("n"), 5, 6, value("1")),
        ]);
        // SETNX that claims to have written a present key.
        assert_violation(&[
            done(1, put("n", "1"), 1, 2, KvOutput::Ok),
            done(1, KvOp::PutIfMissing { key: bytes("n"), value: bytes("2") }, 3, 4, KvOutput::Integer(1)),
        ]);
        // SET NX that claims to have written over a present key.
        assert_violation(&[
            done(1, put("k", "1"), 1, 2, KvOutput::Ok),
            done(1, set_if("2", Presence::Missing, false), 3, 4, KvOutput::Ok),
        ]);
    }

    #[test]
    fn error_output_only_matches_a_model_error() {
        assert_violation(&[
            done(1, put("n", "5"), 1, 2, KvOutput::Ok),
            done(1, increment("n", 1), 3, 4, KvOutput::Error),
        ]);
    }

    #[test]
    fn a_violation_reports_only_its_own_component() {
        let report = assert_violation(&[
            done(1, put("a", "1"), 1, 10, KvOutput::Ok),
            done(2, put("b", "1"), 2, 3, KvOutput::Ok),
            done(3, get("a"), 4, 5, value("1")),
            done(2, get("b"), 6, 7, NIL),
            done(3, get("a"), 8, 9, value("1")),
        ]);
        assert_eq!(report.keys, vec![bytes("b")]);
        let indices: Vec<usize> = report.operations.iter().map(|reported| reported.index).collect();
        assert_eq!(indices, vec![1, 3]);
        assert_eq!(report.unplaceable, Some(3));
        let text = report.to_string();
        assert!(text.contains("#3 client 2 6..7 get \"b\" -> nil  <- cannot be placed"), "{text}");
        assert!(text.contains("#1 client 2 2..3 put \"b\" \"1\" -> ok  [linearized 1]"), "{text}");
    }

    #[test]
    fn a_long_report_lists_at_most_thirty_operations() {
        let mut operations: Vec<Operation> =
            (0..50).map(|i| done(1, put("a", &i.to_string()), 2 * i + 1, 2 * i + 2, KvOutput::Ok)).collect();
        operations.push(done(2, get("a"), 200, 201, value("3")));
        let text = assert_violation(&operations).to_string();
        assert!(text.contains("21 earlier operations left out"), "{text}");
        assert!(text.contains("<- cannot be placed"), "{text}");
        assert_eq!(text.lines().filter(|line| line.starts_with("  #")).count(), 30);
    }

    #[test]
    fn completion_before_invocation_is_malformed() {
        match check(&[done(1, get("a"), 5, 5, NIL)], BUDGET) {
            Verdict::Violation(report) => assert!(report.explanation.starts_with("malformed history"), "{report}"),
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    // ----- Good histories -----

    #[test]
    fn concurrent_writes_then_a_read_of_either() {
        for seen in ["1", "2"] {
            assert_linearizable(&[
                done(1, put("a", "1"), 1, 4, KvOutput::Ok),
                done(2, put("a", "2"), 2, 5, KvOutput::Ok),
                done(3, get("a"), 3, 6, value(seen)),
                done(3, get("a"), 7, 8, value(seen)),
            ]);
        }
    }

    #[test]
    fn reads_concurrent_with_a_write_see_new_and_old() {
        // The read invoked first sees the new value; the one inside it sees the old.
        assert_linearizable(&[
            done(1, put("a", "1"), 1, 2, KvOutput::Ok),
            done(1, put("a", "2"), 3, 10, KvOutput::Ok),
            done(2, get("a"), 4, 9, value("2")),
            done(3, get("a"), 5, 6, value("1")),
        ]);
    }

    #[test]
    fn unknown_outcome_writes_may_or_may_not_take_effect() {
        assert_linearizable(&[
            unknown(1, put("a", "1"), 1),
            unknown(2, put("b", "1"), 2),
            done(3, get("a"), 5, 6, value("1")),
            done(3, get("b"), 7, 8, NIL),
            done(4, get("a"), 9, 10, value("1")),
        ]);
    }

    #[test]
    fn a_failed_increment_changes_nothing() {
        assert_linearizable(&[
            done(1, put("a", "x"), 1, 2, KvOutput::Ok),
            done(1, increment("a", 1), 3, 4, KvOutput::Error),
            done(2, get("a"), 5, 6, value("x")),
            done(2, put("m", &i64::MAX.to_string()), 7, 8, KvOutput::Ok),
            done(1, increment("m", 1), 9, 10, KvOutput::Error),
            done(1, increment("m", -1), 11, 12, KvOutput::Integer(i64::MAX - 1)),
            done(2, increment("fresh", -3), 13, 14, KvOutput::Integer(-3)),
            done(2, get("fresh"), 15, 16, value("-3")),
        ]);
    }

    #[test]
    fn exists_counts_duplicates() {
        let exists = || KvOp::Exists { keys: key_list(&["a", "a", "b"]) };
        let history =
            |count| [done(1, put("a", "1"), 1, 2, KvOutput::Ok), done(2, exists(), 3, 4, KvOutput::Integer(count))];
        assert_linearizable(&history(2));
        assert_violation(&history(1));
    }

    #[test]
    fn delete_counts_distinct_keys() {
        let history = |count| {
            [
                done(1, put("a", "1"), 1, 2, KvOutput::Ok),
                done(1, put("b", "1"), 3, 4, KvOutput::Ok),
                done(2, KvOp::Delete { keys: key_list(&["a", "a", "b", "c"]) }, 5, 6, KvOutput::Integer(count)),
                done(2, get("a"), 7, 8, NIL),
            ]
        };
        assert_linearizable(&history(2));
        assert_violation(&history(3));
    }

    #[test]
    fn keyless_commands_and_unknown_reads() {
        assert_linearizable(&[
            done(1, KvOp::GetMany { keys: Vec::new() }, 1, 2, KvOutput::Values(Vec::new())),
            done(1, KvOp::Delete { keys: Vec::new() }, 3, 4, KvOutput::Integer(0)),
            unknown(2, get("a"), 5),
        ]);
        assert_violation(&[done(1, KvOp::Exists { keys: Vec::new() }, 1, 2, KvOutput::Integer(1))]);
        assert_linearizable(&[]);
    }

    #[test]
    fn history_records_invocations_and_completions() {
        let mut history = History::new();
        assert!(history.is_empty());
        let write = history.invoke(1, put("a", "1"), 10);
        let read = history.invoke(2, get("a"), 11);
        history.complete(read, 12, value("1"));
        history.complete(write, 13, KvOutput::Ok);
        assert_eq!(history.len(), 2);
        assert_eq!(history.operations()[read].complete, Some((12, value("1"))));
        assert_eq!(history.check(BUDGET), Verdict::Linearizable);
    }

    // ----- Generated histories -----

    struct XorShift(u64);

    impl XorShift {
        fn new(seed: u64) -> Self {
            XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
        fn percent(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    struct Workload {
        keys: usize,
        clients: usize,
        operations: usize,
        /// How often an operation times out (before or after it took effect).
        unknown_percent: usize,
        /// How often an idle client, when its turn comes, invokes its next operation (less: less overlap).
        invoke_percent: usize,
    }

    fn random_op(rng: &mut XorShift, workload: &Workload, values_written: &mut u64) -> KvOp {
        let key = |rng: &mut XorShift| format!("k{}", rng.below(workload.keys)).into_bytes();
        let keys = |rng: &mut XorShift| (0..1 + rng.below(3)).map(|_| key(rng)).collect::<Vec<_>>();
        let mut value = |rng: &mut XorShift| {
            *values_written += 1;
            match rng.below(6) {
                0 => bytes("x"),
                1 | 2 => rng.below(10).to_string().into_bytes(),
                _ => format!("v{values_written}").into_bytes(),
            }
        };
        match rng.below(100) {
            0..=24 => KvOp::Put { key: key(rng), value: value(rng) },
            25..=49 => KvOp::Get { key: key(rng) },
            50..=61 => {
                let by = if rng.percent(3) { i64::MAX } else { rng.below(7) as i64 - 3 };
                KvOp::Increment { key: key(rng), by }
            }
            62..=69 => KvOp::Delete { keys: keys(rng) },
            70..=77 => KvOp::Exists { keys: keys(rng) },
            78..=87 => KvOp::GetMany { keys: keys(rng) },
            _ => {
                let pairs = (0..1 + rng.below(3)).map(|_| (key(rng), value(rng))).collect();
                KvOp::PutMany { pairs }
            }
        }
    }

    enum ClientSlot {
        Idle,
        Invoked { index: usize, op: KvOp },
        Applied { index: usize, output: KvOutput },
    }

    /// Runs the model under random concurrent clients: each operation takes effect at one
    /// event between its invocation and completion, or, if it timed out, later or never.
    fn generate_history(rng: &mut XorShift, workload: &Workload) -> History {
        let mut history = History::new();
        let mut state = ModelState::new();
        let apply = |state: &mut ModelState, op: &KvOp| {
            let (output, next) = model_step(state, op);
            if let Some(next) = next {
                *state = next;
            }
            output
        };
        let mut clients: Vec<ClientSlot> = (0..workload.clients).map(|_| ClientSlot::Idle).collect();
        let mut timed_out_before_effect: Vec<KvOp> = Vec::new();
        let (mut time, mut invoked, mut values_written) = (0u64, 0, 0u64);
        while invoked < workload.operations || clients.iter().any(|slot| !matches!(slot, ClientSlot::Idle)) {
            time += 1;
            if !timed_out_before_effect.is_empty() && rng.percent(5) {
                let op = timed_out_before_effect.swap_remove(rng.below(timed_out_before_effect.len()));
                if rng.percent(50) {
                    apply(&mut state, &op);
                }
                continue;
            }
            let client = rng.below(clients.len());
            clients[client] = match core::mem::replace(&mut clients[client], ClientSlot::Idle) {
                ClientSlot::Idle if invoked < workload.operations && rng.percent(workload.invoke_percent) => {
                    invoked += 1;
                    let op = random_op(rng, workload, &mut values_written);
                    ClientSlot::Invoked { index: history.invoke(client as ClientId, op.clone(), time), op }
                }
                ClientSlot::Idle => ClientSlot::Idle,
                ClientSlot::Invoked { op, .. } if rng.percent(workload.unknown_percent) => {
                    timed_out_before_effect.push(op);
                    ClientSlot::Idle
                }
                ClientSlot::Invoked { index, op } => ClientSlot::Applied { index, output: apply(&mut state, &op) },
                ClientSlot::Applied { .. } if rng.percent(workload.unknown_percent) => ClientSlot::Idle,
                ClientSlot::Applied { index, output } => {
                    history.complete(index, time, output);
                    ClientSlot::Idle
                }
            };
        }
        history
    }

    /// Changes the output of one completed read to another plausible one; false if none.
    fn mutate_one_read(rng: &mut XorShift, operations: &mut [Operation]) -> bool {
        let reads: Vec<usize> = (0..operations.len())
            .filter(|index| operations[*index].complete.is_some() && operations[*index].op.is_read_only())
            .collect();
        if reads.is_empty() {
            return false;
        }
        let target = reads[rng.below(reads.len())];
        let written_to = |key: &[u8]| {
            let mut values: Vec<Option<Vec<u8>>> = vec![None];
            for operation in operations.iter() {
                match (&operation.op, &operation.complete) {
                    (KvOp::Put { key: k, value }, _) if k == key => values.push(Some(value.clone())),
                    (KvOp::PutMany { pairs }, _) => {
                        values.extend(pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| Some(v.clone())))
                    }
                    (KvOp::Increment { key: k, .. }, Some((_, KvOutput::Integer(n)))) if k == key => {
                        values.push(Some(n.to_string().into_bytes()))
                    }
                    _ => {}
                }
            }
            values
        };
        let other_than = |rng: &mut XorShift, key: &[u8], current: &Option<Vec<u8>>| {
            let candidates: Vec<Option<Vec<u8>>> =
                written_to(key).into_iter().filter(|candidate| candidate != current).collect();
            if candidates.is_empty() {
                Some(bytes("never written"))
            } else {
                candidates[rng.below(candidates.len())].clone()
            }
        };
        let operation = &operations[target];
        let Some((at, output)) = operation.complete.clone() else { unreachable!() };
        let mutated = match (&operation.op, output) {
            (KvOp::Get { key }, KvOutput::Value(current)) => KvOutput::Value(other_than(rng, key, &current)),
            (KvOp::GetMany { keys }, KvOutput::Values(mut values)) => {
                let position = rng.below(keys.len());
                values[position] = other_than(rng, &keys[position], &values[position]);
                KvOutput::Values(values)
            }
            (KvOp::Exists { keys }, KvOutput::Integer(count)) => {
                KvOutput::Integer(if count < keys.len() as i64 { count + 1 } else { count - 1 })
            }
            (op, output) => panic!("{op} returned {output}"),
        };
        operations[target].complete = Some((at, mutated));
        true
    }

    #[test]
    fn generated_histories_are_linearizable_and_mutated_reads_are_caught() {
        // Overlap is kept moderate: under heavy overlap many mutated reads are still explainable.
        let workload = Workload { keys: 3, clients: 4, operations: 40, unknown_percent: 2, invoke_percent: 20 };
        let mut rng = XorShift::new(7);
        let (mut mutated, mut caught) = (0, 0);
        for _ in 0..300 {
            let history = generate_history(&mut rng, &workload);
            let verdict = history.check(BUDGET);
            assert_eq!(verdict, Verdict::Linearizable, "{:#?}", history.operations());
            let mut operations = history.operations().to_vec();
            if mutate_one_read(&mut rng, &mut operations) {
                mutated += 1;
                caught += usize::from(matches!(check(&operations, BUDGET), Verdict::Violation(_)));
            }
        }
        assert!(mutated >= 250, "only {mutated} histories had a read to mutate");
        assert!(caught * 100 >= mutated * 90, "caught {caught} of {mutated} mutated reads");
    }

    /// The reference: tries every order (completed operations exactly once, unknown ones at most
    /// once) that respects real time, with no memoization and no splitting by key.
    fn linearizable_by_brute_force(operations: &[Operation]) -> bool {
        fn extend(operations: &[Operation], placed: &mut [bool], state: &ModelState) -> bool {
            let must_precede = |earlier: &Operation, later: &Operation| {
                earlier.complete.as_ref().is_some_and(|(at, _)| *at < later.invoke)
            };
            if (0..operations.len()).all(|index| placed[index] || operations[index].complete.is_none()) {
                return true;
            }
            for index in 0..operations.len() {
                let operation = &operations[index];
                let blocked =
                    (0..operations.len()).any(|other| !placed[other] && must_precede(&operations[other], operation));
                if placed[index] || blocked {
                    continue;
                }
                let (output, next) = model_step(state, &operation.op);
                if operation.complete.as_ref().is_some_and(|(_, recorded)| *recorded != output) {
                    continue;
                }
                placed[index] = true;
                if extend(operations, placed, next.as_ref().unwrap_or(state)) {
                    return true;
                }
                placed[index] = false;
            }
            false
        }
        extend(operations, &mut vec![false; operations.len()], &ModelState::new())
    }

    #[test]
    fn small_histories_agree_with_brute_force() {
        let workload = Workload { keys: 2, clients: 3, operations: 8, unknown_percent: 10, invoke_percent: 100 };
        let mut rng = XorShift::new(11);
        let agree = |operations: &[Operation]| {
            let expected = linearizable_by_brute_force(operations);
            let verdict = check(operations, BUDGET);
            let agreed =
                if expected { verdict == Verdict::Linearizable } else { matches!(verdict, Verdict::Violation(_)) };
            assert!(agreed, "brute force says linearizable={expected}, the checker {verdict}: {operations:#?}");
            expected
        };
        let mut violations = 0;
        for _ in 0..400 {
            let mut operations = generate_history(&mut rng, &workload).operations().to_vec();
            assert!(agree(&operations), "an unmutated history must be linearizable");
            if mutate_one_read(&mut rng, &mut operations) {
                violations += usize::from(!agree(&operations));
            }
        }
        assert!(violations >= 200, "only {violations} mutated histories were violations");
    }

    #[test]
    fn a_pathological_history_exhausts_a_small_budget() {
        // Twelve overlapping increments and a read no subset explains: every subset is a state.
        let mut operations: Vec<Operation> =
            (0..12).map(|client| unknown(client, increment("n", 1), client + 1)).collect();
        operations.push(done(20, get("n"), 30, 31, value("13")));
        assert_eq!(check(&operations, 10), Verdict::Inconclusive);
        assert!(matches!(check(&operations, BUDGET), Verdict::Violation(_)));
    }

    #[test]
    fn two_thousand_operations_over_eight_keys_check_linearizable() {
        let workload = Workload { keys: 8, clients: 5, operations: 2_000, unknown_percent: 2, invoke_percent: 100 };
        let history = generate_history(&mut XorShift::new(2_024), &workload);
        assert_eq!(history.len(), 2_000);
        assert_eq!(history.check(50_000_000), Verdict::Linearizable);
    }
}
