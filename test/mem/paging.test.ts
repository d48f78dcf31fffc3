// Paging (SDM Vol. 3, chapter 4): 4-level paging with 4 KiB, 2 MiB and 1 GiB pages, page-fault
// error codes and CR2, NX, reserved bits, accessed/dirty bits, TLB invalidation, 32-bit paging
// with PSE, and the canonical-address check.
import { describe, expect, it } from "vitest";
import { CODE, runCode, type RunResult } from "../harness.js";
import type { Cpu } from "../../src/cpu/cpu.js";
import { Seg } from "../../src/cpu/regs.js";

const STUBS = 0x6000;
const stubRip = (vec: number): bigint => BigInt(STUBS + vec * 16 + 1);

// Page-table entry bits.
const P = 1n, RW = 2n, US = 4n, A = 0x20n, D = 0x40n, PS = 0x80n, NX = 1n << 63n;
const PRW = P | RW | US;

// 4-level tables built by build64 (all identity-mapped by PT0, so guest code can edit them).
const PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000, PT0 = 0x13000, PT1 = 0x14000;
/** Linear 0x400000-0x5fffff: 4 KiB pages through PT1, initially all not present. */
const LIN4K = 0x400000;
/** Physical frames the 4 KiB test pages point at. */
const PHYS4K = 0x300000;

const q = (cpu: Cpu, addr: number): bigint => cpu.mem.dv.getBigUint64(addr, true);
const setq = (cpu: Cpu, addr: number, v: bigint): void => cpu.mem.dv.setBigUint64(addr, v, true);

/**
 * Build 4-level page tables at 0x10000:
 *   0 - 2 MiB          identity, 4 KiB pages (PT0): GDT, IDT, stubs, stack, code, the tables
 *   2 - 4 MiB          identity, one 2 MiB page (PD[1])
 *   4 - 6 MiB          4 KiB pages through PT1, not present until a test maps them
 *   6 - 8 MiB          one 2 MiB page -> physical 8 MiB (PD[3])
 *   1 - 2 GiB          one 1 GiB page -> physical 0 (PDPT[1])
 * Every level has U/S=1 so user-mode tests can reach the identity-mapped region.
 */
function build64(cpu: Cpu): void {
  cpu.mem.u8.fill(0, PML4, PT1 + 0x1000);
  setq(cpu, PML4, BigInt(PDPT) | PRW);
  setq(cpu, PDPT, BigInt(PD) | PRW);
  setq(cpu, PDPT + 8, 0n | PS | PRW);
  setq(cpu, PD, BigInt(PT0) | PRW);
  setq(cpu, PD + 8, 0x200000n | PS | PRW);
  setq(cpu, PD + 16, BigInt(PT1) | PRW);
  setq(cpu, PD + 24, 0x800000n | PS | PRW);
  for (let i = 0; i < 512; i++) setq(cpu, PT0 + 8 * i, BigInt(i * 0x1000) | PRW);
  cpu.cr3 = PML4;
  cpu.mmu.flush();
}

/** Map linear LIN4K + n*4K to a physical frame with the given flags (in PT1). */
function map4k(cpu: Cpu, n: number, pa: number, flags: bigint): void {
  setq(cpu, PT1 + 8 * n, BigInt(pa) | flags);
}

function pf(r: RunResult): { errorCode: number; rip: bigint; cr2: number } {
  expect(r.reg("rip")).toBe(stubRip(14));
  return { errorCode: r.fault!.errorCode, rip: r.fault!.rip, cr2: Number(r.cpu.cr2) };
}

// mov 0x401234,%rax
const READ_401234 = [0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0x40, 0x00];
// movl $0x11223344,0x401234
const WRITE_401234 = [0xc7, 0x04, 0x25, 0x34, 0x12, 0x40, 0x00, 0x44, 0x33, 0x22, 0x11];

describe("4-level paging: page-fault error codes", () => {
  it("not-present read: error 0, CR2 = the address, RIP = the instruction", () => {
    const r = runCode({ code: READ_401234, setup: build64 });
    expect(pf(r)).toEqual({ errorCode: 0, rip: BigInt(CODE), cr2: 0x401234 });
  });

  it("not-present write: error 2", () => {
    const r = runCode({ code: WRITE_401234, setup: build64 });
    expect(pf(r)).toEqual({ errorCode: 2, rip: BigInt(CODE), cr2: 0x401234 });
  });

  it("a not-present upper level (PML4E) also gives error 0", () => {
    // movabs $0xffff800000001234,%rbx; mov (%rbx),%rax ; handler: mov %cr2,%rax; hlt
    const r = runCode({
      code: [0x48, 0xbb, 0x34, 0x12, 0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0x48, 0x8b, 0x03],
      mem: [{ addr: 0x7000, bytes: [0x0f, 0x20, 0xd0, 0xf4] }],
      setup: (cpu) => {
        build64(cpu);
        // Point the #PF gate at a handler that reads CR2 into RAX.
        cpu.mem.dv.setUint32(0x4000 + 14 * 16, 0x7000 | (0x08 << 16), true);
      },
    });
    expect(r.reg("rip")).toBe(0x7004n);
    expect(r.reg("rax")).toBe(0xffff800000001234n); // full 64-bit CR2
    const sp = Number(r.reg("rsp"));
    expect(r.cpu.mem.dv.getUint32(sp, true)).toBe(0); // error code
    expect(r.cpu.mem.dv.getBigUint64(sp + 8, true)).toBe(BigInt(CODE + 10));
  });

  it("write to a read-only page with CR0.WP=1: error 3 (P|W), memory unchanged", () => {
    const r = runCode({
      code: WRITE_401234,
      setup: (cpu) => { build64(cpu); map4k(cpu, 1, PHYS4K + 0x1000, P | US); },
    });
    expect(pf(r)).toEqual({ errorCode: 3, rip: BigInt(CODE), cr2: 0x401234 });
    expect(r.cpu.mem.dv.getUint32(PHYS4K + 0x1234, true)).toBe(0);
  });

  it("write to a read-only page with CR0.WP=0 succeeds at CPL 0", () => {
    const r = runCode({
      code: WRITE_401234,
      setup: (cpu) => {
        build64(cpu);
        map4k(cpu, 1, PHYS4K + 0x1000, P | US);
        cpu.cr0 = (cpu.cr0 & ~0x10000) >>> 0;
      },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rip")).toBe(BigInt(CODE + WRITE_401234.length + 1));
    expect(r.cpu.mem.dv.getUint32(PHYS4K + 0x1234, true)).toBe(0x11223344);
  });

  it("read-only in an upper level (PDE R/W=0) also protects the page", () => {
    const r = runCode({
      code: WRITE_401234,
      setup: (cpu) => {
        build64(cpu);
        map4k(cpu, 1, PHYS4K + 0x1000, PRW);
        setq(cpu, PD + 16, BigInt(PT1) | P | US);
      },
    });
    expect(pf(r).errorCode).toBe(3);
  });

  it("NX: fetch from an NX page with EFER.NXE=1: error 0x11 (P|I/D), CR2 = RIP = target", () => {
    // movabs $0x402000,%rax; jmp *%rax
    const r = runCode({
      code: [0x48, 0xb8, 0x00, 0x20, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xe0],
      setup: (cpu) => {
        build64(cpu);
        cpu.mem.u8[PHYS4K + 0x2000] = 0x90;
        map4k(cpu, 2, PHYS4K + 0x2000, PRW | NX);
      },
    });
    expect(pf(r)).toEqual({ errorCode: 0x11, rip: 0x402000n, cr2: 0x402000 });
  });

  it("NX in an upper level (PDE) also forbids fetches", () => {
    const r = runCode({
      code: [0x48, 0xb8, 0x00, 0x20, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xe0],
      setup: (cpu) => {
        build64(cpu);
        map4k(cpu, 2, PHYS4K + 0x2000, PRW);
        setq(cpu, PD + 16, BigInt(PT1) | PRW | NX);
      },
    });
    expect(pf(r).errorCode).toBe(0x11);
  });

  it("NX page is readable; reading it is not a fault", () => {
    const r = runCode({
      code: READ_401234,
      setup: (cpu) => {
        build64(cpu);
        cpu.mem.dv.setBigUint64(PHYS4K + 0x1234, 0x0123456789abcdefn, true);
        map4k(cpu, 1, PHYS4K + 0x1000, PRW | NX);
      },
    });
    expect(r.reg("rax")).toBe(0x0123456789abcdefn);
  });

  it("reserved bit 51 in a PTE: error 9 (P|RSVD) on a read", () => {
    const r = runCode({
      code: READ_401234,
      setup: (cpu) => { build64(cpu); map4k(cpu, 1, PHYS4K + 0x1000, PRW | (1n << 51n)); },
    });
    expect(pf(r)).toEqual({ errorCode: 9, rip: BigInt(CODE), cr2: 0x401234 });
  });

  it("reserved bit 39 (= MAXPHYADDR) in a PTE: error 0xb (P|W|RSVD) on a write", () => {
    const r = runCode({
      code: WRITE_401234,
      setup: (cpu) => { build64(cpu); map4k(cpu, 1, PHYS4K + 0x1000, PRW | (1n << 39n)); },
    });
    expect(pf(r).errorCode).toBe(0xb);
  });

  it("bit 38 is a valid address bit (MAXPHYADDR 39): no RSVD fault, just beyond RAM", () => {
    const r = runCode({
      code: READ_401234,
      setup: (cpu) => { build64(cpu); map4k(cpu, 1, PHYS4K + 0x1000, PRW | (1n << 38n)); },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0xffffffffffffffffn); // unbacked physical memory reads as all-ones
  });

  it("bit 63 (XD) with EFER.NXE=0 is reserved: error 9", () => {
    const r = runCode({
      code: READ_401234,
      setup: (cpu) => {
        build64(cpu);
        map4k(cpu, 1, PHYS4K + 0x1000, PRW | NX);
        cpu.efer &= ~0x800; // NXE off
        cpu.mmu.flush();
      },
    });
    expect(pf(r).errorCode).toBe(9);
  });

  it("RSVD fetch with NXE=1 reports I/D too: error 0x19", () => {
    const r = runCode({
      code: [0x48, 0xb8, 0x00, 0x20, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xe0],
      setup: (cpu) => { build64(cpu); map4k(cpu, 2, PHYS4K + 0x2000, PRW | (1n << 45n)); },
    });
    expect(pf(r).errorCode).toBe(0x19);
  });

  it("PS=1 in a PML4E is reserved: error 9", () => {
    // movabs $0x8000401234,%rbx; mov (%rbx),%rax     (PML4 index 1)
    const r = runCode({
      code: [0x48, 0xbb, 0x34, 0x12, 0x40, 0x00, 0x80, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x03],
      setup: (cpu) => { build64(cpu); setq(cpu, PML4 + 8, BigInt(PDPT) | PRW | PS); },
    });
    expect(pf(r)).toEqual({ errorCode: 9, rip: BigInt(CODE + 10), cr2: 0x8000401234 });
  });

  it("a write crossing into a read-only page faults with CR2 = the first byte of that page and writes nothing", () => {
    // movl $0x11223344,0x400ffe
    const r = runCode({
      code: [0xc7, 0x04, 0x25, 0xfe, 0x0f, 0x40, 0x00, 0x44, 0x33, 0x22, 0x11],
      setup: (cpu) => { build64(cpu); map4k(cpu, 0, PHYS4K, PRW); map4k(cpu, 1, PHYS4K + 0x1000, P | US); },
    });
    expect(pf(r)).toEqual({ errorCode: 3, rip: BigInt(CODE), cr2: 0x401000 });
    expect(r.cpu.mem.dv.getUint16(PHYS4K + 0xffe, true)).toBe(0);
    expect(r.cpu.mem.dv.getUint16(PHYS4K + 0x1000, true)).toBe(0);
  });

  it("a qword read crossing into a not-present page: CR2 = the first byte of that page", () => {
    // mov 0x400ffc,%rax
    const r = runCode({
      code: [0x48, 0x8b, 0x04, 0x25, 0xfc, 0x0f, 0x40, 0x00],
      setup: (cpu) => { build64(cpu); map4k(cpu, 0, PHYS4K, PRW); },
    });
    expect(pf(r)).toEqual({ errorCode: 0, rip: BigInt(CODE), cr2: 0x401000 });
  });

  it("a qword write crossing two mapped pages lands in both frames", () => {
    // movabs $0x1122334455667788,%rax; mov %rax,0x400ffc
    const r = runCode({
      code: [0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x48, 0x89, 0x04, 0x25, 0xfc, 0x0f, 0x40, 0x00],
      setup: (cpu) => { build64(cpu); map4k(cpu, 0, PHYS4K + 0x5000, PRW); map4k(cpu, 1, PHYS4K + 0x2000, PRW); },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.cpu.mem.dv.getUint32(PHYS4K + 0x5ffc, true)).toBe(0x55667788);
    expect(r.cpu.mem.dv.getUint32(PHYS4K + 0x2000, true)).toBe(0x11223344);
  });
});

describe("4-level paging: user-mode accesses (CPL 3)", () => {
  /** Add ring-3 segments and a TSS, and drop to CPL 3. */
  function toUser(cpu: Cpu): void {
    const dv = cpu.mem.dv;
    dv.setBigUint64(0x3020, 0x00cff2000000ffffn, true); // 0x20: user data, DPL 3
    dv.setBigUint64(0x3028, 0x0020fa0000000000n, true); // 0x28: user 64-bit code, DPL 3
    cpu.gdtrLimit = 0x2f;
    dv.setBigUint64(0x9000 + 4, 0x7c000n, true); // TSS.RSP0
    cpu.tr = { sel: 0x30, base: 0x9000, limit: 0x67, attr: 0x8b };
    cpu.setCpl(3);
    cpu.setSegment(Seg.CS, 0x2b, 0, 0xffffffff, 0xa0fb);
    for (const s of [Seg.DS, Seg.ES, Seg.SS]) cpu.setSegment(s, 0x23, 0, 0xffffffff, 0xc0f3);
  }

  it("user read of a supervisor page: error 5 (P|U), frame on the RSP0 stack", () => {
    const r = runCode({
      code: READ_401234,
      setup: (cpu) => { build64(cpu); map4k(cpu, 1, PHYS4K + 0x1000, P | RW); toUser(cpu); },
    });
    expect(pf(r)).toEqual({ errorCode: 5, rip: BigInt(CODE), cr2: 0x401234 });
    expect(r.cpu.cpl).toBe(0);
    expect(r.reg("rsp")).toBe(BigInt(0x7c000 - 48));
    const sp = 0x7c000 - 48;
    const dv = r.cpu.mem.dv;
    expect([16, 32, 40].map((o) => dv.getBigUint64(sp + o, true))).toEqual([0x2bn, 0x80000n, 0x23n]);
  });

  it("user write to a read-only user page: error 7 (P|W|U) even with WP=0", () => {
    const r = runCode({
      code: WRITE_401234,
      setup: (cpu) => {
        build64(cpu);
        map4k(cpu, 1, PHYS4K + 0x1000, P | US);
        cpu.cr0 = (cpu.cr0 & ~0x10000) >>> 0;
        toUser(cpu);
      },
    });
    expect(pf(r).errorCode).toBe(7);
  });

  it("user read of a not-present page: error 4 (U)", () => {
    const r = runCode({ code: READ_401234, setup: (cpu) => { build64(cpu); toUser(cpu); } });
    expect(pf(r).errorCode).toBe(4);
  });

  it("user read of a user page succeeds", () => {
    const r = runCode({
      code: READ_401234,
      setup: (cpu) => {
        build64(cpu);
        cpu.mem.dv.setBigUint64(PHYS4K + 0x1234, 0x77n, true);
        map4k(cpu, 1, PHYS4K + 0x1000, P | US);
        toUser(cpu);
      },
    });
    // The trailing HLT is privileged at CPL 3: #GP(0) after the read completed.
    expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: BigInt(CODE + READ_401234.length) });
    expect(r.reg("rax")).toBe(0x77n);
  });
});

describe("4-level paging: accessed and dirty bits", () => {
  it("a read sets A at every level and leaves D clear; a write sets D", () => {
    // mov 0x400000,%eax  ;  (first run: read only)
    const rd = runCode({
      code: [0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00],
      setup: (cpu) => { build64(cpu); map4k(cpu, 0, PHYS4K, PRW); },
    });
    expect(rd.stop.reason).toBe("halt");
    const c = rd.cpu;
    expect(q(c, PML4) & A).toBe(A);
    expect(q(c, PDPT) & A).toBe(A);
    expect(q(c, PD + 16) & A).toBe(A);
    expect(q(c, PT1) & (A | D)).toBe(A);
    // Non-leaf entries never get D.
    expect(q(c, PD + 16) & D).toBe(0n);

    // mov 0x400000,%eax; movl $0x55,0x400000
    const wr = runCode({
      code: [0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x55, 0x00, 0x00, 0x00],
      setup: (cpu) => { build64(cpu); map4k(cpu, 0, PHYS4K, PRW); },
    });
    expect(wr.stop.reason).toBe("halt");
    expect(q(wr.cpu, PT1) & (A | D)).toBe(A | D);
    expect(q(wr.cpu, PD + 16) & D).toBe(0n);
    expect(wr.cpu.mem.dv.getUint32(PHYS4K, true)).toBe(0x55);
  });

  it("after the guest clears A/D and does INVLPG, the next accesses set them again", () => {
    // mov 0x400000,%rax; movl $1,0x400000 (sets A, D) -- then:
    // andq $~0x60,0x14000; invlpg 0x400000; mov 0x400000,%rbx   -> A again, D still clear
    const code = [
      0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, // mov 0x400000,%rax
      0xc7, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00, // movl $1,0x400000
      0x48, 0x83, 0x24, 0x25, 0x00, 0x40, 0x01, 0x00, 0x9f, // andq $~0x60,0x14000
      0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x40, 0x00, // invlpg 0x400000
      0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x40, 0x00, // mov 0x400000,%rbx
    ];
    const r = runCode({ code, setup: (cpu) => { build64(cpu); map4k(cpu, 0, PHYS4K, PRW); } });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rbx")).toBe(1n);
    expect(q(r.cpu, PT1) & (A | D)).toBe(A);

    // ... and a write after that sets D again.
    const r2 = runCode({
      code: [...code, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x02, 0x00, 0x00, 0x00], // movl $2,0x400000
      setup: (cpu) => { build64(cpu); map4k(cpu, 0, PHYS4K, PRW); },
    });
    expect(r2.stop.reason).toBe("halt");
    expect(q(r2.cpu, PT1) & (A | D)).toBe(A | D);
    expect(r2.cpu.mem.dv.getUint32(PHYS4K, true)).toBe(2);
  });

  it("large pages: a write sets A and D in the 2 MiB PDE and the 1 GiB PDPTE", () => {
    // movl $0x55,0x601000; movl $0x66,0x40301000
    const r = runCode({
      code: [0xc7, 0x04, 0x25, 0x00, 0x10, 0x60, 0x00, 0x55, 0x00, 0x00, 0x00,
        0xc7, 0x04, 0x25, 0x00, 0x10, 0x30, 0x40, 0x66, 0x00, 0x00, 0x00],
      setup: build64,
    });
    expect(r.stop.reason).toBe("halt");
    expect(q(r.cpu, PD + 24) & (A | D)).toBe(A | D);
    expect(q(r.cpu, PDPT + 8) & (A | D)).toBe(A | D);
    expect(r.cpu.mem.dv.getUint32(0x801000, true)).toBe(0x55);
    expect(r.cpu.mem.dv.getUint32(0x301000, true)).toBe(0x66);
  });
});

describe("4-level paging: large pages", () => {
  it("2 MiB and 1 GiB pages map the right physical bytes", () => {
    // mov 0x601234,%rax; mov 0x40201234,%rbx
    const r = runCode({
      code: [0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0x60, 0x00, 0x48, 0x8b, 0x1c, 0x25, 0x34, 0x12, 0x20, 0x40],
      setup: (cpu) => {
        build64(cpu);
        cpu.mem.dv.setBigUint64(0x801234, 0x1111222233334444n, true); // 6 MiB + 0x1234 -> 8 MiB + 0x1234
        cpu.mem.dv.setBigUint64(0x201234, 0x5555666677778888n, true); // 1 GiB + 0x201234 -> 0x201234
      },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0x1111222233334444n);
    expect(r.reg("rbx")).toBe(0x5555666677778888n);
  });

  it("bits 20:13 of a 2 MiB PDE are reserved: error 9", () => {
    for (const bit of [13n, 20n]) {
      // mov 0x601234,%rax
      const r = runCode({
        code: [0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0x60, 0x00],
        setup: (cpu) => { build64(cpu); setq(cpu, PD + 24, 0x800000n | PS | PRW | (1n << bit)); },
      });
      expect(pf(r)).toEqual({ errorCode: 9, rip: BigInt(CODE), cr2: 0x601234 });
    }
  });

  it("bits 29:13 of a 1 GiB PDPTE are reserved: error 9", () => {
    for (const bit of [13n, 29n]) {
      // mov 0x40201234,%rbx
      const r = runCode({
        code: [0x48, 0x8b, 0x1c, 0x25, 0x34, 0x12, 0x20, 0x40],
        setup: (cpu) => { build64(cpu); setq(cpu, PDPT + 8, PS | PRW | (1n << bit)); },
      });
      expect(pf(r)).toEqual({ errorCode: 9, rip: BigInt(CODE), cr2: 0x40201234 });
    }
  });

  it("bit 12 of a 2 MiB PDE is PAT, not an address bit and not reserved", () => {
    // mov 0x601234,%rax
    const r = runCode({
      code: [0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0x60, 0x00],
      setup: (cpu) => {
        build64(cpu);
        setq(cpu, PD + 24, 0x800000n | PS | PRW | 0x1000n);
        cpu.mem.dv.setBigUint64(0x801234, 0xabcn, true);
      },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0xabcn);
  });
});

describe("TLB invalidation", () => {
  const setup = (cpu: Cpu): void => {
    build64(cpu);
    map4k(cpu, 0, PHYS4K, PRW);
    cpu.mem.dv.setBigUint64(PHYS4K, 0xaaaan, true);
    cpu.mem.dv.setBigUint64(PHYS4K + 0x1000, 0xbbbbn, true);
  };

  it("after a PTE change, INVLPG makes the new translation visible", () => {
    // mov 0x400000,%rax; movq $0x301007,0x14000; mov 0x400000,%rcx; invlpg 0x400000; mov 0x400000,%rbx
    const r = runCode({
      code: [0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x48, 0xc7, 0x04, 0x25, 0x00, 0x40, 0x01, 0x00,
        0x07, 0x10, 0x30, 0x00, 0x48, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x40, 0x00, 0x0f, 0x01, 0x3c, 0x25,
        0x00, 0x00, 0x40, 0x00, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x40, 0x00],
      setup,
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0xaaaan);
    // RCX may be either the stale or the new translation: the SDM allows both.
    expect([0xaaaan, 0xbbbbn]).toContain(r.reg("rcx"));
    expect(r.reg("rbx")).toBe(0xbbbbn);
  });

  it("after a PTE change, MOV to CR3 makes the new translation visible", () => {
    // mov 0x400000,%rax; movq $0x301007,0x14000; mov %cr3,%rdx; mov %rdx,%cr3; mov 0x400000,%rbx
    const r = runCode({
      code: [0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x48, 0xc7, 0x04, 0x25, 0x00, 0x40, 0x01, 0x00,
        0x07, 0x10, 0x30, 0x00, 0x0f, 0x20, 0xda, 0x0f, 0x22, 0xda, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00,
        0x40, 0x00],
      setup,
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0xaaaan);
    expect(r.reg("rdx")).toBe(BigInt(PML4));
    expect(r.reg("rbx")).toBe(0xbbbbn);
  });

  it("unmapping a page and INVLPG makes the next access fault", () => {
    // mov 0x400000,%rax; movq $0,0x14000; invlpg 0x400000; mov 0x400000,%rbx
    const r = runCode({
      code: [0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x48, 0xc7, 0x04, 0x25, 0x00, 0x40, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x40, 0x00, 0x48, 0x8b, 0x1c, 0x25,
        0x00, 0x00, 0x40, 0x00],
      setup,
    });
    expect(r.reg("rax")).toBe(0xaaaan);
    expect(pf(r)).toEqual({ errorCode: 0, rip: BigInt(CODE + 28), cr2: 0x400000 });
  });
});

describe("canonical addresses", () => {
  it("a 64-bit access to 0x0000800000000000 raises #GP(0), not #PF", () => {
    // movabs $0x800000000000,%rbx; mov (%rbx),%rax
    const r = runCode({
      code: [0x48, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x48, 0x8b, 0x03],
      setup: (cpu) => { build64(cpu); cpu.cr2 = 0x42n; },
    });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: BigInt(CODE + 10) });
    expect(r.cpu.cr2).toBe(0x42n);
  });

  it("0x00007ffffffffff8 is canonical: not-present #PF instead of #GP", () => {
    // movabs $0x7ffffffffff8,%rbx; mov (%rbx),%rax
    const r = runCode({
      code: [0x48, 0xbb, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00, 0x48, 0x8b, 0x03],
      setup: build64,
    });
    expect(pf(r)).toEqual({ errorCode: 0, rip: BigInt(CODE + 10), cr2: 0x7ffffffffff8 });
  });
});

describe("32-bit paging (CR4.PAE=0)", () => {
  const PD32 = 0x10000, PT32A = 0x11000, PT32B = 0x12000;
  /**
   * 0-4 MiB identity with 4 KiB pages, 4-8 MiB via PT32B (only page 1 -> 0x301000 mapped),
   * 8-12 MiB one 4 MiB page -> physical 12 MiB (needs CR4.PSE), 12-16 MiB not present.
   */
  function build32(cpu: Cpu, pse = true): void {
    const dv = cpu.mem.dv;
    cpu.mem.u8.fill(0, PD32, PT32B + 0x1000);
    dv.setUint32(PD32, PT32A | 7, true);
    dv.setUint32(PD32 + 4, PT32B | 7, true);
    dv.setUint32(PD32 + 8, 0xc00000 | 0x87, true);
    for (let i = 0; i < 1024; i++) dv.setUint32(PT32A + 4 * i, (i * 0x1000) | 7, true);
    dv.setUint32(PT32B + 4, 0x301000 | 7, true);
    cpu.cr4 = pse ? 0x10 : 0;
    cpu.cr3 = PD32;
    cpu.cr0 = (cpu.cr0 | 0x80000000 | 0x10000) >>> 0;
    cpu.mmu.flush();
  }
  const fault32 = (r: RunResult) => ({ vector: r.fault?.vector, errorCode: r.fault?.errorCode, rip: r.fault?.rip, cr2: Number(r.cpu.cr2) });

  it("4 KiB and 4 MiB (PSE) pages map the right bytes", () => {
    // mov 0x801234,%eax; mov 0x401234,%ebx
    const r = runCode({
      mode: 32,
      code: [0xa1, 0x34, 0x12, 0x80, 0x00, 0x8b, 0x1d, 0x34, 0x12, 0x40, 0x00],
      setup: (cpu) => {
        build32(cpu);
        cpu.mem.dv.setUint32(0xc01234, 0xcafef00d, true);
        cpu.mem.dv.setUint32(0x301234, 0x12345678, true);
      },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0xcafef00dn);
    expect(r.reg("rbx")).toBe(0x12345678n);
    // A set in the PDE and PTE (4 KiB), A in the 4 MiB PDE.
    const dv = r.cpu.mem.dv;
    expect(dv.getUint32(PD32 + 4, true) & 0x60).toBe(0x20);
    expect(dv.getUint32(PT32B + 4, true) & 0x60).toBe(0x20);
    expect(dv.getUint32(PD32 + 8, true) & 0x60).toBe(0x20);
  });

  it("a write sets D in the PTE", () => {
    // movl $0x11223344,0x401234
    const r = runCode({
      mode: 32, code: [0xc7, 0x05, 0x34, 0x12, 0x40, 0x00, 0x44, 0x33, 0x22, 0x11], setup: (cpu) => build32(cpu),
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.cpu.mem.dv.getUint32(0x301234, true)).toBe(0x11223344);
    expect(r.cpu.mem.dv.getUint32(PT32B + 4, true) & 0x60).toBe(0x60);
  });

  it("not-present PDE: error 0, CR2 = the address", () => {
    // mov 0xc00abc,%eax
    const r = runCode({ mode: 32, code: [0xa1, 0xbc, 0x0a, 0xc0, 0x00], setup: (cpu) => build32(cpu) });
    expect(r.reg("rip")).toBe(stubRip(14));
    expect(fault32(r)).toEqual({ vector: 14, errorCode: 0, rip: BigInt(CODE), cr2: 0xc00abc });
    // 4-byte frame: error code, EIP, CS, EFLAGS
    expect(r.reg("rsp")).toBe(BigInt(0x80000 - 16));
  });

  it("not-present PTE on a write: error 2", () => {
    // movl $0x11223344,0x400010 ... use page 0 of PT32B (not present)
    // movl $0x11223344,0x400010 : c7 05 10 00 40 00 44 33 22 11
    const r = runCode({
      mode: 32, code: [0xc7, 0x05, 0x10, 0x00, 0x40, 0x00, 0x44, 0x33, 0x22, 0x11], setup: (cpu) => build32(cpu),
    });
    expect(fault32(r)).toEqual({ vector: 14, errorCode: 2, rip: BigInt(CODE), cr2: 0x400010 });
  });

  it("no I/D bit for a fetch fault in 32-bit paging without SMEP", () => {
    // mov $0xc00000,%eax; jmp *%eax
    const r = runCode({ mode: 32, code: [0xb8, 0x00, 0x00, 0xc0, 0x00, 0xff, 0xe0], setup: (cpu) => build32(cpu) });
    expect(fault32(r)).toEqual({ vector: 14, errorCode: 0, rip: 0xc00000n, cr2: 0xc00000 });
  });

  it("bit 21 of a 4 MiB PDE is reserved (MAXPHYADDR < 40): error 9", () => {
    // mov 0x801234,%eax
    const r = runCode({
      mode: 32, code: [0xa1, 0x34, 0x12, 0x80, 0x00],
      setup: (cpu) => { build32(cpu); cpu.mem.dv.setUint32(PD32 + 8, 0xc00000 | 0x87 | (1 << 21), true); },
    });
    expect(fault32(r)).toEqual({ vector: 14, errorCode: 9, rip: BigInt(CODE), cr2: 0x801234 });
  });

  it("write to a read-only PTE with WP=1: error 3", () => {
    const r = runCode({
      mode: 32, code: [0xc7, 0x05, 0x34, 0x12, 0x40, 0x00, 0x44, 0x33, 0x22, 0x11],
      setup: (cpu) => { build32(cpu); cpu.mem.dv.setUint32(PT32B + 4, 0x301000 | 5, true); },
    });
    expect(fault32(r)).toEqual({ vector: 14, errorCode: 3, rip: BigInt(CODE), cr2: 0x401234 });
  });

  it("with CR4.PSE=0 the PS bit is ignored: the PDE points to a page table", () => {
    // mov 0x801234,%eax — PDE[2] = 0xc00087 is now a page-table pointer at 0xc00000
    const r = runCode({
      mode: 32, code: [0xa1, 0x34, 0x12, 0x80, 0x00],
      setup: (cpu) => {
        build32(cpu, false);
        cpu.mem.dv.setUint32(0xc00000 + 4, 0x305000 | 7, true); // PTE 1 of that "table"
        cpu.mem.dv.setUint32(0x305234, 0x600d, true);
      },
    });
    expect(r.stop.reason).toBe("halt");
    expect(r.reg("rax")).toBe(0x600dn);
  });
});
