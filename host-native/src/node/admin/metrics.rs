//! A [`NodeSnapshot`] in the Prometheus text exposition format (version 0.0.4): every
//! family with HELP and TYPE lines, names prefixed `viewstamp_`.
//!
//! Histories the core caps (upgrade events, promotions) are gauges of what the history
//! holds, not counters: a counter that drops when the cap evicts an entry would read as
//! a reset.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::node::snapshot::{FollowerSeconds, NodeSnapshot};

struct Exposition {
    text: String,
    families: BTreeSet<String>,
}

impl Exposition {
    /// Start a family; `false` (and nothing written) when the name is taken already.
    fn family(&mut self, name: &str, kind: &str, help: &str) -> bool {
        if !self.families.insert(name.to_string()) {
            return false;
        }
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        true
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (index, (label, value)) in labels.iter().enumerate() {
                if index > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", value.into());
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl Into<Value>) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }
}

/// A sample value: integers print exactly, floats in Prometheus spelling.
enum Value {
    Integer(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(value: u64) -> Self {
        Value::Integer(value)
    }
}

impl From<usize> for Value {
    fn from(value: usize) -> Self {
        Value::Integer(value as u64)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Integer(value as u64)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Float(value)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Integer(value) => write!(f, "{value}"),
            Value::Float(value) => f.write_str(&float_text(*value)),
        }
    }
}

fn float_text(value: f64) -> String {
    if value.is_nan() {
        String::from("NaN")
    } else if value == f64::INFINITY {
        String::from("+Inf")
    } else if value == f64::NEG_INFINITY {
        String::from("-Inf")
    } else {
        value.to_string()
    }
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A metric name from free text: anything outside `[a-zA-Z0-9_]` becomes `_`.
fn metric_name(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// The first word of an upgrade event's text (`proposed 1.3.0` -> `proposed`).
fn event_kind(event: &str) -> &str {
    event.split_whitespace().next().unwrap_or("unknown")
}

pub fn render(snapshot: &NodeSnapshot) -> String {
    let mut out = Exposition { text: String::with_capacity(4096), families: BTreeSet::new() };
    let replica = &snapshot.replica;
    let member = replica.member.to_string();

    out.family("viewstamp_node_info", "gauge", "This member: its id, cluster, role, status and binary release.");
    out.sample(
        "viewstamp_node_info",
        &[
            ("member", &member),
            ("cluster_id", &snapshot.cluster_id.to_string()),
            ("role", replica.role.name()),
            ("status", replica.status.name()),
            ("binary_release", &replica.binary_release),
        ],
        1u64,
    );
    out.gauge("viewstamp_view", "The view this member is in.", replica.view);
    out.gauge("viewstamp_op", "The newest op in this member's log.", replica.op);
    out.gauge("viewstamp_commit", "The newest op this member knows committed.", replica.commit);
    out.gauge("viewstamp_is_primary", "1 when this member is the primary serving clients.", replica.is_primary);

    out.family("viewstamp_cluster_release_info", "gauge", "The committed cluster release, as a label.");
    out.sample("viewstamp_cluster_release_info", &[("release", &replica.cluster_release)], 1u64);
    out.family("viewstamp_upgrade_target_info", "gauge", "The pending upgrade proposal's release, if any.");
    if let Some(target) = &replica.upgrade_target {
        out.sample("viewstamp_upgrade_target_info", &[("release", target)], 1u64);
    }
    out.gauge(
        "viewstamp_upgrade_auto",
        "1 when the primary upgrades on its own once every member can.",
        replica.upgrade_auto,
    );

    out.family(
        "viewstamp_advertised_release_info",
        "gauge",
        "The release each member's binary advertises, as this member last heard (0 and release \"none\": not heard).",
    );
    for advertised in &replica.advertised {
        let heard = advertised.release.as_deref();
        out.sample(
            "viewstamp_advertised_release_info",
            &[("member", &advertised.member.to_string()), ("release", heard.unwrap_or("none"))],
            heard.is_some(),
        );
    }

    out.family("viewstamp_feature_enabled", "gauge", "1 when the cluster release has turned the feature on.");
    for feature in &replica.features {
        out.sample("viewstamp_feature_enabled", &[("feature", feature.name), ("since", &feature.since)], feature.on);
    }

    let standbys = || replica.standbys.iter().map(|standby| &standby.view);
    out.family("viewstamp_standby_lag_ops", "gauge", "Ops a standby is behind the primary's commit (primary only).");
    for standby in standbys() {
        if let Some(lag_ops) = standby.lag_ops {
            out.sample("viewstamp_standby_lag_ops", &[("member", &standby.member.to_string())], lag_ops);
        }
    }
    out.family("viewstamp_standby_healthy", "gauge", "1 when the primary hears from the standby in time.");
    for standby in standbys() {
        out.sample("viewstamp_standby_healthy", &[("member", &standby.member.to_string())], standby.healthy);
    }
    out.family(
        "viewstamp_standby_promotable",
        "gauge",
        "1 when the standby is healthy and caught up enough to promote.",
    );
    for standby in standbys() {
        out.sample("viewstamp_standby_promotable", &[("member", &standby.member.to_string())], standby.promotable);
    }

    render_followers(&mut out, snapshot);

    out.gauge(
        "viewstamp_reconfiguration_pending",
        "1 while a reconfiguration is in the log but not committed.",
        replica.reconfiguration_pending_op.is_some(),
    );
    out.gauge(
        "viewstamp_promotions",
        "Promotions in the replicated history (the core keeps the newest few).",
        replica.promotions.len(),
    );
    out.family(
        "viewstamp_upgrade_events",
        "gauge",
        "Upgrade events in the replicated history, by kind (the core keeps the newest 64).",
    );
    let mut events_by_kind = std::collections::BTreeMap::<&str, u64>::new();
    for event in &replica.upgrade_events {
        *events_by_kind.entry(event_kind(&event.event)).or_default() += 1;
    }
    for (kind, count) in events_by_kind {
        out.sample("viewstamp_upgrade_events", &[("kind", kind)], count);
    }

    render_storage(&mut out, snapshot);

    out.family("viewstamp_client_requests_total", "counter", "Client requests answered, by outcome.");
    for (outcome, count) in &snapshot.requests {
        out.sample("viewstamp_client_requests_total", &[("outcome", outcome)], *count);
    }
    for (counter, count) in &replica.counters {
        let name = format!("viewstamp_{}_total", metric_name(counter));
        if out.family(&name, "counter", &format!("The replica's {counter} counter.")) {
            out.sample(&name, &[], *count);
        }
    }
    out.text
}

/// One figure of a follower, absent when not known.
type FollowerFigure = fn(&FollowerSeconds) -> Option<Value>;

/// Each follower's lag in ops and in time, and the failure tolerance (the primary's).
fn render_followers(out: &mut Exposition, snapshot: &NodeSnapshot) {
    let labels = |follower: &FollowerSeconds| {
        [("member", follower.member.to_string()), ("role", follower.role.name().to_owned())]
    };
    let families: [(&str, &str, FollowerFigure); 3] = [
        (
            "viewstamp_follower_lag_ops",
            "Committed ops a backup or standby lacks (primary only; absent until heard in this view).",
            |follower| follower.lag_ops.map(Value::from),
        ),
        (
            "viewstamp_follower_lag_seconds",
            "How long ago the oldest committed op a follower lacks was committed; 0 when it lacks none (primary only).",
            |follower| follower.lag_seconds.map(Value::from),
        ),
        (
            "viewstamp_follower_last_contact_seconds",
            "Seconds since the primary last heard the follower in this view (primary only).",
            |follower| follower.last_contact_seconds_ago.map(Value::from),
        ),
    ];
    for (name, help, value) in families {
        out.family(name, "gauge", help);
        for follower in &snapshot.lag {
            if let Some(value) = value(follower) {
                let labels = labels(follower);
                let labels: Vec<(&str, &str)> = labels.iter().map(|(name, value)| (*name, value.as_str())).collect();
                out.sample(name, &labels, value);
            }
        }
    }
    out.family(
        "viewstamp_failure_tolerance",
        "gauge",
        "Active replicas that may still fail before the cluster stops, by whom the primary heard lately (primary only).",
    );
    if let Some(tolerance) = snapshot.replica.failure_tolerance {
        out.sample("viewstamp_failure_tolerance", &[], u64::from(tolerance));
    }
    out.gauge(
        "viewstamp_failure_tolerance_configured",
        "Active replicas that may fail, with every one up: what the configuration is built for.",
        u64::from(snapshot.replica.failure_tolerance_configured),
    );
}

fn render_storage(out: &mut Exposition, snapshot: &NodeSnapshot) {
    let storage = &snapshot.storage;
    out.family("viewstamp_storage_fsyncs_total", "counter", "fsync and fdatasync calls.");
    out.sample("viewstamp_storage_fsyncs_total", &[], storage.fsyncs);
    out.family("viewstamp_storage_bytes_written_total", "counter", "Bytes written to the data directory.");
    out.sample("viewstamp_storage_bytes_written_total", &[], storage.bytes_written);
    out.gauge(
        "viewstamp_storage_failed",
        "1 once a write failed: the node then refuses writes.",
        storage.failed.is_some(),
    );

    let name = "viewstamp_storage_fsync_duration_seconds";
    out.family(name, "histogram", "How long fsync calls took.");
    let bucket = format!("{name}_bucket");
    // Sorted and made cumulative even if the figures arrive otherwise, so the output
    // always parses; +Inf closes the series.
    let mut buckets: Vec<(f64, u64)> =
        storage.fsync_buckets.iter().copied().filter(|(le, _)| !le.is_nan() && *le != f64::INFINITY).collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let infinite = storage.fsync_buckets.iter().filter(|(le, _)| *le == f64::INFINITY).map(|(_, count)| *count).max();
    let mut running = 0;
    for (le, count) in buckets {
        running = running.max(count);
        out.sample(&bucket, &[("le", &float_text(le))], running);
    }
    let total = running.max(infinite.unwrap_or(storage.fsyncs));
    out.sample(&bucket, &[("le", "+Inf")], total);
    out.sample(&format!("{name}_sum"), &[], storage.fsync_seconds_sum);
    out.sample(&format!("{name}_count"), &[], total);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use viewstamp_core::replica::membership::PromotionEvent;
    use viewstamp_core::replica::Role;
    use viewstamp_core::standby::StandbyView;
    use viewstamp_core::status_snapshot::{AdvertisedRelease, FeatureState, StandbyState, UpgradeEventText};

    use super::*;
    use crate::node::snapshot::{sample, StorageFigures};

    #[derive(Debug)]
    struct Sample {
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
    }

    fn is_metric_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    /// A strict reading of one sample line; `Err` says what is wrong.
    fn parse_sample(line: &str) -> Result<Sample, String> {
        let name_end = line.find(['{', ' ']).ok_or("no value")?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(format!("bad name {name:?}"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            rest = inner;
            loop {
                let (label, after) = rest.split_once("=\"").ok_or("a label without =\"")?;
                if !is_metric_name(label) {
                    return Err(format!("bad label name {label:?}"));
                }
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next().ok_or("an unterminated label value")? {
                        (_, '\\') => match chars.next().ok_or("a dangling escape")?.1 {
                            'n' => value.push('\n'),
                            escaped @ ('\\' | '"') => value.push(escaped),
                            other => return Err(format!("bad escape \\{other}")),
                        },
                        (index, '"') => break index,
                        (_, c) => value.push(c),
                    }
                };
                labels.push((label.to_string(), value));
                rest = &after[end + 1..];
                if let Some(more) = rest.strip_prefix(',') {
                    rest = more;
                } else if let Some(done) = rest.strip_prefix('}') {
                    rest = done;
                    break;
                } else {
                    return Err("labels not closed".into());
                }
            }
        }
        let value_text = rest.strip_prefix(' ').ok_or("no space before the value")?;
        let value = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            text => text.parse().map_err(|_| format!("bad value {text:?}"))?,
        };
        Ok(Sample { name: name.to_string(), labels, value })
    }

    /// Check the whole text's grammar; the samples, in order.
    fn parse_exposition(text: &str) -> Vec<Sample> {
        assert!(text.ends_with('\n'));
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut helped = BTreeSet::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                let (name, _) = help.split_once(' ').expect("HELP has text");
                assert!(helped.insert(name.to_string()), "HELP twice for {name}");
            } else if let Some(kind) = line.strip_prefix("# TYPE ") {
                let (name, kind) = kind.split_once(' ').expect("TYPE has a kind");
                assert!(helped.contains(name), "TYPE before HELP for {name}");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(types.insert(name.to_string(), kind.to_string()).is_none(), "TYPE twice for {name}");
            } else {
                let sample = parse_sample(line).unwrap_or_else(|error| panic!("{line:?}: {error}"));
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| {
                        sample
                            .name
                            .strip_suffix(suffix)
                            .filter(|base| types.get(*base).map(String::as_str) == Some("histogram"))
                    })
                    .unwrap_or(&sample.name);
                let kind = types.get(family).unwrap_or_else(|| panic!("{line:?} has no TYPE before it"));
                if kind == "counter" {
                    assert!(family.ends_with("_total"), "counter {family} ends in _total");
                }
                samples.push(sample);
            }
        }
        samples
    }

    fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|sample| {
                sample.name == name
                    && labels.iter().all(|(label, value)| sample.labels.iter().any(|(l, v)| l == label && v == value))
            })
            .map(|sample| sample.value)
    }

    fn standby(member: u8, healthy: bool, lag_ops: Option<u64>, promotable: bool) -> StandbyState {
        StandbyState { view: StandbyView { member, healthy, lag_ops, promotable }, lag_history: vec![] }
    }

    fn full_snapshot() -> NodeSnapshot {
        let mut snapshot = sample();
        let replica = &mut snapshot.replica;
        (replica.view, replica.op, replica.commit) = (4, 120, 118);
        replica.binary_release = "1.3.0".into();
        replica.cluster_release = "1.2.0".into();
        replica.advertised = vec![
            AdvertisedRelease { member: 0, release: Some("1.3.0".into()) },
            AdvertisedRelease { member: 1, release: None },
        ];
        replica.features = vec![
            FeatureState { name: "standby_reads", since: "1.3.0".into(), on: false },
            FeatureState { name: "log_scrubbing", since: "1.1.0".into(), on: true },
        ];
        replica.upgrade_target = Some("1.3.0".into());
        replica.upgrade_events = [(3, "proposed 1.2.0"), (9, "committed 1.0.0 -> 1.2.0"), (11, "proposed 1.3.0")]
            .map(|(op, event)| UpgradeEventText { op, event: event.into() })
            .to_vec();
        replica.promotions = vec![PromotionEvent { op: 50, promoted: 3, replaced: Some(2) }];
        replica.standbys = vec![standby(4, true, Some(5), true), standby(5, false, None, false)];
        replica.counters = BTreeMap::from([("view_changes".into(), 3), ("odd name\"x".into(), 1)]);
        snapshot.requests = BTreeMap::from([("ok".into(), 40), ("refused".into(), 2)]);
        snapshot.replica.failure_tolerance = Some(0);
        snapshot.lag = vec![
            FollowerSeconds {
                member: 1,
                role: Role::Active,
                lag_ops: Some(0),
                lag_seconds: Some(0.0),
                last_contact_seconds_ago: Some(0.05),
            },
            FollowerSeconds {
                member: 4,
                role: Role::Standby,
                lag_ops: Some(5),
                lag_seconds: Some(2.5),
                last_contact_seconds_ago: Some(3.0),
            },
            FollowerSeconds {
                member: 5,
                role: Role::Standby,
                lag_ops: None,
                lag_seconds: None,
                last_contact_seconds_ago: None,
            },
        ];
        snapshot.storage = StorageFigures {
            fsyncs: 10,
            bytes_written: 4096,
            fsync_buckets: vec![(0.00005, 1), (0.0001, 4), (0.001, 9), (f64::INFINITY, 10)],
            fsync_seconds_sum: 0.0123,
            failed: None,
        };
        snapshot
    }

    #[test]
    fn every_line_parses_and_figures_come_through() {
        let text = render(&full_snapshot());
        let samples = parse_exposition(&text);
        let value = |name: &str, labels: &[(&str, &str)]| value_of(&samples, name, labels);
        assert_eq!(value("viewstamp_view", &[]), Some(4.0));
        assert_eq!(value("viewstamp_op", &[]), Some(120.0));
        assert_eq!(value("viewstamp_commit", &[]), Some(118.0));
        assert_eq!(value("viewstamp_is_primary", &[]), Some(1.0));
        assert_eq!(value("viewstamp_cluster_release_info", &[("release", "1.2.0")]), Some(1.0));
        assert_eq!(value("viewstamp_upgrade_target_info", &[("release", "1.3.0")]), Some(1.0));
        assert_eq!(value("viewstamp_advertised_release_info", &[("member", "0"), ("release", "1.3.0")]), Some(1.0));
        assert_eq!(value("viewstamp_advertised_release_info", &[("member", "1"), ("release", "none")]), Some(0.0));
        assert_eq!(value("viewstamp_feature_enabled", &[("feature", "standby_reads")]), Some(0.0));
        assert_eq!(value("viewstamp_feature_enabled", &[("feature", "log_scrubbing")]), Some(1.0));
        assert_eq!(value("viewstamp_standby_lag_ops", &[("member", "4")]), Some(5.0));
        assert_eq!(value("viewstamp_follower_lag_seconds", &[("member", "4"), ("role", "standby")]), Some(2.5));
        assert_eq!(value("viewstamp_follower_lag_ops", &[("member", "1"), ("role", "active")]), Some(0.0));
        assert_eq!(value("viewstamp_follower_last_contact_seconds", &[("member", "4")]), Some(3.0));
        assert_eq!(value("viewstamp_follower_lag_seconds", &[("member", "5")]), None, "not heard: no lag invented");
        assert_eq!(value("viewstamp_failure_tolerance", &[]), Some(0.0));
        assert_eq!(value("viewstamp_failure_tolerance_configured", &[]), Some(1.0));
        assert_eq!(value("viewstamp_standby_lag_ops", &[("member", "5")]), None, "unknown lag is left out");
        assert_eq!(value("viewstamp_standby_healthy", &[("member", "5")]), Some(0.0));
        assert_eq!(value("viewstamp_standby_promotable", &[("member", "4")]), Some(1.0));
        assert_eq!(value("viewstamp_promotions", &[]), Some(1.0));
        assert_eq!(value("viewstamp_upgrade_events", &[("kind", "proposed")]), Some(2.0));
        assert_eq!(value("viewstamp_upgrade_events", &[("kind", "committed")]), Some(1.0));
        assert_eq!(value("viewstamp_client_requests_total", &[("outcome", "refused")]), Some(2.0));
        assert_eq!(value("viewstamp_view_changes_total", &[]), Some(3.0));
        assert_eq!(value("viewstamp_odd_name_x_total", &[]), Some(1.0));
        assert_eq!(value("viewstamp_storage_fsync_duration_seconds_sum", &[]), Some(0.0123));
        assert_eq!(value("viewstamp_node_info", &[("role", "active"), ("cluster_id", "7")]), Some(1.0));
    }

    fn check_histogram(samples: &[Sample], name: &str) -> Vec<(f64, f64)> {
        let buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|sample| sample.name == format!("{name}_bucket"))
            .map(|sample| {
                let le = &sample.labels.iter().find(|(label, _)| label == "le").expect("an le label").1;
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().expect("le is a number") };
                (le, sample.value)
            })
            .collect();
        assert!(buckets.windows(2).all(|pair| pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1), "{buckets:?}");
        let last = buckets.last().expect("buckets");
        assert_eq!(last.0, f64::INFINITY, "ends in +Inf");
        assert_eq!(value_of(samples, &format!("{name}_count"), &[]), Some(last.1));
        buckets
    }

    #[test]
    fn the_fsync_histogram_is_cumulative_and_ends_in_inf() {
        let name = "viewstamp_storage_fsync_duration_seconds";
        let samples = parse_exposition(&render(&full_snapshot()));
        let buckets = check_histogram(&samples, name);
        assert_eq!(buckets, vec![(0.00005, 1.0), (0.0001, 4.0), (0.001, 9.0), (f64::INFINITY, 10.0)]);

        // Figures without +Inf, out of order, or empty still render a valid histogram.
        let mut snapshot = full_snapshot();
        snapshot.storage.fsync_buckets = vec![(0.01, 6), (0.001, 7), (f64::NAN, 3)];
        let buckets = check_histogram(&parse_exposition(&render(&snapshot)), name);
        assert_eq!(buckets, vec![(0.001, 7.0), (0.01, 7.0), (f64::INFINITY, 10.0)]);
        snapshot.storage.fsync_buckets.clear();
        let buckets = check_histogram(&parse_exposition(&render(&snapshot)), name);
        assert_eq!(buckets, vec![(f64::INFINITY, 10.0)]);
    }

    #[test]
    fn a_snapshot_with_nothing_to_list_renders_too() {
        let mut snapshot = sample();
        let replica = &mut snapshot.replica;
        replica.is_primary = false;
        replica.advertised.clear();
        replica.features.clear();
        replica.standbys.clear();
        replica.counters.clear();
        let samples = parse_exposition(&render(&snapshot));
        assert_eq!(value_of(&samples, "viewstamp_is_primary", &[]), Some(0.0));
    }

    #[test]
    fn labels_are_escaped() {
        let mut snapshot = sample();
        snapshot.requests.insert("we\"ird\\\nname".into(), 1);
        let samples = parse_exposition(&render(&snapshot));
        assert_eq!(value_of(&samples, "viewstamp_client_requests_total", &[("outcome", "we\"ird\\\nname")]), Some(1.0));
    }

    #[test]
    fn the_sample_parser_rejects_bad_lines() {
        for bad in ["1x 1", "a{b=\"c} 1", "a{b=\"c\"} x", "a 1 2", "a{b=c} 1", "a{b=\"\\q\"} 1"] {
            assert!(parse_sample(bad).is_err(), "{bad}");
        }
    }
}
