// CMPXCHG8B and CMPXCHG16B (SDM Vol. 2): only ZF changes; a mismatch loads the old value.
import { describe, expect, it } from "vitest";
import { runCode } from "../harness.js";

// cmpxchg8b (%rdi); setz %r8b; cmpxchg16b (%rsi); setz %r9b
const CODE = [0x0f, 0xc7, 0x0f, 0x41, 0x0f, 0x94, 0xc0, 0x48, 0x0f, 0xc7, 0x0e, 0x41, 0x0f, 0x94, 0xc1];
const le64 = (v: bigint) => Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

describe("CMPXCHG8B / CMPXCHG16B", () => {
  it("equal: stores ECX:EBX, ZF=1; mismatch: loads RDX:RAX from memory, ZF=0", () => {
    const r = runCode({
      code: CODE,
      regs: { rdi: 0x200000n, rsi: 0x200010n, rax: 0x11111111n, rdx: 0x22222222n, rbx: 0x33333333n, rcx: 0x44444444n },
      mem: [
        { addr: 0x200000, bytes: le64(0x2222222211111111n) },
        { addr: 0x200010, bytes: [...le64(0xaaaan), ...le64(0xbbbbn)] },
      ],
    });
    expect(r.stop.reason, r.stop.message).toBe("halt");
    expect(r.reg("r8") & 0xffn).toBe(1n);
    expect(Array.from(r.mem(0x200000, 8))).toEqual(le64(0x4444444433333333n));
    // The 16-byte compare (RDX:RAX = 0x22222222:0x11111111) fails: RDX:RAX get the memory value.
    expect(r.reg("r9") & 0xffn).toBe(0n);
    expect(r.reg("rax")).toBe(0xaaaan);
    expect(r.reg("rdx")).toBe(0xbbbbn);
    expect(Array.from(r.mem(0x200010, 16))).toEqual([...le64(0xaaaan), ...le64(0xbbbbn)]);
  });

  it("CMPXCHG16B on a misaligned operand is #GP(0)", () => {
    const r = runCode({ code: [0x48, 0x0f, 0xc7, 0x0e], regs: { rsi: 0x200008n } });
    expect(r.fault).toEqual({ vector: 13, errorCode: 0, rip: 0x100000n });
  });
});
