//! Making a replica: formatting a new member's durable state, and opening one from
//! what its disk holds (a restart), with the choice of where it resumes.

use super::*;

/// A freshly formatted member's durable state.
pub fn format_durable(release: Release) -> Durable {
    let superblock = Superblock { view: 0, log_view: 0, log_start: 0, release };
    Durable { superblock: Some(superblock), checkpoint: None, entries: Vec::new() }
}

/// A freshly formatted member's durable state for a host that keeps it across
/// restarts: as [`format_durable`] at `options.initial_release`, plus a checkpoint at
/// op 0. The checkpoint records the release the cluster started at, which the log's
/// upgrade entries replay from; without it a restart would assume `initial_release`
/// again, which a host started with another `--binary-release` would get wrong.
pub fn format_durable_with_checkpoint<S: StateMachine>(options: &Options, empty_state: &S) -> Durable {
    let mut durable = format_durable(options.initial_release);
    durable.checkpoint = Some(CheckpointData {
        op: 0,
        last_header: zero_header(),
        upgrade: UpgradeState::new(options.initial_release),
        config: membership::ConfigState::initial(options.replica_count, options.standby_count),
        state: empty_state.snapshot(),
        sessions: Sessions::default().encode(),
    });
    durable
}

fn zero_header() -> Header {
    Header { op: 0, view: 0, parent: 0, checksum: 0 }
}

impl<S: StateMachine> Replica<S> {
    /// Start a member of a newly formatted cluster: view 0, normal status, empty log.
    pub fn new_formatted(options: Options, id: MemberId, state: S, now: Tick) -> Self {
        let durable = format_durable(options.initial_release);
        let mut replica = Self::open_inner(options, id, durable, state, now, true);
        replica.after_durable();
        replica
    }

    /// Start member `id` from what it made durable. `state` must be the state
    /// machine's empty state.
    pub fn open(options: Options, id: MemberId, durable: Durable, state: S, now: Tick) -> Self {
        Self::open_inner(options, id, durable, state, now, false)
    }

    fn open_inner(options: Options, id: MemberId, durable: Durable, state: S, now: Tick, fresh: bool) -> Self {
        assert!(options.replica_count >= 1 && options.member_count() as usize <= MEMBERS_MAX);
        assert!(id < options.member_count());
        let initial_config = membership::ConfigState::initial(options.replica_count, options.standby_count);
        let checkpoint = durable.checkpoint.clone().unwrap_or(CheckpointData {
            op: 0,
            last_header: zero_header(),
            upgrade: UpgradeState::new(options.initial_release),
            config: initial_config,
            state: Vec::new(),
            sessions: Sessions::preregistered(options.preregistered_clients).encode(),
        });
        let prng = Prng::new(options.seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ now);
        let initial_release = options.initial_release;
        assert!(
            options.quorum_timeout_ticks < options.primary_timeout_ticks,
            "a primary's lease must end before its followers may elect another"
        );
        let standbys = StandbyManager::new(
            StandbyOptions {
                health_timeout_ticks: 3 * options.heartbeat_interval_ticks,
                promotable_lag_ops: options.promotable_lag_ops,
            },
            checkpoint.config.membership.standbys().iter().copied(),
            now,
        );
        let mut replica = Replica {
            upgrade: checkpoint.upgrade.clone(),
            config: checkpoint.config.clone(),
            options,
            id,
            phase: Phase::Normal,
            view: 0,
            log_view: 0,
            durable_view: 0,
            durable_release: initial_release,
            log: Log::new(checkpoint.op, Some(checkpoint.last_header.checksum)),
            durable_op: checkpoint.op,
            commit_max: checkpoint.op,
            applied: checkpoint.op,
            applied_checksum: checkpoint.last_header.checksum,
            state,
            sessions: Sessions::default(),
            checkpoint,
            future: BTreeMap::new(),
            acked: [0; MEMBERS_MAX],
            advertised: advertised::Advertisements::default(),
            last_heard_at: [now; MEMBERS_MAX],
            heard_round_at: [None; MEMBERS_MAX],
            contacts: super::follower_lag::Contacts::default(),
            commit_times: super::follower_lag::CommitTimes::default(),
            request_queue: VecDeque::new(),
            inflight: BTreeMap::new(),
            inherited_op: 0,
            read_index: Default::default(),
            prepare_ok_sent: 0,
            awaiting_checkpoint: false,
            backup_of_view: None,
            drafted_view: None,
            config_hint: None,
            committed_hint: None,
            read_lease_until: 0,
            announced_release: initial_release,
            serving_since: now,
            lease_granted_until: now,
            hand_over_to: None,
            stepping_down: false,
            handing_over_view: None,
            known_primary: None,
            standbys,
            last_primary_contact_at: now,
            scrub_cursor: 0,
            timers: Timers::default(),
            now,
            prng,
            outbox: VecDeque::new(),
            persists: VecDeque::new(),
            pending: VecDeque::new(),
            next_persist_id: 1,
            applied_notes: VecDeque::new(),
            invalid_dropped: None,
            counters: Counters::default(),
        };
        replica.advertised.begin_view(id, replica.options.binary_release);
        if durable.checkpoint.is_some() {
            let restored = replica.state.restore(&replica.checkpoint.state).is_ok();
            let sessions = Sessions::decode(&replica.checkpoint.sessions);
            assert!(restored && sessions.is_some(), "a checkpoint that passed its checksum decodes");
            replica.sessions = sessions.unwrap_or_default();
        } else {
            replica.sessions = Sessions::preregistered(replica.options.preregistered_clients);
        }
        let durable_release = durable.superblock.as_ref().map_or(replica.upgrade.release, |s| s.release);
        let cluster = durable_release.max(replica.upgrade.release);
        replica.durable_release = cluster;
        replica.announced_release = cluster;
        if cluster > replica.options.binary_release {
            replica.halt(HaltReason::BinaryTooOld { binary: replica.options.binary_release, cluster });
            return replica;
        }
        match durable.superblock {
            None => replica.start_recovery(),
            Some(superblock) => replica.restore_log(superblock, durable.entries, fresh),
        }
        replica
    }

    fn restore_log(&mut self, superblock: Superblock, entries: Vec<StoredEntry>, fresh: bool) {
        self.view = superblock.view;
        self.log_view = superblock.log_view;
        self.durable_view = superblock.view;
        // The window is the last contiguous run of stored headers. A gap before it is
        // left by adopting a view's log beyond what we had applied (the ops between come
        // by state transfer); writes that were lost or torn at a crash leave nothing
        // after them, because writes complete in order.
        let run_start = entries
            .windows(2)
            .rposition(|pair| pair[1].header().op != pair[0].header().op + 1)
            .map_or(0, |index| index + 1);
        let run = &entries[run_start.min(entries.len())..];
        let run_last = run.last().map(|stored| stored.header().op);
        let run_base = match (run.first(), run_last) {
            (Some(first), Some(last)) if last >= self.checkpoint.op => first.header().op - 1,
            _ => self.checkpoint.op,
        };
        let base = run_base.max(superblock.log_start);
        let base_checksum = (base == self.checkpoint.op).then_some(self.checkpoint.last_header.checksum);
        self.log.reset(base, base_checksum);
        for stored in entries.into_iter().skip(run_start) {
            let op = stored.header().op;
            if op <= self.log.base() {
                continue;
            }
            if !self.log.chains(&stored.header()) {
                // Writes complete in order, so a stored run is one chain; a break can
                // only be an older history: what follows is this view's.
                break;
            }
            let slot = match stored {
                StoredEntry::Intact(entry) => LogSlot { header: entry.header, body: Some(entry.body), durable: true },
                StoredEntry::Damaged(header) => LogSlot { header, body: None, durable: false },
            };
            self.log.push(slot);
        }
        self.bound_window();
        self.durable_op = self.log.durable_through(self.checkpoint.op);
        // The primary of this view, as the log tells it now: fixed for the view, so a
        // reconfiguration this member later learns committed cannot move it.
        if self.log_view == self.view {
            self.known_primary = Some((self.view, self.primary_of(self.view)));
        }
        if !self.is_voter(self.id) {
            self.phase = Phase::Normal;
            self.set_primary_timeout();
            self.announce_restart(fresh);
            return;
        }
        if self.log_view == self.view && self.primary_of(self.view) != self.id {
            self.phase = Phase::Normal;
            self.set_primary_timeout();
            self.announce_restart(fresh);
        } else if self.log_view == self.view && fresh {
            self.phase = Phase::Normal;
            self.timers.set(Timer::Heartbeat, self.now);
        } else if self.log_view == self.view {
            // A primary that restarts must not reuse its view: ops it lost may have
            // reached backups, so it hands over to the next view.
            self.start_view_change(self.view + 1);
        } else {
            // Mid view change: where its DoViewChange went is forgotten, so it moves on
            // to the next view rather than send it somewhere else (`reconfig.rs`).
            self.phase = Phase::ViewChange(ViewChangeRound::new(self.id));
            self.start_view_change(self.view + 1);
        }
    }

    /// A follower back from a restart says at once which binary it runs (a primary
    /// must not go on what the member's previous incarnation advertised) and asks for
    /// whatever its log lacks, rather than waiting for the next heartbeat and repair round.
    pub(super) fn announce_restart(&mut self, fresh: bool) {
        if fresh {
            // A freshly formatted member: nothing to announce or repair yet.
            self.timers.arm(Timer::Repair, self.now + self.options.repair_interval_ticks);
            return;
        }
        let heartbeat = crate::message::Heartbeat {
            view: self.view,
            from: self.id,
            op: self.log.op(),
            commit: self.applied,
            release: self.options.binary_release,
            echo_sent_at: 0,
        };
        let primary = self.primary_hint();
        self.send(primary, Message::Heartbeat(heartbeat));
        self.timers.arm(Timer::Repair, self.now);
    }

    /// Keep the window within its bound: the oldest slots go first. A member left
    /// behind its window waits for state transfer, as after a long partition.
    pub(super) fn bound_window(&mut self) {
        let excess = (self.log.len() as Op).saturating_sub(self.options.window_max_ops());
        if excess > 0 {
            let base = self.log.base() + excess;
            self.log.trim_before(base + 1);
        }
        self.awaiting_checkpoint = self.applied < self.log.base();
    }

    pub(super) fn halt(&mut self, reason: HaltReason) {
        self.phase = Phase::Halted(reason);
        self.timers = Timers::default();
        self.outbox.clear();
        self.persists.clear();
    }
}
