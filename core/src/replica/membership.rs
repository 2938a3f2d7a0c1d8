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

    pub fn removed(&self) -> &[MemberId] {
        &self.removed
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

    /// The membership after standby `standby` becomes active: in `replaced`'s place
    /// (which becomes removed), or appended to the active replicas. Callers check the
    /// roles first.
    pub fn promote(&self, standby: MemberId, replaced: Option<MemberId>) -> Membership {
        assert!(self.standbys.contains(&standby), "only a standby is promoted");
        let mut next = self.clone();
        next.standbys.retain(|member| *member != standby);
        match replaced {
            Some(replaced) => {
                let slot = next.active.iter().position(|member| *member == replaced).expect("replaced is active");
                next.active[slot] = standby;
                next.removed.push(replaced);
            }
            None => next.active.push(standby),
        }
        next
    }

    pub fn hash_into(&self, hasher: &mut crate::checksum::Hasher64) {
        for list in [&self.active, &self.standbys, &self.removed] {
            hasher.write_u64(list.len() as u64);
            list.iter().for_each(|member| hasher.write_u64(*member as u64));
        }
    }

    pub fn digest(&self) -> u64 {
        let mut hasher = crate::checksum::Hasher64::new();
        self.hash_into(&mut hasher);
        hasher.finish()
    }
}

/// The configuration as a checkpoint records it: the membership after the
/// checkpoint's op, and the newest change before it. A change prepared in view `v`
/// takes effect for choosing primaries from view `v + 1` on, so views up to `v` still
/// choose from `previous`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigState {
    pub membership: Membership,
    pub last_change: Option<ConfigChange>,
    /// The newest promotions, oldest first, at most [`PROMOTION_HISTORY_MAX`].
    pub promotions: alloc::vec::Vec<PromotionEvent>,
}

pub const PROMOTION_HISTORY_MAX: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionEvent {
    pub op: crate::types::Op,
    pub promoted: MemberId,
    pub replaced: Option<MemberId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    pub op: crate::types::Op,
    /// The checksum of the Reconfigure entry.
    pub checksum: u64,
    /// The view whose primary prepared the change.
    pub view: View,
    pub previous: Membership,
}

impl ConfigState {
    pub fn initial(replicas: u8, standbys: u8) -> Self {
        Self { membership: Membership::initial(replicas, standbys), last_change: None, promotions: Vec::new() }
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

    #[test]
    fn promotion_replaces_in_place_or_grows() {
        let before = Membership::initial(3, 2);
        let replaced = before.promote(4, Some(1));
        assert_eq!((replaced.active(), replaced.standbys()), (&[0, 4, 2][..], &[3][..]));
        assert_eq!(replaced.role_of(1), Role::Removed);
        assert_eq!(replaced.primary_of(1), 4);
        assert_eq!(replaced.member_count(), 5);
        let grown = before.promote(3, None);
        assert_eq!((grown.active(), grown.standbys()), (&[0, 1, 2, 3][..], &[4][..]));
        assert_eq!(grown.quorum(), 3);
        assert_ne!(before.digest(), grown.digest());
    }
}
