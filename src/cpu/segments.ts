// Segment descriptors (SDM Vol. 3, 3.4.5) and loading a segment register in protected mode.
import { Fault, Vec } from "./fault.js";
import { Seg } from "./regs.js";
import type { Cpu } from "./cpu.js";

/** Access rights in the VMCS layout (SDM Vol. 3, 24.4.1): descriptor bits 47:40 and 55:52. */
export const enum Ar {
  TYPE = 0xf, ACCESSED = 1, S = 1 << 4, DPL_SHIFT = 5, DPL = 3 << 5, P = 1 << 7,
  AVL = 1 << 12, L = 1 << 13, DB = 1 << 14, G = 1 << 15, UNUSABLE = 1 << 16,
  /** Code segment: type bit 3 set. */
  CODE = 1 << 3,
}

export interface Descriptor {
  base: number; limit: number; attr: number;
  lo: number; hi: number;
}

export function parseDescriptor(lo: number, hi: number): Descriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0x000f0000);
  const attr = ((hi >>> 8) & 0xff) | ((hi >>> 8) & 0xf000);
  if (attr & Ar.G) limit = ((limit << 12) | 0xfff) >>> 0;
  return { base, limit, attr, lo, hi };
}

/** Read the 8-byte descriptor for `sel` from the GDT or LDT; #GP(sel) when outside the table. */
export function readDescriptor(cpu: Cpu, sel: number, vec: number = Vec.GP): { d: Descriptor; addr: number } {
  const ldt = (sel & 4) !== 0;
  const base = ldt ? cpu.ldtr.base : cpu.gdtrBase;
  const limit = ldt ? cpu.ldtr.limit : cpu.gdtrLimit;
  if (ldt && (cpu.ldtr.attr & Ar.UNUSABLE)) throw new Fault(vec, sel & 0xfffc);
  const off = sel & 0xfff8;
  if (off + 7 > limit) throw new Fault(vec, sel & 0xfffc);
  const addr = base + off;
  const lo = cpu.sysRead32(addr), hi = cpu.sysRead32(addr + 4);
  return { d: parseDescriptor(lo, hi), addr };
}

/** MOV/POP to a data or stack segment register, with the SDM's checks. */
export function loadDataSegment(cpu: Cpu, seg: Seg, sel: number): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0) {
    if (seg === Seg.SS && !(cpu.mode === 64 && cpu.cpl !== 3 && (sel & 3) === cpu.cpl)) throw new Fault(Vec.GP, 0);
    cpu.setSegment(seg, sel, 0, 0, Ar.UNUSABLE);
    return;
  }
  const { d, addr } = readDescriptor(cpu, sel);
  const rpl = sel & 3, dpl = (d.attr >> 5) & 3;
  const type = d.attr & 0xf;
  if (!(d.attr & Ar.S)) throw new Fault(Vec.GP, sel & 0xfffc);
  if (seg === Seg.SS) {
    // Writable data segment with RPL = DPL = CPL.
    if ((type & 0xa) !== 0x2 || rpl !== cpu.cpl || dpl !== cpu.cpl) throw new Fault(Vec.GP, sel & 0xfffc);
    if (!(d.attr & Ar.P)) throw new Fault(Vec.SS, sel & 0xfffc);
  } else {
    // Data, or readable code; non-conforming needs max(CPL, RPL) <= DPL.
    if ((type & 0xa) === 0x8) throw new Fault(Vec.GP, sel & 0xfffc);
    const conformingCode = (type & 0xc) === 0xc;
    if (!conformingCode && Math.max(cpu.cpl, rpl) > dpl) throw new Fault(Vec.GP, sel & 0xfffc);
    if (!(d.attr & Ar.P)) throw new Fault(Vec.NP, sel & 0xfffc);
  }
  setAccessedBit(cpu, d, addr);
  cpu.setSegment(seg, sel, d.base, d.limit, d.attr | Ar.ACCESSED);
}

export function setAccessedBit(cpu: Cpu, d: Descriptor, addr: number): void {
  if (!(d.hi & 0x100)) {
    d.hi |= 0x100;
    cpu.sysWrite32(addr + 4, d.hi);
  }
}
