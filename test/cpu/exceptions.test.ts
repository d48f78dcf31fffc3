// Exception and interrupt delivery (SDM Vol. 3, chapter 6): vectors, error codes, stack frames,
// gate types, IRET, double and triple faults, and 32-bit protected-mode delivery.
import { describe, expect, it } from "vitest";
import { CODE, runCode, type RunResult } from "../harness.js";
import type { Cpu } from "../../src/cpu/cpu.js";

const STUBS = 0x6000;
const IDT = 0x4000;
const STACK_TOP = 0x80000;
const IF = 0x200, RF = 0x10000;

/** n qwords (64-bit mode) or dwords (32-bit) from the stack at the stop. */
function frame(r: RunResult, n: number, width: 8 | 4 = 8): bigint[] {
  const sp = Number(r.reg("rsp"));
  const dv = r.cpu.mem.dv;
  return Array.from({ length: n }, (_, i) =>
    width === 8 ? dv.getBigUint64(sp + 8 * i, true) : BigInt(dv.getUint32(sp + 4 * i, true)));
}

/** Rewrite a 16-byte long-mode IDT gate. type 0xE = interrupt gate, 0xF = trap gate. */
function gate64(cpu: Cpu, vec: number, o: { offset?: number; type?: number; present?: boolean; ist?: number } = {}): void {
  const dv = cpu.mem.dv;
  const a = IDT + vec * 16;
  const offset = o.offset ?? STUBS + vec * 16;
  const type = o.type ?? 0xe;
  const p = o.present ?? true ? 0x8000 : 0;
  dv.setUint32(a, (offset & 0xffff) | (0x08 << 16), true);
  dv.setUint32(a + 4, ((offset & 0xffff0000) | p | (type << 8) | (o.ist ?? 0)) >>> 0, true);
  dv.setUint32(a + 8, Math.floor(offset / 2 ** 32), true);
}

/** Clear the P bit of an IDT gate (64-bit: 16-byte gates; 32-bit: 8-byte gates). */
function notPresent(cpu: Cpu, vec: number, gateSize: 16 | 8 = 16): void {
  const a = IDT + vec * gateSize + 4;
  cpu.mem.dv.setUint32(a, cpu.mem.dv.getUint32(a, true) & ~0x8000, true);
}

const stubRip = (vec: number): bigint => BigInt(STUBS + vec * 16 + 1);

describe("exception vectors and error codes (64-bit)", () => {
  it("#DE: div by zero faults at the div", () => {
    // xor %edx,%edx; xor %ecx,%ecx; div %ecx
    const r = runCode({ code: [0x31, 0xd2, 0x31, 0xc9, 0xf7, 0xf1], regs: { rax: 5n } });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rip")).toBe(stubRip(0));
    expect(r.fault).toEqual({ vector: 0, errorCode: -1, rip: BigInt(CODE + 4) });
    expect(r.reg("rax")).toBe(5n); // destination unchanged
  });

  it("#DE: idiv INT32_MIN / -1 overflows", () => {
    // mov $0x80000000,%eax; cltd; mov $-1,%ecx; idiv %ecx
    const r = runCode({ code: [0xb8, 0x00, 0x00, 0x00, 0x80, 0x99, 0xb9, 0xff, 0xff, 0xff, 0xff, 0xf7, 0xf9] });
    expect(r.fault).toEqual({ vector: 0, errorCode: -1, rip: BigInt(CODE + 11) });
    expect(r.reg("rax")).toBe(0x80000000n);
    expect(r.reg("rdx")).toBe(0xffffffffn);
  });

  it("#DE: idiv INT64_MIN / -1 overflows", () => {
    // movabs $0x8000000000000000,%rax; cqto; mov $-1,%rcx; idiv %rcx
    const r = runCode({
      code: [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x48, 0x99, 0x48, 0xc7, 0xc1, 0xff,
        0xff, 0xff, 0xff, 0x48, 0xf7, 0xf9],
    });
    expect(r.fault).toEqual({ vector: 0, errorCode: -1, rip: BigInt(CODE + 19) });
    expect(r.reg("rax")).toBe(0x8000000000000000n);
  });

  it("#UD: ud2", () => {
    // nop; ud2
    const r = runCode({ code: [0x90, 0x0f, 0x0b] });
    expect(r.fault).toEqual({ vector: 6, errorCode: -1, rip: BigInt(CODE + 1) });
  });

  it("#UD: push %es (06) is invalid in 64-bit mode", () => {
    // nop; .byte 0x06
    const r = runCode({ code: [0x90, 0x06] });
    expect(r.fault).toEqual({ vector: 6, errorCode: -1, rip: BigInt(CODE + 1) });
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP - 40)); // nothing was pushed by the bad instruction
  });

  it("#BP: int3 is a trap, the pushed RIP is after it", () => {
    // nop; int3
    const r = runCode({ code: [0x90, 0xcc] });
    expect(r.fault).toEqual({ vector: 3, errorCode: -1, rip: BigInt(CODE + 2) });
  });

  it("INT n: pushed RIP is after the instruction, and INT 14 pushes no error code", () => {
    // int $14
    const r = runCode({ code: [0xcd, 0x0e] });
    expect(r.reg("rip")).toBe(stubRip(14));
    // Five qwords: RIP, CS, RFLAGS, RSP, SS — no error code.
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP - 40));
    expect(frame(r, 5)).toEqual([BigInt(CODE + 2), 0x08n, 0x2n, BigInt(STACK_TOP), 0x10n]);
  });

  it("INT 14 does not load CR2 (only a real page fault does)", () => {
    // int $14
    const r = runCode({ code: [0xcd, 0x0e], setup: (cpu) => { cpu.cr2 = 0x1234n; } });
    expect(r.reg("rip")).toBe(stubRip(14));
    expect(r.cpu.cr2).toBe(0x1234n);
  });

  it("#GP(0): non-canonical memory access", () => {
    // movabs $0x0000800000000000,%rax; mov (%rax),%rbx
    const r = runCode({ code: [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x48, 0x8b, 0x18] });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: BigInt(CODE + 10) });
  });

  it("#SS(0): non-canonical memory access through the SS segment (RBP base)", () => {
    // movabs $0x800000000000,%rbp; mov 0x0(%rbp),%rax
    const r = runCode({ code: [0x48, 0xbd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x48, 0x8b, 0x45, 0x00] });
    expect(r.fault).toEqual({ vector: 12, errorCode: 0, rip: BigInt(CODE + 10) });
  });

  it("#GP(selector): mov to %ds of a selector past the GDT limit", () => {
    // mov $0x23,%eax; mov %eax,%ds   (GDT has 4 entries: limit 0x1f)
    const r = runCode({ code: [0xb8, 0x23, 0x00, 0x00, 0x00, 0x8e, 0xd8] });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0x20, rip: BigInt(CODE + 5) });
    expect(r.cpu.segSel[3]).toBe(0x10); // DS unchanged
  });

  it("#NP: INT n through a not-present gate, error code = vector*8 + 2 (IDT, EXT=0)", () => {
    // int $0x40
    const r = runCode({ code: [0xcd, 0x40], setup: (cpu) => notPresent(cpu, 0x40) });
    expect(r.fault).toEqual({ vector: 11, errorCode: 0x40 * 8 + 2, rip: BigInt(CODE) });
  });

  it("#NP during delivery of a hardware exception sets EXT: #UD via a not-present gate -> #NP(6*8+3)", () => {
    // ud2  (#UD is benign, so the #NP is delivered serially, not as #DF)
    const r = runCode({ code: [0x0f, 0x0b], setup: (cpu) => notPresent(cpu, 6) });
    expect(r.fault).toEqual({ vector: 11, errorCode: 6 * 8 + 2 + 1, rip: BigInt(CODE) });
  });

  it("#GP(vector*8+2) for INT n past the IDT limit", () => {
    // int $0x40
    const r = runCode({ code: [0xcd, 0x40], setup: (cpu) => { cpu.idtrLimit = 0x40 * 16 - 1; } });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0x40 * 8 + 2, rip: BigInt(CODE) });
  });

  it("#PF error codes: not-present read 0, write 2, fetch 0x10 (NXE=1), CR2 = address", () => {
    // The harness maps 4 GiB with 1 GiB pages; 0x100000000 (PDPTE 4) is not present.
    // movabs $0x100000000,%rax; mov (%rax),%rbx
    const rd = runCode({ code: [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x18] });
    expect(rd.fault).toEqual({ vector: 14, errorCode: 0, rip: BigInt(CODE + 10) });
    expect(rd.cpu.cr2).toBe(0x100000000n);
    // movabs $0x100000000,%rax; movl $5,(%rax)
    const wr = runCode({
      code: [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xc7, 0x00, 0x05, 0x00, 0x00, 0x00],
    });
    expect(wr.fault).toEqual({ vector: 14, errorCode: 2, rip: BigInt(CODE + 10) });
    expect(wr.cpu.cr2).toBe(0x100000000n);
    // movabs $0x100000000,%rax; jmp *%rax   (the faulting RIP is the jump target)
    const fe = runCode({ code: [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xff, 0xe0] });
    expect(fe.fault).toEqual({ vector: 14, errorCode: 0x10, rip: 0x100000000n });
    expect(fe.cpu.cr2).toBe(0x100000000n);
  });
});

describe("64-bit exception frames", () => {
  it("#GP frame: error code, RIP, CS, RFLAGS, RSP, SS; RSP aligned down to 16 first", () => {
    // mov $0x23,%eax; mov %eax,%ds  with RSP = 0x7fff8 (8 mod 16)
    const r = runCode({
      code: [0xb8, 0x23, 0x00, 0x00, 0x00, 0x8e, 0xd8], regs: { rsp: 0x7fff8n }, rflags: 0x2 | 0x1 | IF,
    });
    expect(r.reg("rip")).toBe(stubRip(13));
    // Aligned to 0x7fff0, then six qwords.
    expect(r.reg("rsp")).toBe(0x7fff0n - 48n);
    const [err, rip, cs, rflags, rsp, ss] = frame(r, 6);
    expect(err).toBe(0x20n);
    expect(rip).toBe(BigInt(CODE + 5));
    expect(cs).toBe(0x08n);
    expect(rflags & ~BigInt(RF)).toBe(BigInt(0x2 | 0x1 | IF));
    expect(rsp).toBe(0x7fff8n);
    expect(ss).toBe(0x10n);
    // An interrupt gate clears IF in the handler.
    expect(r.flags() & IF).toBe(0);
    expect(r.cpu.segSel[1]).toBe(0x08);
  });

  it("trap-class frame (int3): RF pushed as 0, interrupt gate clears IF", () => {
    // nop; int3   with RSP = 0x7fff8
    const r = runCode({ code: [0x90, 0xcc], regs: { rsp: 0x7fff8n }, rflags: 0x2 | IF | 0x40 });
    expect(r.reg("rsp")).toBe(0x7fff0n - 40n);
    expect(frame(r, 5)).toEqual([BigInt(CODE + 2), 0x08n, BigInt(0x2 | IF | 0x40), 0x7fff8n, 0x10n]);
    expect(r.flags() & IF).toBe(0);
  });

  it("trap gate (type 0xF) leaves IF set", () => {
    // ud2 with IF=1; gate 6 is a trap gate
    const r = runCode({ code: [0x0f, 0x0b], rflags: 0x2 | IF, setup: (cpu) => gate64(cpu, 6, { type: 0xf }) });
    expect(r.reg("rip")).toBe(stubRip(6));
    expect(r.flags() & IF).toBe(IF);
    expect(frame(r, 1)).toEqual([BigInt(CODE)]);
  });

  it("fault-class exceptions push RFLAGS with RF=1 (SDM 17.3.1.1)", () => {
    // ud2
    const r = runCode({ code: [0x0f, 0x0b], rflags: 0x2 });
    expect(r.reg("rip")).toBe(stubRip(6));
    expect(frame(r, 3)[2]).toBe(BigInt(0x2 | RF));
    // The handler itself runs with RF clear.
    expect(r.flags() & RF).toBe(0);
  });

  it("IST: a gate with IST=1 switches to the TSS's IST1 stack", () => {
    // ud2, gate 6 with IST 1; TSS at 0x9000 with IST1 = 0x70000
    const r = runCode({
      code: [0x0f, 0x0b],
      setup: (cpu) => {
        cpu.mem.dv.setBigUint64(0x9000 + 0x24, 0x70008n, true); // IST1, deliberately 8 mod 16
        cpu.tr = { sel: 0x20, base: 0x9000, limit: 0x67, attr: 0x8b };
        gate64(cpu, 6, { ist: 1 });
      },
    });
    expect(r.reg("rip")).toBe(stubRip(6));
    expect(r.reg("rsp")).toBe(0x70000n - 40n);
    expect(frame(r, 5)).toEqual([BigInt(CODE), 0x08n, frame(r, 3)[2], BigInt(STACK_TOP), 0x10n]);
  });
});

describe("software interrupts from CPL 3", () => {
  /** Ring-3 segments, a TSS with RSP0 = 0x7c000, CPL 3; the code page is user-accessible via 1 GiB pages with U=1. */
  function toUser(cpu: Cpu): void {
    const dv = cpu.mem.dv;
    dv.setBigUint64(0x1000, 0x2007n, true);
    for (let i = 0; i < 4; i++) dv.setBigUint64(0x2000 + i * 8, BigInt(i) * 0x40000000n | 0x87n, true);
    dv.setBigUint64(0x3020, 0x00cff2000000ffffn, true); // 0x20: user data
    dv.setBigUint64(0x3028, 0x0020fa0000000000n, true); // 0x28: user 64-bit code
    cpu.gdtrLimit = 0x2f;
    dv.setBigUint64(0x9000 + 4, 0x7c000n, true);
    cpu.tr = { sel: 0x30, base: 0x9000, limit: 0x67, attr: 0x8b };
    cpu.setCpl(3);
    cpu.setSegment(1, 0x2b, 0, 0xffffffff, 0xa0fb);
    for (const s of [0, 2, 3]) cpu.setSegment(s, 0x23, 0, 0xffffffff, 0xc0f3);
  }

  it("INT n through a DPL-0 gate from CPL 3 -> #GP(vector*8+2)", () => {
    // int $0x40
    const r = runCode({ code: [0xcd, 0x40], setup: toUser });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0x40 * 8 + 2, rip: BigInt(CODE) });
    expect(r.reg("rsp")).toBe(BigInt(0x7c000 - 48));
  });

  it("INT n through a DPL-3 gate switches to RSP0 and pushes the user SS:RSP", () => {
    // int $0x40
    const r = runCode({
      code: [0xcd, 0x40],
      setup: (cpu) => {
        toUser(cpu);
        const a = IDT + 0x40 * 16 + 4;
        cpu.mem.dv.setUint32(a, cpu.mem.dv.getUint32(a, true) | 0x6000, true);
      },
    });
    expect(r.reg("rip")).toBe(stubRip(0x40));
    expect(r.cpu.cpl).toBe(0);
    expect(r.reg("rsp")).toBe(BigInt(0x7c000 - 40));
    expect(frame(r, 5)).toEqual([BigInt(CODE + 2), 0x2bn, 0x2n, BigInt(STACK_TOP), 0x23n]);
    expect(r.cpu.segSel[1]).toBe(0x08);
  });
});

describe("IRETQ", () => {
  it("int3 handler that just does iretq returns after the int3 with RSP restored", () => {
    // handler @0x7000: iretq
    // code: int3; mov $1,%eax
    const r = runCode({
      code: [0xcc, 0xb8, 0x01, 0x00, 0x00, 0x00],
      mem: [{ addr: 0x7000, bytes: [0x48, 0xcf] }],
      rflags: 0x2 | IF | 0x1,
      setup: (cpu) => gate64(cpu, 3, { offset: 0x7000 }),
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rip")).toBe(BigInt(CODE + 6 + 1));
    expect(r.reg("rax")).toBe(1n);
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP));
    // IRET restored IF (cleared by the interrupt gate) and CF.
    expect(r.flags() & (IF | 1)).toBe(IF | 1);
  });

  it("#UD handler skips the ud2 by adjusting the saved RIP", () => {
    // handler @0x7000: addq $2,(%rsp); iretq
    // code: ud2; mov $1,%eax
    const r = runCode({
      code: [0x0f, 0x0b, 0xb8, 0x01, 0x00, 0x00, 0x00],
      mem: [{ addr: 0x7000, bytes: [0x48, 0x83, 0x04, 0x24, 0x02, 0x48, 0xcf] }],
      setup: (cpu) => gate64(cpu, 6, { offset: 0x7000 }),
    });
    expect(r.reg("rip")).toBe(BigInt(CODE + 7 + 1));
    expect(r.reg("rax")).toBe(1n);
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP));
  });

  it("#GP handler pops the error code and skips the faulting mov to %ds", () => {
    // handler @0x7000: add $8,%rsp; addq $2,(%rsp); iretq
    // code: mov $0x2b,%eax; mov %eax,%ds; mov $2,%ebx
    const r = runCode({
      code: [0xb8, 0x2b, 0x00, 0x00, 0x00, 0x8e, 0xd8, 0xbb, 0x02, 0x00, 0x00, 0x00],
      mem: [{ addr: 0x7000, bytes: [0x48, 0x83, 0xc4, 0x08, 0x48, 0x83, 0x04, 0x24, 0x02, 0x48, 0xcf] }],
      setup: (cpu) => gate64(cpu, 13, { offset: 0x7000 }),
    });
    expect(r.reg("rip")).toBe(BigInt(CODE + 12 + 1));
    expect(r.reg("rbx")).toBe(2n);
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP));
    expect(r.cpu.exceptionsDelivered).toBe(1);
  });
});

describe("double and triple faults", () => {
  // movabs $0x0000800000000000,%rax; mov (%rax),%rbx  -> #GP(0)
  const nonCanonical = [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x48, 0x8b, 0x18];

  it("#GP whose gate is not present -> #NP (contributory + contributory) -> #DF(0)", () => {
    const r = runCode({ code: nonCanonical, setup: (cpu) => notPresent(cpu, 13) });
    expect(r.reg("rip")).toBe(stubRip(8));
    expect(r.fault?.vector).toBe(8);
    expect(r.fault?.errorCode).toBe(0);
    // #DF is an abort: the saved RIP is undefined, but the frame is a normal 6-qword frame.
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP - 48));
  });

  it("#PF while delivering #PF (stack not mapped) -> #DF, delivered on an IST stack", () => {
    // movabs $0x100000000,%rax; mov (%rax),%rbx  with RSP = 0x100002000 (not mapped)
    const r = runCode({
      code: [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x18],
      regs: { rsp: 0x100002000n },
      setup: (cpu) => {
        cpu.mem.dv.setBigUint64(0x9000 + 0x24, 0x70000n, true);
        cpu.tr = { sel: 0x20, base: 0x9000, limit: 0x67, attr: 0x8b };
        gate64(cpu, 8, { ist: 1 });
      },
    });
    expect(r.reg("rip")).toBe(stubRip(8));
    expect(r.reg("rsp")).toBe(0x70000n - 48n);
    const [err, , cs, , rsp, ss] = frame(r, 6);
    expect(err).toBe(0n);
    expect(cs).toBe(0x08n);
    expect(rsp).toBe(0x100002000n);
    expect(ss).toBe(0x10n);
  });

  it("#UD (benign) through a not-present gate is not a double fault: #NP is delivered", () => {
    const r = runCode({ code: [0x0f, 0x0b], setup: (cpu) => notPresent(cpu, 6) });
    expect(r.fault?.vector).toBe(11);
    expect(r.fault?.rip).toBe(BigInt(CODE));
  });

  it("#GP -> #NP -> #DF with the #DF gate not present too is a triple fault", () => {
    const r = runCode({
      code: nonCanonical,
      setup: (cpu) => { notPresent(cpu, 13); notPresent(cpu, 8); },
    });
    expect(r.stop.reason).toBe("triple-fault");
    expect(r.fault).toBeUndefined();
  });

  it("an IDT limit of 0 makes any exception a triple fault", () => {
    const r = runCode({ code: [0x0f, 0x0b], setup: (cpu) => { cpu.idtrLimit = 0; } });
    expect(r.stop.reason).toBe("triple-fault");
  });
});

describe("32-bit protected mode delivery (8-byte gates, 4-byte frames)", () => {
  it("#UD: frame is EIP, CS, EFLAGS", () => {
    // nop; ud2
    const r = runCode({ mode: 32, code: [0x90, 0x0f, 0x0b], rflags: 0x2 | IF });
    expect(r.reg("rip")).toBe(stubRip(6));
    expect(r.fault).toEqual({ vector: 6, errorCode: -1, rip: BigInt(CODE + 1) });
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP - 12));
    const [eip, cs, eflags] = frame(r, 3, 4);
    expect(eip).toBe(BigInt(CODE + 1));
    expect(cs).toBe(0x18n);
    expect(eflags & ~BigInt(RF)).toBe(BigInt(0x2 | IF));
    expect(r.flags() & IF).toBe(0);
  });

  it("INT n: EIP after the instruction, no error code", () => {
    // int $0x30
    const r = runCode({ mode: 32, code: [0xcd, 0x30], rflags: 0x2 | 0x80 });
    expect(r.reg("rip")).toBe(stubRip(0x30));
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP - 12));
    expect(frame(r, 3, 4)).toEqual([BigInt(CODE + 2), 0x18n, BigInt(0x2 | 0x80)]);
  });

  it("#GP(selector) pushes a 4-byte error code", () => {
    // mov $0x23,%eax; mov %eax,%ds
    const r = runCode({ mode: 32, code: [0xb8, 0x23, 0x00, 0x00, 0x00, 0x8e, 0xd8] });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0x20, rip: BigInt(CODE + 5) });
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP - 16));
    const [err, eip, cs] = frame(r, 3, 4);
    expect([err, eip, cs]).toEqual([0x20n, BigInt(CODE + 5), 0x18n]);
  });

  it("#NP for INT n through a not-present 8-byte gate", () => {
    // int $0x40
    const r = runCode({ mode: 32, code: [0xcd, 0x40], setup: (cpu) => notPresent(cpu, 0x40, 8) });
    expect(r.fault).toEqual({ vector: 11, errorCode: 0x40 * 8 + 2, rip: BigInt(CODE) });
  });

  it("iretd from an int3 handler returns after the int3", () => {
    // handler @0x7000: iret
    // code: int3; mov $1,%eax
    const r = runCode({
      mode: 32,
      code: [0xcc, 0xb8, 0x01, 0x00, 0x00, 0x00],
      mem: [{ addr: 0x7000, bytes: [0xcf] }],
      setup: (cpu) => {
        const a = IDT + 3 * 8;
        cpu.mem.dv.setUint32(a, 0x7000 | (0x18 << 16), true);
        cpu.mem.dv.setUint32(a + 4, 0x8e00, true);
      },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rip")).toBe(BigInt(CODE + 7));
    expect(r.reg("rax")).toBe(1n);
    expect(r.reg("rsp")).toBe(BigInt(STACK_TOP));
  });
});
