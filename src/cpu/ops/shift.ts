// SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD (SDM Vol. 2).
//
// Count: 1, imm8 or CL, masked to 5 bits (6 for 64-bit operands). RCL/RCR of 8/16-bit operands
// then take the count mod 9/17. A masked count of 0 changes no flag and no value; a 32-bit
// register destination is still written, so its upper half is cleared (as hardware does in
// 64-bit mode). A memory destination is read but not written back when the count is 0.
//
// Flags (SDM defines CF always, OF for count 1 only; AF is undefined):
// - Shifts and double shifts: SF, ZF, PF from the result, AF = 0 (Lf.RES, cin = CF, b = OF).
//   CF is the last bit shifted out. For 8/16-bit SHL/SHR with a count >= the width the result is
//   0 and CF is the bit that the shift of an unbounded bit string gives (0 beyond the width).
// - OF for every nonzero count uses the count-1 formula on the final result, as Intel parts and
//   Bochs do: SHL/SHLD/ROL/RCL: OF = MSB(r) ^ CF; SHR/SHRD/ROR/RCR: OF = MSB(r) ^ MSB-1(r)
//   (for a count of 1 that is the SDM's MSB(original) rule); SAR: OF = 0.
// - Rotates change CF and OF only (f.merge). RCL/RCR with a count that is 0 mod 9/17 change
//   nothing (the rotation is the identity).
// - SHLD/SHRD of 16-bit operands with a count of 17..31 (undefined): the P6 behaviour, shifting
//   the 48-bit string dest:src:dest (SHLD) or dest:src:dest read from the right (SHRD); CF is the
//   last bit shifted out of that string.
import { Mnemonic, OpKind } from "iced-x86";
import type { Compiler, Ctx } from "../context.js";
import { Template, type SrcOperand } from "../codegen.js";
import { Fl, Lf } from "../flags.js";
import { SIZE_INDEX } from "../operands.js";

type Kind = "shl" | "shr" | "sar" | "rol" | "ror" | "rcl" | "rcr";

const join = (lines: string[]): string => lines.filter(Boolean).join("\n");

// ---- 64-bit helpers: expressions over the dword pair (x, xh) for a shift count k ----

/** Low/high dword of (xh:x) << k, for 1 <= k <= 63. */
const shlLo = (x: string, k: string) => `(${k} < 32 ? ${x} << ${k} : 0)`;
const shlHi = (x: string, xh: string, k: string) => `(${k} < 32 ? (${xh} << ${k}) | (${x} >>> (32 - ${k})) : ${x} << (${k} - 32))`;
/** Low/high dword of (xh:x) >>> k, for 1 <= k <= 63. */
const shrLo = (x: string, xh: string, k: string) => `(${k} < 32 ? (${x} >>> ${k}) | (${xh} << (32 - ${k})) : ${xh} >>> (${k} - 32))`;
const shrHi = (xh: string, k: string) => `(${k} < 32 ? ${xh} >>> ${k} : 0)`;
/** Bit k (0..63) of (xh:x). */
const bit64 = (x: string, xh: string, k: string) => `(${k} < 32 ? (${x} >>> ${k}) & 1 : (${xh} >>> (${k} - 32)) & 1)`;

/**
 * Statements computing r (and rh for 64-bit), cf and of from the operand a (ah), the masked
 * nonzero count n and, for RCL/RCR, the carry-in c0.
 */
function body(kind: Kind, size: 1 | 2 | 4 | 8): string[] {
  if (size === 8) return body64(kind);
  if (size === 4) return body32(kind);
  const w = size * 8;
  const M = size === 1 ? 0xff : 0xffff;
  const msb = w - 1;
  switch (kind) {
    case "shl":
      return [`const r = (a << n) & ${M};`, `const cf = ((a << n) >>> ${w}) & 1;`, `const of = cf ^ (r >>> ${msb});`];
    case "shr":
      return [`const r = a >>> n;`, `const cf = (a >>> (n - 1)) & 1;`, `const of = ((r ^ (r << 1)) >>> ${msb}) & 1;`];
    case "sar":
      return [`const s = (a << ${32 - w}) >> ${32 - w};`, `const r = (s >> n) & ${M};`, `const cf = (s >> (n - 1)) & 1;`, `const of = 0;`];
    case "rol":
      return [`const k = n & ${w - 1};`, `const r = ((a << k) | (a >>> (${w} - k))) & ${M};`, `const cf = r & 1;`, `const of = (r >>> ${msb}) ^ cf;`];
    case "ror":
      return [`const k = n & ${w - 1};`, `const r = ((a >>> k) | (a << (${w} - k))) & ${M};`, `const cf = r >>> ${msb};`, `const of = cf ^ ((r >>> ${msb - 1}) & 1);`];
    case "rcl":
      // Rotate the (w+1)-bit value CF:a; only its low w+1 bits are kept, so overflow is harmless.
      return [`const x = (c0 << ${w}) | a;`, `const y = ((x << n) | (x >>> (${w + 1} - n))) & ${(M << 1) | 1};`,
        `const r = y & ${M};`, `const cf = y >>> ${w};`, `const of = (r >>> ${msb}) ^ cf;`];
    case "rcr":
      return [`const x = (c0 << ${w}) | a;`, `const y = ((x >>> n) | (x << (${w + 1} - n))) & ${(M << 1) | 1};`,
        `const r = y & ${M};`, `const cf = y >>> ${w};`, `const of = ((r ^ (r << 1)) >>> ${msb}) & 1;`];
  }
}

function body32(kind: Kind): string[] {
  switch (kind) {
    case "shl": return [`const r = a << n;`, `const cf = (a >>> (32 - n)) & 1;`, `const of = cf ^ (r >>> 31);`];
    case "shr": return [`const r = (a >>> n) | 0;`, `const cf = (a >>> (n - 1)) & 1;`, `const of = (r ^ (r << 1)) >>> 31;`];
    case "sar": return [`const r = a >> n;`, `const cf = (a >> (n - 1)) & 1;`, `const of = 0;`];
    case "rol": return [`const r = (a << n) | (a >>> (32 - n));`, `const cf = r & 1;`, `const of = (r >>> 31) ^ cf;`];
    case "ror": return [`const r = (a >>> n) | (a << (32 - n));`, `const cf = r >>> 31;`, `const of = cf ^ ((r >>> 30) & 1);`];
    case "rcl":
      return [`const r = (a << n) | (c0 << (n - 1)) | (n > 1 ? a >>> (33 - n) : 0);`, `const cf = (a >>> (32 - n)) & 1;`,
        `const of = (r >>> 31) ^ cf;`];
    case "rcr":
      return [`const r = (a >>> n) | (c0 << (32 - n)) | (n > 1 ? a << (33 - n) : 0);`, `const cf = (a >>> (n - 1)) & 1;`,
        `const of = (r ^ (r << 1)) >>> 31;`];
  }
}

function body64(kind: Kind): string[] {
  switch (kind) {
    case "shl":
      return [`const r = ${shlLo("a", "n")};`, `const rh = ${shlHi("a", "ah", "n")};`, `const m = 64 - n;`,
        `const cf = ${bit64("a", "ah", "m")};`, `const of = cf ^ (rh >>> 31);`];
    case "shr":
      return [`const r = ${shrLo("a", "ah", "n")} | 0;`, `const rh = ${shrHi("ah", "n")} | 0;`, `const m = n - 1;`,
        `const cf = ${bit64("a", "ah", "m")};`, `const of = (rh ^ (rh << 1)) >>> 31;`];
    case "sar":
      return [`const r = (n < 32 ? (a >>> n) | (ah << (32 - n)) : ah >> (n - 32));`, `const rh = (n < 32 ? ah >> n : ah >> 31);`,
        `const m = n - 1;`, `const cf = ${bit64("a", "ah", "m")};`, `const of = 0;`];
    case "rol":
      return [`const m = 64 - n;`, `const r = ${shlLo("a", "n")} | ${shrLo("a", "ah", "m")};`,
        `const rh = ${shlHi("a", "ah", "n")} | ${shrHi("ah", "m")};`, `const cf = r & 1;`, `const of = (rh >>> 31) ^ cf;`];
    case "ror":
      return [`const m = 64 - n;`, `const r = ${shrLo("a", "ah", "n")} | ${shlLo("a", "m")};`,
        `const rh = ${shrHi("ah", "n")} | ${shlHi("a", "ah", "m")};`, `const cf = rh >>> 31;`, `const of = cf ^ ((rh >>> 30) & 1);`];
    case "rcl":
      // 65-bit rotate of CF:(ah:a): a << n, CF into bit n-1, a >>> (65 - n).
      return [`const m = 65 - n;`, `const j = n - 1;`,
        `const r = ${shlLo("a", "n")} | (n > 1 ? ${shrLo("a", "ah", "m")} : 0) | (j < 32 ? c0 << j : 0);`,
        `const rh = ${shlHi("a", "ah", "n")} | (n > 1 ? ${shrHi("ah", "m")} : 0) | (j >= 32 ? c0 << (j - 32) : 0);`,
        `const e = 64 - n;`, `const cf = ${bit64("a", "ah", "e")};`, `const of = (rh >>> 31) ^ cf;`];
    case "rcr":
      // a >>> n, CF into bit 64-n, a << (65 - n).
      return [`const m = 65 - n;`, `const j = 64 - n;`,
        `const r = ${shrLo("a", "ah", "n")} | (n > 1 ? ${shlLo("a", "m")} : 0) | (j < 32 ? c0 << j : 0);`,
        `const rh = ${shrHi("ah", "n")} | (n > 1 ? ${shlHi("a", "ah", "m")} : 0) | (j >= 32 ? c0 << (j - 32) : 0);`,
        `const e = n - 1;`, `const cf = ${bit64("a", "ah", "e")};`, `const of = (rh ^ (rh << 1)) >>> 31;`];
  }
}

/** Statements storing the result and the flags. */
function finish(rotate: boolean, d: SrcOperand): string[] {
  const size = d.size;
  const store = size === 8 ? d.set("r", "rh") : d.set("r");
  // The store comes first: a faulting memory write must leave the flags as they were.
  if (rotate) return [store, `f.merge(${Fl.CF | Fl.OF}, cf | (of << 11));`];
  const fop = Lf.RES | SIZE_INDEX[size];
  return [store, `f.op = ${fop}; f.r = r;${size === 8 ? " f.rh = rh;" : ""} f.cin = cf; f.b = of;`];
}

/** What a masked count of 0 does: rewrite a 32-bit register (clearing bits 63:32), nothing else. */
function zeroCount(d: SrcOperand): string {
  return d.size === 4 && !d.isMem ? d.set(d.get) : "";
}

/** The count operand n: a compile-time number for 1/imm8, else a source expression for CL. */
function countOf(c: Ctx, t: Template, n: number): number | string {
  const ins = c.ins;
  if (ins.opKind(n) === OpKind.Register) return t.operand(n, "ec").get;
  return Number(ins.immediate(n) & 0xffn);
}

function shift(kind: Kind): Compiler {
  return (c) => {
    const t = new Template(c);
    const d = t.operand(0, "ea");
    const size = d.size;
    const rotate = kind !== "shl" && kind !== "shr" && kind !== "sar";
    const mask = size === 8 ? 0x3f : 0x1f;
    const modulo = (kind === "rcl" || kind === "rcr") && size <= 2 ? size * 8 + 1 : 0;
    const cnt = countOf(c, t, 1);
    const read = size === 8 ? [`const a = ${d.get};`, `const ah = ${d.getHi};`] : [`const a = ${d.get};`];
    const carry = kind === "rcl" || kind === "rcr" ? [`const c0 = f.cf();`] : [];
    const work = [...carry, ...body(kind, size), ...finish(rotate, d)];
    if (typeof cnt === "number") {
      let n = cnt & mask;
      if (modulo) n %= modulo;
      if (n === 0) return t.build(join([d.pre, d.isMem ? `void ${d.get};` : "", zeroCount(d)]));
      return t.build(join([d.pre, ...read, `const n = ${n};`, ...work]));
    }
    const nExpr = modulo ? `(${cnt} & ${mask}) % ${modulo}` : `${cnt} & ${mask}`;
    return t.build(join([d.pre, ...read, `const n = ${nExpr};`,
      `if (n === 0) { ${zeroCount(d)} return; }`, ...work]));
  };
}

type DKind = "shld" | "shrd";

function doubleBody(kind: DKind, size: 1 | 2 | 4 | 8): string[] {
  if (size === 2) {
    if (kind === "shld") {
      return [`let r, cf;`,
        `if (n <= 16) { r = ((a << n) | (b >>> (16 - n))) & 0xffff; cf = (a >>> (16 - n)) & 1; }`,
        `else { r = ((b << (n - 16)) | (a >>> (32 - n))) & 0xffff; cf = (b >>> (32 - n)) & 1; }`,
        `const of = cf ^ (r >>> 15);`];
    }
    return [`let r, cf;`,
      `if (n <= 16) { r = ((a >>> n) | (b << (16 - n))) & 0xffff; cf = (a >>> (n - 1)) & 1; }`,
      `else { r = ((b >>> (n - 16)) | (a << (32 - n))) & 0xffff; cf = (b >>> (n - 17)) & 1; }`,
      `const of = ((r ^ (r << 1)) >>> 15) & 1;`];
  }
  if (size === 4) {
    if (kind === "shld") {
      return [`const r = (a << n) | (b >>> (32 - n));`, `const cf = (a >>> (32 - n)) & 1;`, `const of = cf ^ (r >>> 31);`];
    }
    return [`const r = (a >>> n) | (b << (32 - n));`, `const cf = (a >>> (n - 1)) & 1;`, `const of = (r ^ (r << 1)) >>> 31;`];
  }
  if (kind === "shld") {
    return [`const m = 64 - n;`, `const r = ${shlLo("a", "n")} | ${shrLo("b", "bh", "m")};`,
      `const rh = ${shlHi("a", "ah", "n")} | ${shrHi("bh", "m")};`, `const cf = ${bit64("a", "ah", "m")};`,
      `const of = cf ^ (rh >>> 31);`];
  }
  return [`const m = 64 - n;`, `const r = ${shrLo("a", "ah", "n")} | ${shlLo("b", "m")};`,
    `const rh = ${shrHi("ah", "n")} | ${shlHi("b", "bh", "m")};`, `const e = n - 1;`, `const cf = ${bit64("a", "ah", "e")};`,
    `const of = (rh ^ (rh << 1)) >>> 31;`];
}

function doubleShift(kind: DKind): Compiler {
  return (c) => {
    const t = new Template(c);
    const d = t.operand(0, "ea");
    const s = t.operand(1, "eb");
    const size = d.size;
    if (size === 1) return undefined;
    const mask = size === 8 ? 0x3f : 0x1f;
    const cnt = countOf(c, t, 2);
    const read = size === 8
      ? [`const a = ${d.get};`, `const ah = ${d.getHi};`, `const b = ${s.get};`, `const bh = ${s.getHi};`]
      : [`const a = ${d.get};`, `const b = ${s.get};`];
    const work = [...doubleBody(kind, size), ...finish(false, d)];
    if (typeof cnt === "number") {
      const n = cnt & mask;
      if (n === 0) return t.build(join([d.pre, d.isMem ? `void ${d.get};` : "", zeroCount(d)]));
      return t.build(join([d.pre, ...read, `const n = ${n};`, ...work]));
    }
    return t.build(join([d.pre, ...read, `const n = ${cnt} & ${mask};`,
      `if (n === 0) { ${zeroCount(d)} return; }`, ...work]));
  };
}

export const SHIFT: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Shl, shift("shl")], [Mnemonic.Sal, shift("shl")], [Mnemonic.Shr, shift("shr")],
  [Mnemonic.Sar, shift("sar")], [Mnemonic.Rol, shift("rol")], [Mnemonic.Ror, shift("ror")],
  [Mnemonic.Rcl, shift("rcl")], [Mnemonic.Rcr, shift("rcr")],
  [Mnemonic.Shld, doubleShift("shld")], [Mnemonic.Shrd, doubleShift("shrd")],
];
