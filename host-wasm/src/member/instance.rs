//! One member behind the ABI: a `Replica<KvStore>` fed one [`Input`] at a time, whose
//! queues are drained into an [`Output`] after each.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use viewstamp_core::message::Message;
use viewstamp_core::replica::Replica;
use viewstamp_core::state_machine::KvStore;
use viewstamp_core::wire::{self, WireError};

use super::envelope::{Config, CreateError, Event, Input, Outbound, Outcome, Output, Start, Summary};

pub struct Member {
    replica: Replica<KvStore>,
}

impl Member {
    pub fn create(config: Config) -> Result<Member, CreateError> {
        let options = config.options.to_core().map_err(|why| CreateError::Invalid(String::from(why)))?;
        if config.id >= options.member_count() {
            return Err(CreateError::Invalid(String::from("id must be below replica_count + standby_count")));
        }
        let replica = match config.start {
            Start::Formatted => Replica::new_formatted(options, config.id, KvStore::new(), config.now),
            Start::Open(durable) => Replica::open(options, config.id, durable, KvStore::new(), config.now),
        };
        Ok(Member { replica })
    }

    pub fn input(&mut self, input: Input) -> Output {
        let now = input.now;
        let outcome = match input.event {
            Event::Poll => Outcome::Done,
            Event::Message(frame) => match self.decode(&frame) {
                Err(error) => Outcome::BadFrame(String::from(error.label())),
                Ok(message) => {
                    self.replica.handle_message(now, message);
                    match self.replica.take_invalid_reason() {
                        Some(reason) => Outcome::Invalid(String::from(reason)),
                        None => Outcome::Done,
                    }
                }
            },
            Event::Request(frame) => match self.decode(&frame) {
                Err(error) => Outcome::BadFrame(String::from(error.label())),
                Ok(Message::Request(request)) => Outcome::Request(self.replica.handle_request(now, request)),
                Ok(_) => Outcome::NotARequest,
            },
            Event::Timeout => {
                self.replica.handle_timeout(now);
                Outcome::Done
            }
            Event::Persisted { id } => {
                self.replica.handle_persisted(now, id);
                Outcome::Done
            }
            Event::Verified { op, checksum, intact } => {
                self.replica.handle_verified(now, op, checksum, intact);
                Outcome::Done
            }
            Event::Upgrade(command) => refused_or_done(self.replica.handle_upgrade_command(now, command)),
            Event::Promote { standby, replace } => refused_or_done(self.replica.handle_promote(now, standby, replace)),
        };
        self.drain(outcome)
    }

    /// As the node decodes: as a binary of its release, for its cluster, one frame.
    fn decode(&self, frame: &[u8]) -> Result<Message, WireError> {
        let (message, used) = wire::decode_for(self.replica.binary_release(), self.replica.options().cluster, frame)?;
        if used != frame.len() {
            return Err(WireError::TrailingBytes);
        }
        Ok(message)
    }

    fn drain(&mut self, outcome: Outcome) -> Output {
        let replica = &mut self.replica;
        let (cluster, release) = (replica.options().cluster, replica.release());
        let (mut sends, mut unsendable) = (Vec::new(), Vec::new());
        while let Some(outgoing) = replica.poll_send() {
            // As the node encodes: nothing the cluster's release cannot carry.
            match wire::encode_for(cluster, release, &outgoing.message) {
                Ok(frame) => sends.push(Outbound { to: outgoing.to, frame }),
                Err(error) => unsendable.push(error.to_string()),
            }
        }
        let persists = core::iter::from_fn(|| replica.poll_persist()).collect();
        let applied = core::iter::from_fn(|| replica.poll_applied()).collect();
        Output {
            outcome,
            sends,
            persists,
            applied,
            timeout: replica.poll_timeout(),
            unsendable,
            summary: self.summary(),
        }
    }

    fn summary(&self) -> Summary {
        let replica = &self.replica;
        Summary {
            status: String::from(replica.reported_status().name()),
            role: String::from(replica.role().name()),
            view: replica.view(),
            log_view: replica.log_view(),
            op: replica.op(),
            commit: replica.commit(),
            commit_max: replica.commit_max(),
            durable_op: replica.durable_op(),
            checkpoint_op: replica.checkpoint_op(),
            release: replica.release(),
            primary_hint: replica.primary_hint(),
            serving_primary: replica.is_serving_primary(),
            state_digest: replica.state_digest(),
            halt_reason: replica.halt_reason().map(|reason| reason.to_string()),
        }
    }
}

fn refused_or_done(result: Result<(), viewstamp_core::upgrade::Refusal>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(refusal) => Outcome::Refused(String::from(refusal.code())),
    }
}
