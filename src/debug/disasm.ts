// Disassembly through iced-x86's formatter, for traces, reports and debuggers.
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from "iced-x86";
import type { Cpu } from "../cpu/cpu.js";
import { Access } from "../mem/paging.js";

export type Syntax = "gas" | "intel" | "nasm" | "masm";
const SYNTAX: Record<Syntax, FormatterSyntax> = {
  gas: FormatterSyntax.Gas, intel: FormatterSyntax.Intel, nasm: FormatterSyntax.Nasm, masm: FormatterSyntax.Masm,
};
const formatters = new Map<Syntax, Formatter>();

function formatter(syntax: Syntax): Formatter {
  let f = formatters.get(syntax);
  if (!f) {
    f = new Formatter(SYNTAX[syntax]);
    f.firstOperandCharIndex = 8;
    formatters.set(syntax, f);
  }
  return f;
}

export interface Disassembled { rip: number; bytes: Uint8Array; text: string; length: number }

/** Disassemble one instruction from `bytes` as if it sat at linear address `rip`. */
export function disassemble(bytes: Uint8Array, rip: number, bitness: 16 | 32 | 64, syntax: Syntax = "gas"): Disassembled {
  const d = new Decoder(bitness, bytes, DecoderOptions.None);
  d.ip = BigInt.asUintN(64, BigInt(rip));
  const ins = d.decode();
  try {
    const text = ins.isInvalid ? "(bad)" : formatter(syntax).format(ins);
    const length = ins.isInvalid ? 1 : ins.length;
    return { rip, bytes: bytes.slice(0, length), text, length };
  } finally {
    ins.free();
    d.free();
  }
}

/** Read up to 15 code bytes at `rip` without faulting: stops at the first unmapped byte. */
export function readCode(cpu: Cpu, rip: number): Uint8Array {
  const out: number[] = [];
  for (let k = 0; k < 15; k++) {
    try { out.push(cpu.mem.read8(cpu.mmu.translate(rip + k, Access.FETCH, false))); } catch { break; }
  }
  return Uint8Array.from(out);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

export function hexAddr(v: number): string {
  return "0x" + BigInt.asUintN(64, BigInt(v)).toString(16);
}

/** "RIP 0x1234 (bytes 0f 0b: ud2)", for error reports. */
export function describeCode(cpu: Cpu, rip: number): string {
  const bytes = readCode(cpu, rip);
  if (bytes.length === 0) return `RIP ${hexAddr(rip)} (code not readable)`;
  const d = disassemble(bytes, rip, cpu.mode);
  return `RIP ${hexAddr(rip)} (bytes ${hex(d.bytes)}: ${d.text})`;
}
