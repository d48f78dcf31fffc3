// Block fusion: the ops of a basic block become one JavaScript function, so running a block is one
// call rather than one megamorphic call per instruction, and V8 optimises across instructions.
// Ops built from templates are inlined from their source; other ops are called.
import type { Cpu } from "./cpu.js";
import type { Op } from "./context.js";
import { RUNTIME, type TemplateOp } from "./codegen.js";

/**
 * Runs the whole block and returns how many instructions completed: all of them, or fewer when
 * a write rewrote this block (cpu.abortBlock). On an exception, cpu.faultIndex names the
 * instruction that raised it.
 */
export type FusedBlock = () => number;

const PARAM = /\b([A-Z])(\d+)\b/g;
const cache = new Map<string, (...args: unknown[]) => FusedBlock>();

export function fuse(cpu: Cpu, ops: Op[], la = 0): FusedBlock {
  const names: string[] = [];
  const values: unknown[] = [];
  const parts: string[] = [];
  const n = ops.length;
  for (let k = 0; k < n; k++) {
    const op = ops[k] as TemplateOp;
    const src = op.source;
    let body: string;
    let writes: boolean;
    // A body with its own `return` cannot be inlined as a statement block; call that op instead.
    if (src && !/\breturn\b/.test(src.body)) {
      // Rename this instruction's parameters apart from the others': R0 -> R0_k.
      body = src.body.replace(PARAM, (_m, p: string, d: string) => `${p}${d}_${k}`);
      src.names.forEach((nm, i) => { names.push(`${nm}_${k}`); values.push(src.values[i]); });
      writes = body.includes("mmu.wr");
    } else {
      const name = `OP_${k}`;
      names.push(name); values.push(op);
      body = `${name}();`;
      writes = true;
    }
    parts.push(`k = ${k};\n{\n${body}\n}`);
    if (writes && k + 1 < n) parts.push(`if (cpu.abortBlock) return ${k + 1};`);
  }
  const fname = `block_${BigInt.asUintN(64, BigInt(la)).toString(16)}`;
  const source = `"use strict"; return function ${fname}() {\nlet k = 0;\ntry {\n${parts.join("\n")}\n} catch (e) { cpu.faultIndex = k; throw e; }\nreturn ${n};\n};`;
  let factory = cache.get(source);
  if (!factory) {
    factory = new Function("cpu", "mmu", "lo", "hi", "f", "rt", ...names, source) as (...args: unknown[]) => FusedBlock;
    cache.set(source, factory);
  }
  return factory(cpu, cpu.mmu, cpu.lo, cpu.hi, cpu.f, RUNTIME, ...values);
}
