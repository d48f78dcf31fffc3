// MUL IMUL DIV IDIV (SDM Vol. 2).
//
// Flags. MUL/IMUL define only CF and OF (CF = OF = "the upper half is significant"); SF, ZF, AF and
// PF are undefined. This model sets SF, ZF and PF from the low half of the result (the value
// written to AL/AX/EAX/RAX, or to the destination of the two- and three-operand forms) and clears
// AF: the Lf.RES lazy kind with cin = b = CF = OF. DIV/IDIV leave every flag undefined; this model
// leaves them unchanged. A #DE (divisor 0 or quotient too large, including IDIV of the most
// negative dividend by -1) changes no register.
//
// Exact arithmetic without BigInt: a 32x32 product is exact in its low dword (Math.imul) and its
// high dword is round((p - low) / 2^32), where p is the double product: p is within 2^11 of the
// true value, far less than half of 2^32. 64x64 products use four such 32x32 partial products.
// Divisions take 16 bits of quotient per step, so that every intermediate stays below 2^53; a
// 128/64 division with a divisor of 2^32 or more uses BigInt (rare).
import { Mnemonic } from "iced-x86";
import type { Compiler } from "../context.js";
import { Template, type SrcOperand } from "../codegen.js";
import { Lf } from "../flags.js";
import { SIZE_INDEX } from "../operands.js";
import { Fault, Vec } from "../fault.js";

const TWO32 = 4294967296;
const TWO31 = 2147483648;

/** Results of the wide helpers, as int32 dwords: [0..3] = product lo..hi, or q lo, q hi, r lo, r hi. */
const W = new Int32Array(4);
/** Remainder left by the last `udivStep`. */
let rem = 0;
/** Dividend / divisor magnitudes of the 128/64 division, as unsigned dwords. */
const N = new Float64Array(6);

/**
 * 128-bit product of (ah:al) and (bh:bl) into W, low dword first. Unsigned, or signed when `signed`
 * (the unsigned product corrected by subtracting the other operand from the high half for each
 * negative operand).
 */
function mul64(al: number, ah: number, bl: number, bh: number, signed: boolean): void {
  const x0 = al >>> 0, x1 = ah >>> 0, y0 = bl >>> 0, y1 = bh >>> 0;
  const p00l = Math.imul(al, bl) >>> 0, p00h = Math.round((x0 * y0 - p00l) / TWO32);
  const p01l = Math.imul(al, bh) >>> 0, p01h = Math.round((x0 * y1 - p01l) / TWO32);
  const p10l = Math.imul(ah, bl) >>> 0, p10h = Math.round((x1 * y0 - p10l) / TWO32);
  const p11l = Math.imul(ah, bh) >>> 0, p11h = Math.round((x1 * y1 - p11l) / TWO32);
  const s1 = p00h + p01l + p10l;
  const s2 = p01h + p10h + p11l + Math.floor(s1 / TWO32);
  let r2 = s2 | 0;
  let r3 = (p11h + Math.floor(s2 / TWO32)) | 0;
  if (signed) {
    if (ah < 0) { const l = (r2 >>> 0) - y0; r2 = l | 0; r3 = (r3 - bh - (l < 0 ? 1 : 0)) | 0; }
    if (bh < 0) { const l = (r2 >>> 0) - x0; r2 = l | 0; r3 = (r3 - ah - (l < 0 ? 1 : 0)) | 0; }
  }
  W[0] = p00l | 0; W[1] = s1 | 0; W[2] = r2; W[3] = r3;
}

/**
 * One 32-bit quotient digit of a long division: (r * 2^32 + x) / d for r < d < 2^32, all unsigned.
 * Two 16-bit steps keep every intermediate below 2^48, so the double arithmetic is exact.
 * Returns the quotient digit (unsigned); leaves the remainder in `rem`.
 */
function udivStep(r: number, x: number, d: number): number {
  let t = r * 65536 + (x >>> 16);
  const q1 = Math.floor(t / d);
  t = (t - q1 * d) * 65536 + (x & 0xffff);
  const q0 = Math.floor(t / d);
  rem = t - q0 * d;
  return q1 * 65536 + q0;
}

/** EDX:EAX / divisor for DIV/IDIV r/m32: quotient in W[0], remainder in W[1]; throws #DE. */
function div64(nh: number, nl: number, d: number, signed: boolean): void {
  if (d === 0) throw new Fault(Vec.DE);
  let h = nh >>> 0, l = nl >>> 0, dv = d >>> 0;
  let negq = false, negr = false;
  if (signed) {
    if (nh < 0) {
      l = (0 - l) >>> 0;
      h = (~nh + (l === 0 ? 1 : 0)) >>> 0;
      negr = true;
    }
    if (d < 0) dv = -d;
    negq = negr !== d < 0;
  }
  if (h >= dv) throw new Fault(Vec.DE);
  const q = udivStep(h, l, dv);
  const r = rem;
  if (signed && (negq ? q > TWO31 : q >= TWO31)) throw new Fault(Vec.DE);
  W[0] = negq ? -q | 0 : q | 0;
  W[1] = negr ? -r | 0 : r | 0;
}

/** Two's-complement negation of the `count` unsigned dwords N[i..i+count-1] (low first), in place. */
function negate(i: number, count: number): void {
  let carry = 1;
  for (let k = i; k < i + count; k++) {
    const v = TWO32 - 1 - N[k] + carry;
    carry = v === TWO32 ? 1 : 0;
    N[k] = carry ? 0 : v;
  }
}

/**
 * RDX:RAX / divisor for DIV/IDIV r/m64: quotient in W[0..1], remainder in W[2..3]; throws #DE.
 * Arguments are int32 dwords.
 */
function div128(n3: number, n2: number, n1: number, n0: number, dh: number, dl: number, signed: boolean): void {
  if ((dh | dl) === 0) throw new Fault(Vec.DE);
  N[0] = n0 >>> 0; N[1] = n1 >>> 0; N[2] = n2 >>> 0; N[3] = n3 >>> 0; N[4] = dl >>> 0; N[5] = dh >>> 0;
  let negq = false, negr = false;
  if (signed) {
    if (n3 < 0) {
      negate(0, 4);
      negr = true;
    }
    if (dh < 0) negate(4, 2);
    negq = negr !== dh < 0;
  }
  // Quotient overflow (unsigned): the high qword of the dividend is not below the divisor.
  if (N[3] > N[5] || (N[3] === N[5] && N[2] >= N[4])) throw new Fault(Vec.DE);
  let ql: number, qh: number, rl: number, rh: number;
  if (N[5] === 0) {
    // Divisor below 2^32, so N[3] = 0 and N[2] < divisor: two 32-bit long-division digits.
    qh = udivStep(N[2], N[1], N[4]);
    ql = udivStep(rem, N[0], N[4]);
    rl = rem; rh = 0;
  } else {
    const n = (BigInt(N[3]) << 96n) | (BigInt(N[2]) << 64n) | (BigInt(N[1]) << 32n) | BigInt(N[0]);
    const dd = (BigInt(N[5]) << 32n) | BigInt(N[4]);
    const q = n / dd, r = n % dd;
    ql = Number(q & 0xffffffffn); qh = Number(q >> 32n);
    rl = Number(r & 0xffffffffn); rh = Number(r >> 32n);
  }
  if (signed && (negq ? qh > TWO31 || (qh === TWO31 && ql > 0) : qh >= TWO31)) throw new Fault(Vec.DE);
  N[0] = ql; N[1] = qh; N[2] = rl; N[3] = rh;
  if (negq) negate(0, 2);
  if (negr) negate(2, 2);
  W[0] = N[0] | 0; W[1] = N[1] | 0; W[2] = N[2] | 0; W[3] = N[3] | 0;
}

const HELP = { mul64, div64, div128, w: W };

const join = (lines: string[]): string => lines.filter(Boolean).join("\n");

/** MUL/IMUL r/m: AX := AL * src, DX:AX := AX * src, EDX:EAX := EAX * src, RDX:RAX := RAX * src. */
function mulAcc(signed: boolean, s: SrcOperand, t: Template): string {
  const sz = SIZE_INDEX[s.size];
  const fl = `f.op = ${Lf.RES | sz}; f.cin = o; f.b = o;`;
  switch (s.size) {
    case 1:
      return join([s.pre, `const b = ${s.get};`,
        signed ? `const p = ((lo[0] << 24) >> 24) * ((b << 24) >> 24);` : `const p = (lo[0] & 0xff) * b;`,
        `lo[0] = (lo[0] & ~0xffff) | (p & 0xffff);`,
        signed ? `const o = p !== ((p << 24) >> 24) ? 1 : 0;` : `const o = p > 0xff ? 1 : 0;`,
        `f.r = p & 0xff; ${fl}`]);
    case 2:
      return join([s.pre, `const b = ${s.get};`,
        signed ? `const p = ((lo[0] << 16) >> 16) * ((b << 16) >> 16);` : `const p = (lo[0] & 0xffff) * b;`,
        `lo[0] = (lo[0] & ~0xffff) | (p & 0xffff);`, `lo[2] = (lo[2] & ~0xffff) | ((p >>> 16) & 0xffff);`,
        signed ? `const o = p !== ((p << 16) >> 16) ? 1 : 0;` : `const o = p > 0xffff ? 1 : 0;`,
        `f.r = p & 0xffff; ${fl}`]);
    case 4:
      return join([s.pre, `const a = lo[0];`, `const b = ${s.get};`, `const l = Math.imul(a, b);`,
        signed ? `const h = Math.round((a * b - (l >>> 0)) / 4294967296) | 0;`
          : `const h = Math.round(((a >>> 0) * (b >>> 0) - (l >>> 0)) / 4294967296) | 0;`,
        `lo[0] = l; hi[0] = 0; lo[2] = h; hi[2] = 0;`,
        signed ? `const o = h !== (l >> 31) ? 1 : 0;` : `const o = h !== 0 ? 1 : 0;`,
        `f.r = l; ${fl}`]);
    default: {
      const H = t.param("H", HELP);
      return join([s.pre, `const b = ${s.get};`, `const bh = ${s.getHi};`,
        `${H}.mul64(lo[0], hi[0], b, bh, ${signed});`, `const w = ${H}.w;`,
        `const r = w[0], rh = w[1];`, `lo[0] = r; hi[0] = rh; lo[2] = w[2]; hi[2] = w[3];`,
        signed ? `const o = w[2] !== (rh >> 31) || w[3] !== (rh >> 31) ? 1 : 0;` : `const o = (w[2] | w[3]) !== 0 ? 1 : 0;`,
        `f.r = r; f.rh = rh; ${fl}`]);
    }
  }
}

const mul: Compiler = (c) => {
  const t = new Template(c);
  return t.build(mulAcc(false, t.operand(0, "ea"), t));
};

/** IMUL: one operand (accumulator), two (dest *= src) or three (dest = src * imm). */
const imul: Compiler = (c) => {
  const t = new Template(c);
  const ins = c.ins;
  if (ins.opCount === 1) return t.build(mulAcc(true, t.operand(0, "ea"), t));
  const d = t.operand(0, "ea");
  const a = ins.opCount === 3 ? t.operand(1, "eb") : d;
  const b = ins.opCount === 3 ? t.operand(2, "ec") : t.operand(1, "eb");
  const sz = SIZE_INDEX[d.size];
  const fl = `f.op = ${Lf.RES | sz}; f.cin = o; f.b = o;`;
  const pre = [a.pre, b === a ? "" : b.pre];
  switch (d.size) {
    case 2:
      return t.build(join([...pre, `const p = ((${a.get} << 16) >> 16) * ((${b.get} << 16) >> 16);`,
        `const r = p & 0xffff;`, `const o = p !== ((p << 16) >> 16) ? 1 : 0;`, d.set("r"), `f.r = r; ${fl}`]));
    case 4:
      // No overflow: the product is an exact int32 and equals its low dword. Overflow: the true
      // product differs from the low dword by a multiple of 2^32, more than the double's error.
      return t.build(join([...pre, `const x = ${a.get};`, `const y = ${b.get};`, `const r = Math.imul(x, y);`,
        `const o = x * y !== r ? 1 : 0;`, d.set("r"), `f.r = r; ${fl}`]));
    case 8: {
      const H = t.param("H", HELP);
      return t.build(join([...pre, `const x = ${a.get};`, `const xh = ${a.getHi};`, `const y = ${b.get};`, `const yh = ${b.getHi};`,
        `${H}.mul64(x, xh, y, yh, true);`, `const w = ${H}.w;`, `const r = w[0], rh = w[1];`,
        `const o = w[2] !== (rh >> 31) || w[3] !== (rh >> 31) ? 1 : 0;`, d.set("r", "rh"), `f.r = r; f.rh = rh; ${fl}`]));
    }
    default:
      return undefined;
  }
};

/** DIV/IDIV r/m: AL:AH := AX / src, DX:AX, EDX:EAX, RDX:RAX; flags unchanged. */
function divide(signed: boolean): Compiler {
  return (c) => {
    const t = new Template(c);
    const s = t.operand(0, "ea");
    const de = `throw rt.de();`;
    switch (s.size) {
      case 1:
        return t.build(join([s.pre,
          signed ? `const d = (${s.get} << 24) >> 24;` : `const d = ${s.get};`,
          `if (d === 0) ${de}`,
          signed ? `const n = (lo[0] << 16) >> 16;` : `const n = lo[0] & 0xffff;`,
          `const q = Math.trunc(n / d);`,
          signed ? `if (q > 127 || q < -128) ${de}` : `if (q > 0xff) ${de}`,
          `const r = n - q * d;`,
          `lo[0] = (lo[0] & ~0xffff) | ((r & 0xff) << 8) | (q & 0xff);`]));
      case 2:
        return t.build(join([s.pre,
          signed ? `const d = (${s.get} << 16) >> 16;` : `const d = ${s.get};`,
          `if (d === 0) ${de}`,
          signed ? `const n = (lo[2] << 16) | (lo[0] & 0xffff);` : `const n = (lo[2] & 0xffff) * 65536 + (lo[0] & 0xffff);`,
          `const q = Math.trunc(n / d);`,
          signed ? `if (q > 32767 || q < -32768) ${de}` : `if (q > 0xffff) ${de}`,
          `const r = n - q * d;`,
          `lo[0] = (lo[0] & ~0xffff) | (q & 0xffff);`, `lo[2] = (lo[2] & ~0xffff) | (r & 0xffff);`]));
      case 4: {
        const H = t.param("H", HELP);
        return t.build(join([s.pre, `const d = ${s.get};`, `${H}.div64(lo[2], lo[0], d, ${signed});`,
          `const w = ${H}.w;`, `lo[0] = w[0]; hi[0] = 0; lo[2] = w[1]; hi[2] = 0;`]));
      }
      default: {
        const H = t.param("H", HELP);
        return t.build(join([s.pre, `const d = ${s.get};`, `const dh = ${s.getHi};`,
          `${H}.div128(hi[2], lo[2], hi[0], lo[0], dh, d, ${signed});`,
          `const w = ${H}.w;`, `lo[0] = w[0]; hi[0] = w[1]; lo[2] = w[2]; hi[2] = w[3];`]));
      }
    }
  };
}

export const MULDIV: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Mul, mul], [Mnemonic.Imul, imul], [Mnemonic.Div, divide(false)], [Mnemonic.Idiv, divide(true)],
];
