// SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD. Snippets assembled with GNU as (`as --64`, or `--32`).
// Each case checks exact registers and RFLAGS. `mask` limits the flag comparison where a case is
// about architecturally defined flags only; cases named "(model)" pin this model's deterministic
// choice for flags or results the SDM leaves undefined (see src/cpu/ops/shift.ts). The defined
// flags were cross-checked against the host CPU with inline asm.
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
  /** Input arithmetic flags (bit 1 is added). */
  fin?: number;
  out: Regs;
  /** Expected arithmetic flags, compared under `mask` (default all six). */
  flags: number;
  mask?: number;
  mode?: 32 | 64;
  mem?: number[];
  memOut?: number[];
}

function check(c: Case): void {
  const r = runCode({ code: c.code, regs: c.regs, rflags: (c.fin ?? 0) | 2, mode: c.mode,
    mem: c.mem ? [{ addr: SCRATCH, bytes: c.mem }] : undefined });
  expect(r.fault, "fault").toBeUndefined();
  for (const [k, v] of Object.entries(c.out)) expect(r.reg(k as GprName), k).toBe(v);
  const mask = c.mask ?? ARITH;
  expect(r.flags() & mask, "flags").toBe(c.flags & mask);
  if (c.memOut) expect(Array.from(r.mem(SCRATCH, c.memOut.length))).toEqual(c.memOut);
}
function cases(list: Case[]): void {
  for (const c of list) it(c.name, () => check(c));
}

// shl $1,%eax        shl %cl,%al        shl %cl,%eax       shr %cl,%eax
const SHL1_EAX = [0xd1, 0xe0], SHL_AL_CL = [0xd2, 0xe0], SHL_EAX_CL = [0xd3, 0xe0], SHR_EAX_CL = [0xd3, 0xe8];
// shl %cl,%rax              shr %cl,%rax              sar %cl,%rax
const SHL_RAX_CL = [0x48, 0xd3, 0xe0], SHR_RAX_CL = [0x48, 0xd3, 0xe8], SAR_RAX_CL = [0x48, 0xd3, 0xf8];

describe("SHL / SAL", () => {
  cases([
    { name: "shl $1, eax: CF = bit out, OF = MSB ^ CF, zero-extends", code: SHL1_EAX,
      regs: { rax: 0xffffffff80000001n }, out: { rax: 2n }, flags: CF | OF },
    { name: "shl $1, eax into the sign bit", code: SHL1_EAX,
      regs: { rax: 0x40000000n }, fin: CF, out: { rax: 0x80000000n }, flags: OF | SF | PF },
    { name: "shl cl=8, al: result 0, CF = old bit 0", code: SHL_AL_CL,
      regs: { rax: 0x1281n, rcx: 8n }, out: { rax: 0x1200n }, flags: ZF | PF, mask: ZF | SF | PF },
    { name: "shl cl=8, al (model): CF = old bit 0, OF = CF, AF = 0", code: SHL_AL_CL,
      regs: { rax: 0x1281n, rcx: 8n }, fin: AF, out: { rax: 0x1200n }, flags: CF | OF | ZF | PF },
    { name: "shl cl=9, al (model): all bits gone, CF = 0", code: SHL_AL_CL,
      regs: { rax: 0xffn, rcx: 9n }, fin: CF | OF, out: { rax: 0n }, flags: ZF | PF },
    { name: "shl cl=0, eax: flags untouched, upper half cleared", code: SHL_EAX_CL,
      regs: { rax: 0xffffffff12345678n, rcx: 0x100n }, fin: ARITH, out: { rax: 0x12345678n }, flags: ARITH },
    { name: "shl cl=32, eax: count masked to 0", code: SHL_EAX_CL,
      regs: { rax: 0xffffffff12345678n, rcx: 32n }, fin: CF | ZF, out: { rax: 0x12345678n }, flags: CF | ZF },
    { name: "shl cl=33, eax: count masked to 1", code: SHL_EAX_CL,
      regs: { rax: 0xc0000000n, rcx: 33n }, out: { rax: 0x80000000n }, flags: CF | SF | PF },
    { name: "shl $32, eax: masked to 0 (imm form) still zero-extends", code: [0xc1, 0xe0, 0x20],
      regs: { rax: 0xaaaaaaaa00000001n }, fin: SF | OF, out: { rax: 1n }, flags: SF | OF },
    { name: "shl $32, rax: CF = old bit 32", code: [0x48, 0xc1, 0xe0, 0x20],
      regs: { rax: 0x180000001n }, out: { rax: 0x8000000100000000n }, flags: CF | SF | PF, mask: CF | ZF | SF | PF },
    { name: "shl $32, rax (model OF = MSB ^ CF)", code: [0x48, 0xc1, 0xe0, 0x20],
      regs: { rax: 0x180000001n }, out: { rax: 0x8000000100000000n }, flags: CF | SF | PF },
    { name: "shl cl=63, rax", code: SHL_RAX_CL,
      regs: { rax: 3n, rcx: 63n }, out: { rax: 0x8000000000000000n }, flags: CF | SF | PF },
    { name: "shl cl=64, rax: masked to 0", code: SHL_RAX_CL,
      regs: { rax: 3n, rcx: 64n }, fin: OF, out: { rax: 3n }, flags: OF },
    { name: "shl cl=1, rax across the dword boundary", code: SHL_RAX_CL,
      regs: { rax: 0x7fffffff80000000n, rcx: 1n }, out: { rax: 0xffffffff00000000n }, flags: OF | SF | PF },
    { name: "shl $4, ax: CF = old bit 12 (model OF = MSB ^ CF)", code: [0x66, 0xc1, 0xe0, 0x04],
      regs: { rax: 0x1234n }, out: { rax: 0x2340n }, flags: CF | OF },
    { name: "sal $3, al via the D0-C1 /6 alias encoding (hand-encoded: c0 f0 03)", code: [0xc0, 0xf0, 0x03],
      regs: { rax: 0x31n }, out: { rax: 0x88n }, flags: CF | SF | PF, mask: CF | ZF | SF | PF },
    { name: "shl cl, ecx: the count is read before the write", code: [0xd3, 0xe1],
      regs: { rcx: 0x104n }, out: { rcx: 0x1040n }, flags: 0, mask: CF | ZF | SF },
    { name: "shll $1, mem32", code: [0xd1, 0x24, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: {}, mem: [0, 0, 0, 0x80], memOut: [0, 0, 0, 0], out: {}, flags: CF | OF | ZF | PF },
    { name: "shl cl=31, eax in 32-bit protected mode", code: SHL_EAX_CL, mode: 32,
      regs: { rax: 1n, rcx: 31n }, out: { rax: 0x80000000n }, flags: SF | PF, mask: CF | ZF | SF | PF },
  ]);
});

describe("SHR / SAR", () => {
  cases([
    { name: "shr $0, rax: nothing changes", code: [0x48, 0xc1, 0xe8, 0x00],
      regs: { rax: 0x8000000000000001n }, fin: ARITH, out: { rax: 0x8000000000000001n }, flags: ARITH },
    { name: "shr cl=0, eax: zero-extends, flags kept", code: SHR_EAX_CL,
      regs: { rax: 0x1234567800000010n, rcx: 0n }, fin: PF | AF, out: { rax: 0x10n }, flags: PF | AF },
    { name: "shr cl=1, rax: OF = old MSB", code: SHR_RAX_CL,
      regs: { rax: 0x8000000000000001n, rcx: 1n }, out: { rax: 0x4000000000000000n }, flags: CF | OF | PF },
    { name: "shr cl=36, rax: CF = old bit 35", code: SHR_RAX_CL,
      regs: { rax: 0x1800000000n, rcx: 36n }, fin: OF, out: { rax: 1n }, flags: CF },
    { name: "shr cl=32, rax: exact dword move", code: SHR_RAX_CL,
      regs: { rax: 0x8765432112345678n, rcx: 32n }, out: { rax: 0x87654321n }, flags: PF, mask: CF | ZF | SF | PF },
    { name: "shr $1, bx: OF = old bit 15", code: [0x66, 0xd1, 0xeb],
      regs: { rbx: 0xffff8001n }, out: { rbx: 0xffff4000n }, flags: CF | OF | PF },
    { name: "shr cl=16, eax (model OF = 0)", code: SHR_EAX_CL,
      regs: { rax: 0xffff8000n, rcx: 16n }, out: { rax: 0xffffn }, flags: CF | PF },
    { name: "shrl cl=0, mem32: memory and flags unchanged", code: [0xd3, 0x2c, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: { rcx: 0n }, fin: CF | SF, mem: [1, 2, 3, 4], memOut: [1, 2, 3, 4], out: {}, flags: CF | SF },
    { name: "sar $1, al", code: [0xd0, 0xf8],
      regs: { rax: 0x81n }, fin: OF, out: { rax: 0xc0n }, flags: CF | SF | PF },
    { name: "sar $63, rax", code: [0x48, 0xc1, 0xf8, 0x3f],
      regs: { rax: 0x8000000000000000n }, out: { rax: M64 }, flags: SF | PF },
    { name: "sar cl=32, rax", code: SAR_RAX_CL,
      regs: { rax: 0x8000000080000000n, rcx: 32n }, out: { rax: 0xffffffff80000000n }, flags: CF | SF | PF },
    { name: "sar cl=5, rax (positive)", code: SAR_RAX_CL,
      regs: { rax: 0x7fffffffffffffffn, rcx: 5n }, out: { rax: 0x03ffffffffffffffn }, flags: CF | PF },
    { name: "sar cl=20, bx: count beyond the width fills with the sign", code: [0x66, 0xd3, 0xfb],
      regs: { rbx: 0x8000n, rcx: 20n }, out: { rbx: 0xffffn }, flags: CF | SF | PF },
    { name: "sarl cl=31, mem32", code: [0xd3, 0x3c, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: { rcx: 31n }, mem: [0, 0, 0, 0x40], memOut: [0, 0, 0, 0], out: {}, flags: CF | ZF | PF },
  ]);
});

describe("ROL / ROR", () => {
  const KEEP = ZF | SF | PF | AF;
  cases([
    { name: "rol $1, al: CF = new LSB, OF = MSB ^ CF, others kept", code: [0xd0, 0xc0],
      regs: { rax: 0x80n }, fin: KEEP, out: { rax: 0x01n }, flags: KEEP | CF | OF },
    { name: "rol cl=8, al: value unchanged but CF = LSB", code: [0xd2, 0xc0],
      regs: { rax: 0x80n, rcx: 8n }, fin: CF, out: { rax: 0x80n }, flags: 0, mask: ARITH & ~OF },
    { name: "rol cl=32, al: masked count 0 changes nothing", code: [0xd2, 0xc0],
      regs: { rax: 0x80n, rcx: 32n }, fin: CF | OF, out: { rax: 0x80n }, flags: CF | OF },
    { name: "ror $4, rax", code: [0x48, 0xc1, 0xc8, 0x04],
      regs: { rax: 0x123456789abcdef0n }, fin: CF | OF, out: { rax: 0x0123456789abcdefn }, flags: 0 },
    { name: "ror $4, rax: CF = new MSB (model OF = MSB ^ MSB-1)", code: [0x48, 0xc1, 0xc8, 0x04],
      regs: { rax: 0xfn }, out: { rax: 0xf000000000000000n }, flags: CF },
    { name: "ror cl=1, eax: zero-extends, OF = MSB ^ MSB-1", code: [0xd3, 0xc8],
      regs: { rax: 0xffffffff00000001n, rcx: 1n }, out: { rax: 0x80000000n }, flags: CF | OF },
    { name: "rol $1, rax", code: [0x48, 0xd1, 0xc0],
      regs: { rax: 0x8000000000000000n }, out: { rax: 1n }, flags: CF | OF },
    { name: "rolq cl=4, mem64 (model OF)", code: [0x48, 0xd3, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00],
      regs: { rcx: 4n }, mem: [0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12],
      memOut: [0x01, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23], out: {}, flags: CF | OF },
    { name: "rol cl=40, rax", code: [0x48, 0xd3, 0xc0],
      regs: { rax: 0x0123456789abcdefn, rcx: 40n }, out: { rax: 0xabcdef0123456789n }, flags: CF, mask: CF },
  ]);
});

describe("RCL / RCR", () => {
  cases([
    { name: "rcl $1, al: CF into bit 0, old MSB into CF", code: [0xd0, 0xd0],
      regs: { rax: 0x80n }, fin: CF | ZF, out: { rax: 0x01n }, flags: CF | OF | ZF },
    { name: "rcl cl=9, al: count mod 9 = 0 changes nothing", code: [0xd2, 0xd0],
      regs: { rax: 0x80n, rcx: 9n }, fin: CF | SF, out: { rax: 0x80n }, flags: CF | SF },
    { name: "rcl cl=10, al = rcl 1", code: [0xd2, 0xd0],
      regs: { rax: 0x80n, rcx: 10n }, fin: CF, out: { rax: 0x01n }, flags: CF, mask: CF },
    { name: "rcr cl=17, bx: count mod 17 = 0", code: [0x66, 0xd3, 0xdb],
      regs: { rbx: 0x1234n, rcx: 17n }, fin: CF, out: { rbx: 0x1234n }, flags: CF },
    { name: "rcr cl=1, bx: OF = old MSB ^ old CF", code: [0x66, 0xd3, 0xdb],
      regs: { rbx: 1n, rcx: 1n }, fin: CF, out: { rbx: 0x8000n }, flags: CF | OF },
    { name: "rcr cl=16, bx = rcl 1 over 17 bits", code: [0x66, 0xd3, 0xdb],
      regs: { rbx: 0x8001n, rcx: 16n }, out: { rbx: 2n }, flags: CF, mask: CF },
    { name: "rcl $1, rax", code: [0x48, 0xd1, 0xd0],
      regs: { rax: 0x8000000000000001n }, out: { rax: 2n }, flags: CF | OF },
    { name: "rcr $63, rax", code: [0x48, 0xc1, 0xd8, 0x3f],
      regs: { rax: 0x4000000000000000n }, fin: CF, out: { rax: 2n }, flags: CF },
    { name: "rcl cl=32, rax", code: [0x48, 0xd3, 0xd0],
      regs: { rax: 0x8000000180000001n, rcx: 32n }, fin: CF, out: { rax: 0x80000001c0000000n }, flags: CF },
    { name: "rcl cl=63, rax (model OF)", code: [0x48, 0xd3, 0xd0],
      regs: { rax: 0x123456789abcdef1n, rcx: 63n }, out: { rax: 0x848d159e26af37bcn }, flags: OF },
    { name: "rcr cl=33, rax (model OF)", code: [0x48, 0xd3, 0xd8],
      regs: { rax: 0x123456789abcdef1n, rcx: 33n }, fin: CF, out: { rax: 0x9abcdef1891a2b3cn }, flags: OF },
    { name: "rcl $31, eax", code: [0xc1, 0xd0, 0x1f],
      regs: { rax: 0x80000001n }, fin: CF, out: { rax: 0xe0000000n }, flags: 0, mask: CF },
    { name: "rcr $1, eax: zero-extends", code: [0xd1, 0xd8],
      regs: { rax: 0xffffffff00000000n }, fin: CF, out: { rax: 0x80000000n }, flags: OF },
    { name: "rcr $3, dx in 32-bit protected mode", code: [0x66, 0xc1, 0xda, 0x03], mode: 32,
      regs: { rdx: 1n }, fin: CF, out: { rdx: 0x6000n }, flags: 0, mask: CF },
  ]);
});

describe("SHLD / SHRD", () => {
  cases([
    { name: "shld $4, ebx, eax", code: [0x0f, 0xa4, 0xd8, 0x04],
      regs: { rax: 0x12345678n, rbx: 0x9abcdef0n }, out: { rax: 0x23456789n, rbx: 0x9abcdef0n }, flags: CF, mask: CF | ZF | SF | PF },
    { name: "shld $4, ebx, eax (model OF = MSB ^ CF)", code: [0x0f, 0xa4, 0xd8, 0x04],
      regs: { rax: 0x12345678n, rbx: 0x9abcdef0n }, out: { rax: 0x23456789n }, flags: CF | OF },
    { name: "shrd $60, rbx, rax", code: [0x48, 0x0f, 0xac, 0xd8, 0x3c],
      regs: { rax: 0x123456789abcdef0n, rbx: 0xfedcba9876543210n }, out: { rax: 0xedcba98765432101n }, flags: SF },
    { name: "shld $1, rbx, rax: OF on sign change", code: [0x48, 0x0f, 0xa4, 0xd8, 0x01],
      regs: { rax: 0x4000000000000000n, rbx: 0x8000000000000000n }, out: { rax: 0x8000000000000001n }, flags: OF | SF },
    { name: "shrd $1, ebx, eax", code: [0x0f, 0xac, 0xd8, 0x01],
      regs: { rax: 1n, rbx: 0n }, out: { rax: 0n }, flags: CF | ZF | PF },
    { name: "shld cl=8, bx, ax", code: [0x66, 0x0f, 0xa5, 0xd8],
      regs: { rax: 0x1234n, rbx: 0x5678n, rcx: 8n }, out: { rax: 0x3456n }, flags: PF, mask: CF | ZF | SF | PF },
    { name: "shld cl=20, bx, ax (model: P6 dest:src:dest)", code: [0x66, 0x0f, 0xa5, 0xd8],
      regs: { rax: 0x1234n, rbx: 0x5678n, rcx: 20n }, out: { rax: 0x6781n }, flags: CF | OF | PF },
    { name: "shrd cl=4, bx, ax", code: [0x66, 0x0f, 0xad, 0xd8],
      regs: { rax: 0x1234n, rbx: 0x5678n, rcx: 4n }, out: { rax: 0x8123n }, flags: SF, mask: CF | ZF | SF | PF },
    { name: "shrd cl=20, bx, ax (model)", code: [0x66, 0x0f, 0xad, 0xd8],
      regs: { rax: 0x1234n, rbx: 0x5678n, rcx: 20n }, out: { rax: 0x4567n }, flags: CF | OF },
    { name: "shld cl=0, ebx, eax: zero-extends only", code: [0x0f, 0xa5, 0xd8],
      regs: { rax: 0xffffffff00000001n, rbx: M64, rcx: 0n }, fin: ARITH, out: { rax: 1n }, flags: ARITH },
    { name: "shld cl=33, ebx, eax: masked to 1", code: [0x0f, 0xa5, 0xd8],
      regs: { rax: 0x80000000n, rbx: 0x80000000n, rcx: 33n }, out: { rax: 1n }, flags: CF | OF },
    { name: "shrdl $8, ebx, mem32", code: [0x0f, 0xac, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00, 0x08],
      regs: { rbx: 0xaabbccddn }, mem: [0x44, 0x33, 0x22, 0x11], memOut: [0x33, 0x22, 0x11, 0xdd], out: {}, flags: SF | PF },
  ]);
});

describe("a block mixing the families", () => {
  it("runs as one fused block (CL forms, immediate forms, memory forms)", () => {
    // mov $0x81,%eax; shl $4,%eax; rol %cl,%eax; bt $12,%eax; rcl $1,%ebx; shrd %cl,%eax,%edx;
    // imul $3,%edx,%esi; popcnt %esi,%edi; bsr %edi,%r8d; btsq $5,0x200000; shlq %cl,0x200000; sar $2,%r8b
    const code = [0xb8, 0x81, 0x00, 0x00, 0x00, 0xc1, 0xe0, 0x04, 0xd3, 0xc0, 0x0f, 0xba, 0xe0, 0x0c, 0xd1, 0xd3,
      0x0f, 0xad, 0xc2, 0x6b, 0xf2, 0x03, 0xf3, 0x0f, 0xb8, 0xfe, 0x44, 0x0f, 0xbd, 0xc7, 0x48, 0x0f, 0xba, 0x2c,
      0x25, 0x00, 0x00, 0x20, 0x00, 0x05, 0x48, 0xd3, 0x24, 0x25, 0x00, 0x00, 0x20, 0x00, 0x41, 0xc0, 0xf8, 0x02];
    const r = runCode({ code, regs: { rcx: 8n, rbx: 0x80000000n, rdx: 0x12345678n, r8: M64 } });
    expect(r.fault).toBeUndefined();
    expect(r.reg("rax")).toBe(0x81000n);
    expect(r.reg("rbx")).toBe(1n);
    expect(r.reg("rdx")).toBe(0x123456n);
    expect(r.reg("rsi")).toBe(0x369d02n);
    expect(r.reg("rdi")).toBe(10n);
    expect(r.reg("r8")).toBe(0n);
    expect(Array.from(r.mem(SCRATCH, 8))).toEqual([0, 0x20, 0, 0, 0, 0, 0, 0]);
    expect(r.flags() & ARITH).toBe(CF | ZF | PF);
  });
});
