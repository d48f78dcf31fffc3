// QEMU's isa-debug-exit (iobase 0xF4, iosize 4): writing v ends the run with status (v << 1) | 1.
import { Stop } from "../../cpu/fault.js";
import type { PortDevice } from "../ioports.js";

export const DEBUG_EXIT_PORT = 0xf4;

export class DebugExit implements PortDevice {
  readonly name = "isa-debug-exit";
  in(): number { return 0xffffffff; }
  out(_offset: number, _size: number, value: number): void {
    const status = (value >>> 0) * 2 + 1;
    throw new Stop("exit-device", `guest wrote 0x${(value >>> 0).toString(16)} to isa-debug-exit`, status);
  }
}
