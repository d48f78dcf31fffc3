// BT BTS BTR BTC BSF BSR POPCNT, and LZCNT/TZCNT executing as BSR/BSF (the model has no
// LZCNT/BMI1 in CPUID). Snippets assembled with GNU as (`as --64`, or `--32`). Cases named
// "(model)" pin this model's choice for flags the SDM leaves undefined (see src/cpu/ops/bits.ts).
import { describe, expect, it } from "vitest";
import { runCode, SCRATCH } from "../harness.js";
import type { GprName } from "../../src/cpu/regs.js";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
const M64 = (1n << 64n) - 1n;

type Regs = Partial<Record<GprName, bigint>>;
interface Case {
  name: string;
  code: number[];
  regs: Regs;
  fin?: number;
  out: Regs;
  flags: number;
  mask?: number;
  mode?: 32 | 64;
  mem?: Array<{ addr: number; bytes: number[] }>;
  memOut?: Array<{ addr: number; bytes: number[] }>;
}

function check(c: Case): void {
  const r = runCode({ code: c.code, regs: c.regs, rflags: (c.fin ?? 0) | 2, mode: c.mode, mem: c.mem });
  expect(r.fault, "fault").toBeUndefined();
  for (const [k, v] of Object.entries(c.out)) expect(r.reg(k as GprName), k).toBe(v);
  const mask = c.mask ?? ARITH;
  expect(r.flags() & mask, "flags").toBe(c.flags & mask);
  for (const m of c.memOut ?? []) expect(Array.from(r.mem(m.addr, m.bytes.length))).toEqual(m.bytes);
}
function cases(list: Case[]): void {
  for (const c of list) it(c.name, () => check(c));
}
const zeros = (n: number) => new Array<number>(n).fill(0);

describe("BT / BTS / BTR / BTC", () => {
  const KEEP = ZF | SF | PF | AF | OF;
  cases([
    { name: "bt $5, eax: CF = bit; no write, so RAX keeps its upper half; other flags kept (model)",
      code: [0x0f, 0xba, 0xe0, 0x05], regs: { rax: 0xffffffff00000020n }, fin: KEEP,
      out: { rax: 0xffffffff00000020n }, flags: KEEP | CF },
    { name: "bt $37, eax: immediate masked to 5 bits", code: [0x0f, 0xba, 0xe0, 0x25],
      regs: { rax: 0x20n }, fin: ZF, out: { rax: 0x20n }, flags: CF | ZF, mask: CF | ZF },
    { name: "bts rbx, rax: bit 63", code: [0x48, 0x0f, 0xab, 0xd8],
      regs: { rax: 0n, rbx: 63n }, fin: CF, out: { rax: 0x8000000000000000n }, flags: 0, mask: CF | ZF },
    { name: "bts rbx, rax: register offset masked to 6 bits", code: [0x48, 0x0f, 0xab, 0xd8],
      regs: { rax: 0x8000000000000000n, rbx: 127n }, out: { rax: 0x8000000000000000n }, flags: CF, mask: CF | ZF },
    { name: "btr bx, ax: offset 20 masked to 4, upper bits kept", code: [0x66, 0x0f, 0xb3, 0xd8],
      regs: { rax: 0x123456789abcffffn, rbx: 20n }, out: { rax: 0x123456789abcffefn }, flags: CF, mask: CF | ZF },
    { name: "btc bx, ax: offset -1 masked to 15", code: [0x66, 0x0f, 0xbb, 0xd8],
      regs: { rax: 0n, rbx: 0xffffn }, fin: CF, out: { rax: 0x8000n }, flags: 0, mask: CF | ZF },
    { name: "btc $63, rax", code: [0x48, 0x0f, 0xba, 0xf8, 0x3f],
      regs: { rax: 0x8000000000000000n }, out: { rax: 0n }, flags: CF, mask: CF | ZF },
    { name: "btr $33, rax", code: [0x48, 0x0f, 0xba, 0xf0, 0x21],
      regs: { rax: M64 }, fin: ZF, out: { rax: 0xfffffffdffffffffn }, flags: CF | ZF, mask: CF | ZF },
    { name: "bt ecx, mem: offset 100 reaches the dword at +12, bit 4", code: [0x0f, 0xa3, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: { rcx: 100n }, mem: [{ addr: SCRATCH, bytes: [...zeros(12), 0x10, 0, 0, 0] }], out: {}, flags: CF, mask: CF | ZF },
    { name: "bt ecx, mem: bit clear", code: [0x0f, 0xa3, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: { rcx: 100n }, fin: CF, mem: [{ addr: SCRATCH, bytes: [...zeros(12), 0xef, 0xff, 0xff, 0xff] }], out: {}, flags: 0, mask: CF | ZF },
    { name: "bts rcx, mem: offset -1 is bit 63 of the qword below", code: [0x48, 0x0f, 0xab, 0x0c, 0x25, 0x10, 0x00, 0x20, 0x00],
      regs: { rcx: M64 }, mem: [{ addr: SCRATCH, bytes: zeros(32) }],
      memOut: [{ addr: SCRATCH, bytes: [...zeros(15), 0x80, ...zeros(16)] }], out: { rcx: M64 }, flags: 0, mask: CF | ZF },
    { name: "btc cx, mem: offset -17 is bit 15 of the word at -4", code: [0x66, 0x0f, 0xbb, 0x0c, 0x25, 0x10, 0x00, 0x20, 0x00],
      regs: { rcx: 0xffefn }, mem: [{ addr: SCRATCH, bytes: [...zeros(13), 0xff, 0, 0] }],
      memOut: [{ addr: SCRATCH, bytes: [...zeros(13), 0x7f, 0, 0, 0] }], out: {}, flags: CF, mask: CF | ZF },
    { name: "btl $35, mem: immediate masked to 5 bits, no displacement", code: [0x0f, 0xba, 0x24, 0x25, 0x00, 0x00, 0x20, 0x00, 0x23],
      regs: {}, mem: [{ addr: SCRATCH, bytes: [0x08, 0, 0, 0, 0xff] }], out: {}, flags: CF, mask: CF | ZF },
    { name: "btsq $70, mem: bit 6 of the qword itself", code: [0x48, 0x0f, 0xba, 0x2c, 0x25, 0x00, 0x00, 0x20, 0x00, 0x46],
      regs: {}, mem: [{ addr: SCRATCH, bytes: zeros(16) }], memOut: [{ addr: SCRATCH, bytes: [0x40, ...zeros(15)] }],
      out: {}, flags: 0, mask: CF | ZF },
    { name: "btr rcx, mem: offset -0x100000 + 5 reaches the qword at -0x20000", code: [0x48, 0x0f, 0xb3, 0x0c, 0x25, 0x00, 0x00, 0x28, 0x00],
      regs: { rcx: (-0x100000n + 5n) & M64 }, mem: [{ addr: 0x260000, bytes: [0xff, 0xff] }],
      memOut: [{ addr: 0x260000, bytes: [0xdf, 0xff] }], out: {}, flags: CF, mask: CF | ZF },
    { name: "bts ecx, mem in 32-bit protected mode: offset -1", code: [0x0f, 0xab, 0x0d, 0x10, 0x00, 0x20, 0x00], mode: 32,
      regs: { rcx: 0xffffffffn }, mem: [{ addr: SCRATCH, bytes: zeros(16) }],
      memOut: [{ addr: SCRATCH, bytes: [...zeros(15), 0x80] }], out: {}, flags: 0, mask: CF | ZF },
  ]);

  it("bt rcx, mem: a bit offset of -2^32 addresses 512 MiB below the operand (#PF here)", () => {
    // bt %rcx,0x200000
    const r = runCode({ code: [0x48, 0x0f, 0xa3, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00], regs: { rcx: M64 - 0xffffffffn } });
    expect(r.fault?.vector).toBe(14);
    expect(r.fault?.errorCode).toBe(0);
    expect(r.cpu.cr2).toBe(0xffffffffe0200000n);
  });
});

describe("BSF / BSR", () => {
  cases([
    { name: "bsf ebx, eax (model: other flags cleared)", code: [0x0f, 0xbc, 0xc3],
      regs: { rax: M64, rbx: 0xf0n }, fin: ARITH, out: { rax: 4n }, flags: 0 },
    { name: "bsr ebx, eax", code: [0x0f, 0xbd, 0xc3],
      regs: { rbx: 0xf0n }, fin: ZF, out: { rax: 7n }, flags: 0, mask: ZF },
    { name: "bsr ebx, eax: bit 31", code: [0x0f, 0xbd, 0xc3],
      regs: { rbx: 0x80000001n }, out: { rax: 31n }, flags: 0, mask: ZF },
    { name: "bsf ebx, eax: bit 31", code: [0x0f, 0xbc, 0xc3],
      regs: { rbx: 0x80000000n }, out: { rax: 31n }, flags: 0, mask: ZF },
    { name: "bsf ebx, eax: zero source sets ZF, leaves all of RAX (model: other flags kept)", code: [0x0f, 0xbc, 0xc3],
      regs: { rax: 0xdeadbeef12345678n, rbx: 0xffffffff00000000n }, fin: CF | SF,
      out: { rax: 0xdeadbeef12345678n }, flags: CF | SF | ZF },
    { name: "bsf rbx, rax: bit 63", code: [0x48, 0x0f, 0xbc, 0xc3],
      regs: { rbx: 0x8000000000000000n }, out: { rax: 63n }, flags: 0, mask: ZF },
    { name: "bsf rbx, rax: low dword", code: [0x48, 0x0f, 0xbc, 0xc3],
      regs: { rbx: 0x8000000000000010n }, out: { rax: 4n }, flags: 0, mask: ZF },
    { name: "bsr rbx, rax: bit 32", code: [0x48, 0x0f, 0xbd, 0xc3],
      regs: { rbx: 0x100000001n }, out: { rax: 32n }, flags: 0, mask: ZF },
    { name: "bsr rbx, rax: result 0 still clears ZF", code: [0x48, 0x0f, 0xbd, 0xc3],
      regs: { rax: 5n, rbx: 1n }, fin: ZF, out: { rax: 0n }, flags: 0, mask: ZF },
    { name: "bsr rbx, rax: zero source", code: [0x48, 0x0f, 0xbd, 0xc3],
      regs: { rax: 0x1234n, rbx: 0n }, out: { rax: 0x1234n }, flags: ZF, mask: ZF },
    { name: "bsf bx, ax: 16-bit write keeps the upper bits", code: [0x66, 0x0f, 0xbc, 0xc3],
      regs: { rax: 0xffffffffffff1234n, rbx: 0x8000n }, out: { rax: 0xffffffffffff000fn }, flags: 0, mask: ZF },
    { name: "bsr bx, ax: BX zero (upper RBX bits ignored)", code: [0x66, 0x0f, 0xbd, 0xc3],
      regs: { rax: 0x1234n, rbx: 0x10000n }, out: { rax: 0x1234n }, flags: ZF, mask: ZF },
    { name: "bsfl mem, eax", code: [0x0f, 0xbc, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: {}, mem: [{ addr: SCRATCH, bytes: [0, 0, 0x20, 0] }], out: { rax: 21n }, flags: 0, mask: ZF },
    { name: "bsr ebx, eax in 32-bit protected mode", code: [0x0f, 0xbd, 0xc3], mode: 32,
      regs: { rbx: 0x00010000n }, out: { rax: 16n }, flags: 0, mask: ZF },
  ]);
});

describe("POPCNT", () => {
  cases([
    { name: "popcnt rbx, rax: all ones, flags cleared", code: [0xf3, 0x48, 0x0f, 0xb8, 0xc3],
      regs: { rbx: M64 }, fin: ARITH, out: { rax: 64n }, flags: 0 },
    { name: "popcnt rbx, rax: zero sets only ZF", code: [0xf3, 0x48, 0x0f, 0xb8, 0xc3],
      regs: { rax: 7n, rbx: 0n }, fin: ARITH, out: { rax: 0n }, flags: ZF },
    { name: "popcnt ebx, eax: zero-extends", code: [0xf3, 0x0f, 0xb8, 0xc3],
      regs: { rax: M64, rbx: 0xffffffff80000001n }, out: { rax: 2n }, flags: 0 },
    { name: "popcnt bx, ax", code: [0x66, 0xf3, 0x0f, 0xb8, 0xc3],
      regs: { rax: 0xffffffffffffffffn, rbx: 0xffff0f0fn }, out: { rax: 0xffffffffffff0008n }, flags: 0 },
    { name: "popcnt mem64, rax", code: [0xf3, 0x48, 0x0f, 0xb8, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: {}, mem: [{ addr: SCRATCH, bytes: [1, 3, 7, 0xf, 0, 0, 0, 0x80] }], out: { rax: 11n }, flags: 0 },
  ]);
});

describe("LZCNT / TZCNT without ABM/BMI1: they execute as BSR / BSF", () => {
  cases([
    { name: "lzcnt ebx, eax = bsr: 1 -> 0 (LZCNT would give 31)", code: [0xf3, 0x0f, 0xbd, 0xc3],
      regs: { rbx: 1n, rax: 99n }, fin: ZF, out: { rax: 0n }, flags: 0 },
    { name: "lzcnt ebx, eax = bsr: zero source sets ZF, leaves EAX (LZCNT would give 32, CF=1)", code: [0xf3, 0x0f, 0xbd, 0xc3],
      regs: { rbx: 0n, rax: 99n }, out: { rax: 99n }, flags: ZF },
    { name: "lzcnt rbx, rax = bsr: 0x10 -> 4", code: [0xf3, 0x48, 0x0f, 0xbd, 0xc3],
      regs: { rbx: 0x10n }, out: { rax: 4n }, flags: 0, mask: ZF | CF },
    { name: "tzcnt ebx, eax = bsf: 0x80000000 -> 31", code: [0xf3, 0x0f, 0xbc, 0xc3],
      regs: { rbx: 0x80000000n }, out: { rax: 31n }, flags: 0, mask: ZF | CF },
    { name: "tzcnt ebx, eax = bsf: zero source sets ZF, CF unchanged", code: [0xf3, 0x0f, 0xbc, 0xc3],
      regs: { rbx: 0n, rax: 0x5555n }, out: { rax: 0x5555n }, flags: ZF },
  ]);
});
