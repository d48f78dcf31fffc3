// The command line: `hyperstep run FILE [options]`.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { Machine, DEFAULT_MEM_MIB } from "./machine/machine.js";
import { LoadError } from "./machine/loaders/image.js";
import { ExitStatus } from "./machine/exit-status.js";
import { FdOutput } from "./machine/output.js";
import { traceHook } from "./debug/trace.js";
import { formatStats } from "./debug/stats.js";

export const USAGE = `usage: hyperstep run FILE [options]

Runs a bare-metal x86-64 kernel: a Multiboot v1 kernel (ELF32, ELF64 or a.out kludge),
a plain ELF64 (started in 64-bit mode), or a flat binary (--load-addr).

options:
  --mem MiB            guest RAM in MiB (default ${DEFAULT_MEM_MIB})
  --append STR         Multiboot command line after the kernel name (like QEMU's -append)
  --max-insns N        stop after N instructions, exceptions included (exit status 6)
  --stats              print statistics on stderr at the end
  --trace[=FILE]       print every executed instruction (to stderr, or FILE)
  --debugcon stdout|FILE  send port 0xE9 output to stdout or FILE (off by default)
  --vmx-log            log VM entries, VM exits and every failed VM-entry check on stderr
  --load-addr ADDR     load FILE as a flat binary at ADDR (64-bit mode entry)
  --entry ADDR         entry point of a flat binary (default: the load address)
  -h, --help           show this help
  --version            print the version

exit status:
  0    the guest halted (HLT with nothing to wake it)
  1,3,5,...  the guest wrote v to isa-debug-exit (port 0xF4): (v << 1) | 1, as QEMU
  2    bad command line or a file that cannot be loaded
  4    triple fault or VMX abort
  6    --max-insns reached
  8    internal error (an emulator bug; the report names RIP, bytes and disassembly)
`;

class UsageError extends Error {}

interface RunArgs {
  file: string; mem: number; append?: string; maxInsns?: number; stats: boolean;
  trace?: string | true; debugcon?: string; loadAddr?: number; entry?: number; vmxLog: boolean;
}

function parseNumber(opt: string, v: string | undefined): number {
  if (v === undefined || v === "") throw new UsageError(`${opt} needs a value`);
  const s = v.replace(/_/g, "");
  const n = /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${opt}: not a number: ${v}`);
  return n;
}

export function parseRunArgs(argv: string[]): RunArgs {
  const out: Partial<RunArgs> = { mem: DEFAULT_MEM_MIB, stats: false, vmxLog: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith("--") && eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case "--mem": out.mem = parseNumber(name, value()); break;
      case "--append": out.append = value(); break;
      case "--max-insns": out.maxInsns = parseNumber(name, value()); break;
      case "--stats": out.stats = true; break;
      case "--vmx-log": out.vmxLog = true; break;
      case "--trace": out.trace = inline ?? true; break;
      case "--debugcon": out.debugcon = value(); break;
      case "--load-addr": out.loadAddr = parseNumber(name, value()); break;
      case "--entry": out.entry = parseNumber(name, value()); break;
      default:
        if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
        if (out.file !== undefined) throw new UsageError(`unexpected argument ${a}`);
        out.file = a;
    }
  }
  if (out.file === undefined) throw new UsageError("run needs a FILE");
  return out as RunArgs;
}

export function main(argv: string[]): number {
  const stderr = new FdOutput(2);
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined) { stderr.write(USAGE); return ExitStatus.BAD_INPUT; }
    if (cmd === "-h" || cmd === "--help" || cmd === "help") { process.stdout.write(USAGE); return 0; }
    if (cmd === "--version") { process.stdout.write("hyperstep 0.1.0\n"); return 0; }
    if (cmd !== "run") throw new UsageError(`unknown command ${cmd}`);
    if (rest.includes("-h") || rest.includes("--help")) { process.stdout.write(USAGE); return 0; }
    return run(parseRunArgs(rest), stderr);
  } catch (e) {
    if (e instanceof UsageError) {
      stderr.write(`hyperstep: ${e.message}\n(see hyperstep --help)\n`);
      return ExitStatus.BAD_INPUT;
    }
    throw e;
  } finally {
    stderr.close();
  }
}

function run(args: RunArgs, stderr: FdOutput): number {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(args.file);
  } catch (e) {
    stderr.write(`hyperstep: ${args.file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}\n`);
    return ExitStatus.BAD_INPUT;
  }
  const stdout = new FdOutput(1);
  const outputs: FdOutput[] = [stdout];
  const open = (path: string): FdOutput => {
    if (path === "stdout") return stdout;
    if (path === "stderr") return stderr;
    const o = FdOutput.open(path);
    outputs.push(o);
    return o;
  };
  try {
    // Output files first: a file that cannot be created is a bad command line, before anything runs.
    let debugcon: FdOutput | undefined, trace: FdOutput | undefined;
    try {
      if (args.debugcon !== undefined) debugcon = open(args.debugcon);
      if (args.trace !== undefined) trace = args.trace === true ? stderr : open(args.trace);
    } catch (e) {
      stderr.write(`hyperstep: ${(e as Error).message}\n`);
      return ExitStatus.BAD_INPUT;
    }
    let machine: Machine;
    try {
      machine = new Machine({
        memMiB: args.mem, serial: stdout.byte,
        debugcon: debugcon?.byte,
      });
    } catch (e) {
      stderr.write(`hyperstep: ${(e as Error).message}\n`);
      return ExitStatus.BAD_INPUT;
    }
    try {
      machine.load(bytes, { append: args.append, name: args.file, loadAddr: args.loadAddr, entry: args.entry });
    } catch (e) {
      if (e instanceof LoadError) {
        stderr.write(`hyperstep: ${basename(args.file)}: ${e.message}\n`);
        return ExitStatus.BAD_INPUT;
      }
      throw e;
    }
    if (args.vmxLog) machine.cpu.vmx.log = (line) => stderr.write(`hyperstep: vmx: ${line}\n`);
    if (trace !== undefined) {
      const out = trace;
      machine.exec.trace = traceHook(machine.cpu, (line) => out.write(line));
    }
    const result = machine.run({ maxInstructions: args.maxInsns });
    stdout.flush();
    if (result.reason !== "exit-device") stderr.write(`hyperstep: ${result.message}\n`);
    if (args.stats) stderr.write(formatStats(machine, result));
    return result.exitStatus;
  } finally {
    for (const o of outputs) o.close();
  }
}
