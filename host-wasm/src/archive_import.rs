//! The replay module's way to its host's archived releases: a simulator running in
//! wasm cannot instantiate another module, so it asks the host (wasmtime, which runs
//! each archived member in an instance of its own) through two imports of module
//! `viewstamp_archive`:
//!
//! - `call(ptr, len) -> len`: one postcard `ArchiveCall` in `ptr[..len]`; the host keeps
//!   the postcard `ArchiveReply` and answers its length;
//! - `take(ptr)`: the host copies that reply into `ptr` (a buffer of that length).
//!
//! Two steps, so the host never calls back into this module.
#![allow(unsafe_code)]

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use viewstamp_core::sim::archive::{RemoteArchive, SharedArchive};

#[link(wasm_import_module = "viewstamp_archive")]
extern "C" {
    fn call(ptr: *const u8, len: usize) -> usize;
    fn take(ptr: *mut u8);
}

fn call_host(request: &[u8]) -> Vec<u8> {
    // SAFETY: the host reads `request` (valid for its length) and keeps the reply;
    // `take` then writes exactly the announced length into a buffer of that length.
    unsafe {
        let len = call(request.as_ptr(), request.len());
        let mut reply = alloc::vec![0u8; len];
        take(reply.as_mut_ptr());
        reply
    }
}

/// The host's archive, for one run.
pub fn archive() -> SharedArchive {
    Rc::new(RefCell::new(RemoteArchive::new(call_host)))
}
