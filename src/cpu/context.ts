// What an instruction compiler sees: the decoded instruction and the CPU it compiles for.
import type { Instruction } from "iced-x86";
import type { Cpu } from "./cpu.js";
import type { LazyFlags } from "./flags.js";
import type { Mmu } from "../mem/mmu.js";

/** A compiled instruction. It reads and writes CPU state and throws Fault for exceptions. */
export type Op = () => void;

export interface Ctx {
  readonly cpu: Cpu;
  readonly mmu: Mmu;
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly f: LazyFlags;
  /** Code size of the mode being compiled for. */
  readonly mode: 16 | 32 | 64;
  /** Stack-pointer width of the mode being compiled for. */
  readonly stackBits: 16 | 32 | 64;
  /** The iced-x86 instruction; valid only while compiling. */
  readonly ins: Instruction;
  /** Linear address of this instruction and of the next one. */
  readonly rip: number;
  readonly next: number;
}

/** Compiles one instruction. Returning undefined means "not implemented": the op raises #UD. */
export type Compiler = (c: Ctx) => Op | undefined;
export type CompilerTable = Map<number, Compiler>;
