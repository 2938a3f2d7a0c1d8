// The page as a person uses it: controls, keyboard, faults shown without colour,
// import and export in the scenario language, share links; with VIEWSTAMP_BIN set,
// the exported script is replayed natively and must give the page's digest.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { primaryOf } from "../js/snapshot.js";
import { openVisualizer, screenshot, settle, snapshotOf } from "./helpers.mjs";

const OUTSIDER = readFileSync(new URL("./scenarios/outsider.scenario", import.meta.url), "utf8");

let session;
before(async () => {
  session = await openVisualizer();
});
after(async () => {
  await session?.close();
});

function nativeDigest(script, flags = []) {
  const bin = process.env.VIEWSTAMP_BIN;
  if (!bin) return null;
  const file = join(mkdtempSync(join(tmpdir(), "viewstamp-viz-")), "export.scenario");
  writeFileSync(file, script);
  let output;
  try {
    output = execFileSync(bin, ["replay", "--quiet", ...flags, file], { encoding: "utf8" });
  } catch (error) {
    output = String(error.stdout); // exit 1 (a failed expectation) still prints the digest
  }
  const match = /digest=([0-9a-f]{16})/.exec(output);
  assert.ok(match, `viewstamp replay printed no digest: ${output}`);
  return match[1];
}

/** The spec's lexical normalization: comments, blank lines and extra blanks go. */
function withoutCommentsAndBlanks(text) {
  return text.split("\n").map((line) => line.replace(/#.*/, "").trim().split(/\s+/).join(" ")).filter(Boolean).join("\n") + "\n";
}

test("the page loads and shows the default cluster", async () => {
  const { page, errors } = session;
  const snap = await snapshotOf(page);
  assert.equal(snap.members.length, 4);
  assert.equal(await page.locator("#nodes .node").count(), 4);
  assert.match(await page.locator('#nodes .node[data-member="0"]').textContent(), /★ 0 · primary/);
  assert.match(await page.locator('#nodes .node[data-member="3"]').textContent(), /standby/);
  assert.equal((await page.textContent("#digest")).trim(), snap.digest);
  assert.match(await page.textContent("#legend"), /prepare_ok/);
  assert.deepEqual(errors, []);
});

test("a 1.3.0 member runs the real archived 1.3.0 code, and the switch reruns the session emulated", async () => {
  const { page, errors } = session;
  assert.equal((await page.textContent("#archive-releases")).trim(), "1.3.0");
  const box = page.locator('#setup input[name="archived"]');
  assert.equal(await box.isChecked(), true, "the archive is on once loaded");
  assert.equal(await box.isDisabled(), false);
  const script = "cluster replicas=3 standbys=1 seed=4 binary=1.3.0\nput a 1\nuntil reply[1] = ok within 2000\n"
    + "restart 1 binary=1.4.0\nuntil status[1] = normal within 2000\nput b 2\nuntil reply[1] = ok within 2000\n";
  assert.equal(await page.evaluate((text) => window.viz.importScript(text), script), true);
  await settle(page);
  let snap = await snapshotOf(page);
  assert.deepEqual(snap.members.map((m) => m.archived ?? null), ["1.3.0", null, "1.3.0", "1.3.0"]);
  assert.equal(snap.failed, false);
  assert.match(await page.locator('#nodes .node[data-member="0"]').textContent(), /bin 1\.3\.0 ◆/);
  assert.doesNotMatch(await page.locator('#nodes .node[data-member="1"]').textContent(), /◆/);
  assert.match(await page.getAttribute('#nodes .node[data-member="0"]', "aria-label"), /real archived code/);
  assert.match(await page.textContent('[data-binary="0"]'), /real code/);
  const real = snap.digest;
  const nativeReal = nativeDigest(script);
  if (nativeReal !== null) assert.equal(nativeReal, real, "viewstamp replay runs the same archived code");
  await box.uncheck();
  await settle(page);
  snap = await snapshotOf(page);
  assert.deepEqual(snap.members.map((m) => m.archived ?? null), [null, null, null, null], "emulated after the switch");
  assert.equal(await page.evaluate(() => window.viz.controller.sim.exportScript()), script, "the same commands, rerun");
  // (For plain writes the emulation is faithful: the digests may well agree.)
  const nativeEmulated = nativeDigest(script, ["--emulated"]);
  if (nativeEmulated !== null) assert.equal(nativeEmulated, snap.digest, "viewstamp replay --emulated");
  await box.check();
  await settle(page);
  assert.equal((await snapshotOf(page)).digest, real);
  await screenshot(page, "archived-1.3.0-members");
  assert.deepEqual(errors, []);
});

test("keyboard: space plays and pauses, the right arrow steps one event", async () => {
  const { page } = session;
  await page.evaluate(() => window.viz.importScript("cluster replicas=3 seed=1\nput a 1\n"));
  await page.locator("body").focus();
  await page.evaluate(() => document.activeElement.blur());
  const before = await page.evaluate(() => window.viz.controller.sim.eventCount());
  await page.keyboard.press("ArrowRight");
  await settle(page);
  assert.equal(await page.evaluate(() => window.viz.controller.sim.eventCount()), before + 1);
  assert.match(await page.textContent("#position"), new RegExp(`event ${before + 1} / ${before + 1}`));
  await page.keyboard.press(" ");
  assert.equal(await page.getAttribute("#play", "aria-pressed"), "true");
  await page.waitForFunction((count) => window.viz.controller.sim.eventCount() > count + 3, before + 1);
  await page.keyboard.press(" ");
  assert.equal(await page.getAttribute("#play", "aria-pressed"), "false");
  // Every control is a real, focusable element with a name.
  const unnamed = await page.evaluate(() => [...document.querySelectorAll("button, select, input, textarea")]
    .filter((el) => !(el.textContent.trim() || el.labels?.length || el.getAttribute("aria-label")))
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);
  // Tab reaches the play button.
  await page.focus("#play");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "step");
});

test("faults from the controls: crash, partition, block, loss; shown by label and dash", async () => {
  const { page } = session;
  await page.evaluate(() => window.viz.importScript("cluster replicas=5 standbys=1 seed=9\nput a 1\ntick 50\n"));
  await settle(page);
  // Select members by clicking their nodes, then crash one.
  await page.click('#nodes .node[data-member="4"]');
  await page.click('button[data-act="crash"]');
  await settle(page);
  let snap = await snapshotOf(page);
  assert.equal(snap.members[4].status, "crashed");
  const crashed = page.locator('#nodes .node[data-member="4"]');
  assert.match(await crashed.textContent(), /✕ CRASHED/);
  assert.match(await crashed.getAttribute("class"), /crashed/);
  assert.equal(await crashed.locator("rect.card").evaluate((el) => getComputedStyle(el).strokeDasharray !== "none"), true);
  // Restart it with another binary from the picker.
  await page.selectOption("#restart-binary", "1.2.0");
  await page.click('button[data-act="restart"]');
  await settle(page);
  snap = await snapshotOf(page);
  assert.equal(snap.members[4].binary, "1.2.0");
  assert.equal(snap.members[4].status, "halted", "a 1.2.0 binary refuses a 1.3.0 cluster");
  assert.match(await crashed.textContent(), /⊘ HALTED/);
  // Partition {0,1} from the rest.
  await page.click('#nodes .node[data-member="4"]'); // unselect
  await page.check('#member-picks input[value="0"]');
  await page.check('#member-picks input[value="1"]');
  await page.click('button[data-act="partition"]');
  await settle(page);
  snap = await snapshotOf(page);
  assert.deepEqual(snap.network.groups, [[0, 1], [2, 3, 4, 5]]);
  assert.ok(await page.locator("#edges .edge.cut").count() >= 8);
  assert.match(await page.textContent('[data-fact="network"]'), /✂ \{0,1\} \| \{2,3,4,5\}/);
  await page.click('button[data-act="heal"]');
  // Block 2 -> 3, loss and delay.
  await page.selectOption("#link-from", "2");
  await page.selectOption("#link-to", "3");
  await page.click('button[data-act="block"]');
  await page.fill("#net-loss", "0.1");
  await page.fill("#net-delay-max", "6");
  await page.click('button[data-act="net"]');
  await settle(page);
  snap = await snapshotOf(page);
  assert.deepEqual(snap.network.blocked, [{ from: 2, to: 3 }]);
  assert.equal(snap.network.lossPpm, 100000);
  assert.equal(snap.network.delayMaxTicks, 6);
  assert.equal(await page.locator('#edges [aria-label="link 2→3 blocked"]').count(), 1);
  assert.match(await page.textContent('[data-fact="loss"]'), /10\.0%/);
  // Clients: a put, then a read at the standby.
  await page.fill("#kv-key", "k");
  await page.fill("#kv-value", "v");
  await page.click('button[data-act="put"]');
  await page.evaluate(() => window.viz.run("until reply[1] = ok within 3000"));
  await page.selectOption("#kv-at", "5");
  await page.click('button[data-act="get"]');
  await page.evaluate(() => window.viz.run("until reply[1] != pending within 3000"));
  await settle(page);
  snap = await snapshotOf(page);
  assert.equal((await page.textContent('[data-reply="1/3"]')).trim(), snap.clients[0].reply);
  // Upgrade refused: 1.3.0 is the cluster's already.
  await page.click('button[data-act="propose"]');
  assert.match(await page.textContent("#status"), /not-newer/);
  // The event log's filters: faults only.
  for (const name of ["deliveries", "timers", "durability", "clients", "operator", "problems", "other"]) {
    await page.uncheck(`#log-filters input[value="${name}"]`);
  }
  await settle(page);
  const log = await page.textContent("#log");
  assert.match(log, /crash 4/);
  assert.match(log, /restart 4 binary=1\.2\.0/);
  assert.doesNotMatch(log, /deliver|timeout|durable/);
  await page.fill("#log-text", "restart");
  await settle(page);
  assert.doesNotMatch(await page.textContent("#log"), /crash 4/);
  await page.fill("#log-text", "");
  await page.check('#log-filters input[value="deliveries"]');
  await settle(page);
  assert.match(await page.textContent("#log"), /deliver/);
  await screenshot(page, "faults");
});

test("inspecting a message in flight shows its fields", async () => {
  const { page } = session;
  await page.evaluate(() => window.viz.importScript("cluster replicas=3 seed=4\nput a 1\nstep 4\n"));
  await settle(page);
  const prepare = page.locator("#inflight button", { hasText: "prepare 0→1" });
  await prepare.first().click();
  const text = await page.textContent("#inspector");
  assert.match(text, /prepare/);
  assert.match(text, /op\s*1/);
  assert.match(text, /will be delivered/);
  // And by clicking its dot on the drawing.
  await page.locator("#messages .msg").first().click({ force: true });
  assert.equal(await page.isHidden("#inspector"), false);
});

test("import a scenario in the spec's style and export it back", async () => {
  const { page } = session;
  await page.fill("#script", OUTSIDER);
  await page.click('button[data-act="import"]');
  assert.match(await page.textContent("#status"), /✓ imported/);
  await page.click('button[data-act="export"]');
  const exported = await page.inputValue("#script");
  // The only normalization: comments, blank lines and extra blanks go, and a `get`'s
  // arguments come in the canonical order (client= before at=).
  const expected = withoutCommentsAndBlanks(OUTSIDER).replace("get apple at=5 client=3", "get apple client=3 at=5");
  assert.equal(exported, expected);
  const snap = await snapshotOf(page);
  assert.equal(snap.failed, false, "every expectation of the scenario held");
  assert.equal(primaryOf(snap).cluster_release, "1.3.0");
  // The export replays to the same digest, in the page and natively.
  const again = await page.evaluate((script) => {
    window.viz.importScript(script);
    return window.viz.controller.sim.exportScript();
  }, exported);
  assert.equal(again, exported, "export is a fixed point");
  assert.equal((await snapshotOf(page)).digest, snap.digest);
  const native = nativeDigest(exported);
  if (native !== null) assert.equal(native, snap.digest, "viewstamp replay of the page's export");
  // A bad script says which line.
  await page.fill("#script", "cluster replicas=3\nput a\n");
  await page.click('button[data-act="import"]');
  assert.match(await page.textContent("#status"), /✗ import: line 2/);
});

test("scrubbing back and forth, then a share link carries the run in the hash", async () => {
  const { page, url } = session;
  await page.evaluate(() => window.viz.importScript("cluster replicas=3 standbys=1 seed=5\nput a 1\ntick 300\ncrash 1\ntick 300\n"));
  const total = await page.evaluate(() => window.viz.controller.sim.timelineLength());
  const endDigest = (await snapshotOf(page)).digest;
  // Keyboard on the scrubber: Home goes to the start.
  await page.focus("#scrubber");
  await page.keyboard.press("Home");
  await page.waitForFunction(() => window.viz.controller.sim.eventCount() === 0);
  await settle(page);
  assert.equal(await page.inputValue("#scrubber"), "0");
  assert.equal(await page.isHidden("#replaying"), false);
  await page.evaluate((keep) => window.viz.controller.seek(keep), Math.floor(total / 2));
  await page.click("#step"); // replays the recorded run
  // A click on a log line travels to just after it.
  await settle(page);
  const line = page.locator("#log li[data-index]").nth(3);
  const index = Number(await line.getAttribute("data-index"));
  await line.click();
  assert.equal(await page.evaluate(() => window.viz.controller.sim.eventCount()) >= index + 1, true);
  assert.ok(await page.evaluate(() => window.viz.controller.sim.eventCount()) < total);
  await page.evaluate((keep) => window.viz.controller.seek(keep), total);
  assert.equal((await snapshotOf(page)).digest, endDigest);
  const native = nativeDigest(await page.evaluate(() => window.viz.controller.sim.exportScript()));
  if (native !== null) assert.equal(native, endDigest);
  // Share: the hash holds the whole run; a fresh page loads it.
  await page.click('button[data-act="share"]');
  const shared = page.url();
  assert.match(shared, /#scenario=cluster%20replicas%3D3/);
  const other = await session.browser.newPage();
  await other.goto(shared);
  await other.waitForFunction(() => document.body.dataset.ready === "true");
  assert.equal(await other.evaluate(() => window.viz.controller.sim.digest()), endDigest);
  await other.close();
  assert.ok(url);
});

test("the seed and cluster shape from the setup form", async () => {
  const { page } = session;
  await page.fill('#setup input[name="replicas"]', "5");
  await page.fill('#setup input[name="standbys"]', "2");
  await page.fill('#setup input[name="seed"]', "99");
  await page.selectOption('#setup select[name="binary"]', "1.2.0");
  await page.click('#setup button[type="submit"]');
  await settle(page);
  const script = await page.evaluate(() => window.viz.controller.sim.exportScript());
  assert.equal(script, "cluster replicas=5 standbys=2 seed=99 binary=1.2.0\n");
  assert.equal(await page.locator("#nodes .node").count(), 7);
  assert.equal((await page.textContent('[data-version="Cluster release"]')).trim(), "1.2.0");
  assert.match(await page.textContent('[data-feature="standby_reads"]'), /off/);
});

test("upgrade controls (auto, propose, cancel), the command box, and promote", async () => {
  const { page } = session;
  const command = async (text) => {
    await page.fill("#command", text);
    await page.press("#command", "Enter");
    assert.match(await page.textContent("#status"), /✓/, text);
    await settle(page); // the page draws on the next frame
  };
  await page.fill('#setup input[name="replicas"]', "3");
  await page.fill('#setup input[name="standbys"]', "1");
  await page.fill('#setup input[name="seed"]', "21");
  await page.selectOption('#setup select[name="binary"]', "1.3.0");
  await page.selectOption('#setup select[name="release"]', "1.0.0");
  await page.click('#setup button[type="submit"]');
  await page.click('button[data-act="auto-off"]');
  await command("tick 20"); // operator commands commit through the log
  assert.equal((await page.textContent('[data-version="Auto upgrade"]')).trim(), "off");
  // The standby keeps an older binary, so a proposal of 1.3.0 stays pending.
  await page.check('#member-picks input[value="3"]');
  await page.selectOption("#restart-binary", "1.2.0");
  await page.click('button[data-act="restart"]');
  await page.uncheck('#member-picks input[value="3"]');
  await command("tick 100");
  await page.selectOption("#upgrade-to", "1.3.0");
  await page.click('button[data-act="propose"]');
  await command("tick 50");
  assert.equal(primaryOf(await snapshotOf(page)).upgrade_target, "1.3.0");
  assert.equal((await page.textContent('[data-version="Pending target"]')).trim(), "1.3.0");
  await page.click('button[data-act="cancel"]');
  await command("tick 50");
  assert.equal(primaryOf(await snapshotOf(page)).upgrade_target ?? null, null);
  assert.equal((await page.textContent('[data-version="Pending target"]')).trim(), "none");
  assert.match(await page.textContent("#upgrade-timeline"), /cancelled 1\.3\.0/);
  // Now with every binary at 1.3.0.
  await command("restart 3 binary=1.3.0");
  await command("until status[3] = normal within 1000");
  await page.click('button[data-act="propose"]');
  await command("until cluster-release = 1.3.0 within 3000");
  await command("until promotable[3] = yes within 3000");
  await settle(page);
  assert.equal(await page.textContent('[data-feature="standby_reads"]'), "● on");
  await page.selectOption("#promote-standby", "3");
  await page.selectOption("#promote-replace", "2");
  await page.click('button[data-act="promote"]');
  assert.match(await page.textContent("#status"), /✓ promote 3 replace=2/);
  await command("until role[3] = active within 3000");
  await settle(page);
  const snap = await snapshotOf(page);
  assert.equal(snap.members[3].role, "active");
  assert.match(await page.locator('#nodes .node[data-member="3"]').textContent(), /3 · (active|primary)/);
  assert.equal(snap.failed, false);
});
