// SETcc and CMOVcc (SDM Vol. 2, SETcc, CMOVcc; conditions in Vol. 1, Appendix B).
import { Mnemonic, OpKind } from "iced-x86";
import type { Compiler } from "../context.js";
import { Template } from "../codegen.js";
import { conditionSource } from "../cond.js";
import { gpr } from "../operands.js";

const setcc: Compiler = (c) => {
  const t = new Template(c);
  const d = t.operand(0, "ea");
  if (d.size !== 1) return undefined;
  return t.build([d.pre, d.set(`(${conditionSource(c.ins.conditionCode)} ? 1 : 0)`)].filter(Boolean).join("\n"));
};

/**
 * The source is read whether or not the condition holds (a memory source can fault). A 32-bit
 * destination is written, and so zero-extended, even when the condition is false.
 */
const cmovcc: Compiler = (c) => {
  const ins = c.ins;
  if (ins.op0Kind !== OpKind.Register) return undefined;
  const g = gpr(ins.op0Register);
  if (!g || g.size === 1) return undefined;
  const t = new Template(c);
  const d = t.operand(0, "ea");
  const s = t.operand(1, "eb");
  const cond = conditionSource(ins.conditionCode);
  const lines = [s.pre, `const v = ${s.get};`];
  if (d.size === 8) {
    lines.push(`const vh = ${s.getHi};`, `if (${cond}) { ${d.set("v", "vh")} }`);
  } else if (d.size === 4) {
    const R = t.param("R", g.idx);
    lines.push(`if (${cond}) { ${d.set("v")} } else hi[${R}] = 0;`);
  } else {
    lines.push(`if (${cond}) { ${d.set("v")} }`);
  }
  return t.build(lines.filter(Boolean).join("\n"));
};

const SET = [Mnemonic.Seto, Mnemonic.Setno, Mnemonic.Setb, Mnemonic.Setae, Mnemonic.Sete, Mnemonic.Setne,
  Mnemonic.Setbe, Mnemonic.Seta, Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setp, Mnemonic.Setnp,
  Mnemonic.Setl, Mnemonic.Setge, Mnemonic.Setle, Mnemonic.Setg];
const CMOV = [Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne,
  Mnemonic.Cmovbe, Mnemonic.Cmova, Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp,
  Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg];

export const CC: Array<[Mnemonic, Compiler]> = [
  ...SET.map((m): [Mnemonic, Compiler] => [m, setcc]),
  ...CMOV.map((m): [Mnemonic, Compiler] => [m, cmovcc]),
];
