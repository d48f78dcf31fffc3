// Putting a parsed image into guest memory and setting the CPU's entry state:
// the Multiboot v1 machine state, or 64-bit mode with loader-built identity page tables.
import { Cr0, Cr4, Efer } from "../cpu/control-regs.js";
import type { Cpu } from "../cpu/cpu.js";
import { Fl } from "../cpu/flags.js";
import { Seg } from "../cpu/regs.js";
import type { PhysicalMemory } from "../mem/physical.js";
import { LoadError, type LoadedImage } from "./loaders/image.js";

export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** QEMU reserves the top 128 KiB of RAM in the Multiboot memory map. */
const RESERVED_TOP = 0x20000;

/** Multiboot information flags (Multiboot 0.6.96, section 3.3). */
export const enum MbiFlag {
  MEMORY = 1 << 0, BOOTDEV = 1 << 1, CMDLINE = 1 << 2, MODS = 1 << 3, MMAP = 1 << 6, LOADER_NAME = 1 << 9,
}

/** Low-memory layout of what the loader builds (all below the 640 KiB line, above the IVT/BDA). */
export const BOOT_LAYOUT = {
  gdt: 0x1000,
  mbi: 0x9000, cmdline: 0x9100, loaderName: 0x9500, mmap: 0x9600,
  pml4: 0x10000, pdpt: 0x11000, pd: 0x12000, // + 4 page directories
  stackTop: 0x9f000,
  lowEnd: 0x20000,
} as const;

/** Flat GDT used for every entry state: null, 0x08 64-bit code, 0x10 32-bit code, 0x18 data. */
const GDT = [0n, 0x00af9b000000ffffn, 0x00cf9b000000ffffn, 0x00cf93000000ffffn];
export const enum BootSel { CODE64 = 0x08, CODE32 = 0x10, DATA = 0x18 }

export function placeSegments(mem: PhysicalMemory, img: LoadedImage): void {
  for (const [i, s] of img.segments.entries()) {
    const end = s.addr + s.memSize;
    const range = `0x${s.addr.toString(16)}-0x${end.toString(16)}`;
    if (end > mem.ramSize) throw new LoadError(`segment ${i} at ${range} is outside RAM (${mem.ramSize >> 20} MiB; try --mem)`);
    const hole = mem.overlapsMmio(s.addr, s.memSize);
    if (hole) throw new LoadError(`segment ${i} at ${range} overlaps the MMIO hole of ${hole.device.name} at 0x${hole.base.toString(16)}-0x${(hole.base + hole.size).toString(16)}`);
    if (img.kind !== "multiboot" && s.addr < BOOT_LAYOUT.lowEnd) {
      throw new LoadError(`segment ${i} at ${range} overlaps the loader's page tables below 0x${BOOT_LAYOUT.lowEnd.toString(16)}`);
    }
    if (img.kind === "multiboot" && s.addr < 0xa000 && end > BOOT_LAYOUT.gdt) {
      throw new LoadError(`segment ${i} at ${range} overlaps the Multiboot information area 0x1000-0xa000`);
    }
  }
  for (const s of img.segments) {
    mem.writeBytes(s.addr, s.data);
    mem.u8.fill(0, s.addr + s.data.length, s.addr + s.memSize);
  }
}

function writeGdt(cpu: Cpu): void {
  GDT.forEach((d, i) => cpu.mem.dv.setBigUint64(BOOT_LAYOUT.gdt + i * 8, d, true));
  cpu.gdtrBase = BOOT_LAYOUT.gdt;
  cpu.gdtrLimit = GDT.length * 8 - 1;
  cpu.idtrBase = 0; cpu.idtrLimit = 0x3ff;
}

function writeCString(mem: PhysicalMemory, addr: number, s: string, max: number): void {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length + 1 > max) throw new LoadError(`command line longer than ${max - 1} bytes`);
  mem.u8.set(bytes, addr);
  mem.u8[addr + bytes.length] = 0;
}

/**
 * The Multiboot entry state (Multiboot 0.6.96, 3.2): EAX = 0x2BADB002, EBX = the information
 * structure, flat 32-bit segments, PE=1, PG=0, IF=0. Memory values and the memory map follow
 * QEMU's -kernel loader, so that guests print the same thing under both.
 */
export function bootMultiboot(cpu: Cpu, img: LoadedImage, cmdline: string): void {
  const mem = cpu.mem;
  const L = BOOT_LAYOUT;
  writeGdt(cpu);
  writeCString(mem, L.cmdline, cmdline, L.loaderName - L.cmdline);
  // QEMU names itself here and some kernels check it before touching QEMU-only devices.
  writeCString(mem, L.loaderName, "qemu", 0x100);
  // QEMU's map: the top 128 KiB of RAM, the BIOS ROM below 4 GiB and the 0xFD00000000 hole
  // (HyperTransport, reported for CPUs with 40+ physical address bits) are reserved.
  const top = Math.min(mem.ramSize, 0xe0000000) - RESERVED_TOP;
  const mmap: Array<[number, number, number]> = [
    [0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2], [0x100000, top - 0x100000, 1],
    [top, RESERVED_TOP, 2], [0xfffc0000, 0x40000, 2], [0xfd00000000, 0x300000000, 2],
  ];
  const dv = mem.dv;
  mmap.forEach(([base, len, type], i) => {
    const e = L.mmap + i * 24;
    dv.setUint32(e, 20, true);
    dv.setBigUint64(e + 4, BigInt(base), true);
    dv.setBigUint64(e + 12, BigInt(len), true);
    dv.setUint32(e + 20, type, true);
  });
  mem.u8.fill(0, L.mbi, L.mbi + 0x74);
  dv.setUint32(L.mbi + 0, MbiFlag.MEMORY | MbiFlag.BOOTDEV | MbiFlag.CMDLINE | MbiFlag.MODS | MbiFlag.MMAP | MbiFlag.LOADER_NAME, true);
  dv.setUint32(L.mbi + 4, 639, true);
  dv.setUint32(L.mbi + 8, (top - 0x100000) / 1024, true);
  dv.setUint32(L.mbi + 12, 0x8000ffff, true);
  dv.setUint32(L.mbi + 16, L.cmdline, true);
  dv.setUint32(L.mbi + 20, 0, true); // mods_count
  dv.setUint32(L.mbi + 24, L.mmap, true); // mods_addr: an empty list
  dv.setUint32(L.mbi + 44, mmap.length * 24, true);
  dv.setUint32(L.mbi + 48, L.mmap, true);
  dv.setUint32(L.mbi + 64, L.loaderName, true);

  cpu.cr0 = Cr0.PE | Cr0.ET;
  cpu.cr4 = 0; cpu.efer = 0; cpu.cr3 = 0;
  cpu.setSegment(Seg.CS, BootSel.CODE32, 0, 0xffffffff, 0xc09b);
  for (const s of [Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS]) cpu.setSegment(s, BootSel.DATA, 0, 0xffffffff, 0xc093);
  cpu.updateMode();
  cpu.mmu.flush();
  cpu.lo.fill(0); cpu.hi.fill(0);
  cpu.lo[0] = MULTIBOOT_BOOTLOADER_MAGIC | 0;
  cpu.lo[3] = L.mbi;
  cpu.setRflags(Fl.FIXED1);
  cpu.rip = img.entry >>> 0;
}

/**
 * 64-bit entry for plain ELF64 and flat binaries: the first 4 GiB identity-mapped with 2 MiB
 * pages, CS = 0x08 (64-bit), data segments 0x18, RSP just below 0x9F000, interrupts off.
 */
export function bootLong(cpu: Cpu, entry: number): void {
  const mem = cpu.mem;
  const dv = mem.dv;
  const L = BOOT_LAYOUT;
  writeGdt(cpu);
  mem.u8.fill(0, L.pml4, L.pd + 4 * 0x1000);
  dv.setBigUint64(L.pml4, BigInt(L.pdpt) | 3n, true);
  for (let g = 0; g < 4; g++) {
    const pd = L.pd + g * 0x1000;
    dv.setBigUint64(L.pdpt + g * 8, BigInt(pd) | 3n, true);
    for (let i = 0; i < 512; i++) {
      dv.setBigUint64(pd + i * 8, (BigInt(g) << 30n) | (BigInt(i) << 21n) | 0x83n, true);
    }
  }
  cpu.cr3 = L.pml4;
  cpu.cr4 = Cr4.PAE;
  cpu.efer = Efer.LME | Efer.LMA;
  cpu.cr0 = Cr0.PE | Cr0.PG | Cr0.ET | Cr0.NE | Cr0.WP;
  cpu.setSegment(Seg.CS, BootSel.CODE64, 0, 0xffffffff, 0xa09b);
  for (const s of [Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS]) cpu.setSegment(s, BootSel.DATA, 0, 0xffffffff, 0xc093);
  cpu.updateMode();
  cpu.mmu.flush();
  cpu.lo.fill(0); cpu.hi.fill(0);
  cpu.lo[4] = L.stackTop - 8;
  cpu.setRflags(Fl.FIXED1);
  cpu.rip = entry;
}
