//! The raw replay ABI for wasmtime: three exports, and the archive's two imports
//! (`archive_import.rs`).
//!
//! - `alloc(len) -> ptr`: a buffer of `len` bytes for the host to write a script into;
//! - `replay(ptr, len, flags) -> ptr`: run the script (and free its buffer); the result
//!   is a buffer in [`crate::replay`]'s format, whose first 4 bytes give its length;
//! - `dealloc(ptr, len)`: free a result buffer (or an unused script buffer).
//!
//! The member ABI (`member_abi.rs`) shares `alloc` and `dealloc`.
//!
//! Exporting functions across the wasm boundary takes `#[no_mangle]` and raw
//! pointers, which Rust counts as unsafe: that is confined to this module, and the
//! rest of the crate denies unsafe code.
#![allow(unsafe_code)]

use alloc::vec::Vec;
use core::mem::ManuallyDrop;

use crate::replay::{encode, replay as run};

/// A buffer of exactly `len` bytes whose ownership passes to the host.
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    // A boxed slice: its capacity is exactly `len`, as `dealloc` and `replay` assume.
    let mut buffer = ManuallyDrop::new(alloc::vec![0u8; len].into_boxed_slice());
    buffer.as_mut_ptr()
}

/// Free a buffer from [`alloc`] or [`replay`].
///
/// # Safety
/// `ptr` and `len` must be a buffer this module handed out and that was not freed.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    // SAFETY: the caller passes back a buffer of capacity `len` from this module.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len) });
}

/// Run the script in `ptr[..len]` (a buffer from [`alloc`], freed here) and return
/// the result buffer; the host frees it with [`dealloc`].
///
/// # Safety
/// `ptr[..len]` must be a buffer from [`alloc`] with `len` bytes written.
#[no_mangle]
pub unsafe extern "C" fn replay(ptr: *mut u8, len: usize, flags: u32) -> *mut u8 {
    // SAFETY: the caller allocated `len` bytes with `alloc` and wrote all of them.
    let script = unsafe { take(ptr, len) };
    hand_out(encode(&run(&script, flags, Some(crate::archive_import::archive()))))
}

/// Take back a buffer from [`alloc`] that the host filled: it is freed when dropped.
///
/// # Safety
/// `ptr[..len]` must be a buffer from [`alloc`] with `len` bytes written.
pub(crate) unsafe fn take(ptr: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: `alloc` made it a boxed slice of exactly `len` bytes.
    unsafe { Vec::from_raw_parts(ptr, len, len) }
}

/// Pass a result buffer to the host, which reads its length from its first 4 bytes
/// and frees it with [`dealloc`].
pub(crate) fn hand_out(result: Vec<u8>) -> *mut u8 {
    // The capacity must equal the length the host reads, so that `dealloc` frees it whole.
    let mut result = ManuallyDrop::new(result.into_boxed_slice());
    result.as_mut_ptr()
}
