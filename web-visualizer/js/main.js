// The page: loads the wasm core, builds a cluster (from the URL's hash if it holds a
// scenario), and wires every control to scenario commands.

import init, { Simulation } from "../pkg/viewstamp_wasm.js";
import { Controller } from "./controller.js";
import { loadArchive } from "./archive.js";
import { ClusterView, legendHtml } from "./cluster-view.js";
import { $, $$, escapeHtml, setHtml, setOptions } from "./dom.js";
import {
  LOG_FILTERS, renderFacts, renderInFlight, renderInspector, renderLog, renderRequests, renderStandbys,
  renderVersions, renderViolations,
} from "./panels.js";
import { scriptFromHash, shareUrl } from "./share.js";
import { TourRunner } from "./tours.js";

const DEFAULT_HEADER = "cluster replicas=3 standbys=1 seed=7";
/** The most ticks one animation frame simulates (keeps frames short at high speed). */
const TICKS_PER_FRAME_MAX = 200;
/** Frame timings kept for the benchmark (ms of work per frame). */
const FRAME_SAMPLES_MAX = 2000;

const state = {
  controller: null,
  view: null,
  tours: null,
  playing: false,
  ticksPerSecond: 10,
  carry: 0, // fractional ticks not yet simulated
  lastFrame: 0,
  inspected: null, // message key
  selected: new Set(),
  logFilters: new Set([...Object.values(LOG_FILTERS).flat(), "other"]),
  frameWorkMs: [],
  dirty: true,
  scriptEdited: false,
};

function status(text, bad = false) {
  const line = $("#status");
  line.textContent = text;
  line.classList.toggle("bad", bad);
}

/** Run a command from a control and say what happened. */
function run(command) {
  try {
    const outcome = state.controller.apply(command);
    if (!outcome.ran) status(`✗ ${command}: ${outcome.error}`, true);
    else if (outcome.held === false) status(`✗ ${outcome.failures.join("; ")}`, true);
    else if (outcome.code !== "none" && /^(upgrade|promote)/.test(command)) status(`✗ ${command}: refused, ${outcome.code}`, true);
    else status(`✓ ${outcome.command} (${outcome.events} events)`);
    return outcome;
  } catch (error) {
    status(`✗ ${command}: ${error.message}`, true);
    return null;
  }
}

function selectedMembers() {
  return [...state.selected].sort((a, b) => a - b);
}

function requireSelection() {
  const members = selectedMembers();
  if (members.length === 0) status("select one or more members first (checkboxes, or click a node)", true);
  return members;
}

const ACTIONS = {
  crash: () => requireSelection().forEach((m) => run(`crash ${m}`)),
  restart: () => {
    const binary = $("#restart-binary").value;
    requireSelection().forEach((m) => run(`restart ${m}${binary ? ` binary=${binary}` : ""}`));
  },
  partition: () => {
    const chosen = requireSelection();
    if (!chosen.length) return;
    const rest = state.controller.snapshot().members.map((m) => m.id).filter((m) => !chosen.includes(m));
    run(rest.length ? `partition ${chosen.join(",")} | ${rest.join(",")}` : `partition ${chosen.join(",")}`);
  },
  isolate: () => requireSelection().forEach((m) => run(`isolate ${m}`)),
  heal: () => run("heal"),
  block: () => run(`block ${$("#link-from").value}->${$("#link-to").value}`),
  unblock: () => run(`unblock ${$("#link-from").value}->${$("#link-to").value}`),
  net: () => run(`net loss=${Number($("#net-loss").value)} delay=${Number($("#net-delay-min").value)}..${Number($("#net-delay-max").value)}`),
  put: () => run(`put ${$("#kv-key").value.trim()} ${$("#kv-value").value.trim()} client=${Number($("#kv-client").value) || 1}`),
  get: () => {
    const at = $("#kv-at").value;
    run(`get ${$("#kv-key").value.trim()} client=${Number($("#kv-client").value) || 1}${at ? ` at=${at}` : ""}`);
  },
  propose: () => run(`upgrade propose to=${$("#upgrade-to").value}`),
  cancel: () => run("upgrade cancel"),
  "auto-on": () => run("upgrade auto=on"),
  "auto-off": () => run("upgrade auto=off"),
  promote: () => {
    const standby = $("#promote-standby").value;
    if (standby === "") return status("there is no standby to promote", true);
    const replace = $("#promote-replace").value;
    run(`promote ${standby}${replace ? ` replace=${replace}` : ""}`);
  },
  import: () => importScript($("#script").value),
  export: () => {
    state.scriptEdited = false;
    $("#script").value = state.controller.sim.exportScript();
    status("exported the run up to the scrubber's position");
  },
  "export-all": () => {
    state.scriptEdited = true; // keep showing the whole run
    $("#script").value = state.controller.sim.timelineScript();
    status("exported the whole run");
  },
  share: async () => {
    const url = shareUrl(location.href, state.controller.sim.timelineScript());
    history.replaceState(null, "", url);
    try {
      await navigator.clipboard.writeText(url);
      status("share link copied (the scenario is in the URL's hash)");
    } catch {
      status("share link is in the address bar (the scenario is in the URL's hash)");
    }
  },
  download: () => {
    const blob = new Blob([state.controller.sim.exportScript()], { type: "text/plain" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "viewstamp.scenario";
    link.click();
    URL.revokeObjectURL(link.href);
  },
};

function importScript(text) {
  try {
    state.controller.loadScript(text);
    state.scriptEdited = false;
    afterNewCluster();
    status(`✓ imported ${text.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#")).length} lines; digest ${state.controller.sim.digest()}`);
    return true;
  } catch (error) {
    status(`✗ import: ${error.message}`, true);
    return false;
  }
}

/** Controls that depend on the cluster's size. */
function afterNewCluster() {
  const snap = state.controller.snapshot();
  state.selected = new Set();
  state.inspected = null;
  const members = snap.members.map((m) => [String(m.id), String(m.id)]);
  setOptions($("#link-from"), members);
  setOptions($("#link-to"), members);
  if (snap.members.length > 1) $("#link-to").value = "1";
  const releases = snap.knownReleases.map((r) => [r, r]);
  setOptions($("#restart-binary"), [["", "same"], ...releases]);
  setOptions($("#upgrade-to"), releases);
  $("#upgrade-to").value = releases[releases.length - 1][0];
  renderPicks(snap);
  $("#script").value = state.controller.sim.exportScript();
  const header = state.controller.sim.exportScript().split("\n")[0];
  const form = $("#setup");
  for (const key of ["replicas", "standbys", "seed"]) {
    const match = new RegExp(`${key}=(\\d+)`).exec(header);
    form.elements[key].value = match ? match[1] : key === "standbys" || key === "seed" ? "0" : form.elements[key].value;
  }
}

function renderPicks(snap) {
  const picks = snap.members.map((m) => `<label><input type="checkbox" value="${m.id}"${state.selected.has(m.id) ? " checked" : ""}> ${m.id}${m.role === "standby" ? " (standby)" : ""}</label>`).join("");
  setHtml($("#member-picks"), `<legend>Selected members (or click a node)</legend>${picks}`);
}

function toggleMember(member) {
  if (state.selected.has(member)) state.selected.delete(member);
  else state.selected.add(member);
  const box = $(`#member-picks input[value="${member}"]`);
  if (box) box.checked = state.selected.has(member);
  state.view.selected = state.selected;
  state.dirty = true;
}

function render() {
  const controller = state.controller;
  const snap = controller.snapshot();
  state.view.selected = state.selected;
  state.view.render(snap);
  renderFacts(snap);
  renderVersions(snap, controller);
  renderStandbys(snap, controller);
  const script = controller.sim.exportScript();
  renderRequests(snap, controller, script);
  renderViolations(snap, controller);
  renderLog(controller, state.logFilters, $("#log-text").value);
  renderInFlight(snap);
  const message = snap.messages.find((m) => m.key === state.inspected);
  if (!message) state.inspected = null;
  if (!message) renderInspector(null);
  const total = controller.sim.timelineLength();
  const count = controller.sim.eventCount();
  const scrubber = $("#scrubber");
  scrubber.max = String(total);
  scrubber.value = String(count);
  scrubber.setAttribute("aria-valuetext", `event ${count} of ${total}`);
  $("#position").value = `event ${count} / ${total} · t=${snap.now}`;
  $("#replaying").hidden = count >= total;
  $("#digest").textContent = snap.digest;
  // The script box follows the run unless the person is editing it.
  const box = $("#script");
  if (!state.scriptEdited && document.activeElement !== box && box.value !== script) box.value = script;
  if (snap.members.length !== $$("#member-picks input").length) renderPicks(snap);
  state.dirty = false;
}

function inspect(key) {
  const snap = state.controller.snapshot();
  const message = snap.messages.find((m) => m.key === key);
  if (!message) return;
  state.inspected = key;
  renderInspector(message, state.controller.foresee(message), snap.now);
  state.view.renderMessages(snap.now, state.inspected);
}

function setPlaying(playing) {
  state.playing = playing;
  const button = $("#play");
  button.textContent = playing ? "⏸ Pause" : "▶ Play";
  button.setAttribute("aria-pressed", String(playing));
  state.lastFrame = performance.now();
  state.carry = 0;
}

function frame(time) {
  const started = performance.now();
  const controller = state.controller;
  if (state.playing && controller) {
    const elapsed = Math.min(250, time - state.lastFrame);
    state.carry += (elapsed / 1000) * state.ticksPerSecond;
    const whole = Math.min(TICKS_PER_FRAME_MAX, Math.floor(state.carry));
    if (whole >= 1) {
      state.carry -= whole;
      if (state.carry > 1) state.carry = 0;
      controller.advance(whole);
    }
  }
  state.lastFrame = time;
  if (controller) {
    if (state.dirty) render();
    const now = controller.snapshot().now + (state.playing ? state.carry : 0);
    state.view.renderMessages(now, state.inspected);
  }
  if (state.playing) {
    state.frameWorkMs.push(performance.now() - started);
    if (state.frameWorkMs.length > FRAME_SAMPLES_MAX) state.frameWorkMs.shift();
  }
  requestAnimationFrame(frame);
}

function isTyping(target) {
  return target instanceof HTMLElement && (target.matches("input:not([type=checkbox]):not([type=range]), textarea, select") || target.isContentEditable);
}

function wireKeyboard() {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    const onButton = event.target instanceof Element && event.target.closest("button, [role=button], input[type=checkbox]");
    if (event.key === " " && !onButton) {
      event.preventDefault();
      setPlaying(!state.playing);
    } else if (event.key === "ArrowRight" && !(event.target instanceof HTMLInputElement && event.target.type === "range")) {
      event.preventDefault();
      state.controller.step(1);
    }
  });
}

function wireControls() {
  $("#setup").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target.elements;
    try {
      state.controller.newCluster({
        replicas: Number(form.replicas.value),
        standbys: Number(form.standbys.value),
        seed: Number(form.seed.value),
        binary: form.binary.value || undefined,
        release: form.release.value || undefined,
      });
      afterNewCluster();
      status(`✓ new cluster: ${state.controller.sim.exportScript().trim()}`);
    } catch (error) {
      status(`✗ ${error.message}`, true);
    }
  });
  $("#play").addEventListener("click", () => setPlaying(!state.playing));
  $("#step").addEventListener("click", () => state.controller.step(1));
  $("#tick100").addEventListener("click", () => state.controller.advance(100));
  $("#speed").addEventListener("change", (event) => {
    state.ticksPerSecond = Number(event.target.value);
  });
  let pendingSeek = null;
  $("#scrubber").addEventListener("input", (event) => {
    const target = Number(event.target.value);
    if (pendingSeek === null) {
      requestAnimationFrame(() => {
        state.controller.seek(pendingSeek);
        pendingSeek = null;
      });
    }
    pendingSeek = target;
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    if (button) ACTIONS[button.dataset.act]?.();
    const flight = event.target.closest("#inflight button[data-key]");
    if (flight) inspect(flight.dataset.key);
    const tour = event.target.closest("button[data-tour]");
    if (tour) {
      setPlaying(false);
      state.tours.start(tour.dataset.tour);
      afterNewCluster();
      $("#tour").focus();
    }
  });
  $("#member-picks").addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox]")) toggleMember(Number(event.target.value));
  });
  $("#log-filters").addEventListener("change", (event) => {
    for (const kind of LOG_FILTERS[event.target.value] ?? [event.target.value]) {
      if (event.target.checked) state.logFilters.add(kind);
      else state.logFilters.delete(kind);
    }
    state.dirty = true;
  });
  $("#log").addEventListener("click", (event) => {
    const line = event.target.closest("li[data-index]");
    if (!line) return;
    const index = Number(line.dataset.index);
    state.controller.seek(index + 1);
    status(`travelled to just after event #${index}; the scrubber goes back to the end`);
  });
  $("#script").addEventListener("input", () => {
    state.scriptEdited = true;
  });
  $("#log-text").addEventListener("input", () => {
    state.dirty = true;
  });
  $("#command").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.value.trim()) {
      run(event.target.value.trim());
      event.target.value = "";
    }
  });
  $("#tour-next").addEventListener("click", () => {
    const problems = state.tours.next();
    if (problems.length) status(`✗ ${problems.join("; ")}`, true);
    else status("✓ tour step done");
  });
  $("#tour-close").addEventListener("click", () => state.tours.close());
  window.addEventListener("hashchange", () => {
    const script = scriptFromHash(location.hash);
    if (script && script !== state.controller.sim.timelineScript()) importScript(script);
  });
}

function renderTour(step) {
  const box = $("#tour");
  box.hidden = !step;
  if (!step) return;
  $("#tour-title").textContent = step.title;
  $("#tour-progress").textContent = step.progress;
  $("#tour-text").textContent = step.text;
  $("#tour-commands").textContent = step.commands.join("\n");
  $("#tour-next").disabled = step.done;
  $("#tour").dataset.done = String(step.done);
}

/** The archived releases' modules, or null (the page then runs the current code acting old). */
async function archiveOrNull() {
  try {
    return await loadArchive();
  } catch (error) {
    console.error(error);
    status(`✗ the archived releases did not load (${error.message}): every release runs the current code`, true);
    return null;
  }
}

/** The setup form's archive choice: which releases run their real code, and a switch for it. */
function wireArchiveChoice(controller) {
  const box = $("#setup").elements.archived;
  const names = controller.archive?.releases() ?? [];
  $("#archive-releases").textContent = names.length ? names.join(", ") : "archived releases (none loaded)";
  box.disabled = names.length === 0;
  box.checked = controller.useArchive;
  box.addEventListener("change", () => {
    controller.useArchive = box.checked;
    // The same run again, on the other engines.
    importScript(controller.sim.exportScript());
  });
}

async function main() {
  await init();
  const controller = new Controller(Simulation, await archiveOrNull());
  state.controller = controller;
  state.view = new ClusterView($("#cluster"), { onSelect: toggleMember, onInspect: inspect });
  state.tours = new TourRunner(controller, renderTour);
  controller.subscribe(() => {
    state.dirty = true;
  });
  $("#legend").innerHTML = legendHtml();
  setHtml($("#log-filters"), `<legend>Show</legend>${[...Object.keys(LOG_FILTERS), "other"]
    .map((name) => `<label><input type="checkbox" value="${escapeHtml(name)}" checked> ${escapeHtml(name)}</label>`).join("")}`);
  wireControls();
  wireKeyboard();
  wireArchiveChoice(controller);

  const fromHash = scriptFromHash(location.hash);
  let loaded = false;
  if (fromHash) loaded = importScript(fromHash);
  if (!loaded) {
    controller.loadScript(`${DEFAULT_HEADER}\n`);
    afterNewCluster();
  }
  const releases = controller.snapshot().knownReleases;
  for (const select of $$("#setup .release-select")) {
    const keep = select.name === "release" ? [["", "= binary"]] : [];
    setOptions(select, [...keep, ...releases.slice().reverse().map((r) => [r, r])]);
  }
  // Hooks for tests and curious people (the console).
  window.viz = { controller, state, run, importScript, setPlaying, render };
  document.body.dataset.ready = "true";
  requestAnimationFrame(frame);
}

main().catch((error) => {
  status(`✗ could not start: ${error.message}. Build the wasm package with scripts/build-wasm.sh.`, true);
  document.body.dataset.ready = "error";
  console.error(error);
});
