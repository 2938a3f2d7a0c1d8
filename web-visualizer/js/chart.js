// A hand-drawn SVG line chart: each standby's lag (ops behind) over simulated time.

import { escapeHtml } from "./dom.js";

const SERIES_STYLES = [
  { colour: "#2458c6", dash: "" },
  { colour: "#c2410c", dash: "6 3" },
  { colour: "#15803d", dash: "2 3" },
  { colour: "#7c3aed", dash: "8 3 2 3" },
  { colour: "#be123c", dash: "4 4" },
  { colour: "#0e7490", dash: "1 2" },
];

/** `series`: Map standby -> [{ t, lag }]. */
export function lagChartSvg(series, now, width = 420, height = 150) {
  const pad = { left: 38, right: 10, top: 12, bottom: 26 };
  const all = [...series.values()].flat();
  if (all.length === 0) {
    return `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#5f6b7a" font-size="12">no standby lag reported yet (standbys follow from 1.1.0)</text>`;
  }
  const tMin = Math.min(...all.map((s) => s.t));
  const tMax = Math.max(now, tMin + 1);
  const lagMax = Math.max(4, ...all.map((s) => s.lag));
  const x = (t) => pad.left + ((t - tMin) / (tMax - tMin)) * (width - pad.left - pad.right);
  const y = (lag) => height - pad.bottom - (lag / lagMax) * (height - pad.top - pad.bottom);
  let out = `<line x1="${pad.left}" y1="${y(0)}" x2="${width - pad.right}" y2="${y(0)}" stroke="#9aa5b1"/>`
    + `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${y(0)}" stroke="#9aa5b1"/>`;
  for (const tick of [0, Math.round(lagMax / 2), lagMax]) {
    out += `<text x="${pad.left - 5}" y="${y(tick) + 4}" text-anchor="end" font-size="10" fill="#5f6b7a">${tick}</text>`;
    if (tick) out += `<line x1="${pad.left}" y1="${y(tick)}" x2="${width - pad.right}" y2="${y(tick)}" stroke="#edf0f4"/>`;
  }
  out += `<text x="${pad.left}" y="${height - 8}" font-size="10" fill="#5f6b7a">t=${tMin}</text>`
    + `<text x="${width - pad.right}" y="${height - 8}" font-size="10" fill="#5f6b7a" text-anchor="end">t=${tMax} (ticks)</text>`
    + `<text x="${(width) / 2}" y="${height - 8}" font-size="10" fill="#5f6b7a" text-anchor="middle">lag in ops</text>`;
  let index = 0;
  for (const [member, samples] of series) {
    const style = SERIES_STYLES[index++ % SERIES_STYLES.length];
    if (samples.length === 0) continue;
    // A step line: lag holds until the next sample.
    let d = `M${x(samples[0].t).toFixed(1)},${y(samples[0].lag).toFixed(1)}`;
    for (let i = 1; i < samples.length; i++) {
      d += `H${x(samples[i].t).toFixed(1)}V${y(samples[i].lag).toFixed(1)}`;
    }
    d += `H${x(now).toFixed(1)}`;
    const last = samples[samples.length - 1];
    out += `<path d="${d}" fill="none" stroke="${style.colour}" stroke-width="2" stroke-dasharray="${style.dash}"/>`
      + `<text x="${width - pad.right}" y="${y(last.lag) - 4}" text-anchor="end" font-size="11" fill="${style.colour}" font-weight="600">${escapeHtml(`standby ${member}: ${last.lag}`)}</text>`;
  }
  return out;
}
