//! The member ABI, version 1: one cluster member (a `Replica<KvStore>`) behind a
//! byte-in, byte-out interface, so that a host can run a member compiled from any
//! release, in wasm, next to native ones. Messages cross as the network's own wire
//! frames, so a member in wasm is wire-compatible with its peers or visibly not.
//!
//! - [`envelope`]: the types that cross, as postcard (docs/member-abi.md);
//! - [`table`]: the calls (`create`, `input`, `drop`) on the members a module holds;
//! - [`loopback`]: a tiny deterministic cluster wiring members' outputs to inputs.
//!
//! Plain Rust, tested natively; `member_abi.rs` exports it raw for wasmtime.

mod instance;
pub mod loopback;
pub mod table;

pub use viewstamp_core::member_abi::{envelope, options};

pub use envelope::{MEMBER_ABI_VERSION, SUPPORTED_ABI_VERSIONS};
pub use table::Members;

#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod tests;
