// The port 0xE9 debug console (Bochs and QEMU's debugcon): bytes written go to a sink.
import type { PortDevice } from "../ioports.js";

export const DEBUGCON_PORT = 0xe9;

export class DebugCon implements PortDevice {
  readonly name = "debugcon";
  constructor(private readonly sink: (byte: number) => void) {}
  // Reading 0xE9 returns 0xE9, which is how guests detect the Bochs/QEMU debug port.
  in(): number { return 0xe9; }
  out(_offset: number, _size: number, value: number): void { this.sink(value & 0xff); }
}
