// System instructions: CPUID, RDMSR/WRMSR, MOV CRn, descriptor-table loads and stores, LTR/STR,
// RDTSC, port I/O, CLI/STI, HLT, and the 32-bit -> long mode switch with a far jump.
import { describe, expect, it } from "vitest";
import { CODE, SCRATCH, runCode, type RunResult } from "../harness.js";
import type { PortBus } from "../../src/cpu/cpu.js";
import { Seg } from "../../src/cpu/regs.js";

const STUBS = 0x6000;
const stubRip = (vec: number): bigint => BigInt(STUBS + vec * 16 + 1);
const IF = 0x200;

const u32 = (v: bigint): number => Number(v & 0xffffffffn);
function gp(r: RunResult, errorCode = 0, rip = BigInt(CODE)): void {
  expect(r.reg("rip")).toBe(stubRip(13));
  expect(r.fault).toEqual({ vector: 13, errorCode, rip });
}

// ---------------------------------------------------------------- CPUID
function cpuid(leaf: number, sub = 0): [number, number, number, number] {
  // cpuid
  const r = runCode({
    code: [0x0f, 0xa2],
    regs: { rax: BigInt(leaf) | 0xdead00000000n, rcx: BigInt(sub), rbx: -1n, rdx: -1n },
  });
  expect(r.stop.reason).toBe("halt");
  // CPUID writes 32-bit registers: the upper halves are cleared.
  for (const n of ["rax", "rbx", "rcx", "rdx"] as const) expect(r.reg(n) >> 32n).toBe(0n);
  return [u32(r.reg("rax")), u32(r.reg("rbx")), u32(r.reg("rcx")), u32(r.reg("rdx"))];
}
const ascii = (...regs: number[]): string =>
  String.fromCharCode(...regs.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]));

describe("CPUID", () => {
  it("leaf 0: max basic leaf 7, vendor GenuineIntel (EBX, EDX, ECX)", () => {
    const [a, b, c, d] = cpuid(0);
    expect(a).toBe(7);
    expect(ascii(b, d, c)).toBe("GenuineIntel");
  });

  it("leaf 1: family 6 signature; PSE, TSC, MSR, PAE present", () => {
    const [a, , , d] = cpuid(1);
    const family = (a >>> 8) & 0xf;
    expect(family).toBe(6);
    const PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6;
    expect(d & (PSE | TSC | MSR | PAE)).toBe(PSE | TSC | MSR | PAE);
  });

  it("leaf 0x80000000: max extended leaf covers 0x80000008", () => {
    expect(cpuid(0x80000000)[0]).toBe(0x80000008);
  });

  it("leaf 0x80000001: LM, NX and 1 GiB pages in EDX", () => {
    const d = cpuid(0x80000001)[3];
    const NX = 1 << 20, PAGE1GB = 1 << 26, LM = 1 << 29;
    expect(d & (NX | PAGE1GB | LM)).toBe(NX | PAGE1GB | LM);
  });

  it("leaf 0x80000008: 39 physical and 48 linear address bits", () => {
    expect(cpuid(0x80000008)[0]).toBe(0x3027);
  });

  it("leaves 0x80000002-4: a NUL-terminated ASCII brand string", () => {
    const s = [0x80000002, 0x80000003, 0x80000004].map((l) => ascii(...cpuid(l))).join("");
    expect(s.length).toBe(48);
    const text = s.slice(0, s.indexOf("\0"));
    expect(s.indexOf("\0")).toBeGreaterThan(0);
    expect(text).toMatch(/^[\x20-\x7e]+$/);
    expect(text).toContain("hyperstep");
  });

  it("leaves above the maximum return the highest basic leaf (Intel behaviour)", () => {
    const top = cpuid(7, 0);
    expect(cpuid(8, 0)).toEqual(top);
    expect(cpuid(0x20, 0)).toEqual(top);
    expect(cpuid(0x80000009, 0)).toEqual(top);
  });
});

// ---------------------------------------------------------------- MSRs
const RDMSR = [0x0f, 0x32];
const WRMSR_RDMSR = [0x0f, 0x30, 0x0f, 0x32];
function rdmsr(idx: number): RunResult {
  return runCode({ code: RDMSR, regs: { rcx: BigInt(idx), rax: -1n, rdx: -1n } });
}
/** wrmsr; rdmsr of the same MSR with the value v. */
function wrrd(idx: number, v: bigint): RunResult {
  return runCode({ code: WRMSR_RDMSR, regs: { rcx: BigInt(idx), rax: v & 0xffffffffn, rdx: v >> 32n } });
}
const edxEax = (r: RunResult): bigint => (r.reg("rdx") << 32n) | r.reg("rax");

describe("RDMSR / WRMSR", () => {
  it("EFER reads LME|LMA|NXE in the harness's long mode; SCE can be set", () => {
    const r = rdmsr(0xc0000080);
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0xd00n);
    expect(r.reg("rdx")).toBe(0n);
    expect(edxEax(wrrd(0xc0000080, 0xd01n))).toBe(0xd01n);
  });

  it("EFER: reserved bits raise #GP(0)", () => {
    gp(wrrd(0xc0000080, 0xd00n | 2n)); // bit 1
    gp(wrrd(0xc0000080, 0xd00n | (1n << 32n))); // bit 32
  });

  it("EFER: clearing LME while paging is enabled raises #GP(0)", () => {
    gp(wrrd(0xc0000080, 0x800n));
  });

  it("APIC_BASE reads 0xFEE00900 (BSP, enabled, default base)", () => {
    expect(edxEax(rdmsr(0x1b))).toBe(0xfee00900n);
  });

  it("PAT: power-on value, write/read back, invalid memory type -> #GP(0)", () => {
    expect(edxEax(rdmsr(0x277))).toBe(0x0007040600070406n);
    expect(edxEax(wrrd(0x277, 0x0000000100000006n))).toBe(0x0000000100000006n);
    gp(wrrd(0x277, 0x0007040600070402n)); // type 2 is reserved
  });

  it("FS_BASE: written by WRMSR, used by %fs: accesses, read back by RDMSR", () => {
    // wrmsr; mov %fs:8,%rax ; then rdmsr via a second run
    const r = runCode({
      code: [0x0f, 0x30, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00],
      regs: { rcx: 0xc0000100n, rax: BigInt(SCRATCH), rdx: 0n },
      mem: [{ addr: SCRATCH + 8, bytes: [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11] }],
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0x1122334455667788n);
    expect(r.cpu.segBase[Seg.FS]).toBe(SCRATCH);
    expect(edxEax(wrrd(0xc0000100, 0xffff800000001000n))).toBe(0xffff800000001000n);
  });

  it("GS_BASE: written by WRMSR, used by %gs: accesses", () => {
    // wrmsr; mov %gs:8,%rax
    const r = runCode({
      code: [0x0f, 0x30, 0x65, 0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00],
      regs: { rcx: 0xc0000101n, rax: BigInt(SCRATCH + 0x100), rdx: 0n },
      mem: [{ addr: SCRATCH + 0x108, bytes: [0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0] }],
    });
    expect(r.reg("rax")).toBe(0xdeadbeefn);
    expect(edxEax(wrrd(0xc0000101, 0x00007fffffffe000n))).toBe(0x00007fffffffe000n);
  });

  it("KERNEL_GS_BASE, STAR, LSTAR, FMASK read back", () => {
    expect(edxEax(wrrd(0xc0000102, 0xffffffff81000000n))).toBe(0xffffffff81000000n);
    expect(edxEax(wrrd(0xc0000081, 0x0023001000000000n))).toBe(0x0023001000000000n);
    expect(edxEax(wrrd(0xc0000082, 0xffffffff81234560n))).toBe(0xffffffff81234560n);
    expect(edxEax(wrrd(0xc0000084, 0x47700n))).toBe(0x47700n);
  });

  it("SYSENTER_CS/ESP/EIP read back", () => {
    expect(edxEax(wrrd(0x174, 0x10n))).toBe(0x10n);
    expect(edxEax(wrrd(0x175, 0xffff800000010000n))).toBe(0xffff800000010000n);
    expect(edxEax(wrrd(0x176, 0x0000000012345678n))).toBe(0x12345678n);
  });

  it("non-canonical FS_BASE, GS_BASE, KERNEL_GS_BASE, SYSENTER_EIP, LSTAR -> #GP(0)", () => {
    for (const idx of [0xc0000100, 0xc0000101, 0xc0000102, 0x176, 0xc0000082]) {
      const r = wrrd(idx, 0x0000800000000000n);
      gp(r);
    }
  });

  it("an unknown MSR (0x12345) -> #GP(0) for RDMSR and WRMSR", () => {
    gp(rdmsr(0x12345));
    gp(wrrd(0x12345, 0n));
  });

  it("TSC: WRMSR sets it, RDMSR and RDTSC read it and it keeps counting", () => {
    // wrmsr; rdmsr; rdtsc
    const v = 0x100000000n;
    const r = runCode({ code: [0x0f, 0x30, 0x0f, 0x32, 0x0f, 0x31], regs: { rcx: 0x10n, rax: 0n, rdx: 1n } });
    expect(r.stop.reason).toBe("halt");
    const t = edxEax(r);
    expect(t).toBeGreaterThan(v);
    expect(t).toBeLessThan(v + 100n);
    expect(r.reg("rdx") >> 32n).toBe(0n);
  });
});

// ---------------------------------------------------------------- control registers
describe("MOV to and from control registers", () => {
  it("CR0 reads back PE|ET|NE|WP|PG; setting MP sticks", () => {
    // mov %cr0,%rax; or $2,%eax; mov %rax,%cr0; mov %cr0,%rbx
    const r = runCode({ code: [0x0f, 0x20, 0xc0, 0x83, 0xc8, 0x02, 0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3] });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(0x80010033n);
    expect(r.cpu.cr0 >>> 0).toBe(0x80010033);
  });

  it("CR0: a 1 in bits 63:32 -> #GP(0)", () => {
    // bts $32,%rax; mov %rax,%cr0
    gp(runCode({ code: [0x48, 0x0f, 0xba, 0xe8, 0x20, 0x0f, 0x22, 0xc0], regs: { rax: 0x80010031n } }), 0, BigInt(CODE + 5));
  });

  it("CR0: NW without CD, and PG without PE -> #GP(0)", () => {
    // mov %rax,%cr0
    gp(runCode({ code: [0x0f, 0x22, 0xc0], regs: { rax: 0x80010031n | (1n << 29n) } }));
    gp(runCode({ code: [0x0f, 0x22, 0xc0], regs: { rax: 0x80010030n } }));
  });

  it("CR0: clearing PG in 64-bit mode -> #GP(0)", () => {
    // mov %cr0,%rax; btr $31,%eax; mov %rax,%cr0
    const r = runCode({ code: [0x0f, 0x20, 0xc0, 0x0f, 0xba, 0xf0, 0x1f, 0x0f, 0x22, 0xc0] });
    gp(r, 0, BigInt(CODE + 7));
    expect(r.cpu.cr0 >>> 0).toBe(0x80010031);
  });

  it("CR3: write and read back; bits above MAXPHYADDR -> #GP(0)", () => {
    // mov %rax,%cr3; mov %cr3,%rbx  (a copy of the harness's tables at 0x9000)
    const r = runCode({
      code: [0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xdb],
      regs: { rax: 0x9000n },
      setup: (cpu) => cpu.mem.u8.copyWithin(0x9000, 0x1000, 0x2000),
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(0x9000n);
    gp(runCode({ code: [0x0f, 0x22, 0xd8], regs: { rax: (1n << 40n) | 0x1000n } }));
  });

  it("CR4: write and read back supported bits", () => {
    // mov %rax,%cr4; mov %cr4,%rbx   PAE|PGE|OSFXSR|OSXMMEXCPT
    const r = runCode({ code: [0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe3], regs: { rax: 0x6a0n } });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(0x6a0n);
  });

  it("CR4: reserved bits and clearing PAE in long mode -> #GP(0)", () => {
    gp(runCode({ code: [0x0f, 0x22, 0xe0], regs: { rax: 0x20n | (1n << 31n) } }));
    gp(runCode({ code: [0x0f, 0x22, 0xe0], regs: { rax: 0x20n | (1n << 32n) } }));
    gp(runCode({ code: [0x0f, 0x22, 0xe0], regs: { rax: 0n } }));
  });

  it("CR4.VMXE can be set exactly when CPUID.1:ECX.VMX is reported (#GP(0) otherwise)", () => {
    const vmx = (cpuid(1)[2] & (1 << 5)) !== 0;
    // mov %rax,%cr4; mov %cr4,%rbx
    const r = runCode({ code: [0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe3], regs: { rax: 0x20n | (1n << 13n) } });
    if (vmx) expect(r.reg("rbx")).toBe(0x2020n);
    else gp(r);
  });

  it("CR8: the TPR holds 4 bits; a 1 in bits 63:4 -> #GP(0)", () => {
    // mov %rax,%cr8; mov %cr8,%rbx
    const r = runCode({ code: [0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x20, 0xc3], regs: { rax: 0xfn, rbx: -1n } });
    expect(r.reg("rbx")).toBe(0xfn);
    gp(runCode({ code: [0x44, 0x0f, 0x22, 0xc0], regs: { rax: 0x10n } }));
  });

  it("CR2 is readable and writable", () => {
    // mov %rax,%cr2; mov %cr2,%rbx
    const r = runCode({ code: [0x0f, 0x22, 0xd0, 0x0f, 0x20, 0xd3], regs: { rax: 0xffff800012345678n } });
    expect(r.reg("rbx")).toBe(0xffff800012345678n);
  });

  it("CR2 holds any 64-bit value exactly, canonical or not", () => {
    // mov %rax,%cr2; mov %cr2,%rbx
    const r = runCode({ code: [0x0f, 0x22, 0xd0, 0x0f, 0x20, 0xd3], regs: { rax: 0xdeadbeefcafe1234n } });
    expect(r.reg("rbx")).toBe(0xdeadbeefcafe1234n);
  });

  it("CR1 and CR5 do not exist: #UD", () => {
    // mov %rax,%cr1
    expect(runCode({ code: [0x0f, 0x22, 0xc8] }).fault).toEqual({ vector: 6, errorCode: -1, rip: BigInt(CODE) });
    // mov %cr5,%rax
    expect(runCode({ code: [0x0f, 0x20, 0xe8] }).fault).toEqual({ vector: 6, errorCode: -1, rip: BigInt(CODE) });
  });
});

// ---------------------------------------------------------------- descriptor tables, TR
describe("LGDT/SGDT/LIDT/SIDT, LTR/STR", () => {
  it("LGDT/SGDT and LIDT/SIDT round-trip a 10-byte pseudo-descriptor", () => {
    // lgdt 0x200000; sgdt 0x200010; lidt 0x200020; sidt 0x200030
    const gdtr = [0x34, 0x12, 0x00, 0x30, 0x12, 0x00, 0x00, 0x80, 0xff, 0xff]; // 0x1234, 0xffff800000123000
    const idtr = [0xff, 0x0f, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]; // 0xfff, 0x4000
    const r = runCode({
      code: [0x0f, 0x01, 0x14, 0x25, 0x00, 0x00, 0x20, 0x00, 0x0f, 0x01, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00,
        0x0f, 0x01, 0x1c, 0x25, 0x20, 0x00, 0x20, 0x00, 0x0f, 0x01, 0x0c, 0x25, 0x30, 0x00, 0x20, 0x00],
      mem: [{ addr: SCRATCH, bytes: gdtr }, { addr: SCRATCH + 0x20, bytes: idtr }],
    });
    expect(r.stop.reason).toBe("halt");
    expect(Array.from(r.mem(SCRATCH + 0x10, 10))).toEqual(gdtr);
    expect(Array.from(r.mem(SCRATCH + 0x30, 10))).toEqual(idtr);
    expect(r.cpu.gdtrLimit).toBe(0x1234);
    expect(r.cpu.idtrBase).toBe(0x4000);
    expect(r.cpu.idtrLimit).toBe(0xfff);
  });

  it("LGDT with a non-canonical base -> #GP(0), GDTR unchanged", () => {
    // lgdt 0x200000
    const r = runCode({
      code: [0x0f, 0x01, 0x14, 0x25, 0x00, 0x00, 0x20, 0x00],
      mem: [{ addr: SCRATCH, bytes: [0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00] }],
    });
    gp(r);
    expect(r.cpu.gdtrBase).toBe(0x3000);
    expect(r.cpu.gdtrLimit).toBe(0x1f);
  });

  /** A 16-byte available 64-bit TSS descriptor at GDT index 4 (selector 0x20), base 0xffff800000009000. */
  const tssGdt = (limit = 0x2f) => (cpu: RunResult["cpu"]): void => {
    const dv = cpu.mem.dv;
    dv.setUint32(0x3020, 0x90000067, true);
    dv.setUint32(0x3024, 0x00008900, true);
    dv.setUint32(0x3028, 0xffff8000, true);
    dv.setUint32(0x302c, 0, true);
    cpu.gdtrLimit = limit;
  };

  it("LTR loads a 64-bit TSS and marks it busy (type 0xB); STR reads the selector back", () => {
    // mov $0x20,%eax; ltr %ax; str %rbx
    const r = runCode({
      code: [0xb8, 0x20, 0x00, 0x00, 0x00, 0x0f, 0x00, 0xd8, 0x48, 0x0f, 0x00, 0xcb],
      regs: { rbx: -1n },
      setup: tssGdt(),
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(0x20n);
    expect(r.mem(0x3025, 1)[0]).toBe(0x8b);
    expect(r.cpu.tr.sel).toBe(0x20);
    expect(r.cpu.tr.base).toBe(-(2 ** 47) + 0x9000);
    expect(r.cpu.tr.limit).toBe(0x67);
  });

  it("LTR of a busy TSS -> #GP(selector)", () => {
    // mov $0x20,%eax; ltr %ax; ltr %ax
    const r = runCode({ code: [0xb8, 0x20, 0x00, 0x00, 0x00, 0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xd8], setup: tssGdt() });
    gp(r, 0x20, BigInt(CODE + 8));
  });

  it("LTR of a data segment -> #GP(selector); of the null selector -> #GP(0)", () => {
    // ltr %ax
    gp(runCode({ code: [0x0f, 0x00, 0xd8], regs: { rax: 0x10n } }), 0x10);
    gp(runCode({ code: [0x0f, 0x00, 0xd8], regs: { rax: 0n } }), 0);
  });
});

// ---------------------------------------------------------------- TSC, I/O, IF, HLT
describe("RDTSC, IN/OUT, CLI/STI, HLT", () => {
  it("RDTSC increases across basic blocks", () => {
    // rdtsc; shl $32,%rdx; or %rdx,%rax; mov %rax,%rbx; jmp 1f; 1: rdtsc; shl $32,%rdx; or %rdx,%rax
    const r = runCode({
      code: [0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0x48, 0x89, 0xc3, 0xeb, 0x00, 0x0f, 0x31, 0x48,
        0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0],
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBeGreaterThan(r.reg("rbx"));
  });

  it("RDTSC increases between two reads in the same basic block", () => {
    // rdtsc; shl $32,%rdx; or %rdx,%rax; mov %rax,%rbx; nop x3; rdtsc; shl $32,%rdx; or %rdx,%rax
    const r = runCode({
      code: [0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0x48, 0x89, 0xc3, 0x90, 0x90, 0x90, 0x0f, 0x31,
        0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0],
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBeGreaterThan(r.reg("rbx"));
  });

  it("IN from an unclaimed port reads all-ones, merged by operand size", () => {
    // in $0x80,%al; mov %rax,%rbx; in (%dx),%ax; mov %rax,%rcx; in (%dx),%eax
    const r = runCode({
      code: [0xe4, 0x80, 0x48, 0x89, 0xc3, 0x66, 0xed, 0x48, 0x89, 0xc1, 0xed],
      regs: { rax: 0x1122334455667700n, rdx: 0x3f8n },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(0x11223344556677ffn);
    expect(r.reg("rcx")).toBe(0x112233445566ffffn);
    expect(r.reg("rax")).toBe(0xffffffffn);
  });

  it("OUT passes port, size and value to the bus", () => {
    const seen: Array<[number, number, number]> = [];
    const io: PortBus = { in: () => 0xffffffff, out: (port, size, value) => { seen.push([port, size, value]); } };
    // out %al,(%dx); out %ax,$0x80; out %eax,(%dx)
    const r = runCode({ code: [0xee, 0x66, 0xe7, 0x80, 0xef], regs: { rax: 0x12345678n, rdx: 0x3f8n }, io });
    expect(r.stop.reason).toBe("halt");
    expect(seen).toEqual([[0x3f8, 1, 0x78], [0x80, 2, 0x5678], [0x3f8, 4, 0x12345678]]);
  });

  it("STI sets IF, CLI clears it", () => {
    // sti; pushfq; pop %rbx; cli; pushfq; pop %rcx
    const r = runCode({ code: [0xfb, 0x9c, 0x5b, 0xfa, 0x9c, 0x59] });
    expect(r.stop.reason).toBe("halt");
    expect(Number(r.reg("rbx")) & IF).toBe(IF);
    expect(Number(r.reg("rcx")) & IF).toBe(0);
    expect(r.flags() & IF).toBe(0);
  });

  it("HLT stops with reason 'halt' and a message naming RIP", () => {
    // nop; hlt
    const r = runCode({ code: [0x90, 0xf4] });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rip")).toBe(BigInt(CODE + 2));
    expect(r.stop.message).toMatch(/0x10000[12]\b/);
    expect(r.cpu.icount).toBe(2);
  });
});

// ---------------------------------------------------------------- entering long mode
describe("switching from 32-bit protected mode to long mode", () => {
  /** Identity map of 4 GiB with 1 GiB pages at 0x1000/0x2000, as the 64-bit harness does. */
  const tables = (cpu: RunResult["cpu"]): void => {
    const dv = cpu.mem.dv;
    dv.setBigUint64(0x1000, 0x2003n, true);
    for (let i = 0; i < 4; i++) dv.setBigUint64(0x2000 + i * 8, BigInt(i) * 0x40000000n | 0x83n, true);
  };

  it("CR4.PAE, CR3, EFER.LME, CR0.PG, then ljmp to a 64-bit code segment", () => {
    // .code32
    //   mov %cr4,%eax; or $0x20,%eax; mov %eax,%cr4
    //   mov $0x1000,%eax; mov %eax,%cr3
    //   mov $0xc0000080,%ecx; rdmsr; or $0x100,%eax; wrmsr
    //   mov %cr0,%eax; or $0x80000000,%eax; mov %eax,%cr0
    //   ljmp $0x08,$0x100031
    // .code64
    //   movabs $0x1234567887654321,%rax; hlt
    const r = runCode({
      mode: 32,
      code: [0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x22, 0xd8,
        0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0,
        0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xea, 0x31, 0x00, 0x10, 0x00, 0x08, 0x00, 0x48, 0xb8,
        0x21, 0x43, 0x65, 0x87, 0x78, 0x56, 0x34, 0x12, 0xf4],
      setup: tables,
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.cpu.mode).toBe(64);
    expect(r.reg("rax")).toBe(0x1234567887654321n);
    expect(r.reg("rip")).toBe(BigInt(CODE + 0x3c));
    expect(r.cpu.efer & 0x500).toBe(0x500); // LME | LMA
    expect(r.cpu.segSel[Seg.CS]).toBe(0x08);
    expect(r.cpu.cr0 >>> 0).toBe(0x80000031);
  });

  it("CR0.PG with EFER.LME but CR4.PAE clear -> #GP(0)", () => {
    // mov $0xc0000080,%ecx; rdmsr; or $0x100,%eax; wrmsr; mov %cr0,%eax; or $0x80000000,%eax; mov %eax,%cr0
    const r = runCode({
      mode: 32,
      code: [0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0,
        0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0],
      setup: (cpu) => { tables(cpu); cpu.cr3 = 0x1000; },
    });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: BigInt(CODE + 22) });
    expect(r.cpu.efer & 0x500).toBe(0x100);
    expect(r.cpu.mode).toBe(32);
  });
});
