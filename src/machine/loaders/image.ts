// Guest image parsing: Multiboot v1 kernels (ELF32, ELF64 or the a.out kludge), plain ELF64
// x86-64 files and flat binaries. Pure functions over the file bytes; the caller checks the
// result against guest RAM and MMIO holes and does the loading.
import { findMultibootHeader, loadAoutKludge, MULTIBOOT_AOUT_KLUDGE } from "./multiboot-header.js";
import { EM_386, EM_X86_64, checkElfMachine, elfEntry, elfSegments, isElf, parseElfHeader } from "./elf.js";

/** A problem with the image file; the message is one line, without a trailing period. */
export class LoadError extends Error {
  override name = "LoadError";
}

export interface Segment {
  /** Physical load address. */
  addr: number;
  /** Bytes copied from the file. */
  data: Uint8Array;
  /** Total size in memory, >= data.length; the rest is zeroed (.bss). */
  memSize: number;
}

export interface LoadedImage {
  kind: "multiboot" | "elf64" | "flat";
  segments: Segment[];
  /** multiboot: 32-bit physical entry; elf64/flat: 64-bit linear entry (identity mapped). */
  entry: number;
  /** The Multiboot header's flags word, for kind "multiboot". */
  multibootFlags?: number;
  /** Human description, e.g. "Multiboot ELF32", "ELF64", "flat binary". */
  format: string;
}

export interface ParseOptions {
  /** Load the file as a flat binary at this physical address. */
  loadAddr?: number;
  /** Entry point of a flat binary (default: loadAddr). */
  entry?: number;
}

/** Formats a number or bigint as lowercase hex with a 0x prefix. */
export function hex(n: number | bigint): string {
  return "0x" + n.toString(16);
}

function checkAddress(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new LoadError(`bad ${what} ${String(v)}: must be a non-negative integer below 2^53`);
}

export function parseImage(bytes: Uint8Array, opts: ParseOptions = {}): LoadedImage {
  if (opts.loadAddr === undefined && opts.entry !== undefined) throw new LoadError("--entry needs --load-addr");
  if (bytes.length === 0) throw new LoadError("empty file");

  if (opts.loadAddr !== undefined) {
    checkAddress("load address", opts.loadAddr);
    const entry = opts.entry ?? opts.loadAddr;
    checkAddress("entry point", entry);
    if (opts.loadAddr + bytes.length > Number.MAX_SAFE_INTEGER) throw new LoadError(`flat binary at ${hex(opts.loadAddr)} ends above 2^53`);
    return {
      kind: "flat",
      segments: [{ addr: opts.loadAddr, data: bytes.slice(), memSize: bytes.length }],
      entry,
      format: "flat binary",
    };
  }

  const mb = findMultibootHeader(bytes);
  if (mb) {
    if (mb.flags & MULTIBOOT_AOUT_KLUDGE) {
      const { segment, entry } = loadAoutKludge(bytes, mb);
      return { kind: "multiboot", segments: [segment], entry, multibootFlags: mb.flags, format: "Multiboot a.out kludge" };
    }
    if (!isElf(bytes)) {
      throw new LoadError(`Multiboot header at offset ${hex(mb.offset)} has no a.out kludge (flags bit 16) and the file is not an ELF file`);
    }
    const elf = parseElfHeader(bytes);
    checkElfMachine(elf, [EM_386, EM_X86_64]);
    const loads = elfSegments(bytes, elf);
    const entry = elfEntry(elf, loads, "translate");
    if (entry > 0xffffffff) {
      throw new LoadError(`entry point ${hex(entry)} does not fit in 32 bits (Multiboot starts the kernel in 32-bit protected mode)`);
    }
    return { kind: "multiboot", segments: loads.map((l) => l.segment), entry, multibootFlags: mb.flags, format: `Multiboot ELF${elf.bits}` };
  }

  if (isElf(bytes)) {
    const elf = parseElfHeader(bytes);
    if (elf.bits === 32) throw new LoadError("ELF32 file without a Multiboot header");
    checkElfMachine(elf, [EM_X86_64]);
    const loads = elfSegments(bytes, elf);
    const entry = elfEntry(elf, loads, "as-is");
    return { kind: "elf64", segments: loads.map((l) => l.segment), entry, format: "ELF64" };
  }

  throw new LoadError("not an ELF file and no Multiboot header (use --load-addr for a flat binary)");
}
