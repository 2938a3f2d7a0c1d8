//! The client port's protocol: RESP requests in, typed commands, RESP replies out.
//!
//! A connection feeds its read buffer to a [`RequestParser`], turns each request into
//! a [`Command`], answers connection-level ones with [`Session::answer_local`], sends
//! data commands ([`to_kv`]) through the replicated state machine and encodes the
//! results with [`kv_reply`].

mod command;
mod inline;
mod kv;
mod parse;
mod reply;
mod session;
#[cfg(test)]
mod tests;

// The node loop is the first user of these; until it lands only tests are.
#[allow(unused_imports)]
pub use command::{Command, Credentials, LibraryAttribute, COMMAND_NAMES};
#[allow(unused_imports)]
pub use kv::kv_reply;
#[cfg(test)]
pub use kv::to_kv;
#[allow(unused_imports)]
pub use parse::{ParserLimits, ProtocolError, RequestParser};
#[allow(unused_imports)]
pub use reply::{Protocol, Reply};
#[allow(unused_imports)]
pub use session::{info_reply, InfoSection, ServerFacts, Session};
