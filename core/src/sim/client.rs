//! Simulated clients of the key-value machine: one request outstanding at a time,
//! resent to every replica when no reply comes. A client registers before its first
//! request through the primary, and again after its session was evicted.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Endpoint, EventKind, SimError, Simulator, CLIENT_TIMEOUT_TICKS};
use crate::message::{Message, ReadRequest, Reply, Request};
use crate::replica::read_refusal::ReadRefusal;
use crate::replica::sessions::{SESSION_EVICTED, SESSION_TOO_OLD};
use crate::state_machine::{KvCommand, KvResult, FEATURE_OFF, MALFORMED};
use crate::types::{ClientId, MemberId, Op, RequestNumber, View};

/// Requests a client may have queued behind its outstanding one.
pub const CLIENT_QUEUE_MAX: usize = 4096;

/// Clients `1 ..= 64` have sessions from the cluster's start (session 0), so a script's
/// writes through them are one op each; a client numbered higher registers first, and
/// so does one whose session was evicted.
pub const PREREGISTERED_CLIENTS: u64 = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientReply {
    /// No request yet.
    None,
    Pending,
    Ok,
    Value(String),
    Nil,
    Error(String),
}

impl ClientReply {
    pub fn from_result(result: &[u8]) -> ClientReply {
        match KvResult::decode(result) {
            Some(KvResult::Ok) => ClientReply::Ok,
            Some(KvResult::Value(Some(value))) => ClientReply::Value(String::from_utf8_lossy(&value).into_owned()),
            Some(KvResult::Value(None)) => ClientReply::Nil,
            Some(KvResult::Integer(number)) => ClientReply::Value(alloc::format!("{number}")),
            // An array: its values joined by `,`, `nil` for a missing one.
            Some(KvResult::Values(values)) => ClientReply::Value(
                values
                    .iter()
                    .map(|value| {
                        value.as_ref().map_or_else(|| String::from("nil"), |v| String::from_utf8_lossy(v).into_owned())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            // SCAN's reply, [cursor, [keys]], flattened as the spec's text of arrays.
            Some(KvResult::Scan { cursor, keys }) => {
                let mut parts = alloc::vec![alloc::format!("{cursor}")];
                parts.extend(keys.iter().map(|key| String::from_utf8_lossy(key).into_owned()));
                ClientReply::Value(parts.join(","))
            }
            Some(refused) if refused.error_code() == Some(FEATURE_OFF) => ClientReply::Error(String::from(FEATURE_OFF)),
            // A client sends only well-formed commands, so code that cannot decode one
            // is an older release's, which lacks it: what the spec calls feature-off.
            Some(KvResult::Error(text)) if text == MALFORMED => ClientReply::Error(String::from(FEATURE_OFF)),
            // Refusals answer with the spec's codes; anything else failed.
            Some(KvResult::Error(code))
                if code == SESSION_EVICTED
                    || ReadRefusal::from_code(&code).is_some_and(|refusal| refusal != ReadRefusal::NotReadOnly) =>
            {
                ClientReply::Error(code)
            }
            // Scripted clients send one command at a time, never a pipeline.
            Some(KvResult::Error(_)) | Some(KvResult::Results(_)) | None => ClientReply::Error(String::from("failed")),
        }
    }

    pub fn text(&self) -> String {
        match self {
            ClientReply::None => String::from("none"),
            ClientReply::Pending => String::from("pending"),
            ClientReply::Ok => String::from("ok"),
            ClientReply::Value(value) => value.clone(),
            ClientReply::Nil => String::from("nil"),
            ClientReply::Error(code) => alloc::format!("error:{code}"),
        }
    }
}

/// One queued client operation: through the primary, or a read at one standby, or a
/// command the client refuses itself (`refused`: a code), in its turn.
#[derive(Clone, Debug)]
pub struct ClientOp {
    pub command: KvCommand,
    pub at: Option<MemberId>,
    pub refused: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct Outstanding {
    pub request: RequestNumber,
    pub operation: Vec<u8>,
    /// The standby this read goes to, if it is a standby read.
    pub at: Option<MemberId>,
    /// The highest op the client had seen when it sent this request.
    pub min_op: Op,
    /// Resends so far.
    pub attempts: u32,
    /// Its entry in the checkers' history (none for registrations and standby reads).
    pub history: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct SimClient {
    pub id: ClientId,
    pub queue: VecDeque<ClientOp>,
    pub outstanding: Option<Outstanding>,
    pub next_request: RequestNumber,
    /// The op that committed this client's registration.
    pub session: Option<Op>,
    /// The newest view this client has seen in a reply, and who sent that reply: it
    /// sends there until a timeout makes it ask every member.
    pub view: View,
    pub primary: MemberId,
    pub reply: ClientReply,
    pub timer_generation: u64,
    /// The highest op this client has seen in a reply (monotonic reads).
    pub seen_op: Op,
    /// Its session is too old for a command: the next registration renews it.
    pub renewing: bool,
}

impl SimClient {
    pub fn new(id: ClientId) -> Self {
        Self {
            id,
            queue: VecDeque::new(),
            outstanding: None,
            next_request: 1,
            session: (1..=PREREGISTERED_CLIENTS).contains(&id).then_some(0),
            view: 0,
            primary: 0,
            reply: ClientReply::None,
            timer_generation: 0,
            seen_op: 0,
            renewing: false,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.outstanding.is_none() && self.queue.is_empty()
    }

    fn registering(&self) -> bool {
        self.outstanding.as_ref().is_some_and(|outstanding| outstanding.request == 0 && outstanding.at.is_none())
    }
}

impl Simulator {
    pub fn submit(&mut self, client: ClientId, command: KvCommand) -> Result<(), SimError> {
        self.submit_to(client, command, None)
    }

    /// Queue a client operation: through the primary, or with `at`, a read served by
    /// that member alone (a standby read).
    pub fn submit_to(&mut self, client: ClientId, command: KvCommand, at: Option<MemberId>) -> Result<(), SimError> {
        let c = self.clients.entry(client).or_insert_with(|| SimClient::new(client));
        if c.queue.len() >= CLIENT_QUEUE_MAX {
            return Err(SimError(alloc::format!("client {client} already has {CLIENT_QUEUE_MAX} requests queued")));
        }
        c.queue.push_back(ClientOp { command, at, refused: None });
        if c.outstanding.is_none() {
            self.client_next(client);
        }
        Ok(())
    }

    /// A command the client answers itself with `error:CODE`, in its turn (one the
    /// cluster's release lacks).
    pub fn refuse(&mut self, client: ClientId, code: &'static str) -> Result<(), SimError> {
        let c = self.clients.entry(client).or_insert_with(|| SimClient::new(client));
        if c.queue.len() >= CLIENT_QUEUE_MAX {
            return Err(SimError(alloc::format!("client {client} already has {CLIENT_QUEUE_MAX} requests queued")));
        }
        let command = KvCommand::Get { key: Vec::new() };
        c.queue.push_back(ClientOp { command, at: None, refused: Some(code) });
        if c.outstanding.is_none() {
            self.client_next(client);
        }
        Ok(())
    }

    fn client_next(&mut self, client: ClientId) {
        let Some(c) = self.clients.get_mut(&client) else { return };
        while let Some(code) = c.queue.front().and_then(|next| next.refused) {
            c.queue.pop_front();
            c.reply = ClientReply::Error(String::from(code));
        }
        let Some(next) = c.queue.front() else { return };
        let min_op = c.seen_op;
        if next.at.is_none() && (c.session.is_none() || c.renewing) {
            // A session first: the registration executes nothing.
            c.outstanding =
                Some(Outstanding { request: 0, operation: Vec::new(), at: None, min_op, attempts: 0, history: None });
            self.client_send(client, false);
            return;
        }
        let op = c.queue.pop_front().expect("front exists");
        let request = c.next_request;
        c.next_request += 1;
        let history =
            (self.config.check && op.at.is_none()).then(|| self.history.invoke(client, &op.command)).flatten();
        let c = self.clients.get_mut(&client).expect("client exists");
        c.outstanding =
            Some(Outstanding { request, operation: op.command.encode(), at: op.at, min_op, attempts: 0, history });
        self.client_send(client, false);
    }

    pub(super) fn client_send(&mut self, client: ClientId, broadcast: bool) {
        // Without standbys every member is a replica; with them, a promotion may have
        // made any member the primary.
        let broadcast_to = if self.config.standbys == 0 { self.config.replicas } else { self.member_count() };
        let Some(c) = self.clients.get_mut(&client) else { return };
        let session = c.session.unwrap_or(0);
        let Some(outstanding) = c.outstanding.as_mut() else { return };
        outstanding.attempts += u32::from(broadcast);
        let request =
            Request { client, session, request: outstanding.request, operation: outstanding.operation.clone() };
        c.timer_generation += 1;
        let generation = c.timer_generation;
        let primary = c.primary;
        self.events.schedule(self.now + CLIENT_TIMEOUT_TICKS, EventKind::ClientTimer { client, generation });
        if let Some(at) = outstanding.at {
            let read = ReadRequest {
                client,
                request: outstanding.request,
                operation: outstanding.operation.clone(),
                min_op: outstanding.min_op,
            };
            self.send(Endpoint::Client(client), Endpoint::Member(at), Message::ReadRequest(read));
        } else if broadcast {
            for member in 0..broadcast_to {
                self.send(Endpoint::Client(client), Endpoint::Member(member), Message::Request(request.clone()));
            }
        } else {
            self.send(Endpoint::Client(client), Endpoint::Member(primary), Message::Request(request));
        }
    }

    /// A reply reached client `client` from `from`.
    pub(super) fn client_reply_arrived(&mut self, client: ClientId, from: Endpoint, reply: Reply) {
        let now = self.now;
        let Some(c) = self.clients.get_mut(&client) else { return };
        let Some(outstanding) = &c.outstanding else { return };
        if outstanding.request != reply.request {
            return;
        }
        let standby_read = outstanding.at.is_some();
        if !standby_read && reply.view >= c.view {
            c.view = reply.view;
            if let Endpoint::Member(member) = from {
                c.primary = member;
            }
        }
        if c.registering() {
            c.outstanding = None;
            c.session = Some(reply.op);
            c.renewing = false;
            self.log(format_args!("reply c{client} registered session={}", reply.op));
            self.client_next(client);
            return;
        }
        let outstanding = c.outstanding.take().expect("checked above");
        if is_session_too_old(&reply.result) {
            // Refused for good under this session: no copy of it will ever run. The
            // command goes again, as a new request of a new session.
            c.renewing = true;
            let command = KvCommand::decode(&outstanding.operation).expect("a client's own command decodes");
            c.queue.push_front(ClientOp { command, at: None, refused: None });
            self.log(format_args!("renew c{client} session-too-old for request={}", reply.request));
            if let Some(index) = outstanding.history {
                self.history.complete(index, &reply.result);
            }
            self.client_next(client);
            return;
        }
        c.reply = ClientReply::from_result(&reply.result);
        let refused = matches!(c.reply, ClientReply::Error(_));
        let evicted = c.reply == ClientReply::Error(String::from(SESSION_EVICTED));
        if evicted {
            // Whether it was applied before its session went is unknown: it stays
            // open in the history, and the client registers anew.
            c.session = None;
        }
        if !refused {
            c.seen_op = c.seen_op.max(reply.op);
        }
        let text = c.reply.text();
        self.log(format_args!("reply c{client} request={} {text}", reply.request));
        if self.config.check {
            if standby_read {
                // A read may be as stale as the commit of a lease ago, give or take a
                // message's delay each way.
                let options = self.options(0);
                self.checker.staleness_bound_ops = options.standby_read_lag_ops;
                self.checker.staleness_window_ticks =
                    options.quorum_timeout_ticks + 2 * self.network.delay_max_seen_ticks + 1;
                self.checker.on_standby_read(now, client, outstanding.min_op, reply.op, refused);
            } else if let Some(index) = outstanding.history.filter(|_| !evicted) {
                self.history.complete(index, &reply.result);
            }
        }
        self.client_next(client);
    }
}

fn is_session_too_old(result: &[u8]) -> bool {
    KvResult::decode(result).is_some_and(|result| result.error_code() == Some(SESSION_TOO_OLD))
}
