//! Simulated clients of the key-value machine: one request outstanding at a time,
//! resent to every replica when no reply comes.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::state_machine::{KvCommand, KvResult};
use crate::types::{ClientId, MemberId, Op, RequestNumber, View};

/// Requests a client may have queued behind its outstanding one.
pub const CLIENT_QUEUE_MAX: usize = 4096;

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
            Some(KvResult::Values(_)) => ClientReply::Ok,
            // Standby reads answer with the spec's codes; anything else failed.
            Some(KvResult::Error(code)) if matches!(code.as_str(), "feature-off" | "not-standby" | "too-stale") => {
                ClientReply::Error(code)
            }
            Some(KvResult::Error(_)) | None => ClientReply::Error(String::from("failed")),
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

/// One queued client operation: through the primary, or a read at one standby.
#[derive(Clone, Debug)]
pub struct ClientOp {
    pub command: KvCommand,
    pub at: Option<MemberId>,
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
}

#[derive(Clone, Debug)]
pub struct SimClient {
    pub id: ClientId,
    pub queue: VecDeque<ClientOp>,
    pub outstanding: Option<Outstanding>,
    pub next_request: RequestNumber,
    /// The newest view this client has seen in a reply, and who sent that reply: it
    /// sends there until a timeout makes it ask every member.
    pub view: View,
    pub primary: crate::types::MemberId,
    pub reply: ClientReply,
    pub timer_generation: u64,
    /// The highest op this client has seen in a reply (monotonic reads).
    pub seen_op: Op,
}

impl SimClient {
    pub fn new(id: ClientId) -> Self {
        Self {
            id,
            queue: VecDeque::new(),
            outstanding: None,
            next_request: 1,
            view: 0,
            primary: 0,
            reply: ClientReply::None,
            timer_generation: 0,
            seen_op: 0,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.outstanding.is_none() && self.queue.is_empty()
    }
}
