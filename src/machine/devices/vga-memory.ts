// The legacy VGA window 0xA0000-0xBFFFF as plain memory, so text-mode writes to 0xB8000 land
// somewhere inspectable. It is an MMIO region: loaders must not put a kernel there.
import type { MmioDevice } from "../../mem/physical.js";

export const VGA_BASE = 0xa0000;
export const VGA_SIZE = 0x20000;

export class VgaMemory implements MmioDevice {
  readonly name = "VGA memory";
  readonly bytes = new Uint8Array(VGA_SIZE);
  private readonly dv = new DataView(this.bytes.buffer);
  read(offset: number, size: number): number {
    return size === 1 ? this.bytes[offset] : size === 2 ? this.dv.getUint16(offset, true) : this.dv.getUint32(offset, true);
  }
  write(offset: number, size: number, value: number): void {
    if (size === 1) this.bytes[offset] = value;
    else if (size === 2) this.dv.setUint16(offset, value, true);
    else this.dv.setUint32(offset, value >>> 0, true);
  }
  /** The text screen as lines of characters (80x25 at 0xB8000). */
  text(): string[] {
    const lines: string[] = [];
    for (let row = 0; row < 25; row++) {
      let s = "";
      for (let col = 0; col < 80; col++) s += String.fromCharCode(this.bytes[0x18000 + (row * 80 + col) * 2] || 0x20);
      lines.push(s.replace(/\s+$/, ""));
    }
    return lines;
  }
}
