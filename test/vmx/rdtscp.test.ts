// RDTSCP and IA32_TSC_AUX; in VMX non-root operation, "enable RDTSCP" and RDTSC exiting (reason 51).
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import { F } from "../../src/vmx/fields.js";
import { ProcCtl, Proc2Ctl, PROC_DEFAULT1 } from "../../src/vmx/controls.js";
import { enterVmxRoot, GUEST_CODE, HOST_CODE } from "./vmx-fixture.js";

const RDTSCP = [0x0f, 0x01, 0xf9];
const BASE = (PROC_DEFAULT1 & ~(ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING)) | ProcCtl.HLT_EXITING;

function guest(configure: (w: (e: number, v: bigint | number) => void) => void) {
  return runCode({
    code: [0x0f, 0x01, 0xc2], // vmlaunch
    mem: [{ addr: GUEST_CODE, bytes: [...RDTSCP, 0xf4] }, { addr: HOST_CODE, bytes: [0xf4] }],
    setup: (cpu) => enterVmxRoot(cpu, configure),
  });
}

describe("RDTSCP", () => {
  it("loads EDX:EAX with the TSC and ECX with IA32_TSC_AUX", () => {
    // mov $0xc0000103,%ecx; mov $0x1234,%eax; xor %edx,%edx; wrmsr; rdtscp
    const r = runCode({ code: [0xb9, 0x03, 0x01, 0x00, 0xc0, 0xb8, 0x34, 0x12, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30, ...RDTSCP] });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("rcx")).toBe(0x1234n);
    // The TSC counts retired instructions: the four before RDTSCP (WRMSR ends their block).
    expect((r.reg("rdx") << 32n) | r.reg("rax")).toBe(4n);
  });

  it("in a guest without \"enable RDTSCP\" it is #UD (here: an exception exit)", () => {
    const r = guest((w) => { w(F.PRIMARY_PROC_CONTROLS, BASE); w(F.EXCEPTION_BITMAP, 1 << 6); });
    expect(r.cpu.vmx.vmcs.read(F.EXIT_REASON)).toBe(0n);
    expect(r.cpu.vmx.vmcs.read(F.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000306n);
  });

  it("with \"enable RDTSCP\" and RDTSC exiting it exits with reason 51 and length 3", () => {
    const r = guest((w) => {
      w(F.PRIMARY_PROC_CONTROLS, BASE | ProcCtl.RDTSC_EXITING | ProcCtl.ACTIVATE_SECONDARY_CONTROLS);
      w(F.SECONDARY_PROC_CONTROLS, Proc2Ctl.ENABLE_RDTSCP);
    });
    expect(r.cpu.vmx.vmcs.read(F.EXIT_REASON)).toBe(51n);
    expect(r.cpu.vmx.vmcs.read(F.VM_EXIT_INSTRUCTION_LENGTH)).toBe(3n);
    expect(r.cpu.vmx.vmcs.read(F.GUEST_RIP)).toBe(BigInt(GUEST_CODE));
  });
});
