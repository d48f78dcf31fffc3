// Throughput benchmark: MIPS of the interpreter on the compute guest (npm run bench).
// Each run gets a fresh V8 isolate (a worker thread), as each `hyperstep run` gets a fresh process:
// compiled code from one machine must not help or hinder the next.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Machine } from "../src/machine/machine.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const GUEST = `${root}guests/build/compute.elf`;

interface RunReport { instructions: number; seconds: number; mips: number; ok: boolean; message: string }

function runOnce(file: string): RunReport {
  const m = new Machine({ serial: () => {} });
  m.load(readFileSync(file), { name: file });
  const r = m.run();
  return { instructions: r.instructions, seconds: r.seconds, mips: r.mips, ok: r.reason === "exit-device" && r.exitStatus === 1, message: r.message };
}

function inWorker(file: string): Promise<RunReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { file } });
    w.once("message", resolve);
    w.once("error", reject);
  });
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const json = process.argv.includes("--json");
  const results: RunReport[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await inWorker(GUEST);
    if (!r.ok) { console.error(`compute guest failed: ${r.message}`); process.exit(1); }
    results.push(r);
    if (!json) console.log(`run ${i + 1}: ${r.instructions} instructions in ${r.seconds.toFixed(3)} s = ${r.mips.toFixed(1)} MIPS`);
  }
  const mips = results.map((r) => r.mips).sort((a, b) => a - b);
  const median = mips[Math.floor(mips.length / 2)];
  const best = mips[mips.length - 1];
  if (json) console.log(JSON.stringify({ mips: Number(median.toFixed(1)), bestMips: Number(best.toFixed(1)), instructions: results[0].instructions, runs }));
  else console.log(`compute: median ${median.toFixed(1)} MIPS, best ${best.toFixed(1)} MIPS (${runs} runs, node ${process.version})`);
}

if (isMainThread) {
  void main();
} else {
  parentPort!.postMessage(runOnce((workerData as { file: string }).file));
}
