//! What each member says its binary runs, as the primary hears it: the basis of every
//! upgrade. An advertisement raises what the primary counts on only when heard in its
//! current view; any advertisement, from any view, lowers it at once, and it stays low
//! until the member has said something higher in this view for a while. So a member
//! restarted with an older binary is never counted on what its previous incarnation
//! said, however messages are reordered.

use crate::release::Release;
use crate::types::{MemberId, Tick, MEMBERS_MAX};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advertisements {
    /// The newest advertisement heard in this primary's view.
    in_view: [Option<Release>; MEMBERS_MAX],
    /// The lowest advertisement heard since the member last rose for good, and when it
    /// was last heard.
    recent_low: [Option<(Release, Tick)>; MEMBERS_MAX],
}

impl Advertisements {
    /// A new view: only what members say from now on raises anything.
    pub fn begin_view(&mut self, me: MemberId, binary: Release) {
        self.in_view = [None; MEMBERS_MAX];
        self.in_view[me as usize] = Some(binary);
    }

    /// `member` said it runs `release`, in this primary's view or not. True when what
    /// the primary counts on for it may have changed.
    pub fn heard(&mut self, member: MemberId, release: Release, in_view: bool, now: Tick, window_ticks: Tick) -> bool {
        let index = member as usize;
        let before = (self.in_view[index], self.recent_low[index]);
        let low = &mut self.recent_low[index];
        match *low {
            Some((lowest, _)) if release <= lowest => *low = Some((release, now)),
            // Higher, in this view, and the low word is old: the member moved up.
            Some((_, at)) if in_view && now.saturating_sub(at) > window_ticks => *low = Some((release, now)),
            Some(_) => {}
            None => *low = Some((release, now)),
        }
        if in_view {
            self.in_view[index] = Some(release);
        }
        before != (self.in_view[index], self.recent_low[index])
    }

    /// What the primary counts on for `member`: heard in its view, and no lower lately.
    pub fn counted(&self, member: MemberId, now: Tick, window_ticks: Tick) -> Option<Release> {
        let _ = (now, window_ticks);
        let index = member as usize;
        let counted = self.in_view[index]?;
        Some(self.recent_low[index].map_or(counted, |(low, _)| counted.min(low)))
    }

    /// The newest advertisement heard in this view, for status pages.
    pub fn latest(&self, member: MemberId) -> Option<Release> {
        self.in_view.get(member as usize).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Release {
        text.parse().unwrap()
    }

    #[test]
    fn only_this_view_raises_and_anything_lowers() {
        let mut ads = Advertisements::default();
        ads.begin_view(0, r("1.3.0"));
        assert_eq!(ads.counted(1, 0, 300), None, "nothing heard in this view yet");
        ads.heard(1, r("1.3.0"), false, 0, 300);
        assert_eq!(ads.counted(1, 0, 300), None, "another view's word raises nothing");
        ads.heard(1, r("1.3.0"), true, 10, 300);
        assert_eq!(ads.counted(1, 10, 300), Some(r("1.3.0")));
        // The member restarts with an older binary; its new word comes from its old view.
        ads.heard(1, r("1.0.0"), false, 20, 300);
        assert_eq!(ads.counted(1, 20, 300), Some(r("1.0.0")));
        // A late message of its previous incarnation does not raise it back.
        ads.heard(1, r("1.3.0"), true, 30, 300);
        assert_eq!(ads.counted(1, 30, 300), Some(r("1.0.0")));
        assert_eq!(ads.counted(1, 400, 300), Some(r("1.0.0")), "time alone raises nothing");
        ads.heard(1, r("1.3.0"), true, 400, 300);
        assert_eq!(ads.counted(1, 400, 300), Some(r("1.3.0")), "saying more, in this view, once the low word is old");
        ads.begin_view(0, r("1.3.0"));
        assert_eq!(ads.counted(1, 400, 300), None);
    }
}
