// The checks VM entry performs before it loads anything (SDM Vol. 3C, chapter 26: 26.2 "Checks on
// VMX Controls and Host-State Area", 26.3.1 "Checks on the Guest State Area"), as pure functions of
// the VMCS fields, the capability MSRs and physical memory. The VM-entry engine runs them in order:
//   checkControls  -> VMfailValid, VM-instruction error 7 (invalid control fields);
//   checkHostState -> VMfailValid, VM-instruction error 8 (invalid host-state fields);
//   checkGuestState -> VM exit with basic reason 33 and bit 31 set, the failure's exit qualification.
// The first rule that fails is reported; `rule` names the SDM subsection for --vmx-log.
//
// Scope. Every check the SDM lists for a feature this model can offer is made, and a few more that
// cost nothing (the dependencies among controls the model never allows, should someone pass wider
// capabilities). Checks that need capability data VmxCapabilities does not carry (EPTP format, VM
// functions, tertiary and secondary VM-exit controls, CET, PKRS, PEBS, Intel PT, UINV, FRED, LA57,
// SMM and the dual-monitor treatment) are skipped with a comment: the allowed-1 settings of the
// model reject every control that would enable them, so VM entry fails before they would matter.
// Virtual-8086 guests are not supported by this model (no VME, no virtual-8086 execution): a guest
// RFLAGS.VM of 1 fails VM entry instead of being given the virtual-8086 segment checks.
import type { ControlCaps, VmxCapabilities } from "./capabilities.js";
import { describeControls, EntryCtl, ExitCtl, PinCtl, Proc2Ctl, ProcCtl, type ControlWord } from "./controls.js";
import { F } from "./fields.js";
import { Cr0, Cr4, Efer } from "../cpu/control-regs.js";
import { Ar } from "../cpu/segments.js";
import { Fl } from "../cpu/flags.js";
import { LINEAR_BITS } from "../mem/paging.js";

export interface EntryCheckEnv {
  /** A VMCS field's full value (64-bit fields whole; natural-width as 64-bit). */
  read(encoding: number): bigint;
  caps: VmxCapabilities;
  /** MAXPHYADDR (39 in this model). */
  physBits: number;
  /** Guest physical memory, for the VMCS link pointer and PAE PDPTE checks. */
  readPhys32(pa: number): number;
  /** The VMCS revision identifier this CPU uses. */
  vmcsRevision: number;
  // The "true" capability MSRs (caps.truePin, trueProc, trueExit, trueEntry) are always the ones
  // used: IA32_VMX_BASIC[55] is 1 in this model.
  /**
   * Whether the logical processor is in IA-32e mode (IA32_EFER.LMA = 1) when it executes
   * VMLAUNCH/VMRESUME (26.2.4). Absent means true: the hypervisor runs in 64-bit mode.
   */
  hostIa32e?: boolean;
  /** Optional fast path: the low 32 bits of a field without a BigInt (the checks run per VM entry). */
  readU32?(encoding: number): number;
  /**
   * The current-VMCS pointer, for the rule that the VMCS link pointer must not equal it
   * (26.3.1.5). Absent: that one rule is not checked.
   */
  currentVmcsPointer?: bigint;
}

export interface EntryFailure {
  /** control -> VMfailValid(7); host -> VMfailValid(8); guest -> VM exit 33 with bit 31; */
  kind: "control" | "host" | "guest";
  /** Which SDM rule failed, e.g. "26.2.1.1: CR3-target count 5 > 4" — printed by --vmx-log. */
  rule: string;
  /** For guest-state failures: the exit qualification (0 normally; 4 for a VMCS link pointer failure; 2 for PDPTE loading failure). */
  qualification: number;
}

/** Exit qualifications of a VM exit for a VM-entry failure due to invalid guest state (Table 28-1). */
export const enum EntryFailureQualification {
  DEFAULT = 0,
  PDPTE_LOAD = 2,
  NMI_INJECTION = 3,
  VMCS_LINK_POINTER = 4,
}

// ---------------------------------------------------------------------------------------------
// Model constants the checks depend on.

/** IA32_VMX_MISC[30]: VM entry may inject a software interrupt/exception with instruction length 0. */
const ZERO_LENGTH_INJECTION = false;
/** IA32_VMX_BASIC[56]: hardware exceptions may be injected with or without an error code. */
const ANY_ERROR_CODE_INJECTION = false;
/** IA32_EFER bits this model implements (NX is advertised); the rest are reserved. */
const EFER_VALID = BigInt((Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE) >>> 0);
/**
 * IA32_DEBUGCTL bits treated as defined: LBR (0) and BTF (1). The model has no IA32_DEBUGCTL MSR,
 * so nothing else (BTS, FREEZE_*, RTM_DEBUG, bus-lock detection...) is supported.
 */
const DEBUGCTL_VALID = 0x3n;
const DEBUGCTL_BTF = 0x2n;

const CR0_PE = Cr0.PE >>> 0, CR0_PG = Cr0.PG >>> 0;

/** Interruption types of the VM-entry interruption-information field (Table 25-17). */
const enum IntType {
  EXTERNAL = 0, RESERVED = 1, NMI = 2, HW_EXCEPTION = 3, SW_INTERRUPT = 4, PRIV_SW_EXCEPTION = 5,
  SW_EXCEPTION = 6, OTHER = 7,
}
const INT_INFO_VALID = 0x80000000;
const INT_INFO_DELIVER_ERROR_CODE = 1 << 11;
const INT_INFO_RESERVED = 0x7ffff000; // bits 30:12

/** Guest activity states (Table 25-3). */
const enum Activity { ACTIVE = 0, HLT = 1, SHUTDOWN = 2, WAIT_FOR_SIPI = 3 }

/** Guest interruptibility-state bits (Table 25-3). */
const enum Intr { STI = 1 << 0, MOV_SS = 1 << 1, SMI = 1 << 2, NMI = 1 << 3, ENCLAVE = 1 << 4 }
const INTR_RESERVED = 0xffffffe0; // bits 31:5

/** Pending debug exceptions: B3:0 (3:0), enabled breakpoint (12), BS (14), RTM (16). */
const PENDING_DBG_RESERVED = 0xfffffffffffeaff0n; // bits 11:4, 13, 15, 63:17
const PENDING_DBG_BS = 1n << 14n;
const PENDING_DBG_RTM = 1n << 16n;

/** RFLAGS bits that must be 0 (63:22, 15, 5, 3); bit 1 must be 1. */
const RFLAGS_RESERVED = 0xffffffffffc08028n;

const VMCS_LINK_NONE = 0xffffffffffffffffn;
const U64 = 0xffffffffffffffffn;

// ---------------------------------------------------------------------------------------------
// Helpers.

const hex = (v: bigint | number): string =>
  "0x" + (typeof v === "bigint" ? BigInt.asUintN(64, v) : v >>> 0).toString(16);

const u64 = (env: EntryCheckEnv, f: number): bigint => BigInt.asUintN(64, env.read(f));
const u32 = (env: EntryCheckEnv, f: number): number => env.readU32 ? env.readU32(f) : Number(env.read(f) & 0xffffffffn);
const u16 = (env: EntryCheckEnv, f: number): number => u32(env, f) & 0xffff;

/** Bits 63:N identical, N = the linear-address width. */
function canonical(v: bigint): boolean {
  const s = BigInt.asIntN(64, v);
  const half = 1n << BigInt(LINEAR_BITS - 1);
  return s >= -half && s < half;
}

/** No bit at or above MAXPHYADDR is set. */
function withinPhys(env: EntryCheckEnv, v: bigint): boolean {
  return v >= 0n && (v >> BigInt(env.physBits)) === 0n;
}

/** A valid IA32_PAT value: each byte is 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB) or 7 (UC-). */
function patValid(v: bigint): boolean {
  for (let i = 0n; i < 64n; i += 8n) {
    const t = (v >> i) & 0xffn;
    if (t === 2n || t === 3n || t > 7n) return false;
  }
  return true;
}

const bitsOf = (word: ControlWord, v: number): string => describeControls(word, v).join(", ");

/** Allowed 0- and 1-settings of one control word; a description of the first violation. */
function controlWord(name: string, word: ControlWord, value: number, caps: ControlCaps): string | undefined {
  const v = value >>> 0;
  const missing = (caps.allowed0 & ~v) >>> 0;
  if (missing !== 0) return `${name} ${hex(v)} clear bits that must be 1: ${hex(missing)} (${bitsOf(word, missing)})`;
  const extra = (v & ~caps.allowed1) >>> 0;
  if (extra !== 0) return `${name} ${hex(v)} set bits that must be 0: ${hex(extra)} (${bitsOf(word, extra)})`;
  return undefined;
}

/** CR0/CR4 against IA32_VMX_CRn_FIXED0/FIXED1 (bits 63:32 are fixed to 0: FIXED1 is 32 bits). */
function fixedBits(name: string, v: bigint, fixed0: number, fixed1: number): string | undefined {
  const missing = BigInt(fixed0 >>> 0) & ~v;
  if (missing !== 0n) return `${name} ${hex(v)} clears bits fixed to 1 in VMX operation: ${hex(missing)}`;
  const extra = v & ~BigInt(fixed1 >>> 0) & U64;
  if (extra !== 0n) return `${name} ${hex(v)} sets bits fixed to 0 in VMX operation: ${hex(extra)}`;
  return undefined;
}

/** A 4-KByte-aligned physical address within MAXPHYADDR. */
function pageAddress(env: EntryCheckEnv, name: string, v: bigint): string | undefined {
  if ((v & 0xfffn) !== 0n) return `${name} ${hex(v)} is not 4-KByte aligned`;
  if (!withinPhys(env, v)) return `${name} ${hex(v)} sets bits beyond the physical-address width (${env.physBits})`;
  return undefined;
}

/** An MSR list: 16-byte aligned, it and its last byte within MAXPHYADDR (only if count > 0). */
function msrList(env: EntryCheckEnv, name: string, countField: number, addressField: number): string | undefined {
  const count = u32(env, countField);
  if (count === 0) return undefined;
  const a = u64(env, addressField);
  if ((a & 0xfn) !== 0n) return `${name} address ${hex(a)} is not 16-byte aligned`;
  if (!withinPhys(env, a)) return `${name} address ${hex(a)} sets bits beyond the physical-address width (${env.physBits})`;
  const last = a + BigInt(count) * 16n - 1n;
  if (!withinPhys(env, last)) {
    return `${name} list of ${count} ends at ${hex(last)}, beyond the physical-address width (${env.physBits})`;
  }
  return undefined;
}

/** The control words as VM entry sees them (secondary controls are 0 unless activated). */
interface Controls { pin: number; proc: number; proc2: number; exit: number; entry: number }

function readControls(env: EntryCheckEnv): Controls {
  const proc = u32(env, F.PRIMARY_PROC_CONTROLS);
  return {
    pin: u32(env, F.PIN_BASED_CONTROLS),
    proc,
    proc2: (proc & ProcCtl.ACTIVATE_SECONDARY_CONTROLS) !== 0 ? u32(env, F.SECONDARY_PROC_CONTROLS) : 0,
    exit: u32(env, F.VM_EXIT_CONTROLS),
    entry: u32(env, F.VM_ENTRY_CONTROLS),
  };
}

/** Vectors of the exceptions that deliver an error code (#CP only on a processor with CET). */
function exceptionHasErrorCode(vector: number, cet: boolean): boolean {
  switch (vector) {
    case 8: case 10: case 11: case 12: case 13: case 14: case 17: return true;
    case 21: return cet;
    default: return false;
  }
}

// ---------------------------------------------------------------------------------------------
// 26.2.1 Checks on VMX controls.

/** 26.2.1.1 - 26.2.1.3: VM-execution, VM-exit and VM-entry control fields. */
export function checkControls(env: EntryCheckEnv): EntryFailure | undefined {
  const c = readControls(env);
  const caps = env.caps;
  const x = (rule: string): EntryFailure => ({ kind: "control", rule: `26.2.1.1: ${rule}`, qualification: 0 });
  const has2 = (bit: Proc2Ctl): boolean => (c.proc2 & bit) !== 0;
  let why: string | undefined;

  // --- 26.2.1.1 VM-execution control fields.
  if ((why = controlWord("pin-based VM-execution controls", "pin", c.pin, caps.truePin))) return x(why);
  if ((why = controlWord("primary processor-based VM-execution controls", "proc", c.proc, caps.trueProc))) return x(why);
  if ((c.proc & ProcCtl.ACTIVATE_SECONDARY_CONTROLS) !== 0 &&
      (why = controlWord("secondary processor-based VM-execution controls", "proc2", c.proc2, caps.proc2))) return x(why);
  // "Activate tertiary controls": IA32_VMX_PROCBASED_CTLS3 is not reported, so no tertiary control
  // may be 1 (and the allowed-1 check above already rejects bit 17).
  if ((c.proc & ProcCtl.ACTIVATE_TERTIARY_CONTROLS) !== 0 && u64(env, F.TERTIARY_PROC_CONTROLS) !== 0n) {
    return x(`tertiary processor-based VM-execution controls ${hex(u64(env, F.TERTIARY_PROC_CONTROLS))} are not supported`);
  }

  const cr3Count = u32(env, F.CR3_TARGET_COUNT);
  if (cr3Count > caps.cr3TargetCount) return x(`CR3-target count ${cr3Count} > ${caps.cr3TargetCount}`);

  if ((c.proc & ProcCtl.USE_IO_BITMAPS) !== 0) {
    if ((why = pageAddress(env, "I/O-bitmap A address", u64(env, F.IO_BITMAP_A)))) return x(why);
    if ((why = pageAddress(env, "I/O-bitmap B address", u64(env, F.IO_BITMAP_B)))) return x(why);
  }
  if ((c.proc & ProcCtl.USE_MSR_BITMAPS) !== 0) {
    if ((why = pageAddress(env, "MSR-bitmap address", u64(env, F.MSR_BITMAPS)))) return x(why);
  }

  // TPR shadow and APIC virtualization. None of these controls is offered by the default model;
  // the checks are here for wider capabilities and cost nothing.
  const tprShadow = (c.proc & ProcCtl.USE_TPR_SHADOW) !== 0;
  if (tprShadow) {
    const vapic = u64(env, F.VIRTUAL_APIC_ADDRESS);
    if ((why = pageAddress(env, "virtual-APIC address", vapic))) return x(why);
    const threshold = u32(env, F.TPR_THRESHOLD);
    if (!has2(Proc2Ctl.VIRTUAL_INTERRUPT_DELIVERY)) {
      if ((threshold & 0xfffffff0) !== 0) return x(`TPR threshold ${hex(threshold)} sets bits 31:4`);
      if (!has2(Proc2Ctl.VIRTUALIZE_APIC_ACCESSES)) {
        const vtpr = (env.readPhys32(Number(vapic) + 0x80) >>> 4) & 0xf;
        if ((threshold & 0xf) > vtpr) return x(`TPR threshold ${threshold & 0xf} > VTPR[7:4] ${vtpr}`);
      }
    }
  } else {
    if (has2(Proc2Ctl.VIRTUALIZE_X2APIC_MODE)) return x(`"virtualize x2APIC mode" requires "use TPR shadow"`);
    if (has2(Proc2Ctl.APIC_REGISTER_VIRTUALIZATION)) return x(`"APIC-register virtualization" requires "use TPR shadow"`);
    if (has2(Proc2Ctl.VIRTUAL_INTERRUPT_DELIVERY)) return x(`"virtual-interrupt delivery" requires "use TPR shadow"`);
  }

  if ((c.pin & PinCtl.NMI_EXITING) === 0 && (c.pin & PinCtl.VIRTUAL_NMIS) !== 0) {
    return x(`"virtual NMIs" requires "NMI exiting"`);
  }
  if ((c.pin & PinCtl.VIRTUAL_NMIS) === 0 && (c.proc & ProcCtl.NMI_WINDOW_EXITING) !== 0) {
    return x(`"NMI-window exiting" requires "virtual NMIs"`);
  }

  if (has2(Proc2Ctl.VIRTUALIZE_APIC_ACCESSES)) {
    if ((why = pageAddress(env, "APIC-access address", u64(env, F.APIC_ACCESS_ADDRESS)))) return x(why);
  }
  if (has2(Proc2Ctl.VIRTUALIZE_X2APIC_MODE) && has2(Proc2Ctl.VIRTUALIZE_APIC_ACCESSES)) {
    return x(`"virtualize x2APIC mode" and "virtualize APIC accesses" are both 1`);
  }
  if (has2(Proc2Ctl.VIRTUAL_INTERRUPT_DELIVERY) && (c.pin & PinCtl.EXTERNAL_INTERRUPT_EXITING) === 0) {
    return x(`"virtual-interrupt delivery" requires "external-interrupt exiting"`);
  }
  if ((c.pin & PinCtl.PROCESS_POSTED_INTERRUPTS) !== 0) {
    if (!has2(Proc2Ctl.VIRTUAL_INTERRUPT_DELIVERY)) return x(`"process posted interrupts" requires "virtual-interrupt delivery"`);
    if ((c.exit & ExitCtl.ACKNOWLEDGE_INTERRUPT_ON_EXIT) === 0) {
      return x(`"process posted interrupts" requires "acknowledge interrupt on exit"`);
    }
    const pinv = u16(env, F.POSTED_INTERRUPT_NOTIFICATION_VECTOR);
    if ((pinv & 0xff00) !== 0) return x(`posted-interrupt notification vector ${hex(pinv)} sets bits 15:8`);
    const desc = u64(env, F.POSTED_INTERRUPT_DESC_ADDRESS);
    if ((desc & 0x3fn) !== 0n) return x(`posted-interrupt descriptor address ${hex(desc)} is not 64-byte aligned`);
    if (!withinPhys(env, desc)) return x(`posted-interrupt descriptor address ${hex(desc)} sets bits beyond the physical-address width (${env.physBits})`);
  }

  if (has2(Proc2Ctl.ENABLE_VPID) && u16(env, F.VIRTUAL_PROCESSOR_ID) === 0) return x(`"enable VPID" with VPID 0`);

  // EPT: the EPTP format (memory type, page-walk length, accessed/dirty flags) is checked against
  // IA32_VMX_EPT_VPID_CAP, which VmxCapabilities does not carry (the model reports 0 there and never
  // allows "enable EPT"); only the controls that depend on EPT are checked.
  const ept = has2(Proc2Ctl.ENABLE_EPT);
  if (!ept) {
    if (has2(Proc2Ctl.UNRESTRICTED_GUEST)) return x(`"unrestricted guest" requires "enable EPT"`);
    if (has2(Proc2Ctl.ENABLE_PML)) return x(`"enable PML" requires "enable EPT"`);
    if (has2(Proc2Ctl.MODE_BASED_EPT_EXECUTE)) return x(`"mode-based execute control for EPT" requires "enable EPT"`);
    if (has2(Proc2Ctl.SUB_PAGE_WRITE_PERMISSIONS)) return x(`"sub-page write permissions for EPT" requires "enable EPT"`);
  }
  if (has2(Proc2Ctl.ENABLE_PML) && (why = pageAddress(env, "PML address", u64(env, F.PML_ADDRESS)))) return x(why);
  if (has2(Proc2Ctl.VMCS_SHADOWING)) {
    if ((why = pageAddress(env, "VMREAD-bitmap address", u64(env, F.VMREAD_BITMAP_ADDRESS)))) return x(why);
    if ((why = pageAddress(env, "VMWRITE-bitmap address", u64(env, F.VMWRITE_BITMAP_ADDRESS)))) return x(why);
  }
  if (has2(Proc2Ctl.EPT_VIOLATION_VE) && (why = pageAddress(env, "virtualization-exception information address", u64(env, F.VE_INFO_ADDRESS)))) {
    return x(why);
  }
  // "Enable VM functions": the VM-function controls must be allowed by IA32_VMX_VMFUNC, which is 0.
  if (has2(Proc2Ctl.ENABLE_VM_FUNCTIONS) && u64(env, F.VM_FUNCTION_CONTROLS) !== 0n) {
    return x(`VM-function controls ${hex(u64(env, F.VM_FUNCTION_CONTROLS))} are not supported`);
  }

  // --- 26.2.1.2 VM-exit control fields.
  const xe = (rule: string): EntryFailure => ({ kind: "control", rule: `26.2.1.2: ${rule}`, qualification: 0 });
  if ((why = controlWord("VM-exit controls", "exit", c.exit, caps.trueExit))) return xe(why);
  // "Activate secondary VM-exit controls" (bit 31): no IA32_VMX_EXIT_CTLS2 in this model, so none
  // may be 1 (the allowed-1 check above rejects bit 31 already).
  if ((c.exit & ExitCtl.ACTIVATE_SECONDARY_CONTROLS) !== 0 && u64(env, F.SECONDARY_VM_EXIT_CONTROLS) !== 0n) {
    return xe(`secondary VM-exit controls ${hex(u64(env, F.SECONDARY_VM_EXIT_CONTROLS))} are not supported`);
  }
  if ((c.pin & PinCtl.ACTIVATE_PREEMPTION_TIMER) === 0 && (c.exit & ExitCtl.SAVE_PREEMPTION_TIMER_VALUE) !== 0) {
    return xe(`"save VMX-preemption timer value" requires "activate VMX-preemption timer"`);
  }
  if ((why = msrList(env, "VM-exit MSR-store", F.VM_EXIT_MSR_STORE_COUNT, F.VM_EXIT_MSR_STORE_ADDRESS))) return xe(why);
  if ((why = msrList(env, "VM-exit MSR-load", F.VM_EXIT_MSR_LOAD_COUNT, F.VM_EXIT_MSR_LOAD_ADDRESS))) return xe(why);

  // --- 26.2.1.3 VM-entry control fields.
  const xn = (rule: string): EntryFailure => ({ kind: "control", rule: `26.2.1.3: ${rule}`, qualification: 0 });
  if ((why = controlWord("VM-entry controls", "entry", c.entry, caps.trueEntry))) return xn(why);

  const info = u32(env, F.VM_ENTRY_INTERRUPTION_INFO);
  if ((info & INT_INFO_VALID) !== 0) {
    const vector = info & 0xff;
    const type = (info >>> 8) & 7;
    const deliver = (info & INT_INFO_DELIVER_ERROR_CODE) !== 0;
    if (type === IntType.RESERVED) return xn(`event injection: interruption type 1 is reserved`);
    if (type === IntType.OTHER && (caps.trueProc.allowed1 & ProcCtl.MONITOR_TRAP_FLAG) === 0) {
      return xn(`event injection: interruption type 7 (other event) needs "monitor trap flag" support`);
    }
    if (type === IntType.NMI && vector !== 2) return xn(`event injection: NMI with vector ${vector}, not 2`);
    if (type === IntType.HW_EXCEPTION && vector > 31) return xn(`event injection: hardware exception with vector ${vector} > 31`);
    if (type === IntType.OTHER && vector !== 0) return xn(`event injection: other event with vector ${vector}, not 0`);

    // Protected mode: "unrestricted guest" is 0 or the guest CR0.PE is 1.
    const protectedMode = (c.proc2 & Proc2Ctl.UNRESTRICTED_GUEST) === 0 || (u64(env, F.GUEST_CR0) & 1n) !== 0n;
    const cet = ((env.caps.cr4Fixed1 >>> 0) & Cr4.CET) !== 0;
    if (type !== IntType.HW_EXCEPTION || !protectedMode) {
      if (deliver) {
        return xn(type === IntType.HW_EXCEPTION
          ? `event injection: "deliver error code" for vector ${vector} with guest CR0.PE 0`
          : `event injection: "deliver error code" with interruption type ${type}`);
      }
    } else if (!ANY_ERROR_CODE_INJECTION && deliver !== exceptionHasErrorCode(vector, cet)) {
      return xn(deliver
        ? `event injection: "deliver error code" for exception vector ${vector}, which has none`
        : `event injection: exception vector ${vector} needs "deliver error code"`);
    }
    if (deliver) {
      const code = u32(env, F.VM_ENTRY_EXCEPTION_ERROR_CODE);
      if ((code & 0xffff0000) !== 0) return xn(`event injection: error code ${hex(code)} sets bits 31:16`);
    }
    if ((info & INT_INFO_RESERVED) !== 0) {
      return xn(`event injection: interruption information ${hex(info)} sets reserved bits 30:12`);
    }
    if (type === IntType.SW_INTERRUPT || type === IntType.PRIV_SW_EXCEPTION || type === IntType.SW_EXCEPTION) {
      const len = u32(env, F.VM_ENTRY_INSTRUCTION_LENGTH);
      if (len > 15 || (len === 0 && !ZERO_LENGTH_INJECTION)) {
        return xn(`event injection: instruction length ${len} not in ${ZERO_LENGTH_INJECTION ? 0 : 1}..15 for interruption type ${type}`);
      }
    }
  }

  if ((why = msrList(env, "VM-entry MSR-load", F.VM_ENTRY_MSR_LOAD_COUNT, F.VM_ENTRY_MSR_LOAD_ADDRESS))) return xn(why);

  // The processor is never in SMM here (the model has no SMM), so neither SMM control may be 1.
  if ((c.entry & EntryCtl.ENTRY_TO_SMM) !== 0) return xn(`"entry to SMM" outside SMM`);
  if ((c.entry & EntryCtl.DEACTIVATE_DUAL_MONITOR_TREATMENT) !== 0) return xn(`"deactivate dual-monitor treatment" outside SMM`);
  // Load PERF_GLOBAL_CTRL / BNDCFGS / RTIT_CTL / CET / PKRS / LBR_CTL / UINV: not offered (allowed-1).
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 26.2.2 - 26.2.4 Checks on the host-state area.

export function checkHostState(env: EntryCheckEnv): EntryFailure | undefined {
  const c = readControls(env);
  const caps = env.caps;
  const hostAs64 = (c.exit & ExitCtl.HOST_ADDRESS_SPACE_SIZE) !== 0;
  let why: string | undefined;

  // --- 26.2.2 Host control registers and MSRs.
  const h = (rule: string): EntryFailure => ({ kind: "host", rule: `26.2.2: ${rule}`, qualification: 0 });
  const cr0 = u64(env, F.HOST_CR0), cr3 = u64(env, F.HOST_CR3), cr4 = u64(env, F.HOST_CR4);
  if ((why = fixedBits("host CR0", cr0, caps.cr0Fixed0, caps.cr0Fixed1))) return h(why);
  if ((why = fixedBits("host CR4", cr4, caps.cr4Fixed0, caps.cr4Fixed1))) return h(why);
  if (!withinPhys(env, cr3)) return h(`host CR3 ${hex(cr3)} sets bits beyond the physical-address width (${env.physBits})`);
  // "Load CET state" is not offered (no S_CET/SSP checks).
  const esp = u64(env, F.HOST_IA32_SYSENTER_ESP), eip = u64(env, F.HOST_IA32_SYSENTER_EIP);
  if (!canonical(esp)) return h(`host IA32_SYSENTER_ESP ${hex(esp)} is not canonical`);
  if (!canonical(eip)) return h(`host IA32_SYSENTER_EIP ${hex(eip)} is not canonical`);
  // "Load IA32_PERF_GLOBAL_CTRL" is not offered.
  if ((c.exit & ExitCtl.LOAD_IA32_PAT) !== 0) {
    const pat = u64(env, F.HOST_IA32_PAT);
    if (!patValid(pat)) return h(`host IA32_PAT ${hex(pat)} has a reserved memory type`);
  }
  if ((c.exit & ExitCtl.LOAD_IA32_EFER) !== 0) {
    const efer = u64(env, F.HOST_IA32_EFER);
    if ((efer & ~EFER_VALID) !== 0n) return h(`host IA32_EFER ${hex(efer)} sets reserved bits ${hex(efer & ~EFER_VALID)}`);
    const lma = (efer & BigInt(Efer.LMA)) !== 0n, lme = (efer & BigInt(Efer.LME)) !== 0n;
    if (lma !== hostAs64) return h(`host IA32_EFER.LMA ${+lma} differs from "host address-space size" ${+hostAs64}`);
    if (lme !== hostAs64) return h(`host IA32_EFER.LME ${+lme} differs from "host address-space size" ${+hostAs64}`);
  }
  // "Load PKRS" is not offered.

  // --- 26.2.3 Host segment and descriptor-table registers.
  const s = (rule: string): EntryFailure => ({ kind: "host", rule: `26.2.3: ${rule}`, qualification: 0 });
  const sels: Array<[string, number]> = [
    ["ES", F.HOST_ES_SELECTOR], ["CS", F.HOST_CS_SELECTOR], ["SS", F.HOST_SS_SELECTOR], ["DS", F.HOST_DS_SELECTOR],
    ["FS", F.HOST_FS_SELECTOR], ["GS", F.HOST_GS_SELECTOR], ["TR", F.HOST_TR_SELECTOR],
  ];
  for (const [name, f] of sels) {
    const sel = u16(env, f);
    if ((sel & 7) !== 0) return s(`host ${name} selector ${hex(sel)} has RPL or TI set`);
  }
  if (u16(env, F.HOST_CS_SELECTOR) === 0) return s(`host CS selector is 0`);
  if (u16(env, F.HOST_TR_SELECTOR) === 0) return s(`host TR selector is 0`);
  if (u16(env, F.HOST_SS_SELECTOR) === 0 && !hostAs64) return s(`host SS selector is 0 with "host address-space size" 0`);
  const bases: Array<[string, number]> = [
    ["FS", F.HOST_FS_BASE], ["GS", F.HOST_GS_BASE], ["GDTR", F.HOST_GDTR_BASE], ["IDTR", F.HOST_IDTR_BASE],
    ["TR", F.HOST_TR_BASE],
  ];
  for (const [name, f] of bases) {
    const b = u64(env, f);
    if (!canonical(b)) return s(`host ${name} base ${hex(b)} is not canonical`);
  }

  // --- 26.2.4 Checks related to address-space size.
  const a = (rule: string): EntryFailure => ({ kind: "host", rule: `26.2.4: ${rule}`, qualification: 0 });
  const ia32eGuest = (c.entry & EntryCtl.IA32E_MODE_GUEST) !== 0;
  const hostIa32e = env.hostIa32e ?? true;
  if (hostIa32e) {
    if (!hostAs64) return a(`"host address-space size" is 0 but the processor is in IA-32e mode`);
  } else {
    if (ia32eGuest) return a(`"IA-32e mode guest" is 1 but the processor is outside IA-32e mode`);
    if (hostAs64) return a(`"host address-space size" is 1 but the processor is outside IA-32e mode`);
  }
  const rip = u64(env, F.HOST_RIP);
  if (hostAs64) {
    if ((cr4 & BigInt(Cr4.PAE)) === 0n) return a(`host CR4.PAE is 0 with "host address-space size" 1`);
    if (!canonical(rip)) return a(`host RIP ${hex(rip)} is not canonical`);
  } else {
    if (ia32eGuest) return a(`"IA-32e mode guest" is 1 with "host address-space size" 0`);
    if ((cr4 & BigInt(Cr4.PCIDE)) !== 0n) return a(`host CR4.PCIDE is 1 with "host address-space size" 0`);
    if ((rip >> 32n) !== 0n) return a(`host RIP ${hex(rip)} sets bits 63:32 with "host address-space size" 0`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 26.3.1 Checks on the guest-state area.

interface Seg { name: string; sel: number; base: bigint; limit: number; ar: number; usable: boolean }

function readSeg(env: EntryCheckEnv, name: string, sel: number, base: number, limit: number, ar: number): Seg {
  const a = u32(env, ar);
  return { name, sel: u16(env, sel), base: u64(env, base), limit: u32(env, limit), ar: a, usable: (a & Ar.UNUSABLE) === 0 };
}

const typeOf = (s: Seg): number => s.ar & Ar.TYPE;
const dplOf = (s: Seg): number => (s.ar >>> 5) & 3;
const rplOf = (s: Seg): number => s.sel & 3;

/** The G bit against the limit: limit[11:0] not all 1 needs G = 0; limit[31:20] not all 0 needs G = 1. */
function granularity(s: Seg): string | undefined {
  const g = (s.ar & Ar.G) !== 0;
  if (g && (s.limit & 0xfff) !== 0xfff) return `${s.name} limit ${hex(s.limit)} has bits 11:0 not all 1 with G = 1`;
  if (!g && (s.limit & 0xfff00000) !== 0) return `${s.name} limit ${hex(s.limit)} sets bits 31:20 with G = 0`;
  return undefined;
}

const AR_RESERVED_LOW = 0xf00; // bits 11:8
const AR_RESERVED_HIGH = 0xfffe0000; // bits 31:17

export function checkGuestState(env: EntryCheckEnv): EntryFailure | undefined {
  const c = readControls(env);
  const caps = env.caps;
  const ug = (c.proc2 & Proc2Ctl.UNRESTRICTED_GUEST) !== 0;
  const ia32e = (c.entry & EntryCtl.IA32E_MODE_GUEST) !== 0;
  let why: string | undefined;

  // --- 26.3.1.1 Guest control registers, debug registers and MSRs.
  const r = (rule: string): EntryFailure => ({ kind: "guest", rule: `26.3.1.1: ${rule}`, qualification: 0 });
  const cr0 = u64(env, F.GUEST_CR0), cr3 = u64(env, F.GUEST_CR3), cr4 = u64(env, F.GUEST_CR4);
  const cr0lo = Number(cr0 & 0xffffffffn), cr4lo = Number(cr4 & 0xffffffffn);
  // PE and PG escape the fixed bits only with "unrestricted guest" (never offered by this model).
  const cr0Fixed0 = ug ? (caps.cr0Fixed0 & ~(Cr0.PE | Cr0.PG)) >>> 0 : caps.cr0Fixed0;
  if ((why = fixedBits("guest CR0", cr0, cr0Fixed0, caps.cr0Fixed1))) return r(why);
  if ((cr0lo & CR0_PG) !== 0 && (cr0lo & CR0_PE) === 0) return r(`guest CR0 ${hex(cr0)} has PG = 1 with PE = 0`);
  if ((why = fixedBits("guest CR4", cr4, caps.cr4Fixed0, caps.cr4Fixed1))) return r(why);
  if ((cr4lo & Cr4.CET) !== 0 && (cr0lo & Cr0.WP) === 0) return r(`guest CR4.CET is 1 with CR0.WP 0`);
  if ((c.entry & EntryCtl.LOAD_DEBUG_CONTROLS) !== 0) {
    const debugctl = u64(env, F.GUEST_IA32_DEBUGCTL);
    if ((debugctl & ~DEBUGCTL_VALID) !== 0n) {
      return r(`guest IA32_DEBUGCTL ${hex(debugctl)} sets reserved bits ${hex(debugctl & ~DEBUGCTL_VALID)}`);
    }
  }
  if (ia32e) {
    if ((cr0lo & CR0_PG) === 0) return r(`"IA-32e mode guest" with guest CR0.PG 0`);
    if ((cr4lo & Cr4.PAE) === 0) return r(`"IA-32e mode guest" with guest CR4.PAE 0`);
  } else if ((cr4lo & Cr4.PCIDE) !== 0) {
    return r(`guest CR4.PCIDE is 1 without "IA-32e mode guest"`);
  }
  if (!withinPhys(env, cr3)) return r(`guest CR3 ${hex(cr3)} sets bits beyond the physical-address width (${env.physBits})`);
  if ((c.entry & EntryCtl.LOAD_DEBUG_CONTROLS) !== 0) {
    const dr7 = u64(env, F.GUEST_DR7);
    if ((dr7 >> 32n) !== 0n) return r(`guest DR7 ${hex(dr7)} sets bits 63:32`);
  }
  const esp = u64(env, F.GUEST_IA32_SYSENTER_ESP), eip = u64(env, F.GUEST_IA32_SYSENTER_EIP);
  if (!canonical(esp)) return r(`guest IA32_SYSENTER_ESP ${hex(esp)} is not canonical`);
  if (!canonical(eip)) return r(`guest IA32_SYSENTER_EIP ${hex(eip)} is not canonical`);
  // "Load CET state", "load IA32_PERF_GLOBAL_CTRL", "load IA32_BNDCFGS", "load IA32_RTIT_CTL",
  // "load guest IA32_LBR_CTL", "load PKRS", "load UINV": not offered (allowed-1).
  if ((c.entry & EntryCtl.LOAD_IA32_PAT) !== 0) {
    const pat = u64(env, F.GUEST_IA32_PAT);
    if (!patValid(pat)) return r(`guest IA32_PAT ${hex(pat)} has a reserved memory type`);
  }
  if ((c.entry & EntryCtl.LOAD_IA32_EFER) !== 0) {
    const efer = u64(env, F.GUEST_IA32_EFER);
    if ((efer & ~EFER_VALID) !== 0n) return r(`guest IA32_EFER ${hex(efer)} sets reserved bits ${hex(efer & ~EFER_VALID)}`);
    const lma = (efer & BigInt(Efer.LMA)) !== 0n, lme = (efer & BigInt(Efer.LME)) !== 0n;
    if (lma !== ia32e) return r(`guest IA32_EFER.LMA ${+lma} differs from "IA-32e mode guest" ${+ia32e}`);
    if ((cr0lo & CR0_PG) !== 0 && lme !== ia32e) {
      return r(`guest IA32_EFER.LME ${+lme} differs from "IA-32e mode guest" ${+ia32e} with CR0.PG 1`);
    }
  }

  // --- 26.3.1.2 Guest segment registers (the guest is never virtual-8086: see 26.3.1.4).
  const sg = (rule: string): EntryFailure => ({ kind: "guest", rule: `26.3.1.2: ${rule}`, qualification: 0 });
  const cs = readSeg(env, "CS", F.GUEST_CS_SELECTOR, F.GUEST_CS_BASE, F.GUEST_CS_LIMIT, F.GUEST_CS_ACCESS_RIGHTS);
  const ss = readSeg(env, "SS", F.GUEST_SS_SELECTOR, F.GUEST_SS_BASE, F.GUEST_SS_LIMIT, F.GUEST_SS_ACCESS_RIGHTS);
  const ds = readSeg(env, "DS", F.GUEST_DS_SELECTOR, F.GUEST_DS_BASE, F.GUEST_DS_LIMIT, F.GUEST_DS_ACCESS_RIGHTS);
  const es = readSeg(env, "ES", F.GUEST_ES_SELECTOR, F.GUEST_ES_BASE, F.GUEST_ES_LIMIT, F.GUEST_ES_ACCESS_RIGHTS);
  const fs = readSeg(env, "FS", F.GUEST_FS_SELECTOR, F.GUEST_FS_BASE, F.GUEST_FS_LIMIT, F.GUEST_FS_ACCESS_RIGHTS);
  const gs = readSeg(env, "GS", F.GUEST_GS_SELECTOR, F.GUEST_GS_BASE, F.GUEST_GS_LIMIT, F.GUEST_GS_ACCESS_RIGHTS);
  const tr = readSeg(env, "TR", F.GUEST_TR_SELECTOR, F.GUEST_TR_BASE, F.GUEST_TR_LIMIT, F.GUEST_TR_ACCESS_RIGHTS);
  const ldtr = readSeg(env, "LDTR", F.GUEST_LDTR_SELECTOR, F.GUEST_LDTR_BASE, F.GUEST_LDTR_LIMIT, F.GUEST_LDTR_ACCESS_RIGHTS);

  // Selector fields.
  if ((tr.sel & 4) !== 0) return sg(`TR selector ${hex(tr.sel)} has TI set`);
  if (ldtr.usable && (ldtr.sel & 4) !== 0) return sg(`LDTR selector ${hex(ldtr.sel)} has TI set`);
  if (!ug && rplOf(ss) !== rplOf(cs)) return sg(`SS RPL ${rplOf(ss)} differs from CS RPL ${rplOf(cs)}`);

  // Base-address fields.
  for (const s of [tr, fs, gs]) if (!canonical(s.base)) return sg(`${s.name} base ${hex(s.base)} is not canonical`);
  if (ldtr.usable && !canonical(ldtr.base)) return sg(`LDTR base ${hex(ldtr.base)} is not canonical`);
  if ((cs.base >> 32n) !== 0n) return sg(`CS base ${hex(cs.base)} sets bits 63:32`);
  for (const s of [ss, ds, es]) {
    if (s.usable && (s.base >> 32n) !== 0n) return sg(`${s.name} base ${hex(s.base)} sets bits 63:32`);
  }

  // Access-rights fields of CS, SS, DS, ES, FS, GS. The checks apply to CS always, to the others
  // when usable.
  const csType = typeOf(cs);
  if (ug ? !(csType === 3 || csType === 9 || csType === 11 || csType === 13 || csType === 15)
    : !(csType === 9 || csType === 11 || csType === 13 || csType === 15)) {
    return sg(`CS type ${csType} is not an accessed code segment (9, 11, 13, 15)`);
  }
  if (ss.usable && typeOf(ss) !== 3 && typeOf(ss) !== 7) return sg(`SS type ${typeOf(ss)} is not 3 or 7`);
  for (const s of [ds, es, fs, gs]) {
    if (!s.usable) continue;
    if ((s.ar & Ar.ACCESSED) === 0) return sg(`${s.name} type ${typeOf(s)} is not accessed`);
    if ((s.ar & Ar.CODE) !== 0 && (s.ar & 2) === 0) return sg(`${s.name} type ${typeOf(s)} is a code segment that is not readable`);
  }
  for (const s of [cs, ss, ds, es, fs, gs]) {
    if (s !== cs && !s.usable) continue;
    if ((s.ar & Ar.S) === 0) return sg(`${s.name} access rights ${hex(s.ar)} have S = 0`);
  }
  // DPL.
  if (csType === 3 && dplOf(cs) !== 0) return sg(`CS type 3 with DPL ${dplOf(cs)}, not 0`);
  if ((csType === 9 || csType === 11) && dplOf(cs) !== dplOf(ss)) {
    return sg(`non-conforming CS DPL ${dplOf(cs)} differs from SS DPL ${dplOf(ss)}`);
  }
  if ((csType === 13 || csType === 15) && dplOf(cs) > dplOf(ss)) {
    return sg(`conforming CS DPL ${dplOf(cs)} is greater than SS DPL ${dplOf(ss)}`);
  }
  if (!ug && dplOf(ss) !== rplOf(ss)) return sg(`SS DPL ${dplOf(ss)} differs from SS RPL ${rplOf(ss)}`);
  if ((csType === 3 || (cr0lo & CR0_PE) === 0) && dplOf(ss) !== 0) {
    return sg(`SS DPL ${dplOf(ss)} is not 0 with CS type 3 or CR0.PE 0`);
  }
  if (!ug) {
    for (const s of [ds, es, fs, gs]) {
      if (s.usable && typeOf(s) <= 11 && dplOf(s) < rplOf(s)) {
        return sg(`${s.name} DPL ${dplOf(s)} is less than its RPL ${rplOf(s)}`);
      }
    }
  }
  for (const s of [cs, ss, ds, es, fs, gs]) {
    if (s !== cs && !s.usable) continue;
    if ((s.ar & Ar.P) === 0) return sg(`${s.name} is not present`);
    if ((s.ar & AR_RESERVED_LOW) !== 0) return sg(`${s.name} access rights ${hex(s.ar)} set reserved bits 11:8`);
    if (s === cs && ia32e && (s.ar & Ar.L) !== 0 && (s.ar & Ar.DB) !== 0) {
      return sg(`CS has L = 1 and D/B = 1 in an IA-32e mode guest`);
    }
    if ((why = granularity(s))) return sg(why);
    if ((s.ar & AR_RESERVED_HIGH) !== 0) return sg(`${s.name} access rights ${hex(s.ar)} set reserved bits 31:17`);
  }

  // TR.
  const trType = typeOf(tr);
  if (ia32e ? trType !== 11 : trType !== 3 && trType !== 11) {
    return sg(`TR type ${trType} is not ${ia32e ? "11 (busy 64-bit TSS)" : "3 or 11 (busy TSS)"}`);
  }
  if ((tr.ar & Ar.S) !== 0) return sg(`TR access rights ${hex(tr.ar)} have S = 1`);
  if ((tr.ar & Ar.P) === 0) return sg(`TR is not present`);
  if ((tr.ar & AR_RESERVED_LOW) !== 0) return sg(`TR access rights ${hex(tr.ar)} set reserved bits 11:8`);
  if ((why = granularity(tr))) return sg(why);
  if (!tr.usable) return sg(`TR is unusable`);
  if ((tr.ar & AR_RESERVED_HIGH) !== 0) return sg(`TR access rights ${hex(tr.ar)} set reserved bits 31:17`);

  // LDTR, when usable.
  if (ldtr.usable) {
    if (typeOf(ldtr) !== 2) return sg(`LDTR type ${typeOf(ldtr)} is not 2 (LDT)`);
    if ((ldtr.ar & Ar.S) !== 0) return sg(`LDTR access rights ${hex(ldtr.ar)} have S = 1`);
    if ((ldtr.ar & Ar.P) === 0) return sg(`LDTR is not present`);
    if ((ldtr.ar & AR_RESERVED_LOW) !== 0) return sg(`LDTR access rights ${hex(ldtr.ar)} set reserved bits 11:8`);
    if ((why = granularity(ldtr))) return sg(why);
    if ((ldtr.ar & AR_RESERVED_HIGH) !== 0) return sg(`LDTR access rights ${hex(ldtr.ar)} set reserved bits 31:17`);
  }

  // --- 26.3.1.3 Guest descriptor-table registers.
  const dt = (rule: string): EntryFailure => ({ kind: "guest", rule: `26.3.1.3: ${rule}`, qualification: 0 });
  for (const [name, bf, lf] of [["GDTR", F.GUEST_GDTR_BASE, F.GUEST_GDTR_LIMIT], ["IDTR", F.GUEST_IDTR_BASE, F.GUEST_IDTR_LIMIT]] as const) {
    const base = u64(env, bf), limit = u32(env, lf);
    if (!canonical(base)) return dt(`${name} base ${hex(base)} is not canonical`);
    if ((limit & 0xffff0000) !== 0) return dt(`${name} limit ${hex(limit)} sets bits 31:16`);
  }

  // --- 26.3.1.4 Guest RIP and RFLAGS.
  const rf = (rule: string): EntryFailure => ({ kind: "guest", rule: `26.3.1.4: ${rule}`, qualification: 0 });
  const rip = u64(env, F.GUEST_RIP);
  const mode64 = ia32e && (cs.ar & Ar.L) !== 0;
  if (!mode64 && (rip >> 32n) !== 0n) return rf(`RIP ${hex(rip)} sets bits 63:32 outside 64-bit mode`);
  if (mode64 && !canonical(rip)) return rf(`RIP ${hex(rip)} is not canonical`);
  const rflags = u64(env, F.GUEST_RFLAGS);
  if ((rflags & RFLAGS_RESERVED) !== 0n) return rf(`RFLAGS ${hex(rflags)} sets reserved bits ${hex(rflags & RFLAGS_RESERVED)}`);
  if ((rflags & BigInt(Fl.FIXED1)) === 0n) return rf(`RFLAGS ${hex(rflags)} has bit 1 clear`);
  const vm = (rflags & BigInt(Fl.VM)) !== 0n;
  if (vm && (ia32e || (cr0lo & CR0_PE) === 0)) return rf(`RFLAGS.VM is 1 in an IA-32e mode or real-mode guest`);
  // Model restriction: no virtual-8086 execution, so no virtual-8086 guest either.
  if (vm) return rf(`RFLAGS.VM is 1: virtual-8086 guests are not supported by this model`);
  const info = u32(env, F.VM_ENTRY_INTERRUPTION_INFO);
  const injecting = (info & INT_INFO_VALID) !== 0;
  const injType = (info >>> 8) & 7, injVector = info & 0xff;
  const iflag = (rflags & BigInt(Fl.IF)) !== 0n;
  if (injecting && injType === IntType.EXTERNAL && !iflag) return rf(`RFLAGS.IF is 0 while injecting an external interrupt`);

  // --- 26.3.1.5 Guest non-register state.
  const nr = (rule: string, q = 0): EntryFailure => ({ kind: "guest", rule: `26.3.1.5: ${rule}`, qualification: q });
  const activity = u32(env, F.GUEST_ACTIVITY_STATE);
  const intr = u32(env, F.GUEST_INTERRUPTIBILITY_STATE);
  if (activity > 3) return nr(`activity state ${activity} is not 0-3`);
  if (activity === Activity.SHUTDOWN || activity === Activity.WAIT_FOR_SIPI || (activity === Activity.HLT && !caps.activityHlt)) {
    return nr(`activity state ${activity} (${["active", "HLT", "shutdown", "wait-for-SIPI"][activity]}) is not supported`);
  }
  if (activity === Activity.HLT && dplOf(ss) !== 0) return nr(`activity state HLT with SS DPL ${dplOf(ss)}, not 0`);
  if (activity !== Activity.ACTIVE && (intr & (Intr.STI | Intr.MOV_SS)) !== 0) {
    return nr(`activity state ${activity} is not active with blocking by STI or MOV SS`);
  }
  if (injecting && activity === Activity.HLT) {
    const allowed = injType === IntType.EXTERNAL || injType === IntType.NMI ||
      (injType === IntType.HW_EXCEPTION && (injVector === 1 || injVector === 18)) ||
      (injType === IntType.OTHER && injVector === 0);
    if (!allowed) return nr(`injecting type ${injType} vector ${injVector}, which HLT blocks`);
  }
  // Interruptibility state.
  if ((intr & INTR_RESERVED) !== 0) return nr(`interruptibility state ${hex(intr)} sets reserved bits 31:5`);
  if ((intr & Intr.STI) !== 0 && (intr & Intr.MOV_SS) !== 0) return nr(`interruptibility state ${hex(intr)} has blocking by both STI and MOV SS`);
  if ((intr & Intr.STI) !== 0 && !iflag) return nr(`blocking by STI with RFLAGS.IF 0`);
  if (injecting && injType === IntType.EXTERNAL && (intr & (Intr.STI | Intr.MOV_SS)) !== 0) {
    return nr(`injecting an external interrupt with blocking by STI or MOV SS`);
  }
  if (injecting && injType === IntType.NMI && (intr & Intr.MOV_SS) !== 0) return nr(`injecting an NMI with blocking by MOV SS`);
  if ((intr & Intr.SMI) !== 0) return nr(`blocking by SMI outside SMM`);
  // "A processor may require bit 0 (blocking by STI) to be 0" when injecting an NMI: this one does.
  if (injecting && injType === IntType.NMI && (intr & Intr.STI) !== 0) return nr(`injecting an NMI with blocking by STI`);
  if (injecting && injType === IntType.NMI && (c.pin & PinCtl.VIRTUAL_NMIS) !== 0 && (intr & Intr.NMI) !== 0) {
    return nr(`injecting an NMI with "virtual NMIs" and blocking by NMI`);
  }
  // Bit 4 (enclave interruption) needs SGX, which the model does not have.
  if ((intr & Intr.ENCLAVE) !== 0) return nr(`enclave interruption without SGX support`);
  // Pending debug exceptions.
  const pde = u64(env, F.GUEST_PENDING_DEBUG_EXCEPTIONS);
  if ((pde & PENDING_DBG_RESERVED) !== 0n) return nr(`pending debug exceptions ${hex(pde)} set reserved bits ${hex(pde & PENDING_DBG_RESERVED)}`);
  if ((intr & (Intr.STI | Intr.MOV_SS)) !== 0 || activity === Activity.HLT) {
    const tf = (rflags & BigInt(Fl.TF)) !== 0n;
    const btf = (u64(env, F.GUEST_IA32_DEBUGCTL) & DEBUGCTL_BTF) !== 0n;
    const bs = (pde & PENDING_DBG_BS) !== 0n;
    if (tf && !btf && !bs) return nr(`pending debug exceptions BS is 0 with RFLAGS.TF 1 and IA32_DEBUGCTL.BTF 0`);
    if ((!tf || btf) && bs) return nr(`pending debug exceptions BS is 1 with RFLAGS.TF 0 or IA32_DEBUGCTL.BTF 1`);
  }
  // Bit 16 (RTM) needs RTM, which the model does not have.
  if ((pde & PENDING_DBG_RTM) !== 0n) return nr(`pending debug exceptions RTM bit without RTM support`);
  // VMCS link pointer.
  const link = u64(env, F.VMCS_LINK_POINTER);
  if (link !== VMCS_LINK_NONE) {
    const q = EntryFailureQualification.VMCS_LINK_POINTER;
    if ((link & 0xfffn) !== 0n) return nr(`VMCS link pointer ${hex(link)} is not 4-KByte aligned`, q);
    if (!withinPhys(env, link)) return nr(`VMCS link pointer ${hex(link)} sets bits beyond the physical-address width (${env.physBits})`, q);
    const header = env.readPhys32(Number(link)) >>> 0;
    const revision = header & 0x7fffffff;
    if (revision !== (env.vmcsRevision & 0x7fffffff)) {
      return nr(`VMCS link pointer ${hex(link)}: revision identifier ${hex(revision)} is not ${hex(env.vmcsRevision)}`, q);
    }
    const shadow = (header & 0x80000000) !== 0;
    const shadowing = (c.proc2 & Proc2Ctl.VMCS_SHADOWING) !== 0;
    if (shadow !== shadowing) {
      return nr(`VMCS link pointer ${hex(link)}: shadow-VMCS indicator ${+shadow} differs from "VMCS shadowing" ${+shadowing}`, q);
    }
    if (env.currentVmcsPointer !== undefined && link === BigInt.asUintN(64, env.currentVmcsPointer)) {
      return nr(`VMCS link pointer ${hex(link)} is the current-VMCS pointer`, q);
    }
  }

  // --- 26.3.1.6 Guest PDPTEs: a PAE-paging guest (CR0.PG = 1, CR4.PAE = 1, not IA-32e mode) has its
  // PDPTEs loaded from the 32-byte-aligned table at CR3[31:5] ("enable EPT", which would take them
  // from the VMCS instead, is never offered).
  if ((cr0lo & CR0_PG) !== 0 && (cr4lo & Cr4.PAE) !== 0 && !ia32e) {
    const table = Number(cr3 & 0xffffffe0n);
    // Reserved in a present PDPTE: bits 2:1, 8:5 and 63:MAXPHYADDR.
    const reserved = ((U64 >> BigInt(env.physBits)) << BigInt(env.physBits)) | 0x1e6n;
    for (let i = 0; i < 4; i++) {
      const lo = env.readPhys32(table + i * 8) >>> 0, hi = env.readPhys32(table + i * 8 + 4) >>> 0;
      const pdpte = (BigInt(hi) << 32n) | BigInt(lo);
      if ((pdpte & 1n) !== 0n && (pdpte & reserved) !== 0n) {
        return {
          kind: "guest", qualification: EntryFailureQualification.PDPTE_LOAD,
          rule: `26.3.1.6: PDPTE${i} ${hex(pdpte)} at ${hex(table + i * 8)} sets reserved bits ${hex(pdpte & reserved)}`,
        };
      }
    }
  }
  return undefined;
}
