//! The one error type of the storage, with messages that say what to do.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::Identity;

/// ENOSPC on Linux, macOS and the BSDs.
const ENOSPC: i32 = 28;

#[derive(Debug)]
pub enum StorageError {
    /// The directory is missing or empty: the node chooses between formatting and recovery.
    NotFormatted {
        dir: PathBuf,
    },
    /// `format` refuses a directory that already holds files.
    NotEmpty {
        dir: PathBuf,
    },
    /// Files but no identity file: not a data directory, or an interrupted `format`.
    NoIdentity {
        dir: PathBuf,
    },
    IdentityMismatch {
        dir: PathBuf,
        expected: Identity,
        found: Identity,
    },
    /// A file failed its checks and there is no other copy to fall back on.
    Corrupt {
        path: PathBuf,
        detail: String,
    },
    /// Superblock copies exist but none passes its checksum.
    NoValidSuperblock {
        dir: PathBuf,
    },
    /// The device is full (ENOSPC, or the injected `fail_after_bytes`).
    DiskFull {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// A value the on-disk format cannot hold (a record payload over 4 GiB).
    TooLarge {
        what: &'static str,
        bytes: u64,
    },
    Encode {
        what: &'static str,
        detail: String,
    },
    /// An earlier write failed: this storage accepts nothing more (fail-stop).
    Stopped {
        cause: String,
    },
}

impl StorageError {
    /// Maps an io error on `path`, telling a full disk apart from other failures.
    pub fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> StorageError + 'a {
        move |source| {
            if source.raw_os_error() == Some(ENOSPC) {
                StorageError::DiskFull { path: path.to_path_buf() }
            } else {
                StorageError::Io { path: path.to_path_buf(), action, source }
            }
        }
    }

    pub fn corrupt(path: &Path, detail: impl Into<String>) -> StorageError {
        StorageError::Corrupt { path: path.to_path_buf(), detail: detail.into() }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotFormatted { dir } => write!(
                f,
                "data directory {} is missing or empty: run `viewstamp format` for a new member, or \
                 `viewstamp format --recover` for a member that lost its data (it then rebuilds it from its peers)",
                dir.display()
            ),
            StorageError::NotEmpty { dir } => write!(
                f,
                "cannot format {}: it is not empty; choose an empty directory, or remove its contents if they are \
                 not needed",
                dir.display()
            ),
            StorageError::NoIdentity { dir } => write!(
                f,
                "{} holds files but no `identity` file: it is not a viewstamp data directory, or a format was \
                 interrupted; check the configured path, or empty the directory and format it again",
                dir.display()
            ),
            StorageError::IdentityMismatch { dir, expected, found } => write!(
                f,
                "data directory {} belongs to {found}, but this node is configured as {expected}: check the node's \
                 data directory and member settings",
                dir.display()
            ),
            StorageError::Corrupt { path, detail } => write!(
                f,
                "{} is damaged ({detail}): this member cannot trust its data; move the data directory aside, \
                 run `viewstamp format --recover` and start the member: it rebuilds its data from its peers",
                path.display()
            ),
            StorageError::NoValidSuperblock { dir } => write!(
                f,
                "no superblock copy in {} passes its checksum: this member cannot trust its data; move the data \
                 directory aside, run `viewstamp format --recover` and start the member: it rebuilds its data from \
                 its peers",
                dir.display()
            ),
            StorageError::DiskFull { path } => write!(
                f,
                "no space left on the device holding {}: writes stopped so that nothing half-written is trusted; \
                 free space, then restart the node",
                path.display()
            ),
            StorageError::Io { path, action, source } => write!(
                f,
                "cannot {action} {}: {source}; check that the path exists, is writable by this user, and that the \
                 device is healthy",
                path.display()
            ),
            StorageError::TooLarge { what, bytes } => {
                write!(f, "a {what} of {bytes} bytes does not fit the storage format (at most 4 GiB)")
            }
            StorageError::Encode { what, detail } => {
                write!(f, "cannot encode a {what} ({detail}); this is a bug, please report it")
            }
            StorageError::Stopped { cause } => write!(
                f,
                "storage stopped after an earlier failure and accepts no more writes ({cause}); restart the node \
                 once the cause is fixed"
            ),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
