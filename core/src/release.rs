//! Releases, their ordering, and the feature flags each one brings.
//!
//! A release is `MAJOR.MINOR.PATCH` with an optional stage (`-alpha`, `-beta`, `-rc`,
//! each with an optional `.N`); a bare version is stable. Releases compare by number,
//! then stage (alpha < beta < rc < stable), then stage number. Two releases are
//! compatible when their majors agree.

use core::cmp::Ordering;
use core::fmt;
use core::str::FromStr;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Stage {
    Alpha,
    Beta,
    Rc,
    Stable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Release {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
    pub stage: Stage,
    /// The `N` of `-rc.N`; 0 for stable releases.
    pub stage_number: u16,
}

impl Release {
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self { major, minor, patch, stage: Stage::Stable, stage_number: 0 }
    }

    pub fn compatible_with(&self, other: &Release) -> bool {
        self.major == other.major
    }

    fn key(&self) -> (u16, u16, u16, Stage, u16) {
        (self.major, self.minor, self.patch, self.stage, self.stage_number)
    }
}

impl Ord for Release {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Release {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        let stage = match self.stage {
            Stage::Alpha => "alpha",
            Stage::Beta => "beta",
            Stage::Rc => "rc",
            Stage::Stable => return Ok(()),
        };
        write!(f, "-{stage}")?;
        if self.stage_number != 0 {
            write!(f, ".{}", self.stage_number)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseParseError(pub &'static str);

impl fmt::Display for ReleaseParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn parse_number(text: &str) -> Result<u16, ReleaseParseError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ReleaseParseError("a release is MAJOR.MINOR.PATCH with decimal numbers"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(ReleaseParseError("release numbers have no leading zeros"));
    }
    text.parse().map_err(|_| ReleaseParseError("release number too large"))
}

impl FromStr for Release {
    type Err = ReleaseParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (version, stage_text) = match text.split_once('-') {
            Some((version, stage)) => (version, Some(stage)),
            None => (text, None),
        };
        let mut parts = version.split('.');
        let (Some(major), Some(minor), Some(patch), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ReleaseParseError("a release is MAJOR.MINOR.PATCH, like 1.2.0"));
        };
        let mut release = Release::new(parse_number(major)?, parse_number(minor)?, parse_number(patch)?);
        if let Some(stage_text) = stage_text {
            let (name, number) = match stage_text.split_once('.') {
                Some((name, number)) => (name, Some(number)),
                None => (stage_text, None),
            };
            release.stage = match name {
                "alpha" => Stage::Alpha,
                "beta" => Stage::Beta,
                "rc" => Stage::Rc,
                _ => return Err(ReleaseParseError("a release stage is alpha, beta or rc")),
            };
            if let Some(number) = number {
                release.stage_number = parse_number(number)?;
            }
        }
        Ok(release)
    }
}

/// Feature flags. A feature is on exactly when the committed cluster release is at
/// least the release that brings it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Feature {
    StandbyReplicas,
    LogScrubbing,
    ClusterReconfig,
    BatchedPrepares,
    StandbyReads,
    ReadIndex,
    KvCommands,
}

/// Each feature's name and the release that brings it: the one place they are written.
/// A feature's discriminant is its row.
const FEATURE_TABLE: [(Feature, &str, Release); 7] = [
    (Feature::StandbyReplicas, "standby_replicas", Release::new(1, 1, 0)),
    (Feature::LogScrubbing, "log_scrubbing", Release::new(1, 1, 0)),
    (Feature::ClusterReconfig, "cluster_reconfig", Release::new(1, 2, 0)),
    (Feature::BatchedPrepares, "batched_prepares", Release::new(1, 2, 0)),
    (Feature::StandbyReads, "standby_reads", Release::new(1, 3, 0)),
    (Feature::ReadIndex, "read_index", Release::new(1, 4, 0)),
    (Feature::KvCommands, "kv_commands", Release::new(1, 4, 0)),
];

impl Feature {
    pub const ALL: [Feature; FEATURE_TABLE.len()] = {
        let mut all = [Feature::StandbyReplicas; FEATURE_TABLE.len()];
        let mut row = 0;
        while row < all.len() {
            all[row] = FEATURE_TABLE[row].0;
            row += 1;
        }
        all
    };

    const fn row(self) -> (Feature, &'static str, Release) {
        FEATURE_TABLE[self as usize]
    }

    pub const fn name(self) -> &'static str {
        self.row().1
    }

    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|feature| feature.name() == name)
    }

    /// The release that brings this feature.
    pub const fn since(self) -> Release {
        self.row().2
    }

    pub fn enabled_at(self, cluster_release: Release) -> bool {
        cluster_release >= self.since()
    }

    /// What an operator reads when a command needs this feature and the cluster runs an
    /// older release: `cluster_reconfig, from 1.2.0`.
    pub fn needs(self) -> alloc::string::String {
        alloc::format!("{}, from {}", self.name(), self.since())
    }
}

/// Every release a binary of this build can be: the release table.
pub const KNOWN_RELEASES: [Release; 5] =
    [Release::new(1, 0, 0), Release::new(1, 1, 0), Release::new(1, 2, 0), Release::new(1, 3, 0), Release::new(1, 4, 0)];

/// The newest release this build contains.
pub const NEWEST_RELEASE: Release = KNOWN_RELEASES[KNOWN_RELEASES.len() - 1];
/// The oldest release a cluster may run.
pub const OLDEST_RELEASE: Release = KNOWN_RELEASES[0];

pub fn is_known_release(release: Release) -> bool {
    KNOWN_RELEASES.contains(&release)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn r(text: &str) -> Release {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        for text in ["1.2.0", "1.3.0-rc.1", "0.0.1-alpha", "2.10.3-beta.4"] {
            assert_eq!(r(text).to_string(), text);
        }
        for bad in ["1.2", "1.2.0.0", "a.b.c", "1.2.0-stable", "1.02.0", "1.2.0-rc.x", ""] {
            assert!(bad.parse::<Release>().is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_by_number_then_stage() {
        assert!(r("1.3.0-alpha") < r("1.3.0-beta"));
        assert!(r("1.3.0-beta") < r("1.3.0-rc.1"));
        assert!(r("1.3.0-rc.1") < r("1.3.0-rc.2"));
        assert!(r("1.3.0-rc.2") < r("1.3.0"));
        assert!(r("1.2.9") < r("1.3.0-alpha"));
        assert!(r("1.10.0") > r("1.9.0"));
        assert!(r("1.0.0").compatible_with(&r("1.3.0")));
        assert!(!r("1.0.0").compatible_with(&r("2.0.0")));
    }

    #[test]
    fn features_turn_on_at_their_release() {
        assert!(!Feature::StandbyReplicas.enabled_at(r("1.0.0")));
        assert!(Feature::StandbyReplicas.enabled_at(r("1.1.0")));
        assert!(!Feature::StandbyReads.enabled_at(r("1.3.0-rc.1")));
        assert!(Feature::StandbyReads.enabled_at(r("1.3.0")));
        assert_eq!(Feature::from_name("batched_prepares"), Some(Feature::BatchedPrepares));
        assert_eq!(Feature::ClusterReconfig.needs(), "cluster_reconfig, from 1.2.0");
    }

    #[test]
    fn every_feature_sits_in_its_own_row() {
        for (row, feature) in Feature::ALL.into_iter().enumerate() {
            assert_eq!(feature as usize, row);
            assert_eq!(FEATURE_TABLE[row].0, feature);
            assert!(is_known_release(feature.since()), "{} comes in a release this build knows", feature.name());
        }
        assert_eq!(NEWEST_RELEASE, r("1.4.0"));
    }
}
