//! Argument vectors to typed commands, with Redis 7's error texts for unknown commands,
//! wrong arities and bad arguments, so that clients and people see familiar messages.

use viewstamp_core::state_machine::{KvCommand, SetCondition};

use super::parse::parse_integer;
use super::reply::{Protocol, Reply};

/// A client request the node understands. Data commands become `KvCommand`s for the
/// replicated state machine; the rest are answered by the connection or the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Ping {
        message: Option<Vec<u8>>,
    },
    Echo {
        message: Vec<u8>,
    },
    /// SET, GET, DEL, EXISTS, INCR, DECR, INCRBY, DECRBY, MGET, MSET; from 1.4.0
    /// SET's NX, XX and GET, GETSET, SETNX, APPEND, STRLEN, GETDEL, SCAN, KEYS, DBSIZE.
    Kv(KvCommand),
    /// `INFO [section ...]`, sections lower-cased; the node fills in the text.
    Info {
        sections: Vec<String>,
    },
    Hello {
        protocol: Option<Protocol>,
        auth: Option<Credentials>,
        client_name: Option<Vec<u8>>,
    },
    Auth(Credentials),
    /// `SELECT 0`: the only database there is.
    Select,
    ClientSetName {
        name: Vec<u8>,
    },
    ClientGetName,
    ClientSetInfo {
        attribute: LibraryAttribute,
        value: Vec<u8>,
    },
    ClientId,
    /// Reads may be served by a backup or standby within its lag bound.
    ReadOnly,
    ReadWrite,
    /// Reply OK, then close the connection.
    Quit,
    /// `COMMAND`: the command table, which we leave empty.
    ListCommands,
    CountCommands,
    /// `COMMAND DOCS [name ...]`: redis-cli asks at start; an empty answer is valid.
    DescribeCommands,
    ConfigGet {
        patterns: Vec<Vec<u8>>,
    },
    /// `CLIENT|COMMAND|CONFIG HELP`: the lines to print.
    Help {
        lines: &'static [&'static str],
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `None` for the one-argument `AUTH password`.
    pub user: Option<Vec<u8>>,
    pub password: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibraryAttribute {
    Name,
    Version,
}

/// Names `COMMAND COUNT` reports.
pub const COMMAND_NAMES: &[&str] = &[
    "ping",
    "echo",
    "set",
    "get",
    "del",
    "exists",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "mget",
    "mset",
    "setnx",
    "getset",
    "append",
    "strlen",
    "getdel",
    "scan",
    "keys",
    "dbsize",
    "info",
    "hello",
    "auth",
    "select",
    "client",
    "readonly",
    "readwrite",
    "quit",
    "command",
    "config",
];

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
];

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands (none are described here).",
    "COUNT",
    "    Return the total number of commands.",
    "DOCS [<command-name> ...]",
    "    Return documentary information (none is kept here).",
    "HELP",
    "    Print this help.",
];

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "    Only 'save' and 'appendonly' exist; the node's settings live in its TOML file.",
    "HELP",
    "    Print this help.",
];

/// SET options Redis has and the key-value machine does not yet (expiry, from 1.5.0).
const UNSUPPORTED_SET_OPTIONS: &[&str] = &["ex", "px", "exat", "pxat", "keepttl"];
/// SCAN's COUNT when none is given, as in Redis.
const SCAN_COUNT_DEFAULT: u32 = 10;

pub fn syntax_error() -> Reply {
    Reply::error("ERR syntax error")
}

pub fn not_an_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

fn arity_error(full_name: &str) -> Reply {
    Reply::Error(format!("ERR wrong number of arguments for '{full_name}' command"))
}

/// At most `limit` bytes of `bytes`, as text.
fn clipped(bytes: &[u8], limit: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(limit)]).into_owned()
}

/// Redis 7's text: the name, then quoted arguments until 128 bytes of them are shown.
fn unknown_command(arguments: &[Vec<u8>]) -> Reply {
    let mut shown: Vec<u8> = Vec::new();
    for argument in &arguments[1..] {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        shown.push(b'\'');
        shown.extend_from_slice(&argument[..argument.len().min(room)]);
        shown.extend_from_slice(b"' ");
    }
    Reply::Error(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        clipped(&arguments[0], 128),
        String::from_utf8_lossy(&shown)
    ))
}

fn unknown_subcommand(arguments: &[Vec<u8>]) -> Reply {
    Reply::Error(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        clipped(&arguments[1], 128),
        String::from_utf8_lossy(&arguments[0]).to_uppercase()
    ))
}

/// Redis's check: a positive arity is exact, a negative one is a minimum.
fn arity_ok(arguments: &[Vec<u8>], arity: i32) -> bool {
    let count = arguments.len() as i64;
    if arity >= 0 {
        count == arity as i64
    } else {
        count >= -(arity as i64)
    }
}

fn integer_argument(bytes: &[u8]) -> Result<i64, Reply> {
    parse_integer(bytes).ok_or_else(not_an_integer)
}

/// Client names and library attributes: printable ASCII without spaces, as Redis requires.
fn is_valid_client_attribute(bytes: &[u8]) -> bool {
    bytes.iter().all(|byte| (b'!'..=b'~').contains(byte))
}

fn validate_client_name(name: &[u8]) -> Result<(), Reply> {
    if is_valid_client_attribute(name) {
        Ok(())
    } else {
        Err(Reply::error("ERR Client names cannot contain spaces, newlines or special characters."))
    }
}

impl Command {
    /// Parse a request's arguments (the command name first). `Err` is the error reply.
    /// Keys and values move into the command: values may be large, so they are not copied.
    pub fn parse(mut arguments: Vec<Vec<u8>>) -> Result<Command, Reply> {
        let Some(name) = arguments.first() else {
            return Err(Reply::error("ERR empty command"));
        };
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let arity = match name.as_str() {
            "ping" | "info" | "hello" | "quit" | "command" => -1,
            "echo" | "get" | "incr" | "decr" | "select" | "strlen" | "getdel" | "keys" => 2,
            "incrby" | "decrby" | "setnx" | "getset" | "append" => 3,
            "readonly" | "readwrite" | "dbsize" => 1,
            "scan" => -2,
            "set" | "mset" => -3,
            "del" | "exists" | "mget" | "auth" | "client" | "config" => -2,
            _ => return Err(unknown_command(&arguments)),
        };
        if !arity_ok(&arguments, arity) {
            return Err(arity_error(&name));
        }
        // The arity check above guarantees the arguments each arm takes.
        let kv = |command| Ok(Command::Kv(command));
        match name.as_str() {
            "ping" => match arguments.len() {
                1 => Ok(Command::Ping { message: None }),
                2 => Ok(Command::Ping { message: arguments.pop() }),
                _ => Err(arity_error("ping")),
            },
            "echo" => Ok(Command::Echo { message: arguments.swap_remove(1) }),
            "set" => {
                let (condition, get) = set_options(&arguments)?;
                let value = arguments.swap_remove(2);
                let key = arguments.swap_remove(1);
                // A plain SET stays the base command, which every release runs.
                if condition == SetCondition::Always && !get {
                    return kv(KvCommand::Put { key, value });
                }
                kv(KvCommand::Set { key, value, condition, get })
            }
            "setnx" => {
                let value = arguments.swap_remove(2);
                let key = arguments.swap_remove(1);
                kv(KvCommand::SetNx { key, value })
            }
            "getset" => {
                let value = arguments.swap_remove(2);
                kv(KvCommand::Set { key: arguments.swap_remove(1), value, condition: SetCondition::Always, get: true })
            }
            "append" => {
                let value = arguments.swap_remove(2);
                kv(KvCommand::Append { key: arguments.swap_remove(1), value })
            }
            "strlen" => kv(KvCommand::StrLen { key: arguments.swap_remove(1) }),
            "getdel" => kv(KvCommand::GetDel { key: arguments.swap_remove(1) }),
            "scan" => parse_scan(&mut arguments),
            "keys" => kv(KvCommand::Keys { pattern: arguments.swap_remove(1) }),
            "dbsize" => kv(KvCommand::DbSize),
            "get" => kv(KvCommand::Get { key: arguments.swap_remove(1) }),
            "del" => kv(KvCommand::Delete { keys: arguments.split_off(1) }),
            "exists" => kv(KvCommand::Exists { keys: arguments.split_off(1) }),
            "incr" => kv(KvCommand::Increment { key: arguments.swap_remove(1), by: 1 }),
            "decr" => kv(KvCommand::Increment { key: arguments.swap_remove(1), by: -1 }),
            "incrby" => {
                let by = integer_argument(&arguments[2])?;
                kv(KvCommand::Increment { key: arguments.swap_remove(1), by })
            }
            "decrby" => {
                let by = integer_argument(&arguments[2])?;
                let by = by.checked_neg().ok_or_else(|| Reply::error("ERR decrement would overflow"))?;
                kv(KvCommand::Increment { key: arguments.swap_remove(1), by })
            }
            "mget" => kv(KvCommand::GetMany { keys: arguments.split_off(1) }),
            "mset" => {
                let rest = arguments.split_off(1);
                if rest.len() % 2 == 1 {
                    return Err(arity_error("mset"));
                }
                let mut rest = rest.into_iter();
                let mut pairs = Vec::with_capacity(rest.len() / 2);
                while let (Some(key), Some(value)) = (rest.next(), rest.next()) {
                    pairs.push((key, value));
                }
                kv(KvCommand::PutMany { pairs })
            }
            "info" => Ok(Command::Info {
                sections: arguments[1..]
                    .iter()
                    .map(|section| String::from_utf8_lossy(section).to_ascii_lowercase())
                    .collect(),
            }),
            "hello" => parse_hello(&arguments),
            "auth" => match arguments.as_slice() {
                [_, password] => Ok(Command::Auth(Credentials { user: None, password: password.clone() })),
                [_, user, password] => {
                    Ok(Command::Auth(Credentials { user: Some(user.clone()), password: password.clone() }))
                }
                _ => Err(syntax_error()),
            },
            "select" => match integer_argument(&arguments[1])? {
                0 => Ok(Command::Select),
                _ => Err(Reply::error("ERR DB index is out of range")),
            },
            "readonly" => Ok(Command::ReadOnly),
            "readwrite" => Ok(Command::ReadWrite),
            "quit" => Ok(Command::Quit),
            "client" => parse_client(&arguments),
            "command" => parse_command_command(&arguments),
            "config" => parse_config(&arguments),
            _ => Err(unknown_command(&arguments)),
        }
    }

    /// Whether the connection closes after this command's reply.
    pub fn closes_connection(&self) -> bool {
        matches!(self, Command::Quit)
    }
}

/// SET's options beyond `key value`: `NX`, `XX` (not both) and `GET`; expiry is refused
/// by name, anything else as Redis does.
fn set_options(arguments: &[Vec<u8>]) -> Result<(SetCondition, bool), Reply> {
    let mut condition = SetCondition::Always;
    let mut get = false;
    for option in &arguments[3..] {
        let lowered = String::from_utf8_lossy(option).to_ascii_lowercase();
        match lowered.as_str() {
            "nx" | "xx" if condition != SetCondition::Always => return Err(syntax_error()),
            "nx" => condition = SetCondition::IfAbsent,
            "xx" => condition = SetCondition::IfPresent,
            "get" => get = true,
            unsupported if UNSUPPORTED_SET_OPTIONS.contains(&unsupported) => {
                return Err(Reply::Error(format!(
                    "ERR SET option '{}' is not supported: viewstamp keeps no expiry before release 1.5.0",
                    clipped(option, 32)
                )))
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok((condition, get))
}

/// `SCAN cursor [MATCH pattern] [COUNT count]`, with Redis's error texts.
fn parse_scan(arguments: &mut [Vec<u8>]) -> Result<Command, Reply> {
    let cursor = std::str::from_utf8(&arguments[1])
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| Reply::error("ERR invalid cursor"))?;
    let (mut pattern, mut count, mut other_type) = (None, SCAN_COUNT_DEFAULT, false);
    let mut at = 2;
    while at < arguments.len() {
        let option = String::from_utf8_lossy(&arguments[at]).to_ascii_lowercase();
        let Some(value) = arguments.get(at + 1) else { return Err(syntax_error()) };
        match option.as_str() {
            "match" => pattern = Some(value.clone()),
            "count" => match integer_argument(value)? {
                n if n >= 1 => count = n.min(u32::MAX as i64) as u32,
                _ => return Err(syntax_error()),
            },
            // Every value is a string: TYPE string filters nothing, another type everything.
            "type" => other_type = !value.eq_ignore_ascii_case(b"string"),
            _ => return Err(syntax_error()),
        }
        at += 2;
    }
    if other_type {
        // `[]` is a set of no bytes: it matches no key, and the cursor still moves on.
        pattern = Some(b"[]".to_vec());
    }
    Ok(Command::Kv(KvCommand::Scan { cursor, pattern, count }))
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`, checked in Redis's order.
fn parse_hello(arguments: &[Vec<u8>]) -> Result<Command, Reply> {
    let mut protocol = None;
    let mut next = 1;
    if let Some(version) = arguments.get(1) {
        let version = parse_integer(version)
            .ok_or_else(|| Reply::error("ERR Protocol version is not an integer or out of range"))?;
        protocol = Some(match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(Reply::error("NOPROTO unsupported protocol version")),
        });
        next = 2;
    }
    let mut auth = None;
    let mut client_name = None;
    while next < arguments.len() {
        let option = String::from_utf8_lossy(&arguments[next]).to_ascii_lowercase();
        let more = arguments.len() - 1 - next;
        if option == "auth" && more >= 2 {
            let (user, password) = (arguments[next + 1].clone(), arguments[next + 2].clone());
            auth = Some(Credentials { user: Some(user), password });
            next += 3;
        } else if option == "setname" && more >= 1 {
            validate_client_name(&arguments[next + 1])?;
            client_name = Some(arguments[next + 1].clone());
            next += 2;
        } else {
            return Err(Reply::Error(format!("ERR Syntax error in HELLO option '{}'", clipped(&arguments[next], 128))));
        }
    }
    Ok(Command::Hello { protocol, auth, client_name })
}

/// The lower-cased subcommand, after checking `command|sub`'s arity.
fn subcommand(arguments: &[Vec<u8>], arities: &[(&str, i32)]) -> Result<String, Reply> {
    let sub = String::from_utf8_lossy(&arguments[1]).to_ascii_lowercase();
    let Some((_, arity)) = arities.iter().find(|(name, _)| *name == sub) else {
        return Err(unknown_subcommand(arguments));
    };
    // Subcommand arities count the parent's name, as in Redis.
    if !arity_ok(arguments, *arity) {
        let parent = String::from_utf8_lossy(&arguments[0]).to_ascii_lowercase();
        return Err(arity_error(&format!("{parent}|{sub}")));
    }
    Ok(sub)
}

fn parse_client(arguments: &[Vec<u8>]) -> Result<Command, Reply> {
    let arities = [("setname", 3), ("getname", 2), ("setinfo", 4), ("id", 2), ("help", 2)];
    match subcommand(arguments, &arities)?.as_str() {
        "setname" => {
            validate_client_name(&arguments[2])?;
            Ok(Command::ClientSetName { name: arguments[2].clone() })
        }
        "getname" => Ok(Command::ClientGetName),
        "id" => Ok(Command::ClientId),
        "setinfo" => {
            let option = &arguments[2];
            let attribute = match String::from_utf8_lossy(option).to_ascii_lowercase().as_str() {
                "lib-name" => LibraryAttribute::Name,
                "lib-ver" => LibraryAttribute::Version,
                _ => return Err(Reply::Error(format!("ERR Unrecognized option '{}'", clipped(option, 128)))),
            };
            if !is_valid_client_attribute(&arguments[3]) {
                return Err(Reply::Error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    clipped(option, 128)
                )));
            }
            Ok(Command::ClientSetInfo { attribute, value: arguments[3].clone() })
        }
        _ => Ok(Command::Help { lines: CLIENT_HELP }),
    }
}

fn parse_command_command(arguments: &[Vec<u8>]) -> Result<Command, Reply> {
    if arguments.len() == 1 {
        return Ok(Command::ListCommands);
    }
    match subcommand(arguments, &[("docs", -2), ("count", 2), ("help", 2)])?.as_str() {
        "docs" => Ok(Command::DescribeCommands),
        "count" => Ok(Command::CountCommands),
        _ => Ok(Command::Help { lines: COMMAND_HELP }),
    }
}

fn parse_config(arguments: &[Vec<u8>]) -> Result<Command, Reply> {
    match subcommand(arguments, &[("get", -3), ("help", 2)])?.as_str() {
        "get" => Ok(Command::ConfigGet { patterns: arguments[2..].to_vec() }),
        _ => Ok(Command::Help { lines: CONFIG_HELP }),
    }
}
