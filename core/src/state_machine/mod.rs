//! The replicated state machine behind a trait, and the built-in key-value machine.
//!
//! Every key-value command belongs to the release that brought it. A member refuses a
//! command whose release the cluster has not committed before it is logged (`admit`),
//! and applies each op at the release in force at its place in the log (`apply`), so a
//! newer member never runs what an older one could not, and all decide alike.

mod command;
mod glob;
mod kv_store;

pub use command::{
    KvCommand, KvResult, SetCondition, FEATURE_OFF, KEYS_REPLY_MAX, MALFORMED, PIPELINE_COMMANDS_MAX, PIPELINE_FEATURE,
    SCAN_COUNT_MAX,
};
pub use glob::glob_match;
pub use kv_store::KvStore;

use alloc::vec::Vec;

use crate::release::Release;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotError;

/// What the replicas apply, in log order, identically on every member.
pub trait StateMachine {
    /// Apply one operation (in the machine's own encoding) at `release`, the cluster
    /// release in force at the op's place in the log, and return its result. Must be
    /// deterministic: the same operations at the same releases give the same state.
    fn apply(&mut self, release: Release, operation: &[u8]) -> Vec<u8>;
    /// Whether the primary may log `operation` while the cluster runs `release`: the
    /// encoded refusal when it needs a later release. Checked before logging, so that
    /// no member ever meets a command its release lacks.
    fn admit(release: Release, operation: &[u8]) -> Result<(), Vec<u8>>
    where
        Self: Sized;
    /// A digest of the whole state, maintained cheaply: the checkers call it often.
    fn digest(&self) -> u64;
    fn snapshot(&self) -> Vec<u8>;
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), SnapshotError>;
    /// The encoded result of a request the replica refused without applying it, such
    /// as one whose session was evicted (`code` is the spec's kebab-case code).
    fn refusal(code: &str) -> Vec<u8>
    where
        Self: Sized;
}
