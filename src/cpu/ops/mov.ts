// MOV MOVZX MOVSX MOVSXD LEA XCHG CMPXCHG XADD BSWAP CBW CWDE CDQE CWD CDQ CQO NOP PAUSE.
import { Mnemonic, OpKind, Register } from "iced-x86";
import type { Compiler, Ctx } from "../context.js";
import { Template } from "../codegen.js";
import { addressBits, gpr, operandSize, segIndex, SIZE_INDEX } from "../operands.js";
import { Fl, Lf } from "../flags.js";
import { Fault, Vec } from "../fault.js";
import { effectiveAddress } from "../operands.js";
import { loadDataSegment } from "../segments.js";
import { Seg } from "../regs.js";
import { movCr } from "./system.js";

const mov: Compiler = (c) => {
  const ins = c.ins;
  // Segment-register moves.
  if (ins.op0Kind === OpKind.Register && segIndex(ins.op0Register) >= 0) return movToSeg(c);
  if (ins.op1Kind === OpKind.Register && segIndex(ins.op1Register) >= 0) return movFromSeg(c);
  if (ins.op0Kind === OpKind.Register && !gpr(ins.op0Register)) return movCr(c);
  if (ins.op1Kind === OpKind.Register && !gpr(ins.op1Register)) return movCr(c);
  const t = new Template(c);
  const d = t.operand(0, "ea");
  const s = t.operand(1, "eb");
  if (d.size === 8) return t.build([s.pre, d.pre, `const v = ${s.get};`, `const vh = ${s.getHi};`, d.set("v", "vh")].filter(Boolean).join("\n"));
  return t.build([s.pre, d.pre, d.set(s.get)].filter(Boolean).join("\n"));
};

function movToSeg(c: Ctx) {
  const seg = segIndex(c.ins.op0Register);
  if (seg === Seg.CS) return undefined; // MOV CS is #UD
  const t = new Template(c);
  const s = t.operand(1, "eb");
  const cpu = c.cpu;
  const load = (sel: number) => {
    loadDataSegment(cpu, seg, sel);
    if (seg === Seg.SS) { cpu.interruptShadow = true; cpu.movSsShadow = true; }
  };
  const S = t.param("L", load);
  return t.build([s.pre, `${S}(${s.get} & 0xffff);`].filter(Boolean).join("\n"));
}

function movFromSeg(c: Ctx) {
  const seg = segIndex(c.ins.op1Register);
  const t = new Template(c);
  const d = t.operand(0, "ea");
  // A register destination of 32/64 bits gets the zero-extended selector; memory gets 16 bits.
  if (d.size === 8) return t.build([d.pre, d.set(`cpu.segSel[${seg}]`, "0")].join("\n"));
  return t.build([d.pre, d.set(`cpu.segSel[${seg}]`)].filter(Boolean).join("\n"));
}

function extend(signed: boolean): Compiler {
  return (c) => {
    const t = new Template(c);
    const d = t.operand(0, "ea");
    const s = t.operand(1, "eb");
    let v: string;
    if (!signed) v = s.get;
    else if (s.size === 1) v = `((${s.get} << 24) >> 24)`;
    else if (s.size === 2) v = `((${s.get} << 16) >> 16)`;
    else v = `(${s.get})`;
    const lines = [s.pre, `const v = ${v};`];
    if (d.size === 8) lines.push(d.set("v", signed ? "(v >> 31)" : "0"));
    else if (d.size === 2) lines.push(d.set("v & 0xffff"));
    else lines.push(d.set("v"));
    return t.build(lines.filter(Boolean).join("\n"));
  };
}

const lea: Compiler = (c) => {
  // LEA computes the offset only: no segment base, truncated to the address and operand size.
  const t = new Template(c);
  const d = t.operand(0, "ea");
  const ins = c.ins;
  const bits = addressBits(c);
  if (bits === 64 && ins.memoryBase !== Register.RIP) {
    // Exact 64-bit sum in dwords: a double cannot hold base + index * scale in general.
    const disp = BigInt.asUintN(64, ins.memoryDisplacement);
    const DL = t.param("D", Number(disp & 0xffffffffn));
    const DH = t.param("D", Number(disp >> 32n) | 0);
    const b = gpr(ins.memoryBase)?.idx ?? -1;
    const x = gpr(ins.memoryIndex)?.idx ?? -1;
    const scale = ins.memoryIndexScale;
    const lt = [DL], ht = [DH];
    if (b >= 0) { const B = t.param("B", b); lt.push(`(lo[${B}] >>> 0)`); ht.push(`hi[${B}]`); }
    if (x >= 0) { const X = t.param("X", x); lt.push(`(lo[${X}] >>> 0) * ${scale}`); ht.push(`hi[${X}] * ${scale}`); }
    const lines = [`const l = ${lt.join(" + ")};`];
    if (d.size === 8) lines.push(`const h = (${ht.join(" + ")} + Math.floor(l / 4294967296)) | 0;`, d.set("l | 0", "h"));
    else if (d.size === 4) lines.push(d.set("l | 0"));
    else lines.push(d.set("l & 0xffff"));
    return t.build(lines.join("\n"));
  }
  const a = addressWithoutSegment(t, c);
  if (d.size === 8) {
    return t.build([`const a = ${a};`, d.set("a | 0", "Math.floor(a / 4294967296) | 0")].join("\n"));
  }
  if (d.size === 4) return t.build([`const a = ${a};`, d.set("a | 0")].join("\n"));
  return t.build([`const a = ${a};`, d.set("a & 0xffff")].join("\n"));
};

/** The offset of a memory operand without its segment base (RIP-relative or legacy sizes). */
function addressWithoutSegment(t: Template, c: Ctx): string {
  const ins = c.ins;
  const bits = addressBits(c);
  const scale = ins.memoryIndexScale;
  if (bits === 64) return t.param("D", Number(BigInt.asIntN(64, ins.memoryDisplacement)));
  const mask = bits === 32 ? 0xffffffff : 0xffff;
  const D = t.param("D", Number(ins.memoryDisplacement & BigInt(mask)));
  if (ins.memoryBase === Register.EIP) return D;
  const terms: string[] = [];
  const b = gpr(ins.memoryBase)?.idx ?? -1;
  const x = gpr(ins.memoryIndex)?.idx ?? -1;
  if (b >= 0) terms.push(`lo[${t.param("B", b)}]`);
  if (x >= 0) terms.push(`lo[${t.param("X", x)}] * ${scale}`);
  terms.push(D);
  return bits === 32 ? `((${terms.join(" + ")}) >>> 0)` : `((${terms.join(" + ")}) & 0xffff)`;
}

const xchg: Compiler = (c) => {
  const t = new Template(c);
  const a = t.operand(0, "ea");
  const b = t.operand(1, "eb");
  if (a.size === 8) {
    return t.build([a.pre, b.pre, `const x = ${a.get}; const xh = ${a.getHi};`, `const y = ${b.get}; const yh = ${b.getHi};`,
      a.set("y", "yh"), b.set("x", "xh")].filter(Boolean).join("\n"));
  }
  return t.build([a.pre, b.pre, `const x = ${a.get};`, `const y = ${b.get};`, a.set("y"), b.set("x")].filter(Boolean).join("\n"));
};

const nop: Compiler = () => () => {};

const cmpxchg: Compiler = (c) => {
  // Compare the accumulator with the destination; the destination is always written (SDM).
  const t = new Template(c);
  const d = t.operand(0, "ea");
  const s = t.operand(1, "eb");
  const size = d.size;
  const fop = Lf.SUB | SIZE_INDEX[size];
  if (size !== 8) {
    const mask = size === 4 ? -1 : size === 1 ? 0xff : 0xffff;
    const accSet = size === 4 ? "lo[0] = a; hi[0] = 0;" : `lo[0] = (lo[0] & ~${mask}) | a;`;
    const acc = size === 4 ? "lo[0]" : `(lo[0] & ${mask})`;
    const m = size === 4 ? "| 0" : `& ${mask}`;
    // Memory is written before any register or flag changes, so a faulting write changes nothing.
    return t.build([d.pre, `const a = ${d.get};`, `const e = ${acc};`,
      `if (e === a) { ${d.set(s.get)} } else { ${d.isMem ? d.set("a") : ""} ${accSet} }`,
      `f.op = ${fop}; f.a = e; f.b = a; f.r = (e - a) ${m};`].filter(Boolean).join("\n"));
  }
  return t.build([d.pre, `const a = ${d.get}; const ah = ${d.getHi};`, `const e = lo[0], eh = hi[0];`,
    `const l = (e >>> 0) - (a >>> 0);`,
    `if (e === a && eh === ah) { const v = ${s.get}; const vh = ${s.getHi}; ${d.set("v", "vh")} } else { ${d.isMem ? d.set("a", "ah") : ""} lo[0] = a; hi[0] = ah; }`,
    `f.op = ${fop}; f.a = e; f.ah = eh; f.b = a; f.bh = ah; f.r = l | 0; f.rh = (eh - ah - (l < 0 ? 1 : 0)) | 0;`].join("\n"));
};

/**
 * XADD writes the source register, then the destination (so `xadd %eax,%eax` leaves the sum).
 * A memory destination goes first instead, so that a faulting write changes no register.
 */
function xaddWrites(memDest: boolean, dest: string, src: string): string[] {
  return memDest ? [dest, src] : [src, dest];
}

const xadd: Compiler = (c) => {
  const t = new Template(c);
  const d = t.operand(0, "ea");
  const s = t.operand(1, "eb");
  const size = d.size;
  const fop = Lf.ADD | SIZE_INDEX[size];
  if (size !== 8) {
    const m = size === 4 ? "| 0" : `& ${size === 1 ? 0xff : 0xffff}`;
    return t.build([d.pre, `const a = ${d.get};`, `const b = ${s.get};`, `const r = (a + b) ${m};`,
      ...xaddWrites(d.isMem, d.set("r"), s.set("a")), `f.op = ${fop}; f.a = a; f.b = b; f.r = r;`].filter(Boolean).join("\n"));
  }
  return t.build([d.pre, `const a = ${d.get}; const ah = ${d.getHi};`, `const b = ${s.get}; const bh = ${s.getHi};`,
    `const l = (a >>> 0) + (b >>> 0); const r = l | 0; const rh = (ah + bh + (l > 4294967295 ? 1 : 0)) | 0;`,
    ...xaddWrites(d.isMem, d.set("r", "rh"), s.set("a", "ah")), `f.op = ${fop}; f.a = a; f.ah = ah; f.b = b; f.bh = bh; f.r = r; f.rh = rh;`].filter(Boolean).join("\n"));
};

/**
 * CMPXCHG8B m64 / CMPXCHG16B m128: compare EDX:EAX (RDX:RAX) with memory; equal: store ECX:EBX
 * (RCX:RBX) and set ZF; else load memory into EDX:EAX (RDX:RAX), writing the old value back
 * (SDM Vol. 2). Only ZF changes. CMPXCHG16B needs a 16-byte-aligned operand (#GP(0)).
 */
function cmpxchgWide(wide: boolean): Compiler {
  return (c) => {
    if (c.ins.op0Kind !== OpKind.Memory) return undefined;
    const { mmu, lo, hi, f } = c;
    const ea = effectiveAddress(c);
    return () => {
      const a = ea();
      if (wide && (a & 15) !== 0) throw new Fault(Vec.GP, 0);
      const m0 = mmu.rd32(a), m1 = mmu.rd32(a + 4);
      const m2 = wide ? mmu.rd32(a + 8) : 0, m3 = wide ? mmu.rd32(a + 12) : 0;
      const equal = wide
        ? m0 === lo[0] && m1 === hi[0] && m2 === lo[2] && m3 === hi[2]
        : m0 === lo[0] && m1 === lo[2];
      if (equal) {
        if (wide) { mmu.wr64(a, lo[3], hi[3]); mmu.wr64(a + 8, lo[1], hi[1]); }
        else mmu.wr64(a, lo[3], lo[1]);
      } else {
        if (wide) { mmu.wr64(a, m0, m1); mmu.wr64(a + 8, m2, m3); lo[0] = m0; hi[0] = m1; lo[2] = m2; hi[2] = m3; }
        else { mmu.wr64(a, m0, m1); lo[0] = m0; hi[0] = 0; lo[2] = m1; hi[2] = 0; }
      }
      f.merge(Fl.ZF, equal ? Fl.ZF : 0);
    };
  };
}

const bswap: Compiler = (c) => {
  const g = gpr(c.ins.op0Register);
  if (!g) return undefined;
  const { lo, hi } = c;
  const r = g.idx;
  const sw = (v: number) => ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  if (g.size === 8) return () => { const l = lo[r]; lo[r] = sw(hi[r]); hi[r] = sw(l); };
  // BSWAP of a 16-bit register is undefined (SDM); this model clears it, as Intel parts do.
  if (g.size === 2) return () => { lo[r] &= ~0xffff; };
  return () => { lo[r] = sw(lo[r]); hi[r] = 0; };
};

function signExtendAcc(m: Mnemonic): Compiler {
  return (c) => {
    const { lo, hi } = c;
    switch (m) {
      case Mnemonic.Cbw: return () => { lo[0] = (lo[0] & ~0xffff) | (((lo[0] << 24) >> 24) & 0xffff); };
      case Mnemonic.Cwde: return () => { lo[0] = (lo[0] << 16) >> 16; hi[0] = 0; };
      case Mnemonic.Cdqe: return () => { hi[0] = lo[0] >> 31; };
      case Mnemonic.Cwd: return () => { lo[2] = (lo[2] & ~0xffff) | (((lo[0] << 16) >> 31) & 0xffff); };
      case Mnemonic.Cdq: return () => { lo[2] = lo[0] >> 31; hi[2] = 0; };
      case Mnemonic.Cqo: return () => { lo[2] = hi[2] = hi[0] >> 31; };
      default: return undefined;
    }
  };
}

const movsxd: Compiler = (c) => extend(operandSize(c, 1) === 4)(c);

export const MOV: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Mov, mov], [Mnemonic.Movzx, extend(false)], [Mnemonic.Movsx, extend(true)],
  [Mnemonic.Movsxd, movsxd], [Mnemonic.Lea, lea], [Mnemonic.Xchg, xchg], [Mnemonic.Nop, nop],
  [Mnemonic.Cmpxchg, cmpxchg], [Mnemonic.Xadd, xadd], [Mnemonic.Bswap, bswap],
  [Mnemonic.Cmpxchg8b, cmpxchgWide(false)], [Mnemonic.Cmpxchg16b, cmpxchgWide(true)],
  [Mnemonic.Cbw, signExtendAcc(Mnemonic.Cbw)], [Mnemonic.Cwde, signExtendAcc(Mnemonic.Cwde)],
  [Mnemonic.Cdqe, signExtendAcc(Mnemonic.Cdqe)], [Mnemonic.Cwd, signExtendAcc(Mnemonic.Cwd)],
  [Mnemonic.Cdq, signExtendAcc(Mnemonic.Cdq)], [Mnemonic.Cqo, signExtendAcc(Mnemonic.Cqo)],
];
