// The side panels: facts, versions, standbys, clients, log, violations, messages.

import { $, escapeHtml, setHtml, setOptions } from "./dom.js";
import { lagChartSvg } from "./chart.js";
import { kindColour } from "./cluster-view.js";
import { featuresOf, primaryOf, standbysOf } from "./snapshot.js";

/** The event log's filter groups: label -> kinds. */
export const LOG_FILTERS = {
  deliveries: ["deliver"],
  timers: ["timeout"],
  durability: ["durable"],
  faults: ["crash", "restart", "net", "partition", "heal", "block", "unblock", "isolate", "corrupt"],
  clients: ["reply"],
  operator: ["operator", "upgrade", "promote"],
  problems: ["violation", "failure"],
};
const FILTERED_KINDS = new Set(Object.values(LOG_FILTERS).flat());
/** Events the log looks back over (all kinds shown; fewer kinds look back further), and the most it shows. */
const LOG_WINDOW_EVENTS = 1500;
const LOG_WINDOW_FILTERED_EVENTS = 50000;
const LOG_SHOWN_MAX = 400;

const yesNo = (value, yes = "yes", no = "no") =>
  value === undefined || value === null ? `<span class="badge">unknown</span>` : value ? `<span class="badge good">✓ ${yes}</span>` : `<span class="badge bad">✗ ${no}</span>`;

export function renderFacts(snap) {
  const groups = snap.network.groups;
  const partitioned = groups.length > 1 || snap.network.isolated.length > 0;
  const primary = primaryOf(snap);
  const facts = [
    ["primary", snap.primary ?? "none"],
    ["view", primary?.view ?? "–"],
    ["release", primary?.cluster_release ?? "–"],
    ["time", `t=${snap.now} (${(snap.now / 100).toFixed(2)} s)`],
    ["network", partitioned ? `✂ ${groups.map((g) => `{${g.join(",")}}`).join(" | ")}${snap.network.isolated.length ? ` isolated ${snap.network.isolated.join(",")}` : ""}` : "whole"],
    ["blocked", snap.network.blocked.length ? snap.network.blocked.map((l) => `${l.from}→${l.to}`).join(" ") : "none"],
    ["loss", `${(snap.network.lossPpm / 10000).toFixed(1)}%`],
    ["delay", `${snap.network.delayMinTicks}..${snap.network.delayMaxTicks} ticks`],
  ];
  setHtml($("#facts"), facts.map(([k, v]) => `<div><dt>${k}</dt><dd data-fact="${k}">${escapeHtml(v)}</dd></div>`).join(""));
}

export function renderVersions(snap, controller) {
  const primary = primaryOf(snap);
  const clusterRelease = primary?.cluster_release;
  setHtml($("#versions"), [
    ["Cluster release", clusterRelease ?? "no primary"],
    ["Pending target", primary?.upgrade_target ?? "none"],
    ["Auto upgrade", primary ? (primary.upgrade_auto ? "on" : "off") : "–"],
    ["Last operator code", snap.operatorCode],
  ].map(([k, v]) => `<dt>${k}</dt><dd data-version="${k}">${escapeHtml(v)}</dd>`).join(""));
  setHtml($("#member-releases"), snap.members.map((m) => {
    const release = m.replica?.cluster_release;
    const behind = release && clusterRelease && release !== clusterRelease;
    return `<tr><td>${m.id} ${m.role === "standby" ? "(standby)" : ""}</td><td data-binary="${m.id}">${escapeHtml(m.binary)}${m.archived ? ' <span class="badge archived" title="runs the archived release\'s real code">real code</span>' : ""}</td>`
      + `<td>${release ? `${escapeHtml(release)}${behind ? ' <span class="badge warn">behind</span>' : ""}` : `<span class="badge">${escapeHtml(m.status)}</span>`}</td></tr>`;
  }).join(""));
  const known = primary !== null;
  setHtml($("#features"), featuresOf(snap).map((f) =>
    `<tr><td><code>${escapeHtml(f.name)}</code></td><td>${escapeHtml(f.since)}</td><td data-feature="${escapeHtml(f.name)}" class="${f.on ? "on" : "off"}">${known ? (f.on ? "● on" : "○ off") : "? no primary"}</td></tr>`).join(""));
  const items = [];
  for (const event of primary?.upgrade_events ?? []) items.push({ t: null, text: `committed log: op ${event.op}: ${event.event}` });
  for (const mark of controller.releaseMarks) items.push(mark);
  for (const event of controller.notable) {
    if ((event.kind === "restart" && event.text.includes("binary=")) || (event.kind === "operator" && /upgrade|promote/.test(event.text))) {
      items.push({ t: event.time, text: event.text.replace(/^t=\d+ /, "") });
    }
  }
  items.sort((a, b) => (a.t ?? -1) - (b.t ?? -1));
  setHtml($("#upgrade-timeline"), items.length
    ? items.slice(-60).map((item) => `<li>${item.t === null ? "" : `<time>t=${item.t}</time>`}${escapeHtml(item.text)}</li>`).join("")
    : "<li>no upgrade events yet</li>");
}

export function renderStandbys(snap, controller) {
  const standbys = standbysOf(snap);
  setHtml($("#standbys"), standbys.length
    ? standbys.map((s) => `<tr><td>${s.member}</td><td data-health="${s.member}">${yesNo(s.healthy, "healthy", "unhealthy")}</td>`
      + `<td data-promotable="${s.member}">${yesNo(s.promotable)}</td><td data-lag="${s.member}">${s.lag_ops ?? "–"}</td></tr>`).join("")
    : `<tr><td colspan="4">no standbys</td></tr>`);
  // Kept after a promotion (the history stays); hidden for a cluster that never had a standby.
  const series = controller.lagSeries();
  const chart = $("#lag-chart");
  chart.toggleAttribute("hidden", series.size === 0);
  if (series.size) setHtml(chart, lagChartSvg(series, snap.now));
  const choices = standbys.map((s) => [String(s.member), `standby ${s.member}`]);
  setOptions($("#promote-standby"), choices.length ? choices : [["", "no standbys"]]);
  setOptions($("#promote-replace"), [["", "(add a replica)"], ...snap.members.filter((m) => m.role === "active").map((m) => [String(m.id), `active ${m.id}`])]);
  setOptions($("#kv-at"), [["", "primary"], ...snap.members.map((m) => [String(m.id), `member ${m.id} (${m.role})`])]);
}

export function renderRequests(snap, controller, script) {
  const requests = controller.requests(script);
  setHtml($("#requests"), requests.length
    ? requests.slice(-30).map((r) => `<tr><td>c${r.client}</td><td>${r.number}</td><td><code>${escapeHtml(r.text)}</code></td>`
      + `<td data-reply="${r.client}/${r.number}">${r.reply === "pending" ? '<span class="badge warn">pending</span>' : escapeHtml(r.reply)}</td></tr>`).join("")
    : `<tr><td colspan="4">no requests yet: put or get above</td></tr>`);
}

export function renderViolations(snap, controller) {
  const failures = controller.notable.filter((event) => event.kind === "failure");
  const items = snap.violations.map((v) => `<li class="v">⚠ ${escapeHtml(v)}</li>`)
    .concat(failures.map((f) => `<li>failed expectation: ${escapeHtml(f.text)}</li>`));
  setHtml($("#violations"), items.length ? items.join("") : `<li class="none">✓ no invariant violations</li>`);
}

export function renderLog(controller, filters, text) {
  const count = controller.sim.eventCount();
  // Without "other", only named kinds show: let the core filter a longer stretch.
  const events = filters.has("other")
    ? controller.sim.events(Math.max(0, count - LOG_WINDOW_EVENTS), count)
    : controller.sim.eventsOfKinds(Math.max(0, count - LOG_WINDOW_FILTERED_EVENTS), count, [...filters], text.trim() ? LOG_WINDOW_EVENTS : LOG_SHOWN_MAX);
  const needle = text.trim().toLowerCase();
  const shown = events.filter((event) => {
    const group = FILTERED_KINDS.has(event.kind) ? event.kind : "other";
    if (group !== "other" && !filters.has(event.kind)) return false;
    if (group === "other" && !filters.has("other")) return false;
    return !needle || event.text.toLowerCase().includes(needle);
  }).slice(-LOG_SHOWN_MAX);
  const log = $("#log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
  setHtml(log, shown.map((event) => `<li class="k-${escapeHtml(event.kind)}" data-index="${event.index}" title="travel to just after this event"><span class="idx">#${event.index}</span>${escapeHtml(event.text)}</li>`).join("")
    || "<li>no events match</li>");
  if (atBottom) log.scrollTop = log.scrollHeight;
}

export function renderInFlight(snap) {
  $("#inflight-count").textContent = `(${snap.messages.length})`;
  setHtml($("#inflight"), snap.messages.slice(0, 200).map((m) =>
    `<button type="button" data-key="${escapeHtml(m.key)}"><span class="dot" style="background:${kindColour(m.kind)}"></span>${escapeHtml(`${m.kind} ${m.from}→${m.to} @${m.deliverAt}`)}</button>`).join("")
    || "<span>none</span>");
}

export function renderInspector(message, delivery, now) {
  const box = $("#inspector");
  if (!message) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const fields = (message.fields ?? "").split(" ").filter(Boolean).map((kv) => kv.split("="));
  box.innerHTML = `<strong><span class="dot" style="display:inline-block;width:10px;height:10px;border-radius:50%;background:${kindColour(message.kind)}"></span> ${escapeHtml(message.kind)}</strong> from ${escapeHtml(message.from)} to ${escapeHtml(message.to)}`
    + `<dl><dt>sent (first seen)</dt><dd>t=${message.sentAt}</dd><dt>due</dt><dd>t=${message.deliverAt} (in ${Math.max(0, message.deliverAt - now)} ticks)</dd>`
    + fields.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v ?? "")}</dd>`).join("")
    + `<dt>outcome</dt><dd>${delivery ? "will be delivered" : "will be lost (dropped by the network, or its receiver is down)"}</dd></dl>`;
}
