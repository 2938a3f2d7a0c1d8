//! The member ABI's raw exports for wasmtime (docs/member-abi.md), next to the replay
//! ABI's and sharing its `alloc` and `dealloc`:
//!
//! - `member_abi_version() -> u32`: the ABI version this module speaks (1);
//! - `member_create(ptr, len) -> ptr`: create a member from `abi_version` and a
//!   `Config` (a buffer from `alloc`, freed here); the reply buffer holds a `CreateReply`;
//! - `member_input(handle, ptr, len) -> ptr`: feed member `handle` one `Input` (freed
//!   here); the reply buffer holds an `InputReply`;
//! - `member_drop(handle) -> u32`: forget a member; 1 if there was one.
//!
//! A reply buffer starts with its total length as a little-endian `u32`, then the
//! postcard body ([`crate::member::envelope::prefixed`]); the host frees it with `dealloc`.
//! Like `abi.rs`, this is the only place the member ABI needs unsafe code.
#![allow(unsafe_code)]

use std::sync::{Mutex, MutexGuard};

use crate::abi::{hand_out, take};
use crate::member::envelope::prefixed;
use crate::member::{Members, MEMBER_ABI_VERSION};

/// The module's members. wasm32-unknown-unknown has one thread: the lock never waits,
/// it only keeps this safe Rust.
static MEMBERS: Mutex<Members> = Mutex::new(Members::new());

fn members() -> MutexGuard<'static, Members> {
    // A panic traps the whole instance, so a poisoned lock is never seen again.
    MEMBERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[no_mangle]
pub extern "C" fn member_abi_version() -> u32 {
    MEMBER_ABI_VERSION
}

/// # Safety
/// `ptr[..len]` must be a buffer from `alloc` with `len` bytes written.
#[no_mangle]
pub unsafe extern "C" fn member_create(ptr: *mut u8, len: usize) -> *mut u8 {
    // SAFETY: the caller allocated `len` bytes with `alloc` and wrote all of them.
    let config = unsafe { take(ptr, len) };
    hand_out(prefixed(&members().create(&config)))
}

/// # Safety
/// `ptr[..len]` must be a buffer from `alloc` with `len` bytes written.
#[no_mangle]
pub unsafe extern "C" fn member_input(handle: u32, ptr: *mut u8, len: usize) -> *mut u8 {
    // SAFETY: the caller allocated `len` bytes with `alloc` and wrote all of them.
    let input = unsafe { take(ptr, len) };
    hand_out(prefixed(&members().input(handle, &input)))
}

#[no_mangle]
pub extern "C" fn member_drop(handle: u32) -> u32 {
    u32::from(members().remove(handle))
}
