// Specialised ops from source templates. An instruction form (say `add r64, [base+disp]`) becomes
// JavaScript source once; V8 compiles each distinct source once and every instruction of that form
// shares the code, with its registers, displacement and immediate bound as closure parameters.
// This keeps the hot ops free of operand switches and of calls through accessor closures.
import { OpKind, Register } from "iced-x86";
import type { Ctx, Op } from "./context.js";
import type { Cpu } from "./cpu.js";
import { addressBits, gpr, immediate, operandSize, segIndex } from "./operands.js";
import { Seg } from "./regs.js";
import { Fault, Vec } from "./fault.js";

export interface SrcOperand {
  /** Statements to run first (computing the effective address). */
  pre: string;
  /** Expression: the low 32 bits (zero-extended for 8/16-bit, int32 for 32/64-bit). */
  get: string;
  /** Statements that read a 64-bit operand: after them, `${name}` and `${name}h` hold lo and hi. */
  size: 1 | 2 | 4 | 8;
  /** Statement writing value expressions v (and vh for 64-bit). */
  set(v: string, vh?: string): string;
  /** Expression for the high dword (64-bit operands); valid after `get` for memory. */
  getHi: string;
  isMem: boolean;
}

export class Template {
  private readonly names: string[] = [];
  private readonly values: unknown[] = [];
  constructor(readonly c: Ctx) {}

  param(prefix: string, value: unknown): string {
    const name = `${prefix}${this.names.length}`;
    this.names.push(name);
    this.values.push(value);
    return name;
  }

  /** The linear address of the memory operand, as an expression over bound parameters. */
  address(): string {
    const c = this.c;
    const ins = c.ins;
    const bits = addressBits(c);
    const seg = segIndex(ins.memorySegment);
    const useSeg = c.mode !== 64 || seg === Seg.FS || seg === Seg.GS;
    const segTerm = useSeg ? ` + cpu.segBase[${seg}]` : "";
    const scale = ins.memoryIndexScale;
    if (bits === 64) {
      const disp = Number(BigInt.asIntN(64, ins.memoryDisplacement));
      const D = this.param("D", disp);
      if (ins.memoryBase === Register.RIP) return `(${D}${segTerm})`;
      const b = gpr(ins.memoryBase)?.idx ?? -1;
      const x = gpr(ins.memoryIndex)?.idx ?? -1;
      const terms: string[] = [];
      if (b >= 0) { const B = this.param("B", b); terms.push(`hi[${B}] * 4294967296 + (lo[${B}] >>> 0)`); }
      if (x >= 0) { const X = this.param("X", x); terms.push(`(hi[${X}] * 4294967296 + (lo[${X}] >>> 0)) * ${scale}`); }
      terms.push(D);
      return `(${terms.join(" + ")}${segTerm})`;
    }
    const mask = bits === 32 ? 0xffffffff : 0xffff;
    const disp = Number(ins.memoryDisplacement & BigInt(mask));
    const D = this.param("D", disp);
    let off: string;
    if (ins.memoryBase === Register.EIP) off = D;
    else {
      const b = gpr(ins.memoryBase)?.idx ?? -1;
      const x = gpr(ins.memoryIndex)?.idx ?? -1;
      const terms: string[] = [];
      if (b >= 0) terms.push(`lo[${this.param("B", b)}]`);
      if (x >= 0) terms.push(`lo[${this.param("X", x)}] * ${scale}`);
      terms.push(D);
      off = bits === 32 ? `((${terms.join(" + ")}) >>> 0)` : `((${terms.join(" + ")}) & 0xffff)`;
    }
    if (c.mode === 64) return useSeg ? `(${off}${segTerm})` : off;
    return `((${off}${segTerm}) >>> 0)`;
  }

  /**
   * Operand n as source snippets. `local` names the variable that holds a memory operand's
   * address, so that a read-modify-write computes it once.
   */
  operand(n: number, local: string): SrcOperand {
    const c = this.c;
    const ins = c.ins;
    const kind = ins.opKind(n);
    const size = operandSize(c, n);
    if (kind === OpKind.Register) {
      const g = gpr(ins.opRegister(n));
      if (!g) throw new Error(`template: register operand ${Register[ins.opRegister(n)]}`);
      const R = this.param("R", g.idx);
      if (g.high8) {
        return { pre: "", size, isMem: false, getHi: "0", get: `((lo[${R}] >> 8) & 0xff)`,
          set: (v) => `lo[${R}] = (lo[${R}] & ~0xff00) | ((${v}) << 8);` };
      }
      switch (size) {
        case 1: return { pre: "", size, isMem: false, getHi: "0", get: `(lo[${R}] & 0xff)`,
          set: (v) => `lo[${R}] = (lo[${R}] & ~0xff) | (${v});` };
        case 2: return { pre: "", size, isMem: false, getHi: "0", get: `(lo[${R}] & 0xffff)`,
          set: (v) => `lo[${R}] = (lo[${R}] & ~0xffff) | (${v});` };
        case 4: return { pre: "", size, isMem: false, getHi: "0", get: `lo[${R}]`,
          set: (v) => `lo[${R}] = ${v}; hi[${R}] = 0;` };
        default: return { pre: "", size, isMem: false, getHi: `hi[${R}]`, get: `lo[${R}]`,
          set: (v, vh) => `lo[${R}] = ${v}; hi[${R}] = ${vh};` };
      }
    }
    if (kind === OpKind.Memory) {
      const pre = `const ${local} = ${this.address()};`;
      switch (size) {
        case 1: return { pre, size, isMem: true, getHi: "0", get: `mmu.rd8(${local})`, set: (v) => `mmu.wr8(${local}, ${v});` };
        case 2: return { pre, size, isMem: true, getHi: "0", get: `mmu.rd16(${local})`, set: (v) => `mmu.wr16(${local}, ${v});` };
        case 4: return { pre, size, isMem: true, getHi: "0", get: `mmu.rd32(${local})`, set: (v) => `mmu.wr32(${local}, ${v});` };
        default: return { pre, size, isMem: true, getHi: "mmu.hi", get: `mmu.rd64(${local})`,
          set: (v, vh) => `mmu.wr64(${local}, ${v}, ${vh});` };
      }
    }
    if (kind >= OpKind.Immediate8 && kind <= OpKind.Immediate32to64) {
      const { lo, hi } = immediate(c, n);
      const v = size === 1 ? lo & 0xff : size === 2 ? lo & 0xffff : lo;
      return { pre: "", size, isMem: false, get: String(v), getHi: String(size === 8 ? hi : 0),
        set: () => { throw new Error("write to an immediate"); } };
    }
    throw new Error(`template: operand kind ${OpKind[kind]}`);
  }

  /** Compile `body` into an op. Sources are cached, so each distinct form is compiled by V8 once. */
  build(body: string): Op {
    const key = this.names.join(",") + "\n" + body;
    let factory = FACTORIES.get(key);
    if (!factory) {
      factory = new Function("cpu", "mmu", "lo", "hi", "f", "rt", ...this.names,
        `"use strict"; return function op() {\n${body}\n};`) as Factory;
      FACTORIES.set(key, factory);
    }
    const c = this.c;
    const op = factory(c.cpu, c.mmu, c.lo, c.hi, c.f, RUNTIME, ...this.values) as TemplateOp;
    op.source = { body, names: this.names, values: this.values };
    return op;
  }
}

/** An op built from a template keeps its source, so a block can fuse its ops into one function. */
export interface TemplateOp extends Op {
  source?: { body: string; names: string[]; values: unknown[] };
}

type Factory = (...args: unknown[]) => Op;

/** Helpers that op sources may call as `rt.name(...)`. */
export const RUNTIME = {
  gp0: (): Fault => new Fault(Vec.GP, 0),
  de: (): Fault => new Fault(Vec.DE),
  /**
   * A REP string instruction ran REP_BUDGET iterations: stop here and run it again from `rip`
   * (its registers are already up to date), so that limits, stepping and the run loop get a say.
   * The part done counts as one retired instruction.
   */
  restart: (cpu: Cpu, rip: number): void => {
    cpu.rip = rip;
    cpu.switched = true;
    cpu.switchRetired = true;
    cpu.abortBlock = true;
  },
};

/** Iterations a REP string instruction runs before it yields and restarts itself. */
export const REP_BUDGET = 65536;
const FACTORIES = new Map<string, Factory>();
