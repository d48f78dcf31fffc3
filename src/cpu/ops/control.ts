// JMP Jcc CALL RET PUSH POP PUSHF POPF LEAVE, far JMP/CALL/RET with flat code segments.
import { Mnemonic, OpKind } from "iced-x86";
import type { Compiler, Ctx } from "../context.js";
import { Template } from "../codegen.js";
import { conditionSource } from "../cond.js";
import { CANONICAL_CHECK, popSource, pushSource } from "../stack-src.js";
import { memBytes, operandSize, segIndex } from "../operands.js";
import { Fault, Vec, gp0 } from "../fault.js";
import { Fl, WRITABLE_FLAGS } from "../flags.js";
import { loadCodeSegment } from "../far.js";
import { isCanonical } from "../../mem/paging.js";
import { loadDataSegment } from "../segments.js";
import { Seg } from "../regs.js";

/** Compile-time branch target check: a non-canonical target raises #GP(0) at the branch. */
function constTarget(c: Ctx): number | undefined {
  const t = Number(BigInt.asIntN(64, c.ins.nearBranchTarget));
  if (c.mode === 64) return isCanonical(t) ? t : undefined;
  return c.mode === 32 ? t >>> 0 : t & 0xffff;
}
const gpOp = gp0;

/** Source converting a (lo, hi) operand value into a RIP for the current operand size. */
function targetSource(_c: Ctx, size: number, l: string, h: string): string {
  if (size === 8) return `const t = ${h} * 4294967296 + (${l} >>> 0); ${CANONICAL_CHECK("t")}`;
  if (size === 4) return `const t = ${l} >>> 0;`;
  return `const t = ${l} & 0xffff;`;
}

const jmp: Compiler = (c) => {
  const ins = c.ins;
  const k = ins.op0Kind;
  if (k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64) {
    const t = constTarget(c);
    if (t === undefined) return gpOp;
    const cpu = c.cpu;
    return () => { cpu.rip = t; };
  }
  if (k === OpKind.FarBranch16 || k === OpKind.FarBranch32) {
    const sel = ins.farBranchSelector;
    const off = Number(ins.farBranch32);
    const cpu = c.cpu;
    return () => loadCodeSegment(cpu, sel, off, "jmp");
  }
  if (ins.isJmpFarIndirect) return farIndirect(c, "jmp");
  const t = new Template(c);
  const s = t.operand(0, "ea");
  return t.build([s.pre, `const l = ${s.get}; const h = ${s.getHi};`, targetSource(c, s.size, "l", "h"), `cpu.rip = t;`].filter(Boolean).join("\n"));
};

function farIndirect(c: Ctx, kind: "jmp" | "call"): ReturnType<Compiler> {
  // m16:16, m16:32 or m16:64: offset first, selector after it.
  const t = new Template(c);
  const offBytes = memBytes(c) - 2;
  const ea = t.address();
  const F = t.param("F", (la: number) => {
    const cpu = c.cpu, mmu = c.mmu;
    let off: number;
    if (offBytes === 8) { const l = mmu.rd64(la); off = mmu.hi * 4294967296 + (l >>> 0); }
    else if (offBytes === 4) off = mmu.rd32(la) >>> 0;
    else off = mmu.rd16(la);
    const sel = mmu.rd16(la + offBytes);
    if (kind === "call") farCall(c, sel, off, offBytes);
    else loadCodeSegment(cpu, sel, off, "jmp");
  });
  return t.build(`${F}(${ea});`);
}

function farCall(c: Ctx, sel: number, off: number, offBytes: number): void {
  const cpu = c.cpu;
  const csSel = cpu.segSel[Seg.CS];
  const next = c.next;
  // Check the target first so a fault leaves the stack untouched.
  const saved = { rip: cpu.rip, sp0: cpu.lo[4], sp1: cpu.hi[4] };
  if (offBytes === 8) { cpu.push64(csSel, 0); cpu.push64(next | 0, Math.floor(next / 4294967296) | 0); }
  else if (offBytes === 4) { cpu.push32(csSel); cpu.push32(next >>> 0); }
  else throw new Fault(Vec.GP, 0);
  try {
    loadCodeSegment(cpu, sel, off, "call");
  } catch (e) {
    cpu.lo[4] = saved.sp0; cpu.hi[4] = saved.sp1; cpu.rip = saved.rip;
    throw e;
  }
}

const jcc: Compiler = (c) => {
  const t = constTarget(c);
  if (t === undefined) return gpOp;
  const tpl = new Template(c);
  const T = tpl.param("T", t);
  const N = tpl.param("N", c.next);
  return tpl.build(`cpu.rip = ${conditionSource(c.ins.conditionCode)} ? ${T} : ${N};`);
};

/** JCXZ/JECXZ/JRCXZ and LOOP/LOOPE/LOOPNE: the counter size is the address size. */
function counterBranch(kind: "jcxz" | "loop" | "loope" | "loopne"): Compiler {
  return (c) => {
    const t = constTarget(c);
    if (t === undefined) return gpOp;
    const tpl = new Template(c);
    const T = tpl.param("T", t), N = tpl.param("N", c.next);
    const reg = c.ins.opCount > 1 ? c.ins.op1Register : c.ins.op0Register;
    void reg;
    // iced names the counter in the mnemonic's code; derive the size from the code's address size.
    const name = c.ins.toString();
    const bits = /\brcx\b/.test(name) ? 64 : /\becx\b/.test(name) ? 32 : /\bcx\b/.test(name) ? 16 : c.mode;
    const read = bits === 64 ? "(lo[1] | hi[1])" : bits === 32 ? "lo[1]" : "(lo[1] & 0xffff)";
    const dec = bits === 64 ? "{ const l = (lo[1] >>> 0) - 1; lo[1] = l | 0; if (l < 0) hi[1] = (hi[1] - 1) | 0; }"
      : bits === 32 ? "lo[1] = (lo[1] - 1) | 0; hi[1] = 0;" : "lo[1] = (lo[1] & ~0xffff) | ((lo[1] - 1) & 0xffff);";
    if (kind === "jcxz") return tpl.build(`cpu.rip = ${read} === 0 ? ${T} : ${N};`);
    const extra = kind === "loope" ? " && f.zf() === 1" : kind === "loopne" ? " && f.zf() === 0" : "";
    return tpl.build(`${dec}\ncpu.rip = ${read} !== 0${extra} ? ${T} : ${N};`);
  };
}

const call: Compiler = (c) => {
  const ins = c.ins;
  const k = ins.op0Kind;
  const tpl = new Template(c);
  const size: 2 | 4 | 8 = c.mode === 64 ? 8 : operandSize(c, 0) === 2 ? 2 : (c.mode === 32 ? 4 : 2);
  const next = c.next;
  const NL = tpl.param("N", next | 0), NH = tpl.param("N", Math.floor(next / 4294967296) | 0);
  if (k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64) {
    const t = constTarget(c);
    if (t === undefined) return gpOp;
    const T = tpl.param("T", t);
    return tpl.build(`${pushSource(c.stackBits, size, NL, NH)}\ncpu.rip = ${T};`);
  }
  if (k === OpKind.FarBranch16 || k === OpKind.FarBranch32) {
    const sel = ins.farBranchSelector;
    const off = Number(ins.farBranch32);
    const bytes = k === OpKind.FarBranch32 ? 4 : 2;
    return () => farCall(c, sel, off, bytes);
  }
  if (ins.isCallFarIndirect) return farIndirect(c, "call");
  const s = tpl.operand(0, "ea");
  return tpl.build([s.pre, `const l = ${s.get}; const h = ${s.getHi};`, targetSource(c, s.size, "l", "h"),
    pushSource(c.stackBits, size, NL, NH), `cpu.rip = t;`].filter(Boolean).join("\n"));
};

const ret: Compiler = (c) => {
  const tpl = new Template(c);
  const size: 2 | 4 | 8 = c.mode === 64 ? (c.ins.toString().startsWith("retw") ? 2 : 8) : c.mode === 32 ? 4 : 2;
  const imm = c.ins.opCount > 0 ? Number(c.ins.immediate(0)) : 0;
  const lines = [popSource(c.stackBits, size, "v"), targetSource(c, size, "v", "vh")];
  if (imm) lines.push(adjustSp(c.stackBits, imm));
  lines.push(`cpu.rip = t;`);
  return tpl.build(lines.join("\n"));
};

function adjustSp(bits: 16 | 32 | 64, n: number): string {
  if (bits === 64) return `{ const n = hi[4] * 4294967296 + (lo[4] >>> 0) + ${n}; lo[4] = n | 0; hi[4] = Math.floor(n / 4294967296) | 0; }`;
  if (bits === 32) return `lo[4] = (lo[4] + ${n}) | 0;`;
  return `lo[4] = (lo[4] & ~0xffff) | ((lo[4] + ${n}) & 0xffff);`;
}

const retf: Compiler = (c) => {
  const cpu = c.cpu, mmu = c.mmu;
  const size = c.mode === 64 && /retfq/.test(c.ins.toString()) ? 8 : c.mode === 16 ? 2 : 4;
  const imm = c.ins.opCount > 0 ? Number(c.ins.immediate(0)) : 0;
  return () => {
    const sp = cpu.reg(4);
    const base = c.mode === 64 ? sp : (cpu.segBase[Seg.SS] + (sp >>> 0)) >>> 0;
    let off: number;
    if (size === 8) { const l = mmu.rd64(base); off = mmu.hi * 4294967296 + (l >>> 0); }
    else if (size === 4) off = mmu.rd32(base) >>> 0;
    else off = mmu.rd16(base);
    const sel = mmu.rd16(base + size);
    if ((sel & 3) !== cpu.cpl) throw new Fault(Vec.GP, sel & 0xfffc); // outer-ring returns: issue #3
    loadCodeSegment(cpu, sel, off, "ret");
    cpu.setRsp(c.mode === 64 ? sp + 2 * size + imm : ((sp >>> 0) + 2 * size + imm) >>> 0);
  };
};

const push: Compiler = (c) => {
  const ins = c.ins;
  const tpl = new Template(c);
  if (ins.op0Kind === OpKind.Register && segIndex(ins.op0Register) >= 0) {
    const seg = segIndex(ins.op0Register);
    const size: 2 | 4 | 8 = c.mode === 64 ? 8 : c.mode === 32 ? 4 : 2;
    return tpl.build(pushSource(c.stackBits, size, `cpu.segSel[${seg}]`));
  }
  const s = tpl.operand(0, "ea");
  let size = s.size as 1 | 2 | 4 | 8;
  if (size === 1) size = c.mode === 64 ? 8 : c.mode === 32 ? 4 : 2; // push imm8 is sign-extended
  if (size === 4 && c.mode === 64) size = 8; // push imm32 in 64-bit mode is sign-extended
  const sz = size as 2 | 4 | 8;
  if (sz === 8) {
    // Immediates were sign-extended to 64 bits by the decoder; registers and memory are 64-bit.
    return tpl.build([s.pre, `const v = ${s.get}; const vh = ${s.size === 8 ? s.getHi : `(${s.get}) >> 31`};`, pushSource(c.stackBits, 8, "v", "vh")].filter(Boolean).join("\n"));
  }
  return tpl.build([s.pre, `const v = ${s.get};`, pushSource(c.stackBits, sz, "v")].filter(Boolean).join("\n"));
};

const pop: Compiler = (c) => {
  const ins = c.ins;
  const tpl = new Template(c);
  if (ins.op0Kind === OpKind.Register && segIndex(ins.op0Register) >= 0) {
    const seg = segIndex(ins.op0Register);
    if (seg === Seg.CS) return undefined;
    const size: 2 | 4 | 8 = c.mode === 64 ? 8 : c.mode === 32 ? 4 : 2;
    const cpu = c.cpu;
    const L = tpl.param("L", (sel: number) => { loadDataSegment(cpu, seg, sel); if (seg === Seg.SS) { cpu.interruptShadow = true; cpu.movSsShadow = true; } });
    // Load the segment before committing the new stack pointer, so a fault leaves RSP intact.
    return tpl.build(`const sp0 = lo[4], sp1 = hi[4];\n${popSource(c.stackBits, size, "v")}\ntry { ${L}(v & 0xffff); } catch (e) { lo[4] = sp0; hi[4] = sp1; throw e; }`);
  }
  const size = operandSize(c, 0) as 2 | 4 | 8;
  const d = tpl.operand(0, "ea");
  // POP computes a memory destination's address after incrementing RSP (SDM Vol. 2, POP).
  return tpl.build([popSource(c.stackBits, size, "v"), d.pre, size === 8 ? d.set("v", "vh") : d.set("v")].filter(Boolean).join("\n"));
};

const leave: Compiler = (c) => {
  const tpl = new Template(c);
  const size: 2 | 4 | 8 = c.mode === 64 ? 8 : c.mode === 32 ? 4 : 2;
  const mov = c.stackBits === 64 ? "lo[4] = lo[5]; hi[4] = hi[5];" : c.stackBits === 32 ? "lo[4] = lo[5];" : "lo[4] = (lo[4] & ~0xffff) | (lo[5] & 0xffff);";
  const set = size === 8 ? "lo[5] = v; hi[5] = vh;" : size === 4 ? "lo[5] = v; hi[5] = 0;" : "lo[5] = (lo[5] & ~0xffff) | v;";
  return tpl.build(`${mov}\n${popSource(c.stackBits, size, "v")}\n${set}`);
};

const pushf: Compiler = (c) => {
  const tpl = new Template(c);
  const size: 2 | 4 | 8 = c.ins.mnemonic === Mnemonic.Pushfq ? 8 : c.ins.mnemonic === Mnemonic.Pushfd ? 4 : 2;
  // The pushed image has RF and VM clear (SDM Vol. 2, PUSHF).
  return tpl.build(`const v = (cpu.getRflags() & ${~(Fl.RF | Fl.VM) & (size === 2 ? 0xffff : -1)});\n${pushSource(c.stackBits, size, "v")}`);
};

const popf: Compiler = (c) => {
  const tpl = new Template(c);
  const size: 2 | 4 | 8 = c.ins.mnemonic === Mnemonic.Popfq ? 8 : c.ins.mnemonic === Mnemonic.Popfd ? 4 : 2;
  const cpu = c.cpu;
  const W = tpl.param("W", (v: number) => {
    // IOPL changes only at CPL 0, IF only when CPL <= IOPL; VM, RF, VIP and VIF are kept.
    let mask = WRITABLE_FLAGS & ~Fl.RF;
    if (cpu.cpl > 0) mask &= ~Fl.IOPL;
    if (cpu.cpl > ((cpu.rflags >> 12) & 3)) mask &= ~Fl.IF;
    if (size === 2) mask &= 0xffff;
    cpu.setRflags(((cpu.getRflags() & ~mask) | (v & mask)) & ~Fl.RF);
  });
  return tpl.build(`${popSource(c.stackBits, size, "v")}\n${W}(v);`);
};

export const CONTROL: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Jmp, jmp], [Mnemonic.Call, call], [Mnemonic.Ret, ret], [Mnemonic.Retf, retf],
  [Mnemonic.Push, push], [Mnemonic.Pop, pop], [Mnemonic.Leave, leave],
  [Mnemonic.Pushf, pushf], [Mnemonic.Pushfd, pushf], [Mnemonic.Pushfq, pushf],
  [Mnemonic.Popf, popf], [Mnemonic.Popfd, popf], [Mnemonic.Popfq, popf],
  [Mnemonic.Jcxz, counterBranch("jcxz")], [Mnemonic.Jecxz, counterBranch("jcxz")], [Mnemonic.Jrcxz, counterBranch("jcxz")],
  [Mnemonic.Loop, counterBranch("loop")], [Mnemonic.Loope, counterBranch("loope")], [Mnemonic.Loopne, counterBranch("loopne")],
  ...[Mnemonic.Jo, Mnemonic.Jno, Mnemonic.Jb, Mnemonic.Jae, Mnemonic.Je, Mnemonic.Jne, Mnemonic.Jbe, Mnemonic.Ja,
    Mnemonic.Js, Mnemonic.Jns, Mnemonic.Jp, Mnemonic.Jnp, Mnemonic.Jl, Mnemonic.Jge, Mnemonic.Jle, Mnemonic.Jg]
    .map((m): [Mnemonic, Compiler] => [m, jcc]),
];
