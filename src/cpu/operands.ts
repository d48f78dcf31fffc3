// Compile-time operand facts: every operand property is read from iced-x86 once, here (register
// numbers, sizes, immediates, the effective-address closure); codegen.ts turns them into op source.
import { MemorySize, OpKind, Register } from "iced-x86";
import type { Ctx } from "./context.js";
import { Seg, TWO32 } from "./regs.js";

export interface RegRef {
  /** GPR index 0-15. */
  idx: number;
  /** Size in bytes. */
  size: 1 | 2 | 4 | 8;
  /** AH, CH, DH, BH: bits 15:8 of registers 0-3. */
  high8: boolean;
}

/** Decode an iced GPR into index, size and high-byte flag; undefined for non-GPRs. */
export function gpr(r: Register): RegRef | undefined {
  if (r >= Register.AL && r <= Register.BL) return { idx: r - Register.AL, size: 1, high8: false };
  if (r >= Register.AH && r <= Register.BH) return { idx: r - Register.AH, size: 1, high8: true };
  if (r >= Register.SPL && r <= Register.R15L) return { idx: r - Register.SPL + 4, size: 1, high8: false };
  if (r >= Register.AX && r <= Register.R15W) return { idx: r - Register.AX, size: 2, high8: false };
  if (r >= Register.EAX && r <= Register.R15D) return { idx: r - Register.EAX, size: 4, high8: false };
  if (r >= Register.RAX && r <= Register.R15) return { idx: r - Register.RAX, size: 8, high8: false };
  return undefined;
}

export function segIndex(r: Register): number {
  if (r >= Register.ES && r <= Register.GS) return r - Register.ES;
  return -1;
}

/** Size in bytes of operand n. */
export function operandSize(c: Ctx, n: number): 1 | 2 | 4 | 8 {
  const ins = c.ins;
  const k = ins.opKind(n);
  switch (k) {
    case OpKind.Register: {
      const g = gpr(ins.opRegister(n));
      if (g) return g.size;
      if (segIndex(ins.opRegister(n)) >= 0) return 2;
      return 8;
    }
    case OpKind.Immediate8: case OpKind.Immediate8_2nd: return 1;
    case OpKind.Immediate16: case OpKind.Immediate8to16: return 2;
    case OpKind.Immediate32: case OpKind.Immediate8to32: return 4;
    case OpKind.Immediate64: case OpKind.Immediate8to64: case OpKind.Immediate32to64: return 8;
    default: {
      const s = memBytes(c);
      return s === 1 || s === 2 || s === 4 || s === 8 ? s : 8;
    }
  }
}

/** Bytes accessed by the memory operand (MemorySize), from iced's layout of the memory size. */
export function memBytes(c: Ctx): number {
  // The info lives in MemorySizeExt; the common sizes are enough for the integer ISA.
  const name = c.ins.memorySize;
  return MEM_SIZE_BYTES[name] ?? 0;
}
const MEM_SIZE_BYTES: Record<number, number> = {
  [MemorySize.UInt8]: 1, [MemorySize.Int8]: 1,
  [MemorySize.UInt16]: 2, [MemorySize.Int16]: 2, [MemorySize.WordOffset]: 2,
  [MemorySize.UInt32]: 4, [MemorySize.Int32]: 4, [MemorySize.DwordOffset]: 4, [MemorySize.SegPtr16]: 4,
  [MemorySize.UInt64]: 8, [MemorySize.Int64]: 8, [MemorySize.QwordOffset]: 8, [MemorySize.SegPtr32]: 6,
  [MemorySize.SegPtr64]: 10, [MemorySize.Fword6]: 6, [MemorySize.Fword10]: 10,
  [MemorySize.UInt128]: 16, [MemorySize.Bound32_DwordDword]: 8,
};

/** An immediate operand as (lo, hi) dwords of its sign- or zero-extended 64-bit value. */
export function immediate(c: Ctx, n: number): { lo: number; hi: number } {
  const v = BigInt.asUintN(64, c.ins.immediate(n));
  return { lo: Number(v & 0xffffffffn) | 0, hi: Number(v >> 32n) | 0 };
}

export function isMemory(c: Ctx, n: number): boolean { return c.ins.opKind(n) === OpKind.Memory; }
export function isReg(c: Ctx, n: number): boolean { return c.ins.opKind(n) === OpKind.Register; }
export function isImm(c: Ctx, n: number): boolean {
  const k = c.ins.opKind(n);
  return k >= OpKind.Immediate8 && k <= OpKind.Immediate32to64;
}

/** Address size of the memory operand in bits. */
export function addressBits(c: Ctx): 16 | 32 | 64 {
  const ins = c.ins;
  for (const r of [ins.memoryBase, ins.memoryIndex]) {
    if (r === Register.RIP) return 64;
    if (r === Register.EIP) return 32;
    const g = gpr(r);
    if (g) return g.size === 8 ? 64 : g.size === 4 ? 32 : 16;
  }
  const d = ins.memoryDisplSize;
  if (d === 8) return 64;
  if (d === 4) return 32;
  if (d === 2) return 16;
  return c.mode;
}

/**
 * The linear address of the memory operand as a closure: segment base included, 32-bit wrap in
 * legacy modes. In 64-bit mode the value is a signed double (canonical addresses are exact).
 */
export function effectiveAddress(c: Ctx): () => number {
  const ins = c.ins;
  const { cpu, lo, hi } = c;
  const bits = addressBits(c);
  const seg = segIndex(ins.memorySegment);
  const segBase = cpu.segBase;
  const useSegBase = c.mode !== 64 || seg === Seg.FS || seg === Seg.GS;
  const scale = ins.memoryIndexScale;
  const rawDisp = ins.memoryDisplacement;

  if (bits === 64) {
    const disp = Number(BigInt.asIntN(64, rawDisp));
    if (ins.memoryBase === Register.RIP) {
      return useSegBase ? () => segBase[seg] + disp : () => disp;
    }
    const b = gpr(ins.memoryBase)?.idx ?? -1;
    const x = gpr(ins.memoryIndex)?.idx ?? -1;
    let f: () => number;
    if (b >= 0 && x < 0) f = () => hi[b] * TWO32 + (lo[b] >>> 0) + disp;
    else if (b >= 0) f = () => hi[b] * TWO32 + (lo[b] >>> 0) + (hi[x] * TWO32 + (lo[x] >>> 0)) * scale + disp;
    else if (x >= 0) f = () => (hi[x] * TWO32 + (lo[x] >>> 0)) * scale + disp;
    else f = () => disp;
    if (!useSegBase) return f;
    return () => f() + segBase[seg];
  }

  const mask = bits === 32 ? 0xffffffff : 0xffff;
  const disp = Number(rawDisp & BigInt(mask));
  let off: () => number;
  if (ins.memoryBase === Register.EIP) {
    const target = disp >>> 0;
    off = () => target;
  } else {
    const b = gpr(ins.memoryBase)?.idx ?? -1;
    const x = gpr(ins.memoryIndex)?.idx ?? -1;
    if (bits === 32) {
      if (b >= 0 && x < 0) off = () => (lo[b] + disp) >>> 0;
      else if (b >= 0) off = () => (lo[b] + lo[x] * scale + disp) >>> 0;
      else if (x >= 0) off = () => (lo[x] * scale + disp) >>> 0;
      else off = () => disp;
    } else {
      if (b >= 0 && x < 0) off = () => (lo[b] + disp) & 0xffff;
      else if (b >= 0) off = () => (lo[b] + lo[x] + disp) & 0xffff;
      else if (x >= 0) off = () => (lo[x] + disp) & 0xffff;
      else off = () => disp;
    }
  }
  if (c.mode === 64) {
    // Legacy address size in 64-bit mode: the offset is zero-extended, FS/GS bases still apply.
    return useSegBase ? () => off() + segBase[seg] : off;
  }
  return () => (off() + segBase[seg]) >>> 0;
}

export const SIZE_INDEX = { 1: 0, 2: 1, 4: 2, 8: 3 } as const;
