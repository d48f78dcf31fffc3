// ELF32/ELF64 little-endian parsing for x86 guests: the file header, PT_LOAD segments (loaded at
// p_paddr) and the entry point. 64-bit fields are read as bigint and converted to numbers only
// once they are known to be below 2^53.
import { hex, LoadError, type Segment } from "./image.js";

export const EM_386 = 3;
export const EM_X86_64 = 62;
const PT_LOAD = 1;
const PN_XNUM = 0xffff;
const LIMIT = BigInt(Number.MAX_SAFE_INTEGER) + 1n; // 2^53

const MACHINE_NAMES: Record<number, string> = {
  2: "SPARC", 3: "x86", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "S/390", 40: "ARM",
  43: "SPARC V9", 50: "IA-64", 62: "x86-64", 183: "AArch64", 243: "RISC-V", 258: "LoongArch",
};
const MACHINE_CONSTANTS: Record<number, string> = { [EM_386]: "EM_386", [EM_X86_64]: "EM_X86_64" };
const TYPE_NAMES: Record<number, string> = { 0: "ET_NONE", 1: "ET_REL, a relocatable object", 4: "ET_CORE, a core dump" };

export interface ElfHeader {
  bits: 32 | 64;
  type: number;
  machine: number;
  entry: bigint;
  phoff: bigint;
  phentsize: number;
  phnum: number;
}

/** A PT_LOAD segment with p_memsz > 0. */
export interface ElfLoad {
  /** Index in the program header table (as readelf numbers them). */
  index: number;
  segment: Segment;
  paddr: bigint;
  vaddr: bigint;
  memsz: bigint;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True if the file starts with the ELF magic (it may still be malformed). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Parses and checks the ELF identification and file header. */
export function parseElfHeader(bytes: Uint8Array): ElfHeader {
  if (!isElf(bytes)) throw new LoadError("not an ELF file");
  if (bytes.length < 16) throw new LoadError(`truncated ELF header: the file has ${bytes.length} bytes`);
  const cls = bytes[4]!;
  if (cls !== 1 && cls !== 2) throw new LoadError(`unsupported ELF class ${cls} (expected 1 for ELF32 or 2 for ELF64)`);
  const bits = cls === 1 ? 32 : 64;
  const enc = bytes[5]!;
  if (enc === 2) throw new LoadError("big-endian ELF file (x86 needs little-endian)");
  if (enc !== 1) throw new LoadError(`unsupported ELF data encoding ${enc} (expected 1 for little-endian)`);
  const ehsize = bits === 32 ? 52 : 64;
  if (bytes.length < ehsize) {
    throw new LoadError(`truncated ELF header: the file has ${bytes.length} bytes but an ELF${bits} header needs ${ehsize}`);
  }
  const dv = view(bytes);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (type !== 2 && type !== 3) {
    throw new LoadError(`ELF type ${TYPE_NAMES[type] ?? type} is not an executable (expected ET_EXEC or ET_DYN)`);
  }
  const h: ElfHeader = bits === 32
    ? {
        bits, type, machine,
        entry: BigInt(dv.getUint32(24, true)),
        phoff: BigInt(dv.getUint32(28, true)),
        phentsize: dv.getUint16(42, true),
        phnum: dv.getUint16(44, true),
      }
    : {
        bits, type, machine,
        entry: dv.getBigUint64(24, true),
        phoff: dv.getBigUint64(32, true),
        phentsize: dv.getUint16(54, true),
        phnum: dv.getUint16(56, true),
      };
  return h;
}

export function checkElfMachine(h: ElfHeader, allowed: readonly number[]): void {
  if (allowed.includes(h.machine)) return;
  const name = MACHINE_NAMES[h.machine];
  const got = name ? `${h.machine} (${name})` : `${h.machine}`;
  const want = allowed.map((m) => `${MACHINE_CONSTANTS[m] ?? m} (${m})`).join(" or ");
  throw new LoadError(`wrong ELF machine ${got}: expected ${want}`);
}

/** Reads the PT_LOAD segments with p_memsz > 0, checking them against the file. */
export function elfSegments(bytes: Uint8Array, h: ElfHeader): ElfLoad[] {
  const fileLen = BigInt(bytes.length);
  const loads: ElfLoad[] = [];
  if (h.phnum === PN_XNUM) throw new LoadError("extended program header numbering (e_phnum 0xffff) is not supported");
  if (h.phnum > 0) {
    const minEnt = h.bits === 32 ? 32 : 56;
    if (h.phentsize < minEnt) {
      throw new LoadError(`bad ELF program header entry size ${h.phentsize} (expected at least ${minEnt})`);
    }
    const tableEnd = h.phoff + BigInt(h.phnum * h.phentsize);
    if (tableEnd > fileLen) {
      throw new LoadError(`program header table at ${hex(h.phoff)}-${hex(tableEnd)} is outside the file (${hex(bytes.length)} bytes)`);
    }
  }
  const dv = view(bytes);
  for (let i = 0; i < h.phnum; i++) {
    const p = Number(h.phoff) + i * h.phentsize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    let offset: bigint, vaddr: bigint, paddr: bigint, filesz: bigint, memsz: bigint;
    if (h.bits === 32) {
      offset = BigInt(dv.getUint32(p + 4, true));
      vaddr = BigInt(dv.getUint32(p + 8, true));
      paddr = BigInt(dv.getUint32(p + 12, true));
      filesz = BigInt(dv.getUint32(p + 16, true));
      memsz = BigInt(dv.getUint32(p + 20, true));
    } else {
      offset = dv.getBigUint64(p + 8, true);
      vaddr = dv.getBigUint64(p + 16, true);
      paddr = dv.getBigUint64(p + 24, true);
      filesz = dv.getBigUint64(p + 32, true);
      memsz = dv.getBigUint64(p + 40, true);
    }
    if (memsz === 0n) continue;
    if (filesz > memsz) throw new LoadError(`segment ${i}: p_filesz ${hex(filesz)} is larger than p_memsz ${hex(memsz)}`);
    if (filesz > 0n && offset + filesz > fileLen) {
      throw new LoadError(`truncated: segment ${i} needs bytes ${hex(offset)}-${hex(offset + filesz)} but the file has ${hex(bytes.length)} bytes`);
    }
    if (paddr + memsz > LIMIT) {
      throw new LoadError(`segment ${i}: physical range ${hex(paddr)}-${hex(paddr + memsz)} does not fit below 2^53`);
    }
    const start = Number(offset);
    const data = filesz > 0n ? bytes.slice(start, start + Number(filesz)) : new Uint8Array(0);
    loads.push({ index: i, segment: { addr: Number(paddr), data, memSize: Number(memsz) }, paddr, vaddr, memsz });
  }
  if (loads.length === 0) throw new LoadError("no loadable segments (no PT_LOAD program header with p_memsz > 0)");
  return loads;
}

/**
 * The entry point, which must lie inside a loaded segment by physical or virtual address.
 * "translate" (Multiboot): an entry found only by virtual address becomes the physical one.
 * "as-is" (ELF64, low 4 GiB identity mapped): e_entry itself, which must be below 4 GiB.
 */
export function elfEntry(h: ElfHeader, loads: readonly ElfLoad[], mode: "translate" | "as-is"): number {
  const e = h.entry;
  if (e === 0n) throw new LoadError("missing entry point (e_entry is 0)");
  if (mode === "as-is" && e > 0xffffffffn) {
    throw new LoadError(`entry point ${hex(e)} is above 4 GiB (only the low 4 GiB are identity mapped)`);
  }
  if (loads.some((l) => e >= l.paddr && e < l.paddr + l.memsz)) return Number(e);
  const byVirt = loads.find((l) => e >= l.vaddr && e < l.vaddr + l.memsz);
  if (byVirt) return Number(mode === "translate" ? e - byVirt.vaddr + byVirt.paddr : e);
  throw new LoadError(`entry point ${hex(e)} is outside every loaded segment`);
}
