// Benchmarks: they print figures; the asserts are only generous sanity bounds.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openVisualizer, percentile, settle } from "./helpers.mjs";

let session;
before(async () => {
  session = await openVisualizer();
});
after(async () => {
  await session?.close();
});

test("bench: stepping 10,000 events (target < 2 s)", async () => {
  const { page } = session;
  const ms = await page.evaluate(async () => {
    window.viz.importScript("cluster replicas=5 standbys=2 seed=3\nput a 1\n");
    const started = performance.now();
    window.viz.controller.step(10000);
    window.viz.render();
    return performance.now() - started;
  });
  const count = await page.evaluate(() => window.viz.controller.sim.eventCount());
  console.log(`bench: step 10,000 events and draw: ${ms.toFixed(0)} ms (target < 2000 ms)`);
  assert.ok(count >= 10000);
  assert.ok(ms < 20000, "sanity bound");
});

test("bench: scrubbing a 50,000-event run (target < 200 ms each)", async () => {
  const { page } = session;
  const figures = await page.evaluate(async () => {
    const viz = window.viz;
    viz.importScript("cluster replicas=5 standbys=2 seed=8\n");
    const built = performance.now();
    for (let round = 0; viz.controller.sim.eventCount() < 50000; round++) {
      viz.controller.apply(`put k${round} v${round} client=${1 + (round % 3)}`);
      viz.controller.apply("tick 100");
      if (round % 40 === 20) viz.controller.apply(`crash ${round % 5}`);
      if (round % 40 === 30) viz.controller.apply(`restart ${(round - 10) % 5}`);
    }
    const buildMs = performance.now() - built;
    const total = viz.controller.sim.timelineLength();
    const points = [0.5, 0.1, 0.9, 0.25, 0.75, 0.02, 0.98, 0.6, 0.4, 1].map((f) => Math.floor(total * f));
    const times = [];
    for (const keep of points) {
      const started = performance.now();
      viz.controller.seek(keep);
      viz.render();
      times.push(performance.now() - started);
    }
    return { buildMs, total, times };
  });
  const sorted = [...figures.times].sort((a, b) => a - b);
  console.log(`bench: built a ${figures.total}-event run in ${figures.buildMs.toFixed(0)} ms`);
  console.log(`bench: seek + draw at 10 points: ${figures.times.map((t) => t.toFixed(0)).join(", ")} ms; median ${percentile(sorted, 50).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms (target < 200 ms each)`);
  assert.ok(figures.total >= 50000);
  assert.ok(sorted[sorted.length - 1] < 5000, "sanity bound");
});

test("bench: animation frame times with 7 members playing", async () => {
  const { page } = session;
  await page.evaluate(() => {
    window.viz.importScript("cluster replicas=5 standbys=2 seed=12\nput a 1\nput b 2 client=2\n");
    document.querySelector("#speed").value = "30";
    document.querySelector("#speed").dispatchEvent(new Event("change"));
    window.viz.state.frameWorkMs.length = 0;
    window.viz.setPlaying(true);
  });
  const intervals = await page.evaluate(() => new Promise((done) => {
    const stamps = [];
    const tick = (time) => {
      stamps.push(time);
      if (stamps.length < 240) requestAnimationFrame(tick);
      else done(stamps.slice(1).map((t, i) => t - stamps[i]));
    };
    requestAnimationFrame(tick);
  }));
  const work = await page.evaluate(() => {
    window.viz.setPlaying(false);
    return window.viz.state.frameWorkMs.slice();
  });
  await settle(page);
  console.log(`bench: frame work (simulate + draw) over ${work.length} frames: p50 ${percentile(work, 50).toFixed(2)} ms, p95 ${percentile(work, 95).toFixed(2)} ms`);
  console.log(`bench: frame interval over ${intervals.length} frames: p50 ${percentile(intervals, 50).toFixed(1)} ms, p95 ${percentile(intervals, 95).toFixed(1)} ms (headless, no GPU)`);
  assert.ok(work.length > 30);
  assert.ok(percentile(work, 50) < 200, "sanity bound");
});
