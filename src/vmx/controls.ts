// VMX control bits (SDM Vol. 3C, chapter 25 "Virtual Machine Control Structures", 25.6 and
// 25.7-25.8), written once as typed data: one const-enum member per defined bit, a names table per
// control word for dumps, and describeControls().
//
// Values follow the repository's convention for bit masks (see Cr0.PG): `1 << n`, so a bit-31
// member is a negative int32. Test bits with `(word & Bit) !== 0` and normalise a whole word with
// `>>> 0` before comparing it with a uint32.

/** Pin-based VM-execution controls (Table 25-5). */
export const enum PinCtl {
  EXTERNAL_INTERRUPT_EXITING = 1 << 0,
  NMI_EXITING = 1 << 3,
  VIRTUAL_NMIS = 1 << 5,
  ACTIVATE_PREEMPTION_TIMER = 1 << 6,
  PROCESS_POSTED_INTERRUPTS = 1 << 7,
}

/** Primary processor-based VM-execution controls (Table 25-6). */
export const enum ProcCtl {
  INTERRUPT_WINDOW_EXITING = 1 << 2,
  USE_TSC_OFFSETTING = 1 << 3,
  HLT_EXITING = 1 << 7,
  INVLPG_EXITING = 1 << 9,
  MWAIT_EXITING = 1 << 10,
  RDPMC_EXITING = 1 << 11,
  RDTSC_EXITING = 1 << 12,
  CR3_LOAD_EXITING = 1 << 15,
  CR3_STORE_EXITING = 1 << 16,
  ACTIVATE_TERTIARY_CONTROLS = 1 << 17,
  CR8_LOAD_EXITING = 1 << 19,
  CR8_STORE_EXITING = 1 << 20,
  USE_TPR_SHADOW = 1 << 21,
  NMI_WINDOW_EXITING = 1 << 22,
  MOV_DR_EXITING = 1 << 23,
  UNCONDITIONAL_IO_EXITING = 1 << 24,
  USE_IO_BITMAPS = 1 << 25,
  MONITOR_TRAP_FLAG = 1 << 27,
  USE_MSR_BITMAPS = 1 << 28,
  MONITOR_EXITING = 1 << 29,
  PAUSE_EXITING = 1 << 30,
  ACTIVATE_SECONDARY_CONTROLS = 1 << 31,
}

/** Secondary processor-based VM-execution controls (Table 25-7). Bit 29 is not defined. */
export const enum Proc2Ctl {
  VIRTUALIZE_APIC_ACCESSES = 1 << 0,
  ENABLE_EPT = 1 << 1,
  DESCRIPTOR_TABLE_EXITING = 1 << 2,
  ENABLE_RDTSCP = 1 << 3,
  VIRTUALIZE_X2APIC_MODE = 1 << 4,
  ENABLE_VPID = 1 << 5,
  WBINVD_EXITING = 1 << 6,
  UNRESTRICTED_GUEST = 1 << 7,
  APIC_REGISTER_VIRTUALIZATION = 1 << 8,
  VIRTUAL_INTERRUPT_DELIVERY = 1 << 9,
  PAUSE_LOOP_EXITING = 1 << 10,
  RDRAND_EXITING = 1 << 11,
  ENABLE_INVPCID = 1 << 12,
  ENABLE_VM_FUNCTIONS = 1 << 13,
  VMCS_SHADOWING = 1 << 14,
  ENABLE_ENCLS_EXITING = 1 << 15,
  RDSEED_EXITING = 1 << 16,
  ENABLE_PML = 1 << 17,
  EPT_VIOLATION_VE = 1 << 18,
  CONCEAL_VMX_FROM_PT = 1 << 19,
  ENABLE_XSAVES_XRSTORS = 1 << 20,
  PASID_TRANSLATION = 1 << 21,
  MODE_BASED_EPT_EXECUTE = 1 << 22,
  SUB_PAGE_WRITE_PERMISSIONS = 1 << 23,
  PT_USES_GUEST_PHYSICAL_ADDRESSES = 1 << 24,
  USE_TSC_SCALING = 1 << 25,
  ENABLE_USER_WAIT_PAUSE = 1 << 26,
  ENABLE_PCONFIG = 1 << 27,
  ENABLE_ENCLV_EXITING = 1 << 28,
  VMM_BUS_LOCK_DETECTION = 1 << 30,
  INSTRUCTION_TIMEOUT = 1 << 31,
}

/**
 * Tertiary processor-based VM-execution controls (Table 25-8; a 64-bit field, every defined bit is
 * below 32). Bits 5 and 6 are not defined.
 */
export const enum Proc3Ctl {
  LOADIWKEY_EXITING = 1 << 0,
  ENABLE_HLAT = 1 << 1,
  EPT_PAGING_WRITE_CONTROL = 1 << 2,
  GUEST_PAGING_VERIFICATION = 1 << 3,
  IPI_VIRTUALIZATION = 1 << 4,
  VIRTUALIZE_IA32_SPEC_CTRL = 1 << 7,
}

/** Primary VM-exit controls (Table 25-13). */
export const enum ExitCtl {
  SAVE_DEBUG_CONTROLS = 1 << 2,
  HOST_ADDRESS_SPACE_SIZE = 1 << 9,
  LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 12,
  ACKNOWLEDGE_INTERRUPT_ON_EXIT = 1 << 15,
  SAVE_IA32_PAT = 1 << 18,
  LOAD_IA32_PAT = 1 << 19,
  SAVE_IA32_EFER = 1 << 20,
  LOAD_IA32_EFER = 1 << 21,
  SAVE_PREEMPTION_TIMER_VALUE = 1 << 22,
  CLEAR_IA32_BNDCFGS = 1 << 23,
  CONCEAL_VMX_FROM_PT = 1 << 24,
  CLEAR_IA32_RTIT_CTL = 1 << 25,
  CLEAR_IA32_LBR_CTL = 1 << 26,
  CLEAR_UINV = 1 << 27,
  LOAD_CET_STATE = 1 << 28,
  LOAD_PKRS = 1 << 29,
  SAVE_IA32_PERF_GLOBAL_CTL = 1 << 30,
  ACTIVATE_SECONDARY_CONTROLS = 1 << 31,
}

/** VM-entry controls (Table 25-15). */
export const enum EntryCtl {
  LOAD_DEBUG_CONTROLS = 1 << 2,
  IA32E_MODE_GUEST = 1 << 9,
  ENTRY_TO_SMM = 1 << 10,
  DEACTIVATE_DUAL_MONITOR_TREATMENT = 1 << 11,
  LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 13,
  LOAD_IA32_PAT = 1 << 14,
  LOAD_IA32_EFER = 1 << 15,
  LOAD_IA32_BNDCFGS = 1 << 16,
  CONCEAL_VMX_FROM_PT = 1 << 17,
  LOAD_IA32_RTIT_CTL = 1 << 18,
  LOAD_UINV = 1 << 19,
  LOAD_CET_STATE = 1 << 20,
  LOAD_GUEST_IA32_LBR_CTL = 1 << 21,
  LOAD_PKRS = 1 << 22,
}

/**
 * "Default1" bits (SDM Vol. 3D, Appendix A.2-A.5): reserved bits a processor without the TRUE
 * capability MSRs requires to be 1. IA32_VMX_{PINBASED,PROCBASED,EXIT,ENTRY}_CTLS report them as
 * allowed-0 settings of 1.
 */
export const PIN_DEFAULT1 = 0x00000016;
export const PROC_DEFAULT1 = 0x0401e172;
export const EXIT_DEFAULT1 = 0x00036dff;
export const ENTRY_DEFAULT1 = 0x000011ff;

export type ControlWord = "pin" | "proc" | "proc2" | "proc3" | "exit" | "entry";

export interface ControlBitName { readonly bit: number; readonly name: string }

const names = (list: ReadonlyArray<readonly [number, string]>): readonly ControlBitName[] =>
  Object.freeze(list.map(([bit, name]) => Object.freeze({ bit, name })));

/** Bit names, in bit order, of each control word; `name` is the const-enum member name. */
export const PIN_CONTROL_NAMES = names([
  [0, "EXTERNAL_INTERRUPT_EXITING"], [3, "NMI_EXITING"], [5, "VIRTUAL_NMIS"],
  [6, "ACTIVATE_PREEMPTION_TIMER"], [7, "PROCESS_POSTED_INTERRUPTS"],
]);
export const PROC_CONTROL_NAMES = names([
  [2, "INTERRUPT_WINDOW_EXITING"], [3, "USE_TSC_OFFSETTING"], [7, "HLT_EXITING"], [9, "INVLPG_EXITING"],
  [10, "MWAIT_EXITING"], [11, "RDPMC_EXITING"], [12, "RDTSC_EXITING"], [15, "CR3_LOAD_EXITING"],
  [16, "CR3_STORE_EXITING"], [17, "ACTIVATE_TERTIARY_CONTROLS"], [19, "CR8_LOAD_EXITING"],
  [20, "CR8_STORE_EXITING"], [21, "USE_TPR_SHADOW"], [22, "NMI_WINDOW_EXITING"], [23, "MOV_DR_EXITING"],
  [24, "UNCONDITIONAL_IO_EXITING"], [25, "USE_IO_BITMAPS"], [27, "MONITOR_TRAP_FLAG"],
  [28, "USE_MSR_BITMAPS"], [29, "MONITOR_EXITING"], [30, "PAUSE_EXITING"], [31, "ACTIVATE_SECONDARY_CONTROLS"],
]);
export const PROC2_CONTROL_NAMES = names([
  [0, "VIRTUALIZE_APIC_ACCESSES"], [1, "ENABLE_EPT"], [2, "DESCRIPTOR_TABLE_EXITING"], [3, "ENABLE_RDTSCP"],
  [4, "VIRTUALIZE_X2APIC_MODE"], [5, "ENABLE_VPID"], [6, "WBINVD_EXITING"], [7, "UNRESTRICTED_GUEST"],
  [8, "APIC_REGISTER_VIRTUALIZATION"], [9, "VIRTUAL_INTERRUPT_DELIVERY"], [10, "PAUSE_LOOP_EXITING"],
  [11, "RDRAND_EXITING"], [12, "ENABLE_INVPCID"], [13, "ENABLE_VM_FUNCTIONS"], [14, "VMCS_SHADOWING"],
  [15, "ENABLE_ENCLS_EXITING"], [16, "RDSEED_EXITING"], [17, "ENABLE_PML"], [18, "EPT_VIOLATION_VE"],
  [19, "CONCEAL_VMX_FROM_PT"], [20, "ENABLE_XSAVES_XRSTORS"], [21, "PASID_TRANSLATION"],
  [22, "MODE_BASED_EPT_EXECUTE"], [23, "SUB_PAGE_WRITE_PERMISSIONS"], [24, "PT_USES_GUEST_PHYSICAL_ADDRESSES"],
  [25, "USE_TSC_SCALING"], [26, "ENABLE_USER_WAIT_PAUSE"], [27, "ENABLE_PCONFIG"], [28, "ENABLE_ENCLV_EXITING"],
  [30, "VMM_BUS_LOCK_DETECTION"], [31, "INSTRUCTION_TIMEOUT"],
]);
export const PROC3_CONTROL_NAMES = names([
  [0, "LOADIWKEY_EXITING"], [1, "ENABLE_HLAT"], [2, "EPT_PAGING_WRITE_CONTROL"],
  [3, "GUEST_PAGING_VERIFICATION"], [4, "IPI_VIRTUALIZATION"], [7, "VIRTUALIZE_IA32_SPEC_CTRL"],
]);
export const EXIT_CONTROL_NAMES = names([
  [2, "SAVE_DEBUG_CONTROLS"], [9, "HOST_ADDRESS_SPACE_SIZE"], [12, "LOAD_IA32_PERF_GLOBAL_CTRL"],
  [15, "ACKNOWLEDGE_INTERRUPT_ON_EXIT"], [18, "SAVE_IA32_PAT"], [19, "LOAD_IA32_PAT"], [20, "SAVE_IA32_EFER"],
  [21, "LOAD_IA32_EFER"], [22, "SAVE_PREEMPTION_TIMER_VALUE"], [23, "CLEAR_IA32_BNDCFGS"],
  [24, "CONCEAL_VMX_FROM_PT"], [25, "CLEAR_IA32_RTIT_CTL"], [26, "CLEAR_IA32_LBR_CTL"], [27, "CLEAR_UINV"],
  [28, "LOAD_CET_STATE"], [29, "LOAD_PKRS"], [30, "SAVE_IA32_PERF_GLOBAL_CTL"], [31, "ACTIVATE_SECONDARY_CONTROLS"],
]);
export const ENTRY_CONTROL_NAMES = names([
  [2, "LOAD_DEBUG_CONTROLS"], [9, "IA32E_MODE_GUEST"], [10, "ENTRY_TO_SMM"],
  [11, "DEACTIVATE_DUAL_MONITOR_TREATMENT"], [13, "LOAD_IA32_PERF_GLOBAL_CTRL"], [14, "LOAD_IA32_PAT"],
  [15, "LOAD_IA32_EFER"], [16, "LOAD_IA32_BNDCFGS"], [17, "CONCEAL_VMX_FROM_PT"], [18, "LOAD_IA32_RTIT_CTL"],
  [19, "LOAD_UINV"], [20, "LOAD_CET_STATE"], [21, "LOAD_GUEST_IA32_LBR_CTL"], [22, "LOAD_PKRS"],
]);

/** The names table of each control word. */
export const CONTROL_NAMES: Readonly<Record<ControlWord, readonly ControlBitName[]>> = Object.freeze({
  pin: PIN_CONTROL_NAMES, proc: PROC_CONTROL_NAMES, proc2: PROC2_CONTROL_NAMES,
  proc3: PROC3_CONTROL_NAMES, exit: EXIT_CONTROL_NAMES, entry: ENTRY_CONTROL_NAMES,
});

/** The OR of every defined bit of a control word, as a uint32 (all defined tertiary bits are < 32). */
export function definedMask(word: ControlWord): number {
  let m = 0;
  for (const { bit } of CONTROL_NAMES[word]) m |= 1 << bit;
  return m >>> 0;
}

/**
 * The set bits of a control word, low bit first, by name; a set bit the SDM does not define is
 * shown as `BIT<n>`. `proc3` (64 bits wide) may be given as a bigint; other words use bits 31:0.
 */
export function describeControls(word: ControlWord, value: number | bigint): string[] {
  const byBit = new Map<number, string>(CONTROL_NAMES[word].map((c) => [c.bit, c.name]));
  const v = typeof value === "bigint" ? BigInt.asUintN(64, value) : BigInt(value >>> 0);
  const top = word === "proc3" ? 64 : 32;
  const out: string[] = [];
  for (let bit = 0; bit < top; bit++) {
    if (((v >> BigInt(bit)) & 1n) !== 0n) out.push(byBit.get(bit) ?? `BIT${bit}`);
  }
  return out;
}
