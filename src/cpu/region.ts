// Regions: the hot blocks around a loop compiled into one function that dispatches on RIP with a
// switch. Going from block to block inside a region is a switch, not a megamorphic call through
// the run loop, which is the dominant cost once blocks are fused (about 25-50 ns per block).
//
// A region holds only blocks that cannot change the mode, paging or segment state (those end
// with system instructions and are left out), so its blocks stay valid while it runs; a write to
// cached code makes it return at once (cpu.abortBlock), and exceptions propagate out of it.
import { FlowControl, Mnemonic, OpKind, type Instruction } from "iced-x86";
import type { Block } from "./block-cache.js";
import type { Cpu } from "./cpu.js";
import { Bindings, blockSource, instantiate } from "./fuse.js";

/** Runs blocks until RIP leaves the region or about REGION_BUDGET instructions retired. */
export type RegionFn = () => number;

export const REGION_BUDGET = 20_000;
const MAX_REGION_BLOCKS = 64;
/**
 * V8 does not optimise functions with too much bytecode (about 60 KB), and a region it will not
 * optimise is slower than separate blocks; so regions stay small.
 */
const MAX_REGION_INSNS = Number(process.env.HYPERSTEP_REGION_INSNS ?? 64);

export interface Region {
  readonly fn: RegionFn;
  readonly blocks: Block[];
  readonly epoch: number;
  readonly modeKey: number;
  valid: boolean;
}

/** Whether a block may join a region: it ends in a plain near branch or falls through. */
export function regionEligible(last: Instruction): boolean {
  switch (last.flowControl) {
    case FlowControl.Next: case FlowControl.ConditionalBranch: case FlowControl.Return:
    case FlowControl.UnconditionalBranch: case FlowControl.IndirectBranch:
    case FlowControl.Call: case FlowControl.IndirectCall:
      break;
    default:
      return false;
  }
  if (last.mnemonic === Mnemonic.Retf || last.isJmpFar || last.isJmpFarIndirect || last.isCallFar || last.isCallFarIndirect) return false;
  return last.op0Kind !== OpKind.FarBranch16 && last.op0Kind !== OpKind.FarBranch32;
}

/**
 * Build the region entered at `entry`: blocks reachable through static successors that are
 * already compiled (`peek`) and eligible.
 */
export function buildRegion(cpu: Cpu, entry: Block, peek: (la: number) => Block | undefined): Region | undefined {
  const blocks: Block[] = [entry];
  const seen = new Set<number>([entry.la]);
  let insns = entry.ops.length;
  for (let i = 0; i < blocks.length && blocks.length < MAX_REGION_BLOCKS; i++) {
    for (const t of blocks[i].successors) {
      if (seen.has(t)) continue;
      seen.add(t);
      const s = peek(t);
      // A block already in a live region stays there: regions must not copy each other's code.
      if (s && s.valid && s.regionOk && s.modeKey === entry.modeKey && !s.regions.some((r) => r.valid) &&
        insns + s.ops.length <= MAX_REGION_INSNS && blocks.length < MAX_REGION_BLOCKS) {
        blocks.push(s);
        insns += s.ops.length;
      }
    }
  }
  // Only loops pay: a region whose blocks never come back to the entry would be entered and left
  // again on every pass, paying a region call on top of the block dispatch it meant to save.
  if (!blocks.some((blk) => blk.successors.includes(entry.la))) return undefined;
  const b = new Bindings();
  const cases = blocks.map((blk, bi) => {
    const rips = b.bind(`RIPS_${bi}`, blk.rips);
    const body = blockSource(blk.ops, `b${bi}_`, b,
      (k) => `{ if (!cpu.switched) cpu.rip = ${rips}[${k}]; return n + ${k}; }`);
    return `case ${blk.la}: {\ncur = ${bi}; cpu.rip = ${blk.endRip};\n${body}\nn += ${blk.ops.length};\nbreak;\n}`;
  });
  const fname = `region_${BigInt.asUintN(64, BigInt(entry.la)).toString(16)}`;
  const source = `return function ${fname}() {
let n = 0, k = 0, cur = 0;
try {
  for (;;) {
    switch (cpu.rip) {
${cases.join("\n")}
      default: return n;
    }
    if (n >= ${REGION_BUDGET}) return n;
  }
} catch (e) { cpu.faultIndex = k; cpu.regionBlock = cur; cpu.regionDone = n; throw e; }
};`;
  const region: Region = {
    fn: instantiate<RegionFn>(cpu, source, b), blocks, epoch: cpu.mmu.epoch, modeKey: entry.modeKey, valid: true,
  };
  for (const blk of blocks) blk.regions.push(region);
  return region;
}
