// Shared by the browser tests: a static server for web-visualizer/, Debian's
// Chromium driven by playwright-core (no browser download), and page helpers.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "./static-server.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../..");
export const SCREENSHOTS = join(REPO, "artifacts", "visualizer-screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Server, browser and a page on the visualizer, ready; `close()` ends all three. */
export async function openVisualizer({ hash = "", viewport = { width: 1500, height: 1000 } } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)`);
  if (!existsSync(join(REPO, "web-visualizer", "pkg", "viewstamp_wasm.js"))) {
    throw new Error("web-visualizer/pkg is missing: run scripts/build-wasm.sh");
  }
  const { server, url } = await serve();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(url + hash);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30000 });
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (ready !== "true") throw new Error(`the page did not start: ${await page.textContent("#status")} ${errors.join("; ")}`);
  return {
    page,
    browser,
    url,
    errors,
    async close() {
      await browser.close();
      server.close();
    },
  };
}

/** The wasm simulation's own snapshot, read inside the page. */
export function snapshotOf(page) {
  return page.evaluate(() => window.viz.controller.snapshot());
}

/** Let the page draw what changed (it renders on the next animation frame). */
export async function settle(page) {
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  // From the top, so the sticky bars sit where a person first sees them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await settle(page);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Percentile of a list of numbers (p in 0..100). */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
