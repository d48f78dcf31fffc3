// BT BTS BTR BTC BSF BSR POPCNT LZCNT TZCNT (SDM Vol. 2).
//
// BT*: CF := the selected bit; ZF unaffected; OF, SF, AF, PF undefined — this model leaves them
// (and ZF) unchanged, as Bochs does. An immediate bit offset is masked to the operand size. A
// register bit offset with a register base is masked too; with a memory base it is a signed bit
// string offset (16, 32 or 64 bits wide, as the operand size) that may select any bit relative to
// the operand: the operand-size unit at EA + size * floor(offset / width) is accessed.
//
// BSF/BSR: source 0 -> ZF = 1, the destination is not written (a 32-bit destination keeps its
// upper half too), and the other flags are unchanged. Otherwise ZF = 0 and, as the deterministic
// choice for the undefined CF, OF, SF, AF and PF, all of them are cleared.
//
// POPCNT: OF, SF, ZF, AF, CF, PF cleared, then ZF = (source == 0).
//
// LZCNT (F3 0F BD) and TZCNT (F3 0F BC): this CPU model does not advertise ABM/LZCNT or BMI1 in
// CPUID, so, exactly like hardware without those features (the F3 prefix is ignored), they
// execute as BSR and BSF.
import { Mnemonic } from "iced-x86";
import type { Compiler, Ctx } from "../context.js";
import { Template } from "../codegen.js";
import { Fl } from "../flags.js";
import { isImm } from "../operands.js";

type BtKind = "bt" | "bts" | "btr" | "btc";

const join = (lines: string[]): string => lines.filter(Boolean).join("\n");

/** New value of a dword v with bit mask m applied for the kind (undefined for BT). */
function modify(kind: BtKind, v: string, m: string): string {
  switch (kind) {
    case "bts": return `${v} | ${m}`;
    case "btr": return `${v} & ~${m}`;
    case "btc": return `${v} ^ ${m}`;
    default: return v;
  }
}

function bitTest(kind: BtKind): Compiler {
  return (c: Ctx) => {
    const t = new Template(c);
    const d = t.operand(0, "ea0");
    const s = t.operand(1, "eb");
    const size = d.size;
    if (size === 1) return undefined;
    const w = size * 8;
    const writes = kind !== "bt";
    const flags = `f.merge(${Fl.CF}, cf);`;

    if (!d.isMem || isImm(c, 1)) {
      // Offset within the operand.
      const k = isImm(c, 1) ? String(Number(c.ins.immediate(1) & 0xffn) & (w - 1)) : `(${s.get} & ${w - 1})`;
      if (size !== 8) {
        return t.build(join([d.pre, `const a = ${d.get};`, `const k = ${k};`, `const cf = (a >>> k) & 1;`,
          writes ? d.set(`(${modify(kind, "a", "(1 << k)")})${size === 4 ? "" : ` & ${(1 << w) - 1}`}`) : "", flags]));
      }
      return t.build(join([d.pre, `const a = ${d.get};`, `const ah = ${d.getHi};`, `const k = ${k};`,
        `const cf = k < 32 ? (a >>> k) & 1 : (ah >>> (k - 32)) & 1;`,
        writes ? `if (k < 32) { ${d.set(modify(kind, "a", "(1 << k)"), "ah")} } else { ${d.set("a", modify(kind, "ah", "(1 << (k - 32))"))} }` : "",
        flags]));
    }

    // Memory bit string with a signed register offset.
    const addr = c.mode === 64 ? "ea0 + disp" : "(ea0 + disp) >>> 0";
    const lines = [d.pre];
    switch (size) {
      case 2:
        lines.push(`const o = (${s.get} << 16) >> 16;`, `const disp = (o >> 4) * 2;`, `const k = o & 15;`,
          `const ea = ${addr};`, `const a = mmu.rd16(ea);`, `const cf = (a >>> k) & 1;`,
          writes ? `mmu.wr16(ea, (${modify(kind, "a", "(1 << k)")}) & 0xffff);` : "");
        break;
      case 4:
        lines.push(`const o = ${s.get};`, `const disp = (o >> 5) * 4;`, `const k = o & 31;`,
          `const ea = ${addr};`, `const a = mmu.rd32(ea);`, `const cf = (a >>> k) & 1;`,
          writes ? `mmu.wr32(ea, ${modify(kind, "a", "(1 << k)")});` : "");
        break;
      default:
        // offset = oh * 2^32 + (o >>> 0); the byte displacement 8 * floor(offset / 64) is exact.
        lines.push(`const o = ${s.get};`, `const oh = ${s.getHi};`, `const disp = oh * 536870912 + (o >>> 6) * 8;`,
          `const k = o & 63;`, `const ea = ${addr};`, `const a = mmu.rd64(ea);`, `const ah = mmu.hi;`,
          `const cf = k < 32 ? (a >>> k) & 1 : (ah >>> (k - 32)) & 1;`,
          writes ? `if (k < 32) mmu.wr64(ea, ${modify(kind, "a", "(1 << k)")}, ah); else mmu.wr64(ea, a, ${modify(kind, "ah", "(1 << (k - 32))")});` : "");
        break;
    }
    lines.push(flags);
    return t.build(join(lines));
  };
}

/** BSF (forward) or BSR (reverse). */
function bitScan(forward: boolean): Compiler {
  return (c) => {
    const t = new Template(c);
    const d = t.operand(0, "ea");
    const s = t.operand(1, "eb");
    const zero = `f.merge(${Fl.ZF}, ${Fl.ZF});`;
    if (d.size === 1) return undefined;
    if (d.size !== 8) {
      const idx = forward ? `31 - Math.clz32(v & -v)` : `31 - Math.clz32(v)`;
      return t.build(join([s.pre, `const v = ${s.get};`, `if (v === 0) { ${zero} return; }`,
        d.set(idx), `f.write(0);`]));
    }
    const idx = forward
      ? `v !== 0 ? 31 - Math.clz32(v & -v) : 63 - Math.clz32(vh & -vh)`
      : `vh !== 0 ? 63 - Math.clz32(vh) : 31 - Math.clz32(v)`;
    return t.build(join([s.pre, `const v = ${s.get};`, `const vh = ${s.getHi};`,
      `if ((v | vh) === 0) { ${zero} return; }`, `const r = ${idx};`, d.set("r", "0"), `f.write(0);`]));
  };
}

/** Population count of an int32 (SWAR), as a source expression over `x`. */
const POP = (x: string, out: string) => [
  `let ${out} = (${x} - ((${x} >>> 1) & 0x55555555)) | 0;`,
  `${out} = (${out} & 0x33333333) + ((${out} >>> 2) & 0x33333333);`,
  `${out} = (${out} + (${out} >>> 4)) & 0x0f0f0f0f;`,
  `${out} = Math.imul(${out}, 0x01010101) >>> 24;`,
];

const popcnt: Compiler = (c) => {
  const t = new Template(c);
  const d = t.operand(0, "ea");
  const s = t.operand(1, "eb");
  if (d.size === 1) return undefined;
  if (d.size !== 8) {
    return t.build(join([s.pre, `const v = ${s.get};`, ...POP("v", "p"), d.set("p"),
      `f.write(v === 0 ? ${Fl.ZF} : 0);`]));
  }
  return t.build(join([s.pre, `const v = ${s.get};`, `const vh = ${s.getHi};`, ...POP("v", "p"), ...POP("vh", "q"),
    d.set("p + q", "0"), `f.write((v | vh) === 0 ? ${Fl.ZF} : 0);`]));
};

const bsf = bitScan(true);
const bsr = bitScan(false);

export const BITS: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Bt, bitTest("bt")], [Mnemonic.Bts, bitTest("bts")], [Mnemonic.Btr, bitTest("btr")],
  [Mnemonic.Btc, bitTest("btc")], [Mnemonic.Bsf, bsf], [Mnemonic.Bsr, bsr], [Mnemonic.Popcnt, popcnt],
  // No LZCNT/BMI1 in this model's CPUID: F3 0F BD / F3 0F BC are BSR / BSF (see the header).
  [Mnemonic.Lzcnt, bsr], [Mnemonic.Tzcnt, bsf],
];
