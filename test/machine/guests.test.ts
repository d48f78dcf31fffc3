// Every guest with a recorded QEMU run must print byte-identical serial output and exit with
// the same status under hyperstep. The expected files come from qemu-system-x86_64.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.js";

const root = new URL("../../", import.meta.url);
const expected = new URL("guests/expected/", root);
const guests = readdirSync(expected).filter((f) => f.endsWith(".status")).map((f) => f.replace(/\.status$/, ""));

function runGuest(file: string): { out: string; status: number; reason: string; message: string; icount: number } {
  const bytes: number[] = [];
  // 256 MiB, like the QEMU runs that recorded the expected output (-m 256).
  const m = new Machine({ memMiB: 256, serial: (b) => bytes.push(b) });
  m.load(readFileSync(new URL(file, root)), { name: file });
  const r = m.run({ maxInstructions: 500_000_000 });
  return { out: Buffer.from(bytes).toString("latin1"), status: r.exitStatus, reason: r.reason, message: r.message, icount: r.instructions };
}

describe("guests match QEMU", () => {
  it("has guests to check", () => expect(guests.length).toBeGreaterThanOrEqual(4));
  for (const g of guests) {
    for (const ext of ["elf", "elf64"]) {
      const file = `guests/build/${g}.${ext}`;
      it.skipIf(!existsSync(new URL(file, root)))(`${g}.${ext}`, () => {
        // The kernel's file name is on the Multiboot command line, so expect the one we loaded.
        const want = readFileSync(new URL(`${g}.out`, expected), "latin1").replaceAll(`guests/build/${g}.elf `, `${file} `);
        const status = Number(readFileSync(new URL(`${g}.status`, expected), "utf8").trim());
        const r = runGuest(file);
        expect(r.out).toBe(want);
        expect(r.status, r.message).toBe(status);
      });
    }
  }
});
