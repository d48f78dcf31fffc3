// Runs a snippet of machine code on a bare CPU in 64-bit or 32-bit protected mode, for unit tests.
// Memory map: GDT 0x3000, IDT 0x4000, fault stubs 0x6000 (one HLT per vector, 16 bytes apart),
// page tables 0x1000/0x2000 (identity map of 4 GiB with 1 GiB pages), stack top 0x80000,
// code at 0x100000 followed by HLT, scratch at 0x200000-0x2fffff.
import { Cpu, type PortBus } from "../src/cpu/cpu.js";
import { Executor } from "../src/cpu/exec.js";
import { PhysicalMemory } from "../src/mem/physical.js";
import { Cr0, Cr4, Efer } from "../src/cpu/control-regs.js";
import { Seg, GPR_NAMES, type GprName } from "../src/cpu/regs.js";
import { hasErrorCode } from "../src/cpu/fault.js";
import type { Stop } from "../src/cpu/fault.js";

export const CODE = 0x100000;
export const SCRATCH = 0x200000;
const STUBS = 0x6000;
const STACK_TOP = 0x80000;

export interface RunOptions {
  code: ArrayLike<number>;
  mode?: 64 | 32;
  regs?: Partial<Record<GprName, bigint>>;
  rflags?: number;
  mem?: Array<{ addr: number; bytes: ArrayLike<number> }>;
  maxInsns?: number;
  io?: PortBus;
  /** Called after set-up, before running: change anything. */
  setup?: (cpu: Cpu) => void;
}

export interface RunResult {
  cpu: Cpu;
  exec: Executor;
  stop: Stop;
  reg(name: GprName | "rip"): bigint;
  flags(): number;
  fault: { vector: number; errorCode: number; rip: bigint } | undefined;
  mem(addr: number, len: number): Uint8Array;
}

const nullIo: PortBus = { in: () => 0xffffffff, out: () => {} };

export function makeCpu(mode: 64 | 32 = 64, io: PortBus = nullIo): { cpu: Cpu; mem: PhysicalMemory; exec: Executor } {
  const mem = new PhysicalMemory(16 << 20);
  const cpu = new Cpu(mem, io);
  const dv = mem.dv;
  // GDT: null, 0x08 64-bit code, 0x10 data, 0x18 32-bit code.
  const gdt = [0n, 0x00209a0000000000n, 0x00cf92000000ffffn, 0x00cf9a000000ffffn];
  gdt.forEach((d, i) => dv.setBigUint64(0x3000 + i * 8, d, true));
  cpu.gdtrBase = 0x3000; cpu.gdtrLimit = gdt.length * 8 - 1;
  for (let v = 0; v < 256; v++) mem.u8[STUBS + v * 16] = 0xf4;
  if (mode === 64) {
    for (let v = 0; v < 256; v++) {
      const off = STUBS + v * 16;
      const a = 0x4000 + v * 16;
      dv.setUint32(a, (off & 0xffff) | (0x08 << 16), true);
      dv.setUint32(a + 4, (off & 0xffff0000) | 0x8e00, true);
      dv.setUint32(a + 8, 0, true);
    }
    cpu.idtrBase = 0x4000; cpu.idtrLimit = 256 * 16 - 1;
    dv.setBigUint64(0x1000, 0x2003n, true);
    for (let i = 0; i < 4; i++) dv.setBigUint64(0x2000 + i * 8, BigInt(i) * 0x40000000n | 0x83n, true);
    cpu.cr3 = 0x1000;
    cpu.cr4 = Cr4.PAE;
    cpu.efer = Efer.LME | Efer.LMA | Efer.NXE;
    cpu.cr0 = Cr0.PE | Cr0.PG | Cr0.ET | Cr0.NE | Cr0.WP;
    cpu.setSegment(Seg.CS, 0x08, 0, 0xffffffff, 0xa09b);
  } else {
    for (let v = 0; v < 256; v++) {
      const off = STUBS + v * 16;
      const a = 0x4000 + v * 8;
      dv.setUint32(a, (off & 0xffff) | (0x18 << 16), true);
      dv.setUint32(a + 4, (off & 0xffff0000) | 0x8e00, true);
    }
    cpu.idtrBase = 0x4000; cpu.idtrLimit = 256 * 8 - 1;
    cpu.cr0 = Cr0.PE | Cr0.ET | Cr0.NE;
    cpu.setSegment(Seg.CS, 0x18, 0, 0xffffffff, 0xc09b);
  }
  for (const s of [Seg.DS, Seg.ES, Seg.SS, Seg.FS, Seg.GS]) cpu.setSegment(s, 0x10, 0, 0xffffffff, 0xc093);
  cpu.updateMode();
  cpu.mmu.flush();
  cpu.set("rsp", BigInt(STACK_TOP));
  return { cpu, mem, exec: new Executor(cpu) };
}

export function runCode(o: RunOptions): RunResult {
  const { cpu, mem, exec } = makeCpu(o.mode ?? 64, o.io);
  const code = Uint8Array.from(o.code);
  mem.u8.set(code, CODE);
  mem.u8[CODE + code.length] = 0xf4;
  for (const m of o.mem ?? []) mem.u8.set(Uint8Array.from(m.bytes), m.addr);
  for (const [k, v] of Object.entries(o.regs ?? {})) cpu.set(k as GprName, v as bigint);
  cpu.setRflags(o.rflags ?? 0x2);
  cpu.rip = CODE;
  o.setup?.(cpu);
  const stop = exec.run(o.maxInsns ?? 1_000_000);
  let fault: RunResult["fault"];
  const rip = Number(cpu.ripU64());
  if (stop.reason === "halt" && rip > STUBS && rip <= STUBS + 256 * 16) {
    const vector = (rip - STUBS - 1) / 16;
    const wide = (o.mode ?? 64) === 64;
    const sp = Number(cpu.get("rsp"));
    const w = wide ? 8 : 4;
    const errorCode = hasErrorCode(vector) ? mem.dv.getUint32(sp, true) : -1;
    const ripAt = sp + (hasErrorCode(vector) ? w : 0);
    const frip = wide ? mem.dv.getBigUint64(ripAt, true) : BigInt(mem.dv.getUint32(ripAt, true));
    fault = { vector, errorCode, rip: frip };
  }
  return {
    cpu, exec, stop, fault,
    reg: (name) => name === "rip" ? cpu.ripU64() : cpu.get64(GPR_NAMES.indexOf(name)),
    flags: () => cpu.getRflags(),
    mem: (addr, len) => mem.u8.slice(addr, addr + len),
  };
}
