// VM-exit reasons and exit qualifications (SDM Vol. 3D Appendix C "VMX Basic Exit Reasons";
// Vol. 3C 25.9.1 and 28.2.1 "Basic VM-Exit Information"), written once as typed data with
// encoders and decoders for the qualification formats the VMX engine produces.

/**
 * Basic exit reasons, bits 15:0 of the exit-reason field (Appendix C, Table C-1). Numbers the SDM
 * leaves unused (35, 38, 42, 71) have no member.
 */
export const enum ExitReason {
  EXCEPTION_NMI = 0,
  EXTERNAL_INTERRUPT = 1,
  TRIPLE_FAULT = 2,
  INIT = 3,
  SIPI = 4,
  IO_SMI = 5,
  OTHER_SMI = 6,
  INTERRUPT_WINDOW = 7,
  NMI_WINDOW = 8,
  TASK_SWITCH = 9,
  CPUID = 10,
  GETSEC = 11,
  HLT = 12,
  INVD = 13,
  INVLPG = 14,
  RDPMC = 15,
  RDTSC = 16,
  RSM = 17,
  VMCALL = 18,
  VMCLEAR = 19,
  VMLAUNCH = 20,
  VMPTRLD = 21,
  VMPTRST = 22,
  VMREAD = 23,
  VMRESUME = 24,
  VMWRITE = 25,
  VMXOFF = 26,
  VMXON = 27,
  CR_ACCESS = 28,
  DR_ACCESS = 29,
  IO_INSTRUCTION = 30,
  RDMSR = 31,
  WRMSR = 32,
  ENTRY_FAIL_GUEST_STATE = 33,
  ENTRY_FAIL_MSR_LOADING = 34,
  MWAIT = 36,
  MTF = 37,
  MONITOR = 39,
  PAUSE = 40,
  ENTRY_FAIL_MACHINE_CHECK = 41,
  TPR_BELOW_THRESHOLD = 43,
  APIC_ACCESS = 44,
  VIRTUALIZED_EOI = 45,
  GDTR_IDTR = 46,
  LDTR_TR = 47,
  EPT_VIOLATION = 48,
  EPT_MISCONFIG = 49,
  INVEPT = 50,
  RDTSCP = 51,
  PREEMPTION_TIMER = 52,
  INVVPID = 53,
  WBINVD = 54,
  XSETBV = 55,
  APIC_WRITE = 56,
  RDRAND = 57,
  INVPCID = 58,
  VMFUNC = 59,
  ENCLS = 60,
  RDSEED = 61,
  PML_FULL = 62,
  XSAVES = 63,
  XRSTORS = 64,
  PCONFIG = 65,
  SPP_EVENT = 66,
  UMWAIT = 67,
  TPAUSE = 68,
  LOADIWKEY = 69,
  ENCLV = 70,
  ENQCMD_PASID_FAILURE = 72,
  ENQCMDS_PASID_FAILURE = 73,
  BUS_LOCK = 74,
  INSTRUCTION_TIMEOUT = 75,
  SEAMCALL = 76,
  TDCALL = 77,
}

/** Name of every basic exit reason (the ExitReason member name), for dumps. */
export const EXIT_REASON_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: "EXCEPTION_NMI", 1: "EXTERNAL_INTERRUPT", 2: "TRIPLE_FAULT", 3: "INIT", 4: "SIPI", 5: "IO_SMI",
  6: "OTHER_SMI", 7: "INTERRUPT_WINDOW", 8: "NMI_WINDOW", 9: "TASK_SWITCH", 10: "CPUID", 11: "GETSEC",
  12: "HLT", 13: "INVD", 14: "INVLPG", 15: "RDPMC", 16: "RDTSC", 17: "RSM", 18: "VMCALL", 19: "VMCLEAR",
  20: "VMLAUNCH", 21: "VMPTRLD", 22: "VMPTRST", 23: "VMREAD", 24: "VMRESUME", 25: "VMWRITE",
  26: "VMXOFF", 27: "VMXON", 28: "CR_ACCESS", 29: "DR_ACCESS", 30: "IO_INSTRUCTION", 31: "RDMSR",
  32: "WRMSR", 33: "ENTRY_FAIL_GUEST_STATE", 34: "ENTRY_FAIL_MSR_LOADING", 36: "MWAIT", 37: "MTF",
  39: "MONITOR", 40: "PAUSE", 41: "ENTRY_FAIL_MACHINE_CHECK", 43: "TPR_BELOW_THRESHOLD",
  44: "APIC_ACCESS", 45: "VIRTUALIZED_EOI", 46: "GDTR_IDTR", 47: "LDTR_TR", 48: "EPT_VIOLATION",
  49: "EPT_MISCONFIG", 50: "INVEPT", 51: "RDTSCP", 52: "PREEMPTION_TIMER", 53: "INVVPID", 54: "WBINVD",
  55: "XSETBV", 56: "APIC_WRITE", 57: "RDRAND", 58: "INVPCID", 59: "VMFUNC", 60: "ENCLS", 61: "RDSEED",
  62: "PML_FULL", 63: "XSAVES", 64: "XRSTORS", 65: "PCONFIG", 66: "SPP_EVENT", 67: "UMWAIT",
  68: "TPAUSE", 69: "LOADIWKEY", 70: "ENCLV", 72: "ENQCMD_PASID_FAILURE", 73: "ENQCMDS_PASID_FAILURE",
  74: "BUS_LOCK", 75: "INSTRUCTION_TIMEOUT", 76: "SEAMCALL", 77: "TDCALL",
});

/** The name of a basic exit reason, or `REASON<n>` for a number with no name. */
export function exitReasonName(basic: number): string {
  return EXIT_REASON_NAMES[basic & 0xffff] ?? `REASON${basic & 0xffff}`;
}

// ---------------------------------------------------------------------------------------------
// Exit-reason field (25.9.1, table "Format of Exit Reason"): bits 15:0 basic reason, 16 always 0,
// 25:17 not defined, 26 bus lock asserted (VMM bus-lock detection: a bus-lock VM exit pre-empted by
// a higher-priority one), 27 exit incident to enclave mode, 28 pending MTF VM exit (SMM VM exits
// only), 29 VM exit from VMX root operation (SMM VM exits only), 30 not defined, 31 VM-entry failure.

export const enum ExitReasonBit {
  BUS_LOCK = 1 << 26,
  ENCLAVE_MODE = 1 << 27,
  PENDING_MTF = 1 << 28,
  FROM_VMX_ROOT = 1 << 29,
  ENTRY_FAILURE = 1 << 31,
}

export interface ExitReasonField {
  basic: number;
  busLock: boolean;
  enclaveMode: boolean;
  pendingMtf: boolean;
  fromVmxRoot: boolean;
  entryFailure: boolean;
}

export function decodeExitReason(value: number): ExitReasonField {
  return {
    basic: value & 0xffff,
    busLock: (value & ExitReasonBit.BUS_LOCK) !== 0,
    enclaveMode: (value & ExitReasonBit.ENCLAVE_MODE) !== 0,
    pendingMtf: (value & ExitReasonBit.PENDING_MTF) !== 0,
    fromVmxRoot: (value & ExitReasonBit.FROM_VMX_ROOT) !== 0,
    entryFailure: (value & ExitReasonBit.ENTRY_FAILURE) !== 0,
  };
}

/** The 32-bit exit-reason field (a uint32). */
export function encodeExitReason(f: Partial<ExitReasonField> & { basic: number }): number {
  checkRange("basic exit reason", f.basic, 0xffff);
  let v = f.basic;
  if (f.busLock) v |= ExitReasonBit.BUS_LOCK;
  if (f.enclaveMode) v |= ExitReasonBit.ENCLAVE_MODE;
  if (f.pendingMtf) v |= ExitReasonBit.PENDING_MTF;
  if (f.fromVmxRoot) v |= ExitReasonBit.FROM_VMX_ROOT;
  if (f.entryFailure) v |= ExitReasonBit.ENTRY_FAILURE;
  return v >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Exit qualifications. Every format below defines only bits 31:0 (bits 63:32 are reserved and
// cleared), so encoders return a uint32 number and decoders take a number or the 64-bit field as a
// bigint; decoders ignore reserved bits.

function low32(q: bigint | number): number {
  return typeof q === "bigint" ? Number(BigInt.asUintN(32, q)) : q >>> 0;
}

function checkRange(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} ${v} out of range 0..${max}`);
}

/** Control-register accesses (Table 28-3). */
export type CrAccessType = "mov-to-cr" | "mov-from-cr" | "clts" | "lmsw";
const CR_ACCESS_TYPES: readonly CrAccessType[] = ["mov-to-cr", "mov-from-cr", "clts", "lmsw"];

export interface CrAccess {
  /** Bits 3:0: the control register (0 for CLTS and LMSW). */
  cr: number;
  /** Bits 5:4. */
  accessType: CrAccessType;
  /** Bit 6, LMSW operand type: false = register, true = memory (0 for other access types). */
  lmswMemory: boolean;
  /** Bits 11:8: for MOV CR, the general-purpose register (0 RAX ... 15 R15); 0 otherwise. */
  gpr: number;
  /** Bits 31:16: for LMSW, the source data; 0 otherwise. */
  lmswData: number;
}

export function decodeCrAccess(q: bigint | number): CrAccess {
  const v = low32(q);
  return {
    cr: v & 0xf,
    accessType: CR_ACCESS_TYPES[(v >>> 4) & 3],
    lmswMemory: (v & 0x40) !== 0,
    gpr: (v >>> 8) & 0xf,
    lmswData: v >>> 16,
  };
}

export function encodeCrAccess(a: Partial<CrAccess> & { accessType: CrAccessType }): number {
  const cr = a.cr ?? 0, gpr = a.gpr ?? 0, data = a.lmswData ?? 0;
  checkRange("control register", cr, 15);
  checkRange("GPR", gpr, 15);
  checkRange("LMSW source data", data, 0xffff);
  return (cr | (CR_ACCESS_TYPES.indexOf(a.accessType) << 4) | (a.lmswMemory ? 0x40 : 0) | (gpr << 8)
    | (data << 16)) >>> 0;
}

/** MOV DR (Table 28-4). */
export type DrAccessDirection = "mov-to-dr" | "mov-from-dr";

export interface DrAccess {
  /** Bits 2:0: the debug register. */
  dr: number;
  /** Bit 4: 0 = MOV to DR, 1 = MOV from DR. */
  direction: DrAccessDirection;
  /** Bits 11:8: the general-purpose register (0 RAX ... 15 R15). */
  gpr: number;
}

export function decodeDrAccess(q: bigint | number): DrAccess {
  const v = low32(q);
  return { dr: v & 7, direction: (v & 0x10) !== 0 ? "mov-from-dr" : "mov-to-dr", gpr: (v >>> 8) & 0xf };
}

export function encodeDrAccess(a: DrAccess): number {
  checkRange("debug register", a.dr, 7);
  checkRange("GPR", a.gpr, 15);
  return a.dr | (a.direction === "mov-from-dr" ? 0x10 : 0) | (a.gpr << 8);
}

/** I/O instructions (Table 28-5). */
export interface IoAccess {
  /** Bits 2:0 encode the size: 0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes. */
  size: 1 | 2 | 4;
  /** Bit 3: 0 = OUT, 1 = IN. */
  direction: "in" | "out";
  /** Bit 4: INS/OUTS. */
  string: boolean;
  /** Bit 5: REP prefixed. */
  rep: boolean;
  /** Bit 6, operand encoding: false = port in DX, true = immediate. */
  immediate: boolean;
  /** Bits 31:16: the port number. */
  port: number;
}

const IO_SIZE_CODE: Readonly<Record<1 | 2 | 4, number>> = { 1: 0, 2: 1, 4: 3 };

/** Throws RangeError for the unused size encodings (2, 4-7). */
export function decodeIo(q: bigint | number): IoAccess {
  const v = low32(q);
  const code = v & 7;
  const size = code === 0 ? 1 : code === 1 ? 2 : code === 3 ? 4 : undefined;
  if (size === undefined) throw new RangeError(`I/O qualification size encoding ${code} is not used`);
  return {
    size,
    direction: (v & 8) !== 0 ? "in" : "out",
    string: (v & 0x10) !== 0,
    rep: (v & 0x20) !== 0,
    immediate: (v & 0x40) !== 0,
    port: v >>> 16,
  };
}

export function encodeIo(a: Partial<IoAccess> & Pick<IoAccess, "size" | "direction" | "port">): number {
  checkRange("port", a.port, 0xffff);
  const code = IO_SIZE_CODE[a.size];
  if (code === undefined) throw new RangeError(`I/O size ${a.size} is not 1, 2 or 4`);
  return (code | (a.direction === "in" ? 8 : 0) | (a.string ? 0x10 : 0) | (a.rep ? 0x20 : 0)
    | (a.immediate ? 0x40 : 0) | (a.port << 16)) >>> 0;
}

/**
 * EPT violations (Table 28-7). Bits 9-11 are defined only when bits 7 and 8 are set and the CPU
 * reports advanced VM-exit information for EPT violations; bit 12 only in the cases 28.2.1 lists.
 */
export interface EptViolation {
  /** Bit 0: the access was a data read. */
  read: boolean;
  /** Bit 1: the access was a data write. */
  write: boolean;
  /** Bit 2: the access was an instruction fetch. */
  fetch: boolean;
  /** Bits 3-5: AND of bits 0, 1, 2 (read, write, execute; bit 5 = supervisor execute under
   *  mode-based execute control) of the EPT entries that translated the address. */
  readable: boolean;
  writable: boolean;
  executable: boolean;
  /** Bit 6: AND of bit 10 (user-mode execute) of the EPT entries, under mode-based execute control. */
  userExecutable: boolean;
  /** Bit 7: the guest linear-address field is valid. */
  linearValid: boolean;
  /** Bit 8 (if bit 7): 1 = the access was to the translation of a linear address; 0 = to a guest
   *  paging-structure entry. */
  translation: boolean;
  /** Bit 9: the linear address is a user-mode address (0 = supervisor). */
  userLinear: boolean;
  /** Bit 10: the linear address is read/write (0 = read-only). */
  writableLinear: boolean;
  /** Bit 11: the linear address is execute-disable (0 = executable). */
  executeDisableLinear: boolean;
  /** Bit 12: NMI unblocking due to IRET. */
  nmiUnblocking: boolean;
  /** Bit 13: the access was a shadow-stack access. */
  shadowStack: boolean;
  /** Bit 14: the supervisor shadow-stack bit of the EPT entry (if supervisor shadow-stack control). */
  supervisorShadowStack: boolean;
  /** Bit 15: the EPT violation arose from guest-paging verification (HLAT). */
  guestPagingVerification: boolean;
  /** Bit 16: the access was asynchronous to instruction execution (e.g. Intel PT trace output). */
  asynchronous: boolean;
}

const EPT_BITS: ReadonlyArray<readonly [keyof EptViolation, number]> = [
  ["read", 0], ["write", 1], ["fetch", 2], ["readable", 3], ["writable", 4], ["executable", 5],
  ["userExecutable", 6], ["linearValid", 7], ["translation", 8], ["userLinear", 9],
  ["writableLinear", 10], ["executeDisableLinear", 11], ["nmiUnblocking", 12], ["shadowStack", 13],
  ["supervisorShadowStack", 14], ["guestPagingVerification", 15], ["asynchronous", 16],
];

export function decodeEptViolation(q: bigint | number): EptViolation {
  const v = low32(q);
  const out = {} as EptViolation;
  for (const [key, bit] of EPT_BITS) out[key] = ((v >>> bit) & 1) !== 0;
  return out;
}

export function encodeEptViolation(e: Partial<EptViolation>): number {
  let v = 0;
  for (const [key, bit] of EPT_BITS) if (e[key]) v |= 1 << bit;
  return v;
}

/** Task switches (Table 28-2): bits 15:0 the TSS selector, 31:30 the source. */
export type TaskSwitchSource = "call" | "iret" | "jmp" | "idt";
const TASK_SWITCH_SOURCES: readonly TaskSwitchSource[] = ["call", "iret", "jmp", "idt"];

export interface TaskSwitch { selector: number; source: TaskSwitchSource }

export function decodeTaskSwitch(q: bigint | number): TaskSwitch {
  const v = low32(q);
  return { selector: v & 0xffff, source: TASK_SWITCH_SOURCES[v >>> 30] };
}

export function encodeTaskSwitch(t: TaskSwitch): number {
  checkRange("TSS selector", t.selector, 0xffff);
  return (t.selector | (TASK_SWITCH_SOURCES.indexOf(t.source) << 30)) >>> 0;
}
