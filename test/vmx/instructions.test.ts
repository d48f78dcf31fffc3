// VMX instructions: VMsucceed / VMfailInvalid / VMfailValid(n) and the #UD and #GP checks.
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";
import { Cr4 } from "../../src/cpu/control-regs.js";
import type { Cpu } from "../../src/cpu/cpu.js";
import { VMCS_REVISION } from "../../src/vmx/capabilities.js";

const VMXON_REGION = 0x210000, VMCS = 0x211000, PTRS = 0x220000;

function vmxReady(cpu: Cpu, opts: { vmxe?: boolean; featureControl?: bigint; vmcsRevision?: number } = {}): void {
  if (opts.vmxe ?? true) cpu.cr4 |= Cr4.VMXE;
  cpu.msr.featureControl = opts.featureControl ?? 5n;
  const dv = cpu.mem.dv;
  dv.setUint32(VMXON_REGION, VMCS_REVISION, true);
  dv.setUint32(VMCS, opts.vmcsRevision ?? VMCS_REVISION, true);
  dv.setBigUint64(PTRS, BigInt(VMXON_REGION), true);
  dv.setBigUint64(PTRS + 0x100, BigInt(VMCS), true);
}

// vmxon (%rdi); pushfq; pop %r8; vmxon (%rdi); pushfq; pop %r9; vmptrld (%rsi); pushfq; pop %r10;
// vmclear (%rsi); pushfq; pop %r11; vmptrld (%rsi); pushfq; pop %r12;
// mov $0xfffe,%eax; vmread %rax,%rbx; pushfq; pop %r13; mov $0x4400,%eax; vmread %rax,%rcx;
// mov $0x4402,%eax; vmwrite %rax,%rax; pushfq; pop %r14; mov $0x4400,%eax; vmread %rax,%rdx;
// vmresume; pushfq; pop %r15; mov $0x4400,%eax; vmread %rax,%rbp; vmptrst 16(%rsi)
const SEQUENCE = [
  0xf3, 0x0f, 0xc7, 0x37, 0x9c, 0x41, 0x58, 0xf3, 0x0f, 0xc7, 0x37, 0x9c, 0x41, 0x59, 0x0f, 0xc7, 0x36, 0x9c, 0x41,
  0x5a, 0x66, 0x0f, 0xc7, 0x36, 0x9c, 0x41, 0x5b, 0x0f, 0xc7, 0x36, 0x9c, 0x41, 0x5c, 0xb8, 0xfe, 0xff, 0x00, 0x00,
  0x0f, 0x78, 0xc3, 0x9c, 0x41, 0x5d, 0xb8, 0x00, 0x44, 0x00, 0x00, 0x0f, 0x78, 0xc1, 0xb8, 0x02, 0x44, 0x00, 0x00,
  0x0f, 0x79, 0xc0, 0x9c, 0x41, 0x5e, 0xb8, 0x00, 0x44, 0x00, 0x00, 0x0f, 0x78, 0xc2, 0x0f, 0x01, 0xc3, 0x9c, 0x41,
  0x5f, 0xb8, 0x00, 0x44, 0x00, 0x00, 0x0f, 0x78, 0xc5, 0x0f, 0xc7, 0x7e, 0x10,
];
const CF = 1n, ZF = 0x40n, FIXED = 2n;

describe("VMX instructions", () => {
  it("CPUID.1:ECX.VMX is set and IA32_VMX_BASIC describes the VMCS", () => {
    // mov $1,%eax; cpuid; mov %ecx,%r8d; mov $0x480,%ecx; rdmsr
    const r = runCode({ code: [0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x41, 0x89, 0xc8, 0xb9, 0x80, 0x04, 0, 0, 0x0f, 0x32] });
    expect(r.reg("r8") & 0x20n).toBe(0x20n);
    const basic = (r.reg("rdx") << 32n) | r.reg("rax");
    expect(basic & 0x7fffffffn).toBe(BigInt(VMCS_REVISION));
    expect((basic >> 32n) & 0x1fffn).toBe(4096n);
    expect((basic >> 50n) & 0xfn).toBe(6n); // write-back
    expect((basic >> 55n) & 1n).toBe(1n); // TRUE controls
  });

  it("the success and failure flags and VM-instruction error numbers", () => {
    const r = runCode({ code: SEQUENCE, regs: { rdi: BigInt(PTRS), rsi: BigInt(PTRS + 0x100) }, setup: (cpu) => vmxReady(cpu) });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("r8")).toBe(FIXED); // VMXON: VMsucceed
    expect(r.reg("r9")).toBe(FIXED | CF); // VMXON in root without a current VMCS: VMfailInvalid
    expect(r.reg("r10")).toBe(FIXED); // VMPTRLD
    expect(r.reg("r11")).toBe(FIXED); // VMCLEAR
    expect(r.reg("r12")).toBe(FIXED); // VMPTRLD again
    expect(r.reg("r13")).toBe(FIXED | ZF); // VMREAD of an unsupported field
    expect(r.reg("rcx")).toBe(12n);
    expect(r.reg("r14")).toBe(FIXED | ZF); // VMWRITE to a read-only field
    expect(r.reg("rdx")).toBe(13n);
    expect(r.reg("r15")).toBe(FIXED | ZF); // VMRESUME of a clear VMCS
    expect(r.reg("rbp")).toBe(5n);
    expect(r.cpu.mem.dv.getBigUint64(PTRS + 0x110, true)).toBe(BigInt(VMCS)); // VMPTRST
  });

  it("VMXON without CR4.VMXE is #UD; with IA32_FEATURE_CONTROL unlocked it is #GP(0)", () => {
    const code = [0xf3, 0x0f, 0xc7, 0x37];
    const a = runCode({ code, regs: { rdi: BigInt(PTRS) }, setup: (cpu) => vmxReady(cpu, { vmxe: false }) });
    expect(a.fault?.vector).toBe(6);
    const b = runCode({ code, regs: { rdi: BigInt(PTRS) }, setup: (cpu) => vmxReady(cpu, { featureControl: 4n }) });
    expect(b.fault).toEqual({ vector: 13, errorCode: 0, rip: 0x100000n });
  });

  it("VMPTRLD with a wrong revision identifier fails with error 11 when a VMCS is current", () => {
    // vmxon (%rdi); vmptrld (%rsi); vmptrld 8(%rsi); pushfq; pop %r8; mov $0x4400,%eax; vmread %rax,%rcx
    const code = [0xf3, 0x0f, 0xc7, 0x37, 0x0f, 0xc7, 0x36, 0x0f, 0xc7, 0x76, 0x08, 0x9c, 0x41, 0x58,
      0xb8, 0x00, 0x44, 0x00, 0x00, 0x0f, 0x78, 0xc1];
    const r = runCode({
      code, regs: { rdi: BigInt(PTRS), rsi: BigInt(PTRS + 0x100) },
      setup: (cpu) => {
        vmxReady(cpu);
        cpu.mem.dv.setBigUint64(PTRS + 0x108, 0x212000n, true);
        cpu.mem.dv.setUint32(0x212000, 0x1234, true);
      },
    });
    expect(r.reg("r8")).toBe(FIXED | ZF);
    expect(r.reg("rcx")).toBe(11n);
  });

  it("VMREAD/VMWRITE of 16-, 32-, 64-bit (and its high half) and natural-width fields", () => {
    // vmxon (%rdi); vmptrld (%rsi);
    // mov $0x0802,%eax; mov $0x12345,%ebx; vmwrite %rbx,%rax; vmread %rax,%r8      (GUEST_CS_SELECTOR, 16-bit)
    // mov $0x2800,%eax; mov $-1,%rbx; vmwrite %rbx,%rax; mov $0x2801,%eax; mov $7,%ebx; vmwrite %rbx,%rax
    // mov $0x2800,%eax; vmread %rax,%r9                                            (VMCS_LINK_POINTER)
    // mov $0x681e,%eax; mov $0xffffffff80001000,%rbx; vmwrite %rbx,%rax; vmread %rax,%r10   (GUEST_RIP)
    const code = [0xf3, 0x0f, 0xc7, 0x37, 0x0f, 0xc7, 0x36,
      0xb8, 0x02, 0x08, 0x00, 0x00, 0xbb, 0x45, 0x23, 0x01, 0x00, 0x0f, 0x79, 0xc3, 0x41, 0x0f, 0x78, 0xc0,
      0xb8, 0x00, 0x28, 0x00, 0x00, 0x48, 0xc7, 0xc3, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x79, 0xc3,
      0xb8, 0x01, 0x28, 0x00, 0x00, 0xbb, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x79, 0xc3,
      0xb8, 0x00, 0x28, 0x00, 0x00, 0x41, 0x0f, 0x78, 0xc1,
      0xb8, 0x1e, 0x68, 0x00, 0x00, 0x48, 0xc7, 0xc3, 0x00, 0x10, 0x00, 0x80, 0x0f, 0x79, 0xc3, 0x41, 0x0f, 0x78, 0xc2];
    const r = runCode({ code, regs: { rdi: BigInt(PTRS), rsi: BigInt(PTRS + 0x100) }, setup: (cpu) => vmxReady(cpu) });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("r8")).toBe(0x2345n); // truncated to 16 bits
    expect(r.reg("r9")).toBe(0x00000007ffffffffn);
    expect(r.reg("r10")).toBe(0xffffffff80001000n);
  });

  it("in VMX operation CR4.VMXE cannot be cleared (#GP), and VMXOFF leaves VMX operation", () => {
    // vmxon (%rdi); mov %cr4,%rax; btr $13,%rax; mov %rax,%cr4
    const a = runCode({ code: [0xf3, 0x0f, 0xc7, 0x37, 0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xf0, 0x0d, 0x0f, 0x22, 0xe0],
      regs: { rdi: BigInt(PTRS) }, setup: (cpu) => vmxReady(cpu) });
    expect(a.fault).toEqual({ vector: 13, errorCode: 0, rip: 0x10000cn });
    // vmxon (%rdi); vmxoff; pushfq; pop %r8; vmxoff
    const b = runCode({ code: [0xf3, 0x0f, 0xc7, 0x37, 0x0f, 0x01, 0xc4, 0x9c, 0x41, 0x58, 0x0f, 0x01, 0xc4],
      regs: { rdi: BigInt(PTRS) }, setup: (cpu) => vmxReady(cpu) });
    expect(b.reg("r8")).toBe(FIXED);
    expect(b.fault?.vector).toBe(6); // VMXOFF outside VMX operation
  });
});
