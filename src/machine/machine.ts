// The board: RAM, the port bus and its devices, one CPU, and the run loop around it.
import { Cpu } from "../cpu/cpu.js";
import { Executor } from "../cpu/exec.js";
import type { Stop, StopReason } from "../cpu/fault.js";
import { PhysicalMemory } from "../mem/physical.js";
import { IoBus } from "./ioports.js";
import { Uart16550 } from "./devices/uart16550.js";
import { DEBUG_EXIT_PORT, DebugExit } from "./devices/debug-exit.js";
import { DEBUGCON_PORT, DebugCon } from "./devices/debugcon.js";
import { Pic8259 } from "./devices/pic.js";
import { VGA_BASE, VGA_SIZE, VgaMemory } from "./devices/vga-memory.js";
import { ExitStatus } from "./exit-status.js";
import { parseImage, type LoadedImage } from "./loaders/image.js";
import { bootLong, bootMultiboot, placeSegments } from "./boot.js";

export type ByteSink = (byte: number) => void;

export interface MachineOptions {
  /** Guest RAM in MiB (default 128). */
  memMiB?: number;
  /** COM1 output. Default: discard. */
  serial?: ByteSink;
  /** Port 0xE9 output; when absent the port is unclaimed. */
  debugcon?: ByteSink;
}

export interface LoadOptions {
  /** Multiboot command line after the kernel name (QEMU's -append). */
  append?: string;
  /** The name passed first on the command line, as QEMU passes the kernel's file name. */
  name?: string;
  loadAddr?: number;
  entry?: number;
}

export interface RunResult {
  reason: StopReason;
  message: string;
  /** The process exit status hyperstep uses for this outcome. */
  exitStatus: number;
  instructions: number;
  seconds: number;
  mips: number;
  stop: Stop;
}

export const DEFAULT_MEM_MIB = 128;

export class Machine {
  readonly mem: PhysicalMemory;
  readonly cpu: Cpu;
  readonly exec: Executor;
  readonly io = new IoBus();
  readonly uart: Uart16550;
  readonly vga = new VgaMemory();
  image: LoadedImage | undefined;

  constructor(opts: MachineOptions = {}) {
    const mib = opts.memMiB ?? DEFAULT_MEM_MIB;
    if (!Number.isInteger(mib) || mib < 2 || mib > 3072) throw new RangeError(`--mem must be an integer from 2 to 3072 MiB, got ${mib}`);
    this.mem = new PhysicalMemory(mib * 1024 * 1024);
    this.mem.addMmio(VGA_BASE, VGA_SIZE, this.vga);
    this.cpu = new Cpu(this.mem, this.io);
    this.exec = new Executor(this.cpu);
    this.uart = new Uart16550(opts.serial ?? (() => {}));
    this.io.claim(0x3f8, 8, this.uart);
    this.io.claim(DEBUG_EXIT_PORT, 4, new DebugExit());
    this.io.claim(0x20, 2, new Pic8259("master"));
    this.io.claim(0xa0, 2, new Pic8259("slave"));
    if (opts.debugcon) this.io.claim(DEBUGCON_PORT, 1, new DebugCon(opts.debugcon));
  }

  /** Parse and load a kernel image, and set the CPU's entry state. Throws LoadError. */
  load(bytes: Uint8Array, opts: LoadOptions = {}): LoadedImage {
    const img = parseImage(bytes, { loadAddr: opts.loadAddr, entry: opts.entry });
    placeSegments(this.mem, img);
    if (img.kind === "multiboot") {
      const name = opts.name ?? "kernel";
      // QEMU passes "<kernel file name> <append>", with the space even when -append is empty.
      bootMultiboot(this.cpu, img, `${name} ${opts.append ?? ""}`);
    } else {
      bootLong(this.cpu, img.entry);
    }
    this.image = img;
    return img;
  }

  /** Run until the guest stops or `maxInstructions` more instructions have retired. */
  run(opts: { maxInstructions?: number } = {}): RunResult {
    const start = this.cpu.icount;
    const limit = opts.maxInstructions === undefined ? Infinity : start + this.cpu.exceptionsDelivered + opts.maxInstructions;
    const t0 = performance.now();
    const stop = this.exec.run(limit);
    const seconds = (performance.now() - t0) / 1000;
    const instructions = this.cpu.icount - start;
    return {
      reason: stop.reason, message: stop.message, exitStatus: exitStatusOf(stop), stop,
      instructions, seconds, mips: seconds > 0 ? instructions / seconds / 1e6 : 0,
    };
  }
}

export function exitStatusOf(stop: Stop): number {
  switch (stop.reason) {
    case "exit-device": return stop.value & 0xff;
    case "halt": return ExitStatus.HALTED;
    case "triple-fault": return ExitStatus.TRIPLE_FAULT;
    case "max-insns": return ExitStatus.MAX_INSNS;
    default: return ExitStatus.INTERNAL;
  }
}
