//! A miniature node: bytes in, bytes out, with a real KvStore behind the data commands.

use viewstamp_core::state_machine::{KvCommand, KvResult, KvStore};

use super::*;

struct MiniServer {
    parser: RequestParser,
    session: Session,
    store: KvStore,
    buffer: Vec<u8>,
    closed: bool,
}

impl MiniServer {
    fn new() -> Self {
        Self {
            parser: RequestParser::new(ParserLimits::default()),
            session: Session::new(7),
            store: KvStore::new(),
            buffer: Vec::new(),
            closed: false,
        }
    }

    fn info() -> Vec<InfoSection> {
        vec![
            InfoSection { name: "Server".into(), fields: vec![("viewstamp_version".into(), "0.1.0".into())] },
            InfoSection { name: "Replication".into(), fields: vec![("role".into(), "master".into())] },
        ]
    }

    fn feed(&mut self, bytes: &[u8]) -> String {
        let facts = ServerFacts { version: "0.1.0".into(), role: "master".into() };
        let mut out = Vec::new();
        self.buffer.extend_from_slice(bytes);
        while !self.closed {
            let (arguments, consumed) = match self.parser.parse(&self.buffer) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(error) => {
                    error.to_reply().encode_into(self.session.protocol, &mut out);
                    self.closed = true;
                    break;
                }
            };
            self.buffer.drain(..consumed);
            if arguments.is_empty() {
                continue;
            }
            let reply = match Command::parse(arguments) {
                Err(reply) => reply,
                Ok(command) => {
                    self.closed = command.closes_connection();
                    match (&command, to_kv(&command)) {
                        (Command::Info { sections }, _) => info_reply(&Self::info(), sections),
                        (_, Some(kv)) => {
                            let result = self.store.execute(kv.clone());
                            kv_reply(&kv, &result)
                        }
                        (_, None) => self.session.answer_local(&command, &facts).expect("a local command"),
                    }
                }
            };
            reply.encode_into(self.session.protocol, &mut out);
        }
        String::from_utf8(out).unwrap()
    }
}

fn run(requests: &[&str]) -> String {
    let mut server = MiniServer::new();
    let mut bytes = Vec::new();
    for text in requests {
        let arguments: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
        bytes.extend(request(&arguments));
    }
    server.feed(&bytes)
}

#[test]
fn data_commands_reply_as_redis_does() {
    assert_eq!(run(&["SET k v", "GET k", "GET missing"]), "+OK\r\n$1\r\nv\r\n$-1\r\n");
    assert_eq!(run(&["MSET a 1 b 2", "MGET a x b"]), "+OK\r\n*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
    assert_eq!(run(&["SET a 1", "EXISTS a a b", "DEL a b", "EXISTS a"]), "+OK\r\n:2\r\n:1\r\n:0\r\n");
    assert_eq!(
        run(&["INCR n", "INCRBY n 10", "DECR n", "DECRBY n 3", "GET n"]),
        ":1\r\n:11\r\n:10\r\n:7\r\n$1\r\n7\r\n"
    );
}

#[test]
fn incr_errors_come_from_the_state_machine_in_redis_words() {
    assert_eq!(run(&["SET s abc", "INCR s"]), "+OK\r\n-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        run(&["SET m 9223372036854775807", "INCR m", "GET m"]),
        "+OK\r\n-ERR increment or decrement would overflow\r\n$19\r\n9223372036854775807\r\n"
    );
}

#[test]
fn a_mismatched_result_is_an_error_not_a_panic() {
    let reply = kv_reply(&KvCommand::Get { key: b"k".to_vec() }, &KvResult::Integer(3));
    assert_eq!(reply, Reply::error("ERR internal error: the state machine answered GET with an integer"));
}

#[test]
fn connection_commands_answer_locally() {
    assert_eq!(run(&["PING", "PING hi", "ECHO yo"]), "+PONG\r\n$2\r\nhi\r\n$2\r\nyo\r\n");
    assert_eq!(run(&["CLIENT GETNAME", "CLIENT SETNAME app", "CLIENT GETNAME"]), "$-1\r\n+OK\r\n$3\r\napp\r\n");
    assert_eq!(
        run(&["CLIENT SETINFO LIB-NAME redis-py", "CLIENT SETINFO LIB-VER 5.0.1", "CLIENT ID"]),
        "+OK\r\n+OK\r\n:7\r\n"
    );
    assert_eq!(run(&["READONLY", "READWRITE", "SELECT 0"]), "+OK\r\n+OK\r\n+OK\r\n");
    assert_eq!(run(&["COMMAND", "COMMAND DOCS", "COMMAND COUNT"]), format!("*0\r\n*0\r\n:{}\r\n", COMMAND_NAMES.len()));
    assert!(run(&["CLIENT HELP"]).starts_with("*13\r\n+CLIENT <subcommand>"));
}

#[test]
fn readonly_is_remembered_by_the_session() {
    let mut server = MiniServer::new();
    server.feed(b"READONLY\r\n");
    assert!(server.session.readonly);
    server.feed(b"READWRITE\r\n");
    assert!(!server.session.readonly);
}

#[test]
fn config_get_answers_what_redis_benchmark_reads() {
    assert_eq!(run(&["CONFIG GET save"]), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    assert_eq!(run(&["CONFIG GET appendonly"]), "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n");
    assert_eq!(run(&["CONFIG GET *"]), "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n");
    assert_eq!(run(&["CONFIG GET SAV?"]), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    assert_eq!(run(&["CONFIG GET maxmemory"]), "*0\r\n");
    let stars = format!("CONFIG GET {}x", "*".repeat(100_000));
    assert_eq!(run(&[stars.as_str()]), "*0\r\n", "a long pattern is cheap and safe");
}

#[test]
fn hello_switches_protocol_and_reports_the_server() {
    let mut server = MiniServer::new();
    let hello2 = "*14\r\n$6\r\nserver\r\n$9\r\nviewstamp\r\n$7\r\nversion\r\n$5\r\n0.1.0\r\n$5\r\nproto\r\n:2\r\n\
                  $2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    assert_eq!(server.feed(b"HELLO\r\n"), hello2);
    let reply = server.feed(&request(&[b"HELLO", b"3", b"SETNAME", b"app"]));
    assert!(reply.starts_with("%7\r\n$6\r\nserver\r\n"), "{reply}");
    assert!(reply.contains("$5\r\nproto\r\n:3\r\n"), "{reply}");
    assert_eq!(server.session.name.as_deref(), Some(&b"app"[..]));
    assert_eq!(server.feed(b"GET nothing\r\nMGET a\r\n"), "_\r\n*1\r\n_\r\n", "RESP3 nulls");
    assert_eq!(server.feed(b"CONFIG GET save\r\n"), "%1\r\n$4\r\nsave\r\n$0\r\n\r\n", "RESP3 maps");
    server.feed(b"HELLO 2\r\n");
    assert_eq!(server.feed(b"GET nothing\r\n"), "$-1\r\n");
}

#[test]
fn hello_and_auth_accept_only_the_default_user() {
    assert!(run(&["HELLO 3 AUTH default secret"]).starts_with("%7\r\n"));
    assert_eq!(
        run(&["HELLO 3 AUTH alice secret", "GET x"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n$-1\r\n",
        "a refused HELLO leaves the protocol unchanged"
    );
    assert_eq!(run(&["AUTH default x"]), "+OK\r\n");
    assert!(run(&["AUTH x"]).starts_with("-ERR AUTH <password> called without any password configured"));
    assert_eq!(run(&["HELLO 4"]), "-NOPROTO unsupported protocol version\r\n");
}

#[test]
fn info_returns_the_requested_sections() {
    let all = "$65\r\n# Server\r\nviewstamp_version:0.1.0\r\n\r\n# Replication\r\nrole:master\r\n\r\n";
    assert_eq!(run(&["INFO"]), all);
    assert_eq!(run(&["INFO all"]), all);
    assert_eq!(run(&["INFO replication"]), "$28\r\n# Replication\r\nrole:master\r\n\r\n");
    assert_eq!(run(&["INFO nothing"]), "$0\r\n\r\n");
}

#[test]
fn quit_replies_then_stops_reading() {
    let mut server = MiniServer::new();
    assert_eq!(server.feed(b"PING\r\nQUIT\r\nPING\r\n"), "+PONG\r\n+OK\r\n");
    assert!(server.closed);
}

#[test]
fn a_protocol_error_is_replied_and_closes_after_earlier_replies() {
    let mut server = MiniServer::new();
    assert_eq!(server.feed(b"PING\r\n*1\r\nx"), "+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n");
    assert!(server.closed);
}

#[test]
fn errors_do_not_stop_a_pipeline() {
    assert_eq!(
        run(&["FOO", "GET", "SET k v", "GET k"]),
        "-ERR unknown command 'FOO', with args beginning with: \r\n\
         -ERR wrong number of arguments for 'get' command\r\n+OK\r\n$1\r\nv\r\n"
    );
}

#[test]
fn a_pipeline_split_into_single_bytes_gives_the_same_replies() {
    let mut bytes = request(&[b"SET", b"k", b"v"]);
    bytes.extend_from_slice(b"GET k\r\nINCR k\r\n");
    let whole = MiniServer::new().feed(&bytes);
    let mut server = MiniServer::new();
    let pieces: String = bytes.iter().map(|byte| server.feed(&[*byte])).collect();
    assert_eq!(pieces, whole);
    assert_eq!(whole, "+OK\r\n$1\r\nv\r\n-ERR value is not an integer or out of range\r\n");
}

#[test]
fn what_redis_tools_send_at_start_gets_useful_answers() {
    // Observed with a logging server: redis-cli 7.0 sends COMMAND DOCS, redis-benchmark
    // sends CONFIG GET save and CONFIG GET appendonly, redis-py sends CLIENT SETINFO.
    let replies =
        run(&["COMMAND DOCS", "CONFIG GET save", "CONFIG GET appendonly", "CLIENT SETINFO LIB-NAME redis-py"]);
    assert!(!replies.contains('-'), "{replies}");
}
