//! The node's admin endpoint: `GET /status` and `GET /metrics` for people and
//! Prometheus, and the operator commands (`POST /upgrade/...`, `POST /promote`) that
//! the node loop turns into log entries. A hand-rolled HTTP/1.1 server keeps the
//! dependency list short; each connection carries one request and is closed.
//!
//! The endpoint never touches the replica: it sends an [`AdminRequest`] to the node
//! loop and waits, with a deadline, for the loop's [`AdminOutcome`].

pub mod client;
mod http;
mod metrics;
mod refusal;
mod routes;
mod server;
mod static_files;
pub mod summary;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use viewstamp_core::release::Release;
use viewstamp_core::types::MemberId;
use viewstamp_core::upgrade::Refusal;

use super::snapshot::NodeSnapshot;

pub use refusal::{advice as refusal_advice, refusal_from_code};
pub use static_files::serve_static;

/// How long a request waits for the node loop before it is answered 503.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminCommand {
    Status,
    UpgradePropose(Release),
    UpgradeCancel,
    UpgradeAuto(bool),
    Promote { standby: MemberId, replace: Option<MemberId> },
}

#[derive(Debug)]
pub enum AdminOutcome {
    /// The answer to [`AdminCommand::Status`].
    Status(Box<NodeSnapshot>),
    /// The command is in the log (it takes effect when it commits).
    Accepted,
    Refused(Refusal),
    /// The node cannot take it now (starting, stopping, storage failed): why.
    Unavailable(String),
}

#[derive(Debug)]
pub struct AdminRequest {
    pub command: AdminCommand,
    pub reply: oneshot::Sender<AdminOutcome>,
}

/// Serve the admin API on `listener` until `shutdown` flips to true (or its sender is
/// dropped), forwarding every command to the node loop over `requests`.
pub async fn serve(listener: TcpListener, requests: mpsc::Sender<AdminRequest>, shutdown: watch::Receiver<bool>) {
    serve_with(listener, requests, shutdown, server::ServerLimits::default(), REPLY_TIMEOUT).await;
}

async fn serve_with(
    listener: TcpListener,
    requests: mpsc::Sender<AdminRequest>,
    shutdown: watch::Receiver<bool>,
    limits: server::ServerLimits,
    reply_timeout: Duration,
) {
    let handle = move |request: http::Request| {
        let requests = requests.clone();
        async move { routes::handle(&request, &requests, reply_timeout).await }
    };
    server::run(listener, limits, shutdown, handle).await;
}
