// Multiboot v1 header search and the a.out kludge (Multiboot Specification 0.6.96, section 3.1).
import { hex, LoadError, type Segment } from "./image.js";

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** The header must lie, 32-bit aligned, within this many bytes from the start of the file. */
export const MULTIBOOT_SEARCH = 8192;
/** Flags bit 16: the address fields at offsets 12..28 are valid (the "a.out kludge"). */
export const MULTIBOOT_AOUT_KLUDGE = 1 << 16;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
}

/**
 * Finds the first Multiboot header with a valid checksum. Returns null if there is no magic;
 * throws if the magic is present only with bad checksums.
 */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let bad: { offset: number; flags: number; checksum: number } | null = null;
  for (let off = 0; off < MULTIBOOT_SEARCH && off + 12 <= bytes.length; off += 4) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    const checksum = dv.getUint32(off + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) === 0) return { offset: off, flags };
    bad ??= { offset: off, flags, checksum };
  }
  if (bad) {
    const want = (-(MULTIBOOT_HEADER_MAGIC + bad.flags)) >>> 0;
    throw new LoadError(
      `Multiboot header at offset ${hex(bad.offset)} has a bad checksum ${hex(bad.checksum)} (expected ${hex(want)} so that magic + flags + checksum is 0)`,
    );
  }
  return null;
}

/** Lays out an a.out-kludge image from the header's address fields. */
export function loadAoutKludge(bytes: Uint8Array, mb: MultibootHeader): { segment: Segment; entry: number } {
  if (mb.offset + 32 > bytes.length) {
    throw new LoadError(`truncated Multiboot header at offset ${hex(mb.offset)}: the a.out kludge address fields need 32 bytes`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerAddr = dv.getUint32(mb.offset + 12, true);
  const loadAddr = dv.getUint32(mb.offset + 16, true);
  const loadEndAddr = dv.getUint32(mb.offset + 20, true);
  const bssEndAddr = dv.getUint32(mb.offset + 24, true);
  const entryAddr = dv.getUint32(mb.offset + 28, true);
  const what = "Multiboot a.out kludge";

  if (loadAddr > headerAddr) throw new LoadError(`${what}: load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  const delta = headerAddr - loadAddr;
  if (delta > mb.offset) {
    throw new LoadError(
      `${what}: load_addr ${hex(loadAddr)} is ${hex(delta)} bytes below header_addr ${hex(headerAddr)} but the header is at file offset ${hex(mb.offset)}`,
    );
  }
  const fileOff = mb.offset - delta;

  let size: number;
  if (loadEndAddr === 0) {
    size = bytes.length - fileOff;
  } else {
    if (loadEndAddr < loadAddr) throw new LoadError(`${what}: load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)}`);
    size = loadEndAddr - loadAddr;
    if (fileOff + size > bytes.length) {
      throw new LoadError(
        `truncated: the ${what} needs bytes ${hex(fileOff)}-${hex(fileOff + size)} but the file has ${hex(bytes.length)} bytes`,
      );
    }
  }
  const loadEnd = loadAddr + size;
  if (loadEnd > 0x1_0000_0000) throw new LoadError(`${what}: image ${hex(loadAddr)}-${hex(loadEnd)} extends past 4 GiB`);

  let memSize = size;
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loadEnd) throw new LoadError(`${what}: bss_end_addr ${hex(bssEndAddr)} is below the end of the loaded data ${hex(loadEnd)}`);
    memSize = bssEndAddr - loadAddr;
  }
  if (memSize === 0) throw new LoadError(`no loadable segments (the ${what} loads nothing)`);
  if (entryAddr < loadAddr || entryAddr >= loadAddr + memSize) {
    throw new LoadError(`entry point ${hex(entryAddr)} is outside every loaded segment`);
  }
  return { segment: { addr: loadAddr, data: bytes.slice(fileOff, fileOff + size), memSize }, entry: entryAddr };
}
