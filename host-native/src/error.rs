//! The one error type of the `viewstamp` binary: usage and I/O problems, each with a
//! message that says what to do. Each exits with status 2, except a halted member (3),
//! so that a supervisor can tell "needs a newer binary" from a crash.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::node::config::ConfigError;
use crate::node::storage::StorageError;
use crate::wasm_engine::WasmError;

#[derive(Debug)]
pub enum Error {
    /// A scenario file could not be read.
    ReadScenario { path: PathBuf, source: io::Error },
    /// The directory for a failing seed's script could not be created.
    CreateDir { path: PathBuf, source: io::Error },
    /// A file could not be written.
    WriteFile { path: PathBuf, source: io::Error },
    /// Standard output could not be written (a closed pipe, a full disk).
    Output(io::Error),
    /// `replay --engine wasm|both` in a binary built without the wasm module: why.
    WasmNotBuilt(&'static str),
    /// The wasm engine could not run a script to its end.
    Wasm { path: PathBuf, error: WasmError },
    /// `replay --engine both`: the engines' outputs differ; what differs first.
    EnginesDiffer { path: PathBuf, difference: String },
    /// The cluster file is unreadable or wrong; the message names the field.
    Config(ConfigError),
    /// A data directory cannot be formatted, opened or written.
    Storage(StorageError),
    /// The peer transport could not start.
    Transport(String),
    /// A listening socket could not be opened.
    Listen { what: &'static str, address: String, source: io::Error },
    /// The member refuses to run: its binary is older than the cluster's release.
    Halted { member: u8, reason: String },
    /// The async runtime could not start.
    Runtime(String),
    /// `viewstamp dev` could not set up or run its cluster.
    Dev(String),
    /// `viewstamp bench` could not set up or run what it measures.
    Bench(String),
    /// `status`, `upgrade` or `promote` could not reach or understand a member.
    Admin(crate::admin_cli::AdminCliError),
    /// `sim --start S --seeds N` where S + N overflows a u64.
    SeedRange { start: u64, seeds: u64 },
}

impl Error {
    pub fn read_scenario(path: &Path, source: io::Error) -> Self {
        Error::ReadScenario { path: path.to_path_buf(), source }
    }

    pub fn exit_status(&self) -> u8 {
        match self {
            Error::Halted { .. } => 3,
            _ => 2,
        }
    }

    /// Whether the reader of our output went away (`viewstamp replay x | head`):
    /// nothing is worth printing then.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Output(source) => source.kind() == io::ErrorKind::BrokenPipe,
            Error::Admin(error) => error.is_broken_pipe(),
            _ => false,
        }
    }
}

/// An I/O error's cause, in words a person can act on.
fn cause(source: &io::Error) -> String {
    match source.kind() {
        io::ErrorKind::NotFound => String::from("no such file or directory"),
        io::ErrorKind::PermissionDenied => String::from("permission denied"),
        io::ErrorKind::InvalidData => String::from("it is not UTF-8 text"),
        _ => source.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ReadScenario { path, source } => {
                write!(f, "cannot read scenario file {}: {}", path.display(), cause(source))
            }
            Error::CreateDir { path, source } => write!(
                f,
                "cannot create directory {} for the failing script: {} (choose another with --emit DIR)",
                path.display(),
                cause(source)
            ),
            Error::WriteFile { path, source } => write!(f, "cannot write {}: {}", path.display(), cause(source)),
            Error::Output(source) => write!(f, "cannot write to standard output: {source}"),
            Error::WasmNotBuilt(reason) => write!(f, "the wasm engine is not built: {reason}"),
            Error::Wasm { path, error } => {
                let path = path.display();
                match error {
                    WasmError::NotBuilt(reason) => write!(f, "{path}: the wasm engine is not built: {reason}"),
                    WasmError::Broken(reason) => {
                        write!(f, "{path}: the wasm engine failed: {reason} (rebuild viewstamp; report it if it stays)")
                    }
                    WasmError::TimedOut { limit } => write!(
                        f,
                        "{path}: the wasm engine stopped the script after {} s: it may never end \
                         (raise --timeout to let it run longer)",
                        limit.as_secs_f64()
                    ),
                    WasmError::Trapped(reason) => {
                        write!(f, "{path}: the core trapped inside the wasm engine: {reason}")
                    }
                }
            }
            Error::EnginesDiffer { path, difference } => {
                write!(f, "{}: the native and wasm engines differ: {difference}", path.display())
            }
            Error::Config(error) => write!(f, "{error}"),
            Error::Storage(error) => write!(f, "{error}"),
            Error::Transport(problem) => write!(f, "{problem}"),
            Error::Listen { what, address, source } => write!(
                f,
                "cannot listen for {what} on {address}: {}: check that no other process uses the port and that \
                 the address belongs to this host",
                cause(source)
            ),
            Error::Halted { member, reason } => {
                write!(f, "member {member} halted and wrote nothing: {reason}")
            }
            Error::Runtime(problem) => write!(f, "cannot start the async runtime: {problem}"),
            Error::Dev(problem) => write!(f, "viewstamp dev: {problem}"),
            Error::Bench(problem) => write!(f, "viewstamp bench: {problem}"),
            Error::Admin(error) => write!(f, "{error}"),
            Error::SeedRange { start, seeds } => write!(
                f,
                "--start {start} with --seeds {seeds} runs past the largest seed ({}); lower one of them",
                u64::MAX
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::ReadScenario { source, .. }
            | Error::CreateDir { source, .. }
            | Error::WriteFile { source, .. }
            | Error::Output(source)
            | Error::Listen { source, .. } => Some(source),
            Error::Admin(error) => Some(error),
            _ => None,
        }
    }
}

/// Print an error the way every command does: `error: ...` on stderr.
pub fn report(error: &Error) {
    if !error.is_broken_pipe() {
        eprintln!("error: {error}");
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Error::Config(error)
    }
}

impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        Error::Storage(error)
    }
}
