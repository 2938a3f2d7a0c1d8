//! Members behind the member ABI (docs/member-abi.md), from either engine: a
//! [`WasmMember`] runs the embedded module in wasmtime, a [`NativeMember`] the same
//! plain Rust compiled into this binary. Both answer the same bytes, so a caller (the
//! simulator's mixed clusters, next) can swap one for the other.
// `NativeMember` is for the tests; the node is the caller to come.
#![allow(dead_code)]

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use viewstamp_wasm::member::envelope::{
    announced_len, from_exact_bytes, to_bytes, CreateError, CreateReply, Input, InputReply, Output,
};
use viewstamp_wasm::member::{Members, MEMBER_ABI_VERSION};
use wasmtime::{Instance, Memory, Store, TypedFunc};

use super::{broken, trapped, HostState, WasmEngine, WasmError, EPOCH_TICK};

/// How long one call may run in wasm: far beyond any one input, so only a member
/// stuck in a loop reaches it.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// What keeps a member from answering.
#[derive(Debug)]
pub enum MemberError {
    /// `create` refused: another ABI version, or a config the core would refuse.
    Refused(CreateError),
    /// No member has this handle: it was dropped (a caller's bug).
    NoMember { handle: u32 },
    /// The bytes are not an `Input`: nothing happened.
    Malformed(String),
    /// The wasm engine did not run, or the module broke the ABI or trapped.
    Wasm(WasmError),
}

/// One member, spoken to in the ABI's bytes.
pub trait MemberEngine {
    /// One `Input`'s postcard bytes in, the `InputReply`'s postcard bytes out.
    fn input_bytes(&mut self, input: &[u8]) -> Result<Vec<u8>, MemberError>;

    fn input(&mut self, input: &Input) -> Result<Output, MemberError> {
        let reply = self.input_bytes(&to_bytes(input))?;
        match from_exact_bytes::<InputReply>(&reply) {
            Ok(InputReply::Output(output)) => Ok(output),
            Ok(InputReply::NoMember { handle }) => Err(MemberError::NoMember { handle }),
            Ok(InputReply::Malformed(why)) => Err(MemberError::Malformed(why)),
            Err(why) => Err(MemberError::Wasm(broken(format!("a reply that is not an InputReply: {why}")))),
        }
    }
}

/// The handle a `CreateReply` gives, or why there is none.
fn created(reply: &[u8]) -> Result<u32, MemberError> {
    match from_exact_bytes::<CreateReply>(reply) {
        Ok(CreateReply::Created { handle }) => Ok(handle),
        Ok(CreateReply::Refused(error)) => Err(MemberError::Refused(error)),
        Err(why) => Err(MemberError::Wasm(broken(format!("a reply that is not a CreateReply: {why}")))),
    }
}

/// A member run natively, through the same calls the wasm module exports.
pub struct NativeMember {
    members: Members,
    handle: u32,
}

impl NativeMember {
    /// `config`: `abi_version` and a `Config`, as `envelope::encode_config` writes them.
    pub fn create(config: &[u8]) -> Result<NativeMember, MemberError> {
        let mut members = Members::new();
        let handle = created(&members.create(config))?;
        Ok(NativeMember { members, handle })
    }
}

impl MemberEngine for NativeMember {
    fn input_bytes(&mut self, input: &[u8]) -> Result<Vec<u8>, MemberError> {
        Ok(self.members.input(self.handle, input))
    }
}

/// A member in its own wasmtime instance of the embedded module, set up as the replay
/// engine's runs are: deterministic, importing nothing, bounded in memory and time.
pub struct WasmMember {
    engine: &'static WasmEngine,
    store: Store<HostState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    input: TypedFunc<(u32, u32, u32), u32>,
    handle: u32,
}

impl WasmMember {
    /// `config`: `abi_version` and a `Config`, as `envelope::encode_config` writes them.
    pub fn create(config: &[u8]) -> Result<WasmMember, MemberError> {
        WasmMember::create_in(WasmEngine::shared().map_err(MemberError::Wasm)?, config)
    }

    /// A member of another module than the embedded one: an archived release's
    /// (`releases/<version>/viewstamp-core-<version>.wasm`). The module is checked and
    /// compiled as the embedded one is, once per process for each distinct module.
    pub fn from_module_bytes(module: &[u8], config: &[u8]) -> Result<WasmMember, MemberError> {
        static COMPILED: Mutex<Vec<(Vec<u8>, &'static WasmEngine)>> = Mutex::new(Vec::new());
        let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
        let engine = match compiled.iter().find(|(bytes, _)| bytes.as_slice() == module) {
            Some((_, engine)) => *engine,
            None => {
                let engine: &'static WasmEngine =
                    Box::leak(Box::new(WasmEngine::compile(module).map_err(wasm_broken)?));
                compiled.push((module.to_vec(), engine));
                engine
            }
        };
        drop(compiled);
        WasmMember::create_in(engine, config)
    }

    fn create_in(engine: &'static WasmEngine, config: &[u8]) -> Result<WasmMember, MemberError> {
        let (mut member, instance) = WasmMember::instance_of(engine)?;
        let create =
            instance.get_typed_func::<(u32, u32), u32>(&mut member.store, "member_create").map_err(wasm_broken)?;
        let (at, len) = member.write(config)?;
        let reply_at = create.call(&mut member.store, (at, len)).map_err(wasm_trapped)?;
        member.handle = created(&member.read_reply(reply_at)?)?;
        Ok(member)
    }

    /// A fresh instance of `engine`'s module that speaks this host's ABI, no member yet.
    fn instance_of(engine: &'static WasmEngine) -> Result<(WasmMember, Instance), MemberError> {
        let mut store = engine.store(None);
        store.set_epoch_deadline(deadline_ticks());
        let instance = engine.instantiate(&mut store).map_err(wasm_broken)?;
        let version = instance.get_typed_func::<(), u32>(&mut store, "member_abi_version").map_err(wasm_broken)?;
        let speaks = version.call(&mut store, ()).map_err(wasm_trapped)?;
        if speaks != MEMBER_ABI_VERSION {
            let why = format!("the module speaks member ABI {speaks}, this host {MEMBER_ABI_VERSION}");
            return Err(MemberError::Wasm(broken(why)));
        }
        let member = WasmMember {
            engine,
            memory: instance.get_memory(&mut store, "memory").ok_or_else(|| wasm_broken("no exported memory"))?,
            alloc: instance.get_typed_func(&mut store, "alloc").map_err(wasm_broken)?,
            dealloc: instance.get_typed_func(&mut store, "dealloc").map_err(wasm_broken)?,
            input: instance.get_typed_func(&mut store, "member_input").map_err(wasm_broken)?,
            handle: 0,
            store,
        };
        Ok((member, instance))
    }

    /// An independent copy of this member as it is now: a new instance of the same
    /// module given a byte-for-byte copy of its linear memory. Between calls that is
    /// the whole state: the module's only mutable global, the shadow stack pointer, is
    /// back at its initial value whenever a call has returned.
    pub fn duplicate(&mut self) -> Result<WasmMember, MemberError> {
        let (mut copy, _) = WasmMember::instance_of(self.engine)?;
        let (size, have) = (self.memory.data_size(&self.store), copy.memory.data_size(&copy.store));
        if size > have {
            let pages = ((size - have) as u64).div_ceil(self.memory.page_size(&self.store));
            copy.memory.grow(&mut copy.store, pages).map_err(wasm_broken)?;
        }
        let source = self.memory.data(&self.store);
        let target = copy.memory.data_mut(&mut copy.store);
        if target.len() != source.len() {
            return Err(wasm_broken(format!("a copy of {} bytes of memory has {}", source.len(), target.len())));
        }
        target.copy_from_slice(source);
        copy.handle = self.handle;
        Ok(copy)
    }

    /// Copy `bytes` into a buffer from the module's `alloc`, which the next call frees.
    fn write(&mut self, bytes: &[u8]) -> Result<(u32, u32), MemberError> {
        let len = u32::try_from(bytes.len()).map_err(|_| wasm_broken("an input over 4 GiB"))?;
        self.store.set_epoch_deadline(deadline_ticks());
        let at = self.alloc.call(&mut self.store, len).map_err(wasm_trapped)?;
        self.memory.write(&mut self.store, at as usize, bytes).map_err(wasm_broken)?;
        Ok((at, len))
    }

    /// A reply buffer's postcard body; the buffer is freed.
    fn read_reply(&mut self, at: u32) -> Result<Vec<u8>, MemberError> {
        let mut prefix = [0u8; 4];
        self.memory.read(&self.store, at as usize, &mut prefix).map_err(wasm_broken)?;
        let total = announced_len(prefix);
        if total < prefix.len() {
            return Err(wasm_broken(format!("a reply buffer announces {total} bytes")));
        }
        let mut bytes = vec![0u8; total];
        self.memory.read(&self.store, at as usize, &mut bytes).map_err(wasm_broken)?;
        self.dealloc.call(&mut self.store, (at, total as u32)).map_err(wasm_trapped)?;
        bytes.drain(..prefix.len());
        Ok(bytes)
    }
}

impl MemberEngine for WasmMember {
    fn input_bytes(&mut self, input: &[u8]) -> Result<Vec<u8>, MemberError> {
        let (at, len) = self.write(input)?;
        let reply_at = self.input.call(&mut self.store, (self.handle, at, len)).map_err(wasm_trapped)?;
        self.read_reply(reply_at)
    }
}

/// [`CALL_LIMIT`] in epoch ticks, counted from now (each call sets it afresh).
fn deadline_ticks() -> u64 {
    u64::try_from(CALL_LIMIT.as_millis().div_ceil(EPOCH_TICK.as_millis())).unwrap_or(u64::MAX)
}

fn wasm_broken(error: impl std::fmt::Display) -> MemberError {
    MemberError::Wasm(broken(error))
}

fn wasm_trapped(error: wasmtime::Error) -> MemberError {
    MemberError::Wasm(trapped(error, CALL_LIMIT))
}

#[cfg(test)]
#[path = "member_tests.rs"]
mod tests;
