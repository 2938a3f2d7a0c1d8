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
//! other pending completed operation finished before it began, apply it to the model,
//! and go on; backtrack when a read disagrees. Keys are checked apart.

use std::collections::{BTreeMap, HashSet};

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

/// No order of one key's operations explains what the clients saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub key: String,
    /// The operations on that key the search had to place (unknown reads left out).
    pub operations: usize,
    /// The most of them any order it tried could place.
    pub placed_at_most: usize,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "key {:?}: no linearization of its {} operations; the best order placed {}",
            self.key, self.operations, self.placed_at_most
        )
    }
}

/// Check every key of `history`; the violations, key by key (empty: linearizable).
pub fn check(history: &[Operation]) -> Vec<Violation> {
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for operation in history {
        by_key.entry(operation.key.as_str()).or_default().push(operation);
    }
    by_key.into_iter().filter_map(|(key, operations)| check_key(key, &operations).err()).collect()
}

/// One operation as the search sees it.
struct Step {
    /// `Some(value)` for a write, `None` for a read.
    writes: Option<String>,
    /// What a read must see.
    expects: Option<String>,
    invoked_at: u64,
    /// `u64::MAX` when unknown: it may be placed anywhere after its invocation.
    completed_at: u64,
    /// Must be placed: everything but unknown writes.
    required: bool,
}

fn steps_of(operations: &[&Operation]) -> Vec<Step> {
    let mut steps: Vec<Step> = operations
        .iter()
        .filter_map(|operation| {
            let step = |writes: Option<String>, expects: Option<String>, required: bool| Step {
                writes,
                expects,
                invoked_at: operation.invoked_at,
                completed_at: if required { operation.completed_at.unwrap_or(u64::MAX) } else { u64::MAX },
                required,
            };
            match (&operation.call, &operation.outcome) {
                (_, Outcome::Failed) | (Call::Read, Outcome::Unknown) => None,
                (Call::Read, Outcome::Read(seen)) => Some(step(None, seen.clone(), true)),
                (Call::Write(value), Outcome::Written) => Some(step(Some(value.clone()), None, true)),
                (Call::Write(value), Outcome::Unknown) => Some(step(Some(value.clone()), None, false)),
                // A write answered as a read, or a read as a write: the client's bug.
                (Call::Read, Outcome::Written) | (Call::Write(_), Outcome::Read(_)) => {
                    Some(step(None, Some(String::from("\u{0}impossible")), true))
                }
            }
        })
        .collect();
    steps.sort_by_key(|step| (step.invoked_at, step.completed_at));
    steps
}

fn check_key(key: &str, operations: &[&Operation]) -> Result<(), Violation> {
    let steps = steps_of(operations);
    let required = steps.iter().filter(|step| step.required).count();
    let mut search =
        Search { steps: &steps, required, seen: HashSet::new(), placed: vec![false; steps.len()], best: 0 };
    if search.explore(None, 0, 0) {
        return Ok(());
    }
    Err(Violation { key: key.to_string(), operations: steps.len(), placed_at_most: search.best.min(required) })
}

struct Search<'a> {
    steps: &'a [Step],
    /// How many steps must be placed.
    required: usize,
    /// (placed set, register value) states already explored and found a dead end.
    seen: HashSet<(Vec<bool>, Option<String>)>,
    placed: Vec<bool>,
    best: usize,
}

impl Search<'_> {
    /// Whether the steps not yet placed can be placed after `value`. `placed_required`
    /// counts the required ones placed so far, `placed_count` all of them.
    fn explore(&mut self, value: Option<String>, placed_required: usize, placed_count: usize) -> bool {
        self.best = self.best.max(placed_count);
        if placed_required == self.required {
            return true;
        }
        if !self.seen.insert((self.placed.clone(), value.clone())) {
            return false;
        }
        // Nothing may go before a required step that completed before it was invoked.
        let deadline = self
            .steps
            .iter()
            .zip(&self.placed)
            .filter(|(step, placed)| step.required && !**placed)
            .map(|(step, _)| step.completed_at)
            .min()
            .unwrap_or(u64::MAX);
        for index in 0..self.steps.len() {
            let step = &self.steps[index];
            if self.placed[index] || step.invoked_at > deadline {
                continue;
            }
            let next = match &step.writes {
                Some(written) => Some(written.clone()),
                None if step.expects == value => value.clone(),
                None => continue,
            };
            self.placed[index] = true;
            let required = placed_required + usize::from(step.required);
            if self.explore(next, required, placed_count + 1) {
                return true;
            }
            self.placed[index] = false;
        }
        false
    }
}

#[cfg(test)]
mod tests;
