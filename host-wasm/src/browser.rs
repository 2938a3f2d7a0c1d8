//! The browser API: [`Simulation`], a [`Session`] behind wasm-bindgen. Values cross as
//! plain JS objects (serde-wasm-bindgen) typed in the generated .d.ts (tsify); errors
//! are thrown as `Error` with a message a person can act on.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::de::IgnoredAny;
use tsify::Ts;
use wasm_bindgen::prelude::*;

use crate::browser_archive::JsArchiveHost;
use crate::session::{CommandOutcome, ConditionValue, LagSample, Session, SessionOptions, Snapshot, TraceEvent};

fn thrown(message: String) -> JsError {
    JsError::new(&message)
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// A panic in wasm reaches JS only as `RuntimeError: unreachable`: print its message
/// (a broken invariant, or an archived member that failed) to the console first.
fn report_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(alloc::boxed::Box::new(|info| {
            console_error(&alloc::format!("viewstamp panicked: {info}"))
        }));
    });
}

fn shared(archive: Option<JsArchiveHost>) -> Result<Option<viewstamp_core::sim::archive::SharedArchive>, JsError> {
    report_panics();
    archive.map(crate::browser_archive::shared).transpose().map_err(thrown)
}

/// Values cross as `Ts<T>`: a JS value typed `T` in the .d.ts, converted inside the
/// function so a conversion error is an ordinary thrown error (nothing leaks).
fn to_js<T: tsify::Tsify + serde::Serialize>(value: &T) -> Result<Ts<T>, JsError> {
    Ok(value.into_ts()?)
}

fn all_to_js<T: tsify::Tsify + serde::Serialize>(values: &[T]) -> Result<Vec<Ts<T>>, JsError> {
    values.iter().map(to_js).collect()
}

// A member's `replica` is the core's status snapshot, which knows nothing of TypeScript:
// typed loosely here. Its fields are those of a node's `/status`
// (viewstamp_core::status_snapshot::StatusSnapshot).
#[wasm_bindgen(typescript_custom_section)]
const STATUS_SNAPSHOT_TS: &str = "export type StatusSnapshot = Record<string, unknown>;";

/// A simulated cluster driven from JS.
#[wasm_bindgen]
pub struct Simulation {
    session: Session,
}

#[wasm_bindgen]
impl Simulation {
    /// From a scenario header: `cluster replicas=3 standbys=1 seed=7`. With `archive`,
    /// a member whose binary is an archived release runs that release's real code.
    #[wasm_bindgen(js_name = fromHeader)]
    pub fn from_header(header: &str, archive: Option<JsArchiveHost>) -> Result<Simulation, JsError> {
        Session::from_header(header, shared(archive)?).map(|session| Simulation { session }).map_err(thrown)
    }

    /// From options: `{ replicas: 3, standbys: 1, seed: 7, binary: "1.3.0" }`, and an
    /// optional archive as for `fromHeader`.
    #[wasm_bindgen(js_name = fromOptions)]
    pub fn from_options(options: Ts<SessionOptions>, archive: Option<JsArchiveHost>) -> Result<Simulation, JsError> {
        // serde-wasm-bindgen reads only the fields it knows: name a mistyped one here.
        let keys: BTreeMap<String, IgnoredAny> = serde_wasm_bindgen::from_value(options.js_value().clone())?;
        if let Some(unknown) = keys.keys().find(|key| !SessionOptions::FIELDS.contains(&key.as_str())) {
            return Err(thrown(alloc::format!(
                "unknown option '{unknown}': use {}",
                SessionOptions::FIELDS.join(", ")
            )));
        }
        Session::from_options(&options.to_rust()?, shared(archive)?)
            .map(|session| Simulation { session })
            .map_err(thrown)
    }

    /// Import a whole `.scenario` script and run it, with an optional archive as for
    /// `fromHeader`.
    #[wasm_bindgen(js_name = fromScript)]
    pub fn from_script(script: &str, archive: Option<JsArchiveHost>) -> Result<Simulation, JsError> {
        Session::from_script(script, shared(archive)?).map(|session| Simulation { session }).map_err(thrown)
    }

    /// Whether members of archived releases run their real code in this simulation.
    #[wasm_bindgen(js_name = carriesArchive)]
    pub fn carries_archive(&self) -> bool {
        self.session.carries_archive()
    }

    /// Process the next `events` simulated events (a delivery or a timer each).
    pub fn step(&mut self, events: Option<u32>) -> Result<Ts<CommandOutcome>, JsError> {
        to_js(&self.session.step(u64::from(events.unwrap_or(1))))
    }

    /// Advance simulated time by `ticks` (10 ms each).
    pub fn tick(&mut self, ticks: Option<u32>) -> Result<Ts<CommandOutcome>, JsError> {
        to_js(&self.session.tick(u64::from(ticks.unwrap_or(1))))
    }

    /// Tick until `condition` (`commit[*] >= 3`) holds, for at most `withinTicks`.
    #[wasm_bindgen(js_name = runUntil)]
    pub fn run_until(&mut self, condition: &str, within_ticks: u32) -> Result<Ts<CommandOutcome>, JsError> {
        to_js(&self.session.run_until(condition, u64::from(within_ticks)).map_err(thrown)?)
    }

    /// Run any scenario command: `crash 1`, `partition 0,1 | 2`, `upgrade propose
    /// to=1.3.0`, `put k v client=2`, `expect view = 1`, ...
    pub fn apply(&mut self, command: &str) -> Result<Ts<CommandOutcome>, JsError> {
        to_js(&self.session.apply_text(command).map_err(thrown)?)
    }

    /// A condition's value now, running nothing.
    pub fn evaluate(&mut self, condition: &str) -> Result<Ts<ConditionValue>, JsError> {
        to_js(&self.session.evaluate(condition).map_err(thrown)?)
    }

    /// The whole visible state.
    pub fn snapshot(&self) -> Result<Ts<Snapshot>, JsError> {
        to_js(&self.session.snapshot())
    }

    /// The events printed since the last call.
    #[wasm_bindgen(js_name = takeEvents)]
    pub fn take_events(&mut self) -> Result<Vec<Ts<TraceEvent>>, JsError> {
        all_to_js(&self.session.take_events())
    }

    /// Events `from..to` of the whole session (for a scrubber's view).
    pub fn events(&self, from: u32, to: u32) -> Result<Vec<Ts<TraceEvent>>, JsError> {
        all_to_js(&self.session.events(u64::from(from), u64::from(to)))
    }

    /// The newest `limit` of events `from..to` whose kind is in `kinds`
    /// (`["reply", "crash"]`): a log filter without carrying every event to JS.
    #[wasm_bindgen(js_name = eventsOfKinds)]
    pub fn events_of_kinds(
        &self,
        from: u32,
        to: u32,
        kinds: Vec<String>,
        limit: u32,
    ) -> Result<Vec<Ts<TraceEvent>>, JsError> {
        all_to_js(&self.session.events_of_kinds(u64::from(from), u64::from(to), &kinds, limit as usize))
    }

    /// How many events the session has printed.
    #[wasm_bindgen(js_name = eventCount)]
    pub fn event_count(&self) -> u32 {
        u32::try_from(self.session.event_count()).unwrap_or(u32::MAX)
    }

    /// The session so far as a `.scenario` script that replays to this state.
    #[wasm_bindgen(js_name = exportScript)]
    pub fn export_script(&self) -> String {
        self.session.export()
    }

    /// Back to the state right after event `keep - 1` (`0`: the start); returns how
    /// many events remain.
    pub fn travel(&mut self, keep: u32) -> Result<u32, JsError> {
        let kept = self.session.travel(u64::from(keep)).map_err(thrown)?;
        Ok(u32::try_from(kept).unwrap_or(u32::MAX))
    }

    /// Show the state right after event `keep - 1` of the whole run, earlier or later
    /// than now (a scrubber); the run's end stays reachable until a new command runs,
    /// which drops what is ahead. Returns how many events are shown.
    pub fn seek(&mut self, keep: u32) -> Result<u32, JsError> {
        let kept = self.session.seek(u64::from(keep)).map_err(thrown)?;
        Ok(u32::try_from(kept).unwrap_or(u32::MAX))
    }

    /// How many events the whole run has (more than `eventCount` after a seek back).
    #[wasm_bindgen(js_name = timelineLength)]
    pub fn timeline_length(&self) -> u32 {
        u32::try_from(self.session.timeline_length()).unwrap_or(u32::MAX)
    }

    /// The whole run as a `.scenario` script, wherever the session was sought to.
    #[wasm_bindgen(js_name = timelineScript)]
    pub fn timeline_script(&self) -> String {
        self.session.timeline_export()
    }

    /// What the next `ticks` ticks would print, run on a copy: nothing changes. For
    /// the fields of a message in flight (its `deliver` line) or whether it is lost.
    pub fn peek(&self, ticks: u32) -> Result<Vec<Ts<TraceEvent>>, JsError> {
        all_to_js(&self.session.peek(u64::from(ticks)))
    }

    /// Each standby's lag over simulated time, sampled as commands run (oldest first;
    /// bounded, older samples thin out; cut back by a travel or seek).
    #[wasm_bindgen(js_name = lagHistory)]
    pub fn lag_history(&self) -> Result<Vec<Ts<LagSample>>, JsError> {
        all_to_js(self.session.lag_history())
    }

    /// The digest `viewstamp replay` prints for this state (16 hex digits).
    pub fn digest(&self) -> String {
        alloc::format!("{:016x}", self.session.digest())
    }
}
