//! A production node: the core's replica driven by tokio, with durable storage, peers
//! over TCP, a client port that speaks RESP, and an admin endpoint over HTTP.
//!
//! `runtime` is the loop around the pure replica; `engine` is which code that replica
//! runs (the current core, or an archived release's); `launch` builds a member from its
//! cluster file; the other modules are the parts it wires together.

pub mod admin;
pub mod client_port;
pub mod config;
pub mod engine;
pub mod info;
pub mod launch;
pub mod requests;
pub mod resp;
pub mod runtime;
pub mod snapshot;
pub mod storage;
pub mod transport;
