//! The clients' history, as the independent linearizability checker
//! (`linearizability.rs`) sees it: each operation with its invocation and its reply,
//! translated from the wire's command and result types into the checker's own, so
//! that the checker models the key-value machine without the replica's code.

use alloc::string::String;
use alloc::vec::Vec;

use super::linearizability::{self, History, KvOp, KvOutput, Verdict};
use crate::state_machine::{KvCommand, KvResult};
use crate::types::ClientId;

/// Search steps one check may take before it gives up (and says so).
const CHECK_BUDGET_STEPS: u64 = 20_000_000;

#[derive(Clone, Debug, Default)]
pub struct ClientHistory {
    history: History,
    /// Orders every invocation and completion: real time, finer than ticks.
    clock: u64,
    /// Operations already found linearizable, and what was found.
    checked_len: usize,
    checked_completions: usize,
    completions: usize,
    verdict: Option<String>,
    pub inconclusive_checks: u64,
}

fn op_of(command: &KvCommand) -> KvOp {
    match command.clone() {
        KvCommand::Put { key, value } => KvOp::Put { key, value },
        KvCommand::Get { key } => KvOp::Get { key },
        KvCommand::Delete { keys } => KvOp::Delete { keys },
        KvCommand::Exists { keys } => KvOp::Exists { keys },
        KvCommand::Increment { key, by } => KvOp::Increment { key, by },
        KvCommand::GetMany { keys } => KvOp::GetMany { keys },
        KvCommand::PutMany { pairs } => KvOp::PutMany { pairs },
    }
}

fn output_of(result: &[u8]) -> KvOutput {
    match KvResult::decode(result) {
        Some(KvResult::Ok) => KvOutput::Ok,
        Some(KvResult::Value(value)) => KvOutput::Value(value),
        Some(KvResult::Values(values)) => KvOutput::Values(values),
        Some(KvResult::Integer(number)) => KvOutput::Integer(number),
        Some(KvResult::Error(_)) | None => KvOutput::Error,
    }
}

impl ClientHistory {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub fn invoke(&mut self, client: ClientId, command: &KvCommand) -> usize {
        let at = self.tick();
        self.history.invoke(client, op_of(command), at)
    }

    pub fn complete(&mut self, index: usize, result: &[u8]) {
        let at = self.tick();
        self.history.complete(index, at, output_of(result));
        self.completions += 1;
    }

    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// A violation found in the history so far, if any. Cached: the search runs again
    /// only once the history grew.
    pub fn violation(&mut self) -> Option<String> {
        if self.verdict.is_some() {
            return self.verdict.clone();
        }
        if self.checked_len == self.history.len() && self.checked_completions == self.completions {
            return None;
        }
        self.checked_len = self.history.len();
        self.checked_completions = self.completions;
        match linearizability::check(self.history.operations(), CHECK_BUDGET_STEPS) {
            Verdict::Linearizable => None,
            Verdict::Inconclusive => {
                self.inconclusive_checks += 1;
                None
            }
            Verdict::Violation(report) => {
                let text = alloc::format!("the clients' history is not linearizable: {report}");
                self.verdict = Some(text.clone());
                Some(text)
            }
        }
    }

    pub fn operations(&self) -> Vec<linearizability::Operation> {
        self.history.operations().to_vec()
    }
}
