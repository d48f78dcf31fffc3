// Linear-to-physical translation (SDM Vol. 3, chapter 4): 32-bit, PAE and 4-level paging.
import { Cr0, Cr4, Efer } from "../cpu/control-regs.js";
import { Fault, Vec } from "../cpu/fault.js";
import type { PhysicalMemory } from "./physical.js";

export const enum Access { READ = 0, WRITE = 1, FETCH = 2 }

/** Page-fault error-code bits (SDM Vol. 3, 4.7). */
export const enum PfErr { P = 1, W = 2, U = 4, RSVD = 8, ID = 16, PK = 32 }

/** Page-table entry bits shared by every paging mode. */
export const enum Pte { P = 1, RW = 2, US = 4, PWT = 8, PCD = 16, A = 32, D = 64, PS = 128, G = 256 }

/** MAXPHYADDR of the CPU model; CPUID 0x80000008 reports it. */
export const MAX_PHYS_BITS = 39;
export const LINEAR_BITS = 48;
/** Linear addresses are canonical in [-CANONICAL_LIMIT, CANONICAL_LIMIT) (SDM Vol. 1, 3.3.7.1). */
export const CANONICAL_LIMIT = 2 ** (LINEAR_BITS - 1);
/** `v` is a signed value (as the interpreter keeps 64-bit addresses); exact for canonical ones. */
export function isCanonical(v: number): boolean { return v >= -CANONICAL_LIMIT && v < CANONICAL_LIMIT; }
/** Bits 51:MAXPHYADDR of an entry's high dword are reserved. */
const HI_RSVD = (0x000fffff & ~((1 << (MAX_PHYS_BITS - 32)) - 1)) >>> 0;
const TWO32 = 4294967296;

export interface PagingRegs {
  cr0: number; cr3: number; cr4: number; efer: number;
  /**
   * PAE paging's four PDPTEs as lo/hi dword pairs: the processor loads them on MOV CR3 and on
   * the paging-mode switches that enter PAE paging (and VM entry), not on each walk (SDM 4.4.1).
   */
  pdpte: Int32Array;
}

/** Load the PDPTEs for PAE paging from CR3; false when one is present with reserved bits set. */
export function loadPdptes(mem: PhysicalMemory, regs: PagingRegs): boolean {
  const base = (regs.cr3 & 0xffffffe0) >>> 0;
  const vals = new Int32Array(8);
  for (let i = 0; i < 4; i++) {
    const l = mem.read32(base + i * 8), h = mem.read32(base + i * 8 + 4);
    if ((l & Pte.P) && ((l & 0x1e6) !== 0 || (h & HI_RSVD) !== 0)) return false;
    vals[2 * i] = l; vals[2 * i + 1] = h;
  }
  regs.pdpte.set(vals);
  return true;
}

export interface WalkResult {
  /** Physical address of the translated byte. */
  pa: number;
  /** Size of the mapping: 4 KiB, 2/4 MiB or 1 GiB. */
  pageSize: number;
  /** Entries walked, for explanations: [level name, entry address, entry value]. */
  steps?: Array<[string, number, bigint]>;
}

/**
 * Walk the paging structures for `la`. Throws a #PF Fault; on success sets the accessed bits and,
 * for writes, the dirty bit, as the SDM requires.
 */
export function walk(mem: PhysicalMemory, regs: PagingRegs, la: number, access: Access, user: boolean,
  explain = false): WalkResult {
  const { cr0, cr4, efer } = regs;
  const write = access === Access.WRITE;
  const fetch = access === Access.FETCH;
  const steps: Array<[string, number, bigint]> | undefined = explain ? [] : undefined;
  const fail = (present: boolean, rsvd: boolean, pae: boolean): never => {
    let code = (present ? PfErr.P : 0) | (write ? PfErr.W : 0) | (user ? PfErr.U : 0) | (rsvd ? PfErr.RSVD : 0);
    if (fetch && ((pae && (efer & Efer.NXE) !== 0) || (cr4 & Cr4.SMEP) !== 0)) code |= PfErr.ID;
    throw new Fault(Vec.PF, code, la);
  };

  if ((cr4 & Cr4.PAE) === 0) {
    // 32-bit paging.
    const lin = la >>> 0;
    const pdeAddr = (regs.cr3 & 0xfffff000) + ((lin >>> 22) << 2);
    const pde = mem.read32(pdeAddr);
    steps?.push(["PDE", pdeAddr, BigInt(pde >>> 0)]);
    if ((pde & Pte.P) === 0) fail(false, false, false);
    if ((pde & Pte.PS) !== 0 && (cr4 & Cr4.PSE) !== 0) {
      if ((pde & 0x003fe000) !== 0) fail(true, true, false);
      checkPerm(pde, pde, 0, cr0, cr4, user, write, fetch, false, () => fail(true, false, false));
      setAccessed(mem, pdeAddr, pde, write);
      return { pa: ((pde & 0xffc00000) >>> 0) + (lin & 0x3fffff), pageSize: 4 << 20, steps };
    }
    const pteAddr = ((pde & 0xfffff000) >>> 0) + (((lin >>> 12) & 0x3ff) << 2);
    const pte = mem.read32(pteAddr);
    steps?.push(["PTE", pteAddr, BigInt(pte >>> 0)]);
    if ((pte & Pte.P) === 0) fail(false, false, false);
    checkPerm(pde & pte, pde & pte, 0, cr0, cr4, user, write, fetch, false, () => fail(true, false, false));
    setAccessed(mem, pdeAddr, pde, false);
    setAccessed(mem, pteAddr, pte, write);
    return { pa: ((pte & 0xfffff000) >>> 0) + (lin & 0xfff), pageSize: 4096, steps };
  }

  const nxe = (efer & Efer.NXE) !== 0;
  const hi = Math.floor(la / TWO32);
  const lo = la >>> 0;
  const rsvdHi = HI_RSVD | (nxe ? 0 : 0x80000000);
  let table: number;
  // Levels from the top: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT. Scratch arrays, not allocations:
  // walks are frequent (every TLB refill) and never nested.
  let level: number;
  if ((efer & Efer.LMA) !== 0) {
    table = (Math.floor(regs.cr3 / TWO32) & 0xfffff) * TWO32 + ((regs.cr3 & 0xfffff000) >>> 0);
    level = 4;
  } else {
    // PAE paging: the PDPTE the processor loaded with CR3 (the table in memory is not re-read).
    const k = lo >>> 30;
    const pl = regs.pdpte[2 * k], ph = regs.pdpte[2 * k + 1];
    steps?.push(["PDPTE (loaded)", ((regs.cr3 & 0xffffffe0) >>> 0) + k * 8, (BigInt(ph >>> 0) << 32n) | BigInt(pl >>> 0)]);
    if ((pl & Pte.P) === 0) fail(false, false, true);
    table = (ph & 0xfffff) * TWO32 + ((pl & 0xfffff000) >>> 0);
    level = 2;
  }
  let allRw = Pte.RW, allUs = Pte.US, anyNx = 0, n = 0;
  for (; level >= 1; level--) {
    const index = level === 4 ? (hi >>> 7) & 511 : level === 3 ? ((hi & 0x7f) << 2) | (lo >>> 30)
      : level === 2 ? (lo >>> 21) & 511 : (lo >>> 12) & 511;
    const ea = table + index * 8;
    const el = mem.read32(ea), eh = mem.read32(ea + 4);
    steps?.push([LEVEL_NAMES[level], ea, (BigInt(eh >>> 0) << 32n) | BigInt(el >>> 0)]);
    if ((el & Pte.P) === 0) fail(false, false, true);
    if ((eh & rsvdHi) !== 0) fail(true, true, true);
    const leaf = level === 1 || (el & Pte.PS) !== 0;
    if ((el & Pte.PS) !== 0) {
      if (level === 4) fail(true, true, true);
      if (level === 3 && (el & 0x3fffe000) !== 0) fail(true, true, true);
      if (level === 2 && (el & 0x001fe000) !== 0) fail(true, true, true);
    }
    allRw &= el; allUs &= el; anyNx |= eh >>> 31;
    WALK_ADDRS[n] = ea; WALK_LOS[n] = el; n++;
    const base = (eh & 0xfffff) * TWO32 + ((el & 0xfffff000) >>> 0);
    if (leaf) {
      checkPerm(allRw, allUs, nxe ? anyNx : 0, cr0, cr4, user, write, fetch, true, () => fail(true, false, true));
      for (let i = 0; i < n; i++) setAccessed(mem, WALK_ADDRS[i], WALK_LOS[i], write && i === n - 1);
      const size = level === 3 ? 1 << 30 : level === 2 ? 1 << 21 : 4096;
      const pageBase = size === 4096 ? base : base - (base % size);
      const off = size === 1 << 30 ? lo & 0x3fffffff : size === 1 << 21 ? lo & 0x1fffff : lo & 0xfff;
      return { pa: pageBase + off, pageSize: size, steps };
    }
    table = base;
  }
  throw new Error("unreachable: paging walk without a leaf");
}

const LEVEL_NAMES = ["", "PTE", "PDE", "PDPTE", "PML4E"];
const WALK_ADDRS = new Float64Array(4);
const WALK_LOS = new Int32Array(4);

function checkPerm(rw: number, us: number, nx: number, cr0: number, cr4: number, user: boolean,
  write: boolean, fetch: boolean, _pae: boolean, fault: () => never): void {
  const userPage = (us & Pte.US) !== 0;
  if (user) {
    if (!userPage) fault();
    if (write && (rw & Pte.RW) === 0) fault();
  } else {
    if (write && (rw & Pte.RW) === 0 && (cr0 & Cr0.WP) !== 0) fault();
    if (fetch && userPage && (cr4 & Cr4.SMEP) !== 0) fault();
  }
  if (fetch && nx) fault();
}

function setAccessed(mem: PhysicalMemory, addr: number, entry: number, dirty: boolean): void {
  const want = entry | Pte.A | (dirty ? Pte.D : 0);
  if (want !== entry) mem.write32(addr, want);
}
