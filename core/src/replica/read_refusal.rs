//! Why a standby refused a read: the spec's codes, with what a client can do about each.
//!
//! On the wire a refusal is its code inside the reply's result (`KvResult::Error`), as
//! every release since 1.3.0 sends it; this type is how the code is written and read
//! everywhere else, so no host matches the strings itself.

use alloc::string::String;

use crate::release::Feature;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadRefusal {
    /// The cluster's committed release does not have `standby_reads`.
    FeatureOff,
    /// The member asked is not (or no longer) a standby.
    NotStandby,
    /// The standby is too far behind, or its primary's lease ran out.
    TooStale,
    /// The command would change state: only reads are served at a standby.
    NotReadOnly,
}

impl ReadRefusal {
    pub const ALL: [ReadRefusal; 4] =
        [ReadRefusal::FeatureOff, ReadRefusal::NotStandby, ReadRefusal::TooStale, ReadRefusal::NotReadOnly];

    pub const fn code(self) -> &'static str {
        match self {
            ReadRefusal::FeatureOff => "feature-off",
            ReadRefusal::NotStandby => "not-standby",
            ReadRefusal::TooStale => "too-stale",
            ReadRefusal::NotReadOnly => "not-read-only",
        }
    }

    pub fn from_code(code: &str) -> Option<ReadRefusal> {
        ReadRefusal::ALL.into_iter().find(|refusal| refusal.code() == code)
    }

    /// What the client can do, for a host's error text.
    pub fn advice(self) -> String {
        match self {
            ReadRefusal::FeatureOff => alloc::format!(
                "standby reads need {}; send READWRITE to read through the primary",
                Feature::StandbyReads.needs()
            ),
            ReadRefusal::NotStandby => "this member is no longer a standby; send READWRITE".into(),
            ReadRefusal::TooStale => {
                "this standby is too far behind or lost its primary; retry, or send READWRITE".into()
            }
            ReadRefusal::NotReadOnly => "only reads are served at a standby".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_advice_names_the_release() {
        for refusal in ReadRefusal::ALL {
            assert_eq!(ReadRefusal::from_code(refusal.code()), Some(refusal));
            assert!(!refusal.advice().is_empty());
        }
        assert_eq!(ReadRefusal::from_code("session-evicted"), None);
        assert!(ReadRefusal::FeatureOff.advice().contains("standby_reads, from 1.3.0"));
    }
}
