//! The admin API's routes: each request becomes an [`AdminCommand`] for the node
//! loop, and the loop's outcome becomes a JSON (or Prometheus text) answer.

use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use viewstamp_core::release::Release;
use viewstamp_core::types::MemberId;

use super::http::{self, Method, Request, Response};
use super::{metrics, refusal, AdminCommand, AdminOutcome, AdminRequest, NodeSnapshot};

pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const ROUTES: &str =
    "GET /status, GET /metrics, GET /health, POST /upgrade/propose?release=X.Y.Z, POST /upgrade/cancel, \
                      POST /upgrade/auto?on=true|false, POST /promote?standby=S[&replace=R]";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Status,
    Metrics,
    Health,
    Propose,
    Cancel,
    Auto,
    Promote,
}

impl Route {
    fn find(path: &str) -> Option<Route> {
        Some(match path {
            "/status" => Route::Status,
            "/metrics" => Route::Metrics,
            "/health" => Route::Health,
            "/upgrade/propose" => Route::Propose,
            "/upgrade/cancel" => Route::Cancel,
            "/upgrade/auto" => Route::Auto,
            "/promote" => Route::Promote,
            _ => return None,
        })
    }

    fn reads(self) -> bool {
        matches!(self, Route::Status | Route::Metrics | Route::Health)
    }

    /// The query parameters a command takes, for the message about an unknown one.
    fn parameters(self) -> &'static [&'static str] {
        match self {
            Route::Status | Route::Metrics | Route::Health | Route::Cancel => &[],
            Route::Propose => &["release"],
            Route::Auto => &["on"],
            Route::Promote => &["standby", "replace"],
        }
    }
}

fn bad_request(message: &str) -> Response {
    Response::error(400, "bad-request", message)
}

pub async fn handle(request: &Request, requests: &mpsc::Sender<AdminRequest>, reply_timeout: Duration) -> Response {
    let Some(route) = Route::find(&request.path) else {
        return Response::error(404, "not-found", &format!("no such path; the admin API has {ROUTES}"));
    };
    let allowed =
        matches!(request.method, Method::Get | Method::Head) == route.reads() && request.method != Method::Other;
    if !allowed {
        return Response::method_not_allowed(if route.reads() { "GET, HEAD" } else { "POST" });
    }
    let command = match command_for(route, &request.query) {
        Ok(command) => command,
        Err(message) => return bad_request(&message),
    };
    let outcome = match ask(requests, command, reply_timeout).await {
        Ok(outcome) => outcome,
        Err(message) => return Response::error(503, "unavailable", &message),
    };
    answer(route, outcome)
}

fn command_for(route: Route, query: &str) -> Result<AdminCommand, String> {
    if route.reads() {
        // Scrapers may add their own parameters; reads take none and ignore them.
        return Ok(AdminCommand::Status);
    }
    let parameters = http::parse_query(query)?;
    for (name, _) in &parameters {
        if !route.parameters().contains(&name.as_str()) {
            let takes = match route.parameters() {
                [] => String::from("takes no parameters"),
                names => format!("takes {}", names.join(", ")),
            };
            return Err(format!("unknown parameter {name:?}; this command {takes}"));
        }
    }
    let value = |name: &str| parameters.iter().find(|(given, _)| given == name).map(|(_, value)| value.as_str());
    let required = |name: &str| value(name).ok_or_else(|| format!("parameter {name:?} is required"));
    Ok(match route {
        Route::Status | Route::Metrics | Route::Health => AdminCommand::Status,
        Route::Cancel => AdminCommand::UpgradeCancel,
        Route::Propose => {
            let text = required("release")?;
            let release: Release =
                text.parse().map_err(|error| format!("parameter \"release\": {text:?} is not a release: {error}"))?;
            AdminCommand::UpgradePropose(release)
        }
        Route::Auto => {
            let on = match required("on")? {
                "true" | "on" => true,
                "false" | "off" => false,
                other => return Err(format!("parameter \"on\" is true or false, not {other:?}")),
            };
            AdminCommand::UpgradeAuto(on)
        }
        Route::Promote => {
            let member = |name: &str, text: &str| {
                text.parse::<MemberId>().map_err(|_| {
                    format!("parameter {name:?} is a member number (0 to {}), not {text:?}", MemberId::MAX)
                })
            };
            let standby = member("standby", required("standby")?)?;
            let replace = value("replace").map(|text| member("replace", text)).transpose()?;
            AdminCommand::Promote { standby, replace }
        }
    })
}

/// Hand `command` to the node loop and wait for its outcome, all within `timeout`.
async fn ask(
    requests: &mpsc::Sender<AdminRequest>,
    command: AdminCommand,
    timeout: Duration,
) -> Result<AdminOutcome, String> {
    let (reply, outcome) = oneshot::channel();
    let exchange = async {
        requests
            .send(AdminRequest { command, reply })
            .await
            .map_err(|_| String::from("the node is shutting down; retry once it is back"))?;
        outcome.await.map_err(|_| String::from("the node dropped the request; retry in a moment"))
    };
    tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| {
        Err(format!(
            "the node did not answer within {} s; it may be overloaded, retry in a moment",
            timeout.as_secs_f64()
        ))
    })
}

fn answer(route: Route, outcome: AdminOutcome) -> Response {
    match (route, outcome) {
        (Route::Status, AdminOutcome::Status(snapshot)) => match serde_json::to_value(&*snapshot) {
            Ok(value) => Response::json(200, &value),
            Err(error) => Response::error(500, "error", &format!("the status does not serialize: {error}")),
        },
        (Route::Metrics, AdminOutcome::Status(snapshot)) => {
            Response::new(200, METRICS_CONTENT_TYPE, metrics::render(&snapshot))
        }
        (Route::Health, AdminOutcome::Status(snapshot)) => health(&snapshot),
        (_, AdminOutcome::Unavailable(message)) => Response::error(503, "unavailable", &message),
        (route, AdminOutcome::Accepted) if !route.reads() => Response::json(202, &json!({ "outcome": "accepted" })),
        (route, AdminOutcome::Refused(refused)) if !route.reads() => Response::json(
            409,
            &json!({ "outcome": "refused", "code": refused.code(), "message": refusal::advice(refused) }),
        ),
        (route, outcome) => Response::error(
            500,
            "error",
            &format!("the node answered {route:?} with {}; this is a bug in the node", outcome_name(&outcome)),
        ),
    }
}

/// `GET /health`: 200 when a load balancer should send clients here (serving or
/// degraded), 503 otherwise; the body says which and why.
fn health(snapshot: &NodeSnapshot) -> Response {
    let replica = &snapshot.replica;
    let report = &replica.health;
    let code = if report.health.takes_clients() { 200 } else { 503 };
    let body = json!({
        "health": report.health.name(),
        "reason": report.reason,
        "member": replica.member,
        "role": replica.role.name(),
        "status": replica.status.name(),
        "is_primary": replica.is_primary,
        "view": replica.view,
        "failure_tolerance": replica.failure_tolerance,
        "failure_tolerance_configured": replica.failure_tolerance_configured,
    });
    Response::json(code, &body)
}

fn outcome_name(outcome: &AdminOutcome) -> &'static str {
    match outcome {
        AdminOutcome::Status(_) => "a status",
        AdminOutcome::Accepted => "accepted",
        AdminOutcome::Refused(_) => "a refusal",
        AdminOutcome::Unavailable(_) => "unavailable",
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use tokio::net::TcpListener;
    use tokio::sync::watch;
    use viewstamp_core::replica::health::HealthReport;
    use viewstamp_core::status_snapshot::ReportedStatus;
    use viewstamp_core::upgrade::Refusal;

    use super::super::server::tests::{exchange, split_answer};
    use super::super::server::ServerLimits;
    use super::super::{serve_with, NodeSnapshot};
    use super::*;
    use crate::node::snapshot::sample;

    /// A node loop stand-in: answers each command as `respond` says, and records it.
    struct FakeNode {
        address: SocketAddr,
        seen: Arc<Mutex<Vec<AdminCommand>>>,
        _shutdown: watch::Sender<bool>,
    }

    async fn fake_node(respond: fn(&AdminCommand) -> Option<AdminOutcome>) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (requests_tx, mut requests_rx) = mpsc::channel::<AdminRequest>(4);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = seen.clone();
        tokio::spawn(async move {
            let mut unanswered = Vec::new();
            while let Some(request) = requests_rx.recv().await {
                recorder.lock().unwrap().push(request.command.clone());
                // `None`: keep the request unanswered, as a stuck loop would.
                match respond(&request.command) {
                    Some(outcome) => {
                        let _ = request.reply.send(outcome);
                    }
                    None => unanswered.push(request.reply),
                }
            }
        });
        let limits = ServerLimits::default();
        tokio::spawn(serve_with(listener, requests_tx, shutdown_rx, limits, Duration::from_millis(300)));
        FakeNode { address, seen, _shutdown: shutdown_tx }
    }

    fn snapshot() -> NodeSnapshot {
        let mut snapshot = sample();
        (snapshot.replica.member, snapshot.replica.view) = (2, 7);
        snapshot.replica.cluster_release = "1.2.0".into();
        snapshot
    }

    fn primary(command: &AdminCommand) -> Option<AdminOutcome> {
        Some(match command {
            AdminCommand::Status => AdminOutcome::Status(Box::new(snapshot())),
            AdminCommand::UpgradeCancel => AdminOutcome::Refused(Refusal::NoUpgrade),
            AdminCommand::Promote { standby: 9, .. } => AdminOutcome::Unavailable("storage failed".into()),
            _ => AdminOutcome::Accepted,
        })
    }

    async fn call(node: &FakeNode, method: &str, target: &str) -> (u16, serde_json::Value) {
        let answer = exchange(node.address, format!("{method} {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).await;
        let (status, body) = split_answer(&answer);
        (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn commands_reach_the_node_and_outcomes_come_back() {
        let node = fake_node(primary).await;
        let (status, body) = call(&node, "GET", "/status").await;
        assert_eq!((status, body["member"].as_u64(), body["cluster_release"].as_str()), (200, Some(2), Some("1.2.0")));
        let (status, body) = call(&node, "POST", "/upgrade/propose?release=1.3.0").await;
        assert_eq!((status, body["outcome"].as_str()), (202, Some("accepted")));
        let (status, body) = call(&node, "POST", "/upgrade/cancel").await;
        assert_eq!(
            (status, body["outcome"].as_str(), body["code"].as_str()),
            (409, Some("refused"), Some("no-upgrade"))
        );
        assert!(body["message"].as_str().unwrap().contains("nothing to cancel"));
        let (status, _) = call(&node, "POST", "/upgrade/auto?on=false").await;
        assert_eq!(status, 202);
        let (status, _) = call(&node, "POST", "/promote?standby=3&replace=1").await;
        assert_eq!(status, 202);
        let (status, body) = call(&node, "POST", "/promote?standby=9").await;
        assert_eq!(
            (status, body["outcome"].as_str(), body["message"].as_str()),
            (503, Some("unavailable"), Some("storage failed"))
        );
        assert_eq!(
            *node.seen.lock().unwrap(),
            vec![
                AdminCommand::Status,
                AdminCommand::UpgradePropose(Release::new(1, 3, 0)),
                AdminCommand::UpgradeCancel,
                AdminCommand::UpgradeAuto(false),
                AdminCommand::Promote { standby: 3, replace: Some(1) },
                AdminCommand::Promote { standby: 9, replace: None },
            ]
        );
    }

    #[tokio::test]
    async fn health_answers_200_only_where_clients_should_go() {
        let node = fake_node(primary).await;
        let (status, body) = call(&node, "GET", "/health").await;
        // A fresh primary has heard no backup yet: it serves, with less tolerance.
        assert_eq!((status, body["health"].as_str()), (200, Some("degraded")), "{body}");
        assert!(body["reason"].as_str().unwrap().contains("not heard"), "{body}");
        assert_eq!(
            (body["failure_tolerance"].as_u64(), body["failure_tolerance_configured"].as_u64()),
            (Some(0), Some(1))
        );
        let node = fake_node(|command| {
            let mut failed = snapshot();
            failed.replica.health = HealthReport::of_status(ReportedStatus::StorageFailed);
            matches!(command, AdminCommand::Status).then(|| AdminOutcome::Status(Box::new(failed)))
        })
        .await;
        let (status, body) = call(&node, "GET", "/health").await;
        assert_eq!((status, body["health"].as_str()), (503, Some("unavailable")), "{body}");
        assert!(body["reason"].as_str().unwrap().contains("storage failed"), "{body}");
        let (status, _) = call(&node, "POST", "/health").await;
        assert_eq!(status, 405);
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        let node = fake_node(primary).await;
        let answer = exchange(node.address, b"GET /metrics HTTP/1.1\r\n\r\n").await;
        assert!(answer.contains(&format!("Content-Type: {METRICS_CONTENT_TYPE}\r\n")));
        let (status, body) = split_answer(&answer);
        assert_eq!(status, 200);
        assert!(body.contains("\nviewstamp_view 7\n"), "{body}");
    }

    #[tokio::test]
    async fn bad_paths_methods_and_parameters_are_refused_before_the_node() {
        let node = fake_node(primary).await;
        let cases = [
            ("GET", "/nothing", 404, "/status"),
            ("GET", "/upgrade/propose?release=1.3.0", 405, "POST"),
            ("POST", "/status", 405, "GET"),
            ("DELETE", "/promote?standby=1", 405, "POST"),
            ("POST", "/upgrade/propose", 400, "\"release\" is required"),
            ("POST", "/upgrade/propose?release=1.3", 400, "\"release\""),
            ("POST", "/upgrade/propose?release=1.3.0&force=1", 400, "unknown parameter \"force\""),
            ("POST", "/upgrade/cancel?x=1", 400, "takes no parameters"),
            ("POST", "/upgrade/auto?on=maybe", 400, "\"on\""),
            ("POST", "/promote", 400, "\"standby\" is required"),
            ("POST", "/promote?standby=300", 400, "\"standby\""),
            ("POST", "/promote?standby=3&replace=x", 400, "\"replace\""),
            ("POST", "/promote?standby=%zz", 400, "standby"),
        ];
        for (method, target, expected_status, expected_text) in cases {
            let (status, body) = call(&node, method, target).await;
            assert_eq!(status, expected_status, "{method} {target}: {body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains(expected_text), "{method} {target}: {message}");
        }
        assert!(node.seen.lock().unwrap().is_empty(), "nothing reached the node");
    }

    #[tokio::test]
    async fn a_silent_or_gone_node_is_unavailable() {
        let node = fake_node(|_| None).await;
        let started = std::time::Instant::now();
        let (status, body) = call(&node, "POST", "/upgrade/cancel").await;
        assert_eq!((status, body["outcome"].as_str()), (503, Some("unavailable")));
        assert!(body["message"].as_str().unwrap().contains("did not answer"));
        assert!(started.elapsed() < Duration::from_secs(3));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (requests_tx, requests_rx) = mpsc::channel(1);
        drop(requests_rx);
        let (_shutdown_tx, shutdown_rx) = watch::channel(false);
        tokio::spawn(serve_with(listener, requests_tx, shutdown_rx, ServerLimits::default(), Duration::from_secs(1)));
        let answer = exchange(address, b"GET /status HTTP/1.1\r\n\r\n").await;
        let (status, body) = split_answer(&answer);
        assert_eq!(status, 503);
        assert!(body.contains("shutting down"), "{body}");
    }

    #[tokio::test]
    async fn a_wrong_outcome_is_an_internal_error_not_a_crash() {
        let node = fake_node(|_| Some(AdminOutcome::Accepted)).await;
        let (status, body) = call(&node, "GET", "/status").await;
        assert_eq!((status, body["outcome"].as_str()), (500, Some("error")));
    }
}
