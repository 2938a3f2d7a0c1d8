//! `snapshot()`: the whole visible state of a session, as plain data for the browser.
//! Each member that is up shows the core's status snapshot, the one a node serves at
//! `/status`; the cluster as a whole is what the primary's says.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;
use viewstamp_core::message::Body;
use viewstamp_core::release::KNOWN_RELEASES;
use viewstamp_core::replica::{Replica, Role};
use viewstamp_core::sim::{Endpoint, Simulator};
use viewstamp_core::state_machine::KvStore;
use viewstamp_core::status_snapshot::{ReportedStatus, StatusSnapshot};
use viewstamp_core::types::MemberId;

use super::Session;

/// How many of the newest log slots a member's window shows.
pub const LOG_WINDOW_OPS: u64 = 32;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
// The core's snapshot holds maps (counters, flattened standbys): plain objects in JS.
#[cfg_attr(feature = "browser", tsify(hashmap_as_object))]
pub struct Snapshot {
    /// Simulated time in ticks (10 ms each).
    pub now: u64,
    pub events_processed: u64,
    pub messages_delivered: u64,
    /// Output lines the session kept, and those past its bound it did not.
    pub event_count: u64,
    pub events_dropped: u64,
    /// The digest `viewstamp replay` prints, 16 hex digits.
    pub digest: String,
    /// Whether an expectation failed so far (the exported script would exit 1).
    pub failed: bool,
    /// The last operator command's code.
    pub operator_code: String,
    /// The member whose `replica` shows the cluster: release, features, upgrade, standbys.
    pub primary: Option<u8>,
    pub members: Vec<MemberView>,
    /// Messages sent and not yet delivered or dropped.
    pub messages: Vec<InFlightView>,
    pub timers: Vec<TimerView>,
    pub network: NetworkView,
    pub clients: Vec<ClientView>,
    pub violations: Vec<String>,
    /// Every release a binary of this build can be, oldest first.
    pub known_releases: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct MemberView {
    pub id: u8,
    /// Its role as it knows it; while it is down, as the primary does.
    #[cfg_attr(feature = "browser", tsify(type = "string"))]
    pub role: Role,
    /// `crashed` while it is down.
    #[cfg_attr(feature = "browser", tsify(type = "string"))]
    pub status: ReportedStatus,
    pub up: bool,
    /// The newest release its binary runs.
    pub binary: String,
    /// While it is up and its binary is an archived release: that release, whose real
    /// code it runs (its module from `releases/`); otherwise the current code runs it.
    pub archived: Option<String>,
    /// What it shows of itself while it is up (of an archived member: what its ABI
    /// summary and the simulator know; no counters, advertised releases or history).
    #[cfg_attr(feature = "browser", tsify(type = "StatusSnapshot | undefined"))]
    pub replica: Option<StatusSnapshot>,
    pub log: Option<LogWindow>,
}

/// The newest slots of a member's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct LogWindow {
    /// Ops at or below this are in a checkpoint.
    pub base: u64,
    pub op: u64,
    pub entries: Vec<LogEntryView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct LogEntryView {
    pub op: u64,
    pub view: u64,
    /// 16 hex digits.
    pub checksum: String,
    /// `requests`, `upgrade`, `upgrade-control`, `reconfigure`, or `missing` (the body
    /// is damaged or not there yet).
    pub kind: String,
    /// Client requests in the entry.
    pub requests: u32,
    pub committed: bool,
    pub durable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct InFlightView {
    /// `prepare`, `prepare_ok`, `commit`, ...
    pub kind: String,
    /// `0`..`N` for members, `c1`.. for clients.
    pub from: String,
    pub to: String,
    /// The tick it is due.
    pub deliver_at: u64,
    /// Its fields as `name=value` words (`v=2 op=5 commit=4`).
    pub fields: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct TimerView {
    pub member: u8,
    /// The tick of the member's next timeout (heartbeat, view change, repair, ...).
    pub at: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct NetworkView {
    /// Members that can reach each other, one list per partition group.
    pub groups: Vec<Vec<u8>>,
    /// Members cut off from everyone.
    pub isolated: Vec<u8>,
    /// One-way blocks.
    pub blocked: Vec<Link>,
    pub loss_ppm: u32,
    pub dup_ppm: u32,
    pub delay_min_ticks: u64,
    pub delay_max_ticks: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct Link {
    pub from: u8,
    pub to: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct ClientView {
    pub client: u64,
    /// `pending`, `ok`, the value read, `nil`, or `error:CODE`.
    pub reply: String,
}

pub fn build(session: &Session) -> Snapshot {
    let sim = &session.sim;
    Snapshot {
        now: sim.now(),
        events_processed: sim.events_processed(),
        messages_delivered: sim.messages_delivered(),
        event_count: session.lines.len() as u64,
        events_dropped: session.lines_dropped,
        digest: format!("{:016x}", sim.digest()),
        failed: session.failed,
        operator_code: session.error_code.clone(),
        primary: sim.primary(),
        members: (0..sim.member_count()).map(|member| member_view(sim, member)).collect(),
        messages: in_flight(sim),
        timers: (0..sim.member_count())
            .filter_map(|member| Some(TimerView { member, at: sim.member(member).poll_timeout()? }))
            .collect(),
        network: network(sim),
        clients: session
            .clients()
            .into_iter()
            .map(|client| ClientView { client, reply: sim.client_reply(client).text() })
            .collect(),
        violations: sim.checker.violations.clone(),
        known_releases: KNOWN_RELEASES.iter().map(|release| release.to_string()).collect(),
    }
}

fn member_view(sim: &Simulator, member: MemberId) -> MemberView {
    MemberView {
        id: member,
        role: sim.role_of(member),
        status: sim.reported_status(member),
        up: sim.member_state(member).is_some(),
        binary: sim.member(member).binary.to_string(),
        archived: sim.member(member).archived_release().map(|release| release.to_string()),
        replica: sim.status_of(member),
        // An archived member's log is inside its module: not shown.
        log: sim.replica(member).map(log_window),
    }
}

fn log_window(replica: &Replica<KvStore>) -> LogWindow {
    let log = replica.log();
    let first = log.op().saturating_sub(LOG_WINDOW_OPS - 1).max(log.base() + 1);
    let entries = (first..=log.op())
        .filter_map(|op| {
            let slot = log.get(op)?;
            let (kind, requests) = match &slot.body {
                None => ("missing", 0),
                Some(Body::Requests(requests)) => ("requests", requests.len() as u32),
                Some(Body::Upgrade { .. }) => ("upgrade", 0),
                Some(Body::UpgradeControl(_)) => ("upgrade-control", 0),
                Some(Body::Reconfigure(_)) => ("reconfigure", 0),
            };
            Some(LogEntryView {
                op,
                view: slot.header.view,
                checksum: format!("{:016x}", slot.header.checksum),
                kind: String::from(kind),
                requests,
                committed: op <= replica.commit(),
                durable: slot.durable,
            })
        })
        .collect();
    LogWindow { base: log.base(), op: log.op(), entries }
}

fn in_flight(sim: &Simulator) -> Vec<InFlightView> {
    let endpoint = |endpoint: Endpoint| match endpoint {
        Endpoint::Member(member) => member.to_string(),
        Endpoint::Client(client) => format!("c{client}"),
    };
    sim.in_flight()
        .into_iter()
        .map(|message| InFlightView {
            kind: String::from(message.kind),
            from: endpoint(message.from),
            to: endpoint(message.to),
            deliver_at: message.deliver_at,
            fields: message.fields,
        })
        .collect()
}

fn network(sim: &Simulator) -> NetworkView {
    let net = &sim.network;
    let members = sim.member_count();
    let mut groups: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut isolated = Vec::new();
    for member in 0..members {
        match net.group_of(member) {
            None => isolated.push(member),
            Some(group) => match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, list)) => list.push(member),
                None => groups.push((group, alloc::vec![member])),
            },
        }
    }
    let blocked = (0..members)
        .flat_map(|from| {
            let bits = net.blocked_from(from);
            (0..members).filter(move |to| bits & (1 << to) != 0).map(move |to| Link { from, to })
        })
        .collect();
    NetworkView {
        groups: groups.into_iter().map(|(_, list)| list).collect(),
        isolated,
        blocked,
        loss_ppm: net.loss_ppm,
        dup_ppm: net.dup_ppm,
        delay_min_ticks: net.delay_min_ticks,
        delay_max_ticks: net.delay_max_ticks,
    }
}
