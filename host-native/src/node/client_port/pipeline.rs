//! Pipelined data commands: a run of them on one connection goes to the log as one
//! `Pipeline` op, so that a pipelining client costs one entry, one round to the
//! backups and one reply pass per batch rather than per command.

use viewstamp_core::release::Release;
use viewstamp_core::replica::Role;
use viewstamp_core::state_machine::{KvCommand, KvResult, FEATURE_OFF, PIPELINE_COMMANDS_MAX, PIPELINE_FEATURE};

use super::{answer, kv_answer, run, ClientPort, Command, Connection, ReadMode, Reply, Session};

/// Data commands pipelined back to back, not yet sent: answered together, as one
/// `Pipeline` op when there are several. Only linearizable commands of the cluster's
/// release join (a standby's local reads and refusals go one by one), and only from
/// `kv_commands` on, which brings pipelines: older code cannot decode one.
#[derive(Default)]
pub(super) struct Batch {
    commands: Vec<KvCommand>,
    /// The commands encoded, once there are two: a lone command is sent as itself.
    encoded: Vec<Vec<u8>>,
    bytes: usize,
}

impl Batch {
    pub(super) fn takes(&self, port: &ClientPort, session: &Session, command: &KvCommand) -> bool {
        let snapshot = port.snapshot.borrow();
        let replica = &snapshot.replica;
        if session.readonly && command.is_read_only() && replica.role == Role::Standby {
            return false;
        }
        let Ok(release) = replica.cluster_release.parse::<Release>() else { return false };
        PIPELINE_FEATURE.enabled_at(release) && command.check_release(release).is_ok()
    }

    pub(super) fn push(&mut self, command: KvCommand) {
        self.commands.push(command);
        if self.commands.len() > 1 {
            for waiting in &self.commands[self.encoded.len()..] {
                let encoded = waiting.encode();
                self.bytes += encoded.len();
                self.encoded.push(encoded);
            }
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.commands.len() >= PIPELINE_COMMANDS_MAX || self.bytes >= PIPELINE_BYTES_MAX
    }

    /// Answers every command taken, in order, into `output`; the batch is empty after.
    pub(super) async fn answer(
        &mut self,
        port: &ClientPort,
        session: &mut Session,
        connection: &mut Connection,
        output: &mut Vec<u8>,
    ) {
        self.bytes = 0;
        let commands = std::mem::take(&mut self.commands);
        let encoded = std::mem::take(&mut self.encoded);
        if commands.len() > 1 {
            match pipeline(port, connection, &commands, encoded).await {
                Some(replies) => {
                    for reply in replies {
                        reply.encode_into(session.protocol, output);
                    }
                    return;
                }
                // Refused as a whole before it ran (the release, as this member saw
                // it, was not the primary's): one by one, which says why for each.
                None => tracing::debug!(commands = commands.len(), "a pipeline was refused: sending one by one"),
            }
        }
        for command in commands {
            let reply = answer(port, session, connection, Command::Kv(command)).await;
            reply.encode_into(session.protocol, output);
        }
    }
}

/// The most bytes of commands one pipeline op carries, well below a frame's bound.
const PIPELINE_BYTES_MAX: usize = 256 * 1024;

/// Sends `commands` as one `Pipeline` op and gives each its reply; `None` when the
/// pipeline was refused before it ran (nothing of it applied).
async fn pipeline(
    port: &ClientPort,
    connection: &mut Connection,
    commands: &[KvCommand],
    encoded: Vec<Vec<u8>>,
) -> Option<Vec<Reply>> {
    let pipeline = KvCommand::Pipeline { commands: encoded };
    let mode = ReadMode::Linearizable;
    let result = match run(port, connection, &pipeline, mode).await {
        // Not applied, or unknown: every command of it shares the one fate.
        Err(reply) => return Some(vec![reply; commands.len()]),
        Ok(result) => result,
    };
    match result {
        Some(KvResult::Results(results)) if results.len() == commands.len() => Some(
            commands
                .iter()
                .zip(results)
                .map(|(command, result)| kv_answer(command, connection, mode, KvResult::decode(&result)))
                .collect(),
        ),
        Some(refused) if refused.error_code() == Some(FEATURE_OFF) => None,
        // An evicted session, or a malformed answer: the same for every command.
        other => {
            let reply = kv_answer(&pipeline, connection, mode, other);
            Some(vec![reply; commands.len()])
        }
    }
}
