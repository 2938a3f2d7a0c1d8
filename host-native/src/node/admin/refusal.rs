//! Refusals in words an operator can act on, shared by the endpoint's answers and the
//! command-line client.

use viewstamp_core::release::{Feature, KNOWN_RELEASES};
use viewstamp_core::upgrade::Refusal;

pub fn refusal_from_code(code: &str) -> Option<Refusal> {
    Refusal::from_code(code)
}

/// What the refusal means and what to do about it.
pub fn advice(refusal: Refusal) -> String {
    match refusal {
        Refusal::MajorMismatch => {
            "the release has another major version than the cluster's; upgrades stay within a major version".into()
        }
        Refusal::NotNewer => "the release is not above the cluster's release; there is nothing to do".into(),
        Refusal::UnknownRelease => {
            let known: Vec<String> = KNOWN_RELEASES.iter().map(|release| release.to_string()).collect();
            format!("no binary of this build knows that release; the known releases are {}", known.join(", "))
        }
        Refusal::InProgress => "an upgrade or a reconfiguration is pending; wait until it commits \
                                (or withdraw a pending upgrade with `viewstamp upgrade cancel`)"
            .into(),
        Refusal::NoUpgrade => "no upgrade proposal is pending; there is nothing to cancel".into(),
        Refusal::NotStandby => "the member to promote is not a standby, or the member to replace is not an \
                                active replica; check the roles with `viewstamp status`"
            .into(),
        Refusal::NotPromotable => "the standby is unhealthy or not caught up; wait until `viewstamp status` \
                                   shows it healthy and promotable, or pick another standby"
            .into(),
        Refusal::FeatureOff => format!(
            "the cluster's release lacks the feature this command needs (promotion needs {}); \
             upgrade the cluster first",
            Feature::ClusterReconfig.needs()
        ),
        Refusal::NoPrimary => "this member is not a primary in normal status; ask another member, \
                               or retry once a view is established"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_has_advice() {
        for refusal in Refusal::ALL {
            assert_eq!(refusal_from_code(refusal.code()), Some(refusal));
            assert!(advice(refusal).len() > 20, "{refusal}");
        }
        assert_eq!(refusal_from_code("nonsense"), None);
        assert!(advice(Refusal::UnknownRelease).contains("1.3.0"));
    }
}
