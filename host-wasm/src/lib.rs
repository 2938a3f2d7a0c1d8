//! The core compiled to WebAssembly. The browser API and the wasmtime replay ABI are
//! built on this crate (see the WebAssembly-hosts issue).
#![forbid(unsafe_code)]

pub use viewstamp_core as core;
