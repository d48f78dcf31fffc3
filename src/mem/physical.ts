// Guest physical address space: one ArrayBuffer of RAM from address 0, plus MMIO regions.
// Unbacked addresses read as all-ones and ignore writes, as on a PC bus.

export interface MmioDevice {
  readonly name: string;
  /** `size` is 1, 2 or 4; `offset` is relative to the region base. */
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface MmioRegion {
  readonly base: number;
  readonly size: number;
  readonly device: MmioDevice;
}

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

export class PhysicalMemory {
  readonly ram: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly ramSize: number;
  readonly mmio: MmioRegion[] = [];
  /** Per RAM page: 1 when the decode cache holds code from it. */
  readonly codePages: Uint8Array;
  /** Called for a write that touches a code page (self-modifying code). */
  onCodeWrite: (pa: number, len: number) => void = () => {};
  /** Set when the RAM-only fast path may not cover a page (MMIO inside RAM). */
  private readonly mmioPages: Uint8Array;

  constructor(ramBytes: number) {
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`RAM size must be a positive multiple of 4 KiB, got ${ramBytes}`);
    }
    this.ram = new ArrayBuffer(ramBytes);
    this.u8 = new Uint8Array(this.ram);
    this.dv = new DataView(this.ram);
    this.ramSize = ramBytes;
    this.codePages = new Uint8Array(ramBytes / PAGE_SIZE);
    this.mmioPages = new Uint8Array(ramBytes / PAGE_SIZE);
  }

  addMmio(base: number, size: number, device: MmioDevice): void {
    for (const r of this.mmio) {
      if (base < r.base + r.size && r.base < base + size) {
        throw new RangeError(`MMIO region ${device.name} overlaps ${r.device.name}`);
      }
    }
    this.mmio.push({ base, size, device });
    for (let p = Math.floor(base / PAGE_SIZE); p * PAGE_SIZE < base + size; p++) {
      if (p < this.mmioPages.length) this.mmioPages[p] = 1;
    }
  }

  findMmio(pa: number): MmioRegion | undefined {
    for (const r of this.mmio) if (pa >= r.base && pa < r.base + r.size) return r;
    return undefined;
  }

  /** The MMIO region overlapping [pa, pa+len), if any. */
  overlapsMmio(pa: number, len: number): MmioRegion | undefined {
    for (const r of this.mmio) if (pa < r.base + r.size && r.base < pa + len) return r;
    return undefined;
  }

  /** True when the whole page is plain RAM, so a TLB entry may point straight at it. */
  isRamPage(page: number): boolean {
    return page >= 0 && page < this.mmioPages.length && this.mmioPages[page] === 0;
  }

  read8(pa: number): number {
    if (pa < this.ramSize && this.mmioPages[pa >>> PAGE_SHIFT] === 0) return this.u8[pa];
    return this.readSlow(pa, 1);
  }
  read16(pa: number): number {
    if (pa + 1 < this.ramSize && (pa & 0xfff) !== 0xfff && this.mmioPages[pa >>> PAGE_SHIFT] === 0) return this.dv.getUint16(pa, true);
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }
  read32(pa: number): number {
    if (pa + 3 < this.ramSize && (pa & 0xfff) <= 0xffc && this.mmioPages[pa >>> PAGE_SHIFT] === 0) return this.dv.getInt32(pa, true);
    if ((pa & 3) === 0) { const r = this.findMmio(pa); if (r) return r.device.read(pa - r.base, 4) | 0; }
    return (this.read16(pa) | (this.read16(pa + 2) << 16)) | 0;
  }

  write8(pa: number, v: number): void {
    if (pa < this.ramSize && this.mmioPages[pa >>> PAGE_SHIFT] === 0) {
      this.u8[pa] = v;
      if (this.codePages[pa >>> PAGE_SHIFT]) this.onCodeWrite(pa, 1);
      return;
    }
    this.writeSlow(pa, 1, v);
  }
  write16(pa: number, v: number): void {
    if (pa + 1 < this.ramSize && (pa & 0xfff) !== 0xfff && this.mmioPages[pa >>> PAGE_SHIFT] === 0) {
      this.dv.setUint16(pa, v, true);
      if (this.codePages[pa >>> PAGE_SHIFT]) this.onCodeWrite(pa, 2);
      return;
    }
    this.write8(pa, v & 0xff); this.write8(pa + 1, (v >>> 8) & 0xff);
  }
  write32(pa: number, v: number): void {
    if (pa + 3 < this.ramSize && (pa & 0xfff) <= 0xffc && this.mmioPages[pa >>> PAGE_SHIFT] === 0) {
      this.dv.setInt32(pa, v, true);
      if (this.codePages[pa >>> PAGE_SHIFT]) this.onCodeWrite(pa, 4);
      return;
    }
    if ((pa & 3) === 0) { const r = this.findMmio(pa); if (r) { r.device.write(pa - r.base, 4, v >>> 0); return; } }
    this.write16(pa, v & 0xffff); this.write16(pa + 2, (v >>> 16) & 0xffff);
  }

  /** Copy bytes in (loaders); no code-page checks needed before anything runs, but kept correct. */
  writeBytes(pa: number, bytes: Uint8Array): void {
    if (pa + bytes.length <= this.ramSize && !this.overlapsMmio(pa, bytes.length)) {
      this.u8.set(bytes, pa);
      for (let p = pa >>> PAGE_SHIFT; p <= (pa + bytes.length - 1) >>> PAGE_SHIFT; p++) {
        if (this.codePages[p]) { this.onCodeWrite(pa, bytes.length); break; }
      }
      return;
    }
    for (let i = 0; i < bytes.length; i++) this.write8(pa + i, bytes[i]);
  }

  readBytes(pa: number, len: number): Uint8Array {
    if (pa + len <= this.ramSize && !this.overlapsMmio(pa, len)) return this.u8.slice(pa, pa + len);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = this.read8(pa + i);
    return out;
  }

  private readSlow(pa: number, size: number): number {
    const r = this.findMmio(pa);
    if (r) return r.device.read(pa - r.base, size);
    return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
  }

  private writeSlow(pa: number, size: number, v: number): void {
    const r = this.findMmio(pa);
    if (r) r.device.write(pa - r.base, size, v);
  }
}
