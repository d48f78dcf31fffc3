// --stats: what the run did, on stderr at the end.
import type { Machine, RunResult } from "../machine/machine.js";
import { exitReasonName } from "../vmx/reasons.js";

export function formatStats(m: Machine, r: RunResult): string {
  const c = m.exec.cache.stats;
  const hit = c.lookups > 0 ? (100 * c.hits / c.lookups).toFixed(2) : "0.00";
  const lines = [
    `instructions retired: ${m.cpu.icount}`,
    `wall seconds:         ${r.seconds.toFixed(3)}`,
    `MIPS:                 ${r.mips.toFixed(1)}`,
    `decode cache:         ${hit}% block hit rate (${c.lookups} lookups, ${c.compiles} blocks compiled, ${c.decodedInsns} instructions decoded, ${c.invalidations} invalidated)`,
    `exceptions delivered: ${m.cpu.exceptionsDelivered}`,
    `TLB:                  ${m.cpu.mmu.stats.misses} misses, ${m.cpu.mmu.stats.flushes} flushes`,
  ];
  const vmx = m.cpu.vmx.stats;
  if (vmx.entries > 0 || vmx.exits > 0) {
    const reasons = [...vmx.exitsByReason.entries()].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${exitReasonName(r)} x${n}`);
    lines.push(`VMX:                  ${vmx.entries} VM entries, ${vmx.exits} VM exits${reasons.length ? ` (${reasons.join(", ")})` : ""}`);
  }
  const ud = [...m.cpu.udMnemonics.entries()].sort((a, b) => b[1] - a[1]);
  lines.push(`#UD (not implemented): ${ud.length === 0 ? "none" : ud.map(([k, v]) => `${k} x${v}`).join(", ")}`);
  const ports = [...m.io.unclaimed.entries()].sort((a, b) => a[0] - b[0]);
  lines.push(`unclaimed ports:      ${ports.length === 0 ? "none" : ports.map(([p, n]) => `0x${p.toString(16)} x${n}`).join(", ")}`);
  return lines.map((l) => `hyperstep: ${l}\n`).join("");
}
