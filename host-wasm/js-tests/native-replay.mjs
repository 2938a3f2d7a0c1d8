// `viewstamp replay` of a script, for the tests that compare the browser API's digests
// with the native engine's. Not a test file (node --test runs only *.test.mjs).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The digest `viewstamp replay --quiet [flags]` prints for `script`; null without VIEWSTAMP_BIN. */
export function digestOfNativeReplay(script, flags = []) {
  const bin = process.env.VIEWSTAMP_BIN;
  if (!bin) return null;
  const file = join(mkdtempSync(join(tmpdir(), "viewstamp-")), "export.scenario");
  writeFileSync(file, script);
  let output;
  try {
    output = execFileSync(bin, ["replay", "--quiet", ...flags, file], { encoding: "utf8" });
  } catch (error) {
    output = error.stdout; // exit status 1: a failed expectation still prints the digest
  }
  return /digest=([0-9a-f]{16})/.exec(output)[1];
}
