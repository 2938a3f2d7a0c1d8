// A run as a URL: the scenario script, percent-encoded, in the hash (`#scenario=...`),
// so a link carries the whole run and no server sees it.

const KEY = "scenario";

export function shareUrl(href, script) {
  const url = new URL(href);
  url.hash = `${KEY}=${encodeURIComponent(script)}`;
  return url.toString();
}

/** The script in a hash, or null. */
export function scriptFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const value = params.get(KEY);
  return value && value.trim() ? value : null;
}
