use viewstamp_core::state_machine::{KvCommand, KvResult, SetCondition};

use super::*;

fn parse(text: &str) -> Result<Command, Reply> {
    Command::parse(words(text))
}

fn error_text(text: &str) -> String {
    match parse(text) {
        Err(Reply::Error(message)) => message,
        other => panic!("{text}: expected an error, got {other:?}"),
    }
}

fn kv(text: &str) -> KvCommand {
    match parse(text) {
        Ok(Command::Kv(command)) => command,
        other => panic!("{text}: expected a data command, got {other:?}"),
    }
}

fn keys(names: &str) -> Vec<Vec<u8>> {
    words(names)
}

#[test]
fn data_commands_map_to_state_machine_commands() {
    assert_eq!(kv("SET k v"), KvCommand::Put { key: b"k".to_vec(), value: b"v".to_vec() });
    assert_eq!(kv("GET k"), KvCommand::Get { key: b"k".to_vec() });
    assert_eq!(kv("DEL a b"), KvCommand::Delete { keys: keys("a b") });
    assert_eq!(kv("EXISTS a a"), KvCommand::Exists { keys: keys("a a") });
    assert_eq!(kv("INCR n"), KvCommand::Increment { key: b"n".to_vec(), by: 1 });
    assert_eq!(kv("DECR n"), KvCommand::Increment { key: b"n".to_vec(), by: -1 });
    assert_eq!(kv("INCRBY n -7"), KvCommand::Increment { key: b"n".to_vec(), by: -7 });
    assert_eq!(kv("DECRBY n 7"), KvCommand::Increment { key: b"n".to_vec(), by: -7 });
    assert_eq!(kv("MGET a b c"), KvCommand::GetMany { keys: keys("a b c") });
    let pairs = vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())];
    assert_eq!(kv("MSET a 1 b 2"), KvCommand::PutMany { pairs });
    assert_eq!(to_kv(&parse("GET k").unwrap()), Some(KvCommand::Get { key: b"k".to_vec() }));
    assert_eq!(to_kv(&parse("PING").unwrap()), None);
}

#[test]
fn command_names_are_case_insensitive() {
    assert_eq!(kv("gEt k"), kv("GET k"));
    assert_eq!(parse("client SetName x").unwrap(), Command::ClientSetName { name: b"x".to_vec() });
}

#[test]
fn connection_commands_parse() {
    assert_eq!(parse("PING").unwrap(), Command::Ping { message: None });
    assert_eq!(parse("PING hi").unwrap(), Command::Ping { message: Some(b"hi".to_vec()) });
    assert_eq!(parse("ECHO hi").unwrap(), Command::Echo { message: b"hi".to_vec() });
    assert_eq!(parse("INFO").unwrap(), Command::Info { sections: vec![] });
    assert_eq!(
        parse("INFO Server REPLICATION").unwrap(),
        Command::Info { sections: vec!["server".into(), "replication".into()] }
    );
    assert_eq!(parse("SELECT 0").unwrap(), Command::Select);
    assert_eq!(parse("READONLY").unwrap(), Command::ReadOnly);
    assert_eq!(parse("READWRITE").unwrap(), Command::ReadWrite);
    assert_eq!(parse("QUIT").unwrap(), Command::Quit);
    assert!(parse("QUIT").unwrap().closes_connection());
    assert_eq!(parse("COMMAND").unwrap(), Command::ListCommands);
    assert_eq!(parse("COMMAND DOCS").unwrap(), Command::DescribeCommands);
    assert_eq!(parse("COMMAND DOCS get set").unwrap(), Command::DescribeCommands);
    assert_eq!(parse("COMMAND COUNT").unwrap(), Command::CountCommands);
    assert_eq!(parse("CONFIG GET save").unwrap(), Command::ConfigGet { patterns: keys("save") });
    assert_eq!(parse("CLIENT GETNAME").unwrap(), Command::ClientGetName);
    assert_eq!(parse("CLIENT ID").unwrap(), Command::ClientId);
    assert_eq!(
        parse("CLIENT SETINFO LIB-NAME redis-py").unwrap(),
        Command::ClientSetInfo { attribute: LibraryAttribute::Name, value: b"redis-py".to_vec() }
    );
    assert_eq!(
        parse("CLIENT SETINFO lib-ver 5.0.1").unwrap(),
        Command::ClientSetInfo { attribute: LibraryAttribute::Version, value: b"5.0.1".to_vec() }
    );
    assert!(matches!(parse("CLIENT HELP").unwrap(), Command::Help { .. }));
    let auth = Credentials { user: Some(b"default".to_vec()), password: b"pw".to_vec() };
    assert_eq!(parse("AUTH default pw").unwrap(), Command::Auth(auth.clone()));
    assert_eq!(parse("AUTH pw").unwrap(), Command::Auth(Credentials { user: None, password: b"pw".to_vec() }));
    assert_eq!(parse("HELLO").unwrap(), Command::Hello { protocol: None, auth: None, client_name: None });
    assert_eq!(
        parse("HELLO 3 auth default pw SETNAME app").unwrap(),
        Command::Hello { protocol: Some(Protocol::Resp3), auth: Some(auth), client_name: Some(b"app".to_vec()) }
    );
    assert_eq!(
        parse("HELLO 2").unwrap(),
        Command::Hello { protocol: Some(Protocol::Resp2), auth: None, client_name: None }
    );
}

#[test]
fn wrong_arities_are_worded_as_in_redis() {
    for (text, name) in [
        ("GET", "get"),
        ("GET a b", "get"),
        ("SET k", "set"),
        ("DEL", "del"),
        ("EXISTS", "exists"),
        ("INCR", "incr"),
        ("INCRBY k", "incrby"),
        ("MGET", "mget"),
        ("MSET k", "mset"),
        ("MSET a 1 b", "mset"),
        ("ECHO", "echo"),
        ("PING a b", "ping"),
        ("Select", "select"),
        ("READONLY x", "readonly"),
        ("CLIENT", "client"),
        ("CONFIG", "config"),
        ("CLIENT SETNAME", "client|setname"),
        ("CLIENT GETNAME x", "client|getname"),
        ("CLIENT SETINFO LIB-NAME", "client|setinfo"),
        ("config get", "config|get"),
        ("COMMAND COUNT x", "command|count"),
    ] {
        assert_eq!(error_text(text), format!("ERR wrong number of arguments for '{name}' command"), "{text}");
    }
}

#[test]
fn unknown_commands_quote_their_arguments_like_redis_7() {
    assert_eq!(error_text("FOO a b"), "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
    assert_eq!(error_text("lpush"), "ERR unknown command 'lpush', with args beginning with: ");
    let long = format!("HSET {} {}", "x".repeat(120), "y".repeat(50));
    let expected =
        format!("ERR unknown command 'HSET', with args beginning with: '{}' '{}' ", "x".repeat(120), "y".repeat(5));
    assert_eq!(error_text(&long), expected, "arguments stop after 128 bytes");
    assert_eq!(error_text("CLIENT KILL x"), "ERR unknown subcommand 'KILL'. Try CLIENT HELP.");
    assert_eq!(error_text("config set a b"), "ERR unknown subcommand 'set'. Try CONFIG HELP.");
    assert_eq!(error_text("command info get"), "ERR unknown subcommand 'info'. Try COMMAND HELP.");
}

#[test]
fn bad_arguments_get_redis_texts() {
    assert_eq!(error_text("INCRBY k x"), "ERR value is not an integer or out of range");
    assert_eq!(error_text("INCRBY k 1.5"), "ERR value is not an integer or out of range");
    assert_eq!(error_text("DECRBY k -9223372036854775808"), "ERR decrement would overflow");
    assert_eq!(error_text("SELECT 1"), "ERR DB index is out of range");
    assert_eq!(error_text("SELECT x"), "ERR value is not an integer or out of range");
    assert_eq!(error_text("AUTH a b c"), "ERR syntax error");
    assert_eq!(error_text("HELLO 4"), "NOPROTO unsupported protocol version");
    assert_eq!(error_text("HELLO x"), "ERR Protocol version is not an integer or out of range");
    assert_eq!(error_text("HELLO 3 AUTH default"), "ERR Syntax error in HELLO option 'AUTH'");
    assert_eq!(error_text("HELLO 3 SETNAME"), "ERR Syntax error in HELLO option 'SETNAME'");
    assert_eq!(error_text("HELLO 3 FOO"), "ERR Syntax error in HELLO option 'FOO'");
    let bad_name = Command::parse(vec![b"CLIENT".to_vec(), b"SETNAME".to_vec(), b"a b".to_vec()]);
    assert_eq!(bad_name, Err(Reply::error("ERR Client names cannot contain spaces, newlines or special characters.")));
    assert_eq!(error_text("CLIENT SETINFO LIB-FOO x"), "ERR Unrecognized option 'LIB-FOO'");
    let bad_library =
        Command::parse(words("CLIENT SETINFO lib-name x").into_iter().chain([b"\n".to_vec()]).collect::<Vec<_>>());
    assert!(bad_library.is_err(), "five arguments is the wrong arity");
    let bad_value =
        Command::parse(vec![b"CLIENT".to_vec(), b"SETINFO".to_vec(), b"lib-name".to_vec(), b"a\nb".to_vec()]);
    assert_eq!(bad_value, Err(Reply::error("ERR lib-name cannot contain spaces, newlines or special characters.")));
}

#[test]
fn set_expiry_options_are_refused_clearly() {
    for option in ["EX", "px", "KEEPTTL", "EXAT", "PXAT"] {
        let text = error_text(&format!("SET k v {option} 10"));
        assert_eq!(
            text,
            format!("ERR SET option '{option}' is not supported: viewstamp keeps no expiry before release 1.5.0")
        );
    }
    assert_eq!(error_text("SET k v BOGUS"), "ERR syntax error");
    assert_eq!(error_text("SET k v NX XX"), "ERR syntax error");
}

fn set(condition: SetCondition, get: bool) -> KvCommand {
    KvCommand::Set { key: b"k".to_vec(), value: b"v".to_vec(), condition, get }
}

#[test]
fn release_1_4_0_commands_parse() {
    assert_eq!(kv("SET k v NX"), set(SetCondition::IfAbsent, false));
    assert_eq!(kv("set k v xx get"), set(SetCondition::IfPresent, true));
    assert_eq!(kv("SET k v GET"), set(SetCondition::Always, true));
    assert_eq!(kv("GETSET k v"), set(SetCondition::Always, true));
    assert_eq!(kv("SETNX k v"), KvCommand::SetNx { key: b"k".to_vec(), value: b"v".to_vec() });
    assert_eq!(kv("APPEND k v"), KvCommand::Append { key: b"k".to_vec(), value: b"v".to_vec() });
    assert_eq!(kv("STRLEN k"), KvCommand::StrLen { key: b"k".to_vec() });
    assert_eq!(kv("GETDEL k"), KvCommand::GetDel { key: b"k".to_vec() });
    assert_eq!(kv("KEYS user:*"), KvCommand::Keys { pattern: b"user:*".to_vec() });
    assert_eq!(kv("DBSIZE"), KvCommand::DbSize);
    assert_eq!(kv("SCAN 0"), KvCommand::Scan { cursor: 0, pattern: None, count: 10 });
    assert_eq!(
        kv("SCAN 17 MATCH a* COUNT 100 TYPE string"),
        KvCommand::Scan { cursor: 17, pattern: Some(b"a*".to_vec()), count: 100 }
    );
    assert_eq!(kv("SCAN 0 TYPE hash"), KvCommand::Scan { cursor: 0, pattern: Some(b"[]".to_vec()), count: 10 });
    assert_eq!(error_text("SCAN x"), "ERR invalid cursor");
    assert_eq!(error_text("SCAN 0 COUNT 0"), "ERR syntax error");
    assert_eq!(error_text("SCAN 0 MATCH"), "ERR syntax error");
    assert_eq!(error_text("SCAN 0 COUNT x"), "ERR value is not an integer or out of range");
    assert_eq!(error_text("STRLEN"), "ERR wrong number of arguments for 'strlen' command");
    assert_eq!(error_text("DBSIZE x"), "ERR wrong number of arguments for 'dbsize' command");
}

#[test]
fn release_1_4_0_replies_are_redis_shaped() {
    let scan = KvCommand::Scan { cursor: 0, pattern: None, count: 10 };
    let page = KvResult::Scan { cursor: 42, keys: vec![b"a".to_vec()] };
    assert_eq!(kv_reply(&scan, &page), Reply::Array(vec![Reply::bulk("42"), Reply::Array(vec![Reply::bulk("a")])]));
    let nx = set(SetCondition::IfAbsent, false);
    assert_eq!(kv_reply(&nx, &KvResult::Ok), Reply::ok());
    assert_eq!(kv_reply(&nx, &KvResult::Value(None)), Reply::Null);
    let set_nx = KvCommand::SetNx { key: b"k".to_vec(), value: b"v".to_vec() };
    assert_eq!(kv_reply(&set_nx, &KvResult::Integer(1)), Reply::Integer(1));
    let getset = set(SetCondition::Always, true);
    assert_eq!(kv_reply(&getset, &KvResult::Value(Some(b"old".to_vec()))), Reply::bulk("old"));
    assert_eq!(kv_reply(&KvCommand::DbSize, &KvResult::Integer(3)), Reply::Integer(3));
    let refused =
        KvResult::Error("feature-off: APPEND needs release 1.4.0 (kv_commands); the cluster runs 1.3.0".into());
    let append = KvCommand::Append { key: b"k".to_vec(), value: b"v".to_vec() };
    assert!(
        matches!(kv_reply(&append, &refused), Reply::Error(text) if text.starts_with("ERR feature-off: APPEND needs release 1.4.0"))
    );
}

#[test]
fn an_empty_argument_vector_is_an_error_not_a_panic() {
    assert_eq!(Command::parse(vec![]), Err(Reply::error("ERR empty command")));
    assert_eq!(
        Command::parse(vec![Vec::new()]),
        Err(Reply::error("ERR unknown command '', with args beginning with: "))
    );
}
