//! The nemesis: one fault at a time on a seeded schedule, each held for a while and
//! then healed, every step written to the nemesis log with its time. It also runs the
//! two operator stories of a run: a rolling upgrade and a standby's promotion.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::cluster::{Cluster, Role};
use super::disk::{self, DiskFault};
use super::proxy::Link;
use super::resp::{Reply, RespClient};
use super::rng::Rng;
use super::workload::{History, CONNECT_TIMEOUT};

/// One fault as it happened, for the figures: microseconds on the history's clock.
#[derive(Clone, Debug)]
pub struct FaultEvent {
    pub kind: String,
    pub started_us: u64,
    pub healed_us: u64,
    pub detail: String,
}

pub struct Nemesis<'a> {
    pub cluster: &'a mut Cluster,
    rng: Rng,
    log: File,
    history: History,
    /// Members taken out of the configuration: never touched or asked again.
    pub removed: BTreeSet<u64>,
    /// Where clients may connect.
    pub client_targets: Arc<Mutex<Vec<(u64, SocketAddr)>>>,
    pub events: Vec<FaultEvent>,
    pub violations: Vec<String>,
    /// Set by the promotion story: the member promoted and the one it replaced.
    pub promoted: Option<(u64, u64)>,
}

const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

impl<'a> Nemesis<'a> {
    pub fn new(cluster: &'a mut Cluster, rng: Rng, log: File, history: History) -> Self {
        let client_targets =
            Arc::new(Mutex::new(cluster.members.iter().map(|member| (member.id, member.client)).collect()));
        Nemesis {
            cluster,
            rng,
            log,
            history,
            removed: BTreeSet::new(),
            client_targets,
            events: Vec::new(),
            violations: Vec::new(),
            promoted: None,
        }
    }

    pub fn note(&mut self, line: &str) {
        let _ = writeln!(self.log, "{:>10.3} s  {line}", self.history.now_us() as f64 / 1e6);
    }

    fn violation(&mut self, text: String) {
        self.note(&format!("VIOLATION: {text}"));
        self.violations.push(text);
    }

    /// Members still in the configuration.
    pub fn live(&self) -> Vec<u64> {
        self.cluster.members.iter().map(|member| member.id).filter(|id| !self.removed.contains(id)).collect()
    }

    fn actives(&self) -> Vec<u64> {
        let promoted = self.promoted.map(|(standby, _)| standby);
        self.live()
            .into_iter()
            .filter(|id| self.cluster.member(*id).role == Role::Active || Some(*id) == promoted)
            .collect()
    }

    /// The primary of the highest view among running, unpaused members.
    pub fn primary(&self) -> Option<u64> {
        self.live()
            .into_iter()
            .filter(|id| self.cluster.member(*id).is_running() && !self.cluster.member(*id).paused)
            .filter_map(|id| {
                self.cluster.status(id).ok().filter(|status| status.is_primary).map(|status| (status.view, id))
            })
            .max()
            .map(|(_, id)| id)
    }

    fn hold(&mut self, low_ms: u64, high_ms: u64) {
        sleep(Duration::from_millis(self.rng.between(low_ms, high_ms)));
    }

    fn record(&mut self, kind: &str, started_us: u64, detail: String) {
        let healed_us = self.history.now_us();
        self.note(&format!("healed {kind}"));
        self.events.push(FaultEvent { kind: kind.to_string(), started_us, healed_us, detail });
    }

    fn start(&mut self, id: u64) {
        if let Err(error) = self.cluster.start(id) {
            self.violation(format!("member {id} cannot be started again: {error}"));
        }
    }

    /// Half the time the primary, else any live member.
    fn target(&mut self) -> u64 {
        match self.primary() {
            Some(primary) if self.rng.percent(50) => primary,
            _ => *self.rng.pick(&self.live()),
        }
    }

    /// One fault, chosen, applied, held and healed.
    pub fn random_fault(&mut self, disk_full_possible: bool) {
        let choice = self.rng.below(if disk_full_possible { 15 } else { 14 });
        match choice {
            0..=2 => self.kill_and_restart(),
            3..=4 => self.pause(),
            5..=9 => self.partition(),
            10..=13 => {
                let fault = *self.rng.pick(&DiskFault::ALL);
                self.damage_disk(fault)
            }
            _ => self.fill_disk(),
        }
    }

    fn kill_and_restart(&mut self) {
        let target = self.target();
        let started = self.history.now_us();
        self.note(&format!("kill -9 member {target}"));
        self.cluster.kill(target);
        self.hold(1000, 4000);
        self.note(&format!("restart member {target}"));
        self.start(target);
        self.record("kill", started, format!("member {target}"));
    }

    fn pause(&mut self) {
        let target = self.target();
        let started = self.history.now_us();
        self.note(&format!("SIGSTOP member {target}"));
        self.cluster.pause(target);
        // Longer than the primary timeout (1 s by default).
        self.hold(1500, 4000);
        self.note(&format!("SIGCONT member {target}"));
        self.cluster.resume(target);
        self.record("pause", started, format!("member {target}"));
    }

    fn partition(&mut self) {
        let live = self.live();
        let primary = self.primary().unwrap_or(live[0]);
        let others: Vec<u64> = live.iter().copied().filter(|id| *id != primary).collect();
        let both_ways = |a: &[u64], b: &[u64]| -> Vec<Link> {
            a.iter().flat_map(|x| b.iter().flat_map(move |y| [(*x, *y), (*y, *x)])).collect()
        };
        let shapes = if live.len() >= 5 { 5 } else { 4 };
        let (kind, links, detail) = match self.rng.below(shapes) {
            0 => ("partition_primary_isolated", both_ways(&[primary], &others), format!("member {primary} alone")),
            1 => {
                let mut shuffled = live.clone();
                for index in (1..shuffled.len()).rev() {
                    shuffled.swap(index, self.rng.below(index as u64 + 1) as usize);
                }
                let cut = self.rng.between(1, shuffled.len() as u64 - 1) as usize;
                let (a, b) = shuffled.split_at(cut);
                ("partition_halves", both_ways(a, b), format!("{a:?} | {b:?}"))
            }
            2 => (
                "partition_deaf_primary",
                others.iter().map(|other| (*other, primary)).collect(),
                format!("nothing reaches member {primary}"),
            ),
            3 => {
                if self.rng.percent(50) {
                    (
                        "partition_mute_primary",
                        others.iter().map(|other| (primary, *other)).collect(),
                        format!("member {primary} reaches nobody"),
                    )
                } else {
                    let from = *self.rng.pick(&live);
                    let to = *self.rng.pick(&live.iter().copied().filter(|id| *id != from).collect::<Vec<_>>());
                    ("partition_one_link", vec![(from, to)], format!("{from} -> {to}"))
                }
            }
            _ => {
                // {primary, a} and {b, c} lose each other; the bridge d reaches everyone.
                let (a, b, c) = (others[0], others[1], others[2]);
                (
                    "partition_bridge",
                    both_ways(&[primary, a], &[b, c]),
                    format!("[{primary}, {a}] | [{b}, {c}], bridged by the rest"),
                )
            }
        };
        let started = self.history.now_us();
        self.note(&format!("{kind}: {detail}"));
        self.cluster.proxies.set_blocked(links);
        self.hold(2000, 8000);
        self.cluster.proxies.set_blocked([]);
        self.record(kind, started, detail);
    }

    fn damage_disk(&mut self, fault: DiskFault) {
        let target = self.target();
        let started = self.history.now_us();
        self.note(&format!("kill -9 member {target} to damage its disk"));
        self.cluster.kill(target);
        let data_dir = self.cluster.member(target).data_dir();
        match disk::apply(fault, &data_dir, &mut self.rng) {
            Ok(what) => self.note(&format!("member {target}: {what}")),
            Err(error) => self.note(&format!("member {target}: no damage done: {error}")),
        }
        self.hold(500, 2000);
        self.note(&format!("restart member {target} on its damaged disk"));
        self.start(target);
        self.record(&format!("disk_{}", fault.name()), started, format!("member {target}"));
    }

    fn fill_disk(&mut self) {
        let target = self.target();
        let Some(tmpfs) = self.cluster.member(target).tmpfs() else { return };
        let started = self.history.now_us();
        match tmpfs.fill() {
            Ok(bytes) => self.note(&format!("member {target}: filled its disk ({bytes} bytes of ballast)")),
            Err(error) => {
                self.note(&format!("member {target}: cannot fill its disk: {error}"));
                return;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(8);
        let mut failed = None;
        while Instant::now() < deadline && failed.is_none() {
            sleep(Duration::from_millis(100));
            failed = self.cluster.status(target).ok().and_then(|status| status.storage_failed);
        }
        match &failed {
            Some(cause) => {
                self.note(&format!("member {target} stopped its storage: {cause}"));
                self.probe_refusal(target);
            }
            None => self.note(&format!("member {target} wrote nothing while full")),
        }
        self.hold(1000, 3000);
        if let Some(tmpfs) = self.cluster.member(target).tmpfs() {
            if let Err(error) = tmpfs.free() {
                self.violation(format!("cannot free member {target}'s disk: {error}"));
            }
        }
        if failed.is_some() {
            // As the error tells an operator: free space, then restart the node.
            self.note(&format!("space is back; restart member {target}"));
            self.cluster.stop(target);
            self.start(target);
        } else {
            self.note(&format!("space is back on member {target}"));
        }
        self.record("disk_full", started, format!("member {target}"));
    }

    /// A member whose storage stopped must refuse a write, saying why.
    fn probe_refusal(&mut self, target: u64) {
        let address = self.cluster.member(target).client;
        let answer = RespClient::connect(address, CONNECT_TIMEOUT, Duration::from_secs(5))
            .and_then(|mut client| client.command(&[b"SET", b"nemesis-probe", b"x"]));
        match answer {
            Ok(Reply::Error(text)) if text.contains("storage") => {
                self.note(&format!("member {target} refuses writes: -{text}"))
            }
            Ok(Reply::Simple(ok)) => {
                self.violation(format!("member {target} acknowledged a write (+{ok}) after its storage failed"))
            }
            other => {
                self.violation(format!("member {target}'s storage failed but a write got {other:?}, not a clear error"))
            }
        }
    }

    /// Undoes whatever is still broken: links, pauses, full disks, stopped members.
    pub fn heal_all(&mut self) {
        self.note("heal everything");
        self.cluster.proxies.set_blocked([]);
        for id in self.live() {
            self.cluster.resume(id);
            if let Some(tmpfs) = self.cluster.member(id).tmpfs() {
                let _ = tmpfs.free();
            }
            let storage_failed = self.cluster.status(id).ok().and_then(|status| status.storage_failed).is_some();
            if storage_failed {
                self.cluster.stop(id);
            }
            if !self.cluster.member(id).is_running() {
                self.note(&format!("start member {id}"));
                self.start(id);
            }
        }
    }

    /// Waits until `ready(member status)` holds for member `id`.
    /// The primary, once there is one (a violation after `SETTLE_TIMEOUT` without).
    fn wait_for_primary(&mut self) -> Option<u64> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(primary) = self.primary() {
                return Some(primary);
            }
            sleep(Duration::from_millis(100));
        }
        self.violation(format!("no primary within {} s", SETTLE_TIMEOUT.as_secs()));
        None
    }

    /// An operator command, tried again while it finds no primary (a view change under
    /// way), as its error says to, for up to `SETTLE_TIMEOUT`.
    fn admin_command_once_served(&self, args: &[&str]) -> Result<String, String> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            match self.cluster.admin_command(args) {
                Err(error) if error.contains("no-primary") && Instant::now() < deadline => {
                    sleep(Duration::from_millis(200))
                }
                outcome => return outcome,
            }
        }
    }

    fn wait_for(&mut self, id: u64, what: &str, ready: impl Fn(&super::admin::MemberStatus) -> bool) -> bool {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while Instant::now() < deadline {
            if self.cluster.status(id).is_ok_and(|status| ready(&status)) {
                return true;
            }
            sleep(Duration::from_millis(100));
        }
        self.violation(format!("member {id} did not {what} within {} s", SETTLE_TIMEOUT.as_secs()));
        false
    }

    /// Every member restarted, one at a time, as the binary's own (newer) release,
    /// then the upgrade proposed and committed. The cluster release must not move
    /// while some member still runs the older one. A member of a release the binary
    /// carries in its archive must run that release's real code until its restart;
    /// each restart is a `upgrade_restart` event, whose client-visible pause the report
    /// prints. From 1.4.0 on, the commands the old code lacks and read_index must work
    /// once the upgrade commits.
    pub fn rolling_upgrade(&mut self, from: &str, archived: bool) {
        let started = self.history.now_us();
        for id in self.live() {
            // A member on archived code answers once it has compiled the module.
            if !self.wait_for(id, "answer its status", |_| true) {
                continue;
            }
            let code = self.cluster.status(id).ok().and_then(|status| status.archived_core);
            self.note(&format!("member {id} runs {}", code.as_deref().map_or("the current code", |_| "archived code")));
            if archived && code.as_deref() != Some(from) {
                self.violation(format!(
                    "member {id} runs {code:?}, not the archived {from} code its binary release asks for"
                ));
            }
        }
        // Members on archived code compile it before they answer or elect anyone: the
        // upgrade starts, as an operator's would, once the cluster has a primary.
        let Some(primary) = self.wait_for_primary() else { return };
        match self.admin_command_once_served(&["upgrade", "auto", "off"]) {
            Ok(text) => self.note(&format!("upgrade auto off: {text}")),
            Err(error) => self.violation(format!("cannot turn automatic upgrades off: {error}")),
        }
        let primary = Some(primary);
        let mut order: Vec<u64> = self.live();
        order.sort_by_key(|id| (self.cluster.member(*id).role == Role::Active, Some(*id) == primary));
        let mut newest = None;
        for (index, id) in order.iter().copied().enumerate() {
            self.note(&format!("rolling upgrade: restart member {id} as the new binary"));
            let restart_started = self.history.now_us();
            let commit_before = self.cluster.status(id).map_or(0, |status| status.commit);
            self.cluster.stop(id);
            self.cluster.members[id as usize].binary_release = None;
            self.start(id);
            let old = from.to_string();
            let caught_up = move |status: &super::admin::MemberStatus| {
                status.status == "normal"
                    && status.binary_release != old
                    && status.commit > commit_before
                    && status.archived_core.is_none()
            };
            if !self.wait_for(id, "come back normal on the current code and catch up after its upgrade", caught_up) {
                return;
            }
            let role = if self.cluster.member(id).role == Role::Active { "replica" } else { "standby" };
            let was = if Some(id) == primary { " (the primary)" } else { "" };
            self.record("upgrade_restart", restart_started, format!("member {id}, {role}{was}"));
            // Some load in the mixed-release cluster before the next member.
            self.hold(1000, 3000);
            let status = self.cluster.status(id).ok();
            newest = status.as_ref().map(|status| status.binary_release.clone());
            let release = status.map(|status| status.cluster_release).unwrap_or_default();
            if index + 1 < order.len() && release != from {
                self.violation(format!("the cluster release is {release} while some member still runs {from}"));
            }
        }
        let Some(newest) = newest else { return };
        let proposal = self.admin_command_once_served(&["upgrade", "propose", &newest]);
        self.note(&format!("upgrade propose {newest}: {}", proposal.unwrap_or_else(|error| error)));
        for id in self.live() {
            let target = newest.clone();
            self.wait_for(id, &format!("reach cluster release {newest}"), move |status| {
                status.cluster_release == target
            });
        }
        self.note(&format!("rolling upgrade to {newest} committed"));
        self.record("rolling_upgrade", started, format!("{from} -> {newest}"));
        if newest.as_str() >= "1.4.0" {
            self.use_what_1_4_0_brings();
        }
    }

    /// The commands 1.3.0 lacks, on keys the workload never touches, and reads by
    /// read_index at the primary; each must answer as Redis does.
    fn use_what_1_4_0_brings(&mut self) {
        let Some(primary) = self.primary() else {
            self.violation("no primary after the upgrade".to_string());
            return;
        };
        let reads_before = self.cluster.status(primary).map_or(0, |status| status.reads_by_index);
        let address = self.cluster.member(primary).client;
        let mut client = match RespClient::connect(address, Duration::from_secs(2), Duration::from_secs(5)) {
            Ok(client) => client,
            Err(error) => {
                self.violation(format!("cannot reach primary {primary} after the upgrade: {error}"));
                return;
            }
        };
        let integer = Reply::Integer;
        let bulk = |text: &str| Reply::Bulk(Some(text.as_bytes().to_vec()));
        let steps: [(&[&[u8]], Reply); 8] = [
            (&[b"SET", b"upgrade-nx", b"1", b"NX"], Reply::Simple("OK".into())),
            (&[b"SET", b"upgrade-nx", b"2", b"NX"], Reply::Bulk(None)),
            (&[b"APPEND", b"upgrade-nx", b"23"], integer(3)),
            (&[b"STRLEN", b"upgrade-nx"], integer(3)),
            (&[b"GETSET", b"upgrade-nx", b"9"], bulk("123")),
            (&[b"GETDEL", b"upgrade-nx"], bulk("9")),
            (&[b"GET", b"upgrade-nx"], Reply::Bulk(None)),
            (&[b"EXISTS", b"upgrade-nx"], integer(0)),
        ];
        for (command, expected) in steps {
            let shown: Vec<String> = command.iter().map(|part| String::from_utf8_lossy(part).into_owned()).collect();
            match client.command(command) {
                Ok(reply) if reply == expected => {
                    self.note(&format!("after the upgrade: {} -> {reply:?}", shown.join(" ")))
                }
                outcome => self
                    .violation(format!("after the upgrade {} answered {outcome:?}, not {expected:?}", shown.join(" "))),
            }
        }
        let reads_after = self.cluster.status(primary).map_or(0, |status| status.reads_by_index);
        if reads_after <= reads_before {
            self.violation(format!(
                "primary {primary} answered no read by read_index after the upgrade ({reads_before} -> {reads_after})"
            ));
        } else {
            self.note(&format!(
                "primary {primary}: {} reads by read_index during the checks",
                reads_after - reads_before
            ));
        }
    }

    /// A replica killed for good and a standby promoted in its place; then another
    /// replica killed, so that writes can go on only if the promoted member counts.
    pub fn promotion(&mut self) {
        let started = self.history.now_us();
        let Some(standby) = self.live().into_iter().find(|id| self.cluster.member(*id).role == Role::Standby) else {
            return;
        };
        let replaced = *self.rng.pick(&self.actives());
        self.note(&format!("promotion: kill -9 member {replaced} for good"));
        self.cluster.kill(replaced);
        self.removed.insert(replaced);
        self.client_targets.lock().expect("targets lock").retain(|(id, _)| *id != replaced);
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last_error = String::new();
        loop {
            match self.admin_command_once_served(&["promote", &standby.to_string(), "--replace", &replaced.to_string()])
            {
                Ok(text) => {
                    self.note(&format!("promote {standby} --replace {replaced}: {text}"));
                    break;
                }
                Err(error) if Instant::now() > deadline => {
                    self.violation(format!("no member took the promotion: {error}"));
                    return;
                }
                Err(error) => {
                    if error != last_error {
                        self.note(&format!("promote refused: {error}"));
                        last_error = error;
                    }
                    sleep(Duration::from_millis(500));
                }
            }
        }
        self.promoted = Some((standby, replaced));
        for id in self.live() {
            self.wait_for(id, &format!("commit the promotion of {standby}"), move |status| {
                status.membership.0.contains(&standby) && !status.membership.0.contains(&replaced)
            });
        }
        self.record("promotion", started, format!("{standby} replaces {replaced}"));
        let others: Vec<u64> = self.actives().into_iter().filter(|id| *id != standby).collect();
        let second = *self.rng.pick(&others);
        let killed_at = self.history.now_us();
        self.note(&format!("promotion: kill -9 member {second}; only the promoted {standby} makes a quorum now"));
        self.cluster.kill(second);
        sleep(Duration::from_secs(6));
        let written = self.history.acknowledged_writes_invoked_after(killed_at);
        if written == 0 {
            self.violation(format!(
                "no write committed in 6 s with member {second} down: promoted member {standby} does not count"
            ));
        } else {
            self.note(&format!("{written} writes committed with member {second} down"));
        }
        self.start(second);
        self.record("kill_after_promotion", killed_at, format!("member {second}"));
    }
}
