// MUL IMUL DIV IDIV. Snippets assembled with GNU as (`as --64`, or `--32` where noted).
// Defined flags (CF, OF of MUL/IMUL) are as the SDM says and were cross-checked on the host CPU;
// the model's choice for the undefined SF/ZF/PF (from the low half) and AF (0) is tested too.
import { describe, expect, it } from "vitest";
import { runCode, SCRATCH } from "../harness.js";
import type { GprName } from "../../src/cpu/regs.js";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
const ALL = ARITH | 0x2;
const M64 = (1n << 64n) - 1n;

type Regs = Partial<Record<GprName, bigint>>;
function run(code: number[], regs: Regs, opts: { rflags?: number; mem?: Array<{ addr: number; bytes: number[] }>; mode?: 32 | 64 } = {}) {
  const r = runCode({ code, regs, rflags: opts.rflags ?? 0x2, mem: opts.mem, mode: opts.mode });
  return r;
}
function expectRegs(r: ReturnType<typeof run>, regs: Regs): void {
  for (const [k, v] of Object.entries(regs)) expect(r.reg(k as GprName), k).toBe(v);
}
function le64(v: bigint): number[] {
  const out: number[] = [];
  for (let i = 0n; i < 8n; i++) out.push(Number((v >> (8n * i)) & 0xffn));
  return out;
}

// mul %bl            mul %ah            mul %bx                  mul %ebx           mul %rbx
const MUL8 = [0xf6, 0xe3], MUL_AH = [0xf6, 0xe4], MUL16 = [0x66, 0xf7, 0xe3], MUL32 = [0xf7, 0xe3], MUL64 = [0x48, 0xf7, 0xe3];
// imul %bl           imul %bx                 imul %ebx          imul %rbx
const IMUL8 = [0xf6, 0xeb], IMUL16 = [0x66, 0xf7, 0xeb], IMUL32 = [0xf7, 0xeb], IMUL64 = [0x48, 0xf7, 0xeb];
// div %bl            div %bx                  div %ebx           div %rbx
const DIV8 = [0xf6, 0xf3], DIV16 = [0x66, 0xf7, 0xf3], DIV32 = [0xf7, 0xf3], DIV64 = [0x48, 0xf7, 0xf3];
// idiv %bl           idiv %bx                 idiv %ebx          idiv %rbx
const IDIV8 = [0xf6, 0xfb], IDIV16 = [0x66, 0xf7, 0xfb], IDIV32 = [0xf7, 0xfb], IDIV64 = [0x48, 0xf7, 0xfb];

describe("MUL", () => {
  it("mul bl: AX = AL * BL, CF = OF = (AH != 0)", () => {
    const r = run(MUL8, { rax: 0xffffffffffffff80n, rbx: 2n });
    expectRegs(r, { rax: 0xffffffffffff0100n, rbx: 2n });
    expect(r.flags() & ALL).toBe(0x2 | CF | OF | ZF | PF);
  });
  it("mul bl without overflow clears CF/OF; SF/PF from AL", () => {
    const r = run(MUL8, { rax: 0x10n, rbx: 0x0fn }, { rflags: ALL });
    expectRegs(r, { rax: 0xf0n });
    expect(r.flags() & ALL).toBe(0x2 | SF | PF);
  });
  it("mul ah reads the high byte register", () => {
    const r = run(MUL_AH, { rax: 0x0310n });
    expectRegs(r, { rax: 0x30n });
    expect(r.flags() & ARITH).toBe(PF);
  });
  it("mul bx: DX:AX, upper register bits kept", () => {
    const r = run(MUL16, { rax: 0x111122223333ffffn, rdx: 0x4444555566667777n, rbx: 0xffffn });
    expectRegs(r, { rax: 0x1111222233330001n, rdx: 0x444455556666fffen });
    expect(r.flags() & ARITH).toBe(CF | OF);
  });
  it("mul ebx: EDX:EAX, both zero-extended", () => {
    const r = run(MUL32, { rax: 0xdeadbeef80000000n, rdx: M64, rbx: 4n });
    expectRegs(r, { rax: 0n, rdx: 2n });
    expect(r.flags() & ARITH).toBe(CF | OF | ZF | PF);
  });
  it("mul ebx: 0xffffffff^2 (exact high dword)", () => {
    const r = run(MUL32, { rax: 0xffffffffn, rbx: 0xffffffffn });
    expectRegs(r, { rax: 1n, rdx: 0xfffffffen });
    expect(r.flags() & (CF | OF)).toBe(CF | OF);
  });
  it("mul rbx: 128-bit product of all-ones", () => {
    const r = run(MUL64, { rax: M64, rbx: M64 });
    expectRegs(r, { rax: 1n, rdx: 0xfffffffffffffffen });
    expect(r.flags() & ARITH).toBe(CF | OF);
  });
  it("mul rbx without overflow", () => {
    const r = run(MUL64, { rax: 0x100000000n, rbx: 0x7fffffffn, rdx: 5n }, { rflags: ALL });
    expectRegs(r, { rax: 0x7fffffff00000000n, rdx: 0n });
    expect(r.flags() & ARITH).toBe(PF);
  });
  it("mull mem32", () => {
    // mull 0x200000
    const r = run([0xf7, 0x24, 0x25, 0x00, 0x00, 0x20, 0x00], { rax: 0x80000001n },
      { mem: [{ addr: SCRATCH, bytes: [0x02, 0, 0, 0] }] });
    expectRegs(r, { rax: 2n, rdx: 1n });
    expect(r.flags() & (CF | OF)).toBe(CF | OF);
  });
  it("mul ebx in 32-bit protected mode", () => {
    // mul %ebx (as --32)
    const r = run([0xf7, 0xe3], { rax: 0xffffffffn, rbx: 0xffffffffn }, { mode: 32 });
    expectRegs(r, { rax: 1n, rdx: 0xfffffffen });
    expect(r.flags() & (CF | OF)).toBe(CF | OF);
  });
});

describe("IMUL", () => {
  it("imul bl: -128 * -1 does not fit in AL", () => {
    const r = run(IMUL8, { rax: 0x80n, rbx: 0xffn });
    expectRegs(r, { rax: 0x0080n });
    expect(r.flags() & ARITH).toBe(CF | OF | SF);
  });
  it("imul bl: -2 * 3 = -6 sign-extends into AH", () => {
    const r = run(IMUL8, { rax: 0xfen, rbx: 3n });
    expectRegs(r, { rax: 0xfffan });
    expect(r.flags() & ARITH).toBe(SF | PF);
  });
  it("imul bx: 0x8000^2", () => {
    const r = run(IMUL16, { rax: 0x8000n, rbx: 0x8000n, rdx: 0x1234n });
    expectRegs(r, { rax: 0n, rdx: 0x4000n });
    expect(r.flags() & ARITH).toBe(CF | OF | ZF | PF);
  });
  it("imul ebx: -1 * -1 = 1, EDX zero-extended to 0", () => {
    const r = run(IMUL32, { rax: 0xffffffffn, rbx: 0xffffffffn, rdx: M64 });
    expectRegs(r, { rax: 1n, rdx: 0n });
    expect(r.flags() & ARITH).toBe(0);
  });
  it("imul ebx: 0x7fffffff * 2 overflows the signed dword", () => {
    const r = run(IMUL32, { rax: 0x7fffffffn, rbx: 2n });
    expectRegs(r, { rax: 0xfffffffen, rdx: 0n });
    expect(r.flags() & ARITH).toBe(CF | OF | SF);
  });
  it("imul ebx: -0x80000000 * -0x80000000 = 2^62", () => {
    const r = run(IMUL32, { rax: 0x80000000n, rbx: 0x80000000n });
    expectRegs(r, { rax: 0n, rdx: 0x40000000n });
    expect(r.flags() & (CF | OF)).toBe(CF | OF);
  });
  it("imul rbx: INT64_MIN * -1 = 2^63 overflows", () => {
    const r = run(IMUL64, { rax: 0x8000000000000000n, rbx: M64 });
    expectRegs(r, { rax: 0x8000000000000000n, rdx: 0n });
    expect(r.flags() & ARITH).toBe(CF | OF | SF | PF);
  });
  it("imul rbx: -3 * 5 sign-extends into RDX", () => {
    const r = run(IMUL64, { rax: M64 - 2n, rbx: 5n });
    expectRegs(r, { rax: 0xfffffffffffffff1n, rdx: M64 });
    expect(r.flags() & ARITH).toBe(SF);
  });
  it("imul rbx, rax (two operands): 5 * 7", () => {
    // imul %rbx,%rax
    const r = run([0x48, 0x0f, 0xaf, 0xc3], { rax: 5n, rbx: 7n, rdx: 9n }, { rflags: ALL });
    expectRegs(r, { rax: 35n, rdx: 9n });
    expect(r.flags() & ARITH).toBe(0);
  });
  it("imul rbx, rax: 2^32 * 2^32 overflows to 0", () => {
    const r = run([0x48, 0x0f, 0xaf, 0xc3], { rax: 0x100000000n, rbx: 0x100000000n });
    expectRegs(r, { rax: 0n });
    expect(r.flags() & ARITH).toBe(CF | OF | ZF | PF);
  });
  it("imul rbx, rax: -2^31 * 2^32 = INT64_MIN fits exactly", () => {
    const r = run([0x48, 0x0f, 0xaf, 0xc3], { rax: 0xffffffff80000000n, rbx: 0x100000000n });
    expectRegs(r, { rax: 0x8000000000000000n });
    expect(r.flags() & ARITH).toBe(SF | PF);
  });
  it("imul ebx, eax zero-extends RAX", () => {
    // imul %ebx,%eax
    const r = run([0x0f, 0xaf, 0xc3], { rax: 0xaaaabbbb00000010n, rbx: 0x10n });
    expectRegs(r, { rax: 0x100n });
    expect(r.flags() & ARITH).toBe(PF);
  });
  it("imul ebx, eax: 0x10000 * 0x10000 overflows", () => {
    const r = run([0x0f, 0xaf, 0xc3], { rax: 0x10000n, rbx: 0x10000n });
    expectRegs(r, { rax: 0n });
    expect(r.flags() & (CF | OF)).toBe(CF | OF);
  });
  it("imul $-3, bx, ax (three operands, 16-bit)", () => {
    // imul $-3,%bx,%ax
    const r = run([0x66, 0x6b, 0xc3, 0xfd], { rax: 0x123456789abcdef0n, rbx: 0x4000n });
    expectRegs(r, { rax: 0x123456789abc4000n, rbx: 0x4000n });
    expect(r.flags() & ARITH).toBe(CF | OF | PF);
  });
  it("imul $-3, bx, ax without overflow", () => {
    const r = run([0x66, 0x6b, 0xc3, 0xfd], { rax: 0n, rbx: 0x1000n });
    expectRegs(r, { rax: 0xd000n });
    expect(r.flags() & (CF | OF)).toBe(0);
  });
  it("imul $0x12345, mem32, eax", () => {
    // imul $0x12345,0x200000,%eax
    const r = run([0x69, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x45, 0x23, 0x01, 0x00], { rax: M64 },
      { mem: [{ addr: SCRATCH, bytes: [0, 0, 1, 0] }] });
    expectRegs(r, { rax: 0x23450000n });
    expect(r.flags() & ARITH).toBe(CF | OF | PF);
  });
  it("imul $-2, rbx, rax: exactly INT64_MIN, then one past it", () => {
    // imul $-2,%rbx,%rax
    const code = [0x48, 0x6b, 0xc3, 0xfe];
    let r = run(code, { rbx: 0x4000000000000000n });
    expectRegs(r, { rax: 0x8000000000000000n });
    expect(r.flags() & ARITH).toBe(SF | PF);
    r = run(code, { rbx: 0x4000000000000001n });
    expectRegs(r, { rax: 0x7ffffffffffffffen });
    expect(r.flags() & ARITH).toBe(CF | OF);
  });
  it("imul mem64, rcx", () => {
    // imul 0x200000,%rcx
    const r = run([0x48, 0x0f, 0xaf, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00], { rcx: 0x123456789n },
      { mem: [{ addr: SCRATCH, bytes: le64(M64) }] });
    expectRegs(r, { rcx: 0xfffffffedcba9877n });
    expect(r.flags() & ARITH).toBe(SF | PF);
  });
  it("imul $7, ecx, edx in 32-bit protected mode", () => {
    // imul $7,%ecx,%edx (as --32)
    const r = run([0x6b, 0xd1, 0x07], { rcx: 0x20000000n }, { mode: 32 });
    expectRegs(r, { rdx: 0xe0000000n });
    expect(r.flags() & (CF | OF)).toBe(CF | OF);
  });
});

describe("DIV", () => {
  it("div bl: AL = quotient, AH = remainder; flags unchanged", () => {
    const r = run(DIV8, { rax: 0xffff0000000003e8n, rbx: 7n }, { rflags: ALL });
    expect(r.fault).toBeUndefined();
    expectRegs(r, { rax: 0xffff00000000068en });
    expect(r.flags() & ALL).toBe(ALL);
  });
  it("div bl by zero raises #DE with nothing changed", () => {
    const r = run(DIV8, { rax: 0x1234n, rbx: 0xff00n, rdx: 0x55n });
    expect(r.fault?.vector).toBe(0);
    expect(r.fault?.rip).toBe(0x100000n);
    expectRegs(r, { rax: 0x1234n, rbx: 0xff00n, rdx: 0x55n });
  });
  it("div bl quotient overflow raises #DE", () => {
    const r = run(DIV8, { rax: 0x1000n, rbx: 2n });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 0x1000n });
  });
  it("div bl: largest quotient 0xff", () => {
    const r = run(DIV8, { rax: 0x1fen, rbx: 2n });
    expect(r.fault).toBeUndefined();
    expectRegs(r, { rax: 0xffn });
  });
  it("div bx: DX:AX / BX", () => {
    const r = run(DIV16, { rax: 0xaaaa0000n, rdx: 0xbbbb0001n, rbx: 3n });
    expectRegs(r, { rax: 0xaaaa5555n, rdx: 0xbbbb0001n });
  });
  it("div bx overflow raises #DE", () => {
    const r = run(DIV16, { rax: 0n, rdx: 3n, rbx: 3n });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 0n, rdx: 3n });
  });
  it("div ebx: EDX:EAX / EBX, results zero-extended", () => {
    const r = run(DIV32, { rax: 0xffffffff00000000n, rdx: 0xffffffff00000001n, rbx: 0x10n });
    expectRegs(r, { rax: 0x10000000n, rdx: 0n });
  });
  it("div ebx: full-width 64/32 division", () => {
    // 0xfffffffe_ffffffff / 0xffffffff = 0xffffffff rem 0xfffffffe
    const r = run(DIV32, { rax: 0xffffffffn, rdx: 0xfffffffen, rbx: 0xffffffffn });
    expectRegs(r, { rax: 0xffffffffn, rdx: 0xfffffffen });
  });
  it("div ebx overflow raises #DE", () => {
    const r = run(DIV32, { rax: 0n, rdx: 0x10n, rbx: 0x10n });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 0n, rdx: 0x10n });
  });
  it("div rbx: 2^64 / 3", () => {
    const r = run(DIV64, { rax: 0n, rdx: 1n, rbx: 3n });
    expectRegs(r, { rax: 0x5555555555555555n, rdx: 1n });
  });
  it("div rbx with a divisor above 2^32", () => {
    const r = run(DIV64, { rax: 0x456789abcdef0123n, rdx: 0x123n, rbx: 0x100000001n });
    expectRegs(r, { rax: 0x12345678888n, rdx: 0x8887789bn });
  });
  it("div rbx: all-ones dividend by all-ones-minus-one", () => {
    // (2^128 - 1) is too big; (2^64 - 2) * 2^64 + (2^64 - 1) / (2^64 - 1) = 2^64 - 1 rem 2^64 - 2
    const r = run(DIV64, { rax: M64, rdx: M64 - 1n, rbx: M64 });
    expectRegs(r, { rax: M64, rdx: M64 - 1n });
  });
  it("div rbx overflow and by zero raise #DE", () => {
    let r = run(DIV64, { rax: 7n, rdx: 5n, rbx: 5n });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 7n, rdx: 5n });
    r = run(DIV64, { rax: 7n, rdx: 0n, rbx: 0n });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 7n, rdx: 0n });
  });
  it("divq mem64", () => {
    // divq 0x200000
    const r = run([0x48, 0xf7, 0x34, 0x25, 0x00, 0x00, 0x20, 0x00], { rax: 100n, rdx: 0n },
      { mem: [{ addr: SCRATCH, bytes: le64(10n) }] });
    expectRegs(r, { rax: 10n, rdx: 0n });
  });
});

describe("IDIV", () => {
  it("idiv bl: -100 / 7 truncates toward zero", () => {
    const r = run(IDIV8, { rax: 0xff9cn, rbx: 7n });
    expectRegs(r, { rax: 0xfef2n });
  });
  it("idiv bl: -128 / 1 fits; -32768 / -1 and 128 / 1 do not", () => {
    let r = run(IDIV8, { rax: 0xff80n, rbx: 1n });
    expect(r.fault).toBeUndefined();
    expectRegs(r, { rax: 0x0080n });
    r = run(IDIV8, { rax: 0x8000n, rbx: 0xffn });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 0x8000n });
    r = run(IDIV8, { rax: 0x0080n, rbx: 1n });
    expect(r.fault?.vector).toBe(0);
  });
  it("idiv bx: 32768 / -1 = -32768 fits; -32768 / -1 raises #DE", () => {
    let r = run(IDIV16, { rax: 0x8000n, rdx: 0n, rbx: 0xffffn });
    expect(r.fault).toBeUndefined();
    expectRegs(r, { rax: 0x8000n, rdx: 0n });
    r = run(IDIV16, { rax: 0x8000n, rdx: 0xffffn, rbx: 0xffffn });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 0x8000n, rdx: 0xffffn });
  });
  it("idiv ebx: INT32_MIN / -1 raises #DE", () => {
    const r = run(IDIV32, { rax: 0x80000000n, rdx: 0xffffffffn, rbx: 0xffffffffn });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 0x80000000n, rdx: 0xffffffffn });
  });
  it("idiv ebx: 2^31 / -1 = INT32_MIN fits", () => {
    const r = run(IDIV32, { rax: 0x80000000n, rdx: 0n, rbx: 0xffffffffn });
    expect(r.fault).toBeUndefined();
    expectRegs(r, { rax: 0x80000000n, rdx: 0n });
  });
  it("idiv ebx: -7 / 2 = -3 rem -1, zero-extended", () => {
    const r = run(IDIV32, { rax: M64 - 6n, rdx: M64, rbx: 2n });
    expectRegs(r, { rax: 0xfffffffdn, rdx: 0xffffffffn });
  });
  it("idiv ebx: 7 / -2 = -3 rem 1", () => {
    const r = run(IDIV32, { rax: 7n, rdx: 0n, rbx: 0xfffffffen });
    expectRegs(r, { rax: 0xfffffffdn, rdx: 1n });
  });
  it("idiv rbx: INT64_MIN / -1 raises #DE", () => {
    const r = run(IDIV64, { rax: 0x8000000000000000n, rdx: M64, rbx: M64 }, { rflags: ALL });
    expect(r.fault?.vector).toBe(0);
    expect(r.fault?.rip).toBe(0x100000n);
    expectRegs(r, { rax: 0x8000000000000000n, rdx: M64, rbx: M64 });
  });
  it("idiv rbx: -7 / 2", () => {
    const r = run(IDIV64, { rax: M64 - 6n, rdx: M64, rbx: 2n });
    expectRegs(r, { rax: M64 - 2n, rdx: M64 });
  });
  it("idiv rbx: -3 * 2^63 / 3 = INT64_MIN fits; / -3 raises #DE", () => {
    let r = run(IDIV64, { rax: 0x8000000000000000n, rdx: 0xfffffffffffffffen, rbx: 3n });
    expect(r.fault).toBeUndefined();
    expectRegs(r, { rax: 0x8000000000000000n, rdx: 0n });
    r = run(IDIV64, { rax: 0x8000000000000000n, rdx: 0xfffffffffffffffen, rbx: M64 - 2n });
    expect(r.fault?.vector).toBe(0);
  });
  it("idiv rbx: 128-bit negative dividend by a divisor above 2^32", () => {
    // -0x123456789abcdef0123456789 / 0x7000000000000
    const r = run(IDIV64, { rax: 0x543210fedcba9877n, rdx: 0xfffffffedcba9876n, rbx: 0x7000000000000n });
    expectRegs(r, { rax: 0xffffd663cca3309an, rdx: 0xfffc10fedcba9877n });
  });
  it("idivl mem32 of zero raises #DE", () => {
    // idivl 0x200000
    const r = run([0xf7, 0x3c, 0x25, 0x00, 0x00, 0x20, 0x00], { rax: 5n, rdx: 0n },
      { mem: [{ addr: SCRATCH, bytes: [0, 0, 0, 0] }] });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 5n, rdx: 0n });
  });
  it("idiv ebx: #DE in 32-bit protected mode", () => {
    // idiv %ebx (as --32)
    const r = run([0xf7, 0xfb], { rax: 0x80000000n, rdx: 0xffffffffn, rbx: 0xffffffffn }, { mode: 32 });
    expect(r.fault?.vector).toBe(0);
    expectRegs(r, { rax: 0x80000000n, rdx: 0xffffffffn });
  });
});

describe("64-bit MUL/IMUL/DIV/IDIV against a BigInt model", () => {
  let seed = 0x12345678n;
  const next = (): bigint => {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & M64;
    const v = seed ^ (seed >> 29n);
    // Mix in small and boundary values.
    switch (Number(seed >> 60n)) {
      case 0: return v & 0xffn;
      case 1: return v & 0xffffffffn;
      case 2: return M64 - (v & 0xffn);
      case 3: return 0x8000000000000000n + (v & 0xfn);
      default: return v;
    }
  };
  const s64 = (v: bigint) => BigInt.asIntN(64, v);
  it("mul / imul rbx", () => {
    for (let i = 0; i < 40; i++) {
      const a = next(), b = next();
      let r = run(MUL64, { rax: a, rbx: b });
      const p = a * b;
      expectRegs(r, { rax: p & M64, rdx: p >> 64n });
      expect(r.flags() & CF).toBe(p >> 64n ? CF : 0);
      r = run(IMUL64, { rax: a, rbx: b });
      const q = s64(a) * s64(b);
      expectRegs(r, { rax: q & M64, rdx: (q >> 64n) & M64 });
      expect(r.flags() & CF).toBe(q === s64(q & M64) ? 0 : CF);
    }
  });
  it("div / idiv rbx", () => {
    for (let i = 0; i < 40; i++) {
      const hiBits = next(), lo = next(), d = next();
      const h = i % 3 === 0 ? hiBits : hiBits % (d || 1n);
      let r = run(DIV64, { rax: lo, rdx: h, rbx: d });
      const n = (h << 64n) | lo;
      if (d === 0n || n / d > M64) expect(r.fault?.vector).toBe(0);
      else expectRegs(r, { rax: n / d, rdx: n % d });
      // Signed: a sign-extended dividend most of the time.
      const sh = i % 2 ? (s64(lo) < 0n ? M64 : 0n) : h;
      r = run(IDIV64, { rax: lo, rdx: sh, rbx: d });
      const sn = BigInt.asIntN(128, (sh << 64n) | lo), sd = s64(d);
      const sq = sd === 0n ? 0n : sn / sd;
      if (sd === 0n || sq !== s64(sq & M64)) expect(r.fault?.vector).toBe(0);
      else expectRegs(r, { rax: sq & M64, rdx: (sn - sq * sd) & M64 });
    }
  });
});
