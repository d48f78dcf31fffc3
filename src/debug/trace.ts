// --trace: one line per executed instruction with RIP, bytes and iced-x86 disassembly.
import type { Block } from "../cpu/block-cache.js";
import type { Cpu } from "../cpu/cpu.js";
import type { TraceHook } from "../cpu/exec.js";
import { disassemble, hex } from "./disasm.js";

export function traceHook(cpu: Cpu, write: (line: string) => void): TraceHook {
  // Disassembly is cached per block, so a loop is formatted once.
  const text = new WeakMap<Block, string[]>();
  return (b, i) => {
    let lines = text.get(b);
    if (!lines) {
      lines = b.rips.map((rip, k) => {
        const off = rip - b.la;
        const bytes = b.bytes.subarray(off, off + b.lens[k]);
        const d = disassemble(bytes, rip, cpu.mode);
        const addr = BigInt.asUintN(64, BigInt(rip)).toString(16).padStart(16, "0");
        return `${addr}  ${hex(bytes).padEnd(30)} ${d.text}\n`;
      });
      text.set(b, lines);
    }
    write(lines[i]);
  };
}
