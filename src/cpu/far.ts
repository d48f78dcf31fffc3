// Far control transfers to a code segment at the same privilege level (SDM Vol. 3, 5.8).
import { Fault, Vec } from "./fault.js";
import { Ar, readDescriptor, setAccessedBit } from "./segments.js";
import { Seg } from "./regs.js";
import type { Cpu } from "./cpu.js";
import { Efer } from "./control-regs.js";
import { isCanonical } from "../mem/paging.js";

/**
 * Load CS:RIP for a far JMP, CALL or RET. Gates, task switches and privilege changes are not
 * modelled yet: they raise #GP(selector) in the guest rather than being skipped.
 */
export function loadCodeSegment(cpu: Cpu, sel: number, offset: number, kind: "jmp" | "call" | "ret"): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0) throw new Fault(Vec.GP, 0);
  const { d, addr } = readDescriptor(cpu, sel);
  const err = sel & 0xfffc;
  const type = d.attr & 0xf;
  if (!(d.attr & Ar.S) || !(type & 8)) throw new Fault(Vec.GP, err);
  const dpl = (d.attr >> 5) & 3, rpl = sel & 3;
  const conforming = (type & 4) !== 0;
  if (kind === "ret") {
    if (rpl !== cpu.cpl) throw new Fault(Vec.GP, err);
    if (conforming ? dpl > rpl : dpl !== rpl) throw new Fault(Vec.GP, err);
  } else if (conforming) {
    if (dpl > cpu.cpl) throw new Fault(Vec.GP, err);
  } else if (rpl > cpu.cpl || dpl !== cpu.cpl) {
    throw new Fault(Vec.GP, err);
  }
  if (!(d.attr & Ar.P)) throw new Fault(Vec.NP, err);
  const long = (cpu.efer & Efer.LMA) !== 0 && (d.attr & Ar.L) !== 0;
  if (long && (d.attr & Ar.DB)) throw new Fault(Vec.GP, err);
  if (long) {
    if (!isCanonical(offset)) throw new Fault(Vec.GP, 0);
  } else {
    offset = (d.attr & Ar.DB) ? offset >>> 0 : offset & 0xffff;
    if (offset > d.limit) throw new Fault(Vec.GP, 0);
  }
  setAccessedBit(cpu, d, addr);
  cpu.setSegment(Seg.CS, (sel & 0xfffc) | cpu.cpl, d.base, d.limit, d.attr | Ar.ACCESSED);
  cpu.rip = offset;
}
