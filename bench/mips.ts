// Throughput benchmark: MIPS of the interpreter on the compute guest (npm run bench).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Machine } from "../src/machine/machine.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const file = `${root}guests/build/compute.elf`;
const runs = Number(process.env.BENCH_RUNS ?? 3);
const json = process.argv.includes("--json");

const results: number[] = [];
let instructions = 0;
for (let i = 0; i < runs; i++) {
  let out = "";
  const m = new Machine({ serial: (b) => { out += String.fromCharCode(b); } });
  m.load(readFileSync(file), { name: file });
  const r = m.run();
  if (r.reason !== "exit-device" || r.exitStatus !== 1) {
    console.error(`compute guest failed: ${r.message}\n${out}`);
    process.exit(1);
  }
  instructions = r.instructions;
  results.push(r.mips);
  if (!json) console.log(`run ${i + 1}: ${r.instructions} instructions in ${r.seconds.toFixed(3)} s = ${r.mips.toFixed(1)} MIPS`);
}
const best = Math.max(...results);
const median = [...results].sort((a, b) => a - b)[Math.floor(results.length / 2)];
if (json) console.log(JSON.stringify({ mips: Number(median.toFixed(1)), bestMips: Number(best.toFixed(1)), instructions, runs }));
else console.log(`compute: median ${median.toFixed(1)} MIPS, best ${best.toFixed(1)} MIPS (${runs} runs, node ${process.version})`);
