// Architectural state of one logical processor, and the helpers instruction semantics share.
import { Cr0, Efer } from "./control-regs.js";
import { ARITH_FLAGS, Fl, LazyFlags } from "./flags.js";
import { Fault, Vec } from "./fault.js";
import { Gpr, GPR_NAMES, Seg, TWO32, type GprName } from "./regs.js";
import { Ar } from "./segments.js";
import { Mmu } from "../mem/mmu.js";
import { Access } from "../mem/paging.js";
import type { PhysicalMemory } from "../mem/physical.js";
import { MsrFile } from "./msr.js";
import { CpuidModel } from "./cpuid.js";
import { Vmx } from "../vmx/vmx.js";

export interface PortBus {
  in(port: number, size: 1 | 2 | 4): number;
  out(port: number, size: 1 | 2 | 4, value: number): void;
}

export interface SystemTable { base: number; limit: number }
export interface SegmentCache { sel: number; base: number; limit: number; attr: number }

/** Decode-cache mode keys: the code size the decoder needs plus the default stack size. */
export const enum ModeKey { REAL = 0, PM16 = 1, PM32 = 2, LONG64 = 3 }

export class Cpu {
  /** Low and high dwords of the 16 GPRs, in SDM encoding order. */
  readonly lo = new Int32Array(16);
  readonly hi = new Int32Array(16);
  /** Linear RIP: a signed canonical value in 64-bit mode, else 0..2^32-1. */
  rip = 0;
  /** RFLAGS except the six arithmetic flags, which live in `f`. */
  rflags = Fl.FIXED1;
  readonly f = new LazyFlags();

  // Segment registers: selector, descriptor-cache base, limit and access rights (VMCS layout).
  readonly segSel = new Int32Array(6);
  readonly segBase = new Float64Array(6);
  readonly segLimit = new Float64Array(6);
  readonly segAttr = new Int32Array(6);
  gdtrBase = 0; gdtrLimit = 0xffff;
  idtrBase = 0; idtrLimit = 0xffff;
  ldtr: SegmentCache = { sel: 0, base: 0, limit: 0xffff, attr: Ar.UNUSABLE };
  tr: SegmentCache = { sel: 0, base: 0, limit: 0xffff, attr: 0x8b };

  cr0 = Cr0.ET | Cr0.CD | Cr0.NW;
  /** CR2 as a 64-bit value: it may hold any value software writes, canonical or not. */
  cr2 = 0n;
  cr3 = 0;
  cr4 = 0;
  cr8 = 0;
  /** PAE paging's PDPTE registers (lo/hi pairs), loaded by MOV CR3 and paging-mode switches. */
  readonly pdpte = new Int32Array(8);
  /** DR7 (breakpoints are not modelled yet, #3); VMX loads and saves it with the debug controls. */
  dr7 = 0x400;
  efer = 0;
  cpl = 0;
  /** Code size of the current mode: 16, 32 or 64. */
  mode: 16 | 32 | 64 = 16;
  modeKey: ModeKey = ModeKey.REAL;
  readonly msr: MsrFile;
  readonly cpuid = new CpuidModel();

  /** Instructions retired. */
  icount = 0;
  /** Index in its block of the instruction that threw, set by fused blocks and regions. */
  faultIndex = 0;
  /** In a region that threw: the index of the block that threw, and the instructions retired before it. */
  regionBlock = 0;
  regionDone = 0;
  /** A VM entry or exit switched to other code: RIP is already the new code's (see compile.ts). */
  switched = false;
  /** Whether the instruction that switched retired (VM entries) or not (VM exits). */
  switchRetired = false;
  /** Set by a write that invalidated the block being executed. */
  abortBlock = false;
  /** Set by STI/MOV SS/POP SS: interrupts are inhibited for one instruction. */
  interruptShadow = false;
  /** The shadow came from MOV SS or POP SS (VMLAUNCH then fails with error 26). */
  movSsShadow = false;
  /** Scratch for an instruction's effective address, shared by a read-modify-write pair. */
  ea = 0;
  /** Scratch: the high dword of the last 64-bit operand read. */
  vh = 0;
  exceptionsDelivered = 0;
  lastException = -1;
  /** Mnemonics that raised #UD because they are not implemented, with counts. */
  readonly udMnemonics = new Map<string, number>();
  /** Called when the mode, paging or segment state changes the meaning of cached code. */
  onModeChange: () => void = () => {};

  readonly mmu: Mmu;
  readonly vmx: Vmx;

  constructor(readonly mem: PhysicalMemory, public io: PortBus) {
    this.mmu = new Mmu(mem, this);
    this.msr = new MsrFile(this);
    this.vmx = new Vmx(this);
    this.reset();
  }

  reset(): void {
    this.lo.fill(0); this.hi.fill(0);
    this.rip = 0xfff0;
    this.rflags = Fl.FIXED1;
    this.f.write(0);
    for (let s = 0; s < 6; s++) this.setSegment(s, 0, 0, 0xffff, 0x93);
    this.setSegment(Seg.CS, 0xf000, 0xffff0000, 0xffff, 0x9b);
    this.cr0 = Cr0.ET | Cr0.CD | Cr0.NW; this.cr2 = 0n; this.cr3 = 0; this.cr4 = 0; this.cr8 = 0;
    this.efer = 0; this.cpl = 0;
    this.updateMode();
  }

  // ---- registers ----
  /** A GPR as a signed double: exact for values in ±2^53, which covers every canonical address. */
  reg(r: number): number { return this.hi[r] * TWO32 + (this.lo[r] >>> 0); }
  get64(r: number): bigint { return (BigInt(this.hi[r] >>> 0) << 32n) | BigInt(this.lo[r] >>> 0); }
  set64(r: number, v: bigint): void {
    v = BigInt.asUintN(64, v);
    this.lo[r] = Number(v & 0xffffffffn); this.hi[r] = Number(v >> 32n);
  }
  get(name: GprName | "rip" | "rflags"): bigint {
    if (name === "rip") return BigInt.asUintN(64, BigInt(this.rip));
    if (name === "rflags") return BigInt(this.getRflags() >>> 0);
    return this.get64(GPR_NAMES.indexOf(name));
  }
  set(name: GprName | "rip" | "rflags", v: bigint): void {
    if (name === "rip") { this.rip = Number(BigInt.asIntN(64, v)); return; }
    if (name === "rflags") { this.setRflags(Number(v & 0xffffffffn)); return; }
    this.set64(GPR_NAMES.indexOf(name), v);
  }

  getRflags(): number { return (this.rflags | this.f.read()) >>> 0; }
  setRflags(v: number): void {
    this.rflags = ((v & ~ARITH_FLAGS) | Fl.FIXED1) >>> 0;
    this.f.write(v & ARITH_FLAGS);
  }

  /** The RIP to report, as an unsigned 64-bit value. */
  ripU64(): bigint { return BigInt.asUintN(64, BigInt(this.rip)); }

  // ---- segments and modes ----
  setSegment(seg: number, sel: number, base: number, limit: number, attr: number): void {
    this.segSel[seg] = sel; this.segBase[seg] = base; this.segLimit[seg] = limit; this.segAttr[seg] = attr;
    if (seg === Seg.CS || seg === Seg.SS) this.updateMode();
  }

  updateMode(): void {
    let mode: 16 | 32 | 64, key: ModeKey;
    const cs = this.segAttr[Seg.CS];
    if ((this.cr0 & Cr0.PE) === 0) { mode = 16; key = ModeKey.REAL; }
    else if ((this.efer & Efer.LMA) !== 0 && (cs & Ar.L) !== 0) { mode = 64; key = ModeKey.LONG64; }
    else if ((cs & Ar.DB) !== 0) { mode = 32; key = ModeKey.PM32; }
    else { mode = 16; key = ModeKey.PM16; }
    if (mode !== this.mode || key !== this.modeKey) {
      this.mode = mode; this.modeKey = key;
      this.onModeChange();
    }
  }

  /** Stack-pointer width in bits: 64 in 64-bit mode, else SS.B. */
  stackBits(): 16 | 32 | 64 {
    if (this.mode === 64) return 64;
    return (this.segAttr[Seg.SS] & Ar.DB) !== 0 ? 32 : 16;
  }

  setCpl(cpl: number): void {
    if (cpl !== this.cpl) { this.cpl = cpl; this.mmu.flush(); this.onModeChange(); }
  }

  // ---- implicit supervisor-mode accesses (descriptor tables, TSS, IDT) ----
  sysRead32(la: number): number { return this.mem.read32(this.mmu.translate(la, Access.READ, false)); }
  sysWrite32(la: number, v: number): void { this.mem.write32(this.mmu.translate(la, Access.WRITE, false), v); }

  // ---- stack (used by exception delivery and far transfers; hot ops inline their own) ----
  push64(lo: number, hi: number): void {
    const sp = this.reg(Gpr.RSP) - 8;
    this.mmu.wr64(sp, lo, hi);
    this.setRsp(sp);
  }
  push32(v: number): void {
    if (this.stackBits() === 16) {
      const sp = (this.lo[Gpr.RSP] - 4) & 0xffff;
      this.mmu.wr32(this.segBase[Seg.SS] + sp, v);
      this.lo[Gpr.RSP] = (this.lo[Gpr.RSP] & ~0xffff) | sp;
      return;
    }
    const sp = (this.lo[Gpr.RSP] - 4) >>> 0;
    this.mmu.wr32((this.segBase[Seg.SS] + sp) >>> 0, v);
    this.lo[Gpr.RSP] = sp; this.hi[Gpr.RSP] = 0;
  }
  setRsp(v: number): void {
    this.lo[Gpr.RSP] = v >>> 0 | 0;
    this.hi[Gpr.RSP] = Math.floor(v / TWO32) | 0;
  }

  /** Raise #UD for an instruction this model does not implement, and remember its mnemonic. */
  undefinedInstruction(mnemonic: string): never {
    this.udMnemonics.set(mnemonic, (this.udMnemonics.get(mnemonic) ?? 0) + 1);
    throw new Fault(Vec.UD);
  }
}
