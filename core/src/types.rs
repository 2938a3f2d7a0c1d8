//! Names for the numbers the protocol passes around.

/// A member's index: active replicas first, then standbys.
pub type MemberId = u8;
pub type View = u64;
pub type Op = u64;
pub type ClientId = u64;
pub type RequestNumber = u64;
/// Simulated or host time; one tick is 10 ms in the simulator.
pub type Tick = u64;

/// The most members a cluster may have (7 active + 6 standbys, and room for growth).
pub const MEMBERS_MAX: usize = 16;
