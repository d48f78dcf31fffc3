// ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT (SDM Vol. 2, flags per instruction).
import { Mnemonic, OpKind } from "iced-x86";
import type { Compiler, Ctx } from "../context.js";
import { Lf } from "../flags.js";
import { Template, type SrcOperand } from "../codegen.js";
import { SIZE_INDEX } from "../operands.js";

type Kind = "add" | "adc" | "sub" | "sbb" | "and" | "or" | "xor" | "cmp" | "test";

const LF: Record<Kind, number> = {
  add: Lf.ADD, adc: Lf.ADC, sub: Lf.SUB, sbb: Lf.SBB, cmp: Lf.SUB,
  and: Lf.LOGIC, or: Lf.LOGIC, xor: Lf.LOGIC, test: Lf.LOGIC,
};
const LOGIC_OP: Partial<Record<Kind, string>> = { and: "&", or: "|", xor: "^", test: "&" };

function binary(kind: Kind): Compiler {
  return (c: Ctx) => {
    const t = new Template(c);
    const d = t.operand(0, "ea");
    const s = t.operand(1, "eb");
    const writes = kind !== "cmp" && kind !== "test";
    return t.build(binaryBody(kind, d, s, writes));
  };
}

function binaryBody(kind: Kind, d: SrcOperand, s: SrcOperand, writes: boolean): string {
  const size = d.size;
  const sz = SIZE_INDEX[size];
  const fop = LF[kind] | sz;
  const lines = [d.pre, s.pre];
  const logic = LOGIC_OP[kind];
  // A source immediate narrower than the destination was sign-extended by the decoder already.
  if (size !== 8) {
    const mask = size === 4 ? "| 0" : `& ${size === 1 ? 0xff : 0xffff}`;
    lines.push(`const a = ${d.get};`, `const b = ${s.get};`);
    let flags: string;
    if (logic) {
      lines.push(`const r = (a ${logic} b) ${mask};`);
      flags = `f.op = ${fop}; f.r = r;`;
    } else {
      const carry = kind === "adc" || kind === "sbb";
      if (carry) lines.push(`const c = f.cf();`);
      const sign = kind === "add" || kind === "adc" ? "+" : "-";
      lines.push(`const r = (a ${sign} b${carry ? ` ${sign} c` : ""}) ${mask};`);
      flags = `f.op = ${fop}; f.a = a; f.b = b; f.r = r;${carry ? " f.cin = c;" : ""}`;
    }
    // The destination first: a faulting write must leave the flags as they were.
    if (writes) lines.push(d.set("r"));
    lines.push(flags);
  } else {
    lines.push(`const a = ${d.get};`, `const ah = ${d.getHi};`, `const b = ${s.get};`, `const bh = ${s.getHi};`);
    let flags: string;
    if (logic) {
      lines.push(`const r = a ${logic} b;`, `const rh = ah ${logic} bh;`);
      flags = `f.op = ${fop}; f.r = r; f.rh = rh;`;
    } else {
      const carry = kind === "adc" || kind === "sbb";
      if (carry) lines.push(`const c = f.cf();`);
      if (kind === "add" || kind === "adc") {
        lines.push(`const l = (a >>> 0) + (b >>> 0)${carry ? " + c" : ""};`,
          `const r = l | 0;`, `const rh = (ah + bh + (l > 4294967295 ? 1 : 0)) | 0;`);
      } else {
        lines.push(`const l = (a >>> 0) - (b >>> 0)${carry ? " - c" : ""};`,
          `const r = l | 0;`, `const rh = (ah - bh - (l < 0 ? 1 : 0)) | 0;`);
      }
      flags = `f.op = ${fop}; f.a = a; f.ah = ah; f.b = b; f.bh = bh; f.r = r; f.rh = rh;${carry ? " f.cin = c;" : ""}`;
    }
    if (writes) lines.push(d.set("r", "rh"));
    lines.push(flags);
  }
  return lines.filter(Boolean).join("\n");
}

function incDec(inc: boolean): Compiler {
  return (c) => {
    const t = new Template(c);
    const d = t.operand(0, "ea");
    const sz = SIZE_INDEX[d.size];
    const fop = (inc ? Lf.INC : Lf.DEC) | sz;
    const sign = inc ? "+" : "-";
    const lines = [d.pre, `const cf = f.cf();`, `const a = ${d.get};`];
    if (d.size !== 8) {
      const mask = d.size === 4 ? "| 0" : `& ${d.size === 1 ? 0xff : 0xffff}`;
      lines.push(`const r = (a ${sign} 1) ${mask};`, d.set("r"), `f.op = ${fop}; f.a = a; f.b = 1; f.r = r; f.cin = cf;`);
    } else {
      lines.push(`const ah = ${d.getHi};`, `const l = (a >>> 0) ${sign} 1;`, `const r = l | 0;`,
        inc ? `const rh = (ah + (l > 4294967295 ? 1 : 0)) | 0;` : `const rh = (ah - (l < 0 ? 1 : 0)) | 0;`,
        d.set("r", "rh"), `f.op = ${fop}; f.a = a; f.ah = ah; f.b = 1; f.bh = 0; f.r = r; f.rh = rh; f.cin = cf;`);
    }
    return t.build(lines.filter(Boolean).join("\n"));
  };
}

const neg: Compiler = (c) => {
  const t = new Template(c);
  const d = t.operand(0, "ea");
  const fop = Lf.SUB | SIZE_INDEX[d.size];
  const lines = [d.pre, `const b = ${d.get};`];
  if (d.size !== 8) {
    const mask = d.size === 4 ? "| 0" : `& ${d.size === 1 ? 0xff : 0xffff}`;
    lines.push(`const r = (0 - b) ${mask};`, d.set("r"), `f.op = ${fop}; f.a = 0; f.b = b; f.r = r;`);
  } else {
    lines.push(`const bh = ${d.getHi};`, `const l = 0 - (b >>> 0);`, `const r = l | 0;`,
      `const rh = (0 - bh - (l < 0 ? 1 : 0)) | 0;`,
      d.set("r", "rh"), `f.op = ${fop}; f.a = 0; f.ah = 0; f.b = b; f.bh = bh; f.r = r; f.rh = rh;`);
  }
  return t.build(lines.filter(Boolean).join("\n"));
};

const not: Compiler = (c) => {
  const t = new Template(c);
  const d = t.operand(0, "ea");
  if (d.size === 8) return t.build([d.pre, `const a = ${d.get};`, `const ah = ${d.getHi};`, d.set("~a", "~ah")].join("\n"));
  const mask = d.size === 4 ? "" : ` & ${d.size === 1 ? 0xff : 0xffff}`;
  return t.build([d.pre, `const r = (~${d.get})${mask};`, d.set("r")].join("\n"));
};

/** `xor r, r` and `sub r, r` are zeroing idioms; they still set flags as the SDM says. */
export const ALU: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Add, binary("add")], [Mnemonic.Adc, binary("adc")], [Mnemonic.Sub, binary("sub")],
  [Mnemonic.Sbb, binary("sbb")], [Mnemonic.And, binary("and")], [Mnemonic.Or, binary("or")],
  [Mnemonic.Xor, binary("xor")], [Mnemonic.Cmp, binary("cmp")], [Mnemonic.Test, binary("test")],
  [Mnemonic.Inc, incDec(true)], [Mnemonic.Dec, incDec(false)], [Mnemonic.Neg, neg], [Mnemonic.Not, not],
];
void OpKind;
