// The decode cache: basic blocks of compiled ops, keyed by physical address and mode, decoded once.
import { Decoder, DecoderError, DecoderOptions, FlowControl, Mnemonic, OpKind, type Instruction } from "iced-x86";
import type { Cpu } from "./cpu.js";
import type { Ctx, Op } from "./context.js";
import { compileInstruction, endsBlock } from "./compile.js";
import { Access } from "../mem/paging.js";
import type { FusedBlock } from "./fuse.js";
import { regionEligible, type Region } from "./region.js";
import { PAGE_SHIFT } from "../mem/physical.js";

const MAX_BLOCK_INSNS = 32;
const L1_SIZE = 4096;

export interface Block {
  readonly la: number;
  readonly pa: number;
  readonly modeKey: number;
  readonly ops: Op[];
  /** Linear address of each instruction, and the address after the block. */
  readonly rips: number[];
  readonly lens: number[];
  readonly endRip: number;
  /** Physical address of each instruction's first byte (for debuggers). */
  readonly pas: number[];
  readonly bytes: Uint8Array;
  valid: boolean;
  /** Physical pages holding this block's bytes. */
  readonly pages: number[];
  /** Mnemonic of each instruction, for breakpoints and statistics. */
  readonly mnemonics: Mnemonic[];
  /** All ops fused into one function (see fuse.ts); made on the block's second execution. */
  fused: FusedBlock | undefined;
  /** Executions so far, to fuse only blocks that run more than once. */
  runs: number;
  /** Linear addresses this block can continue at, known statically (branch targets, fall-through). */
  readonly successors: number[];
  /** May join a region (see region.ts); cleared when a region from here did not pay. */
  regionOk: boolean;
  /** The regions this block belongs to (normally one live one). */
  readonly regions: Region[];
}

export class BlockCache {
  private readonly byKey = new Map<number, Block>();
  private readonly byPage = new Map<number, Block[]>();
  // The L1 maps a linear RIP to its block while the translation holds. Entries carry the
  // generation they were made in; bumping `gen` empties the L1 in O(1) (VM entries and exits
  // flush the TLB twice per round trip, so a 4096-entry fill there was a real cost).
  private readonly l1: Array<Block | undefined> = new Array(L1_SIZE).fill(undefined);
  private readonly l1Gen = new Int32Array(L1_SIZE).fill(-1);
  private gen = 0;
  private mmuEpoch = -1;
  /** The block being executed, so that self-modifying code can stop it. */
  current: Block | undefined;
  stats = { lookups: 0, hits: 0, compiles: 0, invalidations: 0, decodedInsns: 0 };

  constructor(private readonly cpu: Cpu) {
    cpu.mem.onCodeWrite = (pa, len) => this.invalidateRange(pa, len);
    const prev = cpu.onModeChange;
    cpu.onModeChange = () => { prev(); this.gen++; };
  }

  /** The block at the current RIP: L1 hit in steady state, else a decode-cache lookup or compile. */
  lookup(): Block {
    const cpu = this.cpu;
    const la = cpu.rip;
    if (cpu.mmu.epoch !== this.mmuEpoch) { this.gen++; this.mmuEpoch = cpu.mmu.epoch; }
    const l = la | 0;
    const slot = (l ^ (l >>> 12)) & (L1_SIZE - 1);
    const b = this.l1[slot];
    this.stats.lookups++;
    if (this.l1Gen[slot] === this.gen && b !== undefined && b.la === la) { this.stats.hits++; return b; }
    const pa = cpu.mmu.translate(la, Access.FETCH);
    const key = pa * 4 + cpu.modeKey;
    let blk = this.byKey.get(key);
    if (blk !== undefined && blk.pages.length > 1 && !this.secondPageStill(blk)) {
      this.drop(blk);
      blk = undefined;
    }
    if (blk === undefined || blk.la !== la) {
      blk = this.compile(la, pa);
      this.byKey.set(key, blk);
    } else {
      this.stats.hits++;
    }
    this.l1[slot] = blk;
    this.l1Gen[slot] = this.gen;
    return blk;
  }

  private compile(la: number, pa: number): Block {
    const cpu = this.cpu;
    this.stats.compiles++;
    const inPage = 4096 - (pa & 0xfff);
    const first = cpu.mem.readBytes(pa, inPage);
    let bytes = first;
    let pa2 = -1;
    try {
      pa2 = cpu.mmu.translate(la + inPage, Access.FETCH);
      const tail = cpu.mem.readBytes(pa2, 15);
      bytes = new Uint8Array(inPage + 15);
      bytes.set(first); bytes.set(tail, inPage);
    } catch {
      // The next page is not fetchable: only an instruction that really crosses into it faults.
    }
    const decoder = new Decoder(cpu.mode, bytes, DecoderOptions.None);
    decoder.ip = BigInt.asUintN(64, BigInt(la));
    const ops: Op[] = [], rips: number[] = [], lens: number[] = [], pas: number[] = [], mnemonics: Mnemonic[] = [];
    let off = 0;
    let crossed = false;
    const successors: number[] = [];
    let regionOk = false;
    const ins: Instruction = decoder.decode();
    try {
      for (;;) {
        decoder.position = off;
        decoder.ip = BigInt.asUintN(64, BigInt(la + off));
        decoder.decodeOut(ins);
        const len = ins.length;
        if (ins.isInvalid && decoder.lastError === DecoderError.NoMoreBytes) {
          // Ran off the end of the fetchable bytes: fetching the next page is what faults.
          if (ops.length > 0) break;
          cpu.mmu.translate(la + inPage, Access.FETCH);
        }
        const rip = la + off;
        const ctx: Ctx = {
          cpu, mmu: cpu.mmu, lo: cpu.lo, hi: cpu.hi, f: cpu.f, mode: cpu.mode, stackBits: cpu.stackBits(),
          ins, rip, next: rip + len,
        };
        ops.push(compileInstruction(ctx));
        rips.push(rip); lens.push(len); pas.push(pa + off); mnemonics.push(ins.mnemonic);
        this.stats.decodedInsns++;
        off += len;
        if (off > inPage) crossed = true;
        const last = ins.isInvalid || endsBlock(ins) || off >= inPage || ops.length >= MAX_BLOCK_INSNS;
        if (last || ins.flowControl !== FlowControl.Next) {
          regionOk = !ins.isInvalid && regionEligible(ins) && (ins.flowControl !== FlowControl.Next || !endsBlock(ins));
          const fc = ins.flowControl;
          if (fc === FlowControl.ConditionalBranch || fc === FlowControl.UnconditionalBranch || fc === FlowControl.Call) {
            const k = ins.op0Kind;
            if (k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64) {
              successors.push(Number(BigInt.asIntN(64, ins.nearBranchTarget)));
            }
          }
          if (fc === FlowControl.Next || fc === FlowControl.ConditionalBranch || fc === FlowControl.Call || fc === FlowControl.IndirectCall) {
            successors.push(la + off);
          }
          break;
        }
      }
    } finally {
      ins.free();
      decoder.free();
    }
    const pages = [Math.floor(pa / 4096)];
    if (crossed && pa2 >= 0) pages.push(Math.floor(pa2 / 4096));
    const blk: Block = {
      la, pa, modeKey: cpu.modeKey, ops, rips, lens, pas, endRip: la + off, valid: true, pages,
      bytes: bytes.slice(0, off), mnemonics, fused: undefined, runs: 0,
      successors, regionOk, regions: [],
    };
    for (const p of pages) this.addToPage(p, blk);
    return blk;
  }

  /**
   * A block whose last instruction runs onto the next page was compiled for one mapping of that
   * page: check that the page is still fetchable and maps to the same physical page.
   */
  private secondPageStill(blk: Block): boolean {
    const next = Math.floor(blk.la / 4096) * 4096 + 4096;
    try {
      return Math.floor(this.cpu.mmu.translate(next, Access.FETCH) / 4096) === blk.pages[1];
    } catch {
      return false;
    }
  }

  private addToPage(page: number, blk: Block): void {
    let list = this.byPage.get(page);
    if (!list) {
      list = [];
      this.byPage.set(page, list);
      if (page < this.cpu.mem.codePages.length) {
        this.cpu.mem.codePages[page] = 1;
        this.cpu.mmu.dropWritesTo(page);
      }
    }
    list.push(blk);
  }

  /** A guest write hit a page holding code: drop blocks whose bytes it overlaps. */
  invalidateRange(pa: number, len: number): void {
    const first = Math.floor(pa / 4096), last = Math.floor((pa + len - 1) / 4096);
    for (let p = first; p <= last; p++) {
      const list = this.byPage.get(p);
      if (!list) continue;
      const keep: Block[] = [];
      for (const b of list) {
        if (overlaps(b, pa, len)) this.drop(b);
        else keep.push(b);
      }
      if (keep.length === 0) {
        this.byPage.delete(p);
        if (p < this.cpu.mem.codePages.length) this.cpu.mem.codePages[p] = 0;
      } else {
        this.byPage.set(p, keep);
      }
    }
  }

  private drop(b: Block): void {
    if (!b.valid) return;
    b.valid = false;
    for (const r of b.regions) r.valid = false;
    this.stats.invalidations++;
    this.byKey.delete(b.pa * 4 + b.modeKey);
    this.gen++;
    // Whatever is running (a block or a region) stops after the current instruction.
    if (this.current !== undefined) this.cpu.abortBlock = true;
  }

  /** The compiled block at linear address `la` in the current mode, if any, without compiling. */
  peek(la: number): Block | undefined {
    let pa: number;
    try { pa = this.cpu.mmu.translate(la, Access.FETCH); } catch { return undefined; }
    const b = this.byKey.get(pa * 4 + this.cpu.modeKey);
    return b !== undefined && b.la === la && (b.pages.length === 1 || this.secondPageStill(b)) ? b : undefined;
  }

  /** Drop everything (a debugger changed memory, or a test wants a cold cache). */
  clear(): void {
    for (const list of this.byPage.values()) for (const b of list) { b.valid = false; for (const r of b.regions) r.valid = false; }
    for (const p of this.byPage.keys()) if (p < this.cpu.mem.codePages.length) this.cpu.mem.codePages[p] = 0;
    this.byKey.clear();
    this.byPage.clear();
    this.gen++;
  }

  get size(): number { return this.byKey.size; }
}

function overlaps(b: Block, pa: number, len: number): boolean {
  // Instructions occupy [b.pa, b.pa + bytes) on the first page and continue on the second.
  const firstEnd = Math.min(b.pa + b.bytes.length, (Math.floor(b.pa / 4096) + 1) * 4096);
  if (pa < firstEnd && b.pa < pa + len) return true;
  if (b.pages.length > 1) {
    const start2 = b.pages[1] * 4096;
    const end2 = start2 + (b.pa + b.bytes.length - firstEnd);
    if (pa < end2 && start2 < pa + len) return true;
  }
  return false;
}

export { PAGE_SHIFT };
