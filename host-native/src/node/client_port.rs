//! The client port: RESP connections. Each connection parses requests in order,
//! answers connection-level commands itself, and hands data commands to the node loop,
//! one at a time, so that replies keep the order of requests (pipelining works, and a
//! connection never has two requests in the replicated log at once).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use viewstamp_core::replica::read_refusal::ReadRefusal;
use viewstamp_core::replica::sessions::{SESSION_EVICTED, SESSION_TOO_OLD};
use viewstamp_core::replica::Role;
use viewstamp_core::state_machine::{KvCommand, KvResult};
use viewstamp_core::types::{ClientId, MemberId, Op, RequestNumber};

mod pipeline;

use pipeline::Batch;

use super::info::info_sections;
use super::requests::{client_id, Outcome, ReadMode};
use super::resp::{info_reply, kv_reply, Command, ParserLimits, Reply, RequestParser, ServerFacts, Session};
use super::snapshot::NodeSnapshot;

/// A data command for the node loop.
pub struct DataCall {
    pub client: ClientId,
    /// The connection's session (0 while it registers).
    pub session: Op,
    pub request: RequestNumber,
    pub operation: Vec<u8>,
    pub mode: ReadMode,
    pub answer: oneshot::Sender<Outcome>,
}

/// What every connection shares.
pub struct ClientPort {
    pub member: MemberId,
    pub incarnation: u32,
    pub version: String,
    pub limits: ParserLimits,
    pub calls: mpsc::Sender<DataCall>,
    /// The node's latest status, for INFO and HELLO's role.
    pub snapshot: watch::Receiver<Arc<NodeSnapshot>>,
    pub connections: Arc<Semaphore>,
    pub next_connection: AtomicU32,
    /// Set when the member starts to stop: connections then close once quiet.
    pub stopping: watch::Receiver<bool>,
}

/// Reads this long per chunk; a request larger than that arrives over several reads.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Replies are flushed once this much is buffered, even mid-pipeline.
const FLUSH_BYTES: usize = 256 * 1024;
/// Once its member stops, a connection closes after this long without a command.
/// Every command it read has been answered by then, so a client that finds it closed
/// knows its next command was never read; a busy client is refused "not applied"
/// (and moves to another member) rather than cut off mid-command.
pub const STOPPING_QUIET: Duration = Duration::from_millis(250);

pub async fn serve(listener: TcpListener, port: Arc<ClientPort>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (mut stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, usually: wait instead of spinning.
                tracing::warn!("client port: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = port.connections.clone().try_acquire_owned() else {
            // Redis's own text, so clients report it as they would for Redis.
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
            tracing::warn!(%peer, "client port: refused a connection: max_client_connections reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let port = port.clone();
        tokio::spawn(async move {
            let connection = port.next_connection.fetch_add(1, Ordering::Relaxed);
            if let Err(error) = serve_connection(stream, &port, connection).await {
                tracing::debug!(%peer, "client connection ended: {error}");
            }
            drop(permit);
        });
    }
}

async fn serve_connection(mut stream: TcpStream, port: &ClientPort, connection: u32) -> std::io::Result<()> {
    let client = client_id(port.member, port.incarnation, connection);
    let mut stopping = port.stopping.clone();
    let mut session = Session::new(connection as u64);
    let mut parser = RequestParser::new(port.limits);
    let mut connection_state = Connection { client, session: None, next_request: 1, highest_op_seen: 0 };
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK_BYTES);
    let mut output: Vec<u8> = Vec::new();
    loop {
        // Answer every complete request in the buffer before reading again. A run of
        // data commands pipelined back to back goes to the log as one op (`Pipeline`).
        let mut consumed = 0;
        let mut batch = Batch::default();
        loop {
            match parser.parse(&input[consumed..]) {
                Ok(Some((arguments, used))) => {
                    consumed += used;
                    if arguments.is_empty() {
                        continue;
                    }
                    let command = match Command::parse(arguments) {
                        Ok(Command::Kv(kv)) if batch.takes(port, &session, &kv) => {
                            batch.push(kv);
                            if batch.is_full() {
                                batch.answer(port, &mut session, &mut connection_state, &mut output).await;
                            }
                            continue;
                        }
                        command => command,
                    };
                    batch.answer(port, &mut session, &mut connection_state, &mut output).await;
                    let (reply, close) = match command {
                        Err(reply) => (reply, false),
                        Ok(command) => {
                            let close = command.closes_connection();
                            (answer(port, &mut session, &mut connection_state, command).await, close)
                        }
                    };
                    reply.encode_into(session.protocol, &mut output);
                    if close {
                        stream.write_all(&output).await?;
                        return Ok(());
                    }
                    if output.len() >= FLUSH_BYTES {
                        stream.write_all(&output).await?;
                        output.clear();
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    // The stream cannot be resynchronised: say why and close, as Redis does.
                    batch.answer(port, &mut session, &mut connection_state, &mut output).await;
                    error.to_reply().encode_into(session.protocol, &mut output);
                    stream.write_all(&output).await?;
                    tracing::debug!(client, "closed a client connection: {error}");
                    return Ok(());
                }
            }
        }
        batch.answer(port, &mut session, &mut connection_state, &mut output).await;
        input.drain(..consumed);
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
        input.reserve(READ_CHUNK_BYTES);
        // A stopping member keeps a connection while it is in use: a command read
        // meanwhile is refused as not applied (so the client retries elsewhere)
        // instead of being cut off unanswered. Only a quiet one is closed.
        let read = tokio::select! {
            read = stream.read_buf(&mut input) => read?,
            () = quiet_after_stop(&mut stopping) => {
                let _ = stream.shutdown().await;
                return Ok(());
            }
        };
        if read == 0 {
            return Ok(());
        }
    }
}

/// Completes `STOPPING_QUIET` after the member started to stop. A sender gone means
/// the member is ending for another reason (it halted), which counts as stopping.
async fn quiet_after_stop(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
    tokio::time::sleep(STOPPING_QUIET).await;
}

struct Connection {
    client: ClientId,
    /// The op that committed this connection's registration, once it registered.
    session: Option<Op>,
    next_request: RequestNumber,
    /// For standby reads: never answer from a state older than one already seen.
    highest_op_seen: Op,
}

async fn answer(port: &ClientPort, session: &mut Session, connection: &mut Connection, command: Command) -> Reply {
    let snapshot = port.snapshot.borrow().clone();
    let role = if snapshot.replica.is_primary { "master" } else { "replica" };
    let facts = ServerFacts { version: port.version.clone(), role: role.to_string() };
    if let Some(reply) = session.answer_local(&command, &facts) {
        return reply;
    }
    match command {
        Command::Info { sections } => info_reply(&info_sections(&snapshot, &port.version), &sections),
        Command::Kv(kv) => data_command(port, session, connection, &snapshot, kv).await,
        // answer_local answers every other command.
        _ => Reply::error("ERR internal error: a command reached the node that the connection should answer"),
    }
}

async fn data_command(
    port: &ClientPort,
    session: &Session,
    connection: &mut Connection,
    snapshot: &NodeSnapshot,
    command: KvCommand,
) -> Reply {
    // READONLY reads at a standby are served locally; everywhere else, by the primary.
    let mode = if session.readonly && command.is_read_only() && snapshot.replica.role == Role::Standby {
        ReadMode::StandbyRead { min_op: connection.highest_op_seen }
    } else {
        ReadMode::Linearizable
    };
    match run(port, connection, &command, mode).await {
        Ok(result) => kv_answer(&command, connection, mode, result),
        Err(reply) => reply,
    }
}

/// Runs one data command (a pipeline counts as one) under the connection's session,
/// opening it first if need be; its result, or the reply to give when it did not run.
async fn run(
    port: &ClientPort,
    connection: &mut Connection,
    command: &KvCommand,
    mode: ReadMode,
) -> Result<Option<KvResult>, Reply> {
    let mut session = match (mode, connection.session) {
        (ReadMode::StandbyRead { .. }, _) => 0,
        (ReadMode::Linearizable, Some(session)) => session,
        (ReadMode::Linearizable, None) => register(port, connection, 0).await?,
    };
    let mut answer = send(port, connection, session, command, mode).await?;
    let mut result = KvResult::decode(&answer.result);
    if result.as_ref().and_then(KvResult::error_code) == Some(SESSION_TOO_OLD) {
        // Refused for good under the old session, so sending it again under a new
        // one cannot make it run twice; a session opened now has the command.
        session = register(port, connection, session).await?;
        answer = send(port, connection, session, command, mode).await?;
        result = KvResult::decode(&answer.result);
    }
    connection.highest_op_seen = connection.highest_op_seen.max(answer.op);
    Ok(result)
}

/// One data command as the connection's next request.
async fn send(
    port: &ClientPort,
    connection: &mut Connection,
    session: Op,
    command: &KvCommand,
    mode: ReadMode,
) -> Result<super::requests::Answer, Reply> {
    let request = connection.next_request;
    connection.next_request += 1;
    call(port, connection.client, session, request, command.encode(), mode).await
}

/// Opens the connection's session (renewing `current`, when it names one): the
/// registration executes nothing, and the op that commits it names the session.
async fn register(port: &ClientPort, connection: &mut Connection, current: Op) -> Result<Op, Reply> {
    let answer = call(port, connection.client, current, 0, Vec::new(), ReadMode::Linearizable).await?;
    connection.session = Some(answer.op);
    Ok(answer.op)
}

/// The client's reply to a data command's result.
fn kv_answer(command: &KvCommand, connection: &mut Connection, mode: ReadMode, result: Option<KvResult>) -> Reply {
    match result {
        Some(KvResult::Error(code)) if code == SESSION_EVICTED => {
            connection.session = None;
            Reply::error(
                "ERR session-evicted: this connection's session was evicted by newer clients, so the \
                 command may or may not have been applied; check, then retry (a new session opens)",
            )
        }
        Some(KvResult::Error(code)) if mode != ReadMode::Linearizable => standby_refusal(&code),
        Some(result) => kv_reply(command, &result),
        None => Reply::error("ERR internal error: the replica's answer does not decode"),
    }
}

/// One call into the node loop, and its answer or the error reply to give.
async fn call(
    port: &ClientPort,
    client: ClientId,
    session: Op,
    request: RequestNumber,
    operation: Vec<u8>,
    mode: ReadMode,
) -> Result<super::requests::Answer, Reply> {
    let shutting_down = || {
        Reply::error(
            "ERR this member stopped before the command's outcome was known: it may or may not have been \
             applied; check, then retry on another member",
        )
    };
    let (answer, outcome) = oneshot::channel();
    let call = DataCall { client, session, request, operation, mode, answer };
    if port.calls.send(call).await.is_err() {
        // The loop has ended: nothing was sent anywhere.
        return Err(Reply::error("ERR this member has stopped: the command was not applied; retry on another member"));
    }
    match outcome.await {
        Ok(Outcome::Answered(answer)) => Ok(answer),
        Ok(Outcome::TimedOut) => Err(Reply::error(
            "TRYAGAIN no primary answered in time (a view change or a partition?): \
             the command may or may not have been applied",
        )),
        Ok(Outcome::Unavailable(why)) => Err(Reply::Error(format!("ERR {why}"))),
        Err(_) => Err(shutting_down()),
    }
}

/// A standby's refusal, with what the client can do.
fn standby_refusal(code: &str) -> Reply {
    match ReadRefusal::from_code(code) {
        Some(refusal) => Reply::Error(format!("ERR {code}: {}", refusal.advice())),
        None => Reply::Error(format!("ERR {code}: the standby refused the read")),
    }
}
