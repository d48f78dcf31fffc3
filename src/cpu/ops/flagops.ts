// CLC STC CMC CLD STD LAHF SAHF (SDM Vol. 2). CLI/STI live in system.ts.
// LAHF/SAHF are valid in 64-bit mode because this model reports CPUID.80000001H:ECX.LAHF-SAHF[0].
import { Mnemonic } from "iced-x86";
import type { Compiler } from "../context.js";
import { Fl } from "../flags.js";

/** SF ZF AF PF CF: the flags LAHF stores and SAHF loads (bits 7, 6, 4, 2, 0). */
const AH_FLAGS = Fl.SF | Fl.ZF | Fl.AF | Fl.PF | Fl.CF;

const clc: Compiler = (c) => { const f = c.f; return () => f.merge(Fl.CF, 0); };
const stc: Compiler = (c) => { const f = c.f; return () => f.merge(Fl.CF, Fl.CF); };
const cmc: Compiler = (c) => { const f = c.f; return () => f.merge(Fl.CF, f.cf() ^ 1); };
const cld: Compiler = (c) => { const cpu = c.cpu; return () => { cpu.rflags = (cpu.rflags & ~Fl.DF) >>> 0; }; };
const std: Compiler = (c) => { const cpu = c.cpu; return () => { cpu.rflags = (cpu.rflags | Fl.DF) >>> 0; }; };

/** AH = SF:ZF:0:AF:0:PF:1:CF. */
const lahf: Compiler = (c) => {
  const { f, lo } = c;
  return () => { lo[0] = (lo[0] & ~0xff00) | (((f.read() & AH_FLAGS) | Fl.FIXED1) << 8); };
};

/** SF ZF AF PF CF from AH; OF is unchanged. */
const sahf: Compiler = (c) => {
  const { f, lo } = c;
  return () => f.merge(AH_FLAGS, (lo[0] >> 8) & AH_FLAGS);
};

export const FLAGOPS: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Clc, clc], [Mnemonic.Stc, stc], [Mnemonic.Cmc, cmc],
  [Mnemonic.Cld, cld], [Mnemonic.Std, std],
  [Mnemonic.Lahf, lahf], [Mnemonic.Sahf, sahf],
];
