//! Archived releases inside the simulator: a member whose binary is a release the
//! host carries the real code of (releases/<version>/, a core compiled to wasm) runs
//! that code, through the member ABI (docs/member-abi.md), instead of the current core
//! acting old. The core has no wasm engine, so the host supplies one as an
//! [`ArchiveHost`]: natively `viewstamp` runs the modules in wasmtime, and the replay
//! module (the simulator itself in wasm) reaches the same modules through its imports,
//! so both engines run the same old code and give the same trace.
//!
//! Everything crosses as bytes: the ABI's own envelope in and out of a member, and
//! [`ArchiveCall`] / [`ArchiveReply`] across the replay module's import boundary.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::release::Release;

/// Runs members of archived releases, each behind the member ABI.
pub trait ArchiveHost {
    /// The archived releases this host runs the real code of, oldest first.
    fn releases(&mut self) -> Vec<Release>;
    /// A member of `release`'s module from `config` (the ABI's `member_create` argument:
    /// `abi_version` then a `Config`); the host's handle for it.
    fn create(&mut self, release: Release, config: &[u8]) -> Result<u32, String>;
    /// One `Input`'s bytes to member `handle`; its `InputReply`'s bytes.
    fn input(&mut self, handle: u32, input: &[u8]) -> Result<Vec<u8>, String>;
    /// An independent copy of member `handle` as it is now (the simulator's `Clone`,
    /// which the browser's time travel uses); the copy's handle.
    fn duplicate(&mut self, handle: u32) -> Result<u32, String>;
    /// Forget member `handle`.
    fn forget(&mut self, handle: u32);
}

/// The archive a simulator shares with its members (and with its clones).
pub type SharedArchive = Rc<RefCell<dyn ArchiveHost>>;

/// One call across the replay module's import (`viewstamp_archive::call`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveCall {
    Releases,
    Create { release: Release, config: Vec<u8> },
    Input { handle: u32, input: Vec<u8> },
    Duplicate { handle: u32 },
    Forget { handle: u32 },
}

/// What a call answers; `Failed` carries the host's error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveReply {
    Releases(Vec<Release>),
    Handle(u32),
    Bytes(Vec<u8>),
    Done,
    Failed(String),
}

/// Serve one call on `host`: what the replay engine's import does.
pub fn serve(host: &mut dyn ArchiveHost, call: ArchiveCall) -> ArchiveReply {
    let handle_or = |result: Result<u32, String>| result.map_or_else(ArchiveReply::Failed, ArchiveReply::Handle);
    match call {
        ArchiveCall::Releases => ArchiveReply::Releases(host.releases()),
        ArchiveCall::Create { release, config } => handle_or(host.create(release, &config)),
        ArchiveCall::Input { handle, input } => {
            host.input(handle, &input).map_or_else(ArchiveReply::Failed, ArchiveReply::Bytes)
        }
        ArchiveCall::Duplicate { handle } => handle_or(host.duplicate(handle)),
        ArchiveCall::Forget { handle } => {
            host.forget(handle);
            ArchiveReply::Done
        }
    }
}

/// An [`ArchiveHost`] reached through one byte call (the replay module's import):
/// `call` takes an encoded [`ArchiveCall`] and gives back an encoded [`ArchiveReply`].
pub struct RemoteArchive<F: FnMut(&[u8]) -> Vec<u8>> {
    call: F,
}

impl<F: FnMut(&[u8]) -> Vec<u8>> RemoteArchive<F> {
    pub fn new(call: F) -> Self {
        Self { call }
    }

    fn ask(&mut self, call: &ArchiveCall) -> ArchiveReply {
        let bytes = postcard::to_allocvec(call).expect("archive calls always encode");
        let reply = (self.call)(&bytes);
        postcard::from_bytes(&reply)
            .unwrap_or_else(|error| ArchiveReply::Failed(alloc::format!("the archive host answered nonsense: {error}")))
    }

    fn handle(&mut self, call: &ArchiveCall) -> Result<u32, String> {
        match self.ask(call) {
            ArchiveReply::Handle(handle) => Ok(handle),
            ArchiveReply::Failed(why) => Err(why),
            other => Err(alloc::format!("the archive host answered {other:?} to a call for a handle")),
        }
    }
}

impl<F: FnMut(&[u8]) -> Vec<u8>> ArchiveHost for RemoteArchive<F> {
    fn releases(&mut self) -> Vec<Release> {
        match self.ask(&ArchiveCall::Releases) {
            ArchiveReply::Releases(releases) => releases,
            _ => Vec::new(),
        }
    }
    fn create(&mut self, release: Release, config: &[u8]) -> Result<u32, String> {
        self.handle(&ArchiveCall::Create { release, config: config.to_vec() })
    }
    fn input(&mut self, handle: u32, input: &[u8]) -> Result<Vec<u8>, String> {
        match self.ask(&ArchiveCall::Input { handle, input: input.to_vec() }) {
            ArchiveReply::Bytes(bytes) => Ok(bytes),
            ArchiveReply::Failed(why) => Err(why),
            other => Err(alloc::format!("the archive host answered {other:?} to an input")),
        }
    }
    fn duplicate(&mut self, handle: u32) -> Result<u32, String> {
        self.handle(&ArchiveCall::Duplicate { handle })
    }
    fn forget(&mut self, handle: u32) {
        let _ = self.ask(&ArchiveCall::Forget { handle });
    }
}
