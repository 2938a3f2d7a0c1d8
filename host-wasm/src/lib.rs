//! The core compiled to WebAssembly, two ways from one crate:
//! - feature `replay-abi`: raw exports for wasmtime (`viewstamp replay --engine wasm`,
//!   and the member ABI, [`member`]); its only imports reach the host's archived
//!   releases (`viewstamp_archive`): no JS, no WASI clock or randomness;
//! - feature `browser`: the browser API through wasm-bindgen ([`browser`]).
//!
//! The logic behind them ([`replay`], [`member`], [`session`]) is plain Rust, tested natively.
#![deny(unsafe_code)]

extern crate alloc;

pub use viewstamp_core as core;

#[cfg(all(feature = "replay-abi", target_family = "wasm"))]
mod abi;
#[cfg(all(feature = "replay-abi", target_family = "wasm"))]
mod archive_import;
#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "browser")]
pub mod browser_archive;
pub mod member;
#[cfg(all(feature = "replay-abi", target_family = "wasm"))]
mod member_abi;
pub mod replay;
pub mod session;
