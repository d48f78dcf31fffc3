// Guest linear memory access: a direct-mapped TLB in front of the paging walker.
// The hit path is a tag compare and a DataView access; everything else is the slow path.
import { Cr0, Efer } from "../cpu/control-regs.js";
import { CanonicalFault } from "../cpu/fault.js";
import { Access, isCanonical, walk, type PagingRegs } from "./paging.js";
import type { PhysicalMemory } from "./physical.js";

const TLB_SIZE = 4096;
const TLB_MASK = TLB_SIZE - 1;
const INV_PAGE = 1 / 4096;

export interface MmuHost extends PagingRegs {
  /** Current privilege level: 3 makes data accesses user-mode accesses. */
  cpl: number;
}

export class Mmu {
  readonly mem: PhysicalMemory;
  private readonly dv: DataView;
  private readonly u8: Uint8Array;
  // Tags are linear page numbers (NaN when empty); deltas turn a linear address into a RAM offset.
  private readonly rTag = new Float64Array(TLB_SIZE).fill(NaN);
  private readonly rAdd = new Float64Array(TLB_SIZE);
  private readonly wTag = new Float64Array(TLB_SIZE).fill(NaN);
  private readonly wAdd = new Float64Array(TLB_SIZE);
  // Slots filled since the last flush, so a flush touches only those: VM entries and exits
  // flush on every transition, and a guest between two exits touches a handful of pages.
  private readonly rUsed = new Int32Array(TLB_SIZE);
  private readonly wUsed = new Int32Array(TLB_SIZE);
  private nrUsed = 0;
  private nwUsed = 0;
  /** High dword of the last 64-bit read. */
  hi = 0;
  /** Bumped on every flush, so that users of translations (the block cache) know to drop them. */
  epoch = 0;
  stats = { misses: 0, flushes: 0 };

  constructor(mem: PhysicalMemory, private readonly host: MmuHost) {
    this.mem = mem;
    this.dv = mem.dv;
    this.u8 = mem.u8;
  }

  flush(): void {
    // More fills than slots (slots emptied and refilled by dropWritesTo): clear everything.
    if (this.nrUsed > TLB_SIZE) this.rTag.fill(NaN);
    else for (let k = 0; k < this.nrUsed; k++) this.rTag[this.rUsed[k]] = NaN;
    if (this.nwUsed > TLB_SIZE) this.wTag.fill(NaN);
    else for (let k = 0; k < this.nwUsed; k++) this.wTag[this.wUsed[k]] = NaN;
    this.nrUsed = 0;
    this.nwUsed = 0;
    this.epoch++;
    this.stats.flushes++;
  }

  /** INVLPG. A large page covers many slots, so drop everything: flushing more is always allowed. */
  flushPage(_la: number): void {
    this.flush();
  }

  /** Forget writable translations of a physical page that now holds cached code. */
  dropWritesTo(physPage: number): void {
    for (let i = 0; i < TLB_SIZE; i++) {
      const t = this.wTag[i];
      if (t === t && Math.floor((t * 4096 + this.wAdd[i]) * INV_PAGE) === physPage) this.wTag[i] = NaN;
    }
  }

  /** Translate for an access by the current CPL; throws #PF or #GP. */
  translate(la: number, access: Access, user = this.host.cpl === 3): number {
    const h = this.host;
    if ((h.efer & Efer.LMA) !== 0) {
      if (!isCanonical(la)) throw new CanonicalFault(la);
    } else {
      la = la >>> 0;
    }
    if ((h.cr0 & Cr0.PG) === 0) return la;
    this.stats.misses++;
    return walk(this.mem, h, la, access, user).pa;
  }

  private fill(la: number, access: Access): number {
    const pa = this.translate(la, access);
    const page = Math.floor(la * INV_PAGE);
    const ppage = Math.floor(pa * INV_PAGE);
    if (this.mem.isRamPage(ppage)) {
      const i = page & TLB_MASK;
      const delta = ppage * 4096 - page * 4096;
      if (access === Access.WRITE) {
        if (this.mem.codePages[ppage] === 0) {
          if (this.wTag[i] !== this.wTag[i]) { if (this.nwUsed < TLB_SIZE) this.wUsed[this.nwUsed] = i; this.nwUsed++; }
          this.wTag[i] = page; this.wAdd[i] = delta;
        }
      } else {
        if (this.rTag[i] !== this.rTag[i]) { if (this.nrUsed < TLB_SIZE) this.rUsed[this.nrUsed] = i; this.nrUsed++; }
        this.rTag[i] = page; this.rAdd[i] = delta;
      }
    }
    return pa;
  }

  // ---- reads ----
  rd8(la: number): number {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.rTag[i] === page) return this.u8[la + this.rAdd[i]];
    return this.mem.read8(this.fill(la, Access.READ));
  }
  rd16(la: number): number {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.rTag[i] === page && (la & 0xfff) !== 0xfff) return this.dv.getUint16(la + this.rAdd[i], true);
    return this.rdSlow(la, 2);
  }
  /** Returns the dword as an int32. */
  rd32(la: number): number {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.rTag[i] === page && (la & 0xfff) <= 0xffc) return this.dv.getInt32(la + this.rAdd[i], true);
    return this.rdSlow(la, 4);
  }
  /** Returns the low dword (int32); the high dword is left in `hi`. */
  rd64(la: number): number {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.rTag[i] === page && (la & 0xfff) <= 0xff8) {
      const a = la + this.rAdd[i];
      this.hi = this.dv.getInt32(a + 4, true);
      return this.dv.getInt32(a, true);
    }
    const lo = this.rdSlow(la, 4);
    this.hi = this.rdSlow(la + 4, 4);
    return lo;
  }

  private rdSlow(la: number, size: number): number {
    if (((la & 0xfff) + size) > 4096) {
      // Split across pages: translate both before reading, so a fault leaves nothing half done.
      let v = 0;
      for (let k = 0; k < size; k++) this.fillOnly(la + k, Access.READ);
      for (let k = size - 1; k >= 0; k--) v = (v << 8) | this.rd8(la + k);
      return size === 4 ? v | 0 : v >>> 0;
    }
    const pa = this.fill(la, Access.READ);
    return size === 2 ? this.mem.read16(pa) : this.mem.read32(pa);
  }

  private fillOnly(la: number, access: Access): void {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    const tag = access === Access.WRITE ? this.wTag : this.rTag;
    if (tag[i] !== page) this.translate(la, access);
  }

  // ---- writes ----
  wr8(la: number, v: number): void {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.wTag[i] === page) { this.u8[la + this.wAdd[i]] = v; return; }
    this.mem.write8(this.fill(la, Access.WRITE), v & 0xff);
  }
  wr16(la: number, v: number): void {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.wTag[i] === page && (la & 0xfff) !== 0xfff) { this.dv.setUint16(la + this.wAdd[i], v, true); return; }
    this.wrSlow(la, 2, v, 0);
  }
  wr32(la: number, v: number): void {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.wTag[i] === page && (la & 0xfff) <= 0xffc) { this.dv.setInt32(la + this.wAdd[i], v, true); return; }
    this.wrSlow(la, 4, v, 0);
  }
  wr64(la: number, lo: number, hi: number): void {
    const page = Math.floor(la * INV_PAGE);
    const i = page & TLB_MASK;
    if (this.wTag[i] === page && (la & 0xfff) <= 0xff8) {
      const a = la + this.wAdd[i];
      this.dv.setInt32(a, lo, true);
      this.dv.setInt32(a + 4, hi, true);
      return;
    }
    this.wrSlow(la, 8, lo, hi);
  }

  private wrSlow(la: number, size: number, lo: number, hi: number): void {
    // Check every byte's translation first: a faulting write must change nothing.
    if (((la & 0xfff) + size) > 4096) {
      for (let k = 0; k < size; k++) this.fillOnly(la + k, Access.WRITE);
      for (let k = 0; k < size; k++) {
        const byte = k < 4 ? (lo >>> (8 * k)) & 0xff : (hi >>> (8 * (k - 4))) & 0xff;
        this.mem.write8(this.fill(la + k, Access.WRITE), byte);
      }
      return;
    }
    const pa = this.fill(la, Access.WRITE);
    if (size === 2) this.mem.write16(pa, lo & 0xffff);
    else if (size === 4) this.mem.write32(pa, lo);
    else { this.mem.write32(pa, lo); this.mem.write32(pa + 4, hi); }
  }

  /** Linear read without side effects on guest-visible state beyond A bits; for debuggers and decoders. */
  readBytes(la: number, len: number, access: Access = Access.READ): Uint8Array {
    const out = new Uint8Array(len);
    for (let k = 0; k < len; k++) out[k] = this.mem.read8(this.translate(la + k, access));
    return out;
  }

}
