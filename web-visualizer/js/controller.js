// The model behind the page: one wasm `Simulation`, driven only through scenario
// commands (so an export replays what the page did), plus what the page derives from
// its output over time (notable events, lag samples, when each message was first
// seen). Views subscribe and redraw on change.

import { primaryOf, standbysOf } from "./snapshot.js";

/** Events worth keeping out of the firehose of deliveries and timers. */
const NOTABLE = new Set(["reply", "crash", "restart", "operator", "violation", "failure", "upgrade", "net", "partition", "heal", "block", "unblock", "isolate", "corrupt", "promote"]);
const NOTABLE_KINDS = [...NOTABLE];
/** The most notable events kept. */
const NOTABLE_MAX = 5000;
/** Events fetched in one go while scanning for notable ones. */
const SCAN_CHUNK_EVENTS = 20000;

export class Controller {
  /** `archive`: the archived releases' real code (js/archive.js), or null to have the current code act old. */
  constructor(Simulation, archive = null) {
    this.Simulation = Simulation;
    this.archive = archive;
    this.useArchive = archive !== null;
    this.sim = null;
    this.listeners = new Set();
    this.snap = null;
    this.reset();
  }

  reset() {
    this.notable = [];
    this.scanned = 0;
    this.releaseMarks = []; // { t, text } observed changes of release and target
    this.sentAt = new Map(); // message key -> tick first seen
    this.lastRelease = undefined;
    this.lastTarget = undefined;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A fresh cluster from header options. */
  newCluster(options) {
    const clean = {};
    for (const [key, value] of Object.entries(options)) {
      if (value !== "" && value !== undefined && value !== null) clean[key] = value;
    }
    this.install(this.Simulation.fromOptions(clean, this.archiveInUse()));
  }

  /** What the next simulation runs archived releases with (undefined: the current code acts old). */
  archiveInUse() {
    return this.useArchive && this.archive ? this.archive : undefined;
  }

  /** Import a whole script; throws `line N: ...` for one that does not run. */
  loadScript(text) {
    this.install(this.Simulation.fromScript(text, this.archiveInUse()));
  }

  install(sim) {
    if (this.sim) this.sim.free();
    this.sim = sim;
    this.reset();
    this.changed({ jump: true });
  }

  /** Run one scenario command; returns the outcome (throws for a line that does not parse). */
  apply(text) {
    const outcome = this.sim.apply(text);
    this.changed();
    return outcome;
  }

  get replaying() {
    return this.sim.eventCount() < this.sim.timelineLength();
  }

  /** The next `events` events: replayed from the recorded run while behind its end, else simulated. */
  step(events = 1) {
    if (this.replaying) {
      this.sim.seek(Math.min(this.sim.eventCount() + events, this.sim.timelineLength()));
    } else {
      this.sim.step(events);
    }
    this.changed();
  }

  /** Advance simulated time (the play loop); replays while behind the recorded run's end. */
  advance(ticks) {
    if (!this.replaying) {
      this.sim.tick(ticks);
      this.changed();
      return;
    }
    const until = this.sim.snapshot().now + ticks;
    const count = this.sim.eventCount();
    const ahead = this.sim.timelineLength();
    let keep = count;
    while (keep < ahead) {
      const window = this.sim.events(keep, Math.min(keep + 500, ahead));
      const stop = window.findIndex((event) => event.time > until);
      if (stop >= 0) {
        keep += stop;
        break;
      }
      keep += window.length;
    }
    if (keep > count) this.sim.seek(keep);
    this.changed();
  }

  /** Show the state right after event `keep - 1` of the whole run. */
  seek(keep) {
    const kept = this.sim.seek(keep);
    this.changed({ jump: true });
    return kept;
  }

  snapshot() {
    if (!this.snap) this.snap = this.sim.snapshot();
    return this.snap;
  }

  changed({ jump = false } = {}) {
    this.snap = null;
    const snap = this.snapshot();
    const count = this.sim.eventCount();
    if (count < this.scanned) {
      // Went back: forget what lies after.
      this.notable = this.notable.filter((event) => event.index < count);
      this.releaseMarks = this.releaseMarks.filter((mark) => mark.t <= snap.now);
      this.scanned = count;
      this.lastRelease = undefined;
      this.lastTarget = undefined;
    }
    this.scan(count);
    this.observe(snap, jump);
    for (const listener of this.listeners) listener(snap, { jump });
  }

  scan(count) {
    while (this.scanned < count) {
      const to = Math.min(count, this.scanned + SCAN_CHUNK_EVENTS);
      this.notable.push(...this.sim.eventsOfKinds(this.scanned, to, NOTABLE_KINDS, NOTABLE_MAX));
      this.scanned = to;
    }
    if (this.notable.length > NOTABLE_MAX) this.notable.splice(0, this.notable.length - NOTABLE_MAX);
  }

  observe(snap, jump) {
    const primary = primaryOf(snap);
    const release = primary?.cluster_release ?? null;
    const target = primary?.upgrade_target ?? null;
    if (this.lastRelease !== undefined && release !== null && release !== this.lastRelease && this.lastRelease !== null) {
      this.releaseMarks.push({ t: snap.now, text: `cluster release ${this.lastRelease} → ${release}` });
    }
    if (this.lastTarget !== undefined && target !== this.lastTarget && release !== null) {
      this.releaseMarks.push({ t: snap.now, text: target ? `upgrade to ${target} pending` : "no upgrade pending" });
    }
    if (release !== null) this.lastRelease = release;
    if (release !== null) this.lastTarget = target;

    // When each message was first seen, for its position along its edge.
    const seen = new Map();
    const counts = new Map();
    for (const message of snap.messages) {
      const base = `${message.kind}|${message.from}|${message.to}|${message.deliverAt}`;
      const n = (counts.get(base) ?? 0) + 1;
      counts.set(base, n);
      const key = `${base}#${n}`;
      message.key = key;
      const known = jump ? undefined : this.sentAt.get(key);
      // After a jump the send time is unknown: draw it partway along.
      message.sentAt = known ?? (jump ? Math.max(0, Math.min(snap.now, message.deliverAt - 3)) : snap.now);
      seen.set(key, message.sentAt);
    }
    this.sentAt = seen;
  }

  /** Each standby's lag over time: Map standby -> [{ t, lag }], from the session's samples. */
  lagSeries() {
    const series = new Map();
    const snap = this.snapshot();
    const standbys = standbysOf(snap);
    for (const standby of standbys) series.set(standby.member, []);
    for (const sample of this.sim.lagHistory()) {
      if (!series.has(sample.member)) series.set(sample.member, []);
      series.get(sample.member).push({ t: sample.time, lag: sample.lagOps });
    }
    // The latest reading, if the session sampled before it.
    for (const standby of standbys) {
      const samples = series.get(standby.member);
      const last = samples[samples.length - 1];
      if (standby.lag_ops !== null && (!last || last.t < snap.now)) {
        samples.push({ t: snap.now, lag: standby.lag_ops });
      }
    }
    return series;
  }

  /** What a message in flight carries: its delivery line, foreseen on a copy; null if it will be lost. */
  foresee(message) {
    const now = this.snapshot().now;
    const ahead = this.sim.peek(Math.max(1, message.deliverAt - now + 1));
    const prefix = `t=${message.deliverAt} deliver ${message.kind} ${message.from}->${message.to}`;
    return ahead.find((event) => event.text.startsWith(prefix)) ?? null;
  }

  /** Client requests in the exported script, with their replies from the output. */
  requests(script = this.sim.exportScript()) {
    const perClient = new Map();
    const list = [];
    for (const line of script.split("\n")) {
      const words = line.trim().split(/\s+/);
      if (words[0] !== "put" && words[0] !== "get") continue;
      const client = Number((words.find((w) => w.startsWith("client=")) ?? "client=1").slice(7));
      const number = (perClient.get(client) ?? 0) + 1;
      perClient.set(client, number);
      list.push({ client, number, text: line.trim(), reply: "pending" });
    }
    const replies = new Map();
    for (const event of this.notable) {
      const match = /reply c(\d+) request=(\d+) (.*)$/.exec(event.text);
      if (match) replies.set(`${match[1]}/${match[2]}`, match[3]);
    }
    for (const request of list) {
      request.reply = replies.get(`${request.client}/${request.number}`) ?? "pending";
    }
    return list;
  }
}
