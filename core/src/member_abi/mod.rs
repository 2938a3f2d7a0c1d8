//! The member ABI's envelope, version 1 (docs/member-abi.md): the types that cross
//! between a host and one member compiled from any release, as postcard. They live in
//! the core because both sides speak them: a module's member table (`host-wasm`)
//! answers in them, and the simulator reads them when a member runs archived code.

pub mod envelope;
pub mod options;
