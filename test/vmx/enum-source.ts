// Reads the members of an `export const enum` straight from a source file, so tests can check that
// a const enum (erased by tsc) and the runtime tables written beside it say the same thing.
import { readFileSync } from "node:fs";

function evaluate(expr: string): number {
  const e = expr.trim();
  let m: RegExpMatchArray | null;
  if ((m = /^1\s*<<\s*(\d+)$/.exec(e)) !== null) return 1 << Number(m[1]);
  if (/^(0x[0-9a-f]+|\d+)$/i.test(e)) return Number(e);
  throw new Error(`cannot evaluate enum initialiser ${e}`);
}

/** Members of `export const enum <name>` in src/vmx/<file>, in source order. */
export function constEnumMembers(file: string, name: string): Array<[string, number]> {
  const src = readFileSync(new URL(`../../src/vmx/${file}`, import.meta.url), "utf8");
  const block = new RegExp(`export const enum ${name} \\{([\\s\\S]*?)\\n\\}`).exec(src);
  if (block === null) throw new Error(`no const enum ${name} in ${file}`);
  const out: Array<[string, number]> = [];
  for (const m of block[1].matchAll(/^\s*([A-Z0-9_]+)\s*=\s*([^,\n]+),?\s*(?:\/\/.*)?$/gm)) {
    out.push([m[1], evaluate(m[2])]);
  }
  return out;
}
