// Source snippets for stack pushes and pops in each stack width, shared by the op templates.
import { Gpr, Seg } from "./regs.js";
import { CANONICAL_LIMIT } from "../mem/paging.js";

const SP = Gpr.RSP;

/** Statements pushing v (and vh for 8-byte pushes). */
export function pushSource(stackBits: 16 | 32 | 64, size: 2 | 4 | 8, v: string, vh = "0"): string {
  const wr = size === 8 ? `mmu.wr64(a, ${v}, ${vh})` : size === 4 ? `mmu.wr32(a, ${v})` : `mmu.wr16(a, ${v})`;
  if (stackBits === 64) {
    return `{ const a = hi[${SP}] * 4294967296 + (lo[${SP}] >>> 0) - ${size}; ${wr}; lo[${SP}] = a | 0; hi[${SP}] = Math.floor(a / 4294967296) | 0; }`;
  }
  if (stackBits === 32) {
    return `{ const s = (lo[${SP}] - ${size}) >>> 0; const a = (cpu.segBase[${Seg.SS}] + s) >>> 0; ${wr}; lo[${SP}] = s; }`;
  }
  return `{ const s = (lo[${SP}] - ${size}) & 0xffff; const a = (cpu.segBase[${Seg.SS}] + s) >>> 0; ${wr}; lo[${SP}] = (lo[${SP}] & ~0xffff) | s; }`;
}

/** Statements popping into new consts `name` (and `${name}h` for 8-byte pops). */
export function popSource(stackBits: 16 | 32 | 64, size: 2 | 4 | 8, name: string): string {
  const rd = (a: string) => size === 8 ? `const ${name} = mmu.rd64(${a}); const ${name}h = mmu.hi;`
    : size === 4 ? `const ${name} = mmu.rd32(${a}); const ${name}h = 0;` : `const ${name} = mmu.rd16(${a}); const ${name}h = 0;`;
  if (stackBits === 64) {
    return `const ${name}a = hi[${SP}] * 4294967296 + (lo[${SP}] >>> 0); ${rd(`${name}a`)} { const n = ${name}a + ${size}; lo[${SP}] = n | 0; hi[${SP}] = Math.floor(n / 4294967296) | 0; }`;
  }
  if (stackBits === 32) {
    return `const ${name}s = lo[${SP}] >>> 0; ${rd(`((cpu.segBase[${Seg.SS}] + ${name}s) >>> 0)`)} lo[${SP}] = (${name}s + ${size}) | 0;`;
  }
  return `const ${name}s = lo[${SP}] & 0xffff; ${rd(`((cpu.segBase[${Seg.SS}] + ${name}s) >>> 0)`)} lo[${SP}] = (lo[${SP}] & ~0xffff) | ((${name}s + ${size}) & 0xffff);`;
}

/** Source testing that a 64-bit mode branch target is canonical; #GP(0) otherwise. */
export const CANONICAL_CHECK = (t: string) => `if (${t} >= ${CANONICAL_LIMIT} || ${t} < -${CANONICAL_LIMIT}) throw rt.gp0();`;
