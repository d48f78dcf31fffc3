// After a passing VM entry, VMRESUME re-checks what software wrote to the guest state since:
// a bad GUEST_RIP or GUEST_RFLAGS written by the exit handler still fails the entry.
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import { F } from "../../src/vmx/fields.js";
import { enterVmxRoot, GUEST_CODE, HOST_CODE } from "./vmx-fixture.js";

// Host: inc %r12; cmp $1,%r12; jne 1f; mov $0x681e,%eax; mov %r13,%rbx; vmwrite %rbx,%rax; vmresume;
//       1: mov $0x4402,%eax; vmread %rax,%rbx; hlt
const WRITE_RIP = [0x49, 0xff, 0xc4, 0x49, 0x83, 0xfc, 0x01, 0x75, 0x0e, 0xb8, 0x1e, 0x68, 0x00, 0x00, 0x4c, 0x89, 0xeb,
  0x0f, 0x79, 0xc3, 0x0f, 0x01, 0xc3, 0xb8, 0x02, 0x44, 0x00, 0x00, 0x0f, 0x78, 0xc3, 0xf4];
// Same, writing 0 to GUEST_RFLAGS (0x6820) instead (bit 1 must be 1).
const WRITE_RFLAGS = [0x49, 0xff, 0xc4, 0x49, 0x83, 0xfc, 0x01, 0x75, 0x0d, 0xb8, 0x20, 0x68, 0x00, 0x00, 0x31, 0xdb,
  0x0f, 0x79, 0xc3, 0x0f, 0x01, 0xc3, 0xb8, 0x02, 0x44, 0x00, 0x00, 0x0f, 0x78, 0xc3, 0xf4];

function run(host: number[], r13: bigint) {
  return runCode({
    code: [0x0f, 0x01, 0xc2], // vmlaunch
    regs: { r12: 0n, r13 },
    mem: [{ addr: GUEST_CODE, bytes: [0xf4, 0xf4] }, { addr: HOST_CODE, bytes: host }],
    setup: (cpu) => enterVmxRoot(cpu),
  });
}

describe("re-checking guest state on VMRESUME", () => {
  it("a canonical GUEST_RIP written by the handler enters the guest again (second HLT exit)", () => {
    const r = run(WRITE_RIP, BigInt(GUEST_CODE + 1));
    expect(r.reg("rbx")).toBe(12n);
    expect(r.cpu.vmx.vmcs.read(F.GUEST_RIP)).toBe(BigInt(GUEST_CODE + 1));
  });
  it("a non-canonical GUEST_RIP fails the entry: exit reason 33 | 0x80000000", () => {
    expect(run(WRITE_RIP, 0x0000800000000000n).reg("rbx")).toBe(0x80000021n);
  });
  it("GUEST_RFLAGS 0 written by the handler fails the entry", () => {
    expect(run(WRITE_RFLAGS, 0n).reg("rbx")).toBe(0x80000021n);
  });
});
