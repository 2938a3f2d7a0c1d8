//! The wasm replay engine: the core compiled to wasm32 (host-wasm's replay ABI,
//! embedded by build.rs), run in wasmtime.
//!
//! wasmtime is set up so that a run depends on nothing but the script: NaNs are
//! canonicalized, relaxed SIMD is deterministic, no threads, and the module imports
//! nothing but the archive (`viewstamp_archive::call` and `take`, which run archived
//! releases' members, `archive.rs`): no clock, no randomness, no WASI, checked before
//! it runs. Epoch
//! interruption bounds a run's wall-clock time, so a script that never ends stops with
//! an error instead of hanging; the module never sees that clock. (Fuel would stop at
//! the same instruction everywhere, but it costs a third of the speed here, and where
//! a doomed run stops does not matter.)

use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use viewstamp_core::sim::archive::{serve, ArchiveCall, ArchiveReply};
use viewstamp_wasm::replay::{announced_len, decode, ReplayReport, FLAG_TRACE};
use wasmtime::{
    Caller, Config, Engine, Extern, Linker, Memory, Module, OptLevel, Store, StoreLimits, StoreLimitsBuilder, Trap,
};

pub use archive::WasmArchive;

/// A fresh archive of every release this binary carries, for one simulator.
pub fn shared_archive() -> viewstamp_core::sim::archive::SharedArchive {
    std::rc::Rc::new(std::cell::RefCell::new(WasmArchive::new()))
}

/// The imports a module may have: the archive's, and nothing else.
const ARCHIVE_IMPORTS: [&str; 2] = ["call", "take"];
const ARCHIVE_MODULE: &str = "viewstamp_archive";

/// The embedded module, or `None` when build.rs could not build it.
#[cfg(viewstamp_wasm_built)]
const MODULE_BYTES: Option<&[u8]> = Some(include_bytes!(concat!(env!("OUT_DIR"), "/viewstamp_replay.wasm")));
#[cfg(not(viewstamp_wasm_built))]
const MODULE_BYTES: Option<&[u8]> = None;

/// Why build.rs embedded no module (empty when it did).
const MISSING_REASON: &str = env!("VIEWSTAMP_WASM_MISSING");

/// How long one script may run in the wasm engine unless `--timeout` says otherwise:
/// a thousand times what `viewstamp bench replay` takes.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 600;

/// How often the engine's epoch advances: the granularity of timeouts.
const EPOCH_TICK: Duration = Duration::from_millis(50);

/// The most linear memory one run may take.
const MEMORY_LIMIT_BYTES: usize = 2 << 30;

/// What stops the wasm engine from giving a report.
#[derive(Debug)]
pub enum WasmError {
    /// This binary was built without the module; the reason says how to fix it.
    NotBuilt(&'static str),
    /// The module did not compile or instantiate, or broke the ABI.
    Broken(String),
    /// The script ran past its time limit: it may never end.
    TimedOut { limit: Duration },
    /// The core panicked or ran out of memory inside wasm.
    Trapped(String),
}

/// The compiled module, shared by every run of this process.
pub struct WasmEngine {
    engine: Engine,
    module: Module,
}

impl WasmEngine {
    /// The engine, compiled on first use (a fraction of a second, once per process).
    pub fn shared() -> Result<&'static WasmEngine, WasmError> {
        static SHARED: OnceLock<Result<WasmEngine, String>> = OnceLock::new();
        let Some(bytes) = MODULE_BYTES else { return Err(WasmError::NotBuilt(MISSING_REASON)) };
        SHARED.get_or_init(|| WasmEngine::compile(bytes)).as_ref().map_err(|reason| WasmError::Broken(reason.clone()))
    }

    fn compile(bytes: &[u8]) -> Result<WasmEngine, String> {
        let mut config = Config::new();
        config
            .cranelift_nan_canonicalization(true)
            .relaxed_simd_deterministic(true)
            .cranelift_opt_level(OptLevel::Speed)
            .epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|error| format!("wasmtime refused its configuration: {error:#}"))?;
        let module = Module::new(&engine, bytes).map_err(|error| format!("the module does not compile: {error:#}"))?;
        let imports: Vec<String> = module
            .imports()
            .filter(|import| import.module() != ARCHIVE_MODULE || !ARCHIVE_IMPORTS.contains(&import.name()))
            .map(|import| format!("{}::{}", import.module(), import.name()))
            .collect();
        if !imports.is_empty() {
            return Err(format!(
                "the module imports {} (it may import only {ARCHIVE_MODULE}::call and ::take)",
                imports.join(", ")
            ));
        }
        // The epoch ticks for the life of the process; runs are measured against it.
        let ticker = engine.clone();
        thread::Builder::new()
            .name(String::from("wasm-epoch"))
            .spawn(move || loop {
                thread::sleep(EPOCH_TICK);
                ticker.increment_epoch();
            })
            .map_err(|error| format!("cannot start the wasm engine's timer thread: {error}"))?;
        Ok(WasmEngine { engine, module })
    }

    /// The names the module imports: none, by construction.
    #[cfg(test)]
    pub fn import_names(&self) -> Vec<String> {
        self.module.imports().map(|import| format!("{}::{}", import.module(), import.name())).collect()
    }

    /// A store for one instance, bounded in memory, with `archive` behind its imports.
    fn store(&self, archive: Option<WasmArchive>) -> Store<HostState> {
        let limits = StoreLimitsBuilder::new().memory_size(MEMORY_LIMIT_BYTES).instances(1).build();
        let mut store = Store::new(&self.engine, HostState { limits, archive, reply: Vec::new() });
        store.limiter(|state: &mut HostState| &mut state.limits);
        store.epoch_deadline_trap();
        store
    }

    /// An instance of the module in `store`, its archive imports served from the store.
    fn instantiate(&self, store: &mut Store<HostState>) -> Result<wasmtime::Instance, String> {
        let mut linker = Linker::new(&self.engine);
        linker
            .func_wrap(ARCHIVE_MODULE, "call", archive_call)
            .and_then(|linker| linker.func_wrap(ARCHIVE_MODULE, "take", archive_take))
            .map_err(|error| format!("cannot define the archive imports: {error:#}"))?;
        linker.instantiate(store, &self.module).map_err(|error| format!("the module does not instantiate: {error:#}"))
    }

    /// Run one script in a fresh instance, stopping it after about `limit`; with
    /// `archived`, archived releases run in a `WasmArchive`, as natively.
    pub fn replay(
        &self,
        script: &[u8],
        trace: bool,
        archived: bool,
        limit: Duration,
    ) -> Result<ReplayReport, WasmError> {
        let mut store = self.store(archived.then(WasmArchive::new));
        let ticks = limit.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        let instance = self.instantiate(&mut store).map_err(broken)?;
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| broken("no exported memory"))?;
        let alloc = instance.get_typed_func::<u32, u32>(&mut store, "alloc").map_err(broken)?;
        let replay = instance.get_typed_func::<(u32, u32, u32), u32>(&mut store, "replay").map_err(broken)?;
        let dealloc = instance.get_typed_func::<(u32, u32), ()>(&mut store, "dealloc").map_err(broken)?;

        let len =
            u32::try_from(script.len()).map_err(|_| WasmError::Trapped(String::from("the script is over 4 GiB")))?;
        let script_at = alloc.call(&mut store, len).map_err(|error| trapped(error, limit))?;
        memory.write(&mut store, script_at as usize, script).map_err(broken)?;
        let flags = if trace { FLAG_TRACE } else { 0 };
        let result_at = replay.call(&mut store, (script_at, len, flags)).map_err(|error| trapped(error, limit))?;
        let bytes = read_result(&memory, &store, result_at)?;
        // Freeing is tidy, not needed: the instance goes away with the store.
        let _ = dealloc.call(&mut store, (result_at, bytes.len() as u32));
        decode(&bytes).map_err(|error| broken(error.to_string()))
    }
}

/// What a store of ours holds: its limits, and the archive its imports serve (none for
/// a member's instance: members never call it).
pub struct HostState {
    limits: StoreLimits,
    archive: Option<WasmArchive>,
    /// The last `call`'s reply, until `take` copies it out.
    reply: Vec<u8>,
}

fn caller_memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::Error::msg("the module exports no memory")),
    }
}

/// `viewstamp_archive::call(ptr, len) -> len`: serve one `ArchiveCall`, keep the reply.
fn archive_call(mut caller: Caller<'_, HostState>, at: u32, len: u32) -> wasmtime::Result<u32> {
    let memory = caller_memory(&mut caller)?;
    let mut request = vec![0u8; len as usize];
    memory.read(&caller, at as usize, &mut request)?;
    let reply = match (postcard::from_bytes::<ArchiveCall>(&request), caller.data_mut().archive.as_mut()) {
        (Err(error), _) => ArchiveReply::Failed(format!("not an archive call: {error}")),
        (Ok(ArchiveCall::Releases), None) => ArchiveReply::Releases(Vec::new()),
        (Ok(_), None) => ArchiveReply::Failed(String::from("this instance has no archive")),
        (Ok(call), Some(archive)) => serve(archive, call),
    };
    let bytes = postcard::to_allocvec(&reply).map_err(wasmtime::Error::msg)?;
    let len = u32::try_from(bytes.len()).map_err(wasmtime::Error::msg)?;
    caller.data_mut().reply = bytes;
    Ok(len)
}

/// `viewstamp_archive::take(ptr)`: copy the last reply to `ptr`.
fn archive_take(mut caller: Caller<'_, HostState>, at: u32) -> wasmtime::Result<()> {
    let memory = caller_memory(&mut caller)?;
    let reply = core::mem::take(&mut caller.data_mut().reply);
    memory.write(&mut caller, at as usize, &reply)?;
    Ok(())
}

fn read_result(memory: &Memory, store: &Store<HostState>, at: u32) -> Result<Vec<u8>, WasmError> {
    let mut prefix = [0u8; 4];
    memory.read(store, at as usize, &mut prefix).map_err(broken)?;
    let mut bytes = vec![0u8; announced_len(prefix)];
    memory.read(store, at as usize, &mut bytes).map_err(broken)?;
    Ok(bytes)
}

fn broken(error: impl std::fmt::Display) -> WasmError {
    WasmError::Broken(error.to_string())
}

fn trapped(error: wasmtime::Error, limit: Duration) -> WasmError {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => WasmError::TimedOut { limit },
        _ => WasmError::Trapped(format!("{error:#}")),
    }
}

pub mod archive;
#[cfg(test)]
mod archive_tests;
pub mod bench;
pub mod member;
#[cfg(test)]
mod tests;
