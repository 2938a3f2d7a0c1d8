//! `cmd WORD...`: a key-value command written as a Redis client sends it, mapped onto
//! the key-value machine's commands. A command of a release the cluster has not
//! committed goes to the cluster, which refuses it as `feature-off` before logging it;
//! one of a release this build does not have at all (1.5.0's transactions and expiry)
//! the client refuses itself with the same code, as the spec says.

use alloc::string::String;
use alloc::vec::Vec;

use crate::state_machine::{KvCommand, SetCondition};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdError {
    /// A command of a release this build lacks: the client gets `error:feature-off`.
    NotInRelease,
    /// Not a command this language knows, or its arguments are wrong: the line cannot run.
    Invalid(String),
}

/// Commands of 1.5.0 (`transactions`, `expiry`), which this build does not have.
const LATER: [&str; 10] =
    ["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "EXPIRE", "PEXPIRE", "TTL", "PTTL", "PERSIST"];
/// SET's expiry options, 1.5.0's too.
const LATER_SET_OPTIONS: [&str; 5] = ["EX", "PX", "EXAT", "PXAT", "KEEPTTL"];

/// `SET key value [NX|XX] [GET]`: a plain SET stays the base command, so that it runs
/// at every release.
fn set_command(args: &[String]) -> Result<KvCommand, CmdError> {
    let (key, value) = (bytes(&args[0]), bytes(&args[1]));
    let mut condition = SetCondition::Always;
    let mut get = false;
    for option in &args[2..] {
        let option = option.to_ascii_uppercase();
        match option.as_str() {
            "NX" | "XX" if condition != SetCondition::Always => {
                return Err(CmdError::Invalid(String::from("`cmd SET`: NX and XX exclude each other")))
            }
            "NX" => condition = SetCondition::IfAbsent,
            "XX" => condition = SetCondition::IfPresent,
            "GET" => get = true,
            later if LATER_SET_OPTIONS.contains(&later) => return Err(CmdError::NotInRelease),
            other => return Err(CmdError::Invalid(alloc::format!("`cmd SET`: no option {other}"))),
        }
    }
    if condition == SetCondition::Always && !get {
        return Ok(KvCommand::Put { key, value });
    }
    Ok(KvCommand::Set { key, value, condition, get })
}

/// `SCAN cursor [MATCH pattern] [COUNT n]`.
fn scan_command(args: &[String]) -> Result<KvCommand, CmdError> {
    let usage = || CmdError::Invalid(String::from("`cmd SCAN CURSOR [MATCH PATTERN] [COUNT N]`"));
    let cursor = args[0].parse::<u64>().map_err(|_| usage())?;
    let (mut pattern, mut count) = (None, 10u32);
    let mut options = args[1..].chunks(2);
    for option in &mut options {
        let [name, value] = option else { return Err(usage()) };
        match name.to_ascii_uppercase().as_str() {
            "MATCH" => pattern = Some(bytes(value)),
            "COUNT" => match value.parse::<u64>() {
                Ok(n) if n >= 1 => count = n.min(u32::MAX as u64) as u32,
                _ => return Err(usage()),
            },
            _ => return Err(usage()),
        }
    }
    Ok(KvCommand::Scan { cursor, pattern, count })
}

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
        "SET" => {
            arity(args.len() >= 2, "SET KEY VALUE [NX|XX] [GET]")?;
            set_command(args)
        }
        "GETSET" => {
            arity(args.len() == 2, "GETSET KEY VALUE")?;
            let (key, value) = (bytes(&args[0]), bytes(&args[1]));
            Ok(KvCommand::Set { key, value, condition: SetCondition::Always, get: true })
        }
        "SETNX" => {
            arity(args.len() == 2, "SETNX KEY VALUE")?;
            Ok(KvCommand::SetNx { key: bytes(&args[0]), value: bytes(&args[1]) })
        }
        "APPEND" => {
            arity(args.len() == 2, "APPEND KEY VALUE")?;
            Ok(KvCommand::Append { key: bytes(&args[0]), value: bytes(&args[1]) })
        }
        "STRLEN" | "GETDEL" => {
            arity(args.len() == 1, "STRLEN|GETDEL KEY")?;
            let key = bytes(&args[0]);
            Ok(if name == "STRLEN" { KvCommand::StrLen { key } } else { KvCommand::GetDel { key } })
        }
        "SCAN" => {
            arity(!args.is_empty(), "SCAN CURSOR [MATCH PATTERN] [COUNT N]")?;
            scan_command(args)
        }
        "KEYS" => {
            arity(args.len() == 1, "KEYS PATTERN")?;
            Ok(KvCommand::Keys { pattern: bytes(&args[0]) })
        }
        "DBSIZE" => {
            arity(args.is_empty(), "DBSIZE")?;
            Ok(KvCommand::DbSize)
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
        assert_eq!(
            kv_command(&words("SET k v nx GET")),
            Ok(KvCommand::Set { key: bytes("k"), value: bytes("v"), condition: SetCondition::IfAbsent, get: true })
        );
        assert!(matches!(kv_command(&words("SET k v NX XX")), Err(CmdError::Invalid(_))));
        assert_eq!(kv_command(&words("SET k v EX 10")), Err(CmdError::NotInRelease));
        assert_eq!(kv_command(&words("APPEND k x")), Ok(KvCommand::Append { key: bytes("k"), value: bytes("x") }));
        assert_eq!(
            kv_command(&words("SCAN 0 MATCH a* COUNT 5")),
            Ok(KvCommand::Scan { cursor: 0, pattern: Some(bytes("a*")), count: 5 })
        );
        assert!(matches!(kv_command(&words("SCAN 0 COUNT 0")), Err(CmdError::Invalid(_))));
        assert!(matches!(kv_command(&words("SCAN 0 MATCH")), Err(CmdError::Invalid(_))));
        assert_eq!(kv_command(&words("MULTI")), Err(CmdError::NotInRelease));
        assert!(matches!(kv_command(&words("FLUSHALL")), Err(CmdError::Invalid(_))));
        assert!(matches!(kv_command(&words("INCRBY n x")), Err(CmdError::Invalid(_))));
    }
}
