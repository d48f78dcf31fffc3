// A 16550 UART (COM1 at 0x3F8): THR writes go to the output sink; LSR always reports the
// transmitter empty because guests poll it; the other registers hold what the guest wrote.
import type { PortDevice } from "../ioports.js";

export const enum UartReg { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 }
const enum Lsr { THRE = 0x20, TEMT = 0x40 }
const LCR_DLAB = 0x80;

export class Uart16550 implements PortDevice {
  readonly name = "16550 UART";
  private ier = 0; private lcr = 0; private mcr = 0; private scr = 0; private fcr = 0;
  private dll = 0x0c; private dlm = 0;
  bytesOut = 0;

  constructor(private readonly sink: (byte: number) => void) {}

  in(offset: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case UartReg.RBR_THR: return dlab ? this.dll : 0; // no input: the receive buffer is empty
      case UartReg.IER: return dlab ? this.dlm : this.ier;
      case UartReg.IIR_FCR: return (this.fcr & 1 ? 0xc0 : 0) | 0x01; // no interrupt pending
      case UartReg.LCR: return this.lcr;
      case UartReg.MCR: return this.mcr;
      case UartReg.LSR: return Lsr.THRE | Lsr.TEMT;
      case UartReg.MSR: return 0xb0; // DCD, DSR, CTS asserted
      default: return this.scr;
    }
  }

  out(offset: number, _size: number, value: number): void {
    value &= 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case UartReg.RBR_THR:
        if (dlab) this.dll = value;
        else { this.bytesOut++; this.sink(value); }
        return;
      case UartReg.IER: if (dlab) this.dlm = value; else this.ier = value & 0x0f; return;
      case UartReg.IIR_FCR: this.fcr = value; return;
      case UartReg.LCR: this.lcr = value; return;
      case UartReg.MCR: this.mcr = value & 0x1f; return;
      case UartReg.SCR: this.scr = value; return;
      default: return; // LSR and MSR are read-only
    }
  }
}
