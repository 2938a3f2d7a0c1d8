// Exit 0 when web-visualizer/pkg loads and runs a simulation, and its archived
// releases (pkg/releases/) run a 1.3.0 member; 1 otherwise (with why).
// scripts/test-visualizer.sh uses it to catch a module an old wasm-opt broke.
import { readFileSync } from "node:fs";
import { archiveFromBytes } from "../js/archive.js";

const pkg = new URL("../pkg/", import.meta.url);
try {
  const { Simulation, initSync } = await import(new URL("viewstamp_wasm.js", pkg));
  initSync({ module: readFileSync(new URL("viewstamp_wasm_bg.wasm", pkg)) });
  const sim = Simulation.fromHeader("cluster replicas=3 standbys=1 seed=7");
  sim.apply("put a 1");
  sim.tick(50);
  if (sim.snapshot().clients[0]?.reply !== "ok") throw new Error("a put did not complete");
  if (typeof sim.seek !== "function" || typeof sim.lagHistory !== "function") throw new Error("the package lacks seek/lagHistory: rebuild it");
  const releases = new URL("releases/", pkg);
  const index = JSON.parse(readFileSync(new URL("index.json", releases), "utf8"));
  const archive = await archiveFromBytes(index.map(({ release, file, sha256 }) => ({ release, sha256, bytes: readFileSync(new URL(file, releases)) })));
  if (!archive.releases().includes("1.3.0")) throw new Error("pkg/releases/ lacks 1.3.0: rebuild it with scripts/build-wasm.sh");
  const old = Simulation.fromHeader("cluster replicas=3 seed=7 binary=1.3.0", archive);
  old.apply("put a 1");
  old.tick(50);
  if (old.snapshot().members[0].archived !== "1.3.0") throw new Error("a 1.3.0 member did not run the archived module");
  if (old.snapshot().clients[0]?.reply !== "ok") throw new Error("a put on the archived 1.3.0 code did not complete");
  console.log(`web-visualizer/pkg works (digest ${sim.digest()}; archived ${archive.releases().join(", ")})`);
} catch (error) {
  console.error(`web-visualizer/pkg does not work: ${error.message}`);
  process.exit(1);
}
