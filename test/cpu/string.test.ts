import { describe, it, expect } from "vitest";
import { Mnemonic, Decoder, DecoderOptions } from "iced-x86";
import { runCode } from "../harness.js";
import type { Cpu } from "../../src/cpu/cpu.js";
import type { Ctx } from "../../src/cpu/context.js";
import { Seg } from "../../src/cpu/regs.js";
import { STRING } from "../../src/cpu/ops/string.js";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
const ARITH = CF | PF | AF | ZF | SF | OF;
const S = 0x200000;
const CODE = 0x100000n;
const B = (n: number): bigint => BigInt(n);

/** Bytes start, start+1, ... (mod 256). */
const seq = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const ascii = (s: string): number[] => Array.from(s, (ch) => ch.charCodeAt(0));

/**
 * Harness set-up: map 0-1 GiB with 2 MiB pages, except 0x200000-0x3fffff with 4 KiB pages where
 * the page at `missing` is not present.
 */
function unmapPage(missing: number) {
  return (cpu: Cpu): void => {
    const dv = cpu.mem.dv;
    const PD = 0x10000, PT = 0x11000;
    for (let i = 0; i < 512; i++) dv.setBigUint64(PD + i * 8, (BigInt(i) * 0x200000n) | 0x83n, true);
    dv.setBigUint64(PD + 8, BigInt(PT | 3), true);
    for (let i = 0; i < 512; i++) {
      const pa = 0x200000 + i * 0x1000;
      dv.setBigUint64(PT + i * 8, pa === missing ? 0n : BigInt(pa | 3), true);
    }
    dv.setBigUint64(0x2000, BigInt(PD | 3), true);
    cpu.mmu.flush();
  };
}

describe("STOS", () => {
  it("rep stosq fills RCX qwords and advances RDI", () => {
    // rep stos %rax,%es:(%rdi)
    const r = runCode({ code: [0xf3, 0x48, 0xab], regs: { rax: 0x1122334455667788n, rcx: 3n, rdi: B(S) },
      mem: [{ addr: S, bytes: new Array(32).fill(0xcc) }] });
    expect(r.fault).toBeUndefined();
    const q = [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11];
    expect(Array.from(r.mem(S, 32))).toEqual([...q, ...q, ...q, ...new Array(8).fill(0xcc)]);
    expect(r.reg("rcx")).toBe(0n);
    expect(r.reg("rdi")).toBe(B(S + 24));
    expect(r.reg("rax")).toBe(0x1122334455667788n);
  });

  it("rep stosb memset across page boundaries", () => {
    // rep stos %al,%es:(%rdi)
    const r = runCode({ code: [0xf3, 0xaa], regs: { rax: 0x12abn, rcx: 5000n, rdi: B(S + 0x800) } });
    expect(r.fault).toBeUndefined();
    const m = r.mem(S + 0x7ff, 5002);
    expect(m[0]).toBe(0);
    expect(m.subarray(1, 5001).every((b) => b === 0xab)).toBe(true);
    expect(m[5001]).toBe(0);
    expect(r.reg("rdi")).toBe(B(S + 0x800 + 5000));
    expect(r.reg("rcx")).toBe(0n);
  });

  it("rep stosq with a non-uniform pattern straddling a page boundary", () => {
    // rep stos %rax,%es:(%rdi)
    const r = runCode({ code: [0xf3, 0x48, 0xab], regs: { rax: 0x0102030405060708n, rcx: 3n, rdi: B(S + 0xffc) } });
    const q = [8, 7, 6, 5, 4, 3, 2, 1];
    expect(Array.from(r.mem(S + 0xffc, 26))).toEqual([...q, ...q, ...q, 0, 0]);
    expect(r.reg("rdi")).toBe(B(S + 0xffc + 24));
  });

  it("rep stosw and rep stosd", () => {
    // rep stos %ax,%es:(%rdi)
    let r = runCode({ code: [0x66, 0xf3, 0xab], regs: { rax: 0xffffffffffffbeefn, rcx: 3n, rdi: B(S) } });
    expect(Array.from(r.mem(S, 8))).toEqual([0xef, 0xbe, 0xef, 0xbe, 0xef, 0xbe, 0, 0]);
    expect(r.reg("rdi")).toBe(B(S + 6));
    // rep stos %eax,%es:(%rdi)
    r = runCode({ code: [0xf3, 0xab], regs: { rax: 0xffffffff01020304n, rcx: 2n, rdi: B(S) } });
    expect(Array.from(r.mem(S, 12))).toEqual([4, 3, 2, 1, 4, 3, 2, 1, 0, 0, 0, 0]);
    expect(r.reg("rdi")).toBe(B(S + 8));
  });

  it("stosd with DF=1 decrements RDI", () => {
    // std; stos %eax,%es:(%rdi)
    const r = runCode({ code: [0xfd, 0xab], regs: { rax: 0xdeadbeefn, rdi: B(S + 8) } });
    expect(Array.from(r.mem(S + 4, 12))).toEqual([0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0]);
    expect(r.reg("rdi")).toBe(B(S + 4));
    expect(r.flags() & DF).toBe(DF);
  });

  it("std; rep stosq fills downwards", () => {
    // std; rep stos %rax,%es:(%rdi)
    const r = runCode({ code: [0xfd, 0xf3, 0x48, 0xab], regs: { rax: 0x0102030405060708n, rcx: 3n, rdi: B(S + 16) } });
    const q = [8, 7, 6, 5, 4, 3, 2, 1];
    expect(Array.from(r.mem(S, 32))).toEqual([...q, ...q, ...q, ...new Array(8).fill(0)]);
    expect(r.reg("rdi")).toBe(B(S - 8));
    expect(r.reg("rcx")).toBe(0n);
  });

  it("rep stosb of 1 MiB", () => {
    // rep stos %al,%es:(%rdi)
    const r = runCode({ code: [0xf3, 0xaa], regs: { rax: 0x5an, rcx: 0x100000n, rdi: B(S) } });
    expect(r.mem(S, 0x100000).every((b) => b === 0x5a)).toBe(true);
    expect(r.reg("rdi")).toBe(B(S + 0x100000));
  });
});

describe("REP with RCX = 0", () => {
  const regs = { rax: 0x55n, rcx: 0n, rsi: B(S), rdi: B(S + 0x100) };
  const mem = [{ addr: S, bytes: seq(16, 1) }, { addr: S + 0x100, bytes: seq(16, 0x81) }];
  const flags = 0x2 | CF | ZF | SF;
  const cases: Array<[string, number[]]> = [
    ["rep stosb", [0xf3, 0xaa]], // rep stos %al,%es:(%rdi)
    ["rep stosq", [0xf3, 0x48, 0xab]], // rep stos %rax,%es:(%rdi)
    ["rep movsb", [0xf3, 0xa4]], // rep movsb %ds:(%rsi),%es:(%rdi)
    ["rep movsq", [0xf3, 0x48, 0xa5]], // rep movsq %ds:(%rsi),%es:(%rdi)
    ["repe cmpsb", [0xf3, 0xa6]], // repz cmpsb %es:(%rdi),%ds:(%rsi)
    ["repne scasb", [0xf2, 0xae]], // repnz scas %es:(%rdi),%al
    ["rep lodsd", [0xf3, 0xad]], // rep lods %ds:(%rsi),%eax
    ["std; rep movsb", [0xfd, 0xf3, 0xa4]],
  ];
  for (const [name, code] of cases) {
    it(`${name} does nothing`, () => {
      const r = runCode({ code, regs, mem, rflags: flags });
      expect(r.fault).toBeUndefined();
      expect(r.reg("rcx")).toBe(0n);
      expect(r.reg("rsi")).toBe(B(S));
      expect(r.reg("rdi")).toBe(B(S + 0x100));
      expect(r.reg("rax")).toBe(0x55n);
      expect(r.flags() & ARITH).toBe(CF | ZF | SF);
      expect(Array.from(r.mem(S, 16))).toEqual(seq(16, 1));
      expect(Array.from(r.mem(S + 0x100, 16))).toEqual(seq(16, 0x81));
    });
  }
});

describe("MOVS", () => {
  it("rep movsb copies across a destination page boundary", () => {
    // rep movsb %ds:(%rsi),%es:(%rdi)
    const r = runCode({ code: [0xf3, 0xa4], regs: { rcx: 300n, rsi: B(S), rdi: B(S + 0x2000 - 100) },
      mem: [{ addr: S, bytes: seq(300, 7) }] });
    expect(Array.from(r.mem(S + 0x2000 - 100, 301))).toEqual([...seq(300, 7), 0]);
    expect(r.reg("rsi")).toBe(B(S + 300));
    expect(r.reg("rdi")).toBe(B(S + 0x2000 + 200));
    expect(r.reg("rcx")).toBe(0n);
  });

  it("rep movsq with both sides unaligned and crossing pages", () => {
    // rep movsq %ds:(%rsi),%es:(%rdi)
    const r = runCode({ code: [0xf3, 0x48, 0xa5], regs: { rcx: 1000n, rsi: B(S + 0xff3), rdi: B(S + 0x10005) },
      mem: [{ addr: S + 0xff3, bytes: seq(8000, 3) }] });
    expect(Array.from(r.mem(S + 0x10005, 8001))).toEqual([...seq(8000, 3), 0]);
    expect(r.reg("rsi")).toBe(B(S + 0xff3 + 8000));
    expect(r.reg("rdi")).toBe(B(S + 0x10005 + 8000));
  });

  it("rep movsd and rep movsw, and movsw without REP", () => {
    // rep movsl %ds:(%rsi),%es:(%rdi)
    let r = runCode({ code: [0xf3, 0xa5], regs: { rcx: 3n, rsi: B(S), rdi: B(S + 0x100) }, mem: [{ addr: S, bytes: seq(16, 1) }] });
    expect(Array.from(r.mem(S + 0x100, 16))).toEqual([...seq(12, 1), 0, 0, 0, 0]);
    // rep movsw %ds:(%rsi),%es:(%rdi)
    r = runCode({ code: [0x66, 0xf3, 0xa5], regs: { rcx: 3n, rsi: B(S), rdi: B(S + 0x100) }, mem: [{ addr: S, bytes: seq(16, 1) }] });
    expect(Array.from(r.mem(S + 0x100, 8))).toEqual([...seq(6, 1), 0, 0]);
    expect(r.reg("rsi")).toBe(B(S + 6));
    // movsw %ds:(%rsi),%es:(%rdi)
    r = runCode({ code: [0x66, 0xa5], regs: { rcx: 3n, rsi: B(S), rdi: B(S + 0x100) }, mem: [{ addr: S, bytes: seq(16, 1) }] });
    expect(Array.from(r.mem(S + 0x100, 4))).toEqual([1, 2, 0, 0]);
    expect(r.reg("rcx")).toBe(3n);
    expect(r.reg("rdi")).toBe(B(S + 0x102));
  });

  it("overlapping rep movsb with RDI = RSI + 1 replicates the first byte", () => {
    // rep movsb %ds:(%rsi),%es:(%rdi)
    const r = runCode({ code: [0xf3, 0xa4], regs: { rcx: 8n, rsi: B(S), rdi: B(S + 1) }, mem: [{ addr: S, bytes: seq(10, 1) }] });
    expect(Array.from(r.mem(S, 10))).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 10]);
    expect(r.reg("rsi")).toBe(B(S + 8));
    expect(r.reg("rdi")).toBe(B(S + 9));
  });

  it("overlapping rep movsb with a long period across pages", () => {
    // rep movsb: copy 5000 bytes forward by 3 from S+0xff0; the 3-byte prefix repeats.
    const r = runCode({ code: [0xf3, 0xa4], regs: { rcx: 5000n, rsi: B(S + 0xff0), rdi: B(S + 0xff3) },
      mem: [{ addr: S + 0xff0, bytes: [0xa, 0xb, 0xc, ...seq(5000, 0x40)] }] });
    const want = Array.from({ length: 5003 }, (_, i) => [0xa, 0xb, 0xc][i % 3]);
    expect(Array.from(r.mem(S + 0xff0, 5003))).toEqual(want);
  });

  it("overlapping rep movsq with RDI = RSI + 4 copies qword by qword", () => {
    // rep movsq %ds:(%rsi),%es:(%rdi)
    const r = runCode({ code: [0xf3, 0x48, 0xa5], regs: { rcx: 2n, rsi: B(S), rdi: B(S + 4) }, mem: [{ addr: S, bytes: seq(24) }] });
    expect(Array.from(r.mem(S, 24))).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]);
    expect(r.reg("rsi")).toBe(B(S + 16));
    expect(r.reg("rdi")).toBe(B(S + 20));
  });

  it("overlapping rep movsb with RDI < RSI shifts down", () => {
    // rep movsb %ds:(%rsi),%es:(%rdi)
    const r = runCode({ code: [0xf3, 0xa4], regs: { rcx: 6n, rsi: B(S + 2), rdi: B(S) }, mem: [{ addr: S, bytes: seq(10, 1) }] });
    expect(Array.from(r.mem(S, 10))).toEqual([3, 4, 5, 6, 7, 8, 7, 8, 9, 10]);
  });

  it("std; rep movsb copies backwards", () => {
    // std; rep movsb %ds:(%rsi),%es:(%rdi)
    let r = runCode({ code: [0xfd, 0xf3, 0xa4], regs: { rcx: 10n, rsi: B(S + 9), rdi: B(S + 0x109) }, mem: [{ addr: S, bytes: seq(10, 1) }] });
    expect(Array.from(r.mem(S + 0xff, 12))).toEqual([0, ...seq(10, 1), 0]);
    expect(r.reg("rsi")).toBe(B(S - 1));
    expect(r.reg("rdi")).toBe(B(S + 0xff));
    // Overlapping, destination above: the backward copy is a memmove.
    r = runCode({ code: [0xfd, 0xf3, 0xa4], regs: { rcx: 8n, rsi: B(S + 7), rdi: B(S + 8) }, mem: [{ addr: S, bytes: seq(10, 1) }] });
    expect(Array.from(r.mem(S, 10))).toEqual([1, 1, 2, 3, 4, 5, 6, 7, 8, 10]);
    expect(r.reg("rsi")).toBe(B(S - 1));
    expect(r.reg("rdi")).toBe(B(S));
  });

  it("std; rep movsq copies backwards by qwords", () => {
    // std; rep movsq %ds:(%rsi),%es:(%rdi)
    const r = runCode({ code: [0xfd, 0xf3, 0x48, 0xa5], regs: { rcx: 2n, rsi: B(S + 8), rdi: B(S + 0x108) }, mem: [{ addr: S, bytes: seq(16, 1) }] });
    expect(Array.from(r.mem(S + 0x100, 16))).toEqual(seq(16, 1));
    expect(r.reg("rsi")).toBe(B(S - 8));
    expect(r.reg("rdi")).toBe(B(S + 0xf8));
  });

  it("rep movsb into a page that holds running code", () => {
    // rep movsb %ds:(%rsi),%es:(%rdi), writing after the code's final HLT
    const r = runCode({ code: [0xf3, 0xa4], regs: { rcx: 16n, rsi: B(S), rdi: CODE + 0x800n }, mem: [{ addr: S, bytes: seq(16, 1) }] });
    expect(r.fault).toBeUndefined();
    expect(Array.from(r.mem(0x100800, 16))).toEqual(seq(16, 1));
  });

  it("segment overrides: FS/GS bases apply in 64-bit mode, DS/ES bases do not", () => {
    const setup = (cpu: Cpu): void => {
      cpu.segBase[Seg.FS] = S + 0x1000;
      cpu.segBase[Seg.GS] = S + 0x2000;
      cpu.segBase[Seg.DS] = 0x40000;
      cpu.segBase[Seg.ES] = 0x50000;
    };
    const mem = [{ addr: S, bytes: seq(16, 1) }, { addr: S + 0x1000, bytes: seq(16, 0x41) }, { addr: S + 0x2000, bytes: seq(16, 0x81) }];
    // movsb %fs:(%rsi),%es:(%rdi)
    let r = runCode({ code: [0x64, 0xa4], regs: { rsi: 4n, rdi: B(S + 0x100) }, mem, setup });
    expect(r.mem(S + 0x100, 1)[0]).toBe(0x45);
    expect(r.reg("rsi")).toBe(5n);
    // lods %gs:(%rsi),%rax
    r = runCode({ code: [0x65, 0x48, 0xad], regs: { rsi: 8n }, mem, setup });
    expect(r.reg("rax")).toBe(0x908f8e8d8c8b8a89n);
    // rep movsb %ds:(%rsi),%es:(%rdi) with DS and ES bases ignored (also the fast path with FS)
    r = runCode({ code: [0xf3, 0xa4], regs: { rcx: 4n, rsi: B(S), rdi: B(S + 0x200) }, mem, setup });
    expect(Array.from(r.mem(S + 0x200, 4))).toEqual([1, 2, 3, 4]);
    // rep movsb %fs:(%rsi),%es:(%rdi)
    r = runCode({ code: [0x64, 0xf3, 0xa4], regs: { rcx: 4n, rsi: 2n, rdi: B(S + 0x300) }, mem, setup });
    expect(Array.from(r.mem(S + 0x300, 4))).toEqual([0x43, 0x44, 0x45, 0x46]);
    expect(r.reg("rsi")).toBe(6n);
  });
});

describe("LODS", () => {
  it("lodsb, lodsw, lodsd, lodsq write the accumulator like MOV", () => {
    const mem = [{ addr: S, bytes: [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0] }];
    const rax = 0xffffffffffffffffn;
    // lods %ds:(%rsi),%al
    let r = runCode({ code: [0xac], regs: { rax, rsi: B(S) }, mem });
    expect(r.reg("rax")).toBe(0xffffffffffffff12n);
    expect(r.reg("rsi")).toBe(B(S + 1));
    // lods %ds:(%rsi),%ax
    r = runCode({ code: [0x66, 0xad], regs: { rax, rsi: B(S) }, mem });
    expect(r.reg("rax")).toBe(0xffffffffffff3412n);
    expect(r.reg("rsi")).toBe(B(S + 2));
    // lods %ds:(%rsi),%eax
    r = runCode({ code: [0xad], regs: { rax, rsi: B(S) }, mem });
    expect(r.reg("rax")).toBe(0x78563412n);
    // lods %ds:(%rsi),%rax
    r = runCode({ code: [0x48, 0xad], regs: { rax, rsi: B(S) }, mem });
    expect(r.reg("rax")).toBe(0xf0debc9a78563412n);
    expect(r.reg("rsi")).toBe(B(S + 8));
  });

  it("rep lodsd leaves the last dword; std; lodsb decrements", () => {
    // rep lods %ds:(%rsi),%eax
    let r = runCode({ code: [0xf3, 0xad], regs: { rax: 0xffffffffffffffffn, rcx: 3n, rsi: B(S) }, mem: [{ addr: S, bytes: seq(16, 1) }] });
    expect(r.reg("rax")).toBe(0x0c0b0a09n);
    expect(r.reg("rsi")).toBe(B(S + 12));
    expect(r.reg("rcx")).toBe(0n);
    // std; lods %ds:(%rsi),%al
    r = runCode({ code: [0xfd, 0xac], regs: { rsi: B(S + 3) }, mem: [{ addr: S, bytes: seq(16, 1) }] });
    expect(r.reg("rax")).toBe(4n);
    expect(r.reg("rsi")).toBe(B(S + 2));
  });
});

describe("CMPS and SCAS", () => {
  it("repe cmpsb stops at the first mismatch", () => {
    // repz cmpsb %es:(%rdi),%ds:(%rsi)
    const r = runCode({ code: [0xf3, 0xa6], regs: { rcx: 6n, rsi: B(S), rdi: B(S + 0x100) },
      mem: [{ addr: S, bytes: ascii("abcdef") }, { addr: S + 0x100, bytes: ascii("abcxef") }] });
    expect(r.reg("rcx")).toBe(2n);
    expect(r.reg("rsi")).toBe(B(S + 4));
    expect(r.reg("rdi")).toBe(B(S + 0x104));
    // 'd' - 'x' = 0x64 - 0x78 = 0xec
    expect(r.flags() & ARITH).toBe(CF | AF | SF);
  });

  it("repe cmpsb over equal strings runs out the count with ZF=1", () => {
    // repz cmpsb %es:(%rdi),%ds:(%rsi)
    const r = runCode({ code: [0xf3, 0xa6], regs: { rcx: 6n, rsi: B(S), rdi: B(S + 0x100) },
      mem: [{ addr: S, bytes: ascii("abcdef") }, { addr: S + 0x100, bytes: ascii("abcdef") }] });
    expect(r.reg("rcx")).toBe(0n);
    expect(r.reg("rsi")).toBe(B(S + 6));
    expect(r.reg("rdi")).toBe(B(S + 0x106));
    expect(r.flags() & ARITH).toBe(ZF | PF);
  });

  it("repne cmpsb stops at the first match", () => {
    // repnz cmpsb %es:(%rdi),%ds:(%rsi)
    const r = runCode({ code: [0xf2, 0xa6], regs: { rcx: 10n, rsi: B(S), rdi: B(S + 0x100) },
      mem: [{ addr: S, bytes: ascii("abcdef") }, { addr: S + 0x100, bytes: ascii("xyzdef") }] });
    expect(r.reg("rcx")).toBe(6n);
    expect(r.reg("rsi")).toBe(B(S + 4));
    expect(r.reg("rdi")).toBe(B(S + 0x104));
    expect(r.flags() & ARITH).toBe(ZF | PF);
  });

  it("std; repe cmpsw compares downwards", () => {
    // std; repz cmpsw %es:(%rdi),%ds:(%rsi)
    const r = runCode({ code: [0xfd, 0x66, 0xf3, 0xa7], regs: { rcx: 4n, rsi: B(S + 6), rdi: B(S + 0x106) },
      mem: [{ addr: S, bytes: [1, 0, 2, 0, 3, 0, 4, 0] }, { addr: S + 0x100, bytes: [1, 0, 9, 0, 3, 0, 4, 0] }] });
    // Words 3 and 2 match, word 1 (2 vs 9) differs.
    expect(r.reg("rcx")).toBe(1n);
    expect(r.reg("rsi")).toBe(B(S));
    expect(r.reg("rdi")).toBe(B(S + 0x100));
    // 2 - 9 = 0xfff9: CF SF AF, PF (0xf9 has 6 bits set)
    expect(r.flags() & ARITH).toBe(CF | SF | AF | PF);
  });

  it("cmpsq compares 64-bit values ([RSI] minus [RDI])", () => {
    // cmpsq %es:(%rdi),%ds:(%rsi)
    const r = runCode({ code: [0x48, 0xa7], regs: { rsi: B(S), rdi: B(S + 0x100) },
      mem: [{ addr: S, bytes: [0, 0, 0, 0, 0, 0, 0, 0x80] }, { addr: S + 0x100, bytes: [1, 0, 0, 0, 0, 0, 0, 0] }] });
    // 0x8000000000000000 - 1 = 0x7fffffffffffffff
    expect(r.flags() & ARITH).toBe(OF | AF | PF);
    expect(r.reg("rsi")).toBe(B(S + 8));
    expect(r.reg("rdi")).toBe(B(S + 0x108));
  });

  it("repe cmpsq finds a difference in the high dword", () => {
    // repz cmpsq %es:(%rdi),%ds:(%rsi)
    const a = [1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0];
    const b = [1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0];
    const r = runCode({ code: [0xf3, 0x48, 0xa7], regs: { rcx: 5n, rsi: B(S), rdi: B(S + 0x100) },
      mem: [{ addr: S, bytes: a }, { addr: S + 0x100, bytes: b }] });
    expect(r.reg("rcx")).toBe(3n);
    // 0x0000000100000005 - 0x0000000200000005 = 0xffffffff00000000
    expect(r.flags() & ARITH).toBe(CF | SF | PF);
  });

  it("repne scasb finds the terminator (strlen idiom)", () => {
    // repnz scas %es:(%rdi),%al
    const r = runCode({ code: [0xf2, 0xae], regs: { rax: 0n, rcx: 0xffffffffffffffffn, rdi: B(S) },
      mem: [{ addr: S, bytes: [...ascii("hello"), 0, 0x55] }] });
    expect(r.reg("rcx")).toBe(0xfffffffffffffff9n);
    expect(r.reg("rdi")).toBe(B(S + 6));
    expect(r.flags() & ARITH).toBe(ZF | PF);
  });

  it("repe scasb skips a run of equal bytes", () => {
    // repz scas %es:(%rdi),%al
    const r = runCode({ code: [0xf3, 0xae], regs: { rax: 0x20n, rcx: 10n, rdi: B(S) },
      mem: [{ addr: S, bytes: [0x20, 0x20, 0x20, 0x41] }] });
    expect(r.reg("rcx")).toBe(6n);
    expect(r.reg("rdi")).toBe(B(S + 4));
    // 0x20 - 0x41 = 0xdf: CF SF AF
    expect(r.flags() & ARITH).toBe(CF | SF | AF);
  });

  it("scasw and repne scasd compare the accumulator with [RDI]", () => {
    // scas %es:(%rdi),%ax
    let r = runCode({ code: [0x66, 0xaf], regs: { rax: 0xffff0000ffff1234n, rdi: B(S) }, mem: [{ addr: S, bytes: [0x34, 0x12] }] });
    expect(r.flags() & ARITH).toBe(ZF | PF);
    expect(r.reg("rdi")).toBe(B(S + 2));
    // repnz scas %es:(%rdi),%eax
    r = runCode({ code: [0xf2, 0xaf], regs: { rax: 0xdeadbeefn, rcx: 100n, rdi: B(S) },
      mem: [{ addr: S, bytes: [1, 0, 0, 0, 2, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde] }] });
    expect(r.reg("rcx")).toBe(97n);
    expect(r.reg("rdi")).toBe(B(S + 12));
    expect(r.flags() & ZF).toBe(ZF);
  });
});

describe("address size", () => {
  it("0x67 in 64-bit mode uses EDI/ECX and zero-extends them", () => {
    // addr32 rep stos %al,%es:(%edi)
    const r = runCode({ code: [0x67, 0xf3, 0xaa], regs: { rax: 0x77n, rcx: 0x100000003n, rdi: 0xffffffff00200000n } });
    expect(r.fault).toBeUndefined();
    expect(Array.from(r.mem(S, 4))).toEqual([0x77, 0x77, 0x77, 0]);
    expect(r.reg("rdi")).toBe(0x200003n);
    expect(r.reg("rcx")).toBe(0n);
  });

  it("0x67 in 64-bit mode: ESI/EDI wrap at 4 GiB", () => {
    // addr32 rep movsb %ds:(%esi),%es:(%edi)
    const r = runCode({ code: [0x67, 0xf3, 0xa4], regs: { rcx: 4n, rsi: B(S), rdi: 0xfffffffen },
      mem: [{ addr: S, bytes: [0xa1, 0xa2, 0xa3, 0xa4] }] });
    expect(r.fault).toBeUndefined();
    expect(Array.from(r.mem(0, 2))).toEqual([0xa3, 0xa4]);
    expect(r.reg("rdi")).toBe(2n);
    expect(r.reg("rsi")).toBe(B(S + 4));
  });

  it("0x67 repe cmpsb in 64-bit mode", () => {
    // addr32 repz cmpsb %es:(%edi),%ds:(%esi)
    const r = runCode({ code: [0x67, 0xf3, 0xa6], regs: { rcx: 0xabcd00000005n, rsi: 0x1200200000n, rdi: 0x3400200100n },
      mem: [{ addr: S, bytes: ascii("abcde") }, { addr: S + 0x100, bytes: ascii("abXde") }] });
    expect(r.reg("rcx")).toBe(2n);
    expect(r.reg("rsi")).toBe(B(S + 3));
    expect(r.reg("rdi")).toBe(B(S + 0x103));
  });

  it("32-bit protected mode: rep movsd adds DS and ES bases", () => {
    // rep movsl %ds:(%esi),%es:(%edi)
    const r = runCode({ mode: 32, code: [0xf3, 0xa5], regs: { rcx: 2n, rsi: 0x10n, rdi: 0x20n },
      setup: (cpu) => { cpu.segBase[Seg.DS] = S; cpu.segBase[Seg.ES] = S + 0x1000; },
      mem: [{ addr: S + 0x10, bytes: seq(8, 1) }] });
    expect(r.fault).toBeUndefined();
    expect(Array.from(r.mem(S + 0x1020, 9))).toEqual([...seq(8, 1), 0]);
    expect(r.reg("rsi")).toBe(0x18n);
    expect(r.reg("rdi")).toBe(0x28n);
    expect(r.reg("rcx")).toBe(0n);
  });

  it("32-bit protected mode: rep stosb and repne scasb", () => {
    // rep stos %al,%es:(%edi); then the same memory scanned with repnz scas
    let r = runCode({ mode: 32, code: [0xf3, 0xaa], regs: { rax: 0x61n, rcx: 5n, rdi: B(S) } });
    expect(Array.from(r.mem(S, 6))).toEqual([0x61, 0x61, 0x61, 0x61, 0x61, 0]);
    expect(r.reg("rdi")).toBe(B(S + 5));
    // repnz scas %es:(%edi),%al
    r = runCode({ mode: 32, code: [0xf2, 0xae], regs: { rax: 0n, rcx: 0xffffffffn, rdi: B(S) }, mem: [{ addr: S, bytes: [...ascii("abc"), 0] }] });
    expect(r.reg("rcx")).toBe(0xfffffffbn);
    expect(r.reg("rdi")).toBe(B(S + 4));
  });

  it("16-bit address size in 32-bit mode: SI/DI/CX wrap at 64 KiB and keep the upper bits", () => {
    // addr16 rep movsb %ds:(%si),%es:(%di)
    const r = runCode({ mode: 32, code: [0x67, 0xf3, 0xa4], regs: { rcx: 0xabcd0002n, rsi: 0x1234ffffn, rdi: 0x5678fffen },
      setup: (cpu) => { cpu.segBase[Seg.DS] = S; cpu.segBase[Seg.ES] = S + 0x20000; },
      mem: [{ addr: S, bytes: [0x11] }, { addr: S + 0xffff, bytes: [0x22] }] });
    expect(r.fault).toBeUndefined();
    expect(Array.from(r.mem(S + 0x2fffe, 2))).toEqual([0x22, 0x11]);
    expect(r.reg("rsi")).toBe(0x12340001n);
    expect(r.reg("rdi")).toBe(0x56780000n);
    expect(r.reg("rcx")).toBe(0xabcd0000n);
  });
});

describe("faults in the middle of REP", () => {
  it("rep stosb stops at the missing page with RDI/RCX at the faulting iteration", () => {
    // rep stos %al,%es:(%rdi)
    const r = runCode({ code: [0xf3, 0xaa], regs: { rax: 0xeen, rcx: 0x100n, rdi: 0x202ff0n }, setup: unmapPage(0x203000) });
    expect(r.fault).toEqual({ vector: 14, errorCode: 2, rip: CODE });
    expect(r.cpu.cr2).toBe(0x203000n);
    expect(r.reg("rdi")).toBe(0x203000n);
    expect(r.reg("rcx")).toBe(0xf0n);
    expect(Array.from(r.mem(0x202fef, 17))).toEqual([0, ...new Array(16).fill(0xee)]);
  });

  it("rep movsq stops on a missing source page", () => {
    // rep movsq %ds:(%rsi),%es:(%rdi)
    const r = runCode({ code: [0xf3, 0x48, 0xa5], regs: { rcx: 10n, rsi: 0x202fe8n, rdi: 0x205000n },
      setup: unmapPage(0x203000), mem: [{ addr: 0x202fe8, bytes: seq(24, 1) }] });
    expect(r.fault).toEqual({ vector: 14, errorCode: 0, rip: CODE });
    expect(r.reg("rcx")).toBe(7n);
    expect(r.reg("rsi")).toBe(0x203000n);
    expect(r.reg("rdi")).toBe(0x205018n);
    expect(Array.from(r.mem(0x205000, 25))).toEqual([...seq(24, 1), 0]);
  });

  it("rep stosq with an element straddling into the missing page writes nothing of it", () => {
    // rep stos %rax,%es:(%rdi)
    const r = runCode({ code: [0xf3, 0x48, 0xab], regs: { rax: 0x1111111111111111n, rcx: 2n, rdi: 0x202ffcn }, setup: unmapPage(0x203000) });
    expect(r.fault?.vector).toBe(14);
    expect(r.reg("rcx")).toBe(2n);
    expect(r.reg("rdi")).toBe(0x202ffcn);
    expect(Array.from(r.mem(0x202ffc, 4))).toEqual([0, 0, 0, 0]);
  });

  it("std; rep stosb (element loop) stops at the missing page below", () => {
    // std; rep stos %al,%es:(%rdi)
    const r = runCode({ code: [0xfd, 0xf3, 0xaa], regs: { rax: 0x33n, rcx: 10n, rdi: 0x204005n }, setup: unmapPage(0x203000) });
    expect(r.fault).toEqual({ vector: 14, errorCode: 2, rip: CODE + 1n });
    expect(r.reg("rcx")).toBe(4n);
    expect(r.reg("rdi")).toBe(0x203fffn);
    expect(Array.from(r.mem(0x204000, 7))).toEqual([0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0]);
  });

  it("repe cmpsb stops on a missing page with RCX/RSI/RDI at the faulting iteration", () => {
    // repz cmpsb %es:(%rdi),%ds:(%rsi)
    const r = runCode({ code: [0xf3, 0xa6], regs: { rcx: 8n, rsi: 0x202000n, rdi: 0x202ffen }, setup: unmapPage(0x203000),
      mem: [{ addr: 0x202000, bytes: [5, 5] }, { addr: 0x202ffe, bytes: [5, 5] }] });
    expect(r.fault).toEqual({ vector: 14, errorCode: 0, rip: CODE });
    expect(r.reg("rcx")).toBe(6n);
    expect(r.reg("rsi")).toBe(0x202002n);
    expect(r.reg("rdi")).toBe(0x203000n);
  });

  it("a 64-bit RCX borrows from the high dword (fast path and element loop)", () => {
    // rep stos %al,%es:(%rdi)
    let r = runCode({ code: [0xf3, 0xaa], regs: { rcx: 0x100000000n, rdi: 0x202ff0n }, setup: unmapPage(0x203000) });
    expect(r.fault?.vector).toBe(14);
    expect(r.reg("rcx")).toBe(0xfffffff0n);
    // std; rep stos %al,%es:(%rdi)
    r = runCode({ code: [0xfd, 0xf3, 0xaa], regs: { rcx: 0x100000002n, rdi: 0x204005n }, setup: unmapPage(0x203000) });
    expect(r.fault?.vector).toBe(14);
    expect(r.reg("rcx")).toBe(0xfffffffcn);
  });

  it("a non-canonical destination raises #GP(0) before any change", () => {
    // rep stos %al,%es:(%rdi)
    const r = runCode({ code: [0xf3, 0xaa], regs: { rcx: 4n, rdi: 0x0000800000000000n } });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: CODE });
    expect(r.reg("rcx")).toBe(4n);
    expect(r.reg("rdi")).toBe(0x0000800000000000n);
  });
});

describe("decoding", () => {
  const compile = (mnemonic: Mnemonic, bytes: number[]) => {
    const ins = new Decoder(64, new Uint8Array(bytes), DecoderOptions.None).decode();
    expect(ins.mnemonic).toBe(mnemonic);
    const comp = STRING.find(([m]) => m === mnemonic)?.[1];
    expect(comp).toBeDefined();
    return comp!({ ins, mode: 64 } as unknown as Ctx);
  };
  it("SSE2 MOVSD and CMPSD are not string instructions", () => {
    // movsd %xmm1,%xmm0
    expect(compile(Mnemonic.Movsd, [0xf2, 0x0f, 0x10, 0xc1])).toBeUndefined();
    // cmpeqsd %xmm1,%xmm0
    expect(compile(Mnemonic.Cmpsd, [0xf2, 0x0f, 0xc2, 0xc1, 0x00])).toBeUndefined();
  });
  it("every string mnemonic is covered", () => {
    const names = STRING.map(([m]) => Mnemonic[m]).sort();
    expect(names).toEqual(["Cmpsb", "Cmpsd", "Cmpsq", "Cmpsw", "Lodsb", "Lodsd", "Lodsq", "Lodsw", "Movsb", "Movsd", "Movsq",
      "Movsw", "Scasb", "Scasd", "Scasq", "Scasw", "Stosb", "Stosd", "Stosq", "Stosw"]);
  });
});

describe("REP budget", () => {
  it("a huge REP STOSB over unbacked memory yields and --max-insns can stop it mid-way", () => {
    // rep stosb (64-bit addressing, DF=0): RDI in unbacked memory (the harness has 16 MiB of RAM)
    const r = runCode({ code: [0xf3, 0xaa], regs: { rdi: 0x40000000n, rcx: 0x10000000n }, maxInsns: 3 });
    expect(r.stop.reason).toBe("max-insns");
    expect(r.reg("rip")).toBe(0x100000n); // still at the REP, which restarts where it stopped
    const done = 0x10000000n - r.reg("rcx");
    expect(done).toBe(3n * 64n * 4096n);
    expect(r.reg("rdi")).toBe(0x40000000n + done);
  });

  it("a generic REP (LODSB, which has no fast path) yields every 65536 iterations and still completes", () => {
    // rep lodsb over 200000 bytes of RAM
    const r = runCode({ code: [0xf3, 0xac], regs: { rsi: 0x200000n, rcx: 200000n } });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("rcx")).toBe(0n);
    expect(r.reg("rsi")).toBe(0x200000n + 200000n);
  });
});
