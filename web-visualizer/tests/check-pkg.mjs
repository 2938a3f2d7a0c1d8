// Exit 0 when web-visualizer/pkg loads and runs a simulation, 1 otherwise (with why).
// scripts/test-visualizer.sh uses it to catch a module an old wasm-opt broke.
import { readFileSync } from "node:fs";

const pkg = new URL("../pkg/", import.meta.url);
try {
  const { Simulation, initSync } = await import(new URL("viewstamp_wasm.js", pkg));
  initSync({ module: readFileSync(new URL("viewstamp_wasm_bg.wasm", pkg)) });
  const sim = Simulation.fromHeader("cluster replicas=3 standbys=1 seed=7");
  sim.apply("put a 1");
  sim.tick(50);
  if (sim.snapshot().clients[0]?.reply !== "ok") throw new Error("a put did not complete");
  if (typeof sim.seek !== "function" || typeof sim.lagHistory !== "function") throw new Error("the package lacks seek/lagHistory: rebuild it");
  console.log(`web-visualizer/pkg works (digest ${sim.digest()})`);
} catch (error) {
  console.error(`web-visualizer/pkg does not work: ${error.message}`);
  process.exit(1);
}
