// Each guided tour, run by pressing its buttons as a person would; what the page
// shows is checked against the wasm simulation's own snapshot; screenshots saved.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { featuresOf, primaryOf, standbysOf } from "../js/snapshot.js";
import { openVisualizer, screenshot, settle, snapshotOf } from "./helpers.mjs";

let session;
before(async () => {
  session = await openVisualizer();
});
after(async () => {
  await session?.close();
});

/** Start a tour and press Next until it is done; screenshots along the way. */
async function runTour(name, shots = {}) {
  const { page } = session;
  await page.click(`button[data-tour="${name}"]`);
  await page.waitForSelector("#tour:not([hidden])");
  let step = 0;
  while ((await page.getAttribute("#tour", "data-done")) !== "true") {
    await page.click("#tour-next");
    step += 1;
    assert.doesNotMatch(await page.textContent("#status"), /✗/, `tour ${name} step ${step}`);
    if (shots[step]) {
      await settle(page);
      await screenshot(page, shots[step]);
    }
    assert.ok(step < 20, "the tour ends");
  }
  await settle(page);
  return step;
}

async function fact(page, name) {
  return (await page.textContent(`[data-fact="${name}"]`)).trim();
}

test("tour 1: a rolling upgrade from 1.0.0 to 1.4.0", async () => {
  const { page } = session;
  const steps = await runTour("upgrade", { 2: "tour-upgrade-1-midway" });
  assert.equal(steps, 6);
  const snap = await snapshotOf(page);
  assert.equal(primaryOf(snap).cluster_release, "1.4.0");
  assert.equal(await fact(page, "release"), "1.4.0");
  assert.equal((await page.textContent('[data-version="Cluster release"]')).trim(), "1.4.0");
  assert.equal((await page.textContent('[data-version="Pending target"]')).trim(), "none");
  for (const member of snap.members) {
    assert.equal(member.binary, "1.4.0");
    assert.equal((await page.textContent(`[data-binary="${member.id}"]`)).trim(), "1.4.0");
  }
  for (const flag of featuresOf(snap)) {
    assert.equal(flag.on, true, flag.name);
    assert.match(await page.textContent(`[data-feature="${flag.name}"]`), /on/);
  }
  assert.deepEqual(standbysOf(snap).map((s) => s.lag_ops), [0]);
  assert.equal((await page.textContent('[data-lag="3"]')).trim(), "0");
  assert.match(await page.textContent("#upgrade-timeline"), /committed 1\.0\.0 -> 1\.4\.0/);
  assert.match(await page.textContent("#upgrade-timeline"), /restart 3 binary=1\.4\.0/);
  // The lag chart draws the standby's series, ending at 0.
  assert.match(await page.textContent("#lag-chart"), /standby 3: 0/);
  assert.ok((await page.$$("#lag-chart path")).length >= 1);
  // The standby read answered with the value written.
  assert.equal(snap.clients.find((c) => c.client === 1).reply, "1");
  assert.equal((await page.textContent('[data-reply="1/2"]')).trim(), "1");
  assert.equal(snap.violations.length, 0);
  await screenshot(page, "tour-upgrade-2-done");
});

test("tour 2: promoting a standby after losing a replica", async () => {
  const { page } = session;
  await runTour("promote", { 2: "tour-promote-1-replica-lost" });
  const snap = await snapshotOf(page);
  assert.equal(snap.members[3].role, "active");
  assert.equal(snap.members[2].role, "removed");
  assert.equal(snap.members[2].status, "crashed");
  const card = page.locator('#nodes .node[data-member="3"]');
  assert.match(await card.textContent(), /3 · (active|primary)/);
  assert.match(await page.locator('#nodes .node[data-member="2"]').textContent(), /CRASHED/);
  assert.match(await page.locator('#nodes .node[data-member="2"]').getAttribute("class"), /crashed/);
  assert.equal(snap.clients[0].reply, "ok");
  await screenshot(page, "tour-promote-2-done");
});

test("tour 3: a view change", async () => {
  const { page } = session;
  await page.click('button[data-tour="viewchange"]');
  await page.click("#tour-next");
  await page.click("#tour-next"); // the primary crashes; timers not yet fired
  await page.click("#tour-next"); // the view change runs to its end
  await settle(page); // the page draws on the next frame
  let snap = await snapshotOf(page);
  const view = primaryOf(snap).view;
  assert.ok(view >= 1, `view ${view}`);
  assert.notEqual(snap.primary, 0);
  assert.equal(await fact(page, "view"), String(view));
  assert.equal(await fact(page, "primary"), String(snap.primary));
  // Travel back into the middle of the view change: its messages are in flight.
  const middle = await page.evaluate(() => {
    const sim = window.viz.controller.sim;
    const events = sim.events(0, sim.eventCount());
    return events.findIndex((event) => /deliver (start_view_change|do_view_change)/.test(event.text));
  });
  assert.ok(middle > 0, "the run has view change messages");
  await page.evaluate((keep) => window.viz.controller.seek(keep), middle);
  await settle(page);
  snap = await snapshotOf(page);
  assert.ok(snap.messages.some((m) => /view_change/.test(m.kind)), JSON.stringify(snap.messages.map((m) => m.kind)));
  assert.ok(snap.members.some((m) => m.status === "view-change"));
  assert.match(await page.locator("#nodes").textContent(), /view change/);
  assert.ok((await page.$$("#messages .msg")).length === snap.messages.length);
  assert.equal(await page.isHidden("#replaying"), false, "the page says it is replaying");
  await screenshot(page, "tour-viewchange-1-in-flight");
  // Forward to the end again along the recorded run.
  const total = await page.evaluate(() => window.viz.controller.sim.timelineLength());
  await page.evaluate((keep) => window.viz.controller.seek(keep), total);
  await page.click("#tour-next");
  await settle(page);
  snap = await snapshotOf(page);
  assert.equal(snap.members[0].status, "normal");
  assert.equal(snap.clients[0].reply, "ok");
  await screenshot(page, "tour-viewchange-2-done");
});
