//! A linearizability checker for histories of real clients over independent registers,
//! written for the real-process (chaos) test and sharing no code with the node, the
//! core or the simulator's checker.
//!
//! Each key is a register that starts empty. Writes carry unique values; reads return a
//! value or nothing. An operation is known to have taken effect (`Ok`), known not to
//! have (`Failed`: the client was told so before anything was sent on), or `Unknown`
//! (timed out, or an error that says it may have been applied): an unknown write may
//! take effect at any moment after its invocation, or never; an unknown read says
//! nothing and is left out.
//!
//! The search is Wing and Gong's, with Lowe's memoisation of (linearized set, register
//! value) so that a state reached twice is explored once: take any operation that no
//! other pending operation finished before it began, apply it to the model, and go on;
//! backtrack when a read disagrees. Keys are checked apart (in parallel for long
//! histories). To cope with a chaos run's histories (up to some 100,000 operations a
//! key, some hundreds of them unknown writes) it is organised as follows; every point
//! keeps the check exact, sound and complete for the model above.
//!
//! * **Unknown writes are bounded or left out** before the search (see [`prepare`]): one
//!   whose value no read returned is left out, one that some read saw becomes required
//!   with a completion bound, so that no step stays a candidate forever.
//! * **A window of candidates.** Steps are sorted by invocation; the search keeps the
//!   index of the first unplaced step (the frontier). A step may go next only if it was
//!   invoked no later than the earliest completion among the unplaced steps (the
//!   deadline), so a scan from the frontier stops as soon as invocations pass it.
//! * **Reads that agree are placed at once.** A read that may go next and expects the
//!   register's current value is placed without branching: in any order that completes
//!   the history from here it can be moved to the front (it changes no value, and
//!   nothing still unplaced finished before it began, since it began before the
//!   deadline). The search branches on writes only.
//! * **A compact memo**: (frontier, bitset of placed steps past the frontier, value as an
//!   index into the key's written values) in a hash set; the placed steps past the
//!   frontier all lie inside the window, so the bitset is short.
//! * **An explicit stack** (iterative depth-first search with undo), so no recursion.
//! * **Commit points** (independent segments): where nothing is in flight (every step
//!   before the point completed before any step after it was invoked) and the value at
//!   the point is the same in every linearization of what precedes it, every
//!   linearization of the whole passes through one state; once the search reaches it,
//!   it never backtracks behind it and forgets its memo.
//! * **A budget** of explored states per key; past it the key is reported as
//!   [`ViolationKind::Undecided`], never as passed nor as violated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Write(String),
    Read,
}

/// What the client learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A write acknowledged.
    Written,
    /// A read's answer: the value, or none.
    Read(Option<String>),
    /// Certainly not applied.
    Failed,
    /// May or may not have been applied.
    Unknown,
}

/// One operation of the history, with its invocation and completion times (any unit,
/// one clock for every client). An unknown outcome has no completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub client: u32,
    pub key: String,
    pub call: Call,
    pub outcome: Outcome,
    pub invoked_at: u64,
    pub completed_at: Option<u64>,
}

/// Why a key is reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// No order of the key's operations explains what the clients saw: a real violation.
    NotLinearizable,
    /// The search gave up after exploring `explored` states: nothing was decided, neither
    /// a violation nor a pass.
    Undecided { explored: usize },
}

/// A key whose history is not linearizable, or that the search could not decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub key: String,
    /// The operations on that key the search had to place (unknown reads, failed
    /// operations and unknown writes that no read saw left out).
    pub operations: usize,
    /// The most of them any order it tried could place.
    pub placed_at_most: usize,
    /// A violation found, or a search given up.
    pub kind: ViolationKind,
}

impl Violation {
    /// Whether the search gave up on this key rather than finding a violation.
    pub fn is_undecided(&self) -> bool {
        matches!(self.kind, ViolationKind::Undecided { .. })
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ViolationKind::NotLinearizable => write!(
                f,
                "key {:?}: no linearization of its {} operations; the best order placed {}",
                self.key, self.operations, self.placed_at_most
            ),
            ViolationKind::Undecided { explored } => write!(
                f,
                "key {:?}: undecided (neither a violation nor a pass): the search gave up after {} states \
                 of its {} operations; the best order placed {}",
                self.key, explored, self.operations, self.placed_at_most
            ),
        }
    }
}

/// The states a key's search may explore by default before it gives up.
pub const DEFAULT_MAX_STATES_PER_KEY: usize = 5_000_000;

/// Check every key of `history` with the default budget; the keys reported, key by key
/// (empty: linearizable). A key the search could not decide is reported too, with
/// [`ViolationKind::Undecided`], so that `check` never passes what it did not check.
pub fn check(history: &[Operation]) -> Vec<Violation> {
    check_with_budget(history, DEFAULT_MAX_STATES_PER_KEY)
}

/// [`check`], each key's search giving up (and reporting the key as undecided) once it
/// has explored more than `max_states_per_key` states.
pub fn check_with_budget(history: &[Operation], max_states_per_key: usize) -> Vec<Violation> {
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for operation in history {
        by_key.entry(operation.key.as_str()).or_default().push(operation);
    }
    let keys: Vec<(&str, Vec<&Operation>)> = by_key.into_iter().collect();
    let check_one = |(key, operations): &(&str, Vec<&Operation>)| check_key(key, operations, max_states_per_key);
    // Short histories are not worth a thread.
    let threads = if history.len() < 10_000 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |threads| threads.get()).min(keys.len())
    };
    if threads <= 1 {
        return keys.iter().filter_map(check_one).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Violation>> = vec![None; keys.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(key) = keys.get(index) else { break done };
                        done.push((index, check_one(key)));
                    }
                })
            })
            .collect();
        for worker in workers {
            let done = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (index, result) in done {
                results[index] = result;
            }
        }
    });
    results.into_iter().flatten().collect()
}

fn check_key(key: &str, operations: &[&Operation], max_states: usize) -> Option<Violation> {
    let steps = prepare(operations);
    let mut search = Search::new(&steps, max_states);
    let kind = match search.run() {
        Verdict::Linearizable => return None,
        Verdict::NotLinearizable => ViolationKind::NotLinearizable,
        Verdict::Undecided => ViolationKind::Undecided { explored: search.explored },
    };
    Some(Violation { key: key.to_string(), operations: steps.len(), placed_at_most: search.best, kind })
}

/// The register's value as the search sees it: an index into the key's written values.
type Value = u32;
/// The empty register.
const EMPTY: Value = 0;
/// What a read expects when no write of the key could give it: it can never be placed.
const NEVER: Value = Value::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// A read, and the value it must see.
    Read(Value),
    /// A write of `value`; an `optional` one may also be skipped (never took effect).
    Write { value: Value, optional: bool },
}

/// One operation as the search sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Step {
    effect: Effect,
    invoked_at: u64,
    /// The latest moment it may take effect: anything invoked later goes after it.
    completed_at: u64,
}

impl Step {
    fn required(&self) -> bool {
        !matches!(self.effect, Effect::Write { optional: true, .. })
    }
}

/// One key's operations as steps for the search, sorted by invocation.
///
/// Failed operations and unknown reads are left out. Values are interned (the empty
/// register is [`EMPTY`]; a read of a value no write of the key carries expects
/// [`NEVER`], as does an operation answered as the other kind, a client's bug). A
/// completion before the invocation, which one monotonic clock cannot give, is taken as
/// the invocation; an answered read with no completion (no client records one) keeps no
/// bound, which is exact but keeps the window open behind it. Unknown writes (no
/// completion: they may take effect at any moment after their invocation, or never) are
/// treated so that none stays a candidate forever:
///
/// * **No read returned its value: left out.** In a linearization where it took effect,
///   the reads between it and the next write (or the end) would return its value; there
///   are none, so removing it changes no read's answer and keeps every other order
///   constraint. And leaving it out is one of the allowed outcomes (never applied). So
///   the history is linearizable with it exactly when it is without it.
/// * **Some read returned its value, and no other write carries that value: required.**
///   That read saw it, so it took effect, before that read. It is placed like any
///   operation, with a completion bound of the earliest completion among the reads that
///   returned its value: in any linearization it precedes all those reads, so it takes
///   effect before the first of them completes, and the bound excludes no linearization.
/// * **Some read returned its value, which another write carries too (not in this
///   model, where values are unique, but handled): optional, bounded.** It may be placed
///   or skipped, with a completion bound of the latest completion among the reads of its
///   value: had it taken effect later, the reads up to the next write would return its
///   value and complete after it took effect, which none can; so it would be unseen, and
///   skipping it would do.
fn prepare(operations: &[&Operation]) -> Vec<Step> {
    let mut values: HashMap<&str, Value> = HashMap::new();
    // Per value: how many writes carry it, and the earliest and latest completions of
    // the reads that returned it.
    let mut writers: Vec<u32> = vec![0];
    let mut seen: Vec<Option<(u64, u64)>> = vec![None];
    let completion = |operation: &Operation| operation.completed_at.unwrap_or(u64::MAX).max(operation.invoked_at);
    for operation in operations {
        if let (Call::Write(value), Outcome::Written | Outcome::Unknown) = (&operation.call, &operation.outcome) {
            let next = Value::try_from(writers.len()).expect("fewer than 2^32 values a key");
            let index = *values.entry(value.as_str()).or_insert(next);
            if index == next {
                writers.push(0);
                seen.push(None);
            }
            writers[index as usize] += 1;
        }
    }
    for operation in operations {
        if let (Call::Read, Outcome::Read(Some(value))) = (&operation.call, &operation.outcome) {
            if let Some(&index) = values.get(value.as_str()) {
                let at = completion(operation);
                let bounds = &mut seen[index as usize];
                *bounds = Some(bounds.map_or((at, at), |(first, last)| (first.min(at), last.max(at))));
            }
        }
    }
    let mut steps: Vec<Step> = operations
        .iter()
        .filter_map(|operation| {
            let step = |effect, completed_at: u64| Step {
                effect,
                invoked_at: operation.invoked_at,
                completed_at: completed_at.max(operation.invoked_at),
            };
            match (&operation.call, &operation.outcome) {
                (_, Outcome::Failed) | (Call::Read, Outcome::Unknown) => None,
                (Call::Read, Outcome::Read(seen)) => {
                    let expects = match seen {
                        None => EMPTY,
                        Some(value) => values.get(value.as_str()).copied().unwrap_or(NEVER),
                    };
                    Some(step(Effect::Read(expects), completion(operation)))
                }
                (Call::Write(value), Outcome::Written) => {
                    Some(step(Effect::Write { value: values[value.as_str()], optional: false }, completion(operation)))
                }
                (Call::Write(value), Outcome::Unknown) => {
                    let index = values[value.as_str()];
                    let (first, last) = seen[index as usize]?;
                    if writers[index as usize] == 1 {
                        Some(step(Effect::Write { value: index, optional: false }, first))
                    } else {
                        Some(step(Effect::Write { value: index, optional: true }, last))
                    }
                }
                // A write answered as a read, or a read as a write: the client's bug.
                (Call::Read, Outcome::Written) | (Call::Write(_), Outcome::Read(_)) => {
                    Some(step(Effect::Read(NEVER), completion(operation)))
                }
            }
        })
        .collect();
    steps.sort_by_key(|step| (step.invoked_at, step.completed_at));
    steps
}

/// The commit points of sorted `steps`: `(index, value)` where every step before
/// `index` completed before the step at `index` (hence every later one) was invoked, and
/// every linearization of the steps before `index` ends with the register at `value`.
///
/// Then every linearization of the whole places all of those steps first and reaches
/// the state (frontier `index`, nothing past it placed, `value`): whether the rest can be
/// placed from there decides the key. The value is known when the steps before `index`
/// hold no write (the empty register); or hold a read that every one of their writes
/// completed before it was invoked (all go before it, none after: its value); or a
/// required write that every other of their writes completed before it was invoked (it
/// goes last of them: its value).
fn commit_points(steps: &[Step]) -> Vec<(usize, Value)> {
    let mut points = Vec::new();
    let mut latest_completion = 0;
    // The latest completion among the writes so far, and among those but the last.
    let mut writes_done: Option<u64> = None;
    let mut others_done: Option<u64> = None;
    let mut last_write: Option<&Step> = None;
    let mut last_read: Option<&Step> = None;
    for (index, step) in steps.iter().enumerate() {
        if index > 0 && latest_completion < step.invoked_at {
            let value = match (last_write, last_read) {
                (None, _) => Some(EMPTY),
                (Some(_), Some(read)) if writes_done.is_some_and(|done| done < read.invoked_at) => match read.effect {
                    Effect::Read(value) => Some(value),
                    Effect::Write { .. } => None,
                },
                (Some(write), _) => match write.effect {
                    Effect::Write { value, optional: false } if !matches!(others_done, Some(done) if done >= write.invoked_at) => {
                        Some(value)
                    }
                    _ => None,
                },
            };
            if let Some(value) = value {
                points.push((index, value));
            }
        }
        latest_completion = latest_completion.max(step.completed_at);
        match step.effect {
            Effect::Read(_) => last_read = Some(step),
            Effect::Write { .. } => {
                others_done = writes_done;
                writes_done = Some(writes_done.map_or(step.completed_at, |done| done.max(step.completed_at)));
                last_write = Some(step);
            }
        }
    }
    points
}

/// A memoised state: the first unplaced step, the placed ones past it (bit `i` of the
/// set for step `frontier + 1 + i`: `low` the first 64, `rest` the others, trailing
/// zero words trimmed so that a set has one form), and the register's value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    frontier: u32,
    value: Value,
    low: u64,
    rest: Box<[u64]>,
}

/// A fast hash for the memo (FxHash's mixing, then a finaliser): the states are small
/// integers, and the default hasher's resistance to chosen inputs is not needed here.
#[derive(Default)]
struct StateHasher(u64);

impl StateHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for StateHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(n.into());
    }
    fn write_u32(&mut self, n: u32) {
        self.add(n.into());
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        // The multiplications leave the low bits, which pick the bucket, mixed from the
        // inputs' low bits only: fold the high ones in (MurmurHash3's finaliser).
        let mut hash = self.0;
        hash = (hash ^ (hash >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash = (hash ^ (hash >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        hash ^ (hash >> 33)
    }
}

/// A choice at a state: place a write (`apply`), or skip an optional one.
#[derive(Clone, Copy, Debug)]
struct Move {
    step: u32,
    apply: bool,
}

/// What undoing back to a state restores.
#[derive(Clone, Copy, Debug)]
struct Saved {
    log_len: usize,
    frontier: usize,
    value: Value,
    placed: usize,
    required_left: usize,
}

/// A state on the search's stack, with the moves from it still to try.
struct Frame {
    saved: Saved,
    moves: Vec<Move>,
    next: usize,
}

enum Verdict {
    Linearizable,
    NotLinearizable,
    Undecided,
}

enum Entered {
    /// Every required step is placed.
    Goal,
    /// Explored before, or no move from it.
    Dead,
    OverBudget,
    /// A new state, and the moves from it; `committed` if it is past a commit point.
    Node {
        moves: Vec<Move>,
        committed: bool,
    },
}

struct Search<'a> {
    steps: &'a [Step],
    commit_points: Vec<(usize, Value)>,
    next_commit: usize,
    /// Which steps are placed, and the order they were (for undoing).
    placed: Vec<bool>,
    log: Vec<u32>,
    /// The first unplaced step.
    frontier: usize,
    value: Value,
    placed_count: usize,
    required_left: usize,
    /// States explored and found (or being found) a dead end; cleared at commit points.
    seen: HashSet<State, BuildHasherDefault<StateHasher>>,
    explored: usize,
    max_states: usize,
    /// The most steps any order placed.
    best: usize,
}

impl<'a> Search<'a> {
    fn new(steps: &'a [Step], max_states: usize) -> Self {
        Search {
            steps,
            commit_points: commit_points(steps),
            next_commit: 0,
            placed: vec![false; steps.len()],
            log: Vec::with_capacity(steps.len()),
            frontier: 0,
            value: EMPTY,
            placed_count: 0,
            required_left: steps.iter().filter(|step| step.required()).count(),
            seen: HashSet::default(),
            explored: 0,
            max_states,
            best: 0,
        }
    }

    /// Depth-first search over an explicit stack of states.
    fn run(&mut self) -> Verdict {
        let mut stack: Vec<Frame> = Vec::new();
        self.close();
        match self.enter() {
            Entered::Goal => return Verdict::Linearizable,
            Entered::Dead => return Verdict::NotLinearizable,
            Entered::OverBudget => return Verdict::Undecided,
            Entered::Node { moves, .. } => stack.push(Frame { saved: self.save(), moves, next: 0 }),
        }
        while let Some(frame) = stack.last_mut() {
            let Some(&next) = frame.moves.get(frame.next) else {
                stack.pop();
                continue;
            };
            frame.next += 1;
            let saved = frame.saved;
            self.restore(saved);
            self.play(next);
            self.close();
            match self.enter() {
                Entered::Goal => return Verdict::Linearizable,
                Entered::Dead => {}
                Entered::OverBudget => return Verdict::Undecided,
                Entered::Node { moves, committed } => {
                    if committed {
                        // Every linearization passes through this state: no going back.
                        stack.clear();
                    }
                    stack.push(Frame { saved: self.save(), moves, next: 0 });
                }
            }
        }
        Verdict::NotLinearizable
    }

    fn save(&self) -> Saved {
        Saved {
            log_len: self.log.len(),
            frontier: self.frontier,
            value: self.value,
            placed: self.placed_count,
            required_left: self.required_left,
        }
    }

    fn restore(&mut self, saved: Saved) {
        for step in self.log.drain(saved.log_len..) {
            self.placed[step as usize] = false;
        }
        self.frontier = saved.frontier;
        self.value = saved.value;
        self.placed_count = saved.placed;
        self.required_left = saved.required_left;
    }

    fn place(&mut self, index: usize) {
        self.placed[index] = true;
        self.log.push(index as u32);
        self.placed_count += 1;
        if self.steps[index].required() {
            self.required_left -= 1;
        }
        while self.frontier < self.steps.len() && self.placed[self.frontier] {
            self.frontier += 1;
        }
    }

    fn play(&mut self, chosen: Move) {
        let index = chosen.step as usize;
        if let (true, Effect::Write { value, .. }) = (chosen.apply, self.steps[index].effect) {
            self.value = value;
        }
        self.place(index);
    }

    /// Place every read that may go next and expects the current value, until none is
    /// left (see the module's notes: doing so loses no linearization).
    fn close(&mut self) {
        loop {
            let mut progressed = false;
            // The earliest completion among the unplaced steps scanned: a step invoked
            // no later than it (and than its own completion, and than every later step's
            // invocation) may go next.
            let mut deadline = u64::MAX;
            for index in self.frontier..self.steps.len() {
                let step = self.steps[index];
                if step.invoked_at > deadline {
                    break;
                }
                if self.placed[index] {
                    continue;
                }
                if step.effect == Effect::Read(self.value) {
                    self.place(index);
                    progressed = true;
                } else {
                    deadline = deadline.min(step.completed_at);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Look at the state reached: the goal, a dead end, or a new state and its moves.
    fn enter(&mut self) -> Entered {
        self.best = self.best.max(self.placed_count);
        if self.required_left == 0 {
            return Entered::Goal;
        }
        let mut committed = false;
        while let Some(&(index, value)) = self.commit_points.get(self.next_commit) {
            if index > self.frontier {
                break;
            }
            debug_assert_eq!(value, self.value, "a commit point's value is the only one possible");
            self.next_commit += 1;
            committed = true;
        }
        if committed {
            self.seen.clear();
        }
        // The window: the unplaced steps that may go next, the placed ones past the
        // frontier (each was invoked before the deadline of its time, and deadlines only
        // grow as steps are placed, so all lie in the window), and the unplaced step that
        // completes first (the one holding the deadline).
        let mut deadline = u64::MAX;
        let mut holder: Option<Step> = None;
        let mut candidates: Vec<usize> = Vec::new();
        let mut low = 0u64;
        let mut rest: Vec<u64> = Vec::new();
        for index in self.frontier..self.steps.len() {
            let step = self.steps[index];
            if step.invoked_at > deadline {
                break;
            }
            if self.placed[index] {
                let bit = index - self.frontier - 1;
                if bit < 64 {
                    low |= 1 << bit;
                } else {
                    let word = bit / 64 - 1;
                    if rest.len() <= word {
                        rest.resize(word + 1, 0);
                    }
                    rest[word] |= 1 << (bit % 64);
                }
                continue;
            }
            if step.completed_at < deadline {
                deadline = step.completed_at;
                holder = Some(step);
            }
            if let Effect::Write { .. } = step.effect {
                candidates.push(index);
            }
        }
        let state = State { frontier: self.frontier as u32, value: self.value, low, rest: rest.into_boxed_slice() };
        if !self.seen.insert(state) {
            return Entered::Dead;
        }
        self.explored += 1;
        if self.explored > self.max_states {
            return Entered::OverBudget;
        }
        // The step holding the deadline goes before anything invoked after it; if it is a
        // read of another value, a write of that value must go before it, and such a
        // write was invoked before the read completed: it is in the window.
        let needed = match holder {
            Some(Step { effect: Effect::Read(expects), .. }) if expects != self.value => {
                let writes_it = |index: &usize| matches!(self.steps[*index].effect, Effect::Write { value, .. } if value == expects);
                if !candidates.iter().any(writes_it) {
                    return Entered::Dead;
                }
                Some(expects)
            }
            _ => None,
        };
        // Try first the write the holder needs, then the writes by completion.
        candidates.sort_by_key(|&index| {
            let step = &self.steps[index];
            let wanted = matches!(step.effect, Effect::Write { value, .. } if Some(value) == needed);
            (!wanted, step.completed_at, index)
        });
        let mut moves: Vec<Move> = candidates.iter().map(|&index| Move { step: index as u32, apply: true }).collect();
        moves.extend(
            candidates
                .iter()
                .filter(|&&index| !self.steps[index].required())
                .map(|&index| Move { step: index as u32, apply: false }),
        );
        Entered::Node { moves, committed }
    }
}

#[cfg(test)]
mod tests;
