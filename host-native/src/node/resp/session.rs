//! Per-connection state, and the answers to commands that need neither the replicated
//! state machine nor the node's status: PING, HELLO, CLIENT, COMMAND, CONFIG GET...

use super::command::{Command, Credentials, LibraryAttribute, COMMAND_NAMES};
use super::reply::{Protocol, Reply};

/// What HELLO reports about the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFacts {
    pub version: String,
    /// `master` on the primary, `replica` elsewhere, as Redis clients expect.
    pub role: String,
}

/// What CONFIG GET answers: redis-benchmark reads `save` and `appendonly` at start and
/// warns when they are missing. Every op is on disk before it commits, hence `yes`.
const CONFIG_PARAMETERS: &[(&str, &str)] = &[("save", ""), ("appendonly", "yes")];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: u64,
    pub protocol: Protocol,
    pub name: Option<Vec<u8>>,
    pub library_name: Option<Vec<u8>>,
    pub library_version: Option<Vec<u8>>,
    /// Set by READONLY: this connection accepts reads from a backup or standby.
    pub readonly: bool,
}

impl Session {
    pub fn new(id: u64) -> Self {
        Self { id, protocol: Protocol::Resp2, name: None, library_name: None, library_version: None, readonly: false }
    }

    /// The reply to a connection-level command, or `None` for `Kv` and `Info`, which the
    /// node answers.
    pub fn answer_local(&mut self, command: &Command, server: &ServerFacts) -> Option<Reply> {
        let reply = match command {
            Command::Kv(_) | Command::Info { .. } => return None,
            Command::Ping { message: None } => Reply::Status(String::from("PONG")),
            Command::Ping { message: Some(message) } => Reply::bulk(message.clone()),
            Command::Echo { message } => Reply::bulk(message.clone()),
            Command::Hello { protocol, auth, client_name } => {
                if let Some(error) = auth.as_ref().and_then(check_credentials) {
                    return Some(error);
                }
                if let Some(protocol) = protocol {
                    self.protocol = *protocol;
                }
                if let Some(name) = client_name {
                    self.set_name(name);
                }
                self.hello_reply(server)
            }
            Command::Auth(credentials) => check_credentials(credentials).unwrap_or_else(Reply::ok),
            Command::Select | Command::Quit => Reply::ok(),
            Command::ClientSetName { name } => {
                self.set_name(name);
                Reply::ok()
            }
            Command::ClientGetName => Reply::optional_bulk(self.name.clone()),
            Command::ClientSetInfo { attribute, value } => {
                let value = Some(value.clone()).filter(|value| !value.is_empty());
                match attribute {
                    LibraryAttribute::Name => self.library_name = value,
                    LibraryAttribute::Version => self.library_version = value,
                }
                Reply::ok()
            }
            Command::ClientId => Reply::Integer(self.id as i64),
            Command::ReadOnly => {
                self.readonly = true;
                Reply::ok()
            }
            Command::ReadWrite => {
                self.readonly = false;
                Reply::ok()
            }
            Command::ListCommands => Reply::Array(Vec::new()),
            Command::CountCommands => Reply::Integer(COMMAND_NAMES.len() as i64),
            Command::DescribeCommands => Reply::Map(Vec::new()),
            Command::ConfigGet { patterns } => config_get(patterns),
            Command::Help { lines } => Reply::Array(lines.iter().map(|line| Reply::Status(line.to_string())).collect()),
        };
        Some(reply)
    }

    /// An empty name clears it, as in Redis.
    fn set_name(&mut self, name: &[u8]) {
        self.name = Some(name.to_vec()).filter(|name| !name.is_empty());
    }

    fn hello_reply(&self, server: &ServerFacts) -> Reply {
        let field = |name: &str, value: Reply| (Reply::bulk(name), value);
        Reply::Map(vec![
            field("server", Reply::bulk("viewstamp")),
            field("version", Reply::bulk(server.version.clone())),
            field("proto", Reply::Integer(self.protocol.version())),
            field("id", Reply::Integer(self.id as i64)),
            field("mode", Reply::bulk("standalone")),
            field("role", Reply::bulk(server.role.clone())),
            field("modules", Reply::Array(Vec::new())),
        ])
    }
}

/// The node has no client passwords, like a Redis whose `default` user is `nopass`:
/// that user is accepted with any password, others are refused with Redis's texts.
fn check_credentials(credentials: &Credentials) -> Option<Reply> {
    match &credentials.user {
        None => Some(Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        )),
        Some(user) if user.as_slice() == b"default" => None,
        Some(_) => Some(Reply::error("WRONGPASS invalid username-password pair or user is disabled.")),
    }
}

fn config_get(patterns: &[Vec<u8>]) -> Reply {
    let pairs = CONFIG_PARAMETERS
        .iter()
        .filter(|(name, _)| patterns.iter().any(|pattern| glob_matches(&pattern.to_ascii_lowercase(), name.as_bytes())))
        .map(|(name, value)| (Reply::bulk(*name), Reply::bulk(*value)))
        .collect();
    Reply::Map(pairs)
}

/// Redis's glob subset for CONFIG GET: `*` and `?`. Iterative, so that a client's
/// long pattern of stars costs time proportional to its length, not stack.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut at_pattern, mut at_text) = (0, 0);
    // The last `*` seen, and the text position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while at_text < text.len() {
        match pattern.get(at_pattern) {
            Some(b'*') => {
                star = Some((at_pattern, at_text));
                at_pattern += 1;
            }
            Some(&byte) if byte == b'?' || byte == text[at_text] => {
                at_pattern += 1;
                at_text += 1;
            }
            _ => match star {
                Some((star_pattern, star_text)) => {
                    at_pattern = star_pattern + 1;
                    at_text = star_text + 1;
                    star = Some((star_pattern, star_text + 1));
                }
                None => return false,
            },
        }
    }
    pattern[at_pattern..].iter().all(|byte| *byte == b'*')
}

/// One `# Name` block of INFO's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoSection {
    pub name: String,
    pub fields: Vec<(String, String)>,
}

/// INFO's reply: the requested sections (all of them for none, `default`, `all` or
/// `everything`), matched case-insensitively, in Redis's `key:value` text.
pub fn info_reply(sections: &[InfoSection], requested: &[String]) -> Reply {
    let everything =
        requested.is_empty() || requested.iter().any(|name| matches!(name.as_str(), "default" | "all" | "everything"));
    let mut text = String::new();
    let chosen = sections
        .iter()
        .filter(|section| everything || requested.iter().any(|name| name.eq_ignore_ascii_case(&section.name)));
    for section in chosen {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str(&format!("# {}\r\n", section.name));
        for (key, value) in &section.fields {
            text.push_str(&format!("{key}:{value}\r\n"));
        }
    }
    Reply::bulk(text)
}
