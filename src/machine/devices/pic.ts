// The two 8259 PICs, as far as guests that only mask them need: the command ports accept
// initialisation words, and the data ports hold the interrupt masks. No interrupts are raised.
import type { PortDevice } from "../ioports.js";

export class Pic8259 implements PortDevice {
  readonly name: string;
  mask = 0;
  private icwStep = 0;
  constructor(which: "master" | "slave") { this.name = `8259 PIC (${which})`; }
  in(offset: number): number { return offset === 1 ? this.mask : 0; }
  out(offset: number, _size: number, value: number): void {
    value &= 0xff;
    if (offset === 0) { if (value & 0x10) this.icwStep = 1; return; } // ICW1 starts initialisation
    if (this.icwStep > 0) { this.icwStep = this.icwStep >= 3 ? 0 : this.icwStep + 1; return; }
    this.mask = value;
  }
}
