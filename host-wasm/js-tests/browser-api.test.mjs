// The browser API as JS sees it, run in Node against the wasm-bindgen package
// (`scripts/build-wasm.sh --test` builds it and runs this with `node --test`).
//   VIEWSTAMP_WASM_PKG  directory of the `--target nodejs` package (required)
//   VIEWSTAMP_BIN       a `viewstamp` binary: exports are also replayed natively
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { resolve } from "node:path";

import { digestOfNativeReplay } from "./native-replay.mjs";

const pkgDir = process.env.VIEWSTAMP_WASM_PKG;
if (!pkgDir) {
  throw new Error("set VIEWSTAMP_WASM_PKG to the wasm-bindgen --target nodejs output (scripts/build-wasm.sh --test does)");
}
const { Simulation } = createRequire(import.meta.url)(resolve(pkgDir, "viewstamp_wasm.js"));

/** A session with load, a crash and a view change, a partition, and an operator refusal. */
function busy() {
  const sim = Simulation.fromOptions({ replicas: 3, standbys: 1, seed: 11 });
  for (const line of ["put a 1", "put b 2 client=2", "tick 50", "crash 0"]) {
    assert.equal(sim.apply(line).ran, true, line);
  }
  assert.equal(sim.runUntil("primary = 1", 3000).held, true);
  for (const line of ["partition 0,1 | 2,3", "tick 300", "heal", "restart 0", "upgrade cancel"]) {
    sim.apply(line);
  }
  sim.runUntil("reply[1] = ok", 3000);
  sim.step(20);
  return sim;
}

test("snapshot shows members, logs, standbys, network and clients", () => {
  const sim = Simulation.fromHeader("cluster replicas=3 standbys=1 seed=7");
  sim.apply("put a 1");
  assert.equal(sim.runUntil("reply[1] = ok", 1000).held, true);
  sim.apply("until lag[3] = 0 within 2000");
  sim.apply("crash 2");
  sim.apply("block 0->1");
  const snap = sim.snapshot();
  assert.equal(snap.members.length, 4);
  assert.equal(snap.primary, 0);
  const primary = snap.members[0].replica;
  assert.equal(primary.is_primary, true);
  assert.equal(primary.commit, 1);
  // The core's status snapshot: a node's /status fields, maps as plain objects.
  assert.equal(primary.role, "active");
  assert.equal(typeof primary.counters.view_changes, "number");
  assert.deepEqual(snap.members[0].log.entries.map((e) => [e.op, e.kind, e.committed]), [[1, "requests", true]]);
  assert.equal(snap.members[2].status, "crashed");
  assert.equal(snap.members[2].up, false);
  assert.equal(snap.members[2].replica ?? null, null, "a member that is down shows no snapshot");
  assert.equal(snap.members[3].role, "standby");
  assert.deepEqual(primary.standbys.map(({ member, healthy, lag_ops, promotable }) => ({ member, healthy, lag_ops, promotable })),
    [{ member: 3, healthy: true, lag_ops: 0, promotable: true }]);
  assert.ok(primary.standbys[0].lag_history.every(([tick, lag]) => typeof tick === "number" && typeof lag === "number"));
  assert.deepEqual(snap.network.blocked, [{ from: 0, to: 1 }]);
  assert.deepEqual(snap.clients, [{ client: 1, reply: "ok" }]);
  assert.equal(snap.digest, sim.digest());
  assert.ok(primary.features.some((f) => f.name === "standby_reads" && f.on));
  assert.ok(snap.timers.length >= 3);
  assert.equal(typeof snap.now, "number");
});

test("commands report outcomes; bad input throws or is refused", () => {
  const sim = Simulation.fromOptions({ replicas: 3 });
  const crash = sim.apply("crash 9");
  assert.equal(crash.ran, false);
  assert.match(crash.error, /member 9 does not exist/);
  assert.throws(() => sim.apply("fly away"), /fly/);
  assert.throws(() => Simulation.fromOptions({ replicas: 9 }), /1 to 7 replicas/);
  assert.throws(() => Simulation.fromOptions({ replicas: 3, bogus: 1 }), /bogus/);
  assert.equal(sim.apply("upgrade cancel").code, "no-upgrade");
  const expect = sim.apply("expect primary = 2");
  assert.equal(expect.held, false);
  assert.deepEqual(expect.failures, ["line 3: expect primary = 2 failed: primary is 0"]);
  assert.deepEqual(sim.evaluate("primary = 0"), { holds: true, value: "0" });
});

test("events arrive once each, in order", () => {
  const sim = Simulation.fromOptions({ replicas: 3, seed: 2 });
  sim.apply("put a 1");
  sim.tick(30);
  const first = sim.takeEvents();
  assert.ok(first.length > 5);
  first.forEach((event, index) => assert.equal(event.index, index));
  assert.ok(first.some((event) => event.kind === "deliver"));
  assert.deepEqual(sim.takeEvents(), []);
  sim.apply("crash 1");
  assert.equal(sim.takeEvents()[0].kind, "crash");
  assert.equal(sim.eventCount(), first.length + 1);
});

test("export replays to the same digest", () => {
  const sim = busy();
  const script = sim.exportScript();
  assert.match(script, /^cluster replicas=3 standbys=1 seed=11\n/);
  assert.equal(Simulation.fromScript(script).digest(), sim.digest());
  const native = digestOfNativeReplay(script);
  if (native !== null) assert.equal(native, sim.digest(), "viewstamp replay of the export");
});

test("time travel goes back to any event, and the export replays there", () => {
  const reference = busy();
  const texts = reference.events(0, reference.eventCount()).map((event) => event.text);
  const sim = busy();
  for (const keep of [texts.length - 3, Math.floor(texts.length / 2), 40, 1, 0]) {
    const kept = sim.travel(keep);
    assert.ok(kept >= keep);
    assert.deepEqual(sim.events(0, kept).map((event) => event.text), texts.slice(0, kept));
    const script = sim.exportScript();
    assert.equal(Simulation.fromScript(script).digest(), sim.digest(), `travel to ${keep}`);
    const native = digestOfNativeReplay(script);
    if (native !== null) assert.equal(native, sim.digest(), `native replay after travel to ${keep}`);
  }
  assert.equal(sim.snapshot().eventsProcessed, 0);
  assert.throws(() => sim.travel(5), /no event 5/);
});

test("seek scrubs back and forth over the whole run; peek changes nothing", () => {
  const sim = busy();
  const total = sim.eventCount();
  const texts = sim.events(0, total).map((event) => event.text);
  const endDigest = sim.digest();
  for (const keep of [Math.floor(total / 2), 10, total - 5, 0, total]) {
    const kept = sim.seek(keep);
    assert.ok(kept >= keep);
    assert.equal(sim.timelineLength(), total);
    assert.deepEqual(sim.events(0, kept).map((event) => event.text), texts.slice(0, kept));
    assert.equal(Simulation.fromScript(sim.exportScript()).digest(), sim.digest(), `seek to ${keep}`);
  }
  assert.equal(sim.digest(), endDigest);
  sim.seek(20);
  const before = sim.snapshot();
  const ahead = sim.peek(50);
  assert.ok(ahead.length > 0 && ahead.every((event) => event.time >= before.now));
  assert.deepEqual(sim.snapshot(), before);
  assert.equal(sim.apply("crash 1").ran, true);
  assert.equal(sim.timelineLength(), sim.eventCount(), "a new command drops the rest of the run");
  assert.throws(() => sim.seek(total), /no event/);
});

test("lag history, events of some kinds, and feature releases", () => {
  const sim = Simulation.fromOptions({ replicas: 3, standbys: 1, seed: 7, binary: "1.3.0", release: "1.0.0" });
  sim.apply("put a 1");
  sim.apply("upgrade propose to=1.3.0");
  assert.equal(sim.runUntil("cluster-release = 1.3.0", 3000).held, true);
  assert.equal(sim.runUntil("lag[3] = 0", 3000).held, true);
  sim.tick(300);
  const samples = sim.lagHistory();
  assert.ok(samples.length > 5, `${samples.length} samples`);
  assert.ok(samples.every((s) => s.member === 3 && typeof s.lagOps === "number" && typeof s.healthy === "boolean"));
  assert.equal(samples.at(-1).lagOps, 0);
  const replies = sim.eventsOfKinds(0, sim.eventCount(), ["reply"], 10);
  assert.deepEqual(replies.map((e) => e.kind), ["reply"]);
  assert.match(replies[0].text, /reply c1 request=1 ok/);
  const snap = sim.snapshot();
  const primary = snap.members[snap.primary].replica;
  assert.deepEqual(primary.features.find((f) => f.name === "cluster_reconfig"), { name: "cluster_reconfig", since: "1.2.0", on: true });
  assert.deepEqual(snap.knownReleases, ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]);
  const events = primary.upgrade_events.map((e) => `op ${e.op}: ${e.event}`);
  assert.ok(events.some((text) => /committed 1\.0\.0 -> 1\.3\.0/.test(text)), events.join("; "));
});
