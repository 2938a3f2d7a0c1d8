//! The deterministic simulator: members, a network, storage and clients, all driven by
//! one seeded PRNG and one event queue. The browser and wasmtime run it too.

pub mod archive;
pub mod check;
pub mod client;
mod durability;
pub mod engine;
pub mod event;
pub mod explore;
pub mod history;
pub mod linearizability;
mod logged_release;
pub mod network;
mod standby_watch;
pub mod status;
pub mod storage;
mod upgrade_watch;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::checksum::Hasher64;
use crate::message::Message;
use crate::prng::Prng;
use crate::release::Release;
use crate::replica::{Destination, Options, Replica, Role};
use crate::state_machine::KvStore;
use crate::status_snapshot::ReportedStatus;
use crate::types::{ClientId, MemberId, Op, Tick};
use archive::SharedArchive;
use check::Checker;
use client::{ClientReply, SimClient};
use engine::{Delivery, MemberCore, MemberState};
use event::{EventKind, EventQueue};
use history::ClientHistory;
use network::NetworkFaults;
use storage::{CrashLoss, SimStorage};

/// Ticks a client waits for a reply before resending to every replica.
pub const CLIENT_TIMEOUT_TICKS: Tick = 300;
/// Ticks a write takes to become durable.
pub const WRITE_LATENCY_TICKS: Tick = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    pub replicas: u8,
    pub standbys: u8,
    pub seed: u64,
    pub binary: Release,
    pub release: Release,
    pub log_bound_ops: Op,
    /// Keep a text line for every event.
    pub trace: bool,
    /// Run the invariant checkers after every event.
    pub check: bool,
    /// Probability that a crash tears the first unsynced entry write.
    pub torn_write_ppm: u32,
    /// The replicas' automatic promotion policy (off in scenarios).
    pub auto_promote_after_ticks: Option<Tick>,
}

impl SimConfig {
    pub fn new(replicas: u8, standbys: u8, seed: u64) -> Self {
        Self {
            replicas,
            standbys,
            seed,
            binary: crate::release::NEWEST_RELEASE,
            release: crate::release::NEWEST_RELEASE,
            log_bound_ops: 64,
            trace: true,
            check: true,
            torn_write_ppm: 500_000,
            auto_promote_after_ticks: None,
        }
    }
}

#[derive(Clone, Debug)]
struct Envelope {
    from: Endpoint,
    to: Endpoint,
    message: Message,
    /// The frame as an archived sender put it on the wire (see `engine.rs`).
    frame: Option<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Member(MemberId),
    Client(ClientId),
}

/// A message sent and not yet delivered, as hosts show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub from: Endpoint,
    pub to: Endpoint,
    /// The message's kind: `prepare`, `prepare_ok`, ...
    pub kind: &'static str,
    /// The tick it is due.
    pub deliver_at: Tick,
    /// Its interesting fields as `name=value` words, as traces show them.
    pub fields: String,
}

#[derive(Clone)]
pub struct SimMember {
    /// The code it runs while it is up.
    core: Option<MemberCore>,
    pub storage: SimStorage,
    pub binary: Release,
    incarnation: u64,
    timer_at: Option<Tick>,
    last_write_at: Tick,
    was_primary: bool,
    fresh_incarnation: bool,
}

impl SimMember {
    pub fn is_up(&self) -> bool {
        self.core.is_some()
    }
    /// The member's replica, when it is up and runs the current core natively.
    pub fn replica(&self) -> Option<&Replica<KvStore>> {
        self.core.as_ref()?.replica()
    }
    /// What any engine reports of the member while it is up.
    pub fn state(&self) -> Option<MemberState> {
        self.core.as_ref().map(MemberCore::state)
    }
    /// The archived release whose real code it runs, if it is up and runs one.
    pub fn archived_release(&self) -> Option<Release> {
        self.core.as_ref()?.archived_release()
    }
    /// When it next wants a timeout, if it is up.
    pub fn poll_timeout(&self) -> Option<Tick> {
        self.core.as_ref()?.poll_timeout()
    }
}

/// Why a simulator command could not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimError(pub String);

/// `Clone`: the browser session keeps copies as time-travel checkpoints.
#[derive(Clone)]
pub struct Simulator {
    config: SimConfig,
    now: Tick,
    prng: Prng,
    members: Vec<SimMember>,
    pub network: NetworkFaults,
    clients: BTreeMap<ClientId, SimClient>,
    events: EventQueue,
    in_flight: BTreeMap<u64, Envelope>,
    next_message_id: u64,
    pub checker: Checker,
    /// Every client operation through the primary, for the linearizability checker.
    pub history: ClientHistory,
    trace: Vec<String>,
    events_processed: u64,
    trace_pending: Vec<String>,
    violations_reported: usize,
    messages_delivered: u64,
    messages_dropped: u64,
    undecodable_dropped: u64,
    /// The highest committed op already checked for quorum durability.
    quorum_checked_commit: Op,
    history_violation_reported: bool,
    /// A storage event since the last check may have dropped a durable entry.
    storage_shrank: bool,
    config_changes_seen: usize,
    /// Members whose disk was lost and who have not settled in `normal` since: each is a
    /// failure in progress, so a committed op may be durable on that many fewer.
    disks_lost: alloc::collections::BTreeSet<MemberId>,
    /// The highest release each member's superblock recorded (reset with a lost disk).
    durable_release_max: Vec<Option<Release>>,
    /// `(to, from)`: the release `from` last advertised to `to`, and `to`'s view then.
    advertised_to: BTreeMap<(MemberId, MemberId), (crate::types::View, Release)>,
    /// Upgrade entries already checked, by op and checksum.
    upgrades_checked: alloc::collections::BTreeSet<(Op, u64)>,
    /// Where archived releases run, and which releases it carries.
    archive: Option<SharedArchive>,
    archived_releases: Vec<Release>,
    /// What an archived primary tracks of the standbys (see `standby_watch.rs`).
    standby_watch: Option<standby_watch::StandbyWatch>,
    /// What an archived primary is upgrading to (see `upgrade_watch.rs`).
    upgrade_watch: upgrade_watch::UpgradeWatch,
    archived_starts: u64,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Self {
        Self::with_archive(config, None)
    }

    /// A simulator whose members run the real code of every release `archive` carries
    /// when their binary is that release (the spec's archived releases).
    pub fn with_archive(config: SimConfig, archive: Option<SharedArchive>) -> Self {
        let archived_releases = archive.as_ref().map(|archive| archive.borrow_mut().releases()).unwrap_or_default();
        let mut prng = Prng::new(config.seed);
        let member_count = config.replicas + config.standbys;
        let mut sim = Simulator {
            now: 0,
            members: Vec::new(),
            network: NetworkFaults::default(),
            clients: BTreeMap::new(),
            events: EventQueue::default(),
            in_flight: BTreeMap::new(),
            next_message_id: 0,
            checker: Checker::default(),
            history: ClientHistory::default(),
            trace: Vec::new(),
            events_processed: 0,
            trace_pending: Vec::new(),
            violations_reported: 0,
            messages_delivered: 0,
            messages_dropped: 0,
            undecodable_dropped: 0,
            quorum_checked_commit: 0,
            history_violation_reported: false,
            storage_shrank: false,
            config_changes_seen: 0,
            disks_lost: alloc::collections::BTreeSet::new(),
            durable_release_max: alloc::vec![None; member_count as usize],
            advertised_to: BTreeMap::new(),
            upgrades_checked: alloc::collections::BTreeSet::new(),
            archive,
            archived_releases,
            standby_watch: None,
            upgrade_watch: upgrade_watch::UpgradeWatch::new(config.release, member_count as usize),
            archived_starts: 0,
            prng: prng.fork(),
            config,
        };
        for id in 0..member_count {
            let storage = SimStorage::formatted(sim.config.release);
            sim.members.push(SimMember {
                core: None,
                storage,
                binary: sim.config.binary,
                incarnation: 0,
                timer_at: None,
                last_write_at: 0,
                was_primary: false,
                fresh_incarnation: true,
            });
            sim.boot(id, true);
        }
        sim
    }

    pub(super) fn options(&self, member: MemberId) -> Options {
        let mut options = Options::new(self.config.replicas, self.config.standbys);
        options.binary_release = self.members[member as usize].binary;
        options.initial_release = self.config.release;
        options.log_bound_ops = self.config.log_bound_ops;
        options.report_applied = self.config.check;
        options.preregistered_clients = client::PREREGISTERED_CLIENTS;
        options.seed = self.config.seed;
        options.auto_promote_after_ticks = self.config.auto_promote_after_ticks;
        options
    }

    fn boot(&mut self, member: MemberId, fresh: bool) {
        let options = self.options(member);
        let durable = (!fresh).then(|| self.members[member as usize].storage.read());
        self.upgrade_watch.on_boot(member, durable.as_ref());
        let binary = self.members[member as usize].binary;
        let core = match &self.archive {
            Some(archive) if self.archived_releases.contains(&binary) => {
                self.archived_starts += 1;
                let created =
                    engine::ArchivedMember::create(archive.clone(), binary, &options, member, durable, self.now);
                MemberCore::Archived(
                    created.unwrap_or_else(|why| panic!("member {member}'s archived release {binary}: {why}")),
                )
            }
            _ => MemberCore::native(options, member, durable, self.now),
        };
        let slot = &mut self.members[member as usize];
        slot.incarnation += 1;
        slot.timer_at = None;
        slot.was_primary = false;
        slot.fresh_incarnation = true;
        slot.core = Some(core);
        self.drain(member);
    }

    // ----- Observation -----

    pub fn config(&self) -> &SimConfig {
        &self.config
    }
    pub fn now(&self) -> Tick {
        self.now
    }
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }
    /// Messages in flight, in the order they were sent.
    pub fn in_flight(&self) -> Vec<InFlight> {
        let due: BTreeMap<u64, Tick> = self
            .events
            .iter()
            .filter_map(|event| match event.kind {
                EventKind::Deliver(id) => Some((id, event.time)),
                _ => None,
            })
            .collect();
        self.in_flight
            .iter()
            .map(|(id, envelope)| InFlight {
                from: envelope.from,
                to: envelope.to,
                kind: envelope.message.kind(),
                deliver_at: due.get(id).copied().unwrap_or(self.now),
                fields: String::from(describe(&envelope.message).trim_start()),
            })
            .collect()
    }
    /// Member starts that ran an archived release's real code.
    pub fn archived_starts(&self) -> u64 {
        self.archived_starts
    }
    pub fn messages_delivered(&self) -> u64 {
        self.messages_delivered
    }
    pub fn member_count(&self) -> u8 {
        self.members.len() as u8
    }
    pub fn member(&self, member: MemberId) -> &SimMember {
        &self.members[member as usize]
    }
    /// A member's replica, when it is up and runs the current core (not archived code).
    pub fn replica(&self, member: MemberId) -> Option<&Replica<KvStore>> {
        self.members.get(member as usize)?.replica()
    }
    /// What a member that is up reports, whichever code it runs.
    pub fn member_state(&self, member: MemberId) -> Option<MemberState> {
        self.members.get(member as usize)?.state()
    }
    pub fn client_reply(&self, client: ClientId) -> ClientReply {
        match self.clients.get(&client) {
            None => ClientReply::None,
            Some(c) if c.outstanding.is_some() || !c.queue.is_empty() => ClientReply::Pending,
            Some(c) => c.reply.clone(),
        }
    }
    pub fn clients_idle(&self) -> bool {
        self.clients.values().all(SimClient::is_idle)
    }
    pub fn violations(&self) -> u64 {
        self.checker.count()
    }

    /// Run the linearizability checker over the clients' history so far; a violation
    /// it finds counts like any other (once).
    pub fn check_history(&mut self) {
        if !self.config.check || self.history_violation_reported {
            return;
        }
        if let Some(text) = self.history.violation() {
            self.history_violation_reported = true;
            self.checker.violation(text);
            self.report_violations();
        }
    }
    pub fn take_trace(&mut self) -> Vec<String> {
        core::mem::take(&mut self.trace)
    }

    /// The member that is up, in normal status and primary of its view (the highest
    /// view if several are).
    pub fn primary(&self) -> Option<MemberId> {
        self.members
            .iter()
            .enumerate()
            .filter_map(|(id, m)| m.state().filter(|state| state.serving_primary).map(|state| (state.view, id)))
            .max()
            .map(|(_, id)| id as MemberId)
    }

    /// A digest of every member's durable and applied state.
    pub fn digest(&self) -> u64 {
        let mut hasher = Hasher64::new();
        for member in &self.members {
            member.storage.hash_into(&mut hasher);
            match &member.core {
                Some(core) => hasher.write_u64(core.state_digest()),
                None => hasher.write_u64(0),
            }
        }
        hasher.finish()
    }

    /// Add a line to the trace, for faults the scenario applies directly.
    pub fn note(&mut self, text: &str) {
        self.log(format_args!("{text}"));
    }

    fn log(&mut self, line: core::fmt::Arguments<'_>) {
        if self.config.trace {
            let mut text = String::new();
            let _ = write!(text, "t={} ", self.now);
            let _ = text.write_fmt(line);
            self.trace.push(text);
        }
    }

    // ----- Running -----

    /// Process the next event. False when there is none.
    pub fn step(&mut self) -> bool {
        loop {
            let Some(event) = self.events.pop() else { return false };
            if self.is_stale(&event.kind, event.time) {
                continue;
            }
            self.now = self.now.max(event.time);
            self.process(event.kind);
            self.events_processed += 1;
            if self.config.check {
                self.check();
                self.report_violations();
                let checker = &self.checker;
                self.upgrade_watch.advance(|op| checker.committed_checksum(op));
            }
            return true;
        }
    }

    /// Run every event due up to `time`, then set the clock there.
    pub fn run_until(&mut self, time: Tick) {
        while let Some(next) = self.events.peek_time() {
            if next > time {
                break;
            }
            self.step();
        }
        self.now = self.now.max(time);
    }

    fn is_stale(&self, kind: &EventKind, time: Tick) -> bool {
        match *kind {
            EventKind::Deliver(_) => false,
            EventKind::Timer { member, incarnation } => {
                let m = &self.members[member as usize];
                m.core.is_none() || m.incarnation != incarnation || m.timer_at != Some(time)
            }
            EventKind::WriteDone { member, incarnation, .. } => {
                let m = &self.members[member as usize];
                m.core.is_none() || m.incarnation != incarnation
            }
            EventKind::ClientTimer { client, generation } => {
                self.clients.get(&client).is_none_or(|c| c.timer_generation != generation || c.outstanding.is_none())
            }
        }
    }

    fn process(&mut self, kind: EventKind) {
        match kind {
            EventKind::Deliver(id) => {
                let Some(envelope) = self.in_flight.remove(&id) else { return };
                self.deliver(envelope);
            }
            EventKind::Timer { member, .. } => {
                self.members[member as usize].timer_at = None;
                self.log(format_args!("timeout {member}"));
                let now = self.now;
                if let Some(core) = self.members[member as usize].core.as_mut() {
                    core.timeout(now);
                }
                self.drain(member);
            }
            EventKind::WriteDone { member, persist_id, .. } => {
                self.log(format_args!("durable {member} write={persist_id}"));
                let now = self.now;
                let m = &mut self.members[member as usize];
                let (verified, dropped) = m.storage.complete(persist_id);
                self.storage_shrank |= dropped;
                if let Some(core) = m.core.as_mut() {
                    core.persisted(now, persist_id);
                    for (op, checksum, intact) in verified {
                        if !intact {
                            self.trace_pending.push(alloc::format!("scrub {member} found op={op} damaged"));
                        }
                        core.verified(now, op, checksum, intact);
                    }
                }
                for line in core::mem::take(&mut self.trace_pending) {
                    self.note(&line);
                }
                if self.config.check {
                    self.check_durable_release(member);
                }
                self.drain(member);
            }
            EventKind::ClientTimer { client, .. } => {
                self.log(format_args!("client {client} timeout, resending"));
                self.client_send(client, true);
            }
        }
    }

    fn deliver(&mut self, envelope: Envelope) {
        let Envelope { from, to, message, frame } = envelope;
        if let (Endpoint::Member(a), Endpoint::Member(b)) = (from, to) {
            if !self.network.link_open(a, b) {
                self.messages_dropped += 1;
                return;
            }
        }
        self.messages_delivered += 1;
        match to {
            Endpoint::Member(member) => {
                let Some(core) = self.members[member as usize].core.as_ref() else { return };
                // A binary older than the message's kind cannot decode it: the real
                // decoder meets an unknown variant; it is dropped and counted. (An
                // archived member's own decoder decides that for itself.)
                let binary = self.members[member as usize].binary;
                if core.replica().is_some() && crate::wire::introduced_in(&message) > binary {
                    self.undecodable_dropped += 1;
                    self.log(format_args!("drop {} to {member}: its binary {binary} cannot decode it", message.kind()));
                    return;
                }
                if self.config.trace {
                    let from_text = match from {
                        Endpoint::Member(m) => alloc::format!("{m}"),
                        Endpoint::Client(c) => alloc::format!("c{c}"),
                    };
                    self.log(format_args!("deliver {} {from_text}->{member}{}", message.kind(), describe(&message)));
                }
                if let (Endpoint::Member(sender), Some(release)) = (from, advertised_release(&message)) {
                    let view = self.members[member as usize].state().map_or(0, |state| state.view);
                    self.advertised_to.insert((member, sender), (view, release));
                }
                let now = self.now;
                let kind = message.kind();
                if let Message::Heartbeat(heartbeat) = &message {
                    self.watch_heartbeat(member, heartbeat);
                }
                let Some(core) = self.members[member as usize].core.as_mut() else { return };
                match core.message(now, message, frame) {
                    Delivery::Taken => {}
                    Delivery::Invalid(reason) => self.log(format_args!("drop invalid message at {member}: {reason}")),
                    Delivery::Undecodable(label) => {
                        self.undecodable_dropped += 1;
                        self.log(format_args!(
                            "drop {kind} to {member}: its binary {binary} cannot decode it ({label})"
                        ));
                    }
                }
                self.drain(member);
            }
            Endpoint::Client(client) => {
                if let Message::Reply(reply) = message {
                    self.client_reply_arrived(client, from, reply);
                }
            }
        }
    }

    /// Hand a member's outputs to the network, its storage and the checkers.
    fn drain(&mut self, member: MemberId) {
        let now = self.now;
        let index = member as usize;
        self.watch_archived_primary(member);
        let Some(core) = self.members[index].core.as_mut() else { return };
        let engine::Drained { sends, persists: writes, applied, timeout, undecodable } = core.drain();
        for label in undecodable {
            self.undecodable_dropped += 1;
            self.log(format_args!("drop a frame from {member}: the current decoder rejects it ({label})"));
        }
        for persist in writes {
            self.upgrade_watch.on_write(member, &persist.write);
            if let crate::replica::Write::Entry(entry) = &persist.write {
                match entry.body {
                    crate::message::Body::Upgrade { release } => {
                        self.on_upgrade_entry_written(member, entry.header, release);
                    }
                    crate::message::Body::Requests(_) => self.on_requests_entry_written(member, entry.header),
                    _ => {}
                }
            }
            if let crate::replica::Write::Verify { .. } = persist.write {
                if self.config.check {
                    let release = self.members[index].state().map(|state| state.release);
                    if let Some(release) = release {
                        self.checker.on_scrub(member, release);
                    }
                }
            }
            let m = &mut self.members[index];
            let at = m.last_write_at.max(now + WRITE_LATENCY_TICKS);
            m.last_write_at = at;
            let kind = EventKind::WriteDone { member, incarnation: m.incarnation, persist_id: persist.id };
            m.storage.submit(persist);
            self.events.schedule(at, kind);
        }
        for note in &applied {
            self.checker.on_applied(member, note);
        }
        let m = &mut self.members[index];
        if let Some(at) = timeout {
            let at = at.max(now);
            if m.timer_at != Some(at) {
                m.timer_at = Some(at);
                let kind = EventKind::Timer { member, incarnation: m.incarnation };
                self.events.schedule(at, kind);
            }
        } else {
            m.timer_at = None;
        }
        for outgoing in sends {
            let to = match outgoing.to {
                Destination::Member(to) => Endpoint::Member(to),
                Destination::Client(client) => Endpoint::Client(client),
            };
            self.send_framed(Endpoint::Member(member), to, outgoing.message, outgoing.frame);
        }
    }

    fn send(&mut self, from: Endpoint, to: Endpoint, message: Message) {
        self.send_framed(from, to, message, None);
    }

    fn send_framed(&mut self, from: Endpoint, to: Endpoint, message: Message, frame: Option<Vec<u8>>) {
        if self.prng.chance_ppm(self.network.loss_ppm) {
            self.messages_dropped += 1;
            return;
        }
        if self.prng.chance_ppm(self.network.dup_ppm) {
            self.schedule_delivery(Envelope { from, to, message: message.clone(), frame: frame.clone() });
        }
        self.schedule_delivery(Envelope { from, to, message, frame });
    }

    fn schedule_delivery(&mut self, envelope: Envelope) {
        let delay = self.prng.range_inclusive(self.network.delay_min_ticks, self.network.delay_max_ticks);
        let id = self.next_message_id;
        self.next_message_id += 1;
        self.in_flight.insert(id, envelope);
        self.events.schedule(self.now + delay, EventKind::Deliver(id));
    }

    /// Start a standby watch when an archived member has just become primary of a view.
    fn watch_archived_primary(&mut self, member: MemberId) {
        let m = &self.members[member as usize];
        let Some(state) = m.state().filter(|state| state.serving_primary) else { return };
        if m.archived_release().is_none()
            || self.standby_watch.as_ref().is_some_and(|watch| watch.follows(member, m.incarnation, state.view))
        {
            return;
        }
        let (options, membership) = (self.options(member), self.current_membership());
        let watch = standby_watch::StandbyWatch::start(
            member,
            m.incarnation,
            state.view,
            &options,
            membership.standbys(),
            self.now,
        );
        self.standby_watch = Some(watch);
    }

    /// A heartbeat about to reach `member`: the watch sees it if `member` is watched.
    fn watch_heartbeat(&mut self, member: MemberId, heartbeat: &crate::message::Heartbeat) {
        let m = &self.members[member as usize];
        let Some(state) = m.state() else { return };
        if !self.standby_watch.as_ref().is_some_and(|watch| watch.follows(member, m.incarnation, state.view)) {
            return;
        }
        let membership = self.current_membership();
        if let Some(watch) = self.standby_watch.as_mut() {
            watch.on_heartbeat(heartbeat, &state, membership.standbys(), self.now);
        }
    }

    /// The release `primary` is moving the cluster to: its replica's, or for archived
    /// code as projected beside it. `Err` when nothing can say: archived code with the
    /// checkers off (the projection follows the ops they see applied).
    pub fn upgrade_target_of(&self, primary: MemberId) -> Result<Option<Release>, SimError> {
        let m = &self.members[primary as usize];
        if let Some(replica) = m.replica() {
            return Ok(replica.upgrade_target());
        }
        let Some(state) = m.state() else { return Ok(None) };
        if !self.config.check {
            return Err(SimError(alloc::format!(
                "member {primary} runs archived code, and with the checkers off nothing projects its upgrade"
            )));
        }
        Ok(self.upgrade_watch.target(primary, state.commit_max, state.op))
    }

    /// What `primary` tracks of `standby`: from its replica, or for archived code from
    /// the watch beside it. `None` for a member that is not a standby.
    pub fn standby_view(&self, primary: MemberId, standby: MemberId) -> Option<crate::standby::StandbyView> {
        let m = self.members.get(primary as usize)?;
        if let Some(replica) = m.replica() {
            return replica.standby_view(standby);
        }
        let state = m.state()?;
        let watch = self.standby_watch.as_ref().filter(|watch| watch.follows(primary, m.incarnation, state.view))?;
        if !self.current_membership().standbys().contains(&standby) {
            return None;
        }
        watch.view(standby, state.commit_max, self.now)
    }

    /// The configuration `member` has committed: its replica's, or for archived code
    /// the one the checkers followed from applied ops.
    pub fn committed_membership_of(&self, member: MemberId) -> crate::replica::Membership {
        match self.replica(member) {
            Some(replica) => replica.committed_membership().clone(),
            None => self.current_membership(),
        }
    }

    /// The first time a serving primary writes an upgrade entry it is preparing it:
    /// check what it heard (see `Checker::on_upgrade_prepared`).
    fn on_upgrade_entry_written(&mut self, member: MemberId, header: crate::message::Header, release: Release) {
        let Some(state) = self.members[member as usize].state() else { return };
        if !self.config.check || !state.serving_primary || !self.upgrades_checked.insert((header.op, header.checksum)) {
            return;
        }
        let view = state.view;
        // The primary's own view of the configuration; for archived code (whose ABI
        // does not report it), the committed one the checkers follow.
        let membership = match self.members[member as usize].replica() {
            Some(replica) => replica.membership().clone(),
            None => self.current_membership(),
        };
        let members: Vec<MemberId> = membership.active().iter().chain(membership.standbys()).copied().collect();
        let heard = &self.advertised_to;
        self.checker.on_upgrade_prepared(member, view, release, &members, |m| heard.get(&(member, m)).copied());
    }

    /// A primary writing an entry of its own view prepared it: the checkers judge its
    /// commands by what that primary's binary knows.
    fn on_requests_entry_written(&mut self, member: MemberId, header: crate::message::Header) {
        let m = &self.members[member as usize];
        let Some(state) = m.state() else { return };
        if self.config.check && state.serving_primary && state.view == header.view {
            self.checker.on_prepared(header.op, header.checksum, m.binary);
        }
    }

    /// Violations always reach the output, with or without the trace, as they happen.
    fn report_violations(&mut self) {
        while self.violations_reported < self.checker.violations.len() {
            let text = alloc::format!("violation: {}", self.checker.violations[self.violations_reported]);
            self.trace.push(text);
            self.violations_reported += 1;
        }
    }

    fn check(&mut self) {
        for index in 0..self.members.len() {
            let member = index as MemberId;
            let m = &mut self.members[index];
            let Some(state) = m.state() else { continue };
            let fresh = core::mem::replace(&mut m.fresh_incarnation, false);
            let became_primary = state.serving_primary && !m.was_primary;
            m.was_primary = state.serving_primary;
            self.checker.on_commit(member, fresh, state.commit);
            // Recovered once normal with what it recovered on its disk (it turns normal
            // as it installs a checkpoint, a write still on its way): then the op
            // counts must be whole again.
            let settled = state.status == ReportedStatus::Normal && m.storage.unsynced_writes() == 0;
            if settled && self.disks_lost.remove(&member) {
                self.storage_shrank = true;
            }
            if state.status != ReportedStatus::Halted {
                self.checker.on_release(member, state.release, m.binary);
            }
            self.checker.on_commit_max(self.now, state.log_view, state.commit_max);
            // A new primary's log must hold every committed op; archived code does not
            // show its log through the ABI, so that check covers native primaries.
            let Some(replica) = m.replica() else { continue };
            if became_primary {
                let log = replica.log();
                let (op, base, view) = (replica.op(), log.base(), replica.view());
                let headers = |op| log.header(op).map(|header| header.checksum);
                self.checker.on_primary(member, view, headers, op, base);
            }
        }
        self.check_durability();
    }

    // ----- Faults -----

    pub fn crash(&mut self, member: MemberId) {
        let m = &mut self.members[member as usize];
        if m.core.take().is_none() {
            return;
        }
        self.storage_shrank = true;
        let loss = if self.prng.chance_ppm(self.config.torn_write_ppm) { CrashLoss::Torn } else { CrashLoss::Lost };
        let lost = self.members[member as usize].storage.crash(loss);
        self.log(format_args!(
            "crash {member} unsynced_writes_lost={lost}{}",
            if loss == CrashLoss::Torn && lost > 0 { " torn" } else { "" }
        ));
    }

    pub fn restart(&mut self, member: MemberId, binary: Option<Release>) {
        self.crash(member);
        if let Some(binary) = binary {
            self.members[member as usize].binary = binary;
        }
        let binary = self.members[member as usize].binary;
        self.log(format_args!("restart {member} binary={binary}"));
        self.boot(member, false);
        if let Some(reason) = self.members[member as usize].core.as_ref().and_then(MemberCore::halt_reason) {
            self.log(format_args!("halted {member}: {reason}"));
        }
    }

    /// Lose a member's whole data directory (it must be down): it comes back through
    /// the protocol's recovery, never by guessing.
    pub fn lose_data(&mut self, member: MemberId) {
        assert!(self.members[member as usize].core.is_none(), "crash the member first");
        self.members[member as usize].storage = SimStorage::default();
        self.durable_release_max[member as usize] = None;
        self.disks_lost.insert(member);
        self.storage_shrank = true;
        self.log(format_args!("lose-data {member}"));
    }

    pub fn corrupt(&mut self, member: MemberId, op: Op) -> bool {
        let damaged = self.members[member as usize].storage.corrupt(op);
        self.log(format_args!("corrupt {member} op={op}{}", if damaged { "" } else { " (nothing stored)" }));
        damaged
    }

    // ----- Operators -----

    /// Hand an upgrade command to the current primary, at once.
    pub fn upgrade_command(&mut self, command: crate::upgrade::UpgradeCommand) -> Result<(), crate::upgrade::Refusal> {
        let Some(primary) = self.primary() else { return Err(crate::upgrade::Refusal::NoPrimary) };
        let now = self.now;
        let core = self.members[primary as usize].core.as_mut().expect("the primary is up");
        let result = core.upgrade_command(now, command);
        self.log(format_args!(
            "operator upgrade {command} at {primary}: {}",
            result.map_or_else(|refusal| refusal.code(), |()| "accepted")
        ));
        self.drain(primary);
        result
    }

    /// `promote S [replace=R]`, taken by the current primary at once.
    pub fn promote(&mut self, standby: MemberId, replace: Option<MemberId>) -> Result<(), crate::upgrade::Refusal> {
        let Some(primary) = self.primary() else { return Err(crate::upgrade::Refusal::NoPrimary) };
        let now = self.now;
        let core = self.members[primary as usize].core.as_mut().expect("the primary is up");
        let result = core.promote(now, standby, replace);
        let replace_text = replace.map(|member| alloc::format!(" replace={member}")).unwrap_or_default();
        self.log(format_args!(
            "operator promote {standby}{replace_text} at {primary}: {}",
            result.map_or_else(|refusal| refusal.code(), |()| "accepted")
        ));
        self.drain(primary);
        result
    }

    pub fn reported_status(&self, member: MemberId) -> ReportedStatus {
        self.member_state(member).map_or(ReportedStatus::Crashed, |state| state.status)
    }

    /// A member's role as it knows it; while it is down, as the primary does (or, with
    /// no primary, as the cluster started).
    pub fn role_of(&self, member: MemberId) -> Role {
        if let Some(state) = self.member_state(member) {
            return state.role;
        }
        match self.primary() {
            Some(primary) => self.committed_membership_of(primary).role_of(member),
            None if member < self.config.replicas => Role::Active,
            None => Role::Standby,
        }
    }
}

/// The binary release a message advertises to its receiver, if it is one that does.
fn advertised_release(message: &Message) -> Option<Release> {
    match message {
        Message::Heartbeat(heartbeat) => Some(heartbeat.release),
        Message::PrepareOk(ok) => Some(ok.release),
        _ => None,
    }
}

/// The interesting fields of a message, for traces.
fn describe(message: &Message) -> String {
    match message {
        Message::Request(m) => alloc::format!(" client={} request={}", m.client, m.request),
        Message::Reply(m) => alloc::format!(" client={} request={}", m.client, m.request),
        Message::Prepare(m) => alloc::format!(" v={} op={} commit={}", m.view, m.entry.header.op, m.commit),
        Message::PrepareOk(m) => alloc::format!(" v={} op={}", m.view, m.op),
        Message::Commit(m) => alloc::format!(" v={} commit={}", m.view, m.commit),
        Message::Heartbeat(m) => alloc::format!(" v={} op={} commit={}", m.view, m.op, m.commit),
        Message::StartViewChange(m) => alloc::format!(" v={}", m.view),
        Message::DoViewChange(m) => alloc::format!(
            " v={} log_view={} op={} commit={}",
            m.view,
            m.log_view,
            m.checkpoint + m.slots.len() as u64,
            m.commit
        ),
        Message::StartView(m) => alloc::format!(" v={} commit={} slots={}", m.view, m.commit, m.slots.len()),
        Message::RequestStartView(m) => alloc::format!(" v={}", m.view),
        Message::Recovery(m) => alloc::format!(" nonce={:x}", m.nonce),
        Message::RecoveryResponse(m) => alloc::format!(" v={}", m.view),
        Message::RequestPrepare(m) => alloc::format!(" v={} op={}", m.view, m.op),
        Message::RequestCheckpoint(m) => alloc::format!(" v={}", m.view),
        Message::Checkpoint(m) => alloc::format!(" op={}", m.data.op),
        Message::ReadRequest(m) => alloc::format!(" client={} request={} min_op={}", m.client, m.request, m.min_op),
        Message::ConfirmPrimacy(m) => alloc::format!(" v={} round={}", m.view, m.round),
        Message::PrimacyConfirmed(m) => alloc::format!(" v={} round={}", m.view, m.round),
    }
}

#[cfg(test)]
mod tests;
