// Exception and interrupt delivery through the IVT or IDT (SDM Vol. 3, 6.10-6.15), including the
// double-fault rules and the triple fault that shuts the machine down.
import { Cr0, Efer } from "./control-regs.js";
import { Fault, Stop, Vec, hasErrorCode, isContributory } from "./fault.js";
import { Fl } from "./flags.js";
import { Ar, readDescriptor } from "./segments.js";
import { Seg } from "./regs.js";
import type { Cpu } from "./cpu.js";

const enum GateType { TASK = 5, INT16 = 6, TRAP16 = 7, INT32 = 0xe, TRAP32 = 0xf }

/** Deliver `f` with the double- and triple-fault rules. RIP must be the faulting instruction. */
export function raise(cpu: Cpu, f: Fault): void {
  // A fault while delivering a hardware exception is external to the program (EXT, SDM 6.13).
  let current = f;
  let ext = !f.soft;
  let prev: Fault | undefined;
  for (;;) {
    try {
      // A VM exit caused by `current` while delivering `prev` reports prev as IDT vectoring.
      cpu.vmx.vectoring = prev;
      deliver(cpu, current, ext);
      cpu.vmx.vectoring = undefined;
      return;
    } catch (e) {
      cpu.vmx.vectoring = undefined;
      if (!(e instanceof Fault)) throw e;
      const first = current.vector, second = e.vector;
      // SDM Vol. 3, Table 6-5: a fault while delivering #DF shuts down; contributory pairs and
      // #PF followed by #PF or a contributory fault become #DF; other pairs are handled serially.
      if (first === Vec.DF) throw tripleFault(cpu, current, e);
      const df = (isContributory(first) && isContributory(second)) ||
        (first === Vec.PF && (second === Vec.PF || isContributory(second)));
      prev = df ? undefined : current;
      current = df ? new Fault(Vec.DF, 0) : e;
      ext = true;
    }
  }
}

function tripleFault(cpu: Cpu, first: Fault, second: Fault): Stop {
  // In VMX non-root operation a triple fault is a VM exit (reason 2), not a shutdown.
  if (cpu.vmx.nonRoot) cpu.vmx.exit(2);
  const name = (x: Fault) => x.toString();
  return new Stop("triple-fault",
    `triple fault at RIP 0x${cpu.ripU64().toString(16)}: ${name(first)} could not be delivered (${name(second)}); ` +
    `IDTR base=0x${BigInt.asUintN(64, BigInt(cpu.idtrBase)).toString(16)} limit=0x${cpu.idtrLimit.toString(16)}`);
}

function deliver(cpu: Cpu, f: Fault, ext: boolean): void {
  const vector = f.vector;
  // In VMX non-root operation the exception bitmap may turn an exception into a VM exit
  // (SDM 25.2); INT n is not an exception and never consults it.
  if (cpu.vmx.nonRoot && !f.injected && !f.intN && vector < 32) {
    const errorCode = f.errorCode >= 0 ? f.errorCode : (hasErrorCode(vector) && !f.soft ? 0 : -1);
    if (cpu.vmx.exceptionExits(vector, errorCode)) {
      const type = f.soft ? 6 : 3; // software exception (INT3, INTO) or hardware exception
      const len = Number.isNaN(f.returnRip) ? 0 : f.returnRip - cpu.rip;
      cpu.vmx.exit(0, {
        interruptionInfo: (0x80000000 | (type << 8) | vector | (errorCode >= 0 ? 0x800 : 0)) >>> 0,
        interruptionError: errorCode >= 0 ? errorCode : 0,
        qualification: vector === Vec.PF ? BigInt.asUintN(64, BigInt(f.address)) : 0,
        instructionLength: f.soft ? len : 0,
        rf: Number.isNaN(f.returnRip) && !f.soft && vector !== Vec.DB && vector !== Vec.DF && vector !== Vec.MC,
      });
    }
  }
  if (vector === Vec.PF && !f.soft) cpu.cr2 = BigInt.asUintN(64, BigInt(f.address));
  const returnRip = Number.isNaN(f.returnRip) ? cpu.rip : f.returnRip;
  const errorCode = f.soft ? -1 : f.errorCode >= 0 ? f.errorCode : (hasErrorCode(vector) ? 0 : -1);
  const extBit = ext ? 1 : 0;
  if (!(cpu.cr0 & Cr0.PE)) return deliverReal(cpu, vector, returnRip);
  const long = (cpu.efer & Efer.LMA) !== 0;
  const gateSize = long ? 16 : 8;
  const idtErr = vector * 8 + 2 + extBit;
  if (vector * gateSize + gateSize - 1 > cpu.idtrLimit) throw new Fault(Vec.GP, idtErr);
  const ga = cpu.idtrBase + vector * gateSize;
  const g0 = cpu.sysRead32(ga), g1 = cpu.sysRead32(ga + 4);
  const type = (g1 >> 8) & 0x1f;
  const dpl = (g1 >> 13) & 3;
  const present = (g1 & 0x8000) !== 0;
  const validTypes = long ? [GateType.INT32, GateType.TRAP32] : [GateType.INT16, GateType.TRAP16, GateType.INT32, GateType.TRAP32];
  if (!validTypes.includes(type)) {
    // Task gates need hardware task switching, which this model does not have yet (#3).
    throw new Fault(Vec.GP, idtErr);
  }
  if (f.soft && dpl < cpu.cpl) throw new Fault(Vec.GP, vector * 8 + 2);
  if (!present) throw new Fault(Vec.NP, idtErr);
  const sel = g0 >>> 16;
  let offset = (g0 & 0xffff) | (g1 & 0xffff0000);
  if (long) offset = cpu.sysRead32(ga + 8) * 4294967296 + (offset >>> 0);
  else offset = offset >>> 0;
  if (long && offset >= 2 ** 63) offset -= 2 ** 64;
  if ((sel & 0xfffc) === 0) throw new Fault(Vec.GP, extBit);
  const { d } = readDescriptor(cpu, sel);
  const csErr = (sel & 0xfffc) | extBit;
  if (!(d.attr & Ar.S) || !(d.attr & 8)) throw new Fault(Vec.GP, csErr);
  const csDpl = (d.attr >> 5) & 3;
  if (csDpl > cpu.cpl) throw new Fault(Vec.GP, csErr);
  if (!(d.attr & Ar.P)) throw new Fault(Vec.NP, csErr);
  if (long && (!(d.attr & Ar.L) || (d.attr & Ar.DB))) throw new Fault(Vec.GP, csErr);
  const conforming = (d.attr & 4) !== 0;
  const newCpl = conforming ? cpu.cpl : csDpl;
  const interruptGate = type === GateType.INT32 || type === GateType.INT16;
  // Faults push RF=1 so that IRET back to the instruction does not re-trigger an instruction
  // breakpoint (SDM Vol. 3, 18.3.1.1); traps, INT n and #DB/#DF/#MC do not.
  const fault = Number.isNaN(f.returnRip) && !f.soft && !f.injected && vector !== Vec.DB && vector !== Vec.DF && vector !== Vec.MC;
  const flags = cpu.getRflags() | (fault ? Fl.RF : 0);
  const oldCs = cpu.segSel[Seg.CS], oldSs = cpu.segSel[Seg.SS];
  const oldRsp = cpu.reg(4);

  if (long) {
    const ist = g1 & 7;
    let rsp = oldRsp;
    let newSs = oldSs;
    if (ist !== 0 || newCpl < cpu.cpl) {
      const off = ist !== 0 ? 0x24 + 8 * (ist - 1) : 4 + 8 * newCpl;
      if (off + 7 > cpu.tr.limit) throw new Fault(Vec.TS, (cpu.tr.sel & 0xfffc) | extBit);
      const l = cpu.sysRead32(cpu.tr.base + off), h = cpu.sysRead32(cpu.tr.base + off + 4);
      rsp = h * 4294967296 + (l >>> 0);
      if (newCpl < cpu.cpl) newSs = newCpl; // a null selector with RPL = new CPL
    }
    rsp = Math.floor(rsp / 16) * 16; // 64-bit delivery aligns the new stack to 16 bytes
    const frame: Array<[number, number]> = [
      [oldSs, 0], [oldRsp | 0, Math.floor(oldRsp / 4294967296) | 0], [flags, 0], [oldCs, 0],
      [returnRip | 0, Math.floor(returnRip / 4294967296) | 0],
    ];
    if (errorCode >= 0) frame.push([errorCode, 0]);
    // Write with supervisor rights at the new privilege level; a fault here is a nested fault.
    const savedCpl = cpu.cpl;
    cpu.setCpl(newCpl);
    try {
      let sp = rsp;
      for (const [l, h] of frame) { sp -= 8; cpu.mmu.wr64(sp, l, h); }
      rsp = sp;
    } catch (e) {
      cpu.setCpl(savedCpl);
      throw e;
    }
    if (newCpl !== savedCpl) cpu.setSegment(Seg.SS, newSs, 0, 0, Ar.UNUSABLE | (newCpl << 5));
    cpu.setSegment(Seg.CS, (sel & 0xfffc) | newCpl, d.base, d.limit, d.attr);
    cpu.setRsp(rsp);
  } else {
    if (newCpl < cpu.cpl) {
      // Inner-privilege stack from the 32-bit TSS (ESP0/SS0 pairs at 4 + 8n).
      const off = 4 + 8 * newCpl;
      const esp = cpu.sysRead32(cpu.tr.base + off) >>> 0;
      const ss = cpu.sysRead32(cpu.tr.base + off + 4) & 0xffff;
      const savedCpl = cpu.cpl;
      cpu.setCpl(newCpl);
      try {
        const { d: sd } = readDescriptor(cpu, ss, Vec.TS);
        cpu.setSegment(Seg.SS, ss, sd.base, sd.limit, sd.attr);
        cpu.lo[4] = esp;
        cpu.push32(oldSs); cpu.push32(oldRsp >>> 0);
      } catch (e) {
        cpu.setCpl(savedCpl);
        throw e;
      }
    }
    const gate32 = type === GateType.INT32 || type === GateType.TRAP32;
    const push = (v: number) => gate32 ? cpu.push32(v) : push16(cpu, v);
    push(flags); push(oldCs); push(returnRip >>> 0);
    if (errorCode >= 0) push(errorCode);
    cpu.setSegment(Seg.CS, (sel & 0xfffc) | newCpl, d.base, d.limit, d.attr);
  }
  let fl = cpu.rflags & ~(Fl.TF | Fl.NT | Fl.RF | Fl.VM);
  if (interruptGate) fl &= ~Fl.IF;
  cpu.rflags = fl;
  cpu.rip = offset;
  cpu.interruptShadow = false;
  cpu.movSsShadow = false;
  cpu.exceptionsDelivered++;
  cpu.lastException = vector;
}

function push16(cpu: Cpu, v: number): void {
  const sp = (cpu.lo[4] - 2) & 0xffff;
  cpu.mmu.wr16((cpu.segBase[Seg.SS] + sp) >>> 0, v);
  cpu.lo[4] = (cpu.lo[4] & ~0xffff) | sp;
}

function deliverReal(cpu: Cpu, vector: number, returnRip: number): void {
  if (vector * 4 + 3 > cpu.idtrLimit) throw new Fault(Vec.GP, 0);
  const entry = cpu.mem.read32(cpu.idtrBase + vector * 4);
  push16(cpu, cpu.getRflags() & 0xffff);
  push16(cpu, cpu.segSel[Seg.CS]);
  push16(cpu, returnRip & 0xffff);
  cpu.rflags &= ~(Fl.IF | Fl.TF | Fl.AC);
  const seg = entry >>> 16;
  cpu.setSegment(Seg.CS, seg, seg * 16, 0xffff, cpu.segAttr[Seg.CS]);
  cpu.rip = entry & 0xffff;
  cpu.exceptionsDelivered++;
  cpu.lastException = vector;
}

