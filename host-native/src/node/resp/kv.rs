//! Between client commands and the key-value state machine's commands and results.

use viewstamp_core::state_machine::{KvCommand, KvResult};

use super::reply::Reply;

/// The state machine command behind a data command; `None` for the rest.
#[cfg(test)]
pub fn to_kv(command: &super::command::Command) -> Option<KvCommand> {
    match command {
        super::command::Command::Kv(kv) => Some(kv.clone()),
        _ => None,
    }
}

/// The reply Redis would give for `command`'s result. The machine's error texts are
/// Redis's own (`value is not an integer or out of range`), so they only gain `ERR`.
pub fn kv_reply(command: &KvCommand, result: &KvResult) -> Reply {
    match (command, result) {
        (_, KvResult::Error(text)) => Reply::Error(format!("ERR {text}")),
        (KvCommand::Put { .. } | KvCommand::PutMany { .. } | KvCommand::Set { .. }, KvResult::Ok) => Reply::ok(),
        (KvCommand::Get { .. } | KvCommand::Set { .. } | KvCommand::GetDel { .. }, KvResult::Value(value)) => {
            Reply::optional_bulk(value.clone())
        }
        (
            KvCommand::Delete { .. }
            | KvCommand::Exists { .. }
            | KvCommand::Increment { .. }
            | KvCommand::Append { .. }
            | KvCommand::StrLen { .. }
            | KvCommand::SetNx { .. }
            | KvCommand::DbSize,
            KvResult::Integer(n),
        ) => Reply::Integer(*n),
        (KvCommand::GetMany { .. } | KvCommand::Keys { .. }, KvResult::Values(values)) => {
            Reply::Array(values.iter().cloned().map(Reply::optional_bulk).collect())
        }
        (KvCommand::Scan { .. }, KvResult::Scan { cursor, keys }) => Reply::Array(vec![
            Reply::bulk(cursor.to_string()),
            Reply::Array(keys.iter().cloned().map(Reply::Bulk).collect()),
        ]),
        // Only a state machine from another release could answer this; say so, do not guess.
        (command, result) => Reply::Error(format!(
            "ERR internal error: the state machine answered {} with {}",
            command.name(),
            result_kind(result)
        )),
    }
}

fn result_kind(result: &KvResult) -> &'static str {
    match result {
        KvResult::Ok => "OK",
        KvResult::Value(_) => "a value",
        KvResult::Values(_) => "a list of values",
        KvResult::Integer(_) => "an integer",
        KvResult::Error(_) => "an error",
        KvResult::Scan { .. } => "a scan page",
        KvResult::Results(_) => "a pipeline's results",
    }
}
