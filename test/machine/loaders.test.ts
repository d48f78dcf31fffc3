import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LoadError, parseImage, type LoadedImage } from "../../src/machine/loaders/image.js";

const ROOT = new URL("../../", import.meta.url);
const guest = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`guests/build/${name}`, ROOT)));

const MB_MAGIC = 0x1badb002;

interface Phdr {
  type?: number;
  offset: number;
  vaddr?: number | bigint;
  paddr: number | bigint;
  filesz: number;
  memsz: number | bigint;
}

interface ElfSpec {
  bits?: 32 | 64;
  machine?: number;
  type?: number;
  entry: number | bigint;
  phdrs: Phdr[];
  /** Total file size (default 0x1000). */
  size?: number;
  phoff?: number;
  phnum?: number;
}

/** Builds an ELF file: header, program headers at phoff (default right after the header), zero elsewhere. */
function buildElf(s: ElfSpec): Uint8Array {
  const bits = s.bits ?? 64;
  const b = new Uint8Array(s.size ?? 0x1000);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, bits === 32 ? 1 : 2, 1, 1]);
  dv.setUint16(16, s.type ?? 2, true);
  dv.setUint16(18, s.machine ?? (bits === 32 ? 3 : 62), true);
  dv.setUint32(20, 1, true);
  const ehsize = bits === 32 ? 52 : 64;
  const phentsize = bits === 32 ? 32 : 56;
  const phoff = s.phoff ?? ehsize;
  const phnum = s.phnum ?? s.phdrs.length;
  if (bits === 32) {
    dv.setUint32(24, Number(s.entry), true);
    dv.setUint32(28, phoff, true);
    dv.setUint16(40, ehsize, true);
    dv.setUint16(42, phentsize, true);
    dv.setUint16(44, phnum, true);
  } else {
    dv.setBigUint64(24, BigInt(s.entry), true);
    dv.setBigUint64(32, BigInt(phoff), true);
    dv.setUint16(52, ehsize, true);
    dv.setUint16(54, phentsize, true);
    dv.setUint16(56, phnum, true);
  }
  s.phdrs.forEach((p, i) => {
    const o = phoff + i * phentsize;
    if (o + phentsize > b.length) return;
    const vaddr = p.vaddr ?? p.paddr;
    dv.setUint32(o, p.type ?? 1, true);
    if (bits === 32) {
      dv.setUint32(o + 4, p.offset, true);
      dv.setUint32(o + 8, Number(vaddr), true);
      dv.setUint32(o + 12, Number(p.paddr), true);
      dv.setUint32(o + 16, p.filesz, true);
      dv.setUint32(o + 20, Number(p.memsz), true);
    } else {
      dv.setBigUint64(o + 8, BigInt(p.offset), true);
      dv.setBigUint64(o + 16, BigInt(vaddr), true);
      dv.setBigUint64(o + 24, BigInt(p.paddr), true);
      dv.setBigUint64(o + 32, BigInt(p.filesz), true);
      dv.setBigUint64(o + 40, BigInt(p.memsz), true);
    }
  });
  // Recognisable payload so segment contents can be checked.
  for (let i = 0x200; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

/** Writes a Multiboot header (magic, flags, checksum, then optional a.out kludge fields). */
function putMultiboot(b: Uint8Array, offset: number, flags: number, aout?: number[], checksum?: number): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint32(offset, MB_MAGIC, true);
  dv.setUint32(offset + 4, flags >>> 0, true);
  dv.setUint32(offset + 8, checksum ?? (-(MB_MAGIC + flags) >>> 0), true);
  aout?.forEach((v, i) => dv.setUint32(offset + 12 + 4 * i, v >>> 0, true));
  return b;
}

function payload(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + 5) & 0xff;
  return b;
}

function shape(img: LoadedImage) {
  return img.segments.map((s) => ({ addr: s.addr, file: s.data.length, mem: s.memSize }));
}

function expectError(f: () => unknown, message: string): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LoadError);
  expect((err as LoadError).message).toBe(message);
  expect(message).not.toMatch(/\n|\.$/);
}

describe("parseImage: guest binaries", () => {
  const helloSegments = [
    { addr: 0x100000, file: 0x205a, mem: 0x205a },
    { addr: 0x103000, file: 0xc9, mem: 0xc9 },
    { addr: 0x104000, file: 0x28, mem: 0x2a000 },
  ];

  it("hello.elf is a Multiboot ELF32 kernel", () => {
    const bytes = guest("hello.elf");
    const img = parseImage(bytes);
    expect(img.kind).toBe("multiboot");
    expect(img.format).toBe("Multiboot ELF32");
    expect(img.entry).toBe(0x10000c);
    expect(img.multibootFlags).toBe(0x2);
    expect(shape(img)).toEqual(helloSegments);
    // File offsets 0x1000, 0x4000, 0x5000 (readelf -l).
    expect(img.segments[0]!.data).toEqual(bytes.subarray(0x1000, 0x1000 + 0x205a));
    expect(img.segments[1]!.data).toEqual(bytes.subarray(0x4000, 0x4000 + 0xc9));
    expect(img.segments[2]!.data).toEqual(bytes.subarray(0x5000, 0x5000 + 0x28));
    // The Multiboot header is the first thing in .text.
    expect(new DataView(img.segments[0]!.data.buffer).getUint32(0, true)).toBe(MB_MAGIC);
  });

  it("hello.elf64 is a Multiboot ELF64 kernel with the same layout", () => {
    const img = parseImage(guest("hello.elf64"));
    expect(img.kind).toBe("multiboot");
    expect(img.format).toBe("Multiboot ELF64");
    expect(img.entry).toBe(0x10000c);
    expect(img.multibootFlags).toBe(0x2);
    expect(shape(img)).toEqual(helloSegments);
    expect(img.segments.map((s) => s.data)).toEqual(parseImage(guest("hello.elf")).segments.map((s) => s.data));
  });

  const thirdSegments = [
    { addr: 0x100000, file: 0x130, mem: 0x130 },
    { addr: 0x100130, file: 0xe2, mem: 0xe2 },
    { addr: 0x101000, file: 0, mem: 0x9000 },
  ];

  it("thirdparty-multiboot-kernel64.elf loads at p_paddr (higher-half p_vaddr)", () => {
    const bytes = guest("thirdparty-multiboot-kernel64.elf");
    const img = parseImage(bytes);
    expect(img.kind).toBe("multiboot");
    expect(img.format).toBe("Multiboot ELF32");
    expect(img.entry).toBe(0x100010);
    expect(img.multibootFlags).toBe(0x3);
    expect(shape(img)).toEqual(thirdSegments);
    expect(img.segments[1]!.data).toEqual(bytes.subarray(0x1130, 0x1130 + 0xe2));
  });

  it("thirdparty-multiboot-kernel64.elf64 (p_vaddr 0xffffffff80100130) is a Multiboot ELF64 kernel", () => {
    const img = parseImage(guest("thirdparty-multiboot-kernel64.elf64"));
    expect(img.format).toBe("Multiboot ELF64");
    expect(img.entry).toBe(0x100010);
    expect(img.multibootFlags).toBe(0x3);
    expect(shape(img)).toEqual(thirdSegments);
  });

  it("every guest in guests/build parses as Multiboot", () => {
    const names = readdirSync(new URL("guests/build/", ROOT)).filter((n) => /\.elf(64)?$/.test(n));
    expect(names.length).toBeGreaterThanOrEqual(4);
    for (const n of names) {
      const img = parseImage(guest(n));
      expect(img.kind, n).toBe("multiboot");
      expect(img.format, n).toBe(n.endsWith(".elf64") ? "Multiboot ELF64" : "Multiboot ELF32");
      expect(img.entry, n).toBeGreaterThanOrEqual(0x100000);
    }
  });

  it("a guest can be forced to load flat", () => {
    const bytes = guest("hello.elf");
    const img = parseImage(bytes, { loadAddr: 0x200000 });
    expect(img.kind).toBe("flat");
    expect(img.entry).toBe(0x200000);
    expect(shape(img)).toEqual([{ addr: 0x200000, file: bytes.length, mem: bytes.length }]);
  });
});

describe("parseImage: synthetic images", () => {
  it("minimal ELF64 without a Multiboot header", () => {
    const b = buildElf({
      entry: 0x200010,
      phdrs: [
        { offset: 0x200, paddr: 0x200000, filesz: 0x100, memsz: 0x100 },
        { type: 4, offset: 0, paddr: 0, filesz: 0, memsz: 0x10 }, // PT_NOTE: ignored
        { offset: 0x300, paddr: 0x300000, filesz: 0x10, memsz: 0x2000 },
        { offset: 0, paddr: 0x400000, filesz: 0, memsz: 0 }, // empty PT_LOAD: skipped
      ],
    });
    const img = parseImage(b);
    expect(img.kind).toBe("elf64");
    expect(img.format).toBe("ELF64");
    expect(img.entry).toBe(0x200010);
    expect(img.multibootFlags).toBeUndefined();
    expect(shape(img)).toEqual([
      { addr: 0x200000, file: 0x100, mem: 0x100 },
      { addr: 0x300000, file: 0x10, mem: 0x2000 },
    ]);
    expect(img.segments[0]!.data).toEqual(b.subarray(0x200, 0x300));
    // Segment data is a copy, not a view of the caller's buffer.
    b[0x200] ^= 0xff;
    expect(img.segments[0]!.data[0]).not.toBe(b[0x200]);
  });

  it("ELF64 entry found by p_vaddr is kept as the linear address", () => {
    const img = parseImage(buildElf({
      entry: 0x80000020,
      phdrs: [{ offset: 0x200, vaddr: 0x80000000, paddr: 0x200000, filesz: 0x100, memsz: 0x100 }],
    }));
    expect(img.entry).toBe(0x80000020);
    expect(img.segments[0]!.addr).toBe(0x200000);
  });

  it("Multiboot ELF32 entry found by p_vaddr is translated to the physical address", () => {
    const b = buildElf({
      bits: 32,
      entry: 0xc0100040,
      phdrs: [{ offset: 0x200, vaddr: 0xc0100000, paddr: 0x100000, filesz: 0x400, memsz: 0x1000 }],
    });
    putMultiboot(b, 0x200, 0x3);
    const img = parseImage(b);
    expect(img.format).toBe("Multiboot ELF32");
    expect(img.entry).toBe(0x100040);
    expect(img.multibootFlags).toBe(0x3);
    expect(shape(img)).toEqual([{ addr: 0x100000, file: 0x400, mem: 0x1000 }]);
  });

  it("Multiboot ELF64 with a higher-half entry translated below 4 GiB", () => {
    const b = buildElf({
      entry: 0xffffffff80100040n,
      phdrs: [{ offset: 0x200, vaddr: 0xffffffff80100000n, paddr: 0x100000, filesz: 0x100, memsz: 0x100 }],
    });
    putMultiboot(b, 0x200, 0);
    const img = parseImage(b);
    expect(img.format).toBe("Multiboot ELF64");
    expect(img.entry).toBe(0x100040);
  });

  it("flat binary", () => {
    const b = payload(0x123);
    const img = parseImage(b, { loadAddr: 0x7c00 });
    expect(img).toEqual({
      kind: "flat",
      segments: [{ addr: 0x7c00, data: b, memSize: 0x123 }],
      entry: 0x7c00,
      format: "flat binary",
    });
    expect(parseImage(b, { loadAddr: 0x100000, entry: 0x100080 }).entry).toBe(0x100080);
    expect(parseImage(b, { loadAddr: 0 }).entry).toBe(0);
  });

  it("a.out kludge: load_end_addr 0 loads to the end of the file, bss_end_addr adds zeroed memory", () => {
    // Header at file offset 0x40, header_addr 0x100040, load_addr 0x100000: file offset 0 is 0x100000.
    const b = putMultiboot(payload(0x300), 0x40, 0x10003, [0x100040, 0x100000, 0, 0x104000, 0x100080]);
    const img = parseImage(b);
    expect(img.kind).toBe("multiboot");
    expect(img.format).toBe("Multiboot a.out kludge");
    expect(img.multibootFlags).toBe(0x10003);
    expect(img.entry).toBe(0x100080);
    expect(shape(img)).toEqual([{ addr: 0x100000, file: 0x300, mem: 0x4000 }]);
    expect(img.segments[0]!.data).toEqual(b);
  });

  it("a.out kludge: load_addr after the start of the file, explicit load_end_addr, no bss", () => {
    // Header at 0x40, header_addr 0x200030, load_addr 0x200000: load starts at file offset 0x10.
    const b = putMultiboot(payload(0x400), 0x40, 0x10000, [0x200030, 0x200000, 0x200100, 0, 0x200000]);
    const img = parseImage(b);
    expect(img.entry).toBe(0x200000);
    expect(shape(img)).toEqual([{ addr: 0x200000, file: 0x100, mem: 0x100 }]);
    expect(img.segments[0]!.data).toEqual(b.subarray(0x10, 0x110));
  });

  it("a.out kludge wins over ELF", () => {
    const b = buildElf({ bits: 32, entry: 0, phdrs: [] });
    putMultiboot(b, 0x100, 0x10000, [0x100100, 0x100000, 0, 0, 0x100200]);
    const img = parseImage(b);
    expect(img.format).toBe("Multiboot a.out kludge");
    expect(shape(img)).toEqual([{ addr: 0x100000, file: 0x1000, mem: 0x1000 }]);
  });

  it("the Multiboot magic is only recognised 4-byte aligned in the first 8192 bytes", () => {
    const notElf = "not an ELF file and no Multiboot header (use --load-addr for a flat binary)";
    expectError(() => parseImage(putMultiboot(payload(0x3000), 0x2000, 0x10000, [0, 0, 0, 0, 0])), notElf);
    expectError(() => parseImage(putMultiboot(payload(0x100), 0x42, 0x10000, [0, 0, 0, 0, 0])), notElf);
    // The last possible position still counts.
    const b = putMultiboot(payload(0x3000), 0x1ffc, 0x10000, [0x101ffc, 0x100000, 0, 0, 0x100000]);
    expect(parseImage(b).format).toBe("Multiboot a.out kludge");
  });

  it("a magic with a bad checksum is skipped when a valid header follows", () => {
    const b = putMultiboot(payload(0x200), 0x20, 0x10000, [0x100040, 0x100000, 0, 0, 0x100000]);
    putMultiboot(b, 0x40, 0x10000, [0x100040, 0x100000, 0, 0, 0x100000]);
    putMultiboot(b, 0x20, 0, undefined, 0x1234);
    expect(parseImage(b).format).toBe("Multiboot a.out kludge");
  });
});

describe("parseImage: errors", () => {
  const elf64Ok = (): Uint8Array =>
    buildElf({ entry: 0x200000, phdrs: [{ offset: 0x200, paddr: 0x200000, filesz: 0x100, memsz: 0x100 }] });

  it("options", () => {
    expectError(() => parseImage(payload(16), { entry: 0x1000 }), "--entry needs --load-addr");
    expectError(() => parseImage(payload(16), { loadAddr: -1 }), "bad load address -1: must be a non-negative integer below 2^53");
    expectError(() => parseImage(payload(16), { loadAddr: 0x1000, entry: 1.5 }), "bad entry point 1.5: must be a non-negative integer below 2^53");
  });

  it("empty file", () => {
    expectError(() => parseImage(new Uint8Array(0)), "empty file");
    expectError(() => parseImage(new Uint8Array(0), { loadAddr: 0x1000 }), "empty file");
  });

  it("not an ELF file", () => {
    expectError(() => parseImage(payload(100)), "not an ELF file and no Multiboot header (use --load-addr for a flat binary)");
    expectError(() => parseImage(new Uint8Array([0x7f, 0x45, 0x4c])), "not an ELF file and no Multiboot header (use --load-addr for a flat binary)");
  });

  it("truncated ELF header", () => {
    expectError(() => parseImage(elf64Ok().slice(0, 10)), "truncated ELF header: the file has 10 bytes");
    expectError(() => parseImage(elf64Ok().slice(0, 40)), "truncated ELF header: the file has 40 bytes but an ELF64 header needs 64");
    const b32 = buildElf({ bits: 32, entry: 0x100000, phdrs: [] }).slice(0, 0x30);
    expectError(() => parseImage(b32), "truncated ELF header: the file has 48 bytes but an ELF32 header needs 52");
  });

  it("wrong class, endianness, machine, type", () => {
    const cls = elf64Ok();
    cls[4] = 3;
    expectError(() => parseImage(cls), "unsupported ELF class 3 (expected 1 for ELF32 or 2 for ELF64)");
    const be = elf64Ok();
    be[5] = 2;
    expectError(() => parseImage(be), "big-endian ELF file (x86 needs little-endian)");
    const enc = elf64Ok();
    enc[5] = 0;
    expectError(() => parseImage(enc), "unsupported ELF data encoding 0 (expected 1 for little-endian)");
    const arm = buildElf({ machine: 183, entry: 0x200000, phdrs: [{ offset: 0x200, paddr: 0x200000, filesz: 0x100, memsz: 0x100 }] });
    expectError(() => parseImage(arm), "wrong ELF machine 183 (AArch64): expected EM_X86_64 (62)");
    const i386as64 = buildElf({ machine: 3, entry: 0x200000, phdrs: [{ offset: 0x200, paddr: 0x200000, filesz: 0x100, memsz: 0x100 }] });
    expectError(() => parseImage(i386as64), "wrong ELF machine 3 (x86): expected EM_X86_64 (62)");
    const mbArm = buildElf({ bits: 32, machine: 40, entry: 0x100000, phdrs: [{ offset: 0x200, paddr: 0x100000, filesz: 0x100, memsz: 0x100 }] });
    putMultiboot(mbArm, 0x200, 0);
    expectError(() => parseImage(mbArm), "wrong ELF machine 40 (ARM): expected EM_386 (3) or EM_X86_64 (62)");
    const rel = buildElf({ type: 1, entry: 0, phdrs: [] });
    expectError(() => parseImage(rel), "ELF type ET_REL, a relocatable object is not an executable (expected ET_EXEC or ET_DYN)");
  });

  it("ELF32 without a Multiboot header", () => {
    const b = buildElf({ bits: 32, entry: 0x100000, phdrs: [{ offset: 0x200, paddr: 0x100000, filesz: 0x100, memsz: 0x100 }] });
    expectError(() => parseImage(b), "ELF32 file without a Multiboot header");
  });

  it("program header table outside the file", () => {
    const b = buildElf({ entry: 0x200000, phoff: 0xfe0, phnum: 1, phdrs: [] });
    expectError(() => parseImage(b), "program header table at 0xfe0-0x1018 is outside the file (0x1000 bytes)");
    const huge = buildElf({ entry: 0x200000, phoff: 0, phdrs: [] });
    new DataView(huge.buffer).setBigUint64(32, 0xffffffffffffff00n, true);
    new DataView(huge.buffer).setUint16(56, 1, true);
    expectError(() => parseImage(huge), "program header table at 0xffffffffffffff00-0xffffffffffffff38 is outside the file (0x1000 bytes)");
    const ent = elf64Ok();
    new DataView(ent.buffer).setUint16(54, 32, true);
    expectError(() => parseImage(ent), "bad ELF program header entry size 32 (expected at least 56)");
  });

  it("segment file data outside the file", () => {
    const b = buildElf({
      entry: 0x200000,
      phdrs: [
        { offset: 0x200, paddr: 0x200000, filesz: 0x100, memsz: 0x100 },
        { offset: 0xf00, paddr: 0x300000, filesz: 0x200, memsz: 0x200 },
      ],
    });
    expectError(() => parseImage(b), "truncated: segment 1 needs bytes 0xf00-0x1100 but the file has 0x1000 bytes");
    const b32 = buildElf({ bits: 32, entry: 0x100000, phdrs: [{ offset: 0x200, paddr: 0x100000, filesz: 0x1000, memsz: 0x1000 }] });
    putMultiboot(b32, 0x200, 0);
    expectError(() => parseImage(b32), "truncated: segment 0 needs bytes 0x200-0x1200 but the file has 0x1000 bytes");
  });

  it("p_filesz > p_memsz", () => {
    const b = buildElf({ entry: 0x200000, phdrs: [{ offset: 0x200, paddr: 0x200000, filesz: 0x100, memsz: 0x80 }] });
    expectError(() => parseImage(b), "segment 0: p_filesz 0x100 is larger than p_memsz 0x80");
  });

  it("64-bit addresses at or above 2^53", () => {
    const b = buildElf({ entry: 0x200000, phdrs: [{ offset: 0x200, paddr: 0x1f_ffff_ffff_f000n, filesz: 0x100, memsz: 0x2000 }] });
    expectError(() => parseImage(b), "segment 0: physical range 0x1ffffffffff000-0x20000000001000 does not fit below 2^53");
  });

  it("no loadable segments", () => {
    const msg = "no loadable segments (no PT_LOAD program header with p_memsz > 0)";
    expectError(() => parseImage(buildElf({ entry: 0x200000, phdrs: [] })), msg);
    expectError(() => parseImage(buildElf({ entry: 0x200000, phdrs: [{ offset: 0x200, paddr: 0x200000, filesz: 0, memsz: 0 }] })), msg);
    expectError(() => parseImage(buildElf({ entry: 0x200000, phdrs: [{ type: 6, offset: 0x200, paddr: 0x200000, filesz: 0x10, memsz: 0x10 }] })), msg);
  });

  it("missing or misplaced entry point", () => {
    const seg = [{ offset: 0x200, paddr: 0x200000, filesz: 0x100, memsz: 0x1000 }];
    expectError(() => parseImage(buildElf({ entry: 0, phdrs: seg })), "missing entry point (e_entry is 0)");
    expectError(() => parseImage(buildElf({ entry: 0x201000, phdrs: seg })), "entry point 0x201000 is outside every loaded segment");
    expectError(
      () => parseImage(buildElf({ entry: 0x1_0000_0000n, phdrs: [{ offset: 0x200, paddr: 0x1_0000_0000n, filesz: 0x10, memsz: 0x10 }] })),
      "entry point 0x100000000 is above 4 GiB (only the low 4 GiB are identity mapped)",
    );
    // Multiboot ELF: the entry must also be inside a segment.
    const mb = buildElf({ bits: 32, entry: 0x300000, phdrs: seg });
    putMultiboot(mb, 0x200, 0);
    expectError(() => parseImage(mb), "entry point 0x300000 is outside every loaded segment");
    const mb0 = buildElf({ bits: 32, entry: 0, phdrs: seg });
    putMultiboot(mb0, 0x200, 0);
    expectError(() => parseImage(mb0), "missing entry point (e_entry is 0)");
  });

  it("Multiboot ELF64 entry that does not fit in 32 bits", () => {
    const b = buildElf({ entry: 0x1_0000_0010n, phdrs: [{ offset: 0x200, paddr: 0x1_0000_0000n, filesz: 0x100, memsz: 0x100 }] });
    putMultiboot(b, 0x200, 0);
    expectError(() => parseImage(b), "entry point 0x100000010 does not fit in 32 bits (Multiboot starts the kernel in 32-bit protected mode)");
  });

  it("bad Multiboot checksum", () => {
    const b = putMultiboot(payload(0x100), 0x10, 0x3, undefined, 0xdeadbeef);
    expectError(
      () => parseImage(b),
      "Multiboot header at offset 0x10 has a bad checksum 0xdeadbeef (expected 0xe4524ffb so that magic + flags + checksum is 0)",
    );
  });

  it("Multiboot header without the a.out kludge in a non-ELF file", () => {
    const b = putMultiboot(payload(0x100), 0x10, 0x3);
    expectError(() => parseImage(b), "Multiboot header at offset 0x10 has no a.out kludge (flags bit 16) and the file is not an ELF file");
  });

  it("bad a.out kludge fields", () => {
    const img = (fields: number[], size = 0x300) => () => parseImage(putMultiboot(payload(size), 0x40, 0x10000, fields));
    expectError(img([0x100040, 0x100050, 0, 0, 0x100050]), "Multiboot a.out kludge: load_addr 0x100050 is above header_addr 0x100040");
    expectError(
      img([0x100040, 0x100000 - 0x10, 0, 0, 0x100000]),
      "Multiboot a.out kludge: load_addr 0xffff0 is 0x50 bytes below header_addr 0x100040 but the header is at file offset 0x40",
    );
    expectError(img([0x100040, 0x100000, 0xff000, 0, 0x100000]), "Multiboot a.out kludge: load_end_addr 0xff000 is below load_addr 0x100000");
    expectError(img([0x100040, 0x100000, 0x100400, 0, 0x100000]), "truncated: the Multiboot a.out kludge needs bytes 0x0-0x400 but the file has 0x300 bytes");
    expectError(
      img([0x100040, 0x100000, 0x100200, 0x100100, 0x100000]),
      "Multiboot a.out kludge: bss_end_addr 0x100100 is below the end of the loaded data 0x100200",
    );
    expectError(img([0x100040, 0x100000, 0, 0x102000, 0x102000]), "entry point 0x102000 is outside every loaded segment");
    expectError(img([0xfffff040, 0xfffff000, 0, 0, 0xfffff000], 0x2000), "Multiboot a.out kludge: image 0xfffff000-0x100001000 extends past 4 GiB");
    const short = putMultiboot(payload(0x50), 0x40, 0x10000);
    expectError(() => parseImage(short), "truncated Multiboot header at offset 0x40: the a.out kludge address fields need 32 bytes");
  });
});
