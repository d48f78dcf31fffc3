// Nested VM-exit benchmark: the cost of one CPUID exit round trip (npm run bench).
// The vmx-bench guest is a hypervisor whose 64-bit guest runs 200000 CPUIDs; each one exits to
// the guest hypervisor's handler (save GPRs, VMREAD reason/length/RIP, VMWRITE RIP, restore,
// VMRESUME). ns per round trip = wall time of the whole run / VM exits: boot and VMX set-up are
// included but are a few thousand instructions next to the ~17 million of the loop.
// As in mips.ts, each run gets a fresh V8 isolate (a worker thread).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Machine } from "../src/machine/machine.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const GUEST = `${root}guests/build/vmx-bench.elf`;
/** Basic exit reason 10: CPUID. */
const EXIT_REASON_CPUID = 10;

interface RunReport {
  instructions: number;
  seconds: number;
  /** All VM exits (the CPUIDs plus the final VMCALL). */
  exits: number;
  cpuidExits: number;
  ok: boolean;
  message: string;
}

function runOnce(file: string): RunReport {
  let out = "";
  const m = new Machine({ memMiB: 256, serial: (b) => { out += String.fromCharCode(b); } });
  m.load(readFileSync(file), { name: file });
  const r = m.run();
  const stats = m.cpu.vmx.stats;
  const passed = /^vmx-bench: all \d+ checks passed$/m.test(out);
  return {
    instructions: r.instructions,
    seconds: r.seconds,
    exits: stats.exits,
    cpuidExits: stats.exitsByReason.get(EXIT_REASON_CPUID) ?? 0,
    ok: r.reason === "exit-device" && r.exitStatus === 1 && passed,
    message: passed ? r.message : `${r.message}; guest output:\n${out}`,
  };
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
    if (!r.ok) { console.error(`vmx-bench guest failed: ${r.message}`); process.exit(1); }
    if (r.cpuidExits !== r.exits - 1 || (results.length > 0 && r.exits !== results[0].exits)) {
      console.error(`vmx-bench: unexpected exit count: ${r.exits} VM exits, ${r.cpuidExits} CPUID`);
      process.exit(1);
    }
    results.push(r);
    if (!json) {
      console.log(`run ${i + 1}: ${r.exits} VM exits in ${r.seconds.toFixed(3)} s = ${(r.seconds * 1e9 / r.exits).toFixed(0)} ns per round trip`);
    }
  }
  const ns = results.map((r) => r.seconds * 1e9 / r.exits).sort((a, b) => a - b);
  const median = ns[Math.floor(ns.length / 2)];
  const best = ns[0];
  const first = results[0];
  const insnsPerTrip = first.instructions / first.exits;
  if (json) {
    console.log(JSON.stringify({
      nestedExitNs: { cpuid: Math.round(median) },
      bestNestedExitNs: { cpuid: Math.round(best) },
      cpuidExits: first.cpuidExits,
      vmExits: first.exits,
      instructionsPerRoundTrip: Number(insnsPerTrip.toFixed(1)),
      runs,
    }));
  } else {
    console.log(
      `nested CPUID exit round trip: median ${median.toFixed(0)} ns (best ${best.toFixed(0)} ns), ` +
        `${first.cpuidExits} exits, ${first.exits} VM exits total`,
    );
    console.log(
      `  ${insnsPerTrip.toFixed(1)} instructions per round trip (guest loop + exit handler; ` +
        `${first.instructions} in all), ${runs} runs, node ${process.version}`,
    );
  }
}

if (isMainThread) {
  void main();
} else {
  parentPort!.postMessage(runOnce((workerData as { file: string }).file));
}
