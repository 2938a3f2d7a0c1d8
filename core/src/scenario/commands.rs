//! `cmd WORD...`: a key-value command written as a Redis client sends it, mapped onto
//! the key-value machine's commands. Commands of a release this build does not run
//! yet (1.4.0's `kv_commands`) are refused as `feature-off`, as the spec says.

use alloc::string::String;
use alloc::vec::Vec;

use crate::state_machine::KvCommand;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdError {
    /// A command of a later release (`kv_commands`): the client gets `error:feature-off`.
    NotInRelease,
    /// Not a command this language knows, or its arguments are wrong: the line cannot run.
    Invalid(String),
}

/// Commands (and SET options) that 1.4.0's `kv_commands` brings.
const LATER: [&str; 8] = ["GETSET", "APPEND", "STRLEN", "GETDEL", "SCAN", "KEYS", "DBSIZE", "SETNX"];

fn bytes(word: &str) -> Vec<u8> {
    word.as_bytes().to_vec()
}

fn integer(word: &str) -> Result<i64, CmdError> {
    word.parse().map_err(|_| CmdError::Invalid(alloc::format!("{word} is not an integer")))
}

pub fn kv_command(words: &[String]) -> Result<KvCommand, CmdError> {
    let name = words[0].to_ascii_uppercase();
    let args = &words[1..];
    let arity = |ok: bool, usage: &str| {
        if ok {
            Ok(())
        } else {
            Err(CmdError::Invalid(alloc::format!("`cmd {usage}`")))
        }
    };
    match name.as_str() {
        "SET" if args.len() > 2 => Err(CmdError::NotInRelease),
        "SET" => {
            arity(args.len() == 2, "SET KEY VALUE")?;
            Ok(KvCommand::Put { key: bytes(&args[0]), value: bytes(&args[1]) })
        }
        "GET" => {
            arity(args.len() == 1, "GET KEY")?;
            Ok(KvCommand::Get { key: bytes(&args[0]) })
        }
        "DEL" | "EXISTS" => {
            arity(!args.is_empty(), "DEL|EXISTS KEY...")?;
            let keys = args.iter().map(|key| bytes(key)).collect();
            Ok(if name == "DEL" { KvCommand::Delete { keys } } else { KvCommand::Exists { keys } })
        }
        "INCR" | "DECR" => {
            arity(args.len() == 1, "INCR|DECR KEY")?;
            Ok(KvCommand::Increment { key: bytes(&args[0]), by: if name == "INCR" { 1 } else { -1 } })
        }
        "INCRBY" | "DECRBY" => {
            arity(args.len() == 2, "INCRBY|DECRBY KEY N")?;
            let by = integer(&args[1])?;
            let by = if name == "INCRBY" {
                by
            } else {
                by.checked_neg().ok_or(CmdError::Invalid(String::from("overflow")))?
            };
            Ok(KvCommand::Increment { key: bytes(&args[0]), by })
        }
        "MGET" => {
            arity(!args.is_empty(), "MGET KEY...")?;
            Ok(KvCommand::GetMany { keys: args.iter().map(|key| bytes(key)).collect() })
        }
        "MSET" => {
            arity(!args.is_empty() && args.len().is_multiple_of(2), "MSET KEY VALUE [KEY VALUE...]")?;
            Ok(KvCommand::PutMany { pairs: args.chunks(2).map(|pair| (bytes(&pair[0]), bytes(&pair[1]))).collect() })
        }
        later if LATER.contains(&later) => Err(CmdError::NotInRelease),
        other => Err(CmdError::Invalid(alloc::format!("no key-value command {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn redis_words_map_onto_the_machine() {
        assert_eq!(kv_command(&words("set k v")), Ok(KvCommand::Put { key: bytes("k"), value: bytes("v") }));
        assert_eq!(kv_command(&words("DECRBY n 3")), Ok(KvCommand::Increment { key: bytes("n"), by: -3 }));
        assert_eq!(
            kv_command(&words("MSET a 1 b 2")),
            Ok(KvCommand::PutMany { pairs: vec![(bytes("a"), bytes("1")), (bytes("b"), bytes("2"))] })
        );
        assert_eq!(kv_command(&words("SET k v NX")), Err(CmdError::NotInRelease));
        assert_eq!(kv_command(&words("APPEND k x")), Err(CmdError::NotInRelease));
        assert!(matches!(kv_command(&words("FLUSHALL")), Err(CmdError::Invalid(_))));
        assert!(matches!(kv_command(&words("INCRBY n x")), Err(CmdError::Invalid(_))));
    }
}
