// VMX capability MSRs and IA32_FEATURE_CONTROL bits (SDM Vol. 3D Appendix A "VMX Capability
// Reporting Facility"; Vol. 4 for the MSR numbers), written once as typed data with helpers for
// their bit fields. 64-bit MSR values are bigints, as in src/cpu/msr.ts.

/** VMX capability MSR numbers (IA32_VMX_*). IA32_FEATURE_CONTROL (0x3a) is Msr.FEATURE_CONTROL. */
export const enum VmxMsr {
  BASIC = 0x480,
  PINBASED_CTLS = 0x481,
  PROCBASED_CTLS = 0x482,
  EXIT_CTLS = 0x483,
  ENTRY_CTLS = 0x484,
  MISC = 0x485,
  CR0_FIXED0 = 0x486,
  CR0_FIXED1 = 0x487,
  CR4_FIXED0 = 0x488,
  CR4_FIXED1 = 0x489,
  VMCS_ENUM = 0x48a,
  PROCBASED_CTLS2 = 0x48b,
  EPT_VPID_CAP = 0x48c,
  TRUE_PINBASED_CTLS = 0x48d,
  TRUE_PROCBASED_CTLS = 0x48e,
  TRUE_EXIT_CTLS = 0x48f,
  TRUE_ENTRY_CTLS = 0x490,
  VMFUNC = 0x491,
  PROCBASED_CTLS3 = 0x492,
}

export const VMX_MSR_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x480: "IA32_VMX_BASIC", 0x481: "IA32_VMX_PINBASED_CTLS", 0x482: "IA32_VMX_PROCBASED_CTLS",
  0x483: "IA32_VMX_EXIT_CTLS", 0x484: "IA32_VMX_ENTRY_CTLS", 0x485: "IA32_VMX_MISC",
  0x486: "IA32_VMX_CR0_FIXED0", 0x487: "IA32_VMX_CR0_FIXED1", 0x488: "IA32_VMX_CR4_FIXED0",
  0x489: "IA32_VMX_CR4_FIXED1", 0x48a: "IA32_VMX_VMCS_ENUM", 0x48b: "IA32_VMX_PROCBASED_CTLS2",
  0x48c: "IA32_VMX_EPT_VPID_CAP", 0x48d: "IA32_VMX_TRUE_PINBASED_CTLS",
  0x48e: "IA32_VMX_TRUE_PROCBASED_CTLS", 0x48f: "IA32_VMX_TRUE_EXIT_CTLS",
  0x490: "IA32_VMX_TRUE_ENTRY_CTLS", 0x491: "IA32_VMX_VMFUNC", 0x492: "IA32_VMX_PROCBASED_CTLS3",
});

/** IA32_FEATURE_CONTROL (MSR 0x3a) bits that gate VMXON (SDM Vol. 3C 24.7). */
export const enum FeatureControl {
  LOCK = 1 << 0,
  VMX_INSIDE_SMX = 1 << 1,
  VMX_OUTSIDE_SMX = 1 << 2,
}

// ---------------------------------------------------------------------------------------------
// IA32_VMX_BASIC (A.1): 30:0 VMCS revision identifier (bit 31 is 0), 44:32 size in bytes of the
// VMXON and VMCS regions, 48 physical addresses of those regions limited to 32 bits, 49 dual-monitor
// treatment of SMIs and SMM, 53:50 memory type for VMCS accesses, 54 VM exits due to INS/OUTS
// report instruction information, 55 the TRUE_* control MSRs exist (default1 controls may be 0),
// 56 VM entry may deliver a hardware exception with or without an error code regardless of vector.

/** Memory types IA32_VMX_BASIC may report in bits 53:50. */
export const enum VmcsMemoryType { UC = 0, WB = 6 }

export interface VmxBasic {
  revision: number;
  regionSize: number;
  physAddr32: boolean;
  dualMonitor: boolean;
  memoryType: number;
  insOutsInfo: boolean;
  trueControls: boolean;
  /** Bit 56: no-error-code (any-vector) hardware-exception injection. */
  anyErrorCodeInjection: boolean;
}

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;
const field = (v: bigint, lo: number, width: number): number =>
  Number((v >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));

function checkField(what: string, v: number, width: number): bigint {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** width) throw new RangeError(`${what} ${v} does not fit ${width} bits`);
  return BigInt(v);
}

export function decodeVmxBasic(v: bigint): VmxBasic {
  return {
    revision: field(v, 0, 31),
    regionSize: field(v, 32, 13),
    physAddr32: bit(v, 48),
    dualMonitor: bit(v, 49),
    memoryType: field(v, 50, 4),
    insOutsInfo: bit(v, 54),
    trueControls: bit(v, 55),
    anyErrorCodeInjection: bit(v, 56),
  };
}

export function encodeVmxBasic(b: VmxBasic): bigint {
  return checkField("VMCS revision", b.revision, 31)
    | (checkField("region size", b.regionSize, 13) << 32n)
    | (b.physAddr32 ? 1n << 48n : 0n)
    | (b.dualMonitor ? 1n << 49n : 0n)
    | (checkField("memory type", b.memoryType, 4) << 50n)
    | (b.insOutsInfo ? 1n << 54n : 0n)
    | (b.trueControls ? 1n << 55n : 0n)
    | (b.anyErrorCodeInjection ? 1n << 56n : 0n);
}

// ---------------------------------------------------------------------------------------------
// IA32_VMX_MISC (A.6): 4:0 the VMX-preemption timer counts down once each time TSC bit X changes,
// X = this value; 5 VM exits store EFER.LMA in the "IA-32e mode guest" entry control; 6/7/8 HLT,
// shutdown and wait-for-SIPI activity states supported; 14 Intel PT usable in VMX operation;
// 15 RDMSR can read IA32_SMBASE in SMM; 24:16 number of CR3-target values; 27:25 recommended
// maximum MSR-list length is 512 * (N + 1); 28 IA32_SMM_MONITOR_CTL bit 2 may be set; 29 VMWRITE
// may write any supported field, including VM-exit information fields; 30 VM entry may inject a
// software interrupt, software exception or privileged software exception with instruction length
// 0; 63:32 MSEG revision identifier.

export interface VmxMisc {
  preemptionTimerRate: number;
  storesLma: boolean;
  activityHlt: boolean;
  activityShutdown: boolean;
  activityWaitForSipi: boolean;
  processorTrace: boolean;
  rdmsrSmbaseInSmm: boolean;
  cr3TargetCount: number;
  /** Bits 27:25 (N); the recommended maximum number of MSRs in each list is 512 * (N + 1). */
  maxMsrListCode: number;
  smmMonitorCtlBit2: boolean;
  vmwriteAnyField: boolean;
  zeroLengthInjection: boolean;
  msegRevision: number;
}

export function decodeVmxMisc(v: bigint): VmxMisc {
  return {
    preemptionTimerRate: field(v, 0, 5),
    storesLma: bit(v, 5),
    activityHlt: bit(v, 6),
    activityShutdown: bit(v, 7),
    activityWaitForSipi: bit(v, 8),
    processorTrace: bit(v, 14),
    rdmsrSmbaseInSmm: bit(v, 15),
    cr3TargetCount: field(v, 16, 9),
    maxMsrListCode: field(v, 25, 3),
    smmMonitorCtlBit2: bit(v, 28),
    vmwriteAnyField: bit(v, 29),
    zeroLengthInjection: bit(v, 30),
    msegRevision: field(v, 32, 32),
  };
}

export function encodeVmxMisc(m: VmxMisc): bigint {
  const flag = (b: boolean, n: bigint): bigint => (b ? 1n << n : 0n);
  return checkField("preemption timer rate", m.preemptionTimerRate, 5)
    | flag(m.storesLma, 5n) | flag(m.activityHlt, 6n) | flag(m.activityShutdown, 7n)
    | flag(m.activityWaitForSipi, 8n) | flag(m.processorTrace, 14n) | flag(m.rdmsrSmbaseInSmm, 15n)
    | (checkField("CR3-target count", m.cr3TargetCount, 9) << 16n)
    | (checkField("MSR-list code", m.maxMsrListCode, 3) << 25n)
    | flag(m.smmMonitorCtlBit2, 28n) | flag(m.vmwriteAnyField, 29n) | flag(m.zeroLengthInjection, 30n)
    | (checkField("MSEG revision", m.msegRevision, 32) << 32n);
}

// ---------------------------------------------------------------------------------------------
// Control capability MSRs (A.3-A.5): IA32_VMX_{TRUE_,}{PINBASED,PROCBASED,EXIT,ENTRY}_CTLS and
// IA32_VMX_PROCBASED_CTLS2 report in bits 31:0 the allowed 0-settings (a 1 there means the control
// must be 1) and in bits 63:32 the allowed 1-settings (a 0 there means the control must be 0).
// IA32_VMX_PROCBASED_CTLS3 is different: all 64 bits are allowed 1-settings.

/** Build a control capability MSR value. */
export function ctlsMsr(allowed0: number, allowed1: number): bigint {
  return (BigInt(allowed1 >>> 0) << 32n) | BigInt(allowed0 >>> 0);
}

/** Bits 31:0 of a control capability MSR: controls that must be 1 (uint32). */
export function allowed0Of(msr: bigint): number {
  return Number(msr & 0xffffffffn);
}

/** Bits 63:32 of a control capability MSR: controls that may be 1 (uint32). */
export function allowed1Of(msr: bigint): number {
  return Number((msr >> 32n) & 0xffffffffn);
}

/** True if a 32-bit control word has every must-be-1 bit set and no must-be-0 bit set. */
export function controlsAllowed(value: number, msr: bigint): boolean {
  const v = value >>> 0, must1 = allowed0Of(msr), may1 = allowed1Of(msr);
  return ((v & must1) >>> 0) === must1 && ((v & ~may1) >>> 0) === 0;
}

/**
 * True if a CR0 or CR4 value obeys IA32_VMX_CRn_FIXED0/FIXED1 (A.7, A.8): bits set in FIXED0 must
 * be 1, bits clear in FIXED1 must be 0.
 */
export function fixedBitsOk(value: bigint, fixed0: bigint, fixed1: bigint): boolean {
  const v = BigInt.asUintN(64, value);
  return (v & fixed0) === fixed0 && (v & ~fixed1 & 0xffffffffffffffffn) === 0n;
}

/** IA32_VMX_VMCS_ENUM (A.9): bits 9:1 are the highest index in any supported field encoding. */
export function vmcsEnumHighestIndex(v: bigint): number {
  return field(v, 1, 9);
}

export function encodeVmcsEnum(highestIndex: number): bigint {
  return checkField("highest VMCS index", highestIndex, 9) << 1n;
}

/** IA32_VMX_EPT_VPID_CAP (A.10): bit positions (use with `hasCapability`). */
export const enum EptVpidCap {
  EXECUTE_ONLY = 0,
  PAGE_WALK_4 = 6,
  PAGE_WALK_5 = 7,
  MEMORY_TYPE_UC = 8,
  MEMORY_TYPE_WB = 14,
  PDE_2MB = 16,
  PDPTE_1GB = 17,
  INVEPT = 20,
  ACCESSED_DIRTY = 21,
  ADVANCED_EPT_VIOLATION_INFO = 22,
  SUPERVISOR_SHADOW_STACK = 23,
  INVEPT_SINGLE_CONTEXT = 25,
  INVEPT_ALL_CONTEXT = 26,
  INVVPID = 32,
  INVVPID_INDIVIDUAL_ADDRESS = 40,
  INVVPID_SINGLE_CONTEXT = 41,
  INVVPID_ALL_CONTEXT = 42,
  INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS = 43,
}

/** True if bit `n` (an EptVpidCap position, or any bit of a 64-bit capability MSR) is set. */
export function hasCapability(msr: bigint, n: number): boolean {
  return bit(msr, n);
}
