// INS and OUTS with REP (SDM Vol. 2): ports through the bus, memory through paging, DF stepping.
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";

describe("INS / OUTS", () => {
  it("rep outsb writes three bytes to port DX; rep insw reads two words into ES:RDI", () => {
    const outs: Array<[number, number, number]> = [];
    let next = 0x1234;
    const io = {
      in: (port: number, size: 1 | 2 | 4) => { expect([port, size]).toEqual([0x60, 2]); return next++; },
      out: (port: number, size: 1 | 2 | 4, value: number) => { outs.push([port, size, value]); },
    };
    // mov $0x80,%dx; mov $3,%ecx; rep outsb; mov $0x60,%dx; mov $2,%ecx; rep insw
    const r = runCode({
      code: [0x66, 0xba, 0x80, 0x00, 0xb9, 0x03, 0x00, 0x00, 0x00, 0xf3, 0x6e,
        0x66, 0xba, 0x60, 0x00, 0xb9, 0x02, 0x00, 0x00, 0x00, 0x66, 0xf3, 0x6d],
      regs: { rsi: 0x200000n, rdi: 0x201000n },
      mem: [{ addr: 0x200000, bytes: [0x11, 0x22, 0x33] }],
      io,
    });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(outs).toEqual([[0x80, 1, 0x11], [0x80, 1, 0x22], [0x80, 1, 0x33]]);
    expect(Array.from(r.mem(0x201000, 4))).toEqual([0x34, 0x12, 0x35, 0x12]);
    expect(r.reg("rsi")).toBe(0x200003n);
    expect(r.reg("rdi")).toBe(0x201004n);
    expect(r.reg("rcx")).toBe(0n);
  });
});
