//! Whether a member can serve clients now, in one word a load balancer or a
//! Kubernetes probe can act on, with the reason in words for the person reading it.
//!
//! Every member takes client connections (a backup or a standby forwards writes to
//! the primary), so every member that is in a view with a primary serves. The
//! primary alone hears everyone: it alone can say the cluster tolerates fewer
//! failures than it was built for.

use alloc::string::String;
use serde::Serialize;

use super::{Replica, Role, Status};
use crate::state_machine::StateMachine;
use crate::status_snapshot::ReportedStatus;
use crate::types::Tick;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// It serves, and as far as it knows every active replica is up.
    Serving,
    /// It serves, but the cluster tolerates fewer failures than it was built for, or
    /// this member is still catching up (it forwards; it cannot read locally).
    Degraded,
    /// It takes part in the protocol but cannot serve clients now: a view change or
    /// its recovery is under way, or it is a primary without a quorum.
    Ready,
    /// It takes no part: halted (a binary too old), or removed. Hosts add their own
    /// (storage failed, stopping).
    Unavailable,
}

impl Health {
    pub const fn name(self) -> &'static str {
        match self {
            Health::Serving => "serving",
            Health::Degraded => "degraded",
            Health::Ready => "ready",
            Health::Unavailable => "unavailable",
        }
    }

    /// Whether a load balancer should send clients here (HTTP 200, else 503).
    pub const fn takes_clients(self) -> bool {
        matches!(self, Health::Serving | Health::Degraded)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    pub health: Health,
    /// Why, in words: empty when serving.
    pub reason: String,
}

impl HealthReport {
    pub fn new(health: Health, reason: impl Into<String>) -> Self {
        Self { health, reason: reason.into() }
    }

    /// All that a status says, for a member that reports no more (archived code).
    pub fn of_status(status: ReportedStatus) -> Self {
        match status {
            ReportedStatus::Normal => HealthReport::new(Health::Serving, ""),
            ReportedStatus::CatchingUp => HealthReport::new(Health::Degraded, "catching up by state transfer"),
            ReportedStatus::ViewChange => HealthReport::new(Health::Ready, "a view change is under way"),
            ReportedStatus::Recovering => HealthReport::new(Health::Ready, "recovering its lost state"),
            ReportedStatus::Halted => HealthReport::new(Health::Unavailable, "halted: see its status for why"),
            ReportedStatus::Crashed => HealthReport::new(Health::Unavailable, "down"),
            ReportedStatus::StorageFailed => {
                HealthReport::new(Health::Unavailable, "its storage failed a write: it takes no further part")
            }
        }
    }
}

impl<S: StateMachine> Replica<S> {
    pub fn health(&self, now: Tick) -> HealthReport {
        if self.role() == Role::Removed {
            return HealthReport::new(Health::Unavailable, "removed from the configuration");
        }
        match self.status() {
            Status::Halted => return HealthReport::new(Health::Unavailable, "halted: see its status for why"),
            Status::ViewChange => return HealthReport::new(Health::Ready, "a view change is under way"),
            Status::Recovering => {
                return HealthReport::new(Health::Ready, "recovering its lost state from the other members")
            }
            Status::Normal => {}
        }
        if self.is_serving_primary() {
            if !self.holds_quorum() {
                return HealthReport::new(Health::Ready, "the primary does not hear a quorum");
            }
            let (tolerance, built) = (self.failure_tolerance(now).unwrap_or(0), self.failure_tolerance_configured());
            if tolerance < built {
                let text = alloc::format!(
                    "tolerates {tolerance} failure(s) of the {built} it is built for: an active replica is not heard"
                );
                return HealthReport::new(Health::Degraded, text);
            }
            return HealthReport::new(Health::Serving, "");
        }
        if self.awaiting_checkpoint {
            return HealthReport::new(Health::Degraded, "catching up by state transfer; requests go to the primary");
        }
        HealthReport::new(Health::Serving, "")
    }
}
