//! viewstamp-core: a sans-I/O Viewstamped Replication engine.
//!
//! The protocol is a pure state machine: hosts feed it events (`handle_*`) and drain
//! its effects (`poll_*`). It reads no clock and does no I/O, so the same code runs in
//! production nodes, in the browser, in wasmtime and in the deterministic simulator.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod checksum;
pub mod member_abi;
pub mod message;
pub mod prng;
pub mod release;
pub mod replica;
pub mod scenario;
pub mod sim;
pub mod standby;
pub mod state_machine;
pub mod status_snapshot;
pub mod types;
pub mod upgrade;
pub mod wire;
