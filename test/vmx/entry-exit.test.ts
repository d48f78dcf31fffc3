// VM entry into a 64-bit guest and VM exits back to the host, with the SDM's exit information.
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import { F } from "../../src/vmx/fields.js";
import { GUEST_CODE, HOST_CODE, enterVmxRoot } from "./vmx-fixture.js";
import type { RunOptions } from "../harness.js";
import { ProcCtl, PROC_DEFAULT1 } from "../../src/vmx/controls.js";

const HLT = 0xf4;
/** Host exit handler: mov $0x4402,%eax; vmread %rax,%rbx (exit reason); mov $0x6400,%eax; vmread %rax,%rcx; mov $0x440c,%eax; vmread %rax,%rdx; mov $0x681e,%eax; vmread %rax,%rsi; hlt */
const HANDLER = [0xb8, 0x02, 0x44, 0, 0, 0x0f, 0x78, 0xc3, 0xb8, 0x00, 0x64, 0, 0, 0x0f, 0x78, 0xc1,
  0xb8, 0x0c, 0x44, 0, 0, 0x0f, 0x78, 0xc2, 0xb8, 0x1e, 0x68, 0, 0, 0x0f, 0x78, 0xc6, HLT];
const VMLAUNCH = [0x0f, 0x01, 0xc2];

function launch(guest: number[], configure?: Parameters<typeof enterVmxRoot>[1], extra: Partial<RunOptions> = {}) {
  return runCode({
    code: [...VMLAUNCH, 0x9c, 0x41, 0x5f], // vmlaunch; pushfq; pop %r15 (only reached if VMLAUNCH fails)
    mem: [{ addr: HOST_CODE, bytes: HANDLER }, { addr: GUEST_CODE, bytes: guest }],
    setup: (cpu) => enterVmxRoot(cpu, configure),
    ...extra,
  });
}

describe("VM entry and exit", () => {
  it("CPUID in the guest exits with reason 10, instruction length 2, guest RIP saved", () => {
    const r = launch([0x0f, 0xa2]);
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("rbx")).toBe(10n);
    expect(r.reg("rdx")).toBe(2n);
    expect(r.reg("rsi")).toBe(BigInt(GUEST_CODE));
    expect(r.reg("rip")).toBe(BigInt(HOST_CODE + HANDLER.length));
    expect(r.cpu.vmx.nonRoot).toBe(false);
  });

  it("HLT exiting: reason 12; OUT with unconditional I/O exiting: reason 30 with the I/O qualification", () => {
    const h = launch([0x90, HLT]);
    expect(h.reg("rbx")).toBe(12n);
    expect(h.reg("rsi")).toBe(BigInt(GUEST_CODE + 1));
    // mov $0x3f8,%dx; out %al,(%dx)
    const o = launch([0x66, 0xba, 0xf8, 0x03, 0xee], (w) => w(F.PRIMARY_PROC_CONTROLS,
      (PROC_DEFAULT1 & ~(ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING)) | ProcCtl.UNCONDITIONAL_IO_EXITING));
    expect(o.reg("rbx")).toBe(30n);
    expect(o.reg("rcx")).toBe(0x3f80000n); // port 0x3f8, OUT, 1 byte, DX operand
    expect(o.reg("rdx")).toBe(1n);
  });

  it("VMCALL exits with reason 18; MOV to CR3 with CR3-load exiting gives reason 28 qualification 3", () => {
    const v = launch([0x0f, 0x01, 0xc1]);
    expect(v.reg("rbx")).toBe(18n);
    expect(v.reg("rdx")).toBe(3n);
    // mov %cr3,%rax; mov %rax,%cr3
    const c = launch([0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8], (w) => w(F.PRIMARY_PROC_CONTROLS, PROC_DEFAULT1 | ProcCtl.HLT_EXITING));
    // CR3-store exiting is a default1 control: the read exits first, qualification 0x13 (mov from CR3 to rax).
    expect(c.reg("rbx")).toBe(28n);
    expect(c.reg("rcx")).toBe(0x13n);
  });

  it("VMLAUNCH with a control outside the allowed settings fails with VMfailValid(7)", () => {
    const r = launch([HLT], (w) => w(F.PIN_BASED_CONTROLS, 0));
    expect(r.reg("r15") & 0x41n).toBe(0x40n);
    expect(r.cpu.vmx.vmcs.read(F.VM_INSTRUCTION_ERROR)).toBe(7n);
    expect(r.cpu.vmx.nonRoot).toBe(false);
  });

  it("invalid guest state: a VM exit with reason 33 | 0x80000000 to the host", () => {
    const r = launch([HLT], (w) => w(F.GUEST_RFLAGS, 0));
    expect(r.reg("rbx")).toBe(0x80000021n);
  });

  it("an exception in the exception bitmap exits with reason 0 and the interruption information", () => {
    // ud2 with bit 6 set in the exception bitmap
    const r = launch([0x0f, 0x0b], (w) => w(F.EXCEPTION_BITMAP, 1 << 6));
    expect(r.reg("rbx")).toBe(0n);
    expect(r.cpu.vmx.vmcs.read(F.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000306n);
  });
});
