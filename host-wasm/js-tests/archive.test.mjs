// The archived releases in JS: web-visualizer/js/archive.js runs the real 1.3.0 module
// (releases/1.3.0/) next to the current core, in Node as in the page. Run by
// `scripts/build-wasm.sh --test` (VIEWSTAMP_WASM_PKG; VIEWSTAMP_BIN also replays
// exports natively, where the same archive runs in wasmtime).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { digestOfNativeReplay } from "./native-replay.mjs";
import { archiveFromBytes } from "../../web-visualizer/js/archive.js";

const pkgDir = process.env.VIEWSTAMP_WASM_PKG;
if (!pkgDir) {
  throw new Error("set VIEWSTAMP_WASM_PKG to the wasm-bindgen --target nodejs output (scripts/build-wasm.sh --test does)");
}
const { Simulation } = createRequire(import.meta.url)(resolve(pkgDir, "viewstamp_wasm.js"));

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const scenarios = join(root, "tests/scenarios");

function releaseEntry(version) {
  const dir = join(root, "releases", version);
  const file = `viewstamp-core-${version}.wasm`;
  const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8");
  const sha256 = sums.split("\n").map((line) => line.split(/\s+/)).find(([, name]) => name === file)[0];
  return { release: version, bytes: readFileSync(join(dir, file)), sha256 };
}

const archive = await archiveFromBytes([releaseEntry("1.3.0")]);

function goldenDigest(name) {
  const text = readFileSync(join(scenarios, name), "utf8");
  return /digest=([0-9a-f]{16})/.exec(text.split("\n").reverse().find((line) => line.startsWith("digest=")))[1];
}

test("the archive holds the checked 1.3.0 module", () => {
  assert.deepEqual(archive.releases(), ["1.3.0"]);
  assert.match(archive.sha256.get("1.3.0"), /^[0-9a-f]{64}$/);
});

test("a golden scenario with a 1.3.0 member gives its golden digest: real code with the archive, emulated without", () => {
  for (const name of ["mixed-1.3.0-backup-meets-1.4.0-commands", "upgrade-binaries-roll-back-before-the-commit", "standby-1.3.0-in-a-1.4.0-cluster"]) {
    const script = readFileSync(join(scenarios, `${name}.scenario`), "utf8");
    const real = Simulation.fromScript(script, archive);
    assert.equal(real.carriesArchive(), true);
    assert.equal(real.digest(), goldenDigest(`${name}.golden`), `${name} on the real 1.3.0 code`);
    real.free();
    const emulated = Simulation.fromScript(script);
    assert.equal(emulated.carriesArchive(), false);
    assert.equal(emulated.digest(), goldenDigest(`${name}.emulated.golden`), `${name} with the current code acting old`);
    emulated.free();
  }
  assert.equal(archive.memberCount, 0, "freeing a simulation forgets its archived members");
});

test("a snapshot names the members that run archived code and shows what they report", () => {
  const sim = Simulation.fromOptions({ replicas: 3, standbys: 1, seed: 5, binary: "1.3.0" }, archive);
  sim.apply("put a 1");
  assert.equal(sim.runUntil("reply[1] = ok", 2000).held, true);
  assert.equal(sim.runUntil("lag[3] = 0", 2000).held, true);
  assert.equal(sim.apply("restart 1 binary=1.4.0").ran, true);
  assert.equal(sim.runUntil("status[1] = normal", 2000).held, true);
  const snap = sim.snapshot();
  assert.deepEqual(snap.members.map((m) => m.archived ?? null), ["1.3.0", null, "1.3.0", "1.3.0"]);
  const primary = snap.members[0];
  assert.equal(primary.up, true);
  assert.equal(primary.replica.is_primary, true);
  assert.equal(primary.replica.commit, 1);
  assert.equal(primary.replica.cluster_release, "1.3.0");
  assert.equal(primary.replica.binary_release, "1.3.0");
  assert.equal(primary.log, undefined, "an archived member's log stays inside its module");
  assert.deepEqual(primary.replica.standbys.map((s) => [s.member, s.lag_ops]), [[3, 0]]);
  assert.ok(snap.members[1].log.entries.length > 0, "a native member shows its log");
  assert.ok(snap.timers.some((timer) => timer.member === 0), "an archived member's next timeout is shown");
  assert.ok(sim.lagHistory().some((sample) => sample.member === 3), "lag is sampled beside an archived primary");
  sim.free();
});

test("time travel and seeking copy archived members, and land on the same states", () => {
  // The archive, counting the copies the session's checkpoints take.
  let copies = 0;
  const counting = {
    releases: () => archive.releases(),
    create: (release, config) => archive.create(release, config),
    input: (handle, input) => archive.input(handle, input),
    duplicate: (handle) => {
      copies += 1;
      return archive.duplicate(handle);
    },
    forget: (handle) => archive.forget(handle),
  };
  const sim = Simulation.fromOptions({ replicas: 3, standbys: 1, seed: 9, binary: "1.3.0" }, counting);
  const lines = ["put a 1", "put b 2 client=2", "tick 400", "crash 0", "tick 600", "restart 0 binary=1.4.0"];
  for (let round = 0; round < 6; round += 1) lines.push(`put k${round} ${round}`, "tick 3000");
  for (const line of lines) {
    assert.equal(sim.apply(line).ran, true, line);
  }
  assert.ok(copies > 0, "the session took checkpoints with archived members in them");
  const total = sim.eventCount();
  const endDigest = sim.digest();
  for (const keep of [total >> 2, total >> 1, total - 1]) {
    const copy = Simulation.fromScript(sim.exportScript(), counting);
    copy.travel(keep);
    const again = Simulation.fromScript(copy.exportScript(), counting);
    assert.equal(copy.digest(), again.digest(), `travel to ${keep}`);
    copy.free();
    again.free();
  }
  sim.seek(total >> 1);
  sim.seek(total);
  assert.equal(sim.digest(), endDigest, "seeking back and forth");
  const native = digestOfNativeReplay(sim.exportScript());
  if (native !== null) assert.equal(native, endDigest, "viewstamp replay of the export runs the same archive");
  sim.free();
  assert.equal(archive.memberCount, 0);
});

test("a rolling upgrade from the real 1.3.0 code to 1.4.0 turns the 1.4.0 flags on", () => {
  const sim = Simulation.fromOptions({ replicas: 3, standbys: 1, seed: 3, binary: "1.3.0" }, archive);
  sim.apply("put a 1");
  assert.equal(sim.runUntil("reply[1] = ok", 2000).held, true);
  assert.equal(sim.evaluate("feature[read_index] = off").holds, true);
  for (const member of [3, 2, 1, 0]) {
    assert.equal(sim.apply(`restart ${member} binary=1.4.0`).ran, true);
    assert.equal(sim.runUntil(`status[${member}] = normal`, 3000).held, true, `member ${member} back`);
    assert.equal(sim.runUntil("primary != none", 3000).held, true);
  }
  assert.deepEqual(sim.snapshot().members.map((m) => m.archived ?? null), [null, null, null, null]);
  assert.equal(sim.apply("upgrade propose to=1.4.0").ran, true);
  assert.equal(sim.runUntil("cluster-release = 1.4.0", 3000).held, true);
  assert.equal(sim.evaluate("feature[read_index] = on").holds, true);
  sim.apply("cmd APPEND a b client=2");
  assert.equal(sim.runUntil("reply[2] = 2", 2000).held, true, "APPEND a b on '1' is 2 bytes long");
  assert.equal(sim.snapshot().violations.length, 0);
  sim.free();
});

test("an archive that is not what it claims is refused", async () => {
  const good = releaseEntry("1.3.0");
  await assert.rejects(archiveFromBytes([{ ...good, sha256: "0".repeat(64) }]), /not that release/);
  const bogus = { releases: () => ["9.9"], create() {}, input() {}, duplicate() {}, forget() {} };
  assert.throws(() => Simulation.fromOptions({ replicas: 3 }, bogus), /no release/);
  const unknown = { ...bogus, releases: () => ["9.9.9"] };
  assert.throws(() => Simulation.fromOptions({ replicas: 3 }, unknown), /does not know/);
});
