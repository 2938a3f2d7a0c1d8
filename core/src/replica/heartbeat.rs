//! Heartbeats, the primary's lease, and giving way.
//!
//! Every `heartbeat_interval_ticks` the serving primary sends `Commit` to every member,
//! stamped with its clock; followers answer with a `Heartbeat` that echoes the stamp. The
//! primary so learns when a quorum last heard it, which is its lease: a follower that
//! heard its primary joins no other view change for `primary_timeout_ticks`
//! (`view_change.rs`), so while `quorum_timeout_ticks` (less than that) have not passed
//! since a quorum heard this primary, no other primary can be elected. Standbys read on
//! what is left of the lease, which each `Commit` carries.
//!
//! A primary that has not heard from a quorum for `quorum_timeout_ticks` gives way
//! (Raft's CheckQuorum): with every link into it cut, its followers still hear it and
//! would never time out. It starts the next view itself, `handing_over`, which its
//! followers join at once. This adds no second primary: it only leaves, and it does so
//! only once its lease is gone. It loses nothing: it commits only with acknowledgements
//! of a quorum, which it has not heard.

use super::timers::Timer;
use super::{Replica, Role, Status};
use crate::message::{Commit, Heartbeat, Message, RequestStartView, StartViewChange};
use crate::release::{Feature, Release};
use crate::state_machine::StateMachine;
use crate::types::{MemberId, Tick, View, MEMBERS_MAX};

impl<S: StateMachine> Replica<S> {
    /// A primary starts serving a view: what it knew of its followers is from before.
    pub(super) fn begin_serving(&mut self) {
        let now = self.now;
        self.stepping_down = false;
        self.acked = [0; MEMBERS_MAX];
        self.acked[self.id as usize] = self.durable_op;
        self.last_heard_at = [now; MEMBERS_MAX];
        self.heard_round_at = [None; MEMBERS_MAX];
        self.contacts = super::follower_lag::Contacts::default();
        self.commit_times.restart(self.commit_max, now);
        // Only what members advertise in this view counts towards an upgrade.
        self.advertised.begin_view(self.id, self.options.binary_release);
        self.serving_since = now;
        self.inherited_op = self.log.op();
        self.lease_granted_until = now;
        self.standbys.reset(now);
        let standbys: alloc::vec::Vec<MemberId> = self.membership().standbys().to_vec();
        self.standbys.retain_members(&standbys, now);
        self.timers.set(Timer::Heartbeat, now + self.options.heartbeat_interval_ticks);
    }

    /// A member told this primary, in `view`, that it runs `release`; in this view it
    /// is also a sign of life.
    pub(super) fn heard_advertisement(&mut self, from: MemberId, view: View, release: Release) {
        let in_view = view == self.view && self.is_serving_primary();
        if in_view {
            self.last_heard_at[from as usize] = self.now;
            self.contacts.heard(from, self.now);
        }
        let window_ticks = self.options.quorum_timeout_ticks;
        if self.advertised.heard(from, release, in_view, self.now, window_ticks) && in_view {
            self.maybe_propose_upgrade();
        }
    }

    /// When a quorum of the voters (of both configurations while one is changing)
    /// last heard this primary, by the stamps they echoed.
    fn quorum_heard_at(&self) -> Option<Tick> {
        let heard = |membership: &super::Membership| {
            let mut times: alloc::vec::Vec<Option<Tick>> = membership
                .active()
                .iter()
                .map(|member| if *member == self.id { Some(self.now) } else { self.heard_round_at[*member as usize] })
                .collect();
            times.sort_unstable_by(|a, b| b.cmp(a));
            times[membership.quorum() - 1]
        };
        let mut at = heard(self.membership());
        if let Some((_, old)) = self.pending_reconfig() {
            at = at.min(heard(old));
        }
        at
    }

    /// Whether this primary heard from a quorum recently enough to go on serving.
    pub(super) fn holds_quorum(&self) -> bool {
        let since = self.quorum_heard_at().unwrap_or(0).max(self.serving_since);
        self.now <= since + self.options.quorum_timeout_ticks
    }

    /// What is left of the lease, to hand to standbys. None while a reconfiguration or
    /// a hand-over is under way.
    fn lease_remaining_ticks(&self) -> Tick {
        if self.reconfig_in_progress() || self.stepping_down {
            return 0;
        }
        self.quorum_heard_at().map_or(0, |at| (at + self.options.quorum_timeout_ticks).saturating_sub(self.now))
    }

    /// Leave this view for the next one as its primary, with no lease outstanding: its
    /// followers may follow at once. A primary the reconfiguration removed says so and
    /// stays out.
    pub(super) fn hand_over(&mut self) {
        assert!(self.now >= self.lease_granted_until, "a primary hands over only once its lease is gone");
        let next = self.hand_over_to.take().unwrap_or(0).max(self.view + 1);
        self.handing_over_view = Some(next);
        if self.is_voter(self.id) {
            self.start_view_change(next);
        } else {
            let svc = StartViewChange {
                view: next,
                from: self.id,
                handing_over: true,
                promised_view: self.durable_view,
                config: self.newest_stamp(),
            };
            self.send_to_all(&Message::StartViewChange(svc));
        }
    }

    pub(super) fn on_heartbeat_timeout(&mut self) {
        if self.hand_over_to.is_some() && self.status() == Status::Normal && self.now >= self.lease_granted_until {
            self.hand_over();
            return;
        }
        if !self.is_serving_primary() {
            return;
        }
        if !self.holds_quorum() && self.now >= self.lease_granted_until {
            // A lease handed out before the quorum changed (a reconfiguration) may
            // outlast the quorum itself: give way only once it is gone too.
            self.counters.abdications += 1;
            self.hand_over();
            return;
        }
        let commit = self.commit_message();
        // Standbys get heartbeats at every release, so that they advertise their
        // binaries before they are allowed to follow the log.
        for member in 0..self.options.member_count() {
            self.send(member, commit.clone());
        }
        self.maybe_propose_upgrade();
        self.maybe_auto_promote();
        // A round or its answers may have been lost: waiting reads ask again.
        self.ask_again_for_waiting_reads();
        self.timers.set(Timer::Heartbeat, self.now + self.options.heartbeat_interval_ticks);
        if self.stepping_down {
            // Hand over the moment the lease it granted is out, not a heartbeat later.
            self.timers.arm(Timer::Heartbeat, self.lease_granted_until.max(self.now + 1));
        }
    }

    /// Its host is stopping this member (a restart, say an upgrade's). A serving
    /// primary then hands over to the next view once the lease it granted runs out,
    /// granting none meanwhile: its followers join the hand-over at once, instead of
    /// waiting out their primary timeout after it is gone. It goes on committing what
    /// it prepared until then. Returns whether it will hand over.
    pub fn step_down(&mut self, now: Tick) -> bool {
        self.now = now;
        // Alone, it would only hand over to itself.
        if !self.is_serving_primary() || self.membership().active().len() < 2 {
            return false;
        }
        self.stepping_down = true;
        self.schedule_hand_over(self.view + 1);
        true
    }

    /// Hand over to `view` (or later) once no lease is left: at once, if none is.
    pub(super) fn schedule_hand_over(&mut self, view: View) {
        self.hand_over_to = Some(self.hand_over_to.unwrap_or(0).max(view));
        let at = self.now.max(self.lease_granted_until);
        self.timers.arm(Timer::Heartbeat, at);
    }

    /// A heartbeat, handing out what is left of the lease.
    fn commit_message(&mut self) -> Message {
        let lease_remaining_ticks = self.lease_remaining_ticks();
        self.lease_granted_until = self.lease_granted_until.max(self.now + lease_remaining_ticks);
        Message::Commit(Commit {
            view: self.view,
            commit: self.commit_max,
            sent_at: self.now,
            lease_remaining_ticks,
            config: self.committed_stamp(),
            checkpoint: self.checkpoint.op,
            release: self.options.binary_release,
            cluster_release: self.upgrade.release,
            from: self.id,
        })
    }

    pub(super) fn on_commit(&mut self, commit: Commit) {
        if self.status() == Status::Recovering {
            return;
        }
        let from = commit.from;
        self.note_config(&commit.config, true);
        self.announced_release = self.announced_release.max(commit.cluster_release);
        if commit.cluster_release > self.options.binary_release {
            let binary = self.options.binary_release;
            self.halt(super::HaltReason::BinaryTooOld { binary, cluster: commit.cluster_release });
            return;
        }
        if commit.view < self.view {
            // An older view's primary still serves: a view change that promised
            // nothing goes back to it.
            if self.may_fall_back_to(commit.view) {
                self.send(from, Message::RequestStartView(RequestStartView { view: commit.view, from: self.id }));
            }
            return;
        }
        // Only the serving primary of a view sends its Commit messages.
        if self.known_primary.is_none_or(|(view, _)| view <= commit.view) {
            self.known_primary = Some((commit.view, from));
        }
        if self.role() == Role::Standby && !Feature::StandbyReplicas.enabled_at(commit.cluster_release) {
            // Not following yet: only say which binary we run.
            self.heard_from_primary();
            self.answer_heartbeat(&commit, 0, 0);
            return;
        }
        if commit.view > self.view || self.status() != Status::Normal {
            // A view that started without us: ask for its log.
            self.send(from, Message::RequestStartView(RequestStartView { view: commit.view, from: self.id }));
            return;
        }
        if self.is_primary() {
            return;
        }
        self.heard_from_primary();
        self.read_lease_until = self.read_lease_until.max(self.now + commit.lease_remaining_ticks);
        self.commit_max = self.commit_max.max(commit.commit);
        self.apply_committed();
        if self.applied < self.commit_max {
            self.timers.arm(Timer::Repair, self.now);
        }
        let (op, applied) = (self.log.op(), self.applied);
        self.answer_heartbeat(&commit, op, applied);
    }

    fn answer_heartbeat(&mut self, commit: &Commit, op: crate::types::Op, applied: crate::types::Op) {
        let heartbeat = Heartbeat {
            view: commit.view,
            from: self.id,
            op,
            commit: applied,
            release: self.options.binary_release,
            echo_sent_at: commit.sent_at,
        };
        self.send(commit.from, Message::Heartbeat(heartbeat));
    }

    pub(super) fn on_heartbeat(&mut self, heartbeat: Heartbeat) {
        self.heard_advertisement(heartbeat.from, heartbeat.view, heartbeat.release);
        if heartbeat.view != self.view || !self.is_serving_primary() {
            return;
        }
        let from = heartbeat.from as usize;
        self.heard_round_at[from] = self.heard_round_at[from].max(Some(heartbeat.echo_sent_at));
        self.contacts.reached(heartbeat.from, heartbeat.commit);
        if self.now >= self.lease_granted_until && self.lease_remaining_ticks() > 0 {
            // A lease begins (the view's first quorum): standbys need not wait a
            // heartbeat interval to read on it.
            let commit = self.commit_message();
            let standbys: alloc::vec::Vec<MemberId> = self.membership().standbys().to_vec();
            for standby in standbys {
                self.send(standby, commit.clone());
            }
        }
        if !self.is_voter(heartbeat.from) && self.membership().role_of(heartbeat.from) == Role::Standby {
            let now = self.now;
            self.standbys.on_report(heartbeat.from, heartbeat.op, heartbeat.commit, self.commit_max, now);
        }
    }

    pub(super) fn heard_from_primary(&mut self) {
        self.last_primary_contact_at = self.now;
        self.set_primary_timeout();
    }

    pub(super) fn on_primary_timeout(&mut self) {
        if self.status() != Status::Normal {
            return;
        }
        match (self.is_voter(self.id), self.role()) {
            (true, _) if !self.is_primary() => {
                self.start_view_change(self.view + 1);
            }
            (false, Role::Standby) => {
                // A standby never starts a view change; it asks where the cluster is.
                let view = self.view;
                self.request_start_view(view);
                self.set_primary_timeout();
            }
            _ => {}
        }
    }

    pub(super) fn request_start_view(&mut self, view: View) {
        let primary = if view == self.view { self.primary_hint() } else { self.primary_of(view) };
        let request = RequestStartView { view, from: self.id };
        self.send(primary, Message::RequestStartView(request));
    }
}
