//! The clients' history, as the independent linearizability checker
//! (`linearizability.rs`) sees it: each operation with its invocation and its reply,
//! translated from the wire's command and result types into the checker's own, so
//! that the checker models the key-value machine without the replica's code.

use alloc::string::String;
use alloc::vec::Vec;

use super::linearizability::{self, History, KvOp, KvOutput, Presence, Verdict};
use crate::replica::sessions::SESSION_TOO_OLD;
use crate::state_machine::{KvCommand, KvResult, SetCondition, FEATURE_OFF, MALFORMED};
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

/// The model's command; `None` for key listing (SCAN, KEYS, DBSIZE), which reads
/// every key at once: the checker splits a history by key, and one op over all keys
/// would join every part into one search. Those stay out of the checked history.
/// So do pipelines, which only the RESP port makes: the simulator's clients send
/// one command at a time (its checker would see a pipeline's writes as unexplained
/// values, a failure, never a false pass).
fn op_of(command: &KvCommand) -> Option<KvOp> {
    Some(match command.clone() {
        KvCommand::Put { key, value } => KvOp::Put { key, value },
        KvCommand::Get { key } => KvOp::Get { key },
        KvCommand::Delete { keys } => KvOp::Delete { keys },
        KvCommand::Exists { keys } => KvOp::Exists { keys },
        KvCommand::Increment { key, by } => KvOp::Increment { key, by },
        KvCommand::GetMany { keys } => KvOp::GetMany { keys },
        KvCommand::PutMany { pairs } => KvOp::PutMany { pairs },
        KvCommand::Set { key, value, condition, get } => {
            let when = match condition {
                SetCondition::Always => Presence::Any,
                SetCondition::IfAbsent => Presence::Missing,
                SetCondition::IfPresent => Presence::Present,
            };
            KvOp::SetWhen { key, value, when, get }
        }
        KvCommand::SetNx { key, value } => KvOp::PutIfMissing { key, value },
        KvCommand::Append { key, value } => KvOp::Append { key, value },
        KvCommand::StrLen { key } => KvOp::Length { key },
        KvCommand::GetDel { key } => KvOp::Take { key },
        KvCommand::Scan { .. } | KvCommand::Keys { .. } | KvCommand::DbSize | KvCommand::Pipeline { .. } => {
            return None
        }
    })
}

/// Whether the checkers' history records `command` (see `op_of`).
pub fn is_checked(command: &KvCommand) -> bool {
    op_of(command).is_some()
}

fn output_of(result: &[u8]) -> KvOutput {
    match KvResult::decode(result) {
        Some(refused) if matches!(refused.error_code(), Some(FEATURE_OFF | SESSION_TOO_OLD)) => KvOutput::Refused,
        // The clients send only well-formed commands: code that cannot decode one is
        // an older release's, that never had it. It changed nothing.
        Some(KvResult::Error(text)) if text == MALFORMED => KvOutput::Refused,
        Some(KvResult::Ok) => KvOutput::Ok,
        Some(KvResult::Value(value)) => KvOutput::Value(value),
        Some(KvResult::Values(values)) => KvOutput::Values(values),
        Some(KvResult::Integer(number)) => KvOutput::Integer(number),
        Some(KvResult::Error(_)) | Some(KvResult::Scan { .. }) | Some(KvResult::Results(_)) | None => KvOutput::Error,
    }
}

impl ClientHistory {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Records an invocation; `None` for a command the history leaves out (`op_of`).
    pub fn invoke(&mut self, client: ClientId, command: &KvCommand) -> Option<usize> {
        let op = op_of(command)?;
        let at = self.tick();
        Some(self.history.invoke(client, op, at))
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
