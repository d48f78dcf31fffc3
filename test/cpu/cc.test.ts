import { describe, it, expect } from "vitest";
import { runCode } from "../harness.js";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
const S = 0x200000;
const CC_NAMES = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

/** Condition cc (SDM Vol. 1, Table B-1) over architectural RFLAGS bits. */
function holds(cc: number, fl: number): boolean {
  const cf = (fl & CF) !== 0, zf = (fl & ZF) !== 0, sf = (fl & SF) !== 0, of = (fl & OF) !== 0, pf = (fl & PF) !== 0;
  let t: boolean;
  switch (cc >> 1) {
    case 0: t = of; break;
    case 1: t = cf; break;
    case 2: t = zf; break;
    case 3: t = cf || zf; break;
    case 4: t = sf; break;
    case 5: t = pf; break;
    case 6: t = sf !== of; break;
    default: t = zf || sf !== of; break;
  }
  return (cc & 1) === 0 ? t : !t;
}

/** Reference RFLAGS arithmetic bits of CMP a, b at `bits` width. */
function cmpFlags(a: bigint, b: bigint, bits: number): number {
  const mask = (1n << BigInt(bits)) - 1n;
  a &= mask; b &= mask;
  const r = (a - b) & mask;
  const top = BigInt(bits - 1);
  let fl = 0;
  if (a < b) fl |= CF;
  if (r === 0n) fl |= ZF;
  if ((r >> top) & 1n) fl |= SF;
  if ((((a ^ b) & (a ^ r)) >> top) & 1n) fl |= OF;
  if (((a ^ b ^ r) >> 4n) & 1n) fl |= AF;
  let ones = 0;
  for (let v = Number(r & 0xffn); v; v >>= 1) ones += v & 1;
  if ((ones & 1) === 0) fl |= PF;
  return fl;
}

const qwords = (bytes: Uint8Array): bigint[] => {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => dv.getBigUint64(i * 8, true));
};

// setCC byte [rdi+i] for the 16 conditions in encoding order.
const SETCC_ALL = [
  0x0f, 0x90, 0x07, // seto BYTE PTR [rdi]
  0x0f, 0x91, 0x47, 0x01, // setno BYTE PTR [rdi+0x1]
  0x0f, 0x92, 0x47, 0x02, // setb BYTE PTR [rdi+0x2]
  0x0f, 0x93, 0x47, 0x03, // setae BYTE PTR [rdi+0x3]
  0x0f, 0x94, 0x47, 0x04, // sete BYTE PTR [rdi+0x4]
  0x0f, 0x95, 0x47, 0x05, // setne BYTE PTR [rdi+0x5]
  0x0f, 0x96, 0x47, 0x06, // setbe BYTE PTR [rdi+0x6]
  0x0f, 0x97, 0x47, 0x07, // seta BYTE PTR [rdi+0x7]
  0x0f, 0x98, 0x47, 0x08, // sets BYTE PTR [rdi+0x8]
  0x0f, 0x99, 0x47, 0x09, // setns BYTE PTR [rdi+0x9]
  0x0f, 0x9a, 0x47, 0x0a, // setp BYTE PTR [rdi+0xa]
  0x0f, 0x9b, 0x47, 0x0b, // setnp BYTE PTR [rdi+0xb]
  0x0f, 0x9c, 0x47, 0x0c, // setl BYTE PTR [rdi+0xc]
  0x0f, 0x9d, 0x47, 0x0d, // setge BYTE PTR [rdi+0xd]
  0x0f, 0x9e, 0x47, 0x0e, // setle BYTE PTR [rdi+0xe]
  0x0f, 0x9f, 0x47, 0x0f, // setg BYTE PTR [rdi+0xf]
];

// For each condition i: rcx = rsi; cmovCC 64-bit rcx <- rdx; [rdi + 8*i] = rcx.
const CMOV64_ALL = [
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x40, 0xca, // cmovo rcx,rdx
  0x48, 0x89, 0x0f, // mov QWORD PTR [rdi],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x41, 0xca, // cmovno rcx,rdx
  0x48, 0x89, 0x4f, 0x08, // mov QWORD PTR [rdi+0x8],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x42, 0xca, // cmovb rcx,rdx
  0x48, 0x89, 0x4f, 0x10, // mov QWORD PTR [rdi+0x10],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x43, 0xca, // cmovae rcx,rdx
  0x48, 0x89, 0x4f, 0x18, // mov QWORD PTR [rdi+0x18],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x44, 0xca, // cmove rcx,rdx
  0x48, 0x89, 0x4f, 0x20, // mov QWORD PTR [rdi+0x20],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x45, 0xca, // cmovne rcx,rdx
  0x48, 0x89, 0x4f, 0x28, // mov QWORD PTR [rdi+0x28],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x46, 0xca, // cmovbe rcx,rdx
  0x48, 0x89, 0x4f, 0x30, // mov QWORD PTR [rdi+0x30],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x47, 0xca, // cmova rcx,rdx
  0x48, 0x89, 0x4f, 0x38, // mov QWORD PTR [rdi+0x38],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x48, 0xca, // cmovs rcx,rdx
  0x48, 0x89, 0x4f, 0x40, // mov QWORD PTR [rdi+0x40],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x49, 0xca, // cmovns rcx,rdx
  0x48, 0x89, 0x4f, 0x48, // mov QWORD PTR [rdi+0x48],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x4a, 0xca, // cmovp rcx,rdx
  0x48, 0x89, 0x4f, 0x50, // mov QWORD PTR [rdi+0x50],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x4b, 0xca, // cmovnp rcx,rdx
  0x48, 0x89, 0x4f, 0x58, // mov QWORD PTR [rdi+0x58],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x4c, 0xca, // cmovl rcx,rdx
  0x48, 0x89, 0x4f, 0x60, // mov QWORD PTR [rdi+0x60],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x4d, 0xca, // cmovge rcx,rdx
  0x48, 0x89, 0x4f, 0x68, // mov QWORD PTR [rdi+0x68],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x4e, 0xca, // cmovle rcx,rdx
  0x48, 0x89, 0x4f, 0x70, // mov QWORD PTR [rdi+0x70],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x48, 0x0f, 0x4f, 0xca, // cmovg rcx,rdx
  0x48, 0x89, 0x4f, 0x78, // mov QWORD PTR [rdi+0x78],rcx
];

// For each condition i: rcx = rsi; cmovCC 32-bit rcx <- rdx; [rdi + 8*i] = rcx.
const CMOV32_ALL = [
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x40, 0xca, // cmovo ecx,edx
  0x48, 0x89, 0x0f, // mov QWORD PTR [rdi],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x41, 0xca, // cmovno ecx,edx
  0x48, 0x89, 0x4f, 0x08, // mov QWORD PTR [rdi+0x8],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x42, 0xca, // cmovb ecx,edx
  0x48, 0x89, 0x4f, 0x10, // mov QWORD PTR [rdi+0x10],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x43, 0xca, // cmovae ecx,edx
  0x48, 0x89, 0x4f, 0x18, // mov QWORD PTR [rdi+0x18],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x44, 0xca, // cmove ecx,edx
  0x48, 0x89, 0x4f, 0x20, // mov QWORD PTR [rdi+0x20],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x45, 0xca, // cmovne ecx,edx
  0x48, 0x89, 0x4f, 0x28, // mov QWORD PTR [rdi+0x28],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x46, 0xca, // cmovbe ecx,edx
  0x48, 0x89, 0x4f, 0x30, // mov QWORD PTR [rdi+0x30],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x47, 0xca, // cmova ecx,edx
  0x48, 0x89, 0x4f, 0x38, // mov QWORD PTR [rdi+0x38],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x48, 0xca, // cmovs ecx,edx
  0x48, 0x89, 0x4f, 0x40, // mov QWORD PTR [rdi+0x40],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x49, 0xca, // cmovns ecx,edx
  0x48, 0x89, 0x4f, 0x48, // mov QWORD PTR [rdi+0x48],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x4a, 0xca, // cmovp ecx,edx
  0x48, 0x89, 0x4f, 0x50, // mov QWORD PTR [rdi+0x50],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x4b, 0xca, // cmovnp ecx,edx
  0x48, 0x89, 0x4f, 0x58, // mov QWORD PTR [rdi+0x58],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x4c, 0xca, // cmovl ecx,edx
  0x48, 0x89, 0x4f, 0x60, // mov QWORD PTR [rdi+0x60],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x4d, 0xca, // cmovge ecx,edx
  0x48, 0x89, 0x4f, 0x68, // mov QWORD PTR [rdi+0x68],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x4e, 0xca, // cmovle ecx,edx
  0x48, 0x89, 0x4f, 0x70, // mov QWORD PTR [rdi+0x70],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x0f, 0x4f, 0xca, // cmovg ecx,edx
  0x48, 0x89, 0x4f, 0x78, // mov QWORD PTR [rdi+0x78],rcx
];

// For each condition i: rcx = rsi; cmovCC 16-bit rcx <- rdx; [rdi + 8*i] = rcx.
const CMOV16_ALL = [
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x40, 0xca, // cmovo cx,dx
  0x48, 0x89, 0x0f, // mov QWORD PTR [rdi],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x41, 0xca, // cmovno cx,dx
  0x48, 0x89, 0x4f, 0x08, // mov QWORD PTR [rdi+0x8],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x42, 0xca, // cmovb cx,dx
  0x48, 0x89, 0x4f, 0x10, // mov QWORD PTR [rdi+0x10],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x43, 0xca, // cmovae cx,dx
  0x48, 0x89, 0x4f, 0x18, // mov QWORD PTR [rdi+0x18],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x44, 0xca, // cmove cx,dx
  0x48, 0x89, 0x4f, 0x20, // mov QWORD PTR [rdi+0x20],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x45, 0xca, // cmovne cx,dx
  0x48, 0x89, 0x4f, 0x28, // mov QWORD PTR [rdi+0x28],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x46, 0xca, // cmovbe cx,dx
  0x48, 0x89, 0x4f, 0x30, // mov QWORD PTR [rdi+0x30],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x47, 0xca, // cmova cx,dx
  0x48, 0x89, 0x4f, 0x38, // mov QWORD PTR [rdi+0x38],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x48, 0xca, // cmovs cx,dx
  0x48, 0x89, 0x4f, 0x40, // mov QWORD PTR [rdi+0x40],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x49, 0xca, // cmovns cx,dx
  0x48, 0x89, 0x4f, 0x48, // mov QWORD PTR [rdi+0x48],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x4a, 0xca, // cmovp cx,dx
  0x48, 0x89, 0x4f, 0x50, // mov QWORD PTR [rdi+0x50],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x4b, 0xca, // cmovnp cx,dx
  0x48, 0x89, 0x4f, 0x58, // mov QWORD PTR [rdi+0x58],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x4c, 0xca, // cmovl cx,dx
  0x48, 0x89, 0x4f, 0x60, // mov QWORD PTR [rdi+0x60],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x4d, 0xca, // cmovge cx,dx
  0x48, 0x89, 0x4f, 0x68, // mov QWORD PTR [rdi+0x68],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x4e, 0xca, // cmovle cx,dx
  0x48, 0x89, 0x4f, 0x70, // mov QWORD PTR [rdi+0x70],rcx
  0x48, 0x89, 0xf1, // mov rcx,rsi
  0x66, 0x0f, 0x4f, 0xca, // cmovg cx,dx
  0x48, 0x89, 0x4f, 0x78, // mov QWORD PTR [rdi+0x78],rcx
];

const PAIRS: Array<[bigint, bigint]> = [
  [5n, 5n], [3n, 5n], [5n, 3n], [0x8000000000000000n, 1n], [0x7fffffffffffffffn, 0xffffffffffffffffn],
  [0xffffffffffffffffn, 1n], [0n, 0x80n], [7n, 4n], [0x80000000n, 1n], [0x7fffffffn, 0xffffffffn],
  [0x80n, 1n], [0x7fn, 0xffn], [0xffn, 0x7fn], [0x100000000n, 1n], [1n, 0x100000000n], [0x1234n, 0x1230n],
];
const CMPS: Array<{ name: string; bits: number; code: number[] }> = [
  { name: "cmp rax, rbx", bits: 64, code: [0x48, 0x39, 0xd8] }, // cmp %rbx,%rax
  { name: "cmp eax, ebx", bits: 32, code: [0x39, 0xd8] }, // cmp %ebx,%eax
  { name: "cmp al, bl", bits: 8, code: [0x38, 0xd8] }, // cmp %bl,%al
];

/** Every arithmetic-flag combination of CF PF ZF SF OF (AF does not matter to conditions). */
const FLAG_COMBOS = Array.from({ length: 32 }, (_, i) =>
  (i & 1 ? CF : 0) | (i & 2 ? PF : 0) | (i & 4 ? ZF : 0) | (i & 8 ? SF : 0) | (i & 16 ? OF : 0));

describe("SETcc", () => {
  for (const cmp of CMPS) {
    it(`all 16 conditions after ${cmp.name}`, () => {
      const seen = CC_NAMES.map(() => new Set<boolean>());
      for (const [a, b] of PAIRS) {
        const r = runCode({ code: [...cmp.code, ...SETCC_ALL], regs: { rax: a, rbx: b, rdi: BigInt(S) },
          mem: [{ addr: S, bytes: new Array(16).fill(0xcc) }] });
        expect(r.fault).toBeUndefined();
        const fl = cmpFlags(a, b, cmp.bits);
        expect(r.flags() & ARITH, `${a} ${b}`).toBe(fl);
        const got = Array.from(r.mem(S, 16));
        const want = CC_NAMES.map((_, cc) => (holds(cc, fl) ? 1 : 0));
        expect(got, `${cmp.name} with ${a.toString(16)}, ${b.toString(16)}`).toEqual(want);
        want.forEach((w, cc) => seen[cc].add(w === 1));
      }
      // Each condition was seen both true and false.
      for (let cc = 0; cc < 16; cc++) expect(seen[cc].size, CC_NAMES[cc]).toBe(2);
    });
  }

  it("all 16 conditions from flags loaded directly (every CF/PF/ZF/SF/OF combination)", () => {
    for (const fl of FLAG_COMBOS) {
      const r = runCode({ code: SETCC_ALL, regs: { rdi: BigInt(S) }, rflags: 0x2 | fl,
        mem: [{ addr: S, bytes: new Array(16).fill(0xcc) }] });
      expect(Array.from(r.mem(S, 16)), `flags ${fl.toString(16)}`).toEqual(CC_NAMES.map((_, cc) => (holds(cc, fl) ? 1 : 0)));
      expect(r.flags()).toBe(0x2 | fl);
    }
  });

  it("after ADD and TEST", () => {
    // add %rbx,%rax: 0x7fffffffffffffff + 1 overflows to 0x8000000000000000 (OF SF AF PF).
    let r = runCode({ code: [0x48, 0x01, 0xd8, ...SETCC_ALL], regs: { rax: 0x7fffffffffffffffn, rbx: 1n, rdi: BigInt(S) } });
    expect(r.flags() & ARITH).toBe(OF | SF | AF | PF);
    expect(Array.from(r.mem(S, 16))).toEqual(CC_NAMES.map((_, cc) => (holds(cc, OF | SF | AF | PF) ? 1 : 0)));
    // test %ebx,%eax: 0x80000001 & 0x80000003 = 0x80000001 (SF; CF and OF clear; PF from 0x01 odd).
    r = runCode({ code: [0x85, 0xd8, ...SETCC_ALL], regs: { rax: 0x80000001n, rbx: 0x80000003n, rdi: BigInt(S) } });
    expect(r.flags() & ARITH).toBe(SF);
    expect(Array.from(r.mem(S, 16))).toEqual(CC_NAMES.map((_, cc) => (holds(cc, SF) ? 1 : 0)));
  });

  it("register destinations: AH, R12B, CL keep the other bits", () => {
    // sete %ah
    let r = runCode({ code: [0x0f, 0x94, 0xc4], regs: { rax: 0xffffffffffff00ffn }, rflags: 0x2 | ZF });
    expect(r.reg("rax")).toBe(0xffffffffffff01ffn);
    r = runCode({ code: [0x0f, 0x94, 0xc4], regs: { rax: 0xffffffffffffffffn }, rflags: 0x2 });
    expect(r.reg("rax")).toBe(0xffffffffffff00ffn);
    // setne %r12b
    r = runCode({ code: [0x41, 0x0f, 0x95, 0xc4], regs: { r12: 0xffffffffffffffffn }, rflags: 0x2 });
    expect(r.reg("r12")).toBe(0xffffffffffffff01n);
    // setb %cl
    r = runCode({ code: [0x0f, 0x92, 0xc1], regs: { rcx: 0x123456789abcdef0n }, rflags: 0x2 | CF });
    expect(r.reg("rcx")).toBe(0x123456789abcde01n);
  });

  it("32-bit protected mode: cmp eax, ebx; setl cl", () => {
    // cmp %ebx,%eax; setl %cl  (-2 < 1 signed)
    const r = runCode({ mode: 32, code: [0x39, 0xd8, 0x0f, 0x9c, 0xc1], regs: { rax: 0xfffffffen, rbx: 1n, rcx: 0xaabbccddn } });
    expect(r.fault).toBeUndefined();
    expect(r.reg("rcx")).toBe(0xaabbcc01n);
  });
});

describe("CMOVcc", () => {
  const OLD = 0x1111111122222222n, NEW = 0x3333333344444444n;
  const want = (width: number, t: boolean): bigint => {
    if (width === 64) return t ? NEW : OLD;
    // A 32-bit CMOV writes (and zero-extends) the destination even when the condition is false.
    if (width === 32) return (t ? NEW : OLD) & 0xffffffffn;
    return t ? (OLD & ~0xffffn) | (NEW & 0xffffn) : OLD;
  };
  const tables: Array<[number, number[]]> = [[64, CMOV64_ALL], [32, CMOV32_ALL], [16, CMOV16_ALL]];

  for (const [width, table] of tables) {
    it(`all 16 conditions, ${width}-bit, after cmp rax, rbx`, () => {
      const seen = CC_NAMES.map(() => new Set<boolean>());
      for (const [a, b] of PAIRS) {
        const r = runCode({ code: [0x48, 0x39, 0xd8, ...table], regs: { rax: a, rbx: b, rsi: OLD, rdx: NEW, rdi: BigInt(S) } });
        expect(r.fault).toBeUndefined();
        const fl = cmpFlags(a, b, 64);
        expect(r.flags() & ARITH).toBe(fl);
        const got = qwords(r.mem(S, 128));
        expect(got, `${a.toString(16)}, ${b.toString(16)}`).toEqual(CC_NAMES.map((_, cc) => want(width, holds(cc, fl))));
        CC_NAMES.forEach((_, cc) => seen[cc].add(holds(cc, fl)));
      }
      for (let cc = 0; cc < 16; cc++) expect(seen[cc].size, CC_NAMES[cc]).toBe(2);
    });

    it(`all 16 conditions, ${width}-bit, every CF/PF/ZF/SF/OF combination`, () => {
      for (const fl of FLAG_COMBOS) {
        const r = runCode({ code: table, regs: { rsi: OLD, rdx: NEW, rdi: BigInt(S) }, rflags: 0x2 | fl });
        expect(qwords(r.mem(S, 128)), `flags ${fl.toString(16)}`).toEqual(CC_NAMES.map((_, cc) => want(width, holds(cc, fl))));
        expect(r.flags()).toBe(0x2 | fl);
      }
    });
  }

  it("a memory source is read even when the condition is false: non-canonical address faults", () => {
    // cmove (%rbx),%rax
    for (const fl of [0, ZF]) {
      const r = runCode({ code: [0x48, 0x0f, 0x44, 0x03], regs: { rax: 7n, rbx: 0x8000000000000000n }, rflags: 0x2 | fl });
      expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: 0x100000n });
      expect(r.reg("rax")).toBe(7n);
    }
  });

  it("cmovne eax, [rbx]: loads when true; zero-extends the destination when false", () => {
    const mem = [{ addr: S, bytes: [0x78, 0x56, 0x34, 0x12] }];
    // cmovne (%rbx),%eax
    let r = runCode({ code: [0x0f, 0x45, 0x03], regs: { rax: 0xaaaaaaaabbbbbbbbn, rbx: BigInt(S) }, rflags: 0x2, mem });
    expect(r.reg("rax")).toBe(0x12345678n);
    r = runCode({ code: [0x0f, 0x45, 0x03], regs: { rax: 0xaaaaaaaabbbbbbbbn, rbx: BigInt(S) }, rflags: 0x2 | ZF, mem });
    expect(r.reg("rax")).toBe(0xbbbbbbbbn);
  });

  it("cmovge cx, [rbx] keeps bits 63:16", () => {
    const mem = [{ addr: S, bytes: [0x34, 0x12] }];
    // cmovge (%rbx),%cx
    let r = runCode({ code: [0x66, 0x0f, 0x4d, 0x0b], regs: { rcx: 0xffffffffffffffffn, rbx: BigInt(S) }, rflags: 0x2, mem });
    expect(r.reg("rcx")).toBe(0xffffffffffff1234n);
    r = runCode({ code: [0x66, 0x0f, 0x4d, 0x0b], regs: { rcx: 0xffffffffffffffffn, rbx: BigInt(S) }, rflags: 0x2 | SF, mem });
    expect(r.reg("rcx")).toBe(0xffffffffffffffffn);
  });

  it("32-bit protected mode: cmovg edx, esi and cmovb eax, [ebx]", () => {
    // cmp %ebx,%eax; cmovg %esi,%edx; cmovb (%ebx),%eax  (5 vs 3: greater, not below)
    const code = [0x39, 0xd8, 0x0f, 0x4f, 0xd6, 0x0f, 0x42, 0x03];
    let r = runCode({ mode: 32, code, regs: { rax: 5n, rbx: 3n, rsi: 0x11223344n, rdx: 9n } });
    expect(r.fault).toBeUndefined();
    expect(r.reg("rdx")).toBe(0x11223344n);
    expect(r.reg("rax")).toBe(5n);
    // 2 vs S: below and not greater; the load happens.
    r = runCode({ mode: 32, code, regs: { rax: 2n, rbx: BigInt(S), rsi: 0x11223344n, rdx: 9n },
      mem: [{ addr: S, bytes: [0xef, 0xbe, 0xad, 0xde] }] });
    expect(r.reg("rdx")).toBe(9n);
    expect(r.reg("rax")).toBe(0xdeadbeefn);
  });
});
