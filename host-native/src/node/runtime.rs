//! The node loop: one task owns the replica and feeds it every input (peer frames,
//! storage completions, timers, client calls, operator commands), then drains its
//! outputs (writes to the storage thread, frames to peers, replies to clients).
//!
//! The replica is pure, so all the node adds is plumbing and three rules:
//! - a write is acknowledged only once the storage thread reports it durable (the core
//!   holds every acknowledgement until `handle_persisted`);
//! - a reply for a client connected to another member goes back to that member over
//!   the peer transport (client ids name their origin, see `requests.rs`);
//! - once storage fails, the replica gets no more input: the member stops taking part
//!   rather than acknowledge anything it could not make durable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use viewstamp_core::message::{Message, ReadRequest, Reply, Request};
use viewstamp_core::replica::health::{Health, HealthReport};
use viewstamp_core::replica::{Destination, RequestDrop, RequestOutcome};
use viewstamp_core::state_machine::KvCommand;
use viewstamp_core::status_snapshot::ReportedStatus;
use viewstamp_core::types::{MemberId, Tick};
use viewstamp_core::upgrade::UpgradeCommand;
use viewstamp_core::wire;

use super::admin::{AdminCommand, AdminOutcome, AdminRequest};
use super::client_port::DataCall;
use super::engine::NodeCore;
use super::requests::{origin_of, Answer, Outcome, PendingRequests, ReadMode, Resend, RetryPolicy, Sent};
use super::snapshot::{NodeSnapshot, StorageFigures};
use super::storage::{Completion, StorageWorker, WorkerReport};
use super::transport::{Inbound, TransportHandle};

/// How often the status snapshot (INFO, HELLO's role) is refreshed.
const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(100);
/// Inputs taken per wakeup before outputs are drained, so that one fsync covers many.
const INPUTS_PER_WAKEUP_MAX: usize = 256;
/// How long a stopping member goes on working for the commands it has sent on, so
/// that a restart (an upgrade's) answers them instead of leaving their clients unsure.
const SHUTDOWN_DRAIN_MAX: Duration = Duration::from_secs(3);
/// How long a primary that handed over stays up for its StartViewChange to leave.
const HAND_OVER_SEND_WAIT: Duration = Duration::from_millis(20);

/// Ticks from a monotonic clock: the core's time.
pub struct Clock {
    start: Instant,
    tick: Duration,
}

impl Clock {
    pub fn new(tick_ms: u64) -> Self {
        Self { start: Instant::now(), tick: Duration::from_millis(tick_ms.max(1)) }
    }

    pub fn now(&self) -> Tick {
        (self.start.elapsed().as_nanos() / self.tick.as_nanos()) as Tick
    }

    /// How long one tick lasts.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    pub fn duration_of(&self, ticks: Tick) -> Duration {
        self.tick.saturating_mul(ticks.min(u32::MAX as u64) as u32)
    }

    pub fn instant_of(&self, tick: Tick) -> Instant {
        self.start + self.tick.saturating_mul(tick.min(u32::MAX as u64) as u32)
    }
}

/// Why the loop ended with an error.
#[derive(Debug)]
pub enum Stop {
    /// The replica halted (its binary is older than the cluster's release).
    Halted(String),
}

pub struct Node {
    pub replica: NodeCore,
    pub clock: Clock,
    pub cluster: u64,
    pub transport: TransportHandle,
    pub storage: StorageWorker,
    pub snapshot: watch::Sender<Arc<NodeSnapshot>>,
    pending: PendingRequests,
    requests_by_outcome: BTreeMap<String, u64>,
    /// Requests sent again for want of an answer, and of those sent to every member:
    /// a forwarding that works needs neither.
    requests_resent: u64,
    requests_broadcast: u64,
    frames_refused: BTreeMap<&'static str, u64>,
    storage_failed: Option<String>,
    snapshot_due: Instant,
    /// The (view, primary) last seen in normal status: a change sends every waiting
    /// request to the new primary at once instead of at its next backed-off resend.
    normal_primary_seen: Option<(u64, MemberId)>,
    /// Since when the replica has been out of normal status (a view change, recovery).
    not_normal_since: Option<Instant>,
    /// Since when the primary has answered nothing this member sent it, once that has
    /// lasted past `no_primary_limit`; cleared by any answer or a new primary.
    primary_unanswering_since: Option<Instant>,
    /// Until when a stopping member waits for the answers to what it sent on (see
    /// `SHUTDOWN_DRAIN_MAX`); new commands are refused as not applied meanwhile.
    draining_until: Option<Instant>,
    /// A stopping primary hands over to the next view before it goes (see
    /// `Replica::step_down`), so that its backups need not wait out their timeout.
    stepping_down: bool,
}

/// Where the loop's inputs come from.
pub struct Inputs {
    pub frames: mpsc::Receiver<Inbound>,
    pub calls: mpsc::Receiver<DataCall>,
    pub admin: mpsc::Receiver<AdminRequest>,
    pub shutdown: watch::Receiver<bool>,
}

impl Node {
    pub fn new(
        replica: NodeCore,
        clock: Clock,
        cluster: u64,
        transport: TransportHandle,
        storage: StorageWorker,
        snapshot: watch::Sender<Arc<NodeSnapshot>>,
    ) -> Self {
        Self {
            replica,
            clock,
            cluster,
            transport,
            storage,
            snapshot,
            pending: PendingRequests::new(RetryPolicy::default()),
            requests_by_outcome: BTreeMap::new(),
            requests_resent: 0,
            requests_broadcast: 0,
            frames_refused: BTreeMap::new(),
            storage_failed: None,
            snapshot_due: Instant::now(),
            normal_primary_seen: None,
            not_normal_since: None,
            primary_unanswering_since: None,
            draining_until: None,
            stepping_down: false,
        }
    }

    fn me(&self) -> MemberId {
        self.replica.id()
    }

    /// Runs until shutdown; returns the storage worker and transport for an orderly stop.
    pub async fn run(mut self, mut inputs: Inputs) -> (Result<(), Stop>, StorageWorker, TransportHandle) {
        // A freshly opened replica may already have writes and messages to send.
        self.drain_outputs().await;
        self.publish_snapshot();
        let result = loop {
            if let Some(stop) = self.halted() {
                break Err(stop);
            }
            if let Some(until) = self.draining_until {
                let handing_over = self.stepping_down && self.replica.is_serving_primary();
                if (self.pending.is_empty() && !handing_over) || Instant::now() >= until {
                    let unanswered = self.pending.len();
                    if unanswered > 0 {
                        tracing::warn!(unanswered, "stopping with commands still unanswered");
                    }
                    break Ok(());
                }
            }
            let wake_at = self.next_wakeup();
            tokio::select! {
                biased;
                _ = inputs.shutdown.changed(), if self.draining_until.is_none() => {
                    self.draining_until = Some(Instant::now() + SHUTDOWN_DRAIN_MAX);
                    self.stepping_down = self.replica.step_down(self.clock.now());
                    tracing::info!(
                        waiting = self.pending.len(),
                        handing_over = self.stepping_down,
                        "stopping: answering the commands sent on first"
                    );
                }
                report = self.storage.next_report(), if self.storage_failed.is_none() => {
                    self.on_storage_report(report);
                }
                Some(inbound) = inputs.frames.recv() => {
                    self.on_frame(inbound);
                    for _ in 1..INPUTS_PER_WAKEUP_MAX {
                        match inputs.frames.try_recv() {
                            Ok(inbound) => self.on_frame(inbound),
                            Err(_) => break,
                        }
                    }
                }
                Some(call) = inputs.calls.recv() => {
                    self.on_call(call);
                    for _ in 1..INPUTS_PER_WAKEUP_MAX {
                        match inputs.calls.try_recv() {
                            Ok(call) => self.on_call(call),
                            Err(_) => break,
                        }
                    }
                }
                Some(request) = inputs.admin.recv() => self.on_admin(request),
                _ = tokio::time::sleep_until(wake_at.into()) => self.on_wakeup(),
            }
            self.drain_outputs().await;
            self.observe_primary();
            if Instant::now() >= self.snapshot_due {
                self.publish_snapshot();
            }
        };
        if self.stepping_down && !self.replica.is_serving_primary() {
            // The hand-over's StartViewChange is queued: let the peer writers send it.
            tokio::time::sleep(HAND_OVER_SEND_WAIT).await;
            eprintln!("viewstamp member {} handed over to view {} before stopping", self.me(), self.replica.view());
        }
        self.answer_everything_left(&mut inputs.calls);
        self.publish_snapshot();
        (result, self.storage, self.transport)
    }

    /// The loop has ended: no client waits without an answer. What was sent on may
    /// still commit (TRYAGAIN: maybe applied); what was never taken in was not applied.
    fn answer_everything_left(&mut self, calls: &mut mpsc::Receiver<DataCall>) {
        self.pending.time_out_all();
        calls.close();
        while let Ok(call) = calls.try_recv() {
            let why = format!("member {} has stopped: the command was not applied; retry on another member", self.me());
            let _ = call.answer.send(Outcome::Unavailable(why));
        }
    }

    /// Notes when the replica leaves normal status (see `no_primary_limit`), and on a
    /// new primary resends what waits: requests sent to a primary that has since lost
    /// its view would otherwise wait out their backoff (up to `resend_max`).
    fn observe_primary(&mut self) {
        if !self.replica.is_normal() {
            self.not_normal_since.get_or_insert_with(Instant::now);
            return;
        }
        self.not_normal_since = None;
        let seen = (self.replica.view(), self.replica.request_target());
        if self.normal_primary_seen.is_some_and(|before| before != seen) {
            self.pending.retry_all_now(Instant::now());
            self.primary_unanswering_since = None;
        }
        self.normal_primary_seen = Some(seen);
    }

    /// How long a member may be without a primary before it stops holding clients: a
    /// member cut off from the rest (a partition's minority, a deaf primary) cannot
    /// finish its view change, and a client waiting on it would wait until the heal.
    fn no_primary_limit(&self) -> Duration {
        let options = self.replica.options();
        self.clock.duration_of(2 * options.primary_timeout_ticks)
    }

    /// When this member has been without a primary for longer than the limit.
    fn without_primary_since(&self) -> Option<Instant> {
        self.not_normal_since.filter(|since| since.elapsed() > self.no_primary_limit())
    }

    /// A member in normal status can still be out of its primary's reach: its links to
    /// the primary cut one way (a mute member, a standby on the minority side), so
    /// it hears heartbeats and never starts a view change. Its clients would wait out
    /// their give-up. Once the primary has answered nothing for `no_primary_limit`,
    /// what waits is answered TRYAGAIN (sent on, so maybe applied), and new commands
    /// are refused as not applied while one of them, let through alone, probes
    /// whether the primary answers again.
    fn notice_unanswering_primary(&mut self) {
        let Some(since) = self.pending.unanswered_since() else { return };
        if since.elapsed() >= self.no_primary_limit() {
            tracing::warn!(
                primary = self.replica.primary_hint(),
                "the primary answered nothing for {} ms: answering waiting clients TRYAGAIN",
                since.elapsed().as_millis()
            );
            self.pending.time_out_all();
            self.primary_unanswering_since.get_or_insert(since);
        }
    }

    /// Why a new command is refused while the primary answers nothing, if it is: a
    /// probe waits already. With none waiting the command goes through as the probe.
    fn unanswering_refusal(&self) -> Option<String> {
        let since = self.primary_unanswering_since?;
        if !self.pending.awaits_primary() {
            return None;
        }
        Some(format!(
            "member {} has had no answer from primary {} for {} ms (cut off from it?): the command was not \
             applied; retry on another member",
            self.me(),
            self.replica.primary_hint(),
            since.elapsed().as_millis()
        ))
    }

    fn halted(&self) -> Option<Stop> {
        self.replica.halted().map(Stop::Halted)
    }

    fn next_wakeup(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let timer = if self.storage_failed.is_none() {
            self.replica.poll_timeout().map(|tick| self.clock.instant_of(tick))
        } else {
            None
        };
        let pending = self.pending.next_deadline().into_iter().chain(self.draining_until).min();
        // While requests wait, wake when the member would give up on them for want of a primary.
        let no_primary = self
            .not_normal_since
            .filter(|_| pending.is_some())
            .map(|since| since + self.no_primary_limit() + Duration::from_millis(1));
        let unanswered = self.pending.unanswered_since().map(|since| since + self.no_primary_limit());
        [timer, pending, no_primary, unanswered, Some(self.snapshot_due), Some(far)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(far)
    }

    fn accepts_input(&self) -> bool {
        self.storage_failed.is_none()
    }

    fn on_wakeup(&mut self) {
        if self.accepts_input() {
            let now = self.clock.now();
            if self.replica.poll_timeout().is_some_and(|at| at <= now) {
                self.replica.handle_timeout(now);
            }
        }
        if self.without_primary_since().is_some() {
            // Sent on already, so maybe applied: TRYAGAIN, as a timeout says.
            self.pending.time_out_all();
        }
        self.notice_unanswering_primary();
        for resend in self.pending.due(Instant::now()) {
            self.resend(resend);
        }
    }

    fn on_storage_report(&mut self, report: Option<WorkerReport>) {
        let now = self.clock.now();
        match report {
            Some(Ok(completions)) => {
                for completion in completions {
                    match completion {
                        Completion::Persisted { id } => self.replica.handle_persisted(now, id),
                        Completion::Verified { op, checksum, intact } => {
                            self.replica.handle_verified(now, op, checksum, intact)
                        }
                    }
                }
            }
            Some(Err(error)) => self.fail_storage(error.to_string()),
            None => self.fail_storage("the storage thread ended".to_string()),
        }
    }

    /// Fail-stop: nothing more reaches the replica, so nothing more is acknowledged;
    /// clients are told to use another member. Peers see a crashed member.
    fn fail_storage(&mut self, cause: String) {
        tracing::error!(
            "storage failed: {cause}. This member stops taking part and refuses client commands; nothing it \
             acknowledged is lost. Free space or fix the disk, then restart it."
        );
        self.storage_failed = Some(cause);
        let reason = self.unavailable_reason();
        for waiter in self.pending.take_all() {
            let _ = waiter.send(Outcome::Unavailable(reason.clone()));
        }
    }

    fn unavailable_reason(&self) -> String {
        match &self.storage_failed {
            Some(cause) => {
                format!("member {} stopped taking writes: its storage failed ({cause}); use another member", self.me())
            }
            None => format!("member {} cannot take requests now", self.me()),
        }
    }

    fn on_frame(&mut self, inbound: Inbound) {
        if !self.accepts_input() {
            return;
        }
        let decoded = wire::decode_for(self.replica.binary_release(), self.cluster, &inbound.frame);
        let message = match decoded {
            Ok((message, _)) => message,
            Err(error) => {
                // A newer peer's message, or damage the checksum caught: count, never crash.
                let reason = refusal_reason(&error);
                *self.frames_refused.entry(reason).or_default() += 1;
                tracing::debug!(peer = inbound.from, "dropped a frame: {error}");
                return;
            }
        };
        if claimed_sender(&message).is_some_and(|claimed| claimed != inbound.from) {
            *self.frames_refused.entry("sender_mismatch").or_default() += 1;
            tracing::warn!(peer = inbound.from, kind = message.kind(), "dropped a message claiming another sender");
            return;
        }
        match message {
            Message::Reply(reply) => self.deliver_reply(reply),
            message => self.replica.handle_message(self.clock.now(), message, Some(&inbound.frame)),
        }
    }

    /// A reply for a client of this member, from the local replica or a peer: an
    /// answer from the primary, so it is reachable again.
    fn deliver_reply(&mut self, reply: Reply) {
        let answer = Answer { result: reply.result, op: reply.op };
        if self.pending.complete(reply.client, reply.request, answer) {
            self.primary_unanswering_since = None;
        }
    }

    fn on_call(&mut self, call: DataCall) {
        if !self.accepts_input() {
            let _ = call.answer.send(Outcome::Unavailable(self.unavailable_reason()));
            return;
        }
        if self.draining_until.is_some() {
            let why = format!("member {} is stopping: the command was not applied; retry on another member", self.me());
            let _ = call.answer.send(Outcome::Unavailable(why));
            return;
        }
        if let Some(since) = self.without_primary_since() {
            // Nothing is sent anywhere, so the client can be told it was not applied.
            let why = format!(
                "member {} has had no primary for {} ms (cut off from the others?): the command was not \
                 applied; retry on another member",
                self.me(),
                since.elapsed().as_millis()
            );
            let _ = call.answer.send(Outcome::Unavailable(why));
            return;
        }
        if let Some(why) = self.unanswering_refusal().filter(|_| call.mode == ReadMode::Linearizable) {
            let _ = call.answer.send(Outcome::Unavailable(why));
            return;
        }
        // Refused before anything is sent when this member's cluster release lacks the
        // command (a primary of an older release would log what it cannot run); the
        // primary checks again before logging it. The release read here is the one this
        // member applied, never older than what it told its clients.
        if let Err(refusal) = KvCommand::check_release_encoded(&call.operation, self.replica.release()) {
            let _ = call.answer.send(Outcome::Unavailable(refusal));
            return;
        }
        let now = self.clock.now();
        let sent = Sent {
            client: call.client,
            session: call.session,
            request: call.request,
            operation: call.operation.clone(),
            mode: call.mode,
        };
        self.pending.insert(Instant::now(), sent, call.answer);
        match call.mode {
            ReadMode::StandbyRead { min_op } => {
                let read =
                    ReadRequest { client: call.client, request: call.request, operation: call.operation, min_op };
                self.replica.handle_message(now, Message::ReadRequest(read), None);
            }
            ReadMode::Linearizable => {
                let request = Request {
                    client: call.client,
                    session: call.session,
                    request: call.request,
                    operation: call.operation,
                };
                self.send_request(request, false, true)
            }
        }
    }

    fn resend(&mut self, resend: Resend) {
        if !self.accepts_input() {
            return;
        }
        self.requests_resent += 1;
        self.requests_broadcast += u64::from(resend.broadcast);
        let request = Request {
            client: resend.client,
            session: resend.session,
            request: resend.request,
            operation: resend.operation,
        };
        self.send_request(request, resend.broadcast, false);
    }

    /// To the primary this member believes in, or to every active member when that
    /// belief has not worked for a while (the core ignores requests it cannot take).
    fn send_request(&mut self, request: Request, broadcast: bool, first_send: bool) {
        let me = self.me();
        let targets: Vec<MemberId> =
            if broadcast { self.replica.broadcast_targets() } else { vec![self.replica.request_target()] };
        for target in targets {
            if target == me {
                let outcome = self.replica.handle_request(self.clock.now(), request.clone());
                if first_send && outcome == RequestOutcome::Dropped(RequestDrop::QueueFull) {
                    // Sent nowhere else yet, so certainly not applied: say so now rather
                    // than let the client wait out its resends against a full queue.
                    let why = "the primary's request queue is full: \
                               the command was not applied; retry shortly";
                    self.pending.refuse(request.client, request.request, why.into());
                }
            } else {
                self.send_to(target, &Message::Request(request.clone()));
            }
        }
    }

    fn send_to(&mut self, member: MemberId, message: &Message) {
        match wire::encode_for(self.cluster, self.replica.release(), message) {
            Ok(frame) => self.transport.send(member, frame),
            // The core never sends what the cluster's release cannot carry; a bug if it does.
            Err(error) => tracing::error!(peer = member, kind = message.kind(), "cannot encode a message: {error}"),
        }
    }

    fn on_admin(&mut self, request: AdminRequest) {
        let now = self.clock.now();
        let outcome = match request.command {
            AdminCommand::Status => AdminOutcome::Status(Box::new(self.capture())),
            _ if !self.accepts_input() => AdminOutcome::Unavailable(self.unavailable_reason()),
            AdminCommand::UpgradePropose(release) => {
                admin_outcome(self.replica.handle_upgrade_command(now, UpgradeCommand::Propose(release)))
            }
            AdminCommand::UpgradeCancel => {
                admin_outcome(self.replica.handle_upgrade_command(now, UpgradeCommand::Cancel))
            }
            AdminCommand::UpgradeAuto(on) => {
                admin_outcome(self.replica.handle_upgrade_command(now, UpgradeCommand::Auto(on)))
            }
            AdminCommand::Promote { standby, replace } => {
                admin_outcome(self.replica.handle_promote(now, standby, replace))
            }
        };
        let _ = request.reply.send(outcome);
    }

    /// Writes to the storage thread, messages to peers, replies to clients.
    async fn drain_outputs(&mut self) {
        if !self.accepts_input() {
            return;
        }
        while let Some(persist) = self.replica.poll_persist() {
            if let Err(error) = self.storage.submit(persist).await {
                self.fail_storage(error.to_string());
                return;
            }
        }
        let me = self.me();
        while let Some(outgoing) = self.replica.poll_send() {
            match outgoing.to {
                // An archived core's frame goes out as it wrote it.
                Destination::Member(member) => match outgoing.frame {
                    Some(frame) => self.transport.send(member, frame),
                    None => self.send_to(member, &outgoing.message),
                },
                Destination::Client(client) => {
                    let Message::Reply(reply) = outgoing.message else { continue };
                    let origin = origin_of(client);
                    if origin == me {
                        let outcome = outcome_name(&reply.result);
                        *self.requests_by_outcome.entry(outcome.to_string()).or_default() += 1;
                        self.deliver_reply(reply);
                    } else {
                        *self.requests_by_outcome.entry("forwarded_reply".to_string()).or_default() += 1;
                        self.send_to(origin, &Message::Reply(reply));
                    }
                }
            }
        }
    }

    pub fn capture(&self) -> NodeSnapshot {
        let mut snapshot = NodeSnapshot::capture(self.cluster, &self.replica, self.clock.now(), self.clock.tick());
        snapshot.requests = self.requests_by_outcome.clone();
        let counters = &mut snapshot.replica.counters;
        counters.insert("requests_resent".into(), self.requests_resent);
        counters.insert("requests_broadcast".into(), self.requests_broadcast);
        for (reason, count) in &self.frames_refused {
            counters.insert(format!("frames_refused_{reason}"), *count);
        }
        let transport = self.transport.metrics();
        for (reason, count) in &transport.refusals {
            counters.insert(format!("peer_connections_refused_{}", reason.label()), *count);
        }
        for (reason, count) in &transport.drops {
            counters.insert(format!("peer_frames_dropped_{}", reason.label()), *count);
        }
        snapshot.storage = StorageFigures::from_metrics(&self.storage.metrics(), self.storage_failed.clone());
        if self.storage_failed.is_some() {
            // The replica does not know: the node stopped feeding it.
            snapshot.replica.status = ReportedStatus::StorageFailed;
            snapshot.replica.is_primary = false;
            snapshot.replica.health = HealthReport::of_status(ReportedStatus::StorageFailed);
        } else if self.draining_until.is_some() {
            let reason = "stopping: it answers what it took and takes no new commands";
            snapshot.replica.health = HealthReport::new(Health::Unavailable, reason);
        }
        snapshot
    }

    fn publish_snapshot(&mut self) {
        let snapshot = Arc::new(self.capture());
        self.snapshot.send_replace(snapshot);
        self.snapshot_due = Instant::now() + SNAPSHOT_INTERVAL;
    }
}

fn admin_outcome(result: Result<(), viewstamp_core::upgrade::Refusal>) -> AdminOutcome {
    match result {
        Ok(()) => AdminOutcome::Accepted,
        Err(refusal) => AdminOutcome::Refused(refusal),
    }
}

fn outcome_name(result: &[u8]) -> &'static str {
    match viewstamp_core::state_machine::KvResult::decode(result) {
        Some(viewstamp_core::state_machine::KvResult::Error(_)) => "error",
        Some(_) => "ok",
        None => "undecodable",
    }
}

fn refusal_reason(error: &wire::WireError) -> &'static str {
    use wire::WireError;
    match error {
        WireError::WrongCluster { .. } => "wrong_cluster",
        WireError::BadChecksum => "bad_checksum",
        WireError::Malformed | WireError::TrailingBytes => "undecodable",
        WireError::TooLarge { .. } => "too_large",
        _ => "bad_frame",
    }
}

/// The sender a message names, for the messages that name one: it must be the peer
/// the authenticated connection belongs to.
fn claimed_sender(message: &Message) -> Option<MemberId> {
    match message {
        Message::PrepareOk(m) => Some(m.from),
        Message::Commit(m) => Some(m.from),
        Message::Heartbeat(m) => Some(m.from),
        Message::StartViewChange(m) => Some(m.from),
        Message::DoViewChange(m) => Some(m.from),
        Message::RequestStartView(m) => Some(m.from),
        Message::Recovery(m) => Some(m.from),
        Message::RecoveryResponse(m) => Some(m.from),
        Message::RequestPrepare(m) => Some(m.from),
        Message::RequestCheckpoint(m) => Some(m.from),
        Message::Checkpoint(m) => Some(m.from),
        Message::ConfirmPrimacy(m) => Some(m.from),
        Message::PrimacyConfirmed(m) => Some(m.from),
        Message::Request(_)
        | Message::Reply(_)
        | Message::Prepare(_)
        | Message::StartView(_)
        | Message::ReadRequest(_) => None,
    }
}
