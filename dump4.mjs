import { readFileSync } from "node:fs";
import { Machine } from "./dist/src/machine/machine.js";
const m = new Machine({});
m.load(readFileSync("guests/build/compute.elf"), {});
const t0 = performance.now();
m.run({ maxInstructions: 70_000_000 });
console.log("ms", performance.now() - t0);
const blocks = [...m.exec.cache["byKey"].values()].sort((a, b) => b.runs * b.ops.length - a.runs * a.ops.length);
let tot = 0; for (const b of blocks) tot += b.runs * b.ops.length;
for (const b of blocks.slice(0, 14)) {
  const st = b.fused ? eval("%GetOptimizationStatus(b.fused)") : -1;
  console.log(`${(100 * b.runs * b.ops.length / tot).toFixed(1)}% runs=${b.runs} len=${b.ops.length} status=${st.toString(2)} srclen=${b.fused?.toString().length}`);
}
