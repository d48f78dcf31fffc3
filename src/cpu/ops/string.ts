// MOVS STOS LODS CMPS SCAS with REP/REPE/REPNE (SDM Vol. 2, MOVS/STOS/LODS/CMPS/SCAS, REP).
//
// The address size (from the operand kinds) selects SI/ESI/RSI, DI/EDI/RDI and CX/ECX/RCX. The
// source segment (DS unless overridden) applies to [xSI]; the destination is always ES:[xDI]. In
// 64-bit mode only FS/GS bases apply. A REP loop runs inside one op and updates the registers after
// every iteration, so a fault in the middle leaves them at the faulting iteration (restartable).
import { Mnemonic, OpKind } from "iced-x86";
import type { Compiler, Ctx, Op } from "../context.js";
import { REP_BUDGET, RUNTIME, Template } from "../codegen.js";

/** Page-sized steps a REP STOS/MOVS fast path takes before it restarts (see RUNTIME.restart). */
const PAGE_BUDGET = 64;
import { Lf } from "../flags.js";
import { SIZE_INDEX, segIndex } from "../operands.js";
import { Seg } from "../regs.js";
import { Access } from "../../mem/paging.js";

type Kind = "movs" | "stos" | "lods" | "cmps" | "scas";
type Size = 1 | 2 | 4 | 8;

const TWO32 = 4294967296;
const DF = 1 << 10;
const RCX = 1, RSI = 6, RDI = 7;

/** Address size of a string memory operand kind; 0 for anything else (e.g. SSE2 MOVSD/CMPSD). */
function kindBits(k: OpKind): 0 | 16 | 32 | 64 {
  switch (k) {
    case OpKind.MemorySegSI: case OpKind.MemoryESDI: return 16;
    case OpKind.MemorySegESI: case OpKind.MemoryESEDI: return 32;
    case OpKind.MemorySegRSI: case OpKind.MemoryESRDI: return 64;
    default: return 0;
  }
}

function stringOp(kind: Kind, size: Size): Compiler {
  return (c) => {
    const ins = c.ins;
    let bits: 0 | 16 | 32 | 64 = 0;
    for (let n = 0; n < ins.opCount; n++) bits = kindBits(ins.opKind(n)) || bits;
    if (bits === 0) return undefined;
    const usesSrc = kind === "movs" || kind === "lods" || kind === "cmps";
    const srcSeg = usesSrc ? segIndex(ins.memorySegment) : Seg.DS;
    // F2 on MOVS/STOS/LODS repeats like F3 (as on hardware and in Bochs); CMPS/SCAS tell them apart.
    const rep = kind === "cmps" || kind === "scas"
      ? (ins.hasRepePrefix ? "repe" : ins.hasRepnePrefix ? "repne" : "")
      : (ins.hasRepPrefix || ins.hasRepnePrefix ? "rep" : "");
    const t = new Template(c);
    const body = source(c, kind, size, bits, srcSeg < 0 ? Seg.DS : srcSeg, rep, t);
    return t.build(body);
  };
}

function source(c: Ctx, kind: Kind, size: Size, bits: 16 | 32 | 64, srcSeg: number,
  rep: "" | "rep" | "repe" | "repne", t: Template): string {
  const mode = c.mode;
  const addr = (r: number, seg: number): string => {
    const useSeg = mode !== 64 || seg === Seg.FS || seg === Seg.GS;
    const base = useSeg ? ` + cpu.segBase[${seg}]` : "";
    if (bits === 64) return `(hi[${r}] * 4294967296 + (lo[${r}] >>> 0)${base})`;
    const off = bits === 32 ? `(lo[${r}] >>> 0)` : `(lo[${r}] & 0xffff)`;
    if (mode === 64) return useSeg ? `(${off}${base})` : off;
    return `((${off}${base}) >>> 0)`;
  };
  const advance = (r: number): string => {
    if (bits === 64) {
      return `{ const l = (lo[${r}] >>> 0) + d; lo[${r}] = l | 0; if (l > 4294967295) hi[${r}] = (hi[${r}] + 1) | 0; else if (l < 0) hi[${r}] = (hi[${r}] - 1) | 0; }`;
    }
    // A 32-bit address-size update writes ESI/EDI, which zero-extends in 64-bit mode.
    if (bits === 32) return `lo[${r}] = (lo[${r}] + d) | 0; hi[${r}] = 0;`;
    return `lo[${r}] = (lo[${r}] & ~0xffff) | ((lo[${r}] + d) & 0xffff);`;
  };
  const countNonZero = bits === 64 ? `(lo[${RCX}] | hi[${RCX}]) !== 0` : bits === 32 ? `lo[${RCX}] !== 0` : `(lo[${RCX}] & 0xffff) !== 0`;
  const decCount = bits === 64 ? `if (lo[${RCX}] === 0) hi[${RCX}] = (hi[${RCX}] - 1) | 0; lo[${RCX}] = (lo[${RCX}] - 1) | 0;`
    : bits === 32 ? `lo[${RCX}] = (lo[${RCX}] - 1) | 0; hi[${RCX}] = 0;`
    : `lo[${RCX}] = (lo[${RCX}] & ~0xffff) | ((lo[${RCX}] - 1) & 0xffff);`;
  const rd = (a: string, name: string): string => size === 8
    ? `const ${name} = mmu.rd64(${a}); const ${name}h = mmu.hi;`
    : `const ${name} = mmu.rd${size * 8}(${a});`;
  const wr = (a: string, v: string, vh: string): string => size === 8 ? `mmu.wr64(${a}, ${v}, ${vh});` : `mmu.wr${size * 8}(${a}, ${v});`;
  const acc = size === 1 ? "(lo[0] & 0xff)" : size === 2 ? "(lo[0] & 0xffff)" : "lo[0]";
  const si = addr(RSI, srcSeg), di = addr(RDI, Seg.ES);

  const el: string[] = [];
  const fop = Lf.SUB | SIZE_INDEX[size];
  const compare = (): void => {
    if (size !== 8) {
      const mask = size === 4 ? "| 0" : `& ${size === 1 ? 0xff : 0xffff}`;
      el.push(`const r = (a - b) ${mask};`, `f.op = ${fop}; f.a = a; f.b = b; f.r = r;`);
    } else {
      el.push(`const l = (a >>> 0) - (b >>> 0);`, `const r = l | 0;`, `const rh = (ah - bh - (l < 0 ? 1 : 0)) | 0;`,
        `f.op = ${fop}; f.a = a; f.ah = ah; f.b = b; f.bh = bh; f.r = r; f.rh = rh;`);
    }
  };
  switch (kind) {
    case "stos":
      el.push(wr(di, acc, "hi[0]"), advance(RDI));
      break;
    case "lods":
      el.push(rd(si, "v"));
      el.push(size === 8 ? "lo[0] = v; hi[0] = vh;" : size === 4 ? "lo[0] = v; hi[0] = 0;"
        : size === 2 ? "lo[0] = (lo[0] & ~0xffff) | v;" : "lo[0] = (lo[0] & ~0xff) | v;");
      el.push(advance(RSI));
      break;
    case "movs":
      el.push(`const sa = ${si}; const da = ${di};`, rd("sa", "v"), wr("da", "v", "vh"), advance(RSI), advance(RDI));
      break;
    case "cmps":
      el.push(`const sa = ${si}; const da = ${di};`, rd("sa", "a"), rd("da", "b"));
      compare();
      el.push(advance(RSI), advance(RDI));
      break;
    case "scas":
      el.push(`const a = ${acc};`);
      if (size === 8) el.push(`const ah = hi[0];`);
      el.push(rd(di, "b"));
      compare();
      el.push(advance(RDI));
      break;
  }
  const lines = [`const d = (cpu.rflags & ${DF}) !== 0 ? ${-size} : ${size};`];
  if (rep === "") {
    lines.push(...el);
    return lines.join("\n");
  }
  // Fast paths for the memset/memcpy shapes: 64-bit addressing, DF = 0.
  if (mode === 64 && bits === 64 && (kind === "stos" || kind === "movs")) {
    const F = t.param("F", kind === "stos" ? repStos64(c, size) : repMovs64(c, size, srcSeg));
    lines.push(`if (d > 0) { ${F}(); return; }`);
  }
  const zero = size === 8 ? "(r | rh) === 0" : "r === 0";
  const stop = rep === "repe" ? `if (!(${zero})) break;` : rep === "repne" ? `if (${zero}) break;` : "";
  lines.push(`let it = 0;`, `while (${countNonZero}) {`, ...el, decCount, stop,
    `if (++it === ${REP_BUDGET} && ${countNonZero}) { rt.restart(cpu, ${t.param("P", c.rip)}); break; }`, `}`);
  return lines.filter(Boolean).join("\n");
}

/** Add a small signed n to the 64-bit register r. */
function add64(lo: Int32Array, hi: Int32Array, r: number, n: number): void {
  const l = (lo[r] >>> 0) + n;
  lo[r] = l | 0;
  if (l > 4294967295) hi[r] = (hi[r] + 1) | 0;
  else if (l < 0) hi[r] = (hi[r] - 1) | 0;
}

/** Elements of `size` that fit both the count in RCX and `room` bytes. */
function chunk(lo: Int32Array, hi: Int32Array, room: number, size: number): number {
  let n = Math.floor(room / size);
  if (hi[RCX] === 0 && (lo[RCX] >>> 0) < n) n = lo[RCX] >>> 0;
  return n;
}

const pageRoom = (la: number): number => 4096 - (la - Math.floor(la / 4096) * 4096);

/**
 * REP STOS with RDI, 64-bit mode, DF = 0. Per page: translate once (a #PF or #GP leaves the
 * registers at the first element of the page, which is the faulting iteration), then fill RAM
 * directly. Code pages, MMIO and page-straddling elements go through the MMU element by element.
 */
function repStos64(c: Ctx, size: Size): Op {
  const { mmu, lo, hi } = c;
  const mem = mmu.mem;
  const u8 = mem.u8, dv = mem.dv;
  const one = (la: number): void => {
    if (size === 1) mmu.wr8(la, lo[0] & 0xff);
    else if (size === 2) mmu.wr16(la, lo[0] & 0xffff);
    else if (size === 4) mmu.wr32(la, lo[0]);
    else mmu.wr64(la, lo[0], hi[0]);
    add64(lo, hi, RDI, size);
    add64(lo, hi, RCX, -1);
  };
  return () => {
    // At most PAGE_BUDGET pages (or page-sized element runs) per execution, then restart.
    let budget = PAGE_BUDGET;
    while ((lo[RCX] | hi[RCX]) !== 0) {
      if (--budget < 0) { RUNTIME.restart(c.cpu, c.rip); return; }
      const la = hi[RDI] * TWO32 + (lo[RDI] >>> 0);
      const n = chunk(lo, hi, pageRoom(la), size);
      if (n === 0) { one(la); continue; }
      const pa = mmu.translate(la, Access.WRITE);
      const pp = Math.floor(pa / 4096);
      if (!mem.isRamPage(pp) || mem.codePages[pp] !== 0) {
        for (let k = 0; k < n; k++) one(la + k * size);
        continue;
      }
      const bytes = n * size;
      const v = lo[0];
      const b = v & 0xff;
      const uniform = size === 1 || (size === 2 ? (v & 0xffff) === b * 0x101
        : v === (b * 0x01010101 | 0) && (size === 4 || hi[0] === v));
      if (uniform) u8.fill(b, pa, pa + bytes);
      else if (size === 2) for (let k = 0; k < bytes; k += 2) dv.setUint16(pa + k, v & 0xffff, true);
      else if (size === 4) for (let k = 0; k < bytes; k += 4) dv.setInt32(pa + k, v, true);
      else {
        const h = hi[0];
        for (let k = 0; k < bytes; k += 8) { dv.setInt32(pa + k, v, true); dv.setInt32(pa + k + 4, h, true); }
      }
      add64(lo, hi, RDI, bytes);
      add64(lo, hi, RCX, -n);
    }
  };
}

/**
 * REP MOVS with RSI/RDI, 64-bit mode, DF = 0. Per chunk within one source and one destination
 * page: translate the source (read) then the destination (write), then copy RAM directly. A copy
 * whose destination starts inside the source range goes element by element, like the hardware's
 * forward copy; otherwise memmove gives the same bytes.
 */
function repMovs64(c: Ctx, size: Size, srcSeg: number): Op {
  const { cpu, mmu, lo, hi } = c;
  const mem = mmu.mem;
  const u8 = mem.u8, dv = mem.dv;
  const useSeg = srcSeg === Seg.FS || srcSeg === Seg.GS;
  const one = (sa: number, da: number): void => {
    if (size === 1) mmu.wr8(da, mmu.rd8(sa));
    else if (size === 2) mmu.wr16(da, mmu.rd16(sa));
    else if (size === 4) mmu.wr32(da, mmu.rd32(sa));
    else { const v = mmu.rd64(sa); mmu.wr64(da, v, mmu.hi); }
    add64(lo, hi, RSI, size);
    add64(lo, hi, RDI, size);
    add64(lo, hi, RCX, -1);
  };
  return () => {
    const sbase = useSeg ? cpu.segBase[srcSeg] : 0;
    let budget = PAGE_BUDGET;
    while ((lo[RCX] | hi[RCX]) !== 0) {
      if (--budget < 0) { RUNTIME.restart(c.cpu, c.rip); return; }
      const sla = hi[RSI] * TWO32 + (lo[RSI] >>> 0) + sbase;
      const dla = hi[RDI] * TWO32 + (lo[RDI] >>> 0);
      const n = chunk(lo, hi, Math.min(pageRoom(sla), pageRoom(dla)), size);
      if (n === 0) { one(sla, dla); continue; }
      const spa = mmu.translate(sla, Access.READ);
      const dpa = mmu.translate(dla, Access.WRITE);
      const sp = Math.floor(spa / 4096), dp = Math.floor(dpa / 4096);
      if (!mem.isRamPage(sp) || !mem.isRamPage(dp) || mem.codePages[dp] !== 0) {
        for (let k = 0; k < n; k++) one(sla + k * size, dla + k * size);
        continue;
      }
      const bytes = n * size;
      if (dpa > spa && dpa < spa + bytes) {
        // The destination overlaps the source ahead of it: each element reads what earlier
        // elements wrote.
        if (size === 1) for (let k = 0; k < bytes; k++) u8[dpa + k] = u8[spa + k];
        else if (size === 2) for (let k = 0; k < bytes; k += 2) dv.setUint16(dpa + k, dv.getUint16(spa + k, true), true);
        else if (size === 4) for (let k = 0; k < bytes; k += 4) dv.setInt32(dpa + k, dv.getInt32(spa + k, true), true);
        else {
          for (let k = 0; k < bytes; k += 8) {
            const x = dv.getInt32(spa + k, true), y = dv.getInt32(spa + k + 4, true);
            dv.setInt32(dpa + k, x, true); dv.setInt32(dpa + k + 4, y, true);
          }
        }
      } else {
        u8.copyWithin(dpa, spa, spa + bytes);
      }
      add64(lo, hi, RSI, bytes);
      add64(lo, hi, RDI, bytes);
      add64(lo, hi, RCX, -n);
    }
  };
}

const SIZES: Array<[Size, string]> = [[1, "b"], [2, "w"], [4, "d"], [8, "q"]];
const M = Mnemonic as unknown as Record<string, Mnemonic>;

export const STRING: Array<[Mnemonic, Compiler]> = (["movs", "stos", "lods", "cmps", "scas"] as Kind[])
  .flatMap((k) => SIZES.map(([size, s]): [Mnemonic, Compiler] => {
    const name = k[0].toUpperCase() + k.slice(1) + s;
    const m = M[name];
    if (m === undefined) throw new Error(`no mnemonic ${name}`);
    return [m, stringOp(k, size)];
  }));
