// Block fusion: the ops of a basic block become one JavaScript function, so running a block is one
// call rather than one megamorphic call per instruction, and V8 optimises across instructions.
// Ops built from templates are inlined from their source; other ops are called.
import type { Cpu } from "./cpu.js";
import type { Op } from "./context.js";
import { RUNTIME, type TemplateOp } from "./codegen.js";

/**
 * Runs the whole block and returns how many instructions completed: all of them, or fewer when
 * a write rewrote cached code (cpu.abortBlock). On an exception, cpu.faultIndex names the
 * instruction that raised it.
 */
export type FusedBlock = () => number;

const PARAM = /\b([A-Z])(\d+)\b/g;

/** Collects the closure parameters of generated source: names and the values bound to them. */
export class Bindings {
  readonly names: string[] = [];
  readonly values: unknown[] = [];
  bind(name: string, value: unknown): string {
    this.names.push(name);
    this.values.push(value);
    return name;
  }
}

/**
 * The statements of one block. `tag` keeps parameter names apart between blocks of one region;
 * `onAbort(k)` is the statement run when a write invalidated cached code after instruction k-1.
 */
export function blockSource(ops: Op[], tag: string, b: Bindings, onAbort: (k: number) => string): string {
  const parts: string[] = [];
  const n = ops.length;
  for (let k = 0; k < n; k++) {
    const op = ops[k] as TemplateOp;
    const src = op.source;
    let body: string;
    let writes: boolean;
    // A body with its own `return` cannot be inlined as a statement block; call that op instead.
    if (src && !/\breturn\b/.test(src.body)) {
      // Rename this instruction's parameters apart from the others': R0 -> R0_<tag>_k.
      body = src.body.replace(PARAM, (_m, p: string, d: string) => `${p}${d}_${tag}${k}`);
      src.names.forEach((nm, i) => b.bind(`${nm}_${tag}${k}`, src.values[i]));
      // Writes may rewrite cached code; a REP that yields (rt.restart) ends the block too.
      writes = body.includes("mmu.wr") || body.includes("rt.restart");
    } else {
      body = `${b.bind(`OP_${tag}${k}`, op)}();`;
      writes = true;
    }
    parts.push(`k = ${k};\n{\n${body}\n}`);
    if (writes && k + 1 < n) parts.push(`if (cpu.abortBlock) ${onAbort(k + 1)}`);
  }
  return parts.join("\n");
}

type Factory<T> = (...args: unknown[]) => T;
const factories = new Map<string, Factory<unknown>>();

/** Compile generated source into a function bound to this CPU and the given parameters. */
export function instantiate<T>(cpu: Cpu, source: string, b: Bindings): T {
  let factory = factories.get(source) as Factory<T> | undefined;
  if (!factory) {
    factory = new Function("cpu", "mmu", "lo", "hi", "f", "rt", ...b.names, `"use strict";\n${source}`) as Factory<T>;
    factories.set(source, factory);
  }
  return factory(cpu, cpu.mmu, cpu.lo, cpu.hi, cpu.f, RUNTIME, ...b.values);
}

export function fuse(cpu: Cpu, ops: Op[], la = 0): FusedBlock {
  const b = new Bindings();
  const body = blockSource(ops, "", b, (k) => `return ${k};`);
  const fname = `block_${BigInt.asUintN(64, BigInt(la)).toString(16)}`;
  const source = `return function ${fname}() {\nlet k = 0;\ntry {\n${body}\n} catch (e) { cpu.faultIndex = k; throw e; }\nreturn ${ops.length};\n};`;
  return instantiate<FusedBlock>(cpu, source, b);
}
