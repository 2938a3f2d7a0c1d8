//! The wasm replay engine: the core compiled to wasm32 (host-wasm's replay ABI,
//! embedded by build.rs), run in wasmtime.
//!
//! wasmtime is set up so that a run depends on nothing but the script: NaNs are
//! canonicalized, relaxed SIMD is deterministic, no threads, and the module imports
//! nothing (no clock, no randomness, no WASI: checked before it runs). Epoch
//! interruption bounds a run's wall-clock time, so a script that never ends stops with
//! an error instead of hanging; the module never sees that clock. (Fuel would stop at
//! the same instruction everywhere, but it costs a third of the speed here, and where
//! a doomed run stops does not matter.)

use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use viewstamp_wasm::replay::{announced_len, decode, ReplayReport, FLAG_TRACE};
use wasmtime::{Config, Engine, Instance, Memory, Module, OptLevel, Store, StoreLimits, StoreLimitsBuilder, Trap};

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
        let imports: Vec<String> =
            module.imports().map(|import| format!("{}::{}", import.module(), import.name())).collect();
        if !imports.is_empty() {
            return Err(format!("the module imports {} (it must import nothing)", imports.join(", ")));
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

    /// Run one script in a fresh instance, stopping it after about `limit`.
    pub fn replay(&self, script: &[u8], trace: bool, limit: Duration) -> Result<ReplayReport, WasmError> {
        let limits = StoreLimitsBuilder::new().memory_size(MEMORY_LIMIT_BYTES).instances(1).build();
        let mut store = Store::new(&self.engine, limits);
        store.limiter(|limits: &mut StoreLimits| limits);
        let ticks = limit.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        let instance = Instance::new(&mut store, &self.module, &[]).map_err(broken)?;
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

fn read_result(memory: &Memory, store: &Store<StoreLimits>, at: u32) -> Result<Vec<u8>, WasmError> {
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

#[cfg(test)]
mod archive_tests;
pub mod bench;
pub mod member;
#[cfg(test)]
mod tests;
