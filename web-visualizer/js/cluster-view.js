// The cluster drawing: members as cards on an ellipse, clients in the middle, links
// between members (cut by partitions, blocked one way), and messages in flight moving
// along them. Faults are shown by shape, dash, icon and label, not by colour alone.

import { escapeHtml, setHtml } from "./dom.js";
import { primaryOf } from "./snapshot.js";

export const KIND_COLOURS = {
  request: "#2563eb",
  prepare: "#7c3aed",
  prepare_ok: "#16a34a",
  commit: "#0891b2",
  heartbeat: "#94a3b8",
  start_view_change: "#ea580c",
  do_view_change: "#dc2626",
  start_view: "#db2777",
  request_start_view: "#f472b6",
  reply: "#ca8a04",
  read_request: "#65a30d",
  confirm_primacy: "#0d9488",
  primacy_confirmed: "#14b8a6",
};
const OTHER_COLOUR = "#475569";

export function kindColour(kind) {
  return KIND_COLOURS[kind] ?? OTHER_COLOUR;
}

const STATUS_LABELS = {
  normal: "● normal",
  "view-change": "↻ view change",
  recovering: "⟳ recovering",
  "catching-up": "⇣ catching up",
  crashed: "✕ CRASHED",
  halted: "⊘ HALTED",
};

const WIDTH = 820;
const HEIGHT = 600;

/** Card centres on an ellipse, member 0 at the top, clockwise. */
export function layout(count) {
  const rx = count > 7 ? 315 : 290;
  const ry = count > 7 ? 225 : 210;
  const cx = WIDTH / 2;
  const cy = HEIGHT / 2;
  return Array.from({ length: count }, (_, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / count;
    return { x: cx + rx * Math.cos(angle), y: cy + ry * Math.sin(angle) };
  });
}

function cardSize(count) {
  return count > 7 ? { w: 116, h: 90 } : { w: 136, h: 96 };
}

/** Whether two members can talk: same partition group, neither isolated. */
function linkState(network, a, b) {
  const isolated = new Set(network.isolated);
  const groupOf = new Map();
  network.groups.forEach((group, index) => group.forEach((member) => groupOf.set(member, index)));
  const cut = isolated.has(a) || isolated.has(b) || groupOf.get(a) !== groupOf.get(b);
  const blocked = (from, to) => network.blocked.some((link) => link.from === from && link.to === to);
  return { cut, ab: blocked(a, b), ba: blocked(b, a) };
}

export class ClusterView {
  constructor(svg, { onSelect, onInspect }) {
    this.svg = svg;
    this.edges = svg.querySelector("#edges");
    this.nodes = svg.querySelector("#nodes");
    this.messages = svg.querySelector("#messages");
    this.onSelect = onSelect;
    this.onInspect = onInspect;
    this.selected = new Set();
    this.snap = null;
    this.positions = [];
    this.nodes.addEventListener("click", (event) => this.pickNode(event));
    this.nodes.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.pickNode(event);
      }
    });
    const inspect = (event) => {
      const target = event.target.closest(".msg");
      if (target) this.onInspect(target.dataset.key);
    };
    this.messages.addEventListener("click", inspect);
    this.messages.addEventListener("keydown", (event) => {
      if (event.key === "Enter") inspect(event);
    });
  }

  pickNode(event) {
    const node = event.target.closest(".node");
    if (node) this.onSelect(Number(node.dataset.member));
  }

  /** Redraw members and links for a new snapshot. */
  render(snap) {
    this.snap = snap;
    const count = snap.members.length;
    this.positions = layout(count);
    const { w, h } = cardSize(count);
    this.size = { w, h };
    let edges = "";
    for (let a = 0; a < count; a++) {
      for (let b = a + 1; b < count; b++) {
        edges += this.edge(snap.network, a, b);
      }
    }
    setHtml(this.edges, edges);
    let nodes = `<g class="clients-hub" aria-label="clients"><rect x="${WIDTH / 2 - 48}" y="${HEIGHT / 2 - 22}" width="96" height="44" rx="22"/>`
      + `<text x="${WIDTH / 2}" y="${HEIGHT / 2 - 3}" text-anchor="middle" font-weight="600">clients</text>`
      + `<text x="${WIDTH / 2}" y="${HEIGHT / 2 + 13}" text-anchor="middle">${escapeHtml(snap.clients.map((c) => `c${c.client}`).join(" ") || "none yet")}</text></g>`;
    for (const member of snap.members) nodes += this.node(member, snap, w, h);
    setHtml(this.nodes, nodes);
  }

  edge(network, a, b) {
    const p = this.positions[a];
    const q = this.positions[b];
    const { cut, ab, ba } = linkState(network, a, b);
    const line = (cls, extra = "") =>
      `<line class="edge ${cls}" x1="${p.x}" y1="${p.y}" x2="${q.x}" y2="${q.y}" ${extra}/>`;
    if (cut) {
      const mx = (p.x + q.x) / 2;
      const my = (p.y + q.y) / 2;
      return line("cut") + `<text class="edge-label" x="${mx}" y="${my + 4}" text-anchor="middle" aria-label="link ${a}–${b} cut by a partition">✂</text>`;
    }
    if (ab || ba) {
      let out = "";
      const mark = (from, to) => {
        const s = this.positions[from];
        const t = this.positions[to];
        const x = s.x + (t.x - s.x) * 0.35;
        const y = s.y + (t.y - s.y) * 0.35;
        return `<line class="edge blocked" x1="${s.x}" y1="${s.y}" x2="${x + (t.x - s.x) * 0.2}" y2="${y + (t.y - s.y) * 0.2}" marker-end="url(#arrow-block)"/>`
          + `<text class="edge-label" x="${x}" y="${y + 4}" text-anchor="middle" aria-label="link ${from}→${to} blocked">⊘</text>`;
      };
      if (!(ab && ba)) out += line("");
      if (ab) out += mark(a, b);
      if (ba) out += mark(b, a);
      return out;
    }
    return line("");
  }

  node(member, snap, w, h) {
    const { x, y } = this.positions[member.id];
    const left = x - w / 2;
    const top = y - h / 2;
    const isolated = snap.network.isolated.includes(member.id);
    const isPrimary = member.id === snap.primary;
    const replica = member.replica; // null while it is down
    const release = replica?.cluster_release;
    const clusterRelease = primaryOf(snap)?.cluster_release;
    const classes = ["node", member.role, member.status];
    if (isPrimary) classes.push("primary");
    if (this.selected.has(member.id)) classes.push("selected");
    const title = `${isPrimary ? "★ " : ""}${member.id} · ${isPrimary ? "primary" : member.role}`;
    const numbers = replica ? `v${replica.view} · op ${replica.op} · c ${replica.commit}` : "state on disk only";
    const older = release && clusterRelease && release !== clusterRelease;
    // A binary that runs an archived release's real code, not the current code acting old.
    const bin = member.archived ? `bin ${member.binary} ◆` : `bin ${member.binary}`;
    const pills = this.pill(left + 6, top + h - 24, bin, member.archived ? "pill-bin pill-archived" : "pill-bin")
      + (release ? this.pill(left + w - 6 - this.pillWidth(`run ${release}`), top + h - 24, `run ${release}`, older ? "pill-old" : "pill-run") : "");
    const label = `member ${member.id}, ${isPrimary ? "primary, " : ""}${member.role}, ${member.status}${isolated ? ", isolated" : ""}, binary ${member.binary}${member.archived ? " (its real archived code)" : ""}${release ? `, running ${release}` : ""}`;
    return `<g class="${classes.join(" ")}" data-member="${member.id}" tabindex="0" role="button" aria-pressed="${this.selected.has(member.id)}" aria-label="${escapeHtml(label)}">`
      + `<rect class="card" x="${left}" y="${top}" width="${w}" height="${h}" rx="${member.role === "standby" ? 4 : 12}"/>`
      + `<text class="title" x="${left + 10}" y="${top + 19}">${escapeHtml(title)}</text>`
      + `<text class="state" x="${left + 10}" y="${top + 38}">${escapeHtml(STATUS_LABELS[member.status] ?? member.status)}</text>`
      + `<text x="${left + 10}" y="${top + 56}">${escapeHtml(numbers)}</text>`
      + pills
      + (isolated ? `<text class="tag" x="${x}" y="${top + h + 14}" text-anchor="middle" fill="#b91c1c">✂ isolated</text>` : "")
      + (member.role === "removed" ? `<text class="tag" x="${x}" y="${top - 6}" text-anchor="middle">removed</text>` : "")
      + `</g>`;
  }

  pillWidth(text) {
    return Math.min(text.length * 5.6 + 8, 62);
  }

  pill(x, y, text, cls) {
    const width = this.pillWidth(text);
    return `<rect class="pill ${cls}" x="${x}" y="${y}" width="${width}" height="17" rx="8"/>`
      + `<text class="tag" x="${x + width / 2}" y="${y + 12.5}" text-anchor="middle">${escapeHtml(text)}</text>`;
  }

  endpoint(name) {
    if (name.startsWith("c")) return { x: WIDTH / 2, y: HEIGHT / 2 };
    return this.positions[Number(name)] ?? { x: WIDTH / 2, y: HEIGHT / 2 };
  }

  /** Where a message is drawn at (fractional) time `now`. */
  messagePosition(message, now) {
    const from = this.endpoint(message.from);
    const to = this.endpoint(message.to);
    const span = message.deliverAt - message.sentAt;
    const progress = span > 0 ? Math.min(1, Math.max(0, (now - message.sentAt) / span)) : 0.5;
    // Keep the two directions of a link apart.
    const dx = to.x - from.x;
    const dy = to.y - from.y;
    const length = Math.hypot(dx, dy) || 1;
    const offset = 6;
    // From the edge of one card to the edge of the other.
    const margin = Math.min(0.4, 78 / length);
    const along = margin + (1 - 2 * margin) * progress;
    return {
      x: from.x + dx * along + (-dy / length) * offset,
      y: from.y + dy * along + (dx / length) * offset,
    };
  }

  /** Redraw the messages at (fractional) time `now`. */
  renderMessages(now, inspectedKey) {
    if (!this.snap) return;
    let out = "";
    for (const message of this.snap.messages) {
      const { x, y } = this.messagePosition(message, now);
      const inspected = message.key === inspectedKey;
      out += `<g class="msg" data-key="${escapeHtml(message.key)}" tabindex="-1" role="button" aria-label="${escapeHtml(`${message.kind} ${message.from} to ${message.to}`)}">`
        + `<circle r="12" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" fill="transparent" stroke="none"/>`
        + `<circle r="${inspected ? 9 : 6.5}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" fill="${kindColour(message.kind)}"${inspected ? ' stroke="#111" stroke-width="2.5"' : ""}/></g>`;
    }
    setHtml(this.messages, out);
  }
}

/** The legend: message kinds and fault markings. */
export function legendHtml() {
  const kinds = Object.entries(KIND_COLOURS)
    .map(([kind, colour]) => `<span><svg viewBox="0 0 26 14" aria-hidden="true"><circle cx="13" cy="7" r="5.5" fill="${colour}"/></svg>${kind}</span>`)
    .join("");
  const line = (cls, label, glyph = "") =>
    `<span><svg viewBox="0 0 26 14" aria-hidden="true"><line class="edge ${cls}" x1="1" y1="7" x2="25" y2="7"/></svg>${glyph}${label}</span>`;
  return kinds
    + line("", "link up")
    + line("cut", "cut by partition", "✂ ")
    + line("blocked", "blocked one way", "⊘ ")
    + `<span>★ primary (thick border)</span><span>▭ dotted square card: standby</span>`
    + `<span>✕ dashed grey: crashed</span><span>⊘ hatched: halted</span><span>↻ orange border: view change / recovery</span>`
    + `<span><b>bin</b> binary release (◆: the archived release's real code) · <b>run</b> release it runs (yellow: behind the cluster)</span>`;
}
