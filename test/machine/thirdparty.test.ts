// Acceptance: a freestanding gcc -O2 Multiboot kernel not written for this project
// (davmac314/multiboot-kernel64, see guests/third_party) enters long mode itself, calls into C,
// writes VGA text and halts. The expected screen and final state were recorded under QEMU.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.js";
import { Seg } from "../../src/cpu/regs.js";

const root = new URL("../../", import.meta.url);
const want = JSON.parse(readFileSync(new URL("guests/expected/thirdparty-multiboot-kernel64.vga.json", root), "utf8"));

describe("third-party Multiboot kernel", () => {
  for (const file of ["thirdparty-multiboot-kernel64.elf", "thirdparty-multiboot-kernel64.elf64"]) {
    it(`${file} prints its VGA text and halts as under QEMU`, () => {
      const serial: number[] = [];
      const m = new Machine({ serial: (b) => serial.push(b) });
      m.load(readFileSync(new URL(`guests/build/${file}`, root)), { name: file });
      const r = m.run({ maxInstructions: 10_000_000 });
      expect(r.reason, r.message).toBe("halt");
      expect(r.exitStatus).toBe(0);
      expect(serial).toEqual([]);
      for (const region of want.regions) {
        const off = Number(region.addr) - 0xa0000;
        const hex = Buffer.from(m.vga.bytes.subarray(off, off + region.hex.length / 2)).toString("hex");
        expect(hex).toBe(region.hex);
      }
      // Everything else on the text screen stays blank.
      const lines = m.vga.text();
      expect(lines[0]).toBe("WE ARE 64 BIT NOW");
      expect(lines[1]).toBe("WOOHOO!");
      expect(lines.slice(2).every((l) => l === "")).toBe(true);
      const cpu = m.cpu;
      expect(cpu.ripU64()).toBe(BigInt(want.final_state.rip)); // after the HLT, as QEMU reports it
      expect(cpu.cr0 >>> 0).toBe(Number(want.final_state.cr0));
      expect(cpu.cr3).toBe(Number(want.final_state.cr3));
      expect(cpu.cr4).toBe(Number(want.final_state.cr4));
      expect(cpu.efer).toBe(Number(want.final_state.efer));
      expect(cpu.segSel[Seg.CS]).toBe(Number(want.final_state.cs));
      expect(cpu.mode).toBe(64);
    });
  }
});
