// DR7/IA32_DEBUGCTL through the debug controls, and VMRESUME after VMXOFF (error 6).
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import { F } from "../../src/vmx/fields.js";
import { enterVmxRoot, GUEST_CODE, HOST_CODE, VMCS_REGION, VMXON_REGION } from "./vmx-fixture.js";

const PTRS = 0x220000;

describe("debug controls and VMXOFF", () => {
  it("VM entry loads DR7 and IA32_DEBUGCTL, VM exit saves them and gives the host DR7 0x400 and DEBUGCTL 0", () => {
    const r = runCode({
      code: [0x0f, 0x01, 0xc2], // vmlaunch
      mem: [{ addr: GUEST_CODE, bytes: [0xf4] }, { addr: HOST_CODE, bytes: [0xf4] }],
      setup: (cpu) => enterVmxRoot(cpu, (w) => { w(F.GUEST_DR7, 0x401); w(F.GUEST_IA32_DEBUGCTL, 2); }),
    });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.cpu.vmx.vmcs.read(F.EXIT_REASON)).toBe(12n);
    expect(r.cpu.vmx.vmcs.read(F.GUEST_DR7)).toBe(0x401n);
    expect(r.cpu.vmx.vmcs.read(F.GUEST_IA32_DEBUGCTL)).toBe(2n);
    expect(r.cpu.dr7).toBe(0x400);
    expect(r.cpu.msr.debugctl).toBe(0n);
  });

  it("VMRESUME of a VMCS that was launched and active across VMXOFF/VMXON fails with error 6", () => {
    // host after the first exit: vmxoff; vmxon (%rdi); vmptrld (%rsi); vmresume; pushfq; pop %r15;
    // mov $0x4400,%eax; vmread %rax,%rbp; hlt
    const host = [0x0f, 0x01, 0xc4, 0xf3, 0x0f, 0xc7, 0x37, 0x0f, 0xc7, 0x36, 0x0f, 0x01, 0xc3, 0x9c, 0x41, 0x5f,
      0xb8, 0x00, 0x44, 0x00, 0x00, 0x0f, 0x78, 0xc5, 0xf4];
    const r = runCode({
      code: [0x0f, 0x01, 0xc2],
      regs: { rdi: BigInt(PTRS), rsi: BigInt(PTRS + 8) },
      mem: [{ addr: GUEST_CODE, bytes: [0xf4] }, { addr: HOST_CODE, bytes: host }],
      setup: (cpu) => {
        enterVmxRoot(cpu);
        cpu.vmx.active.add(VMCS_REGION);
        cpu.mem.dv.setBigUint64(PTRS, BigInt(VMXON_REGION), true);
        cpu.mem.dv.setBigUint64(PTRS + 8, BigInt(VMCS_REGION), true);
      },
    });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("r15") & 0x41n).toBe(0x40n); // VMfailValid
    expect(r.reg("rbp")).toBe(6n);
  });
});
