// The public API of the hyperstep package.
export { Machine, DEFAULT_MEM_MIB, exitStatusOf } from "./machine/machine.js";
export type { MachineOptions, LoadOptions, RunResult, ByteSink } from "./machine/machine.js";
export { ExitStatus } from "./machine/exit-status.js";
export { LoadError } from "./machine/loaders/image.js";
export type { LoadedImage, Segment } from "./machine/loaders/image.js";
export { Cpu } from "./cpu/cpu.js";
export { Executor } from "./cpu/exec.js";
export { Fault, Stop } from "./cpu/fault.js";
export { PhysicalMemory } from "./mem/physical.js";
export { disassemble } from "./debug/disasm.js";
