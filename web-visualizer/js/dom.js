// Small DOM helpers.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** Set innerHTML only when it changed (keeps scroll and selection, saves layout). */
export function setHtml(element, html) {
  if (element.__html !== html) {
    element.innerHTML = html;
    element.__html = html;
  }
}

/** Replace a select's options, keeping the chosen value when it is still offered. */
export function setOptions(select, options) {
  const html = options.map(([value, label]) => `<option value="${escapeHtml(value)}">${escapeHtml(label)}</option>`).join("");
  if (select.__html === html) return;
  const chosen = select.value;
  select.innerHTML = html;
  select.__html = html;
  if (options.some(([value]) => value === chosen)) select.value = chosen;
}
