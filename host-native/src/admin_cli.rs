//! The operator commands, `viewstamp status`, `viewstamp upgrade ...` and
//! `viewstamp promote ...`: clients of the nodes' admin endpoints.
//!
//! `status` asks every member; the others try members in turn until one is the
//! primary (a `no-primary` refusal from a backup means: ask the next). Exit status:
//! 0 accepted, 1 refused, 2 (an error) when no member could be asked.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use viewstamp_core::release::Release;
use viewstamp_core::types::MemberId;

use crate::node::admin::client::{self, CallError, Timeouts};
use crate::node::admin::summary::{render_summary, MemberStatus};
use crate::node::admin::{refusal_advice, refusal_from_code};
use crate::node::config::{Config, ConfigError, HostPort};

/// The file looked for in the working directory when no target is given.
pub const DEFAULT_CONFIG_FILE: &str = "cluster.toml";
/// Then the one `viewstamp dev` writes.
pub const DEV_CLUSTER_FILE: &str = "viewstamp-dev/cluster.toml";
/// The local dev cluster's admin ports: member N listens on 8100 + N.
pub const DEV_ADMIN_BASE_PORT: u16 = 8100;
pub const DEV_MEMBERS: u8 = 4;

#[derive(Clone, Debug, Default, Args)]
pub struct TargetArgs {
    /// A member's admin address; repeat it for several members [default: every member of
    /// ./cluster.toml or ./viewstamp-dev/cluster.toml if one exists, else 127.0.0.1:8100 to 8103]
    #[arg(long = "admin", value_name = "HOST:PORT", value_parser = HostPort::parse, global = true)]
    pub admin: Vec<HostPort>,
    /// A cluster file: ask the admin_address of every member in it
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "admin")]
    pub config: Option<PathBuf>,
}

#[derive(Clone, Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print every member's status as JSON (unreachable members with their error)
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Debug, Args)]
pub struct UpgradeArgs {
    #[command(subcommand)]
    pub action: UpgradeAction,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Clone, Debug, Subcommand)]
pub enum UpgradeAction {
    /// Move the cluster to RELEASE once every member (standbys too) runs a binary that has it
    Propose {
        #[arg(value_name = "RELEASE", value_parser = parse_release)]
        release: Release,
    },
    /// Withdraw a proposal that has not committed
    Cancel,
    /// Whether the primary moves on its own to the newest release every member runs
    Auto {
        #[arg(value_enum)]
        state: Switch,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Clone, Debug, Args)]
pub struct PromoteArgs {
    /// The standby to make an active replica
    #[arg(value_name = "STANDBY")]
    pub standby: MemberId,
    /// The active replica it takes the place of; without it, the cluster grows by one
    #[arg(long, value_name = "R")]
    pub replace: Option<MemberId>,
    #[command(flatten)]
    pub target: TargetArgs,
}

fn parse_release(text: &str) -> Result<Release, String> {
    text.parse().map_err(|error| format!("{error}"))
}

#[derive(Debug)]
pub enum AdminCliError {
    Config(ConfigError),
    /// No member gave an answer: each address with what went wrong.
    NoAnswer {
        attempts: Vec<(String, String)>,
    },
    /// A member refused the request itself (a bad parameter): a client and node that
    /// disagree on the API.
    Rejected {
        admin: String,
        message: String,
    },
    Output(io::Error),
}

impl AdminCliError {
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, AdminCliError::Output(error) if error.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for AdminCliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminCliError::Config(error) => write!(f, "{error}"),
            AdminCliError::NoAnswer { attempts } => {
                let tried: Vec<String> =
                    attempts.iter().map(|(admin, problem)| format!("{admin}: {problem}")).collect();
                write!(
                    f,
                    "no member answered ({}); check that the cluster is running, and name its admin \
                     endpoints with --admin HOST:PORT or --config FILE",
                    tried.join("; ")
                )
            }
            AdminCliError::Rejected { admin, message } => {
                write!(f, "{admin} rejected the request: {message} (is the node running another version of viewstamp?)")
            }
            AdminCliError::Output(error) => write!(f, "cannot write to standard output: {error}"),
        }
    }
}

impl std::error::Error for AdminCliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdminCliError::Config(error) => Some(error),
            AdminCliError::Output(error) => Some(error),
            _ => None,
        }
    }
}

/// A member to ask: its id when known (from a cluster file), and its admin address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub member: Option<MemberId>,
    pub admin: String,
}

impl Target {
    fn label(&self) -> String {
        match self.member {
            Some(member) => format!("member {member} ({})", self.admin),
            None => self.admin.clone(),
        }
    }
}

/// A listener on every interface is reached on loopback.
fn dialable(address: &HostPort) -> String {
    if address.is_unspecified() {
        let host = if address.host.contains(':') { "::1" } else { "127.0.0.1" };
        return HostPort { host: host.to_string(), port: address.port }.to_string();
    }
    address.to_string()
}

/// The members to ask; `cwd` is where a default cluster file is looked for.
pub fn targets(args: &TargetArgs, cwd: &Path) -> Result<Vec<Target>, AdminCliError> {
    if !args.admin.is_empty() {
        return Ok(args.admin.iter().map(|admin| Target { member: None, admin: dialable(admin) }).collect());
    }
    let default_file = cwd.join(DEFAULT_CONFIG_FILE);
    // `viewstamp dev`'s cluster, wherever its ports are, when run from the same place.
    let dev_file = cwd.join(DEV_CLUSTER_FILE);
    let file = match &args.config {
        Some(file) => file.clone(),
        None if default_file.is_file() => default_file,
        None if dev_file.is_file() => dev_file,
        None => {
            return Ok((0..DEV_MEMBERS)
                .map(|member| Target {
                    member: Some(member),
                    admin: format!("127.0.0.1:{}", DEV_ADMIN_BASE_PORT + member as u16),
                })
                .collect())
        }
    };
    let config = Config::load(&file).map_err(AdminCliError::Config)?;
    Ok(config
        .members
        .iter()
        .map(|member| Target { member: Some(member.id), admin: dialable(&member.admin_address) })
        .collect())
}

/// What a command prints and its exit status, kept apart from printing for tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub status: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Report {
    fn print(self) -> Result<u8, AdminCliError> {
        io::stdout().lock().write_all(self.stdout.as_bytes()).map_err(AdminCliError::Output)?;
        // The outcome is printed; a failure to print its explanation changes nothing.
        let _ = io::stderr().lock().write_all(self.stderr.as_bytes());
        Ok(self.status)
    }
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_default()
}

pub fn run_status(args: &StatusArgs) -> Result<u8, AdminCliError> {
    status_report(&targets(&args.target, &current_dir())?, args.json, Timeouts::default())?.print()
}

pub fn run_upgrade(args: &UpgradeArgs) -> Result<u8, AdminCliError> {
    let targets = targets(&args.target, &current_dir())?;
    command_report(&targets, &OperatorCommand::from(&args.action), Timeouts::default())?.print()
}

pub fn run_promote(args: &PromoteArgs) -> Result<u8, AdminCliError> {
    let targets = targets(&args.target, &current_dir())?;
    let command = OperatorCommand::Promote { standby: args.standby, replace: args.replace };
    command_report(&targets, &command, Timeouts::default())?.print()
}

// ---- status ----

/// Each member's status, or why there is none.
fn gather_status(targets: &[Target], timeouts: Timeouts) -> Vec<MemberStatus> {
    // In parallel, so that silent members cost one timeout rather than one each.
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            targets.iter().map(|target| scope.spawn(move || fetch_status(&target.admin, timeouts))).collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(handle, target)| MemberStatus {
                member: target.member,
                admin: target.admin.clone(),
                status: handle.join().unwrap_or_else(|_| Err(String::from("the request failed"))),
            })
            .collect()
    })
}

fn fetch_status(admin: &str, timeouts: Timeouts) -> Result<Value, String> {
    let answer = client::call(admin, "GET", "/status", timeouts).map_err(|error| error.to_string())?;
    let json = answer.json();
    match (answer.status, json) {
        (200, Some(value)) if value.get("member").is_some() => Ok(value),
        (200, _) => Err(String::from("not an admin endpoint's answer: the status is not the expected JSON")),
        (status, json) => {
            let message = json.as_ref().and_then(|json| json["message"].as_str()).unwrap_or("no explanation");
            Err(format!("answered HTTP {status}: {message}"))
        }
    }
}

pub fn status_report(targets: &[Target], as_json: bool, timeouts: Timeouts) -> Result<Report, AdminCliError> {
    let members = gather_status(targets, timeouts);
    let attempts: Vec<(String, String)> = members
        .iter()
        .filter_map(|member| member.status.as_ref().err().map(|problem| (member.admin.clone(), problem.clone())))
        .collect();
    if attempts.len() == members.len() {
        return Err(AdminCliError::NoAnswer { attempts });
    }
    let stdout = if as_json {
        let entries: Vec<Value> = members
            .iter()
            .map(|member| match &member.status {
                Ok(status) => json!({ "admin": member.admin, "member": member.member, "status": status }),
                Err(problem) => json!({ "admin": member.admin, "member": member.member, "error": problem }),
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&Value::Array(entries)).unwrap_or_default();
        text.push('\n');
        text
    } else {
        render_summary(&members)
    };
    Ok(Report { status: 0, stdout, stderr: String::new() })
}

// ---- operator commands ----

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorCommand {
    Propose(Release),
    Cancel,
    Auto(bool),
    Promote { standby: MemberId, replace: Option<MemberId> },
}

impl From<&UpgradeAction> for OperatorCommand {
    fn from(action: &UpgradeAction) -> Self {
        match action {
            UpgradeAction::Propose { release } => OperatorCommand::Propose(*release),
            UpgradeAction::Cancel => OperatorCommand::Cancel,
            UpgradeAction::Auto { state } => OperatorCommand::Auto(*state == Switch::On),
        }
    }
}

impl OperatorCommand {
    fn request_target(&self) -> String {
        match self {
            OperatorCommand::Propose(release) => format!("/upgrade/propose?release={release}"),
            OperatorCommand::Cancel => String::from("/upgrade/cancel"),
            OperatorCommand::Auto(on) => format!("/upgrade/auto?on={on}"),
            OperatorCommand::Promote { standby, replace: None } => format!("/promote?standby={standby}"),
            OperatorCommand::Promote { standby, replace: Some(replace) } => {
                format!("/promote?standby={standby}&replace={replace}")
            }
        }
    }

    /// What happens once the accepted command commits.
    fn accepted_text(&self) -> String {
        match self {
            OperatorCommand::Propose(release) => format!(
                "the cluster moves to {release} once every member runs a binary that has it \
                 (watch `viewstamp status`)"
            ),
            OperatorCommand::Cancel => String::from("the pending upgrade proposal is withdrawn once this commits"),
            OperatorCommand::Auto(true) => {
                String::from("the primary will move the cluster to the newest release every member runs")
            }
            OperatorCommand::Auto(false) => String::from("the cluster release now moves only on `upgrade propose`"),
            OperatorCommand::Promote { standby, replace: Some(replace) } => format!(
                "standby {standby} takes the place of member {replace} once the reconfiguration commits \
                 (watch `viewstamp status`)"
            ),
            OperatorCommand::Promote { standby, replace: None } => format!(
                "standby {standby} becomes one more active replica once the reconfiguration commits \
                 (watch `viewstamp status`)"
            ),
        }
    }
}

enum Verdict {
    Accepted,
    Refused {
        code: String,
        message: String,
    },
    /// No decision from this member: ask the next.
    NoDecision(String),
    Rejected(String),
}

fn verdict(result: Result<client::Answer, CallError>) -> Verdict {
    let answer = match result {
        Ok(answer) => answer,
        Err(error) => return Verdict::NoDecision(error.to_string()),
    };
    let json = answer.json().unwrap_or(Value::Null);
    let outcome = json["outcome"].as_str().unwrap_or_default();
    let message = json["message"].as_str().unwrap_or("no explanation").to_string();
    match (answer.status, outcome) {
        (202 | 200, "accepted") => Verdict::Accepted,
        (409, "refused") => match json["code"].as_str() {
            Some(code) => Verdict::Refused { code: code.to_string(), message },
            None => Verdict::NoDecision(String::from("a refusal without a code")),
        },
        (503, _) => Verdict::NoDecision(format!("unavailable: {message}")),
        (400, "bad-request") => Verdict::Rejected(message),
        (status, _) => Verdict::NoDecision(format!("not an admin endpoint's answer (HTTP {status}: {message})")),
    }
}

/// Send `command` to each member in turn until one decides.
pub fn command_report(
    targets: &[Target],
    command: &OperatorCommand,
    timeouts: Timeouts,
) -> Result<Report, AdminCliError> {
    let request_target = command.request_target();
    let mut attempts = Vec::new();
    let mut backups = Vec::new();
    for target in targets {
        match verdict(client::call(&target.admin, "POST", &request_target, timeouts)) {
            Verdict::Accepted => {
                let stdout = format!("accepted by {}: {}\n", target.label(), command.accepted_text());
                return Ok(Report { status: 0, stdout, stderr: String::new() });
            }
            Verdict::Refused { code, .. } if code == "no-primary" => backups.push(target.label()),
            Verdict::Refused { code, message } => {
                let advice = refusal_from_code(&code).map(refusal_advice).unwrap_or(message);
                let stdout = format!("refused by {}: {code}\n", target.label());
                return Ok(Report { status: 1, stdout, stderr: format!("{code}: {advice}\n") });
            }
            Verdict::NoDecision(problem) => attempts.push((target.admin.clone(), problem)),
            Verdict::Rejected(message) => return Err(AdminCliError::Rejected { admin: target.admin.clone(), message }),
        }
    }
    if backups.is_empty() {
        return Err(AdminCliError::NoAnswer { attempts });
    }
    let mut stderr = format!(
        "no-primary: no reachable member is a primary in normal status (asked {}); a view change may be \
         under way: retry in a few seconds",
        backups.join(", ")
    );
    if !attempts.is_empty() {
        let others: Vec<String> = attempts.iter().map(|(admin, problem)| format!("{admin}: {problem}")).collect();
        stderr.push_str(&format!("; not reached: {}", others.join("; ")));
    }
    stderr.push('\n');
    Ok(Report { status: 1, stdout: String::from("refused: no-primary\n"), stderr })
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::time::Duration;

    use clap::{Parser, Subcommand};

    use super::*;
    use crate::node::snapshot::sample;

    fn quick() -> Timeouts {
        Timeouts { connect: Duration::from_millis(500), io: Duration::from_secs(2) }
    }

    /// A member stand-in on a real socket: answers each connection's request line with
    /// `answer`, and reports the request lines it saw.
    fn fake_member(answer: fn(&str) -> String) -> (Target, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admin = listener.local_addr().unwrap().to_string();
        let (seen_tx, seen_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match std::io::Read::read(&mut stream, &mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let request_line = head.lines().next().unwrap_or_default().to_string();
                let _ = stream.write_all(answer(&request_line).as_bytes());
                let _ = seen_tx.send(request_line);
            }
        });
        (Target { member: None, admin }, seen_rx)
    }

    fn http(status: &str, body: &str) -> String {
        format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    }

    fn accepts(_: &str) -> String {
        http("202 Accepted", r#"{"outcome":"accepted"}"#)
    }

    fn backup(_: &str) -> String {
        http("409 Conflict", r#"{"outcome":"refused","code":"no-primary","message":"not the primary"}"#)
    }

    fn in_progress(_: &str) -> String {
        http("409 Conflict", r#"{"outcome":"refused","code":"in-progress","message":"pending"}"#)
    }

    fn redis(_: &str) -> String {
        String::from("-ERR unknown command 'POST'\r\n")
    }

    fn closed_port() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admin = listener.local_addr().unwrap().to_string();
        drop(listener);
        Target { member: Some(3), admin }
    }

    #[test]
    fn a_command_goes_past_backups_to_the_primary() {
        let (backup, backup_seen) = fake_member(backup);
        let (primary, primary_seen) = fake_member(accepts);
        let command = OperatorCommand::Promote { standby: 3, replace: Some(1) };
        let report = command_report(&[closed_port(), backup, primary.clone()], &command, quick()).unwrap();
        assert_eq!(report.status, 0);
        assert!(report
            .stdout
            .starts_with(&format!("accepted by {}: standby 3 takes the place of member 1", primary.admin)));
        assert_eq!(backup_seen.recv().unwrap(), "POST /promote?standby=3&replace=1 HTTP/1.1");
        assert_eq!(primary_seen.recv().unwrap(), "POST /promote?standby=3&replace=1 HTTP/1.1");
    }

    #[test]
    fn a_refusal_exits_1_with_advice() {
        let (primary, seen) = fake_member(in_progress);
        let command = OperatorCommand::Propose(Release::new(1, 3, 0));
        let report = command_report(&[primary], &command, quick()).unwrap();
        assert_eq!(report.status, 1);
        assert!(report.stdout.contains(": in-progress"), "{report:?}");
        assert!(report.stderr.starts_with("in-progress: an upgrade or a reconfiguration is pending"), "{report:?}");
        assert_eq!(seen.recv().unwrap(), "POST /upgrade/propose?release=1.3.0 HTTP/1.1");
    }

    #[test]
    fn only_backups_is_a_no_primary_refusal() {
        let (first, _) = fake_member(backup);
        let (second, _) = fake_member(backup);
        let report = command_report(&[first, second, closed_port()], &OperatorCommand::Cancel, quick()).unwrap();
        assert_eq!(report.status, 1);
        assert!(report.stderr.starts_with("no-primary: no reachable member is a primary"), "{report:?}");
        assert!(report.stderr.contains("not reached"), "{report:?}");
    }

    #[test]
    fn nothing_reachable_is_an_error_naming_every_address() {
        let targets = [closed_port(), closed_port()];
        let error = command_report(&targets, &OperatorCommand::Auto(false), quick()).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, AdminCliError::NoAnswer { ref attempts } if attempts.len() == 2));
        assert!(message.contains(&targets[0].admin) && message.contains(&targets[1].admin), "{message}");
        assert!(message.contains("refused") && message.contains("--admin HOST:PORT"), "{message}");
        let error = status_report(&targets, false, quick()).unwrap_err();
        assert!(matches!(error, AdminCliError::NoAnswer { .. }));
    }

    #[test]
    fn garbage_answers_are_skipped_and_named() {
        let (wrong_port, _) = fake_member(redis);
        let (primary, _) = fake_member(accepts);
        let report = command_report(&[wrong_port.clone(), primary], &OperatorCommand::Auto(true), quick()).unwrap();
        assert_eq!(report.status, 0);
        let (not_found, _) =
            fake_member(|_| http("404 Not Found", r#"{"outcome":"not-found","message":"no such path"}"#));
        let error = command_report(&[wrong_port, not_found], &OperatorCommand::Cancel, quick()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("not an admin endpoint") && message.contains("HTTP 404"), "{message}");
    }

    #[test]
    fn a_bad_request_is_an_error_with_the_nodes_message() {
        let (member, _) = fake_member(|_| {
            http("400 Bad Request", r#"{"outcome":"bad-request","message":"parameter \"release\" is required"}"#)
        });
        let error = command_report(&[member], &OperatorCommand::Cancel, quick()).unwrap_err();
        assert!(matches!(error, AdminCliError::Rejected { .. }));
        assert!(error.to_string().contains("parameter \"release\" is required"));
    }

    fn status_answer(_: &str) -> String {
        let mut snapshot = sample();
        (snapshot.replica.member, snapshot.replica.view) = (1, 5);
        snapshot.replica.cluster_release = "1.2.0".into();
        http("200 OK", &serde_json::to_string(&snapshot).unwrap())
    }

    #[test]
    fn status_shows_reachable_members_and_marks_the_others() {
        let (member, seen) = fake_member(status_answer);
        let gone = closed_port();
        let report = status_report(&[member.clone(), gone.clone()], false, quick()).unwrap();
        assert_eq!(report.status, 0);
        assert_eq!(seen.recv().unwrap(), "GET /status HTTP/1.1");
        assert!(report.stdout.contains("active (primary)"), "{}", report.stdout);
        assert!(
            report.stdout.contains(&format!("3       {}  unreachable: connection refused", gone.admin)),
            "{}",
            report.stdout
        );
        assert!(report.stdout.contains("release"), "{}", report.stdout);

        let report = status_report(&[member.clone(), gone.clone()], true, quick()).unwrap();
        let json: Value = serde_json::from_str(&report.stdout).unwrap();
        assert_eq!(json[0]["admin"], member.admin.as_str());
        assert_eq!(json[0]["status"]["view"], 5);
        assert_eq!(json[1]["member"], 3);
        assert!(json[1]["error"].as_str().unwrap().contains("refused"));

        let (garbage, _) = fake_member(|_| http("200 OK", "[1, 2]"));
        let report = status_report(&[member, garbage], false, quick()).unwrap();
        assert!(report.stdout.contains("unreachable: not an admin endpoint"), "{}", report.stdout);
    }

    #[test]
    fn targets_come_from_flags_a_file_or_the_dev_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let dev = targets(&TargetArgs::default(), dir.path()).unwrap();
        assert_eq!(dev.len(), 4);
        assert_eq!(dev[3], Target { member: Some(3), admin: "127.0.0.1:8103".into() });

        let spec = crate::node::config::LocalCluster { admin_base_port: 9200, standbys: 1, ..Default::default() };
        let toml = crate::node::config::local_cluster_toml(&spec).unwrap();
        std::fs::write(dir.path().join(DEFAULT_CONFIG_FILE), &toml).unwrap();
        let from_cwd = targets(&TargetArgs::default(), dir.path()).unwrap();
        assert_eq!(
            from_cwd.iter().map(|target| target.admin.as_str()).collect::<Vec<_>>(),
            ["127.0.0.1:9200", "127.0.0.1:9201", "127.0.0.1:9202", "127.0.0.1:9203"]
        );
        assert_eq!(from_cwd[2].member, Some(2));

        let other = dir.path().join("other.toml");
        std::fs::write(&other, toml.replace("127.0.0.1:9201", "0.0.0.0:9201")).unwrap();
        let args = TargetArgs { admin: vec![], config: Some(other) };
        assert_eq!(
            targets(&args, Path::new("/nonexistent")).unwrap()[1].admin,
            "127.0.0.1:9201",
            "unspecified: dial loopback"
        );

        let args = TargetArgs {
            admin: vec![HostPort::parse("[::]:1").unwrap(), HostPort::parse("h:2").unwrap()],
            config: None,
        };
        let given = targets(&args, dir.path()).unwrap();
        assert_eq!(
            given,
            vec![Target { member: None, admin: "[::1]:1".into() }, Target { member: None, admin: "h:2".into() }]
        );

        let missing = TargetArgs { admin: vec![], config: Some(dir.path().join("missing.toml")) };
        let error = targets(&missing, dir.path()).unwrap_err();
        assert!(matches!(error, AdminCliError::Config(_)) && error.to_string().contains("missing.toml"), "{error}");
    }

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(Debug, Subcommand)]
    enum TestCommand {
        Status(StatusArgs),
        Upgrade(UpgradeArgs),
        Promote(PromoteArgs),
    }

    fn parse(line: &str) -> Result<TestCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("viewstamp").chain(line.split_whitespace())).map(|cli| cli.command)
    }

    #[test]
    fn the_command_lines_parse() {
        use clap::CommandFactory;
        TestCli::command().debug_assert();
        let Ok(TestCommand::Upgrade(upgrade)) = parse("upgrade propose 1.3.0 --admin 127.0.0.1:8101") else { panic!() };
        assert!(matches!(upgrade.action, UpgradeAction::Propose { release } if release == Release::new(1, 3, 0)));
        assert_eq!(upgrade.target.admin, vec![HostPort::parse("127.0.0.1:8101").unwrap()]);
        let Ok(TestCommand::Upgrade(upgrade)) = parse("upgrade --config c.toml auto off") else { panic!() };
        assert_eq!(OperatorCommand::from(&upgrade.action), OperatorCommand::Auto(false));
        assert_eq!(upgrade.target.config, Some(PathBuf::from("c.toml")));
        let Ok(TestCommand::Promote(promote)) = parse("promote 3 --replace 1 --admin a:1 --admin b:2") else {
            panic!()
        };
        assert_eq!((promote.standby, promote.replace, promote.target.admin.len()), (3, Some(1), 2));
        let Ok(TestCommand::Status(status)) = parse("status --json") else { panic!() };
        assert!(status.json && status.target.admin.is_empty());
        for bad in [
            "upgrade propose 1.3",
            "upgrade auto maybe",
            "promote x",
            "status --admin nohost",
            "status --admin a:1 --config c.toml",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let error = parse("upgrade propose 1.3").unwrap_err().to_string();
        assert!(error.contains("MAJOR.MINOR.PATCH"), "{error}");
    }
}
