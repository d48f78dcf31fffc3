// The decode cache (src/cpu/block-cache.ts): self-modifying code, fused blocks, alias mappings,
// instructions that cross a page boundary, and decode-once statistics.
import { describe, expect, it } from "vitest";
import { CODE, SCRATCH, runCode } from "../harness.js";
import type { Cpu } from "../../src/cpu/cpu.js";

const STUBS = 0x6000;
const stubRip = (vec: number): bigint => BigInt(STUBS + vec * 16 + 1);

/** Map linear 4 GiB - 5 GiB to physical 0 (a 1 GiB alias of everything, code included). */
const ALIAS = 0x100000000;
function aliasMap(cpu: Cpu): void {
  cpu.mem.dv.setBigUint64(0x2000 + 4 * 8, 0x83n, true); // harness PDPT[4]: 1 GiB page at 0
  cpu.mmu.flush();
}

/**
 * Replace the harness's first 1 GiB page with a page directory at 0x10000: 0-4 MiB identity
 * (2 MiB pages) and 4-6 MiB through a page table at 0x11000 whose entries start not present.
 */
const PT = 0x11000;
function fourK(cpu: Cpu): void {
  const dv = cpu.mem.dv;
  cpu.mem.u8.fill(0, 0x10000, 0x12000);
  dv.setBigUint64(0x10000, 0x000083n, true);
  dv.setBigUint64(0x10008, 0x200083n, true);
  dv.setBigUint64(0x10010, BigInt(PT) | 3n, true);
  dv.setBigUint64(0x2000, 0x10003n, true);
  cpu.mmu.flush();
}

describe("self-modifying code", () => {
  it("a store that patches a later instruction of the same block runs the new bytes", () => {
    // movb $0x2a,t+1(%rip); t: mov $5,%eax; mov %eax,%ebx
    const r = runCode({ code: [0xc6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x2a, 0xb8, 0x05, 0x00, 0x00, 0x00, 0x89, 0xc3] });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(42n);
    expect(r.reg("rbx")).toBe(42n);
    expect(r.exec.cache.stats.invalidations).toBeGreaterThanOrEqual(1);
  });

  it("patching an already executed (cached) loop body takes effect on the next iteration", () => {
    //     mov $10,%ecx; xor %ebx,%ebx
    // t:  add $1,%ebx
    //     cmp $5,%ecx; jne 2f
    //     movb $0x10,t+2(%rip)
    // 2:  dec %ecx; jnz t
    const r = runCode({
      code: [0xb9, 0x0a, 0x00, 0x00, 0x00, 0x31, 0xdb, 0x83, 0xc3, 0x01, 0x83, 0xf9, 0x05, 0x75, 0x07, 0xc6, 0x05,
        0xf3, 0xff, 0xff, 0xff, 0x10, 0xff, 0xc9, 0x75, 0xed],
    });
    expect(r.stop.reason).toBe("halt");
    // Iterations ecx=10..5 add 1 (6), then ecx=4..1 add 0x10 (64).
    expect(r.reg("rbx")).toBe(70n);
    expect(r.reg("rcx")).toBe(0n);
  });

  it("a fused block that patches its own later instruction stops and runs the new version", () => {
    //     mov $10,%ecx; xor %ebx,%ebx; lea t+2(%rip),%rdi; mov $0x200000,%esi
    // 1:  mov %rsi,%rdx; cmp $5,%ecx; cmove %rdi,%rdx
    //     movb $0x10,(%rdx)          ; scratch normally, the `add` immediate when ecx == 5
    // t:  add $1,%ebx
    //     dec %ecx; jnz 1b
    const r = runCode({
      code: [0xb9, 0x0a, 0x00, 0x00, 0x00, 0x31, 0xdb, 0x48, 0x8d, 0x3d, 0x14, 0x00, 0x00, 0x00, 0xbe, 0x00, 0x00,
        0x20, 0x00, 0x48, 0x89, 0xf2, 0x83, 0xf9, 0x05, 0x48, 0x0f, 0x44, 0xd7, 0xc6, 0x02, 0x10, 0x83, 0xc3,
        0x01, 0xff, 0xc9, 0x75, 0xec],
    });
    expect(r.stop.reason).toBe("halt");
    // ecx=10..6: +1 (5); ecx=5 (patch first, then add): +16; ecx=4..1: +16 -> 5 + 80.
    expect(r.reg("rbx")).toBe(85n);
    expect(r.mem(SCRATCH, 1)[0]).toBe(0x10);
  });

  it("an instruction that patches the next instruction every iteration", () => {
    //     mov $5,%ecx; xor %ebx,%ebx
    // t:  add $1,%ebx
    //     incb t+2(%rip)
    //     dec %ecx; jnz t
    const r = runCode({
      code: [0xb9, 0x05, 0x00, 0x00, 0x00, 0x31, 0xdb, 0x83, 0xc3, 0x01, 0xfe, 0x05, 0xf9, 0xff, 0xff, 0xff, 0xff,
        0xc9, 0x75, 0xf3],
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(1n + 2n + 3n + 4n + 5n);
    expect(r.mem(CODE + 9, 1)[0]).toBe(6);
  });

  it("code written to a page (with a cached writable translation) then executed, then patched and re-run", () => {
    // movl $0x1b8,0x200000; movw $0xc300,0x200004   -> mov $1,%eax; ret
    // mov $0x200000,%esi; call *%rsi; mov %eax,%ebx
    // movb $2,0x200001; call *%rsi
    const r = runCode({
      code: [0xc7, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x66, 0xc7, 0x04, 0x25, 0x04, 0x00,
        0x20, 0x00, 0x00, 0xc3, 0xbe, 0x00, 0x00, 0x20, 0x00, 0xff, 0xd6, 0x89, 0xc3, 0xc6, 0x04, 0x25, 0x01,
        0x00, 0x20, 0x00, 0x02, 0xff, 0xd6],
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(1n);
    expect(r.reg("rax")).toBe(2n);
  });
});

describe("alias mappings", () => {
  it("the same physical code reached through two linear addresses runs correctly at both", () => {
    // s: inc %eax; cmp $1,%eax; jne d; movabs $0x100100000,%rdx; jmp *%rdx; d: hlt
    const r = runCode({
      code: [0xff, 0xc0, 0x83, 0xf8, 0x01, 0x75, 0x0c, 0x48, 0xba, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00,
        0xff, 0xe2, 0xf4],
      setup: aliasMap,
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(2n);
    // The second pass ran at the alias, so the relative jne landed at the alias's hlt.
    expect(r.reg("rip")).toBe(BigInt(ALIAS + CODE + 0x14));
  });

  it("patching through the identity mapping is seen when running through the alias", () => {
    // s: movabs $0x100100018,%rdx; call *%rdx; mov %eax,%ebx; movb $0x2a,f+1(%rip); call *%rdx; hlt
    // f: mov $5,%eax; ret
    const r = runCode({
      code: [0x48, 0xba, 0x18, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0xff, 0xd2, 0x89, 0xc3, 0xc6, 0x05, 0x04,
        0x00, 0x00, 0x00, 0x2a, 0xff, 0xd2, 0xf4, 0xb8, 0x05, 0x00, 0x00, 0x00, 0xc3],
      setup: aliasMap,
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(5n);
    expect(r.reg("rax")).toBe(42n);
  });

  it("patching through the alias is seen when running through the identity mapping", () => {
    // s: movabs $0x10010001b,%rdx; call f; mov %eax,%ebx; movb $0x2a,1(%rdx); call f; hlt
    // f: mov $5,%eax; ret
    const r = runCode({
      code: [0x48, 0xba, 0x1b, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe8, 0x0c, 0x00, 0x00, 0x00, 0x89, 0xc3,
        0xc6, 0x42, 0x01, 0x2a, 0xe8, 0x01, 0x00, 0x00, 0x00, 0xf4, 0xb8, 0x05, 0x00, 0x00, 0x00, 0xc3],
      setup: aliasMap,
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(5n);
    expect(r.reg("rax")).toBe(42n);
  });
});

describe("instructions crossing a page boundary", () => {
  // Linear 0x400000 -> physical 0x300000; linear 0x401000 not present.
  // At 0x400ffb: nop; nop; then `mov $imm32,%eax` (b8 78 56 | 34 12) straddles into 0x401000.
  const crossSetup = (cpu: Cpu): void => {
    fourK(cpu);
    cpu.mem.dv.setBigUint64(PT, 0x300003n, true);
    cpu.mem.u8.set([0x90, 0x90, 0xb8, 0x78, 0x56], 0x300ffb);
    cpu.mem.u8.set([0x34, 0x12, 0xc3], 0x301000);
  };

  it("an instruction that is first in its block and crosses into a not-present page: #PF, CR2 = next page", () => {
    // movabs $0x400ffd,%rax; jmp *%rax
    const r = runCode({ code: [0x48, 0xb8, 0xfd, 0x0f, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xe0], setup: crossSetup });
    expect(r.reg("rip")).toBe(stubRip(14));
    expect(r.fault).toEqual({ vector: 14, errorCode: 0x10, rip: 0x400ffdn });
    expect(r.cpu.cr2).toBe(0x401000n);
  });

  it("the same after other instructions in the block: the nops retire, the pushed RIP is the mov", () => {
    // movabs $0x400ffb,%rax; jmp *%rax
    const r = runCode({ code: [0x48, 0xb8, 0xfb, 0x0f, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xe0], setup: crossSetup });
    expect(r.fault).toEqual({ vector: 14, errorCode: 0x10, rip: 0x400ffdn });
    expect(r.cpu.cr2).toBe(0x401000n);
    expect(r.reg("rax")).toBe(0x400ffbn); // the mov never ran
  });

  it("with both pages mapped the straddling instruction runs", () => {
    // movabs $0x400ffb,%rax; jmp *%rax  -> nop; nop; mov $0x12345678,%eax; ret (to the stack's 0)
    const r = runCode({
      code: [0x48, 0xb8, 0xfb, 0x0f, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xe0],
      setup: (cpu) => {
        crossSetup(cpu);
        cpu.mem.dv.setBigUint64(PT + 8, 0x301003n, true);
        cpu.mem.dv.setBigUint64(0x80000 - 8, BigInt(CODE + 12), true); // ret -> the harness's hlt
        cpu.set("rsp", BigInt(0x80000 - 8));
      },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rip")).toBe(BigInt(CODE + 13));
    expect(r.reg("rax")).toBe(0x12345678n);
  });

  // mov $0x400ffd,%esi; call *%rsi; mov %eax,%ebx
  // movq $NEW,0x11008 (PT[1]); invlpg 0x401000; xor %eax,%eax; call *%rsi
  const remap = (lo: number[]): number[] => [0xbe, 0xfd, 0x0f, 0x40, 0x00, 0xff, 0xd6, 0x89, 0xc3, 0x48, 0xc7, 0x04,
    0x25, 0x08, 0x10, 0x01, 0x00, ...lo, 0x0f, 0x01, 0x3c, 0x25, 0x00, 0x10, 0x40, 0x00, 0x31, 0xc0, 0xff, 0xd6];
  const bothMapped = (cpu: Cpu): void => {
    crossSetup(cpu);
    cpu.mem.dv.setBigUint64(PT + 8, 0x301003n, true);
    cpu.mem.u8.set([0xcd, 0xab, 0xc3], 0x302000);
  };

  it("a cached straddling instruction faults once its second page is unmapped (INVLPG)", () => {
    const r = runCode({ code: remap([0x00, 0x00, 0x00, 0x00]), setup: bothMapped });
    expect(r.reg("rbx")).toBe(0x12345678n);
    expect(r.reg("rip")).toBe(stubRip(14));
    expect(r.fault).toEqual({ vector: 14, errorCode: 0x10, rip: 0x400ffdn });
    expect(r.cpu.cr2).toBe(0x401000n);
  });

  it("a cached straddling instruction sees the new bytes once its second page is remapped", () => {
    // PT[1] := 0x302007 (bytes cd ab c3 there)
    const r = runCode({ code: remap([0x07, 0x20, 0x30, 0x00]), setup: bothMapped });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(0x12345678n);
    expect(r.reg("rax")).toBe(0xabcd5678n);
  });
});

describe("faults inside fused blocks", () => {
  it("a fault on the 4th pass of a fused loop body: earlier instructions retire, RIP is the faulting one", () => {
    //    movabs $0xffffd000,%rbx
    // 1: inc %ecx; mov (%rbx),%rax; add $0x1000,%rbx; jmp 1b     (0x100000000 is not mapped)
    const r = runCode({
      code: [0x48, 0xbb, 0x00, 0xd0, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xc1, 0x48, 0x8b, 0x03, 0x48, 0x81,
        0xc3, 0x00, 0x10, 0x00, 0x00, 0xeb, 0xf2],
    });
    expect(r.fault).toEqual({ vector: 14, errorCode: 0, rip: BigInt(CODE + 0xc) });
    expect(r.cpu.cr2).toBe(0x100000000n);
    expect(r.reg("rcx")).toBe(4n);
    expect(r.reg("rbx")).toBe(0x100000000n);
    // 5 (first pass) + 4 + 4 + 1 (inc) + the stub's hlt.
    expect(r.cpu.icount).toBe(15);
  });
});

describe("decode-once statistics", () => {
  it("a loop run 1000 times is compiled a handful of times", () => {
    // mov $1000,%ecx; xor %eax,%eax; 1: add %ecx,%eax; dec %ecx; jnz 1b
    const r = runCode({ code: [0xb9, 0xe8, 0x03, 0x00, 0x00, 0x31, 0xc0, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa] });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(500500n);
    const s = r.exec.cache.stats;
    // The entry block, the loop block (entered mid-way) and the trailing hlt.
    expect(s.compiles).toBeLessThanOrEqual(3);
    expect(s.decodedInsns).toBeLessThanOrEqual(10);
    expect(s.invalidations).toBe(0);
    expect(r.cpu.icount).toBe(2 + 3 * 1000 + 1);
  });
});
