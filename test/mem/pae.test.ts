// PAE paging: the four PDPTEs are loaded with CR3 (and when PAE paging is switched on) and used
// from there, not re-read from memory on each walk (SDM Vol. 3, 4.4.1).
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import type { Cpu } from "../../src/cpu/cpu.js";

const PDPT = 0x300000, PD = 0x301000;

function paeTables(cpu: Cpu, pdpte0 = BigInt(PD) | 1n): void {
  const dv = cpu.mem.dv;
  dv.setBigUint64(PDPT, pdpte0, true);
  for (let i = 1; i < 4; i++) dv.setBigUint64(PDPT + i * 8, 0n, true);
  for (let i = 0; i < 512; i++) dv.setBigUint64(PD + i * 8, (BigInt(i) << 21n) | 0x83n, true);
  dv.setUint32(0x400000, 0xcafe, true);
}

// mov $0x20,%eax; mov %eax,%cr4; mov $0x300000,%eax; mov %eax,%cr3; mov %cr0,%eax;
// or $0x80000000,%eax; mov %eax,%cr0; mov 0x400000,%ebx; movl $0,0x300000; invlpg 0x400000;
// mov 0x400000,%ecx; mov %cr3,%eax; mov %eax,%cr3; nop
const CODE = [0xb8, 0x20, 0, 0, 0, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x00, 0x30, 0x00, 0x0f, 0x22, 0xd8,
  0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0x8b, 0x1d, 0x00, 0x00, 0x40, 0x00,
  0xc7, 0x05, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x3d, 0x00, 0x00, 0x40, 0x00,
  0x8b, 0x0d, 0x00, 0x00, 0x40, 0x00, 0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x90];

describe("PAE paging PDPTEs", () => {
  it("a cleared PDPTE in memory is not seen until CR3 is reloaded", () => {
    const r = runCode({ code: CODE, mode: 32, setup: (cpu) => paeTables(cpu) });
    // Still translated through the loaded PDPTE after the memory copy was cleared and INVLPG.
    expect(r.reg("rbx")).toBe(0xcafen);
    expect(r.reg("rcx")).toBe(0xcafen);
    // Reloading CR3 loads the not-present PDPTE: the next fetch (everything is below 1 GiB) faults
    // and so does every handler: the machine shuts down.
    expect(r.stop.reason).toBe("triple-fault");
    expect(r.cpu.cr2).toBe(BigInt(0x100000 + CODE.length - 1));
  });

  it("MOV CR3 with a present PDPTE that sets reserved bits raises #GP(0)", () => {
    // Enable PAE paging with good tables, then point CR3 at a PDPT whose PDPTE0 has bit 1 set.
    const code = CODE.slice(0, 27).concat([0xb8, 0x00, 0x20, 0x30, 0x00, 0x0f, 0x22, 0xd8]); // mov $0x302000,%eax; mov %eax,%cr3
    const r = runCode({
      code, mode: 32,
      setup: (cpu) => { paeTables(cpu); cpu.mem.dv.setBigUint64(0x302000, BigInt(PD) | 3n, true); },
    });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: BigInt(0x100000 + 27 + 5) });
    expect(r.cpu.cr3).toBe(PDPT);
  });
});
