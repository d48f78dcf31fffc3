import { describe, expect, it } from "vitest";
import {
  EXIT_REASON_NAMES, ExitReason, ExitReasonBit, decodeCrAccess, decodeDrAccess, decodeEptViolation,
  decodeExitReason, decodeIo, decodeTaskSwitch, encodeCrAccess, encodeDrAccess, encodeEptViolation,
  encodeExitReason, encodeIo, encodeTaskSwitch, exitReasonName, type CrAccess, type DrAccess,
  type EptViolation, type IoAccess,
} from "../../src/vmx/reasons.js";
import { constEnumMembers } from "./enum-source.js";

const RAX = 0, RCX = 1, RBX = 3, RSP = 4, R9 = 9, R15 = 15;

describe("basic exit reasons", () => {
  it("match Linux arch/x86/include/uapi/asm/vmx.h", () => {
    // [ours, Linux EXIT_REASON_* name, Linux value]
    const linux: Array<[number, string, number]> = [
      [ExitReason.EXCEPTION_NMI, "EXCEPTION_NMI", 0], [ExitReason.EXTERNAL_INTERRUPT, "EXTERNAL_INTERRUPT", 1],
      [ExitReason.TRIPLE_FAULT, "TRIPLE_FAULT", 2], [ExitReason.INIT, "INIT_SIGNAL", 3],
      [ExitReason.SIPI, "SIPI_SIGNAL", 4], [ExitReason.OTHER_SMI, "OTHER_SMI", 6],
      [ExitReason.INTERRUPT_WINDOW, "INTERRUPT_WINDOW", 7], [ExitReason.NMI_WINDOW, "NMI_WINDOW", 8],
      [ExitReason.TASK_SWITCH, "TASK_SWITCH", 9], [ExitReason.CPUID, "CPUID", 10], [ExitReason.HLT, "HLT", 12],
      [ExitReason.INVD, "INVD", 13], [ExitReason.INVLPG, "INVLPG", 14], [ExitReason.RDPMC, "RDPMC", 15],
      [ExitReason.RDTSC, "RDTSC", 16], [ExitReason.VMCALL, "VMCALL", 18], [ExitReason.VMCLEAR, "VMCLEAR", 19],
      [ExitReason.VMLAUNCH, "VMLAUNCH", 20], [ExitReason.VMPTRLD, "VMPTRLD", 21], [ExitReason.VMPTRST, "VMPTRST", 22],
      [ExitReason.VMREAD, "VMREAD", 23], [ExitReason.VMRESUME, "VMRESUME", 24], [ExitReason.VMWRITE, "VMWRITE", 25],
      [ExitReason.VMXOFF, "VMOFF", 26], [ExitReason.VMXON, "VMON", 27], [ExitReason.CR_ACCESS, "CR_ACCESS", 28],
      [ExitReason.DR_ACCESS, "DR_ACCESS", 29], [ExitReason.IO_INSTRUCTION, "IO_INSTRUCTION", 30],
      [ExitReason.RDMSR, "MSR_READ", 31], [ExitReason.WRMSR, "MSR_WRITE", 32],
      [ExitReason.ENTRY_FAIL_GUEST_STATE, "INVALID_STATE", 33], [ExitReason.ENTRY_FAIL_MSR_LOADING, "MSR_LOAD_FAIL", 34],
      [ExitReason.MWAIT, "MWAIT_INSTRUCTION", 36], [ExitReason.MTF, "MONITOR_TRAP_FLAG", 37],
      [ExitReason.MONITOR, "MONITOR_INSTRUCTION", 39], [ExitReason.PAUSE, "PAUSE_INSTRUCTION", 40],
      [ExitReason.ENTRY_FAIL_MACHINE_CHECK, "MCE_DURING_VMENTRY", 41],
      [ExitReason.TPR_BELOW_THRESHOLD, "TPR_BELOW_THRESHOLD", 43], [ExitReason.APIC_ACCESS, "APIC_ACCESS", 44],
      [ExitReason.VIRTUALIZED_EOI, "EOI_INDUCED", 45], [ExitReason.GDTR_IDTR, "GDTR_IDTR", 46],
      [ExitReason.LDTR_TR, "LDTR_TR", 47], [ExitReason.EPT_VIOLATION, "EPT_VIOLATION", 48],
      [ExitReason.EPT_MISCONFIG, "EPT_MISCONFIG", 49], [ExitReason.INVEPT, "INVEPT", 50],
      [ExitReason.RDTSCP, "RDTSCP", 51], [ExitReason.PREEMPTION_TIMER, "PREEMPTION_TIMER", 52],
      [ExitReason.INVVPID, "INVVPID", 53], [ExitReason.WBINVD, "WBINVD", 54], [ExitReason.XSETBV, "XSETBV", 55],
      [ExitReason.APIC_WRITE, "APIC_WRITE", 56], [ExitReason.RDRAND, "RDRAND", 57], [ExitReason.INVPCID, "INVPCID", 58],
      [ExitReason.VMFUNC, "VMFUNC", 59], [ExitReason.ENCLS, "ENCLS", 60], [ExitReason.RDSEED, "RDSEED", 61],
      [ExitReason.PML_FULL, "PML_FULL", 62], [ExitReason.XSAVES, "XSAVES", 63], [ExitReason.XRSTORS, "XRSTORS", 64],
      [ExitReason.UMWAIT, "UMWAIT", 67], [ExitReason.TPAUSE, "TPAUSE", 68], [ExitReason.BUS_LOCK, "BUS_LOCK", 74],
      [ExitReason.INSTRUCTION_TIMEOUT, "NOTIFY", 75], [ExitReason.TDCALL, "TDCALL", 77],
    ];
    for (const [ours, name, value] of linux) expect(ours, name).toBe(value);
  });

  it("match the reasons Linux does not name (Bochs, Intel TDX module)", () => {
    expect([ExitReason.IO_SMI, ExitReason.GETSEC, ExitReason.RSM, ExitReason.PCONFIG, ExitReason.SPP_EVENT,
      ExitReason.LOADIWKEY, ExitReason.ENCLV, ExitReason.ENQCMD_PASID_FAILURE, ExitReason.ENQCMDS_PASID_FAILURE,
      ExitReason.SEAMCALL]).toEqual([5, 11, 17, 65, 66, 69, 70, 72, 73, 76]);
  });

  it("EXIT_REASON_NAMES agrees with the const enum and leaves 35, 38, 42, 71 unnamed", () => {
    const members = constEnumMembers("reasons.ts", "ExitReason");
    expect(Object.keys(EXIT_REASON_NAMES).length).toBe(members.length);
    for (const [name, value] of members) expect(EXIT_REASON_NAMES[value], name).toBe(name);
    for (const n of [35, 38, 42, 71]) expect(EXIT_REASON_NAMES[n]).toBeUndefined();
    expect(exitReasonName(48)).toBe("EPT_VIOLATION");
    expect(exitReasonName(0x80000021)).toBe("ENTRY_FAIL_GUEST_STATE");
    expect(exitReasonName(35)).toBe("REASON35");
  });
});

describe("exit-reason field", () => {
  it("sets bit 31 for VM-entry failures", () => {
    expect(encodeExitReason({ basic: ExitReason.ENTRY_FAIL_GUEST_STATE, entryFailure: true })).toBe(0x80000021);
    expect(decodeExitReason(0x80000021)).toEqual({
      basic: 33, busLock: false, enclaveMode: false, pendingMtf: false, fromVmxRoot: false, entryFailure: true,
    });
  });

  it("places the flag bits at 26-29", () => {
    expect(ExitReasonBit.BUS_LOCK).toBe(0x04000000);
    expect(ExitReasonBit.ENCLAVE_MODE).toBe(0x08000000);
    expect(ExitReasonBit.PENDING_MTF).toBe(0x10000000);
    expect(ExitReasonBit.FROM_VMX_ROOT).toBe(0x20000000);
    expect(ExitReasonBit.ENTRY_FAILURE >>> 0).toBe(0x80000000);
    expect(encodeExitReason({ basic: ExitReason.OTHER_SMI, pendingMtf: true, fromVmxRoot: true })).toBe(0x30000006);
    expect(encodeExitReason({ basic: ExitReason.EPT_VIOLATION, busLock: true, enclaveMode: true })).toBe(0x0c000030);
    for (const v of [0x30000006, 0x0c000030, 0x8000002a, 0x12]) expect(encodeExitReason(decodeExitReason(v))).toBe(v);
  });

  it("rejects a basic reason wider than 16 bits", () => {
    expect(() => encodeExitReason({ basic: 0x10000 })).toThrow(RangeError);
  });
});

describe("control-register access qualification (Table 28-3)", () => {
  const cases: Array<[string, Partial<CrAccess> & Pick<CrAccess, "accessType">, number]> = [
    ["mov %rax,%cr3", { cr: 3, accessType: "mov-to-cr", gpr: RAX }, 0x3],
    ["mov %cr8,%rbx", { cr: 8, accessType: "mov-from-cr", gpr: RBX }, 0x318],
    ["mov %r15,%cr4", { cr: 4, accessType: "mov-to-cr", gpr: R15 }, 0xf04],
    ["mov %cr3,%rsp", { cr: 3, accessType: "mov-from-cr", gpr: RSP }, 0x413],
    ["mov %rcx,%cr0", { cr: 0, accessType: "mov-to-cr", gpr: RCX }, 0x100],
    ["clts", { accessType: "clts" }, 0x20],
    ["lmsw %ax, ax = 1", { accessType: "lmsw", lmswData: 0x0001 }, 0x10030],
    ["lmsw (%rdi), word = 0x000f", { accessType: "lmsw", lmswMemory: true, lmswData: 0x000f }, 0xf0070],
    ["lmsw %dx, dx = 0xfffe", { accessType: "lmsw", lmswData: 0xfffe }, 0xfffe0030],
  ];
  it.each(cases)("%s", (_insn, access, q) => {
    expect(encodeCrAccess(access)).toBe(q);
    const full: CrAccess = { cr: 0, gpr: 0, lmswMemory: false, lmswData: 0, ...access };
    expect(decodeCrAccess(q)).toEqual(full);
    expect(decodeCrAccess(BigInt(q))).toEqual(full);
    expect(encodeCrAccess(decodeCrAccess(q))).toBe(q);
  });

  it("ignores the reserved bits 63:32 of the 64-bit field", () => {
    expect(decodeCrAccess(0xdead00000000318n)).toEqual(decodeCrAccess(0x318));
  });

  it("rejects out-of-range parts", () => {
    expect(() => encodeCrAccess({ accessType: "mov-to-cr", cr: 16 })).toThrow(RangeError);
    expect(() => encodeCrAccess({ accessType: "lmsw", lmswData: 0x10000 })).toThrow(RangeError);
  });
});

describe("MOV DR qualification (Table 28-4)", () => {
  const cases: Array<[string, DrAccess, number]> = [
    ["mov %rax,%dr7", { dr: 7, direction: "mov-to-dr", gpr: RAX }, 0x7],
    ["mov %dr6,%rcx", { dr: 6, direction: "mov-from-dr", gpr: RCX }, 0x116],
    ["mov %r9,%dr0", { dr: 0, direction: "mov-to-dr", gpr: R9 }, 0x900],
    ["mov %dr3,%r15", { dr: 3, direction: "mov-from-dr", gpr: R15 }, 0xf13],
  ];
  it.each(cases)("%s", (_insn, access, q) => {
    expect(encodeDrAccess(access)).toBe(q);
    expect(decodeDrAccess(q)).toEqual(access);
    expect(decodeDrAccess(BigInt(q))).toEqual(access);
  });

  it("rejects DR8 and up", () => {
    expect(() => encodeDrAccess({ dr: 8, direction: "mov-to-dr", gpr: 0 })).toThrow(RangeError);
  });
});

describe("I/O instruction qualification (Table 28-5)", () => {
  const io = (a: Partial<IoAccess> & Pick<IoAccess, "size" | "direction" | "port">): IoAccess =>
    ({ string: false, rep: false, immediate: false, ...a });
  const cases: Array<[string, IoAccess, number]> = [
    ["out %al,$0x80", io({ size: 1, direction: "out", immediate: true, port: 0x80 }), 0x800040],
    ["in (%dx),%eax, dx = 0x3f8", io({ size: 4, direction: "in", port: 0x3f8 }), 0x3f8000b],
    ["in $0x60,%al", io({ size: 1, direction: "in", immediate: true, port: 0x60 }), 0x600048],
    ["out %ax,(%dx), dx = 0xcfc", io({ size: 2, direction: "out", port: 0xcfc }), 0xcfc0001],
    ["rep outsb, dx = 0x3f8", io({ size: 1, direction: "out", string: true, rep: true, port: 0x3f8 }), 0x3f80030],
    ["rep insl, dx = 0x1f0", io({ size: 4, direction: "in", string: true, rep: true, port: 0x1f0 }), 0x1f0003b],
    ["insw (no rep), dx = 0x170", io({ size: 2, direction: "in", string: true, port: 0x170 }), 0x1700019],
    ["out %eax,(%dx), dx = 0xffff", io({ size: 4, direction: "out", port: 0xffff }), 0xffff0003],
  ];
  it.each(cases)("%s", (_insn, access, q) => {
    expect(encodeIo(access)).toBe(q);
    expect(decodeIo(q)).toEqual(access);
    expect(decodeIo(BigInt(q))).toEqual(access);
  });

  it("refuses the unused size encodings", () => {
    expect(() => decodeIo(0x800042)).toThrow(RangeError);
    expect(() => encodeIo({ size: 8 as 4, direction: "in", port: 0 })).toThrow(RangeError);
    expect(() => encodeIo({ size: 1, direction: "in", port: 0x10000 })).toThrow(RangeError);
  });
});

describe("EPT-violation qualification (Table 28-7)", () => {
  const none: EptViolation = decodeEptViolation(0);
  const cases: Array<[string, Partial<EptViolation>, number]> = [
    ["write to a page EPT maps read-only", { write: true, readable: true, linearValid: true, translation: true }, 0x18a],
    ["fetch from a page EPT does not map", { fetch: true, linearValid: true, translation: true }, 0x184],
    ["read of a guest paging-structure entry", { read: true, linearValid: true }, 0x81],
    ["PDPTE load by MOV CR3 (no linear address)", { read: true }, 0x1],
    ["user-mode, read/write, execute-disable linear address",
      { read: true, readable: true, executable: true, linearValid: true, translation: true, userLinear: true,
        writableLinear: true, executeDisableLinear: true }, 0xfa9],
    ["mode-based execute: user fetch", { fetch: true, readable: true, userExecutable: false, executable: true,
      linearValid: true, translation: true, userLinear: true }, 0x3ac],
    ["IRET unblocked NMIs", { write: true, nmiUnblocking: true, linearValid: true, translation: true }, 0x1182],
    ["shadow-stack write", { write: true, readable: true, shadowStack: true, supervisorShadowStack: true,
      linearValid: true, translation: true }, 0x618a],
    ["guest-paging verification", { read: true, guestPagingVerification: true, linearValid: true }, 0x8081],
    ["asynchronous (PT output)", { write: true, asynchronous: true }, 0x10002],
  ];
  it.each(cases)("%s", (_what, e, q) => {
    expect(encodeEptViolation(e)).toBe(q);
    expect(decodeEptViolation(q)).toEqual({ ...none, ...e });
    expect(decodeEptViolation(BigInt(q))).toEqual({ ...none, ...e });
  });

  it("round-trips every defined bit alone", () => {
    for (let bit = 0; bit <= 16; bit++) expect(encodeEptViolation(decodeEptViolation(1 << bit))).toBe(1 << bit);
    expect(encodeEptViolation(decodeEptViolation(0x1ffff))).toBe(0x1ffff);
    expect(encodeEptViolation(decodeEptViolation(0xfffe0000))).toBe(0); // bits 31:17 reserved
  });
});

describe("task-switch qualification (Table 28-2)", () => {
  it.each([
    ["call to TSS 0x28", { selector: 0x28, source: "call" }, 0x28],
    ["iret to TSS 0x20", { selector: 0x20, source: "iret" }, 0x40000020],
    ["jmp to TSS 0x18", { selector: 0x18, source: "jmp" }, 0x80000018],
    ["task gate in the IDT, TSS 0x30", { selector: 0x30, source: "idt" }, 0xc0000030],
  ] as const)("%s", (_what, t, q) => {
    expect(encodeTaskSwitch(t)).toBe(q);
    expect(decodeTaskSwitch(q)).toEqual(t);
    expect(decodeTaskSwitch(BigInt(q))).toEqual(t);
  });
});
