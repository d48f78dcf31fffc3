// Which segment a non-canonical access went through: #SS(0) for the stack, #GP(0) otherwise
// (SDM Vol. 3, 6.15, #SS: "a non-canonical address in a stack or SS-based memory reference").
import { Decoder, DecoderOptions, Register } from "iced-x86";
import { CanonicalFault, Fault, Vec } from "./fault.js";
import type { Cpu } from "./cpu.js";

export function refineCanonicalFault(cpu: Cpu, f: CanonicalFault, bytes: Uint8Array, rip: number): Fault {
  const d = new Decoder(cpu.mode, bytes, DecoderOptions.None);
  d.ip = BigInt.asUintN(64, BigInt(rip));
  const ins = d.decode();
  try {
    const rsp = cpu.reg(4);
    // Implicit stack accesses touch RSP-16..RSP+16; an explicit memory operand elsewhere is DS-based.
    const nearStack = f.address >= rsp - 32 && f.address <= rsp + 32;
    if ((ins.isStackInstruction && nearStack) || (ins.memorySegment === Register.SS && ins.memoryBase !== Register.None)) {
      return new Fault(Vec.SS, 0);
    }
    return new Fault(Vec.GP, 0);
  } finally {
    ins.free();
    d.free();
  }
}
