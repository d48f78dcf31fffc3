import { describe, it, expect } from "vitest";
import { runCode } from "../harness.js";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
const ALL = CF | PF | AF | ZF | SF | OF;

describe("CLC STC CMC", () => {
  it("change only CF, from flags loaded directly", () => {
    // clc
    expect(runCode({ code: [0xf8], rflags: 0x2 | ALL }).flags()).toBe(0x2 | (ALL & ~CF));
    // stc
    expect(runCode({ code: [0xf9], rflags: 0x2 }).flags()).toBe(0x3);
    expect(runCode({ code: [0xf9], rflags: 0x2 | ALL }).flags()).toBe(0x2 | ALL);
    // cmc
    expect(runCode({ code: [0xf5], rflags: 0x2 | ZF | OF }).flags()).toBe(0x2 | ZF | OF | CF);
    expect(runCode({ code: [0xf5], rflags: 0x2 | ALL }).flags()).toBe(0x2 | (ALL & ~CF));
    // cmc; cmc
    expect(runCode({ code: [0xf5, 0xf5], rflags: 0x2 | SF }).flags()).toBe(0x2 | SF);
  });

  it("change only CF after a lazily evaluated CMP", () => {
    // cmp %bl,%al: 0 - 1 = 0xff sets CF AF PF SF.
    const base = CF | AF | PF | SF;
    expect(runCode({ code: [0x38, 0xd8], regs: { rax: 0n, rbx: 1n } }).flags()).toBe(0x2 | base);
    // cmp %bl,%al; clc
    expect(runCode({ code: [0x38, 0xd8, 0xf8], regs: { rax: 0n, rbx: 1n } }).flags()).toBe(0x2 | (base & ~CF));
    // cmp %bl,%al; cmc
    expect(runCode({ code: [0x38, 0xd8, 0xf5], regs: { rax: 0n, rbx: 1n } }).flags()).toBe(0x2 | (base & ~CF));
    // cmp %bl,%al (1 - 1 = 0: ZF PF); stc
    expect(runCode({ code: [0x38, 0xd8, 0xf9], regs: { rax: 1n, rbx: 1n } }).flags()).toBe(0x2 | ZF | PF | CF);
    // cmp %bl,%al; cmc
    expect(runCode({ code: [0x38, 0xd8, 0xf5], regs: { rax: 1n, rbx: 1n } }).flags()).toBe(0x2 | ZF | PF | CF);
  });

  it("stc; jc is taken (CF feeds conditions)", () => {
    // stc; jb +5; mov $1,%ecx
    const r = runCode({ code: [0xf9, 0x72, 0x05, 0xb9, 0x01, 0x00, 0x00, 0x00], regs: { rcx: 7n } });
    expect(r.reg("rcx")).toBe(7n);
  });
});

describe("CLD STD", () => {
  it("set and clear DF, leaving the other flags", () => {
    // std
    expect(runCode({ code: [0xfd], rflags: 0x2 }).flags()).toBe(0x2 | DF);
    expect(runCode({ code: [0xfd], rflags: 0x2 | ALL }).flags()).toBe(0x2 | DF | ALL);
    // cld
    expect(runCode({ code: [0xfc], rflags: 0x2 | DF | ALL }).flags()).toBe(0x2 | ALL);
    // std; cld
    expect(runCode({ code: [0xfd, 0xfc], rflags: 0x2 }).flags()).toBe(0x2);
  });
});

describe("LAHF SAHF", () => {
  it("lahf stores SF:ZF:0:AF:0:PF:1:CF in AH, keeping the rest of RAX", () => {
    // lahf
    let r = runCode({ code: [0x9f], regs: { rax: 0x1122334455667788n }, rflags: 0x2 });
    expect(r.reg("rax")).toBe(0x1122334455660288n);
    r = runCode({ code: [0x9f], regs: { rax: 0x1122334455667788n }, rflags: 0x2 | ALL | DF });
    expect(r.reg("rax")).toBe(0x112233445566d788n);
    // cmp %bl,%al (0 - 1); lahf: SF AF PF CF -> AH = 0x97
    r = runCode({ code: [0x38, 0xd8, 0x9f], regs: { rax: 0x1122334455660000n, rbx: 1n } });
    expect(r.reg("rax")).toBe(0x1122334455669700n);
  });

  it("sahf loads SF ZF AF PF CF from AH; OF and the reserved bits are unchanged", () => {
    // sahf
    let r = runCode({ code: [0x9e], regs: { rax: 0xff00n }, rflags: 0x2 });
    expect(r.flags()).toBe(0x2 | CF | PF | AF | ZF | SF);
    r = runCode({ code: [0x9e], regs: { rax: 0x0000n }, rflags: 0x2 | ALL | DF });
    expect(r.flags()).toBe(0x2 | OF | DF);
    r = runCode({ code: [0x9e], regs: { rax: 0x4100n }, rflags: 0x2 });
    expect(r.flags()).toBe(0x2 | ZF | CF);
    expect(r.reg("rax")).toBe(0x4100n);
  });

  it("sahf after a lazily evaluated CMP keeps its OF", () => {
    // cmp %edx,%ecx (0x80000000 - 1 overflows: OF AF PF); sahf with AH = 0x41 (ZF CF)
    const r = runCode({ code: [0x39, 0xd1, 0x9e], regs: { rax: 0x4100n, rcx: 0x80000000n, rdx: 1n } });
    expect(r.flags()).toBe(0x2 | OF | ZF | CF);
  });

  it("sahf; lahf round trip", () => {
    // sahf; lahf
    const r = runCode({ code: [0x9e, 0x9f], regs: { rax: 0xd500n }, rflags: 0x2 | OF });
    expect(r.reg("rax")).toBe(0xd700n);
    expect(r.flags()).toBe(0x2 | OF | 0xd5);
  });

  it("32-bit protected mode", () => {
    // lahf; sahf (AH = 0x97 from the rflags, then written back)
    const r = runCode({ mode: 32, code: [0x9f, 0x9e], regs: { rax: 0x12345678n }, rflags: 0x2 | SF | AF | PF | CF });
    expect(r.fault).toBeUndefined();
    expect(r.reg("rax")).toBe(0x12349778n);
    expect(r.flags()).toBe(0x2 | SF | AF | PF | CF);
  });
});
