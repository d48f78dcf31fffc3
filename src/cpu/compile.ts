// Instruction compiler dispatch: iced-x86 mnemonic -> the family compiler that builds its op.
import { FlowControl, Mnemonic, OpKind, Register, type Instruction } from "iced-x86";
import type { Compiler, Ctx, Op } from "./context.js";
import { FAMILIES } from "./ops/index.js";
import { Fault, Vec } from "./fault.js";
import { ContextSwitch } from "../vmx/vmx.js";
import type { Cpu } from "./cpu.js";
import type { TemplateOp } from "./codegen.js";

const TABLE = new Map<Mnemonic, Compiler>();
for (const family of FAMILIES) {
  for (const [m, c] of family) {
    if (TABLE.has(m)) throw new Error(`two compilers for ${Mnemonic[m]}`);
    TABLE.set(m, c);
  }
}

/** Mnemonics after which cached assumptions (mode, paging, interrupt state) may change. */
const SYSTEM_ENDS = new Set<Mnemonic>([
  Mnemonic.Hlt, Mnemonic.Lgdt, Mnemonic.Lidt, Mnemonic.Ltr, Mnemonic.Lldt, Mnemonic.Invlpg,
  Mnemonic.Wrmsr, Mnemonic.Rdmsr, Mnemonic.Cpuid, Mnemonic.Sti, Mnemonic.Cli, Mnemonic.Popf, Mnemonic.Popfd,
  Mnemonic.Popfq, Mnemonic.In, Mnemonic.Out, Mnemonic.Insb, Mnemonic.Insw, Mnemonic.Insd, Mnemonic.Outsb,
  Mnemonic.Outsw, Mnemonic.Outsd, Mnemonic.Lmsw, Mnemonic.Clts, Mnemonic.Wbinvd, Mnemonic.Invd,
  Mnemonic.Swapgs, Mnemonic.Pause,
  // The TSC counts retired instructions, which are added up at block ends.
  Mnemonic.Rdtsc, Mnemonic.Rdtscp,
]);

export function endsBlock(ins: Instruction): boolean {
  if (ins.flowControl !== FlowControl.Next) return true;
  const m = ins.mnemonic;
  if (SYSTEM_ENDS.has(m)) return true;
  // MOV to a control, debug or segment register changes how later code must be decoded or run.
  if (m === Mnemonic.Mov || m === Mnemonic.Pop) {
    const k = ins.op0Kind;
    const r = ins.op0Register;
    if (k === OpKind.Register && r >= Register.ES && r <= Register.GS) return true;
    if (k === OpKind.Register && r >= Register.CR0 && r <= Register.DR15) return true;
  }
  return false;
}

export function compileInstruction(c: Ctx): Op {
  const ins = c.ins;
  const name = ins.isInvalid ? "(bad)" : Mnemonic[ins.mnemonic];
  const cpu = c.cpu;
  // An encoding that is invalid in this mode is an architectural #UD, not a missing feature.
  if (ins.isInvalid) return () => { throw new Fault(Vec.UD); };
  const comp = TABLE.get(ins.mnemonic);
  let op: Op | undefined;
  if (comp) {
    try {
      op = comp(c);
    } catch (e) {
      // An operand form the family does not handle: #UD in the guest, never a host crash.
      op = undefined;
      if (process.env.HYPERSTEP_DEBUG_COMPILE) console.error(`compile ${name}: ${(e as Error).message}`);
    }
  }
  if (op === undefined) return () => cpu.undefinedInstruction(name);
  return catchSwitch(cpu, op);
}

/**
 * An op may cause a VM entry or exit (intercepted instructions, VMX instructions); it then throws
 * ContextSwitch after the switch. Catching it right here turns it into flags, so that the block
 * function around the op returns normally (V8 optimises functions by their returns and loops,
 * and unwinding a frame per VM exit is slow): `switched` tells the executor that RIP already
 * points at the new code. Every closure op is wrapped, so no list of "instructions that can
 * exit" has to be kept in step with the intercepts.
 */
function catchSwitch(cpu: Cpu, op: Op): Op {
  // Template ops are plain data operations that never switch; keep them inlinable.
  if ((op as TemplateOp).source !== undefined) return op;
  return () => {
    try {
      op();
    } catch (e) {
      if (!(e instanceof ContextSwitch)) throw e;
      cpu.switched = true;
      cpu.switchRetired = e.retired;
      cpu.abortBlock = true;
    }
  };
}

