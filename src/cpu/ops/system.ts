// System instructions: MOV CR, RDMSR/WRMSR, CPUID, RDTSC, descriptor tables, INVLPG, port I/O,
// HLT, CLI/STI, INT n, INT3, IRET, UD2.
import { Mnemonic, OpKind, Register } from "iced-x86";
import type { Compiler, Ctx, Op } from "../context.js";
import { Cr0, CR0_DEFINED, Cr4, CR4_SUPPORTED, Efer } from "../control-regs.js";
import { Fault, Stop, Vec, gp0, ud } from "../fault.js";
import { Fl } from "../flags.js";
import { gpr, operandSize, segIndex } from "../operands.js";
import { REP_BUDGET, RUNTIME } from "../codegen.js";
import { effectiveAddress } from "../operands.js";
import { Ar, readDescriptor } from "../segments.js";
import { isCanonical, loadPdptes } from "../../mem/paging.js";
import { Seg } from "../regs.js";
import type { Cpu } from "../cpu.js";
import { loadCodeSegment } from "../far.js";
import { loadDataSegment } from "../segments.js";
import { ExitReason, encodeCrAccess, encodeIo } from "../../vmx/reasons.js";
import { memInfo } from "../../vmx/instructions.js";
import { Proc2Ctl, ProcCtl } from "../../vmx/controls.js";
import { F } from "../../vmx/fields.js";

const requireCpl0 = (cpu: Cpu): void => { if (cpu.cpl !== 0) gp0(); };

// ---------------------------------------------------------------- control registers
/** In VMX operation CR0 and CR4 must keep the fixed bits of IA32_VMX_CR0/CR4_FIXED0/1. */
function vmxFixedOk(cpu: Cpu, n: 0 | 4, v: number): boolean {
  if (!cpu.vmx.on) return true;
  const caps = cpu.vmx.caps;
  const f0 = n === 0 ? caps.cr0Fixed0 : caps.cr4Fixed0, f1 = n === 0 ? caps.cr0Fixed1 : caps.cr4Fixed1;
  return ((v & f0) >>> 0) === f0 >>> 0 && (v & ~f1) === 0;
}

/** PAE paging (not IA-32e) is on: CR0.PG, CR4.PAE, EFER.LMA clear. */
function paePaging(cpu: Cpu): boolean {
  return (cpu.cr0 & Cr0.PG) !== 0 && (cpu.cr4 & Cr4.PAE) !== 0 && (cpu.efer & Efer.LMA) === 0;
}

/** Load the PDPTEs when PAE paging is (now) on; a reserved bit in one is #GP(0) (SDM 4.4.1). */
function reloadPdptes(cpu: Cpu): void {
  if (paePaging(cpu) && !loadPdptes(cpu.mem, cpu)) gp0();
}

export function writeCr(cpu: Cpu, n: number, lo: number, hi: number): void {
  switch (n) {
    case 0: {
      if (hi !== 0 || (lo & ~CR0_DEFINED) !== 0) gp0();
      if (!vmxFixedOk(cpu, 0, (lo | Cr0.ET) >>> 0)) gp0();
      const v = (lo | Cr0.ET) >>> 0;
      if ((v & Cr0.PG) && !(v & Cr0.PE)) gp0();
      if ((v & Cr0.NW) && !(v & Cr0.CD)) gp0();
      const old = cpu.cr0;
      const enablingPaging = (v & Cr0.PG) !== 0 && (old & Cr0.PG) === 0;
      if (enablingPaging && (cpu.efer & Efer.LME)) {
        if (!(cpu.cr4 & Cr4.PAE)) gp0();
        if (cpu.segAttr[Seg.CS] & Ar.L) gp0();
        cpu.efer |= Efer.LMA;
      }
      if (!(v & Cr0.PG) && (old & Cr0.PG)) {
        if (cpu.mode === 64) gp0();
        cpu.efer &= ~Efer.LMA;
      }
      cpu.cr0 = v;
      if ((old ^ v) & (Cr0.PG | Cr0.CD | Cr0.NW) && (v & Cr0.PG)) {
        try { reloadPdptes(cpu); } catch (e) { cpu.cr0 = old; throw e; }
      }
      if ((old ^ v) & (Cr0.PG | Cr0.WP | Cr0.PE)) cpu.mmu.flush();
      cpu.updateMode();
      return;
    }
    case 2: cpu.cr2 = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0); return;
    case 3: {
      const v = (hi >>> 0) * 4294967296 + (lo >>> 0);
      // Bits above MAXPHYADDR are reserved in IA-32e mode (no PCID in this model).
      if (cpu.efer & Efer.LMA) { if (hi >>> 0 >= 1 << (cpu.cpuid.physBits - 32)) gp0(); cpu.cr3 = v; }
      else {
        const prev = cpu.cr3;
        cpu.cr3 = lo >>> 0;
        try { reloadPdptes(cpu); } catch (e) { cpu.cr3 = prev; throw e; }
      }
      cpu.mmu.flush();
      return;
    }
    case 4: {
      if (hi !== 0 || (lo & ~CR4_SUPPORTED) !== 0) gp0();
      if (!vmxFixedOk(cpu, 4, lo >>> 0)) gp0();
      if ((cpu.efer & Efer.LMA) && !(lo & Cr4.PAE)) gp0();
      const old = cpu.cr4;
      cpu.cr4 = lo >>> 0;
      if ((old ^ lo) & (Cr4.PAE | Cr4.PGE | Cr4.PSE | Cr4.SMEP)) {
        try { reloadPdptes(cpu); } catch (e) { cpu.cr4 = old; throw e; }
      }
      if ((old ^ lo) & (Cr4.PAE | Cr4.PSE | Cr4.PGE | Cr4.SMEP | Cr4.SMAP)) cpu.mmu.flush();
      return;
    }
    case 8: if (hi !== 0 || (lo & ~0xf) !== 0) gp0(); cpu.cr8 = lo & 0xf; return;
    default: throw new Fault(Vec.UD);
  }
}

/** CRn as a number; CR2 (any 64-bit value) is read with readCr2. */
export function readCr(cpu: Cpu, n: number): number {
  switch (n) {
    case 0: return cpu.cr0;
    case 3: return cpu.cr3;
    case 4: return cpu.cr4;
    case 8: return cpu.cr8;
    default: throw new Fault(Vec.UD);
  }
}

const movCr: Compiler = (c) => {
  const ins = c.ins;
  const { cpu, lo, hi } = c;
  const len = c.next - c.rip;
  const r0 = ins.op0Register, r1 = ins.op1Register;
  if (r0 >= Register.CR0 && r0 <= Register.CR15) {
    const n = r0 - Register.CR0;
    const g = gpr(r1)!;
    const wide = g.size === 8;
    const qual = encodeCrAccess({ cr: n, accessType: "mov-to-cr", gpr: g.idx });
    return () => {
      requireCpl0(cpu);
      let v = lo[g.idx];
      const vh = wide ? hi[g.idx] : 0;
      if (cpu.vmx.nonRoot) {
        v = movToCrNonRoot(cpu, n, v, vh, qual, len, c.rip);
      }
      writeCr(cpu, n, v, vh);
    };
  }
  if (r1 >= Register.CR0 && r1 <= Register.CR15) {
    const n = r1 - Register.CR0;
    const g = gpr(r0)!;
    const qual = encodeCrAccess({ cr: n, accessType: "mov-from-cr", gpr: g.idx });
    if (n === 2) {
      return () => {
        requireCpl0(cpu);
        lo[g.idx] = Number(cpu.cr2 & 0xffffffffn) | 0;
        hi[g.idx] = g.size === 8 ? Number(cpu.cr2 >> 32n) | 0 : 0;
      };
    }
    return () => {
      requireCpl0(cpu);
      let v = readCr(cpu, n);
      const vmx = cpu.vmx;
      if (vmx.nonRoot) {
        if ((n === 3 && vmx.procCtl(ProcCtl.CR3_STORE_EXITING)) || (n === 8 && vmx.procCtl(ProcCtl.CR8_STORE_EXITING))) {
          vmx.exit(ExitReason.CR_ACCESS, { qualification: qual, instructionLength: len, rip: c.rip });
        }
        if (n === 0 || n === 4) v = vmx.readShadowed(n, v);
      }
      lo[g.idx] = v | 0;
      hi[g.idx] = g.size === 8 ? Math.floor(v / 4294967296) | 0 : 0;
    };
  }
  return undefined; // debug registers: #UD until #3
};

/**
 * MOV to CR in VMX non-root operation (SDM 25.1.3, 25.3): exit when a host-owned CR0/CR4 bit
 * would change against the read shadow, on CR3 loads outside the CR3-target list, and on CR8
 * loads; otherwise host-owned bits keep their values. Returns the value to write.
 */
function movToCrNonRoot(cpu: Cpu, n: number, v: number, vh: number, qual: number, len: number, rip: number): number {
  const vmx = cpu.vmx;
  const exit = (): never => vmx.exit(ExitReason.CR_ACCESS, { qualification: qual, instructionLength: len, rip });
  if (n === 0 || n === 4) {
    const mask = n === 0 ? vmx.cr0Mask : vmx.cr4Mask;
    const shadow = n === 0 ? vmx.cr0Shadow : vmx.cr4Shadow;
    if (((v ^ shadow) & mask) !== 0) exit();
    const cur = n === 0 ? cpu.cr0 : cpu.cr4;
    return ((v & ~mask) | (cur & mask)) | 0;
  }
  if (n === 3 && vmx.procCtl(ProcCtl.CR3_LOAD_EXITING)) {
    const value = (vh >>> 0) * 4294967296 + (v >>> 0);
    const count = vmx.vmcs.u32(F.CR3_TARGET_COUNT);
    let hit = false;
    for (let i = 0; i < count && i < 4; i++) if (vmx.vmcs.unum(F.CR3_TARGET_VALUE0 + 2 * i) === value) hit = true;
    if (!hit) exit();
  }
  if (n === 8 && vmx.procCtl(ProcCtl.CR8_LOAD_EXITING)) exit();
  return v;
}

// ---------------------------------------------------------------- MSRs, CPUID, TSC
const rdmsr: Compiler = (c) => {
  const { cpu, lo, hi } = c;
  const len = c.next - c.rip;
  return () => {
    requireCpl0(cpu);
    if (cpu.vmx.nonRoot && cpu.vmx.msrExits(lo[1] >>> 0, false)) { cpu.vmx.exitInPlace(ExitReason.RDMSR, { instructionLength: len, rip: c.rip }); return; }
    let v = cpu.msr.read(lo[1] >>> 0);
    // TSC offsetting applies to RDMSR of IA32_TIME_STAMP_COUNTER as to RDTSC (SDM 25.3).
    if (cpu.vmx.nonRoot && (lo[1] >>> 0) === 0x10 && cpu.vmx.procCtl(ProcCtl.USE_TSC_OFFSETTING)) {
      v = BigInt.asUintN(64, v + cpu.vmx.vmcs.read(F.TSC_OFFSET));
    }
    lo[0] = Number(v & 0xffffffffn) | 0; hi[0] = 0;
    lo[2] = Number(v >> 32n) | 0; hi[2] = 0;
  };
};
const wrmsr: Compiler = (c) => {
  const { cpu, lo } = c;
  const len = c.next - c.rip;
  return () => {
    requireCpl0(cpu);
    if (cpu.vmx.nonRoot && cpu.vmx.msrExits(lo[1] >>> 0, true)) { cpu.vmx.exitInPlace(ExitReason.WRMSR, { instructionLength: len, rip: c.rip }); return; }
    cpu.msr.write(lo[1] >>> 0, (BigInt(lo[2] >>> 0) << 32n) | BigInt(lo[0] >>> 0));
  };
};
const cpuid: Compiler = (c) => {
  const { cpu, lo, hi } = c;
  const len = c.next - c.rip;
  return () => {
    if (cpu.vmx.nonRoot) { cpu.vmx.exitInPlace(ExitReason.CPUID, { instructionLength: len, rip: c.rip }); return; }
    const r = cpu.cpuid.query(lo[0] >>> 0, lo[1] >>> 0);
    lo[0] = r[0]; lo[3] = r[1]; lo[1] = r[2]; lo[2] = r[3];
    hi[0] = hi[3] = hi[1] = hi[2] = 0;
  };
};
/**
 * RDTSC and RDTSCP (which also loads ECX with IA32_TSC_AUX). In VMX non-root operation RDTSCP
 * is #UD unless "enable RDTSCP" is set; both exit under "RDTSC exiting" (reasons 16 and 51) and
 * add TSC_OFFSET under "use TSC offsetting" (SDM 25.3).
 */
function readTsc(withAux: boolean): Compiler {
  return (c) => {
    const { cpu, lo, hi } = c;
    const len = c.next - c.rip;
    return () => {
      const vmx = cpu.vmx;
      if (withAux && vmx.nonRoot && !vmx.proc2Ctl(Proc2Ctl.ENABLE_RDTSCP)) throw new Fault(Vec.UD);
      if ((cpu.cr4 & Cr4.TSD) && cpu.cpl !== 0) gp0();
      let t = cpu.msr.tsc();
      if (vmx.nonRoot) {
        if (vmx.procCtl(ProcCtl.RDTSC_EXITING)) {
          vmx.exitInPlace(withAux ? ExitReason.RDTSCP : ExitReason.RDTSC, { instructionLength: len, rip: c.rip });
          return;
        }
        if (vmx.procCtl(ProcCtl.USE_TSC_OFFSETTING)) t = BigInt.asUintN(64, t + vmx.vmcs.read(F.TSC_OFFSET));
      }
      lo[0] = Number(t & 0xffffffffn) | 0; hi[0] = 0;
      lo[2] = Number(t >> 32n) | 0; hi[2] = 0;
      if (withAux) { lo[1] = cpu.msr.tscAux | 0; hi[1] = 0; }
    };
  };
}

// ---------------------------------------------------------------- descriptor tables
/**
 * "Descriptor-table exiting" (SDM 25.1.3): LGDT/LIDT/SGDT/SIDT exit with reason 46 and
 * LLDT/LTR/SLDT/STR with 47; the instruction-information identity is in bits 29:28.
 */
function descriptorTableExit(c: Ctx, identity: number, ldtTr: boolean): () => void {
  const cpu = c.cpu, len = c.next - c.rip;
  let info: number, disp = 0;
  if (c.ins.op0Kind === OpKind.Register) {
    info = (gpr(c.ins.op0Register)!.idx << 3) | (1 << 10) | ((c.mode === 64 ? 2 : 1) << 7);
  } else {
    ({ info, disp } = memInfo(c));
    if (!ldtTr && c.mode !== 16) info |= 1 << 11;
  }
  info = (info | (identity << 28)) >>> 0;
  const reason = ldtTr ? ExitReason.LDTR_TR : ExitReason.GDTR_IDTR;
  return () => {
    if (cpu.vmx.nonRoot && cpu.vmx.proc2Ctl(Proc2Ctl.DESCRIPTOR_TABLE_EXITING)) {
      cpu.vmx.exit(reason, { qualification: disp, instructionInfo: info, instructionLength: len, rip: c.rip });
    }
  };
}

function tableLoad(which: "gdt" | "idt"): Compiler {
  return (c) => {
    const { cpu, mmu } = c;
    const ea = effectiveAddress(c);
    const mode = c.mode;
    const size16 = operandSize(c, 0) === 2 && mode !== 64 && /lgdtw|lidtw/.test(c.ins.toString());
    const intercept = descriptorTableExit(c, which === "gdt" ? 2 : 3, false);
    return () => {
      requireCpl0(cpu);
      intercept();
      const a = ea();
      const limit = mmu.rd16(a);
      let base: number;
      if (mode === 64) {
        const l = mmu.rd64(a + 2);
        base = mmu.hi * 4294967296 + (l >>> 0);
        if (!isCanonical(base)) gp0();
      } else {
        base = mmu.rd32(a + 2) >>> 0;
        if (size16) base &= 0xffffff;
      }
      if (which === "gdt") { cpu.gdtrBase = base; cpu.gdtrLimit = limit; }
      else { cpu.idtrBase = base; cpu.idtrLimit = limit; }
    };
  };
}
function tableStore(which: "gdt" | "idt"): Compiler {
  return (c) => {
    const { cpu, mmu } = c;
    const ea = effectiveAddress(c);
    const mode = c.mode;
    const intercept = descriptorTableExit(c, which === "gdt" ? 0 : 1, false);
    return () => {
      intercept();
      const a = ea();
      const base = which === "gdt" ? cpu.gdtrBase : cpu.idtrBase;
      mmu.wr16(a, which === "gdt" ? cpu.gdtrLimit : cpu.idtrLimit);
      if (mode === 64) mmu.wr64(a + 2, base | 0, Math.floor(base / 4294967296) | 0);
      else mmu.wr32(a + 2, base | 0);
    };
  };
}

function operandValue(c: Ctx, n: number): () => number {
  const ins = c.ins;
  if (ins.opKind(n) === OpKind.Register) {
    const g = gpr(ins.opRegister(n))!;
    return () => c.lo[g.idx] & 0xffff;
  }
  const ea = effectiveAddress(c);
  return () => c.mmu.rd16(ea());
}

export function loadTaskRegister(cpu: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0 || (sel & 4)) throw new Fault(Vec.GP, sel & 0xfffc);
  const { d, addr } = readDescriptor(cpu, sel);
  const type = d.attr & 0xf;
  const err = sel & 0xfffc;
  const available = cpu.mode === 64 || (cpu.efer & Efer.LMA) ? type === 9 : type === 9 || type === 1;
  if ((d.attr & Ar.S) || !available) throw new Fault(Vec.GP, err);
  if (!(d.attr & Ar.P)) throw new Fault(Vec.NP, err);
  let base = d.base;
  if (cpu.efer & Efer.LMA) {
    const upper = cpu.sysRead32(addr + 8);
    base = (upper * 4294967296) + d.base;
    base = base >= 2 ** 63 ? base - 2 ** 64 : base;
  }
  cpu.sysWrite32(addr + 4, d.hi | 0x200); // busy
  cpu.tr = { sel, base, limit: d.limit, attr: d.attr | 2 };
}

const ltr: Compiler = (c) => {
  const v = operandValue(c, 0);
  const cpu = c.cpu;
  const intercept = descriptorTableExit(c, 3, true);
  return () => { requireCpl0(cpu); intercept(); loadTaskRegister(cpu, v()); };
};

const lldt: Compiler = (c) => {
  const v = operandValue(c, 0);
  const cpu = c.cpu;
  const intercept = descriptorTableExit(c, 2, true);
  return () => {
    requireCpl0(cpu);
    intercept();
    const sel = v();
    if ((sel & 0xfffc) === 0) { cpu.ldtr = { sel, base: 0, limit: 0, attr: Ar.UNUSABLE }; return; }
    if (sel & 4) throw new Fault(Vec.GP, sel & 0xfffc);
    const { d, addr } = readDescriptor(cpu, sel);
    if ((d.attr & Ar.S) || (d.attr & 0xf) !== 2) throw new Fault(Vec.GP, sel & 0xfffc);
    if (!(d.attr & Ar.P)) throw new Fault(Vec.NP, sel & 0xfffc);
    let base = d.base;
    if (cpu.efer & Efer.LMA) base = cpu.sysRead32(addr + 8) * 4294967296 + d.base;
    cpu.ldtr = { sel, base, limit: d.limit, attr: d.attr };
  };
};

function storeSelector(get: (cpu: Cpu) => number, identity: number): Compiler {
  return (c) => {
    const ins = c.ins;
    const { cpu, lo, hi } = c;
    const intercept = descriptorTableExit(c, identity, true);
    if (ins.op0Kind === OpKind.Register) {
      const g = gpr(ins.op0Register)!;
      return () => {
        intercept();
        const v = get(cpu);
        if (g.size === 2) lo[g.idx] = (lo[g.idx] & ~0xffff) | v; else { lo[g.idx] = v; hi[g.idx] = 0; }
      };
    }
    const ea = effectiveAddress(c);
    return () => { intercept(); c.mmu.wr16(ea(), get(cpu)); };
  };
}

const invlpg: Compiler = (c) => {
  const ea = effectiveAddress(c);
  const cpu = c.cpu;
  const len = c.next - c.rip;
  return () => {
    requireCpl0(cpu);
    const la = ea();
    if (cpu.vmx.nonRoot && cpu.vmx.procCtl(ProcCtl.INVLPG_EXITING)) {
      cpu.vmx.exit(ExitReason.INVLPG, { qualification: BigInt.asUintN(64, BigInt(la)), instructionLength: len, rip: c.rip });
    }
    cpu.mmu.flushPage(la);
  };
};

// ---------------------------------------------------------------- port I/O
function ioAllowed(cpu: Cpu): void {
  // CPL > IOPL consults the TSS I/O bitmap, which comes with #3; until then that is #GP(0).
  if (cpu.mode !== 16 && cpu.cpl > ((cpu.rflags >> 12) & 3)) gp0();
}
const inOp: Compiler = (c) => {
  const ins = c.ins;
  const { cpu, lo, hi } = c;
  const dst = gpr(ins.op0Register)!;
  const size = dst.size as 1 | 2 | 4;
  const fixed = ins.op1Kind === OpKind.Immediate8 ? Number(ins.immediate(1)) : -1;
  const len = c.next - c.rip;
  return () => {
    ioAllowed(cpu);
    const port = fixed >= 0 ? fixed : lo[2] & 0xffff;
    if (cpu.vmx.nonRoot && cpu.vmx.ioExits(port, size)) {
      cpu.vmx.exitInPlace(ExitReason.IO_INSTRUCTION, { qualification: encodeIo({ size, direction: "in", port, immediate: fixed >= 0 }), instructionLength: len, rip: c.rip });
      return;
    }
    const v = cpu.io.in(port, size);
    if (size === 4) { lo[0] = v; hi[0] = 0; }
    else if (size === 2) lo[0] = (lo[0] & ~0xffff) | (v & 0xffff);
    else lo[0] = (lo[0] & ~0xff) | (v & 0xff);
  };
};
const outOp: Compiler = (c) => {
  const ins = c.ins;
  const { cpu, lo } = c;
  const src = gpr(ins.op1Register)!;
  const size = src.size as 1 | 2 | 4;
  const fixed = ins.op0Kind === OpKind.Immediate8 ? Number(ins.immediate(0)) : -1;
  const mask = size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
  const len = c.next - c.rip;
  return () => {
    ioAllowed(cpu);
    const port = fixed >= 0 ? fixed : lo[2] & 0xffff;
    if (cpu.vmx.nonRoot && cpu.vmx.ioExits(port, size)) {
      cpu.vmx.exitInPlace(ExitReason.IO_INSTRUCTION, { qualification: encodeIo({ size, direction: "out", port, immediate: fixed >= 0 }), instructionLength: len, rip: c.rip });
      return;
    }
    cpu.io.out(port, size, (lo[0] & mask) >>> 0);
  };
};

/**
 * INS and OUTS (with REP): port DX to ES:rDI, or seg:rSI to port DX, rSI/rDI stepping by DF.
 * In VMX non-root operation each iteration may exit through the I/O controls, with the string
 * and REP bits in the qualification and the memory operand's linear address.
 */
function stringIo(dir: "in" | "out", size: 1 | 2 | 4): Compiler {
  return (c) => {
    const ins = c.ins;
    const { cpu, mmu, lo, hi } = c;
    const len = c.next - c.rip;
    const rep = ins.hasRepPrefix || ins.hasRepePrefix || ins.hasRepnePrefix;
    const memKind = dir === "in" ? ins.op0Kind : ins.op1Kind;
    const bits = memKind === OpKind.MemoryESRDI || memKind === OpKind.MemorySegRSI ? 64
      : memKind === OpKind.MemoryESEDI || memKind === OpKind.MemorySegESI ? 32 : 16;
    const seg = dir === "in" ? Seg.ES : segIndex(ins.memorySegment);
    const idx = dir === "in" ? 7 : 6; // RDI or RSI
    const mode = c.mode;
    const mask = bits === 32 ? 0xffffffff : 0xffff;
    const qual = encodeIo({ size, direction: dir, string: true, rep, immediate: false, port: 0 });
    const linear = (): number => {
      const off = bits === 64 ? hi[idx] * 4294967296 + (lo[idx] >>> 0) : (lo[idx] & mask) >>> 0;
      const base = mode !== 64 || seg === Seg.FS || seg === Seg.GS ? cpu.segBase[seg] : 0;
      return mode === 64 ? off + base : (off + base) >>> 0;
    };
    const step = (r: number, d: number): void => {
      if (bits === 64) { const l = (lo[r] >>> 0) + d; lo[r] = l | 0; if (l > 4294967295) hi[r] = (hi[r] + 1) | 0; else if (l < 0) hi[r] = (hi[r] - 1) | 0; }
      else if (bits === 32) { lo[r] = (lo[r] + d) | 0; hi[r] = 0; }
      else lo[r] = (lo[r] & ~0xffff) | ((lo[r] + d) & 0xffff);
    };
    const count = (): boolean => bits === 64 ? (lo[1] | hi[1]) !== 0 : bits === 32 ? lo[1] !== 0 : (lo[1] & 0xffff) !== 0;
    return () => {
      ioAllowed(cpu);
      const d = (cpu.rflags & Fl.DF) ? -size : size;
      for (let it = 0; !rep || count(); it++) {
        const port = lo[2] & 0xffff;
        const vmx = cpu.vmx;
        if (vmx.nonRoot && vmx.ioExits(port, size)) {
          vmx.exitInPlace(ExitReason.IO_INSTRUCTION, {
            qualification: (qual | (port << 16)) >>> 0, instructionLength: len, rip: c.rip, guestLinear: linear(),
          });
          return;
        }
        const la = linear();
        if (dir === "in") {
          const v = cpu.io.in(port, size);
          if (size === 1) mmu.wr8(la, v & 0xff); else if (size === 2) mmu.wr16(la, v & 0xffff); else mmu.wr32(la, v | 0);
        } else {
          const v = size === 1 ? mmu.rd8(la) : size === 2 ? mmu.rd16(la) : mmu.rd32(la) >>> 0;
          cpu.io.out(port, size, v);
        }
        step(idx, d);
        if (!rep) return;
        step(1, -1);
        if (it + 1 === REP_BUDGET && count()) { RUNTIME.restart(cpu, c.rip); return; }
      }
    };
  };
}

// ---------------------------------------------------------------- interrupts and halting
const hlt: Compiler = (c) => {
  const cpu = c.cpu;
  const len = c.next - c.rip;
  return () => {
    requireCpl0(cpu);
    if (cpu.vmx.nonRoot && cpu.vmx.procCtl(ProcCtl.HLT_EXITING)) { cpu.vmx.exitInPlace(ExitReason.HLT, { instructionLength: len, rip: c.rip }); return; }
    const where = `0x${cpu.ripU64().toString(16)}`;
    if (cpu.rflags & Fl.IF) throw new Stop("halt", `guest halted at RIP ${where} with interrupts enabled and no interrupt source`);
    throw new Stop("halt", `guest halted at RIP ${where}`);
  };
};
function ifChange(set: boolean): Compiler {
  return (c) => {
    const cpu = c.cpu;
    return () => {
      if (cpu.cpl > ((cpu.rflags >> 12) & 3)) gp0();
      if (set) {
        if (!(cpu.rflags & Fl.IF)) cpu.interruptShadow = true;
        cpu.rflags |= Fl.IF;
      } else cpu.rflags &= ~Fl.IF;
    };
  };
}
const intN: Compiler = (c) => {
  const vec = Number(c.ins.immediate(0)) & 0xff;
  const next = c.next;
  return () => { const f = new Fault(vec, -1, 0, next, true); f.intN = true; throw f; };
};
const int3: Compiler = (c) => {
  const next = c.next;
  return () => { throw new Fault(Vec.BP, -1, 0, next, true); };
};
const int1: Compiler = (c) => {
  const next = c.next;
  // INT1 (ICEBP) is delivered like a hardware #DB trap: no gate DPL check.
  return () => { throw new Fault(Vec.DB, -1, 0, next, false); };
};
const into: Compiler = (c) => {
  if (c.mode === 64) return () => { throw new Fault(Vec.UD); };
  const next = c.next;
  const f = c.f;
  return () => { if (f.of()) throw new Fault(Vec.OF, -1, 0, next, true); };
};
const ud2: Op = ud;

/** IRET/IRETD/IRETQ to the same or an outer privilege level, flat protected or long mode. */
function iret(size: 2 | 4 | 8): Compiler {
  return (c) => {
    const { cpu, mmu } = c;
    const mode = c.mode;
    return () => {
      if (mode !== 64 && (cpu.rflags & Fl.NT)) throw new Fault(Vec.GP, 0); // task return: #3
      const sp = mode === 64 ? cpu.reg(4) : (cpu.segBase[Seg.SS] + (cpu.lo[4] >>> 0)) >>> 0;
      const rd = (k: number): number => {
        const a = sp + k * size;
        if (size === 8) { const l = mmu.rd64(a); return mmu.hi * 4294967296 + (l >>> 0); }
        return size === 4 ? mmu.rd32(a) >>> 0 : mmu.rd16(a);
      };
      const rip = rd(0), cs = rd(1) & 0xffff, fl = rd(2);
      const rpl = cs & 3;
      if (rpl < cpu.cpl) throw new Fault(Vec.GP, cs & 0xfffc);
      const popsStack = mode === 64 || rpl > cpu.cpl;
      const newSp = popsStack ? rd(3) : 0, ss = popsStack ? rd(4) & 0xffff : 0;
      const oldCpl = cpu.cpl;
      // Flags: IOPL only at CPL 0; IF only when CPL <= IOPL.
      let mask = Fl.CF | Fl.PF | Fl.AF | Fl.ZF | Fl.SF | Fl.OF | Fl.TF | Fl.DF | Fl.NT | Fl.RF | Fl.AC | Fl.ID | Fl.IF | Fl.IOPL;
      if (oldCpl > 0) mask &= ~Fl.IOPL;
      if (oldCpl > ((cpu.rflags >> 12) & 3)) mask &= ~Fl.IF;
      if (size === 2) mask &= 0xffff;
      const saved = { cpl: cpu.cpl, rip: cpu.rip };
      try {
        if (rpl !== oldCpl) {
          cpu.setCpl(rpl);
        }
        loadCodeSegment(cpu, cs, rip, "ret");
      } catch (e) {
        cpu.setCpl(saved.cpl); cpu.rip = saved.rip;
        throw e;
      }
      const target = cpu.rip;
      cpu.setRflags((cpu.getRflags() & ~mask) | (fl & mask));
      if (popsStack) {
        if (mode === 64 && (ss & 0xfffc) === 0 && cpu.mode === 64 && rpl !== 3) {
          cpu.setSegment(Seg.SS, ss, 0, 0, Ar.UNUSABLE | ((rpl & 3) << 5));
        } else {
          loadDataSegment(cpu, Seg.SS, ss);
        }
        cpu.setRsp(cpu.mode === 64 ? newSp : newSp >>> 0);
      } else {
        const inc = 3 * size;
        cpu.lo[4] = (cpu.lo[4] + inc) | 0;
      }
      cpu.rip = target;
    };
  };
}

/** CLTS; in non-root operation a host-owned TS exits when its shadow is 1, else stays (SDM 25.1.3, 25.3). */
const clts: Compiler = (c) => {
  const cpu = c.cpu, len = c.next - c.rip;
  const qual = encodeCrAccess({ cr: 0, accessType: "clts", gpr: 0 });
  return () => {
    requireCpl0(cpu);
    const vmx = cpu.vmx;
    if (vmx.nonRoot && (vmx.cr0Mask & Cr0.TS)) {
      if (vmx.cr0Shadow & Cr0.TS) vmx.exit(ExitReason.CR_ACCESS, { qualification: qual, instructionLength: len, rip: c.rip });
      return;
    }
    cpu.cr0 &= ~Cr0.TS;
  };
};
/**
 * LMSW: loads CR0 bits 3:0 (MP, EM, TS and PE, which it can set but not clear). In non-root
 * operation it exits when it would change a host-owned bit against the read shadow (SDM 25.1.3).
 */
const lmsw: Compiler = (c) => {
  const cpu = c.cpu, len = c.next - c.rip;
  const isMem = c.ins.op0Kind === OpKind.Memory;
  const get = operandValue(c, 0);
  const ea = isMem ? effectiveAddress(c) : undefined;
  const reg = isMem ? 0 : gpr(c.ins.op0Register)!.idx;
  return () => {
    requireCpl0(cpu);
    const src = get() & 0xf;
    const vmx = cpu.vmx;
    let owned = 0;
    if (vmx.nonRoot) {
      const mask = vmx.cr0Mask & 0xf, shadow = vmx.cr0Shadow & 0xf;
      const exits = ((mask & 1) && !(shadow & 1) && (src & 1)) || ((src ^ shadow) & mask & 0xe) !== 0;
      if (exits) {
        vmx.exit(ExitReason.CR_ACCESS, {
          qualification: encodeCrAccess({ cr: 0, accessType: "lmsw", lmswMemory: isMem, gpr: reg, lmswData: get() & 0xffff }),
          instructionLength: len, rip: c.rip, guestLinear: ea ? ea() : 0,
        });
      }
      owned = mask;
    }
    const free = ~owned & 0xf;
    let v = cpu.cr0 & ~(free & 0xe);
    v |= src & free & 0xe;
    if ((free & 1) && (src & 1)) v |= Cr0.PE;
    writeCr(cpu, 0, v | 0, 0);
  };
};

/** SMSW: CR0 bits 15:0 (a 32/64-bit register gets the whole CR0); masked bits read as the shadow. */
const smsw: Compiler = (c) => {
  const { cpu, lo, hi } = c;
  const isReg = c.ins.op0Kind === OpKind.Register;
  const g = isReg ? gpr(c.ins.op0Register)! : undefined;
  const ea = isReg ? undefined : effectiveAddress(c);
  return () => {
    let v = cpu.cr0 >>> 0;
    if (cpu.vmx.nonRoot) v = cpu.vmx.readShadowed(0, v);
    if (!g) { c.mmu.wr16(ea!(), v & 0xffff); return; }
    if (g.size === 2) lo[g.idx] = (lo[g.idx] & ~0xffff) | (v & 0xffff);
    else { lo[g.idx] = v | 0; hi[g.idx] = 0; }
  };
};

const wbinvd: Compiler = (c) => {
  const cpu = c.cpu, len = c.next - c.rip;
  return () => {
    requireCpl0(cpu);
    if (cpu.vmx.nonRoot && cpu.vmx.proc2Ctl(Proc2Ctl.WBINVD_EXITING)) cpu.vmx.exit(ExitReason.WBINVD, { instructionLength: len, rip: c.rip });
  };
};
/** INVD exits unconditionally in VMX non-root operation. */
const invd: Compiler = (c) => {
  const cpu = c.cpu, len = c.next - c.rip;
  return () => {
    requireCpl0(cpu);
    if (cpu.vmx.nonRoot) cpu.vmx.exit(ExitReason.INVD, { instructionLength: len, rip: c.rip });
  };
};
/** PAUSE: a hint, unless "PAUSE exiting" asks for a VM exit. */
const pause: Compiler = (c) => {
  const cpu = c.cpu, len = c.next - c.rip;
  return () => {
    if (cpu.vmx.nonRoot && cpu.vmx.procCtl(ProcCtl.PAUSE_EXITING)) cpu.vmx.exit(ExitReason.PAUSE, { instructionLength: len, rip: c.rip });
  };
};

export const SYSTEM: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Rdmsr, rdmsr], [Mnemonic.Wrmsr, wrmsr], [Mnemonic.Cpuid, cpuid], [Mnemonic.Rdtsc, readTsc(false)], [Mnemonic.Rdtscp, readTsc(true)],
  [Mnemonic.Lgdt, tableLoad("gdt")], [Mnemonic.Lidt, tableLoad("idt")],
  [Mnemonic.Sgdt, tableStore("gdt")], [Mnemonic.Sidt, tableStore("idt")],
  [Mnemonic.Ltr, ltr], [Mnemonic.Lldt, lldt],
  [Mnemonic.Str, storeSelector((cpu) => cpu.tr.sel, 1)], [Mnemonic.Sldt, storeSelector((cpu) => cpu.ldtr.sel, 0)],
  [Mnemonic.Invlpg, invlpg], [Mnemonic.In, inOp], [Mnemonic.Out, outOp], [Mnemonic.Hlt, hlt],
  [Mnemonic.Cli, ifChange(false)], [Mnemonic.Sti, ifChange(true)],
  [Mnemonic.Int, intN], [Mnemonic.Int3, int3], [Mnemonic.Int1, int1], [Mnemonic.Into, into],
  [Mnemonic.Ud2, () => ud2], [Mnemonic.Iret, iret(2)], [Mnemonic.Iretd, iret(4)], [Mnemonic.Iretq, iret(8)],
  [Mnemonic.Clts, clts], [Mnemonic.Wbinvd, wbinvd], [Mnemonic.Invd, invd], [Mnemonic.Pause, pause],
  [Mnemonic.Lmsw, lmsw], [Mnemonic.Smsw, smsw],
  [Mnemonic.Insb, stringIo("in", 1)], [Mnemonic.Insw, stringIo("in", 2)], [Mnemonic.Insd, stringIo("in", 4)],
  [Mnemonic.Outsb, stringIo("out", 1)], [Mnemonic.Outsw, stringIo("out", 2)], [Mnemonic.Outsd, stringIo("out", 4)],
];

/** MOV to/from CRn is a Mov mnemonic in iced; mov.ts hands those forms here. */
export { movCr };
