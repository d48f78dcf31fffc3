// Differential test: ALU/MOV instruction families, run on the host CPU (test/native/runner.c,
// compiled with `cc` at test time) and on hyperstep; all GPRs but RSP and the defined arithmetic
// flags must agree. Skipped when the host is not x86-64 or has no C compiler.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import { disassemble } from "../../src/debug/disasm.js";
import type { GprName } from "../../src/cpu/regs.js";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
const LOGIC = ARITH & ~AF; // AND/OR/XOR/TEST leave AF undefined

/** Registers exchanged with the runner, in its line order (RSP excluded). */
const REGS: GprName[] = ["rax", "rcx", "rdx", "rbx", "rbp", "rsi", "rdi",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

const SEED = 0x5eed_1234;
const PER_FORM = 16; // random cases per instruction form

// ---------------------------------------------------------------- host availability

function findCc(): string | undefined {
  for (const c of ["cc", "gcc", "clang"]) {
    const r = spawnSync(c, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return c;
  }
  return undefined;
}
const cc = process.arch === "x64" && process.platform === "linux" ? findCc() : undefined;
const skipReason = process.arch !== "x64" || process.platform !== "linux"
  ? `host is ${process.platform}/${process.arch}, not linux/x64`
  : cc === undefined ? "no C compiler (cc/gcc/clang) found" : undefined;
if (skipReason) console.log(`host-diff: skipped: ${skipReason}`);

// ---------------------------------------------------------------- PRNG and values

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
const ri = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[ri(xs.length)];
const r32 = (): bigint => BigInt(ri(0x10000)) << 16n | BigInt(ri(0x10000));
const r64 = (): bigint => r32() << 32n | r32();
const M64 = (1n << 64n) - 1n;

function edge(width: number): bigint {
  const w = BigInt(width);
  const m = (1n << w) - 1n;
  const top = 1n << (w - 1n);
  return pick([0n, 1n, 2n, m, m - 1n, top, top - 1n, top + 1n, 0x0fn & m, 0x10n & m, r64() & m]);
}

/** A random 64-bit register value, with edge cases for some width in the low (or 8..15) bits. */
function value(): bigint {
  switch (ri(6)) {
    case 0: return r64();
    case 1: return BigInt(ri(4));
    default: {
      const w = pick([8, 16, 32, 64]);
      let v = edge(w);
      const hi = ri(3);
      if (w === 8 && ri(3) === 0) v <<= 8n; // for AH..BH
      const m = (1n << BigInt(w === 8 ? 16 : w)) - 1n;
      if (hi === 1) v |= r64() & ~m; // garbage above
      else if (hi === 2 && (v >> BigInt(w - 1)) & 1n) v |= M64 & ~m; // sign-extended
      return v & M64;
    }
  }
}

function imm(bytes: number): number[] {
  const v = pick([0n, 1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n,
    0xffffffffn, r64(), r64(), r64()]);
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return out;
}

// ---------------------------------------------------------------- encoder

type Size = 8 | 16 | 32 | 64;
interface Enc {
  size: Size;       // operand size (8 selects nothing; 16 adds 0x66; 64 adds REX.W)
  op: number[];     // opcode bytes
  reg: number;      // ModRM.reg (register number or /digit)
  rm: number;       // ModRM.rm register number (mod=11)
  tail?: number[];  // immediate
  rex8?: boolean;   // force a REX prefix (SPL/BPL/SIL/DIL instead of AH..BH)
  noW?: boolean;    // 64-bit size but no REX.W (unused)
}

function encode(e: Enc): number[] {
  const out: number[] = [];
  if (e.size === 16) out.push(0x66);
  let rex = 0;
  if (e.size === 64 && !e.noW) rex |= 8;
  if (e.reg & 8) rex |= 4;
  if (e.rm & 8) rex |= 1;
  if (rex || e.rex8) out.push(0x40 | rex);
  out.push(...e.op, 0xc0 | (e.reg & 7) << 3 | (e.rm & 7));
  out.push(...(e.tail ?? []));
  return out;
}

/** Encodes an opcode with the register in its low 3 bits (B0+r, B8+r, 90+r, 0F C8+r). */
function encodeOpReg(size: Size, op: number[], r: number, tail: number[] = [], rex8 = false): number[] {
  const out: number[] = [];
  if (size === 16) out.push(0x66);
  let rex = 0;
  if (size === 64) rex |= 8;
  if (r & 8) rex |= 1;
  if (rex || rex8) out.push(0x40 | rex);
  const last = op.length - 1;
  out.push(...op.slice(0, last), op[last] + (r & 7), ...tail);
  return out;
}

const reg = (): number => ri(16);
const immBytes = (s: Size): number => (s === 8 ? 1 : s === 16 ? 2 : 4);
const sizeBit = (s: Size): number => (s === 8 ? 0 : 1);
const anySize = (): Size => pick([8, 16, 32, 64] as const);
const wideSize = (): Size => pick([16, 32, 64] as const);

interface Form {
  name: string;
  flags: number; // defined flags to compare (the rest of the arithmetic flags are ignored)
  gen: () => number[];
}

const ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
const forms: Form[] = [];
const sz = (s: Size): string => `${s}`;

for (let o = 0; o < 8; o++) {
  const n = ALU[o];
  const flags = n === "and" || n === "or" || n === "xor" ? LOGIC : ARITH;
  for (const s of [8, 16, 32, 64] as const) {
    const b = sizeBit(s);
    forms.push({ name: `${n} r/m${sz(s)},r${sz(s)}`, flags,
      gen: () => encode({ size: s, op: [o * 8 + b], reg: reg(), rm: reg(), rex8: s === 8 && ri(2) === 0 }) });
    forms.push({ name: `${n} r${sz(s)},r/m${sz(s)}`, flags,
      gen: () => encode({ size: s, op: [o * 8 + 2 + b], reg: reg(), rm: reg(), rex8: s === 8 && ri(2) === 0 }) });
    forms.push({ name: `${n} acc${sz(s)},imm`, flags,
      gen: () => [...(s === 16 ? [0x66] : s === 64 ? [0x48] : []), o * 8 + 4 + b, ...imm(immBytes(s))] });
    forms.push({ name: `${n} r/m${sz(s)},imm${s === 8 ? 8 : s === 16 ? 16 : 32}`, flags,
      gen: () => encode({ size: s, op: [0x80 + b], reg: o, rm: reg(), tail: imm(immBytes(s)), rex8: s === 8 && ri(2) === 0 }) });
    if (s !== 8) {
      forms.push({ name: `${n} r/m${sz(s)},simm8`, flags,
        gen: () => encode({ size: s, op: [0x83], reg: o, rm: reg(), tail: imm(1) }) });
    }
  }
}

for (const s of [8, 16, 32, 64] as const) {
  const b = sizeBit(s);
  const rex8 = (): boolean => s === 8 && ri(2) === 0;
  forms.push({ name: `test r/m${s},r${s}`, flags: LOGIC, gen: () => encode({ size: s, op: [0x84 + b], reg: reg(), rm: reg(), rex8: rex8() }) });
  forms.push({ name: `test acc${s},imm`, flags: LOGIC, gen: () => [...(s === 16 ? [0x66] : s === 64 ? [0x48] : []), 0xa8 + b, ...imm(immBytes(s))] });
  forms.push({ name: `test r/m${s},imm`, flags: LOGIC, gen: () => encode({ size: s, op: [0xf6 + b], reg: 0, rm: reg(), tail: imm(immBytes(s)), rex8: rex8() }) });
  forms.push({ name: `inc r/m${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0xfe + b], reg: 0, rm: reg(), rex8: rex8() }) });
  forms.push({ name: `dec r/m${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0xfe + b], reg: 1, rm: reg(), rex8: rex8() }) });
  forms.push({ name: `not r/m${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0xf6 + b], reg: 2, rm: reg(), rex8: rex8() }) });
  forms.push({ name: `neg r/m${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0xf6 + b], reg: 3, rm: reg(), rex8: rex8() }) });
  // MOV
  forms.push({ name: `mov r/m${s},r${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0x88 + b], reg: reg(), rm: reg(), rex8: rex8() }) });
  forms.push({ name: `mov r${s},r/m${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0x8a + b], reg: reg(), rm: reg(), rex8: rex8() }) });
  forms.push({ name: `mov r/m${s},imm`, flags: ARITH, gen: () => encode({ size: s, op: [0xc6 + b], reg: 0, rm: reg(), tail: imm(immBytes(s)), rex8: rex8() }) });
  forms.push({ name: `mov r${s},imm${s}`, flags: ARITH,
    gen: () => encodeOpReg(s, [s === 8 ? 0xb0 : 0xb8], reg(), imm(s === 64 ? 8 : immBytes(s)), rex8()) });
  // XCHG / XADD / CMPXCHG
  forms.push({ name: `xchg r/m${s},r${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0x86 + b], reg: reg(), rm: reg(), rex8: rex8() }) });
  forms.push({ name: `xadd r/m${s},r${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0x0f, 0xc0 + b], reg: reg(), rm: reg(), rex8: rex8() }) });
  forms.push({ name: `cmpxchg r/m${s},r${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0x0f, 0xb0 + b], reg: reg(), rm: reg(), rex8: rex8() }) });
  if (s !== 8) {
    // 90+r with r=0 is NOP without REX.B (no zero extension); with REX.B it is xchg r8,rAX.
    forms.push({ name: `xchg rAX,r${s} (90+r)`, flags: ARITH, gen: () => encodeOpReg(s, [0x90], reg()) });
    forms.push({ name: `cmovcc r${s},r/m${s}`, flags: ARITH, gen: () => encode({ size: s, op: [0x0f, 0x40 + ri(16)], reg: reg(), rm: reg() }) });
    forms.push({ name: `movzx r${s},r/m8`, flags: ARITH, gen: () => encode({ size: s, op: [0x0f, 0xb6], reg: reg(), rm: reg(), rex8: ri(2) === 0 }) });
    forms.push({ name: `movzx r${s},r/m16`, flags: ARITH, gen: () => encode({ size: s, op: [0x0f, 0xb7], reg: reg(), rm: reg() }) });
    forms.push({ name: `movsx r${s},r/m8`, flags: ARITH, gen: () => encode({ size: s, op: [0x0f, 0xbe], reg: reg(), rm: reg(), rex8: ri(2) === 0 }) });
    forms.push({ name: `movsx r${s},r/m16`, flags: ARITH, gen: () => encode({ size: s, op: [0x0f, 0xbf], reg: reg(), rm: reg() }) });
    forms.push({ name: `movsxd r${s},r/m32`, flags: ARITH, gen: () => encode({ size: s, op: [0x63], reg: reg(), rm: reg() }) });
    forms.push({ name: `cbw/cwde/cdqe (${s})`, flags: ARITH, gen: () => [...(s === 16 ? [0x66] : s === 64 ? [0x48] : []), 0x98] });
    forms.push({ name: `cwd/cdq/cqo (${s})`, flags: ARITH, gen: () => [...(s === 16 ? [0x66] : s === 64 ? [0x48] : []), 0x99] });
  }
  if (s === 32 || s === 64) {
    forms.push({ name: `bswap r${s}`, flags: ARITH, gen: () => encodeOpReg(s, [0x0f, 0xc8], reg()) });
  }
}
// Prefix interplay: 66 with REX.W (REX.W wins), and a REX that does not immediately precede the
// opcode (ignored, so 16-bit and legacy register numbers).
forms.push({ name: "prefix add/sub/xor r64,r64 (66 then REX.W)", flags: ARITH, gen: () => [0x66, 0x48 | ri(8), pick([0x01, 0x03, 0x29, 0x31]), 0xc0 | ri(64)] });
forms.push({ name: "prefix add/sub/mov/xchg r16,r16 (REX then 66: REX ignored)", flags: ARITH, gen: () => [0x48 | ri(8), 0x66, pick([0x01, 0x29, 0x89, 0x87]), 0xc0 | ri(64)] });
forms.push({ name: "prefix mov r8,imm8 (REX then 66: REX ignored)", flags: ARITH, gen: () => [0x40 | ri(16), 0x66, 0xb0 + ri(8), ...imm(1)] });
forms.push({ name: "setcc r/m8", flags: ARITH, gen: () => encode({ size: 8, op: [0x0f, 0x90 + ri(16)], reg: 0, rm: reg(), rex8: ri(2) === 0 }) });

// LEA with register-only addressing (never RIP-relative; RSP-based forms are rejected below).
for (const s of [16, 32, 64] as const) {
  for (const a of [32, 64] as const) {
    forms.push({
      name: `lea r${s},[${a}-bit addr]`, flags: ARITH, gen: () => {
        const out: number[] = [];
        if (s === 16) out.push(0x66);
        if (a === 32) out.push(0x67);
        const r = reg(), base = reg(), index = reg();
        const mod = ri(3);
        const useSib = ri(2) === 0;
        const rm = useSib ? 4 : base & 7;
        if (!useSib && mod === 0 && rm === 5) return []; // RIP-relative: retry
        let rex = (s === 64 ? 8 : 0) | (r & 8 ? 4 : 0) | (useSib && index & 8 ? 2 : 0) | (base & 8 ? 1 : 0);
        if (rex) out.push(0x40 | rex);
        out.push(0x8d, mod << 6 | (r & 7) << 3 | rm);
        if (useSib) out.push(ri(4) << 6 | (index & 7) << 3 | (base & 7));
        if (mod === 1) out.push(...imm(1));
        else if (mod === 2 || (mod === 0 && useSib && (base & 7) === 5)) out.push(...imm(4));
        return out;
      },
    });
  }
}

// ---------------------------------------------------------------- cases

interface Case {
  form: Form;
  code: number[];
  text: string;
  regs: bigint[]; // REGS order
  rflags: number;
}

const BAD = /%(?:r|e)?sp\b|%spl\b|%rip\b|\(bad\)/;

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const form of forms) {
    let made = 0;
    for (let tries = 0; made < PER_FORM && tries < PER_FORM * 20; tries++) {
      const code = form.gen();
      if (code.length === 0) continue;
      const d = disassemble(Uint8Array.from(code), 0x100000, 64);
      if (d.length !== code.length || BAD.test(d.text)) continue;
      const regs = REGS.map(() => value());
      let rflags = 0x2;
      for (const f of [CF, PF, AF, ZF, SF, OF]) if (ri(2)) rflags |= f;
      cases.push({ form, code, text: d.text.replace(/\s+/g, " "), regs, rflags });
      made++;
    }
  }
  return cases;
}

const hex64 = (v: bigint): string => v.toString(16);

interface Outcome { regs: bigint[]; rflags: number }

function runHost(exe: string, cases: Case[]): Outcome[] {
  const input = cases.map((c) =>
    [c.code.map((b) => b.toString(16).padStart(2, "0")).join(""), ...c.regs.map(hex64), c.rflags.toString(16)].join(" "),
  ).join("\n") + "\n";
  const r = spawnSync(exe, [], { input, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`runner failed (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  if (lines.length !== cases.length) throw new Error(`runner returned ${lines.length} lines for ${cases.length} cases`);
  return lines.map((l) => {
    const f = l.trim().split(" ").map((x) => BigInt("0x" + x));
    return { regs: f.slice(0, 15), rflags: Number(f[15]) };
  });
}

function runEmu(c: Case): Outcome | string {
  const regs: Partial<Record<GprName, bigint>> = {};
  REGS.forEach((n, i) => { regs[n] = c.regs[i]; });
  const r = runCode({ code: c.code, regs, rflags: c.rflags, maxInsns: 4 });
  if (r.fault) return `fault #${r.fault.vector}`;
  if (r.stop.reason !== "halt") return `stop ${r.stop.reason}`;
  if (r.reg("rip") !== BigInt(0x100000 + c.code.length + 1)) return `rip ${hex64(r.reg("rip"))}`;
  return { regs: REGS.map((n) => r.reg(n)), rflags: r.flags() };
}

const FLAG_NAMES: Array<[number, string]> = [[CF, "C"], [PF, "P"], [AF, "A"], [ZF, "Z"], [SF, "S"], [OF, "O"]];
const fstr = (f: number): string => FLAG_NAMES.map(([b, n]) => (f & b ? n : "-")).join("");

function diff(c: Case, host: Outcome, emu: Outcome | string): string | undefined {
  if (typeof emu === "string") return emu;
  const parts: string[] = [];
  REGS.forEach((n, i) => {
    if (host.regs[i] !== emu.regs[i]) parts.push(`${n}: host ${hex64(host.regs[i])} emu ${hex64(emu.regs[i])}`);
  });
  const m = c.form.flags;
  if ((host.rflags & m) !== (emu.rflags & m)) {
    parts.push(`flags[${fstr(m)}]: host ${fstr(host.rflags & m)} emu ${fstr(emu.rflags & m)}`);
  }
  return parts.length ? parts.join("; ") : undefined;
}

const ALIASES: Record<string, string[]> = {
  rax: ["rax", "eax", "ax", "al", "ah"], rcx: ["rcx", "ecx", "cx", "cl", "ch"],
  rdx: ["rdx", "edx", "dx", "dl", "dh"], rbx: ["rbx", "ebx", "bx", "bl", "bh"],
  rbp: ["rbp", "ebp", "bp", "bpl"], rsi: ["rsi", "esi", "si", "sil"], rdi: ["rdi", "edi", "di", "dil"],
};
function usesReg(text: string, n: GprName): boolean {
  const al = ALIASES[n] ?? [n, `${n}d`, `${n}w`, `${n}b`];
  return new RegExp(`%(?:${al.join("|")})\\b`).test(text);
}

/** The inputs that matter: registers the instruction names (plus implicit rax/rdx) and the flags. */
function inputs(c: Case): string {
  const implicitAx = /cmpxchg|cbtw|cwtl|cltq|cwtd|cltd|cqto|^xchg/.test(c.text) || c.code.some((b) => b >= 0x90 && b <= 0x99);
  const implicitDx = /cwtd|cltd|cqto/.test(c.text);
  const named = REGS.map((n, i) => [n, i] as const)
    .filter(([n]) => usesReg(c.text, n) || (n === "rax" && implicitAx) || (n === "rdx" && implicitDx))
    .map(([n, i]) => `${n}=${hex64(c.regs[i])}`);
  return `${named.join(" ")} fl=${fstr(c.rflags)}`;
}

// ---------------------------------------------------------------- tests

const suite = skipReason ? describe.skip : describe;

suite(`host-diff: ALU/MOV families vs host CPU${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let dir = "";
  let cases: Case[] = [];
  let host: Outcome[] = [];
  const byFamily = new Map<string, number[]>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hyperstep-hostdiff-"));
    const exe = join(dir, "runner");
    const src = join(dirname(fileURLToPath(import.meta.url)), "..", "native", "runner.c");
    const r = spawnSync(cc!, ["-O1", "-o", exe, src], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
    cases = makeCases();
    host = runHost(exe, cases);
    cases.forEach((c, i) => {
      const fam = c.form.name.split(" ")[0].split("/")[0];
      const l = byFamily.get(fam) ?? [];
      l.push(i);
      byFamily.set(fam, l);
    });
    console.log(`host-diff: ${cases.length} cases in ${forms.length} forms`);
  });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  const FAMILIES = [...new Set(forms.map((f) => f.name.split(" ")[0].split("/")[0]))];
  for (const fam of FAMILIES) {
    it(fam, () => {
      const idx = byFamily.get(fam) ?? [];
      expect(idx.length).toBeGreaterThan(0);
      const bad: Array<{ form: string; line: string }> = [];
      for (const i of idx) {
        const c = cases[i];
        const d = diff(c, host[i], runEmu(c));
        if (d) bad.push({ form: c.form.name, line: `${c.code.map((b) => b.toString(16).padStart(2, "0")).join(" ").padEnd(30)} ${c.text.padEnd(34)} ${inputs(c)}\n      => ${d}` });
      }
      if (bad.length) {
        const groups = new Map<string, string[]>();
        for (const b of bad) groups.set(b.form, [...(groups.get(b.form) ?? []), b.line]);
        const out = [`host-diff mismatches in ${fam}: ${bad.length}/${idx.length}`];
        for (const [form, lines] of groups) {
          out.push(`  ${form}: ${lines.length} mismatches`);
          for (const l of lines.slice(0, 4)) out.push(`    ${l}`);
        }
        console.log(out.join("\n"));
      }
      expect(bad.map((b) => b.form)).toEqual([]);
    });
  }
});
