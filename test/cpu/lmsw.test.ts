// LMSW and SMSW (SDM Vol. 2), and LMSW's VM exit under the CR0 guest/host mask (SDM 25.1.3).
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import { F } from "../../src/vmx/fields.js";
import { enterVmxRoot, GUEST_CODE, HOST_CODE } from "../vmx/vmx-fixture.js";

describe("LMSW / SMSW", () => {
  it("LMSW loads MP, EM and TS and cannot clear PE; SMSW and MOV from CR0 read them back", () => {
    // mov $0xe,%eax; lmsw %ax; smsw %rbx; mov %cr0,%rcx
    const r = runCode({ code: [0xb8, 0x0e, 0, 0, 0, 0x0f, 0x01, 0xf0, 0x48, 0x0f, 0x01, 0xe3, 0x0f, 0x20, 0xc1] });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("rcx") & 0xfn).toBe(0xfn); // PE stays set, MP/EM/TS set
    expect(r.reg("rbx")).toBe(r.reg("rcx"));
  });

  it("in non-root operation LMSW changing a host-owned bit against the shadow exits with type 3 and the source data", () => {
    // guest: mov $0xe,%eax; lmsw %ax   host: mov $0x6400,%eax; vmread %rax,%rcx; hlt
    const r = runCode({
      code: [0x0f, 0x01, 0xc2], // vmlaunch
      mem: [
        { addr: GUEST_CODE, bytes: [0xb8, 0x0e, 0, 0, 0, 0x0f, 0x01, 0xf0] },
        { addr: HOST_CODE, bytes: [0xb8, 0x00, 0x64, 0, 0, 0x0f, 0x78, 0xc1, 0xf4] },
      ],
      setup: (cpu) => enterVmxRoot(cpu, (w) => { w(F.CR0_GUEST_HOST_MASK, 0x8); w(F.CR0_READ_SHADOW, 0); }),
    });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.cpu.vmx.vmcs.read(F.EXIT_REASON)).toBe(28n);
    // LMSW (type 3 << 4), register operand, source data 0x000e in bits 31:16
    expect(r.reg("rcx")).toBe(0x000e0030n);
  });
});
