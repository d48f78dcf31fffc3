// The run loop: look up the block at RIP, run its ops, deliver exceptions, stop on request.
import { CanonicalFault, Fault, Stop } from "./fault.js";
import { Fl } from "./flags.js";
import { refineCanonicalFault } from "./stack-fault.js";
import { ContextSwitch } from "../vmx/vmx.js";
import { raise } from "./exceptions.js";
import { BlockCache, type Block } from "./block-cache.js";
import type { Cpu } from "./cpu.js";
import { describeCode } from "../debug/disasm.js";
import { fuse } from "./fuse.js";
import { buildRegion, REGION_BUDGET, type Region } from "./region.js";

/** Blocks that run this many times become the entry of a region. */
const REGION_AFTER = Number(process.env.HYPERSTEP_REGION_AFTER ?? 64);
const NO_REGION = Symbol("no region");

/** Blocks that run this many times get fused into one function. */
const SLICE_BLOCKS = 4096;
const FUSE_AFTER = Number(process.env.HYPERSTEP_FUSE_AFTER ?? 2);

/** Called before each instruction when tracing: the block and the instruction's index in it. */
export type TraceHook = (b: Block, i: number) => void;

export class Executor {
  readonly cache: BlockCache;
  trace: TraceHook | undefined;
  readonly stats = { regions: 0 };

  constructor(readonly cpu: Cpu) {
    this.cache = new BlockCache(cpu);
  }

  /** Run until a Stop: halt, device exit, triple fault, or `limit` retired instructions. */
  run(limit = Infinity): Stop {
    for (;;) {
      const s = this.slice(limit);
      if (s !== undefined) return s;
    }
  }

  /**
   * Run at most SLICE_BLOCKS blocks. The hot loop lives in a short-lived call rather than one
   * endless loop, so that V8 optimises it as a normal function instead of relying on on-stack
   * replacement, and recovers quickly after a deoptimisation.
   */
  private slice(limit: number): Stop | undefined {
    const cpu = this.cpu;
    const cache = this.cache;
    for (let iter = 0; iter < SLICE_BLOCKS; iter++) {
      // Exceptions count too, so a guest stuck faulting forever still meets its limit.
      if (cpu.icount + cpu.exceptionsDelivered >= limit) return new Stop("max-insns", `instruction limit reached at RIP 0x${cpu.ripU64().toString(16)}`);
      let b: Block;
      try {
        b = cache.lookup();
      } catch (e) {
        // A fetch fault: RIP already names the instruction that could not be fetched.
        const s = this.fault(e, undefined, 0);
        if (s) return s;
        continue;
      }
      const ops = b.ops;
      const len = ops.length;
      let n = len;
      const remaining = limit - cpu.icount - cpu.exceptionsDelivered;
      if (n > remaining) n = remaining;
      // RF (set by IRET after a fault) and the STI/MOV SS interrupt shadow last for one
      // instruction: run that one on its own, then clear them.
      const rf = (cpu.rflags & Fl.RF) !== 0 || cpu.interruptShadow;
      if (rf) n = 1;
      cpu.rip = n === len ? b.endRip : b.rips[n];
      cache.current = b;
      if (n === len && this.trace === undefined && !rf) {
        let fb = b.fused;
        b.runs++;
        if (fb === undefined && b.runs >= FUSE_AFTER) fb = b.fused = fuse(cpu, ops, b.la);
        if (fb !== undefined) {
          if (b.regionOk && remaining > REGION_BUDGET + 64) {
            const s = this.tryRegion(b);
            if (s !== NO_REGION) {
              cache.current = undefined;
              if (s !== undefined) return s;
              continue;
            }
          }
          try {
            const done = fb();
            cpu.icount += done;
            if (cpu.abortBlock) {
              cpu.abortBlock = false;
              if (cpu.switched) {
                const s = this.afterSwitch();
                if (s) return s;
              } else if (done < len) cpu.rip = b.rips[done];
            }
          } catch (e) {
            const k = cpu.faultIndex;
            cpu.icount += k;
            const s = this.fault(e, b, k);
            if (s) return s;
          }
          cache.current = undefined;
          continue;
        }
      }
      let i = 0;
      try {
        if (this.trace === undefined) {
          for (; i < n; i++) {
            ops[i]();
            if (cpu.abortBlock) { this.abort(b, i); i++; break; }
          }
        } else {
          const hook = this.trace;
          for (; i < n; i++) {
            const next = cpu.rip;
            cpu.rip = b.rips[i];
            hook(b, i);
            cpu.rip = next;
            ops[i]();
            if (cpu.abortBlock) { this.abort(b, i); i++; break; }
          }
        }
        cpu.icount += i;
        if (rf && i > 0 && !this.pendingSwitch) { cpu.rflags &= ~Fl.RF; cpu.interruptShadow = false; cpu.movSsShadow = false; }
        if (this.pendingSwitch) {
          this.pendingSwitch = false;
          const s = this.afterSwitch();
          if (s) return s;
        }
      } catch (e) {
        cpu.icount += i;
        const s = this.fault(e, b, i);
        if (s) return s;
      }
      cache.current = undefined;
    }
    return undefined;
  }

  /**
   * Run the region entered at b, building it once b is hot. Returns NO_REGION when there is
   * none to run, else what a fault inside it produced (undefined to continue).
   */
  private tryRegion(b: Block): Stop | undefined | typeof NO_REGION {
    const cpu = this.cpu;
    // Enter any live region that holds this block; its switch starts at this block's case.
    let r: Region | undefined;
    const rs = b.regions;
    for (let i = 0; i < rs.length; i++) {
      const x = rs[i];
      if (x.valid && x.epoch === cpu.mmu.epoch && x.modeKey === cpu.modeKey) { r = x; break; }
    }
    if (r === undefined) {
      if (b.runs < REGION_AFTER) return NO_REGION;
      // Stale regions go; the block earns a new one.
      if (rs.length > 0) { rs.length = 0; b.runs = FUSE_AFTER; return NO_REGION; }
      r = buildRegion(cpu, b, (la) => this.cache.peek(la));
      if (r === undefined) { b.regionOk = false; return NO_REGION; }
      this.stats.regions++;
    }
    cpu.rip = b.la;
    try {
      cpu.icount += r.fn();
      if (cpu.abortBlock) {
        cpu.abortBlock = false;
        if (cpu.switched) return this.afterSwitch();
      }
    } catch (e) {
      const blk = r.blocks[cpu.regionBlock];
      const k = cpu.faultIndex;
      cpu.icount += cpu.regionDone + k;
      return this.fault(e, blk, k);
    }
    return undefined;
  }

  private abort(b: Block, i: number): void {
    // The instruction at i rewrote code in this block: continue at the next instruction.
    this.cpu.abortBlock = false;
    if (this.cpu.switched) { this.pendingSwitch = true; return; }
    if (i + 1 < b.ops.length) this.cpu.rip = b.rips[i + 1];
  }
  private pendingSwitch = false;

  /**
   * After a VM entry or exit inside a block: the switching instruction was counted as retired;
   * take it back for an exit, and deliver an event the entry injects.
   */
  private afterSwitch(): Stop | undefined {
    const cpu = this.cpu;
    cpu.switched = false;
    if (!cpu.switchRetired) cpu.icount--;
    const inject = cpu.vmx.pendingInjection;
    if (inject !== undefined) {
      cpu.vmx.pendingInjection = undefined;
      return this.fault(inject, undefined, 0);
    }
    return undefined;
  }

  /** Handle something thrown while running instruction i of block b; a Stop ends the run. */
  private fault(e: unknown, b: Block | undefined, i: number): Stop | undefined {
    const cpu = this.cpu;
    this.cache.current = undefined;
    cpu.abortBlock = false;
    if (e instanceof Fault) {
      let f: Fault = e;
      if (b) {
        cpu.rip = b.rips[i];
        if (f instanceof CanonicalFault) {
          const off = b.rips[i] - b.la;
          f = refineCanonicalFault(cpu, f, b.bytes.subarray(off, off + b.lens[i]), b.rips[i]);
        }
        // Traps and INT n complete the instruction: it retires.
        if (!Number.isNaN(f.returnRip)) cpu.icount++;
      }
      try {
        raise(cpu, f);
      } catch (e2) {
        if (e2 instanceof Stop) return e2;
        // The exception bitmap turned the exception into a VM exit.
        if (e2 instanceof ContextSwitch) return undefined;
        return this.internal(e2, b, i);
      }
      return undefined;
    }
    if (e instanceof Stop) {
      if (e.reason === "halt" || e.reason === "exit-device") cpu.icount++;
      return e;
    }
    if (e instanceof ContextSwitch) {
      // A VM entry or exit already switched RIP and the rest of the state.
      if (e.retired) cpu.icount++;
      const inject = cpu.vmx.pendingInjection;
      if (inject !== undefined) {
        cpu.vmx.pendingInjection = undefined;
        return this.fault(inject, undefined, 0);
      }
      return undefined;
    }
    return this.internal(e, b, i);
  }

  /** An emulator bug or unimplemented path: report RIP, bytes and disassembly, keep the state. */
  private internal(e: unknown, b: Block | undefined, i: number): Stop {
    const cpu = this.cpu;
    const msg = e instanceof Error ? e.message : String(e);
    let where = `RIP 0x${cpu.ripU64().toString(16)}`;
    if (b && i < b.rips.length) {
      cpu.rip = b.rips[i];
      where = describeCode(cpu, b.rips[i]);
    }
    return new Stop("internal", `internal error at ${where}: ${msg}`);
  }
}
