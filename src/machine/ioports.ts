// The PC I/O port space: devices claim port ranges; unclaimed ports read as all-ones and ignore
// writes, as on a PC bus, and are counted for --stats.
import type { PortBus } from "../cpu/cpu.js";

export interface PortDevice {
  readonly name: string;
  /** `offset` is relative to the claimed base. */
  in(offset: number, size: 1 | 2 | 4): number;
  out(offset: number, size: 1 | 2 | 4, value: number): void;
}

export class IoBus implements PortBus {
  private readonly devices: Array<PortDevice | undefined> = new Array(0x10000).fill(undefined);
  private readonly bases = new Int32Array(0x10000);
  /** Unclaimed ports touched by the guest: port -> access count. */
  readonly unclaimed = new Map<number, number>();

  claim(base: number, count: number, dev: PortDevice): void {
    for (let p = base; p < base + count; p++) {
      const other = this.devices[p];
      if (other) throw new Error(`port 0x${p.toString(16)} claimed by both ${other.name} and ${dev.name}`);
      this.devices[p] = dev;
      this.bases[p] = base;
    }
  }

  in(port: number, size: 1 | 2 | 4): number {
    const d = this.devices[port];
    if (d) return d.in(port - this.bases[port], size);
    this.unclaimed.set(port, (this.unclaimed.get(port) ?? 0) + 1);
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  out(port: number, size: 1 | 2 | 4, value: number): void {
    const d = this.devices[port];
    if (d) { d.out(port - this.bases[port], size, value); return; }
    this.unclaimed.set(port, (this.unclaimed.get(port) ?? 0) + 1);
  }
}
