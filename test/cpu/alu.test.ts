import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;

describe("ALU", () => {
  it("add rax, rbx carries across the dword boundary", () => {
    // add %rbx,%rax
    const r = runCode({ code: [0x48, 0x01, 0xd8], regs: { rax: 0xffffffffn, rbx: 1n } });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0x100000000n);
    expect(r.flags() & ARITH).toBe(PF | AF);
  });
  it("add rax, rbx sets CF, ZF, PF on 64-bit wrap", () => {
    const r = runCode({ code: [0x48, 0x01, 0xd8], regs: { rax: 0xffffffffffffffffn, rbx: 1n } });
    expect(r.reg("rax")).toBe(0n);
    expect(r.flags() & ARITH).toBe(CF | PF | AF | ZF);
  });
  it("sub eax, ebx signed overflow, zero-extends", () => {
    // sub %ebx,%eax
    const r = runCode({ code: [0x29, 0xd8], regs: { rax: 0xffffffff80000000n, rbx: 1n } });
    expect(r.reg("rax")).toBe(0x7fffffffn);
    expect(r.flags() & ARITH).toBe(OF | AF | PF);
  });
  it("cmp/jl takes the signed branch", () => {
    // cmp %ebx,%eax; jl +5; mov $1,%ecx; (skip) ... : 39 d8 7c 05 b9 01 00 00 00
    const r = runCode({ code: [0x39, 0xd8, 0x7c, 0x05, 0xb9, 0x01, 0x00, 0x00, 0x00], regs: { rax: 0xfffffffen, rbx: 1n, rcx: 7n } });
    expect(r.reg("rcx")).toBe(7n);
  });
  it("adc 8-bit with carry in; inc keeps CF", () => {
    // stc; mov $0xff,%al; adc $0,%al; inc %bl
    const r = runCode({ code: [0xf9, 0xb0, 0xff, 0x14, 0x00, 0xfe, 0xc3], regs: { rbx: 0x7fn } });
    expect(r.reg("rax") & 0xffn).toBe(0n);
    expect(r.reg("rbx")).toBe(0x80n);
    expect(r.flags() & ARITH).toBe(CF | OF | SF | AF);
  });
  it("ud2 raises #UD with RIP at the instruction", () => {
    const r = runCode({ code: [0x90, 0x0f, 0x0b] });
    expect(r.fault?.vector).toBe(6);
    expect(r.fault?.rip).toBe(0x100001n);
  });
});
