// The VMX instructions (SDM Vol. 3, chapter 31 and Vol. 2 "VMX instruction reference"):
// VMXON VMXOFF VMCLEAR VMPTRLD VMPTRST VMREAD VMWRITE VMLAUNCH VMRESUME VMCALL, and INVEPT,
// INVVPID and VMFUNC, which this model does not support (#UD, as on a part without EPT/VPID).
import { Mnemonic, OpKind } from "iced-x86";
import type { Compiler, Ctx } from "../cpu/context.js";
import { Cr0, Cr4, Efer } from "../cpu/control-regs.js";
import type { Cpu } from "../cpu/cpu.js";
import { gp0, ud } from "../cpu/fault.js";
import { Fl } from "../cpu/flags.js";
import { addressBits, effectiveAddress, gpr, segIndex } from "../cpu/operands.js";
import { Seg } from "../cpu/regs.js";
import { Ar } from "../cpu/segments.js";
import { VmInstructionError as E } from "./errors.js";
import { fieldInfo, F } from "./fields.js";
import { FeatureControl } from "./msr-index.js";
import { ExitReason } from "./reasons.js";
import { fieldIndex, LaunchState } from "./vmcs.js";
import { INVALID_VMCS, type Vmx } from "./vmx.js";


/** #UD in real mode, virtual-8086 mode and compatibility mode (every VMX instruction). */
function modeCheck(cpu: Cpu): void {
  if (!(cpu.cr0 & Cr0.PE) || (cpu.rflags & Fl.VM) || ((cpu.efer & Efer.LMA) && !(cpu.segAttr[Seg.CS] & Ar.L))) ud();
}

/**
 * The checks every VMX instruction but VMXON makes first: #UD outside VMX operation, a VM exit
 * in non-root operation, #GP(0) above CPL 0.
 */
function common(cpu: Cpu, reason: ExitReason, c: Ctx, info = 0, qual = 0): Vmx {
  const vmx = cpu.vmx;
  if (!vmx.on) ud();
  modeCheck(cpu);
  if (vmx.nonRoot) vmx.exit(reason, { instructionLength: c.next - c.rip, rip: c.rip, instructionInfo: info, qualification: qual });
  if (cpu.cpl > 0) gp0();
  return vmx;
}

/** Instruction information and displacement of the memory operand (SDM Table 28-9/28-13). */
export function memInfo(c: Ctx): { info: number; disp: number } {
  const ins = c.ins;
  const bits = addressBits(c);
  const scale = { 1: 0, 2: 1, 4: 2, 8: 3 }[ins.memoryIndexScale] ?? 0;
  const idx = gpr(ins.memoryIndex), base = gpr(ins.memoryBase);
  let info = scale | ((bits === 16 ? 0 : bits === 32 ? 1 : 2) << 7) | ((segIndex(ins.memorySegment) & 7) << 15);
  info |= idx ? idx.idx << 18 : 1 << 22;
  info |= base ? base.idx << 23 : 1 << 27;
  // iced gives a RIP-relative operand's displacement as the absolute address (next RIP +
  // displacement), which is what the exit qualification holds for it (SDM 28.2.1).
  const disp = Number(BigInt.asIntN(64, ins.memoryDisplacement));
  return { info: info >>> 0, disp };
}

/** Read the 64-bit physical-address operand of VMXON, VMCLEAR and VMPTRLD. */
function pointerOperand(c: Ctx): () => number {
  const ea = effectiveAddress(c);
  const mmu = c.mmu;
  return () => { const l = mmu.rd64(ea()); return (mmu.hi >>> 0) * 4294967296 + (l >>> 0); };
}

/** A VMCS/VMXON pointer is valid when 4 KiB aligned and within MAXPHYADDR. */
function validPointer(cpu: Cpu, pa: number): boolean {
  return pa % 4096 === 0 && pa < 2 ** cpu.cpuid.physBits;
}

const vmxon: Compiler = (c) => {
  if (c.ins.op0Kind !== OpKind.Memory) return () => ud();
  const ptr = pointerOperand(c);
  const { info, disp } = memInfo(c);
  const cpu = c.cpu;
  return () => {
    const vmx = cpu.vmx;
    if (!(cpu.cr4 & Cr4.VMXE)) ud();
    modeCheck(cpu);
    if (!vmx.on) {
      const caps = vmx.caps;
      const fc = cpu.msr.featureControl;
      if (cpu.cpl > 0 || ((cpu.cr0 & caps.cr0Fixed0) >>> 0) !== caps.cr0Fixed0 >>> 0 || (cpu.cr0 & ~caps.cr0Fixed1) !== 0 ||
        ((cpu.cr4 & caps.cr4Fixed0) >>> 0) !== caps.cr4Fixed0 >>> 0 || (cpu.cr4 & ~caps.cr4Fixed1) !== 0 ||
        !(fc & BigInt(FeatureControl.LOCK)) || !(fc & BigInt(FeatureControl.VMX_OUTSIDE_SMX))) gp0();
      const pa = ptr();
      if (!validPointer(cpu, pa)) { vmx.failInvalid(); return; }
      const rev = cpu.mem.read32(pa) >>> 0;
      if (rev !== vmx.revision) { vmx.failInvalid(); return; }
      vmx.on = true;
      vmx.vmxonPtr = pa;
      vmx.current = INVALID_VMCS;
      vmx.succeed();
      return;
    }
    if (vmx.nonRoot) vmx.exit(ExitReason.VMXON, { instructionLength: c.next - c.rip, rip: c.rip, instructionInfo: info, qualification: disp });
    if (cpu.cpl > 0) gp0();
    vmx.fail(E.VMXON_IN_VMX_ROOT);
  };
};

const vmxoff: Compiler = (c) => {
  const cpu = c.cpu;
  return () => {
    const vmx = common(cpu, ExitReason.VMXOFF, c);
    vmx.on = false;
    vmx.vmxonPtr = INVALID_VMCS;
    // Active VMCSs are left as they are in memory (the SDM says to VMCLEAR them first); the
    // launched ones are marked so that a later VMRESUME of them fails with error 6.
    if (vmx.current !== INVALID_VMCS) vmx.vmcs.storeTo(cpu.mem, vmx.current);
    for (const pa of vmx.active) {
      if (cpu.mem.read32(pa + 8) === LaunchState.LAUNCHED) cpu.mem.write32(pa + 8, LaunchState.AFTER_VMXOFF);
    }
    vmx.active.clear();
    vmx.current = INVALID_VMCS;
    vmx.succeed();
  };
};

const vmclear: Compiler = (c) => {
  if (c.ins.op0Kind !== OpKind.Memory) return () => ud();
  const ptr = pointerOperand(c);
  const { info, disp } = memInfo(c);
  const cpu = c.cpu;
  return () => {
    const vmx = common(cpu, ExitReason.VMCLEAR, c, info, disp);
    const pa = ptr();
    if (!validPointer(cpu, pa)) { vmx.fail(E.VMCLEAR_INVALID_ADDRESS); return; }
    if (pa === vmx.vmxonPtr) { vmx.fail(E.VMCLEAR_VMXON_POINTER); return; }
    if (pa === vmx.current) {
      vmx.vmcs.launch = LaunchState.CLEAR;
      vmx.vmcs.storeTo(cpu.mem, pa);
      vmx.current = INVALID_VMCS;
    } else {
      cpu.mem.write32(pa + 8, LaunchState.CLEAR);
    }
    vmx.active.delete(pa);
    vmx.succeed();
  };
};

const vmptrld: Compiler = (c) => {
  if (c.ins.op0Kind !== OpKind.Memory) return () => ud();
  const ptr = pointerOperand(c);
  const { info, disp } = memInfo(c);
  const cpu = c.cpu;
  return () => {
    const vmx = common(cpu, ExitReason.VMPTRLD, c, info, disp);
    const pa = ptr();
    if (!validPointer(cpu, pa)) { vmx.fail(E.VMPTRLD_INVALID_ADDRESS); return; }
    if (pa === vmx.vmxonPtr) { vmx.fail(E.VMPTRLD_VMXON_POINTER); return; }
    // Bit 31 (shadow VMCS) must be 0: VMCS shadowing is not supported.
    if ((cpu.mem.read32(pa) >>> 0) !== vmx.revision) { vmx.fail(E.VMPTRLD_INCORRECT_REVISION); return; }
    if (pa !== vmx.current) {
      if (vmx.current !== INVALID_VMCS) vmx.vmcs.storeTo(cpu.mem, vmx.current);
      vmx.vmcs.loadFrom(cpu.mem, pa);
      vmx.current = pa;
    }
    vmx.active.add(pa);
    vmx.succeed();
  };
};

const vmptrst: Compiler = (c) => {
  if (c.ins.op0Kind !== OpKind.Memory) return () => ud();
  const ea = effectiveAddress(c);
  const { info, disp } = memInfo(c);
  const cpu = c.cpu;
  return () => {
    const vmx = common(cpu, ExitReason.VMPTRST, c, info, disp);
    const p = vmx.current;
    if (p === INVALID_VMCS) c.mmu.wr64(ea(), -1, -1);
    else c.mmu.wr64(ea(), p | 0, Math.floor(p / 4294967296) | 0);
    vmx.succeed();
  };
};

/** VMREAD dest(r/m), encoding(r) and VMWRITE encoding(r), value(r/m). */
function vmreadWrite(write: boolean): Compiler {
  return (c) => {
    const ins = c.ins;
    const cpu = c.cpu, mmu = c.mmu, lo = c.lo, hi = c.hi;
    const wide = c.mode === 64;
    const encReg = gpr(write ? ins.op0Register : ins.op1Register)!;
    const rmIsReg = (write ? ins.op1Kind : ins.op0Kind) === OpKind.Register;
    const rmReg = rmIsReg ? gpr(write ? ins.op1Register : ins.op0Register)! : undefined;
    const ea = rmIsReg ? undefined : effectiveAddress(c);
    let info: number, disp = 0;
    if (rmReg) info = (rmReg.idx << 3) | (1 << 10) | ((c.mode === 64 ? 2 : 1) << 7);
    else ({ info, disp } = memInfo(c));
    info |= encReg.idx << 28;
    const reason = write ? ExitReason.VMWRITE : ExitReason.VMREAD;
    return () => {
      const vmx = common(cpu, reason, c, info >>> 0, disp);
      if (!vmx.currentValid) { vmx.failInvalid(); return; }
      // Bits 63:32 of the encoding operand must be 0 (else error 12); no BigInt on this path.
      const fi = wide && hi[encReg.idx] !== 0 ? undefined : fieldInfo(lo[encReg.idx] >>> 0);
      if (!fi) { vmx.failValid(E.UNSUPPORTED_VMCS_COMPONENT); return; }
      const v = vmx.vmcs;
      const i = fieldIndex(fi.field.encoding);
      const w = fi.field.width;
      if (!write) {
        let l: number, h: number;
        if (fi.high) { l = v.hi[i]; h = 0; } else { l = v.lo[i]; h = v.hi[i]; }
        if (!wide) h = 0;
        if (rmReg) { lo[rmReg.idx] = l; hi[rmReg.idx] = h; }
        else if (wide) mmu.wr64(ea!(), l, h);
        else mmu.wr32(ea!(), l);
        vmx.succeed();
        return;
      }
      let l: number, h: number;
      if (rmReg) { l = lo[rmReg.idx]; h = wide ? hi[rmReg.idx] : 0; }
      else if (wide) { l = mmu.rd64(ea!()); h = mmu.hi; }
      else { l = mmu.rd32(ea!()); h = 0; }
      // Exit-information fields are read-only unless IA32_VMX_MISC[29] (not set in this model).
      if (fi.field.group === "exit-info") { vmx.failValid(E.VMWRITE_READ_ONLY_COMPONENT); return; }
      if (fi.high) { v.hi[i] = l; }
      else if (w === 16) { v.lo[i] = l & 0xffff; v.hi[i] = 0; }
      else if (w === 32) { v.lo[i] = l; v.hi[i] = 0; }
      else if (w === 64 && !wide) { v.lo[i] = l; }
      else { v.lo[i] = l; v.hi[i] = h; }
      v.touchField(fi.field.encoding);
      vmx.succeed();
    };
  };
}

function launchResume(launch: boolean): Compiler {
  return (c) => {
    const cpu = c.cpu;
    return () => {
      const vmx = common(cpu, launch ? ExitReason.VMLAUNCH : ExitReason.VMRESUME, c);
      if (!vmx.currentValid) { vmx.failInvalid(); return; }
      if (cpu.movSsShadow) { vmx.failValid(E.ENTRY_EVENTS_BLOCKED_BY_MOV_SS); return; }
      if (launch && vmx.vmcs.launch !== LaunchState.CLEAR) { vmx.failValid(E.VMLAUNCH_NONCLEAR_VMCS); return; }
      if (!launch && vmx.vmcs.launch === LaunchState.AFTER_VMXOFF) { vmx.failValid(E.VMRESUME_AFTER_VMXOFF); return; }
      if (!launch && vmx.vmcs.launch !== LaunchState.LAUNCHED) { vmx.failValid(E.VMRESUME_NONLAUNCHED_VMCS); return; }
      cpu.rip = c.next; // where a failed entry continues
      if (vmx.enter(launch)) vmx.switchTo(true);
    };
  };
}

const vmcall: Compiler = (c) => {
  const cpu = c.cpu;
  return () => {
    const vmx = cpu.vmx;
    if (vmx.nonRoot) { vmx.exitInPlace(ExitReason.VMCALL, { instructionLength: c.next - c.rip, rip: c.rip }); return; }
    if (!vmx.on) ud();
    modeCheck(cpu);
    if (cpu.cpl > 0) gp0();
    // No dual-monitor treatment of SMIs and SMM: VMCALL in VMX root operation fails.
    vmx.fail(E.VMCALL_IN_VMX_ROOT);
  };
};

/**
 * INVEPT, INVVPID: #UD on a processor without EPT/VPID (IA32_VMX_PROCBASED_CTLS2 and
 * IA32_VMX_EPT_VPID_CAP say so), which is checked before the VM exit of non-root operation.
 */
const unsupported: Compiler = () => () => ud();

export const VMX: Array<[Mnemonic, Compiler]> = [
  [Mnemonic.Vmxon, vmxon], [Mnemonic.Vmxoff, vmxoff], [Mnemonic.Vmclear, vmclear],
  [Mnemonic.Vmptrld, vmptrld], [Mnemonic.Vmptrst, vmptrst],
  [Mnemonic.Vmread, vmreadWrite(false)], [Mnemonic.Vmwrite, vmreadWrite(true)],
  [Mnemonic.Vmlaunch, launchResume(true)], [Mnemonic.Vmresume, launchResume(false)],
  [Mnemonic.Vmcall, vmcall],
  [Mnemonic.Invept, unsupported], [Mnemonic.Invvpid, unsupported],
];

export { F };
