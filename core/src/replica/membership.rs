//! Who is in the cluster, and in which role: the active replicas (in primary order),
//! the standbys, and members removed by a reconfiguration. Quorums and the primary of
//! each view come from here, so that a committed reconfiguration can change them.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::Role;
use crate::types::{MemberId, View};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    active: Vec<MemberId>,
    standbys: Vec<MemberId>,
    removed: Vec<MemberId>,
}

impl Membership {
    /// The spec's initial layout: members `0..replicas` active, then the standbys.
    pub fn initial(replicas: u8, standbys: u8) -> Self {
        assert!(replicas >= 1);
        Self {
            active: (0..replicas).collect(),
            standbys: (replicas..replicas + standbys).collect(),
            removed: Vec::new(),
        }
    }

    pub fn active(&self) -> &[MemberId] {
        &self.active
    }

    pub fn standbys(&self) -> &[MemberId] {
        &self.standbys
    }

    /// Every member id this cluster knows, whatever its role.
    pub fn member_count(&self) -> u8 {
        (self.active.len() + self.standbys.len() + self.removed.len()) as u8
    }

    pub fn is_member(&self, member: MemberId) -> bool {
        member < self.member_count()
    }

    pub fn is_active(&self, member: MemberId) -> bool {
        self.active.contains(&member)
    }

    pub fn role_of(&self, member: MemberId) -> Role {
        if self.active.contains(&member) {
            Role::Active
        } else if self.standbys.contains(&member) {
            Role::Standby
        } else {
            Role::Removed
        }
    }

    /// A majority of the active replicas: replication and view changes use the same
    /// quorum, so any two intersect.
    pub fn quorum(&self) -> usize {
        self.active.len() / 2 + 1
    }

    pub fn primary_of(&self, view: View) -> MemberId {
        self.active[(view % self.active.len() as View) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_layout_roles_quorum_and_primaries() {
        let membership = Membership::initial(3, 2);
        assert_eq!(membership.member_count(), 5);
        assert_eq!(membership.role_of(0), Role::Active);
        assert_eq!(membership.role_of(4), Role::Standby);
        assert_eq!(membership.role_of(9), Role::Removed);
        assert_eq!(membership.quorum(), 2);
        assert_eq!((membership.primary_of(0), membership.primary_of(4)), (0, 1));
        assert!(membership.is_member(4) && !membership.is_member(5));
        assert_eq!(Membership::initial(4, 0).quorum(), 3);
    }
}
