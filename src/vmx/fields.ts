// VMCS component encodings (SDM Vol. 3D, Appendix B "Field Encoding in VMCS"), written once as
// typed data for the VMX engine: VMREAD/VMWRITE, VMCS dumps and the VM-entry checks.
//
// Naming. Every member of `F` is the SDM's field name in UPPER_SNAKE, made concise by a few fixed
// rules, so that a name can be found in Appendix B by reading it back:
//  - "Address of", "field" and parenthesised acronyms are dropped ("Address of MSR bitmaps" is
//    MSR_BITMAPS, "Virtual-processor identifier (VPID)" is VIRTUAL_PROCESSOR_ID);
//  - "information" is INFO, "descriptor" DESC, "VM-execution controls" CONTROLS, "processor-based"
//    PROC ("Primary processor-based VM-execution controls" is PRIMARY_PROC_CONTROLS);
//  - MSR names keep their IA32_ spelling (GUEST_IA32_EFER, HOST_IA32_SYSENTER_CS); the words
//    ADDRESS and POINTER are spelt out; numbered fields carry the digit with no underscore
//    (GUEST_PDPTE0, CR3_TARGET_VALUE3, EOI_EXIT_BITMAP2).
// Where Linux's `enum vmcs_field` uses another name, the test file lists it next to the value.
//
// A 64-bit field has two encodings: the "full" one (access type, bit 0, clear) is listed here; the
// "high" one (encoding + 1) reaches bits 63:32 and is resolved by `fieldInfo`, not listed.

export type FieldWidth = 16 | 32 | 64 | "natural";
/** Bits 11:10 of an encoding: 0 control, 1 VM-exit information (read-only), 2 guest state, 3 host state. */
export type FieldGroup = "control" | "exit-info" | "guest" | "host";

export interface VmcsField {
  readonly encoding: number;
  readonly name: string;
  readonly width: FieldWidth;
  readonly group: FieldGroup;
}

/** Every VMCS field's encoding (full access for 64-bit fields), by SDM-derived name. */
export const enum F {
  // B.1.1 16-bit control fields
  VIRTUAL_PROCESSOR_ID = 0x0000,
  POSTED_INTERRUPT_NOTIFICATION_VECTOR = 0x0002,
  EPTP_INDEX = 0x0004,
  HLAT_PREFIX_SIZE = 0x0006,
  LAST_PID_POINTER_INDEX = 0x0008,
  // B.1.2 16-bit guest-state fields
  GUEST_ES_SELECTOR = 0x0800,
  GUEST_CS_SELECTOR = 0x0802,
  GUEST_SS_SELECTOR = 0x0804,
  GUEST_DS_SELECTOR = 0x0806,
  GUEST_FS_SELECTOR = 0x0808,
  GUEST_GS_SELECTOR = 0x080a,
  GUEST_LDTR_SELECTOR = 0x080c,
  GUEST_TR_SELECTOR = 0x080e,
  GUEST_INTERRUPT_STATUS = 0x0810,
  PML_INDEX = 0x0812,
  GUEST_UINV = 0x0814,
  // B.1.3 16-bit host-state fields
  HOST_ES_SELECTOR = 0x0c00,
  HOST_CS_SELECTOR = 0x0c02,
  HOST_SS_SELECTOR = 0x0c04,
  HOST_DS_SELECTOR = 0x0c06,
  HOST_FS_SELECTOR = 0x0c08,
  HOST_GS_SELECTOR = 0x0c0a,
  HOST_TR_SELECTOR = 0x0c0c,
  // B.2.1 64-bit control fields
  IO_BITMAP_A = 0x2000,
  IO_BITMAP_B = 0x2002,
  MSR_BITMAPS = 0x2004,
  VM_EXIT_MSR_STORE_ADDRESS = 0x2006,
  VM_EXIT_MSR_LOAD_ADDRESS = 0x2008,
  VM_ENTRY_MSR_LOAD_ADDRESS = 0x200a,
  EXECUTIVE_VMCS_POINTER = 0x200c,
  PML_ADDRESS = 0x200e,
  TSC_OFFSET = 0x2010,
  VIRTUAL_APIC_ADDRESS = 0x2012,
  APIC_ACCESS_ADDRESS = 0x2014,
  POSTED_INTERRUPT_DESC_ADDRESS = 0x2016,
  VM_FUNCTION_CONTROLS = 0x2018,
  EPT_POINTER = 0x201a,
  EOI_EXIT_BITMAP0 = 0x201c,
  EOI_EXIT_BITMAP1 = 0x201e,
  EOI_EXIT_BITMAP2 = 0x2020,
  EOI_EXIT_BITMAP3 = 0x2022,
  EPTP_LIST_ADDRESS = 0x2024,
  VMREAD_BITMAP_ADDRESS = 0x2026,
  VMWRITE_BITMAP_ADDRESS = 0x2028,
  VE_INFO_ADDRESS = 0x202a,
  XSS_EXITING_BITMAP = 0x202c,
  ENCLS_EXITING_BITMAP = 0x202e,
  SPP_TABLE_POINTER = 0x2030,
  TSC_MULTIPLIER = 0x2032,
  TERTIARY_PROC_CONTROLS = 0x2034,
  ENCLV_EXITING_BITMAP = 0x2036,
  LOW_PASID_DIRECTORY_ADDRESS = 0x2038,
  HIGH_PASID_DIRECTORY_ADDRESS = 0x203a,
  SHARED_EPT_POINTER = 0x203c,
  PCONFIG_EXITING_BITMAP = 0x203e,
  HLAT_POINTER = 0x2040,
  PID_POINTER_TABLE_ADDRESS = 0x2042,
  SECONDARY_VM_EXIT_CONTROLS = 0x2044,
  IA32_SPEC_CTRL_MASK = 0x204a,
  IA32_SPEC_CTRL_SHADOW = 0x204c,
  // B.2.2 64-bit read-only data field
  GUEST_PHYSICAL_ADDRESS = 0x2400,
  // B.2.3 64-bit guest-state fields
  VMCS_LINK_POINTER = 0x2800,
  GUEST_IA32_DEBUGCTL = 0x2802,
  GUEST_IA32_PAT = 0x2804,
  GUEST_IA32_EFER = 0x2806,
  GUEST_IA32_PERF_GLOBAL_CTRL = 0x2808,
  GUEST_PDPTE0 = 0x280a,
  GUEST_PDPTE1 = 0x280c,
  GUEST_PDPTE2 = 0x280e,
  GUEST_PDPTE3 = 0x2810,
  GUEST_IA32_BNDCFGS = 0x2812,
  GUEST_IA32_RTIT_CTL = 0x2814,
  GUEST_IA32_LBR_CTL = 0x2816,
  GUEST_IA32_PKRS = 0x2818,
  // B.2.4 64-bit host-state fields
  HOST_IA32_PAT = 0x2c00,
  HOST_IA32_EFER = 0x2c02,
  HOST_IA32_PERF_GLOBAL_CTRL = 0x2c04,
  HOST_IA32_PKRS = 0x2c06,
  // B.3.1 32-bit control fields
  PIN_BASED_CONTROLS = 0x4000,
  PRIMARY_PROC_CONTROLS = 0x4002,
  EXCEPTION_BITMAP = 0x4004,
  PAGE_FAULT_ERROR_CODE_MASK = 0x4006,
  PAGE_FAULT_ERROR_CODE_MATCH = 0x4008,
  CR3_TARGET_COUNT = 0x400a,
  VM_EXIT_CONTROLS = 0x400c,
  VM_EXIT_MSR_STORE_COUNT = 0x400e,
  VM_EXIT_MSR_LOAD_COUNT = 0x4010,
  VM_ENTRY_CONTROLS = 0x4012,
  VM_ENTRY_MSR_LOAD_COUNT = 0x4014,
  VM_ENTRY_INTERRUPTION_INFO = 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018,
  VM_ENTRY_INSTRUCTION_LENGTH = 0x401a,
  TPR_THRESHOLD = 0x401c,
  SECONDARY_PROC_CONTROLS = 0x401e,
  PLE_GAP = 0x4020,
  PLE_WINDOW = 0x4022,
  INSTRUCTION_TIMEOUT_CONTROL = 0x4024,
  // B.3.2 32-bit read-only data fields
  VM_INSTRUCTION_ERROR = 0x4400,
  EXIT_REASON = 0x4402,
  VM_EXIT_INTERRUPTION_INFO = 0x4404,
  VM_EXIT_INTERRUPTION_ERROR_CODE = 0x4406,
  IDT_VECTORING_INFO = 0x4408,
  IDT_VECTORING_ERROR_CODE = 0x440a,
  VM_EXIT_INSTRUCTION_LENGTH = 0x440c,
  VM_EXIT_INSTRUCTION_INFO = 0x440e,
  // B.3.3 32-bit guest-state fields
  GUEST_ES_LIMIT = 0x4800,
  GUEST_CS_LIMIT = 0x4802,
  GUEST_SS_LIMIT = 0x4804,
  GUEST_DS_LIMIT = 0x4806,
  GUEST_FS_LIMIT = 0x4808,
  GUEST_GS_LIMIT = 0x480a,
  GUEST_LDTR_LIMIT = 0x480c,
  GUEST_TR_LIMIT = 0x480e,
  GUEST_GDTR_LIMIT = 0x4810,
  GUEST_IDTR_LIMIT = 0x4812,
  GUEST_ES_ACCESS_RIGHTS = 0x4814,
  GUEST_CS_ACCESS_RIGHTS = 0x4816,
  GUEST_SS_ACCESS_RIGHTS = 0x4818,
  GUEST_DS_ACCESS_RIGHTS = 0x481a,
  GUEST_FS_ACCESS_RIGHTS = 0x481c,
  GUEST_GS_ACCESS_RIGHTS = 0x481e,
  GUEST_LDTR_ACCESS_RIGHTS = 0x4820,
  GUEST_TR_ACCESS_RIGHTS = 0x4822,
  GUEST_INTERRUPTIBILITY_STATE = 0x4824,
  GUEST_ACTIVITY_STATE = 0x4826,
  GUEST_SMBASE = 0x4828,
  GUEST_IA32_SYSENTER_CS = 0x482a,
  VMX_PREEMPTION_TIMER_VALUE = 0x482e,
  // B.3.4 32-bit host-state field
  HOST_IA32_SYSENTER_CS = 0x4c00,
  // B.4.1 natural-width control fields
  CR0_GUEST_HOST_MASK = 0x6000,
  CR4_GUEST_HOST_MASK = 0x6002,
  CR0_READ_SHADOW = 0x6004,
  CR4_READ_SHADOW = 0x6006,
  CR3_TARGET_VALUE0 = 0x6008,
  CR3_TARGET_VALUE1 = 0x600a,
  CR3_TARGET_VALUE2 = 0x600c,
  CR3_TARGET_VALUE3 = 0x600e,
  // B.4.2 natural-width read-only data fields
  EXIT_QUALIFICATION = 0x6400,
  IO_RCX = 0x6402,
  IO_RSI = 0x6404,
  IO_RDI = 0x6406,
  IO_RIP = 0x6408,
  GUEST_LINEAR_ADDRESS = 0x640a,
  // B.4.3 natural-width guest-state fields
  GUEST_CR0 = 0x6800,
  GUEST_CR3 = 0x6802,
  GUEST_CR4 = 0x6804,
  GUEST_ES_BASE = 0x6806,
  GUEST_CS_BASE = 0x6808,
  GUEST_SS_BASE = 0x680a,
  GUEST_DS_BASE = 0x680c,
  GUEST_FS_BASE = 0x680e,
  GUEST_GS_BASE = 0x6810,
  GUEST_LDTR_BASE = 0x6812,
  GUEST_TR_BASE = 0x6814,
  GUEST_GDTR_BASE = 0x6816,
  GUEST_IDTR_BASE = 0x6818,
  GUEST_DR7 = 0x681a,
  GUEST_RSP = 0x681c,
  GUEST_RIP = 0x681e,
  GUEST_RFLAGS = 0x6820,
  GUEST_PENDING_DEBUG_EXCEPTIONS = 0x6822,
  GUEST_IA32_SYSENTER_ESP = 0x6824,
  GUEST_IA32_SYSENTER_EIP = 0x6826,
  GUEST_IA32_S_CET = 0x6828,
  GUEST_SSP = 0x682a,
  GUEST_IA32_INTERRUPT_SSP_TABLE_ADDR = 0x682c,
  // B.4.4 natural-width host-state fields
  HOST_CR0 = 0x6c00,
  HOST_CR3 = 0x6c02,
  HOST_CR4 = 0x6c04,
  HOST_FS_BASE = 0x6c06,
  HOST_GS_BASE = 0x6c08,
  HOST_TR_BASE = 0x6c0a,
  HOST_GDTR_BASE = 0x6c0c,
  HOST_IDTR_BASE = 0x6c0e,
  HOST_IA32_SYSENTER_ESP = 0x6c10,
  HOST_IA32_SYSENTER_EIP = 0x6c12,
  HOST_RSP = 0x6c14,
  HOST_RIP = 0x6c16,
  HOST_IA32_S_CET = 0x6c18,
  HOST_SSP = 0x6c1a,
  HOST_IA32_INTERRUPT_SSP_TABLE_ADDR = 0x6c1c,
}

// ---------------------------------------------------------------------------------------------
// Structure of a VMCS component encoding (SDM Vol. 3C, "VMREAD, VMWRITE, and Encodings of VMCS
// Fields", table "Structure of VMCS Component Encoding"):
//   bit 0      access type (0 = full, 1 = high; high is allowed only for 64-bit fields)
//   bits 9:1   index
//   bits 11:10 type (0 control, 1 VM-exit information, 2 guest state, 3 host state)
//   bit 12     reserved (0)
//   bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural width)
//   bits 31:15 reserved (0)

/** Bits of a 32-bit encoding that must be zero: 31:15 and 12. */
export const ENCODING_RESERVED_MASK = 0xffff9000;

const WIDTHS: readonly FieldWidth[] = [16, 64, 32, "natural"];
const GROUPS: readonly FieldGroup[] = ["control", "exit-info", "guest", "host"];

/** The width named by bits 14:13 of the encoding. */
export function widthOf(encoding: number): FieldWidth {
  return WIDTHS[(encoding >>> 13) & 3];
}

/** The type named by bits 11:10 of the encoding. */
export function groupOf(encoding: number): FieldGroup {
  return GROUPS[(encoding >>> 10) & 3];
}

/** The index, bits 9:1. */
export function indexOf(encoding: number): number {
  return (encoding >>> 1) & 0x1ff;
}

/** True for a "high" access (bit 0 set). Only meaningful for 64-bit fields. */
export function isHighAccess(encoding: number): boolean {
  return (encoding & 1) !== 0;
}

/** Build an encoding from its parts (the inverse of widthOf/groupOf/indexOf/isHighAccess). */
export function makeEncoding(width: FieldWidth, group: FieldGroup, index: number, high = false): number {
  if (!Number.isInteger(index) || index < 0 || index > 0x1ff) throw new RangeError(`VMCS field index ${index} out of range`);
  if (high && width !== 64) throw new RangeError("only 64-bit fields have a high access");
  return (WIDTHS.indexOf(width) << 13) | (GROUPS.indexOf(group) << 10) | (index << 1) | (high ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// The field table, one section per Appendix B table. Each section states the width and type of
// its fields; the tests check that every encoding's bits agree with its section.

type Entry = readonly [encoding: number, name: string];

function section(width: FieldWidth, group: FieldGroup, entries: readonly Entry[]): VmcsField[] {
  return entries.map(([encoding, name]) => Object.freeze({ encoding, name, width, group }));
}

const SECTIONS: VmcsField[][] = [
  section(16, "control", [
    [F.VIRTUAL_PROCESSOR_ID, "VIRTUAL_PROCESSOR_ID"],
    [F.POSTED_INTERRUPT_NOTIFICATION_VECTOR, "POSTED_INTERRUPT_NOTIFICATION_VECTOR"],
    [F.EPTP_INDEX, "EPTP_INDEX"],
    [F.HLAT_PREFIX_SIZE, "HLAT_PREFIX_SIZE"],
    [F.LAST_PID_POINTER_INDEX, "LAST_PID_POINTER_INDEX"],
  ]),
  section(16, "guest", [
    [F.GUEST_ES_SELECTOR, "GUEST_ES_SELECTOR"],
    [F.GUEST_CS_SELECTOR, "GUEST_CS_SELECTOR"],
    [F.GUEST_SS_SELECTOR, "GUEST_SS_SELECTOR"],
    [F.GUEST_DS_SELECTOR, "GUEST_DS_SELECTOR"],
    [F.GUEST_FS_SELECTOR, "GUEST_FS_SELECTOR"],
    [F.GUEST_GS_SELECTOR, "GUEST_GS_SELECTOR"],
    [F.GUEST_LDTR_SELECTOR, "GUEST_LDTR_SELECTOR"],
    [F.GUEST_TR_SELECTOR, "GUEST_TR_SELECTOR"],
    [F.GUEST_INTERRUPT_STATUS, "GUEST_INTERRUPT_STATUS"],
    [F.PML_INDEX, "PML_INDEX"],
    [F.GUEST_UINV, "GUEST_UINV"],
  ]),
  section(16, "host", [
    [F.HOST_ES_SELECTOR, "HOST_ES_SELECTOR"],
    [F.HOST_CS_SELECTOR, "HOST_CS_SELECTOR"],
    [F.HOST_SS_SELECTOR, "HOST_SS_SELECTOR"],
    [F.HOST_DS_SELECTOR, "HOST_DS_SELECTOR"],
    [F.HOST_FS_SELECTOR, "HOST_FS_SELECTOR"],
    [F.HOST_GS_SELECTOR, "HOST_GS_SELECTOR"],
    [F.HOST_TR_SELECTOR, "HOST_TR_SELECTOR"],
  ]),
  section(64, "control", [
    [F.IO_BITMAP_A, "IO_BITMAP_A"],
    [F.IO_BITMAP_B, "IO_BITMAP_B"],
    [F.MSR_BITMAPS, "MSR_BITMAPS"],
    [F.VM_EXIT_MSR_STORE_ADDRESS, "VM_EXIT_MSR_STORE_ADDRESS"],
    [F.VM_EXIT_MSR_LOAD_ADDRESS, "VM_EXIT_MSR_LOAD_ADDRESS"],
    [F.VM_ENTRY_MSR_LOAD_ADDRESS, "VM_ENTRY_MSR_LOAD_ADDRESS"],
    [F.EXECUTIVE_VMCS_POINTER, "EXECUTIVE_VMCS_POINTER"],
    [F.PML_ADDRESS, "PML_ADDRESS"],
    [F.TSC_OFFSET, "TSC_OFFSET"],
    [F.VIRTUAL_APIC_ADDRESS, "VIRTUAL_APIC_ADDRESS"],
    [F.APIC_ACCESS_ADDRESS, "APIC_ACCESS_ADDRESS"],
    [F.POSTED_INTERRUPT_DESC_ADDRESS, "POSTED_INTERRUPT_DESC_ADDRESS"],
    [F.VM_FUNCTION_CONTROLS, "VM_FUNCTION_CONTROLS"],
    [F.EPT_POINTER, "EPT_POINTER"],
    [F.EOI_EXIT_BITMAP0, "EOI_EXIT_BITMAP0"],
    [F.EOI_EXIT_BITMAP1, "EOI_EXIT_BITMAP1"],
    [F.EOI_EXIT_BITMAP2, "EOI_EXIT_BITMAP2"],
    [F.EOI_EXIT_BITMAP3, "EOI_EXIT_BITMAP3"],
    [F.EPTP_LIST_ADDRESS, "EPTP_LIST_ADDRESS"],
    [F.VMREAD_BITMAP_ADDRESS, "VMREAD_BITMAP_ADDRESS"],
    [F.VMWRITE_BITMAP_ADDRESS, "VMWRITE_BITMAP_ADDRESS"],
    [F.VE_INFO_ADDRESS, "VE_INFO_ADDRESS"],
    [F.XSS_EXITING_BITMAP, "XSS_EXITING_BITMAP"],
    [F.ENCLS_EXITING_BITMAP, "ENCLS_EXITING_BITMAP"],
    [F.SPP_TABLE_POINTER, "SPP_TABLE_POINTER"],
    [F.TSC_MULTIPLIER, "TSC_MULTIPLIER"],
    [F.TERTIARY_PROC_CONTROLS, "TERTIARY_PROC_CONTROLS"],
    [F.ENCLV_EXITING_BITMAP, "ENCLV_EXITING_BITMAP"],
    [F.LOW_PASID_DIRECTORY_ADDRESS, "LOW_PASID_DIRECTORY_ADDRESS"],
    [F.HIGH_PASID_DIRECTORY_ADDRESS, "HIGH_PASID_DIRECTORY_ADDRESS"],
    [F.SHARED_EPT_POINTER, "SHARED_EPT_POINTER"],
    [F.PCONFIG_EXITING_BITMAP, "PCONFIG_EXITING_BITMAP"],
    [F.HLAT_POINTER, "HLAT_POINTER"],
    [F.PID_POINTER_TABLE_ADDRESS, "PID_POINTER_TABLE_ADDRESS"],
    [F.SECONDARY_VM_EXIT_CONTROLS, "SECONDARY_VM_EXIT_CONTROLS"],
    [F.IA32_SPEC_CTRL_MASK, "IA32_SPEC_CTRL_MASK"],
    [F.IA32_SPEC_CTRL_SHADOW, "IA32_SPEC_CTRL_SHADOW"],
  ]),
  section(64, "exit-info", [
    [F.GUEST_PHYSICAL_ADDRESS, "GUEST_PHYSICAL_ADDRESS"],
  ]),
  section(64, "guest", [
    [F.VMCS_LINK_POINTER, "VMCS_LINK_POINTER"],
    [F.GUEST_IA32_DEBUGCTL, "GUEST_IA32_DEBUGCTL"],
    [F.GUEST_IA32_PAT, "GUEST_IA32_PAT"],
    [F.GUEST_IA32_EFER, "GUEST_IA32_EFER"],
    [F.GUEST_IA32_PERF_GLOBAL_CTRL, "GUEST_IA32_PERF_GLOBAL_CTRL"],
    [F.GUEST_PDPTE0, "GUEST_PDPTE0"],
    [F.GUEST_PDPTE1, "GUEST_PDPTE1"],
    [F.GUEST_PDPTE2, "GUEST_PDPTE2"],
    [F.GUEST_PDPTE3, "GUEST_PDPTE3"],
    [F.GUEST_IA32_BNDCFGS, "GUEST_IA32_BNDCFGS"],
    [F.GUEST_IA32_RTIT_CTL, "GUEST_IA32_RTIT_CTL"],
    [F.GUEST_IA32_LBR_CTL, "GUEST_IA32_LBR_CTL"],
    [F.GUEST_IA32_PKRS, "GUEST_IA32_PKRS"],
  ]),
  section(64, "host", [
    [F.HOST_IA32_PAT, "HOST_IA32_PAT"],
    [F.HOST_IA32_EFER, "HOST_IA32_EFER"],
    [F.HOST_IA32_PERF_GLOBAL_CTRL, "HOST_IA32_PERF_GLOBAL_CTRL"],
    [F.HOST_IA32_PKRS, "HOST_IA32_PKRS"],
  ]),
  section(32, "control", [
    [F.PIN_BASED_CONTROLS, "PIN_BASED_CONTROLS"],
    [F.PRIMARY_PROC_CONTROLS, "PRIMARY_PROC_CONTROLS"],
    [F.EXCEPTION_BITMAP, "EXCEPTION_BITMAP"],
    [F.PAGE_FAULT_ERROR_CODE_MASK, "PAGE_FAULT_ERROR_CODE_MASK"],
    [F.PAGE_FAULT_ERROR_CODE_MATCH, "PAGE_FAULT_ERROR_CODE_MATCH"],
    [F.CR3_TARGET_COUNT, "CR3_TARGET_COUNT"],
    [F.VM_EXIT_CONTROLS, "VM_EXIT_CONTROLS"],
    [F.VM_EXIT_MSR_STORE_COUNT, "VM_EXIT_MSR_STORE_COUNT"],
    [F.VM_EXIT_MSR_LOAD_COUNT, "VM_EXIT_MSR_LOAD_COUNT"],
    [F.VM_ENTRY_CONTROLS, "VM_ENTRY_CONTROLS"],
    [F.VM_ENTRY_MSR_LOAD_COUNT, "VM_ENTRY_MSR_LOAD_COUNT"],
    [F.VM_ENTRY_INTERRUPTION_INFO, "VM_ENTRY_INTERRUPTION_INFO"],
    [F.VM_ENTRY_EXCEPTION_ERROR_CODE, "VM_ENTRY_EXCEPTION_ERROR_CODE"],
    [F.VM_ENTRY_INSTRUCTION_LENGTH, "VM_ENTRY_INSTRUCTION_LENGTH"],
    [F.TPR_THRESHOLD, "TPR_THRESHOLD"],
    [F.SECONDARY_PROC_CONTROLS, "SECONDARY_PROC_CONTROLS"],
    [F.PLE_GAP, "PLE_GAP"],
    [F.PLE_WINDOW, "PLE_WINDOW"],
    [F.INSTRUCTION_TIMEOUT_CONTROL, "INSTRUCTION_TIMEOUT_CONTROL"],
  ]),
  section(32, "exit-info", [
    [F.VM_INSTRUCTION_ERROR, "VM_INSTRUCTION_ERROR"],
    [F.EXIT_REASON, "EXIT_REASON"],
    [F.VM_EXIT_INTERRUPTION_INFO, "VM_EXIT_INTERRUPTION_INFO"],
    [F.VM_EXIT_INTERRUPTION_ERROR_CODE, "VM_EXIT_INTERRUPTION_ERROR_CODE"],
    [F.IDT_VECTORING_INFO, "IDT_VECTORING_INFO"],
    [F.IDT_VECTORING_ERROR_CODE, "IDT_VECTORING_ERROR_CODE"],
    [F.VM_EXIT_INSTRUCTION_LENGTH, "VM_EXIT_INSTRUCTION_LENGTH"],
    [F.VM_EXIT_INSTRUCTION_INFO, "VM_EXIT_INSTRUCTION_INFO"],
  ]),
  section(32, "guest", [
    [F.GUEST_ES_LIMIT, "GUEST_ES_LIMIT"],
    [F.GUEST_CS_LIMIT, "GUEST_CS_LIMIT"],
    [F.GUEST_SS_LIMIT, "GUEST_SS_LIMIT"],
    [F.GUEST_DS_LIMIT, "GUEST_DS_LIMIT"],
    [F.GUEST_FS_LIMIT, "GUEST_FS_LIMIT"],
    [F.GUEST_GS_LIMIT, "GUEST_GS_LIMIT"],
    [F.GUEST_LDTR_LIMIT, "GUEST_LDTR_LIMIT"],
    [F.GUEST_TR_LIMIT, "GUEST_TR_LIMIT"],
    [F.GUEST_GDTR_LIMIT, "GUEST_GDTR_LIMIT"],
    [F.GUEST_IDTR_LIMIT, "GUEST_IDTR_LIMIT"],
    [F.GUEST_ES_ACCESS_RIGHTS, "GUEST_ES_ACCESS_RIGHTS"],
    [F.GUEST_CS_ACCESS_RIGHTS, "GUEST_CS_ACCESS_RIGHTS"],
    [F.GUEST_SS_ACCESS_RIGHTS, "GUEST_SS_ACCESS_RIGHTS"],
    [F.GUEST_DS_ACCESS_RIGHTS, "GUEST_DS_ACCESS_RIGHTS"],
    [F.GUEST_FS_ACCESS_RIGHTS, "GUEST_FS_ACCESS_RIGHTS"],
    [F.GUEST_GS_ACCESS_RIGHTS, "GUEST_GS_ACCESS_RIGHTS"],
    [F.GUEST_LDTR_ACCESS_RIGHTS, "GUEST_LDTR_ACCESS_RIGHTS"],
    [F.GUEST_TR_ACCESS_RIGHTS, "GUEST_TR_ACCESS_RIGHTS"],
    [F.GUEST_INTERRUPTIBILITY_STATE, "GUEST_INTERRUPTIBILITY_STATE"],
    [F.GUEST_ACTIVITY_STATE, "GUEST_ACTIVITY_STATE"],
    [F.GUEST_SMBASE, "GUEST_SMBASE"],
    [F.GUEST_IA32_SYSENTER_CS, "GUEST_IA32_SYSENTER_CS"],
    [F.VMX_PREEMPTION_TIMER_VALUE, "VMX_PREEMPTION_TIMER_VALUE"],
  ]),
  section(32, "host", [
    [F.HOST_IA32_SYSENTER_CS, "HOST_IA32_SYSENTER_CS"],
  ]),
  section("natural", "control", [
    [F.CR0_GUEST_HOST_MASK, "CR0_GUEST_HOST_MASK"],
    [F.CR4_GUEST_HOST_MASK, "CR4_GUEST_HOST_MASK"],
    [F.CR0_READ_SHADOW, "CR0_READ_SHADOW"],
    [F.CR4_READ_SHADOW, "CR4_READ_SHADOW"],
    [F.CR3_TARGET_VALUE0, "CR3_TARGET_VALUE0"],
    [F.CR3_TARGET_VALUE1, "CR3_TARGET_VALUE1"],
    [F.CR3_TARGET_VALUE2, "CR3_TARGET_VALUE2"],
    [F.CR3_TARGET_VALUE3, "CR3_TARGET_VALUE3"],
  ]),
  section("natural", "exit-info", [
    [F.EXIT_QUALIFICATION, "EXIT_QUALIFICATION"],
    [F.IO_RCX, "IO_RCX"],
    [F.IO_RSI, "IO_RSI"],
    [F.IO_RDI, "IO_RDI"],
    [F.IO_RIP, "IO_RIP"],
    [F.GUEST_LINEAR_ADDRESS, "GUEST_LINEAR_ADDRESS"],
  ]),
  section("natural", "guest", [
    [F.GUEST_CR0, "GUEST_CR0"],
    [F.GUEST_CR3, "GUEST_CR3"],
    [F.GUEST_CR4, "GUEST_CR4"],
    [F.GUEST_ES_BASE, "GUEST_ES_BASE"],
    [F.GUEST_CS_BASE, "GUEST_CS_BASE"],
    [F.GUEST_SS_BASE, "GUEST_SS_BASE"],
    [F.GUEST_DS_BASE, "GUEST_DS_BASE"],
    [F.GUEST_FS_BASE, "GUEST_FS_BASE"],
    [F.GUEST_GS_BASE, "GUEST_GS_BASE"],
    [F.GUEST_LDTR_BASE, "GUEST_LDTR_BASE"],
    [F.GUEST_TR_BASE, "GUEST_TR_BASE"],
    [F.GUEST_GDTR_BASE, "GUEST_GDTR_BASE"],
    [F.GUEST_IDTR_BASE, "GUEST_IDTR_BASE"],
    [F.GUEST_DR7, "GUEST_DR7"],
    [F.GUEST_RSP, "GUEST_RSP"],
    [F.GUEST_RIP, "GUEST_RIP"],
    [F.GUEST_RFLAGS, "GUEST_RFLAGS"],
    [F.GUEST_PENDING_DEBUG_EXCEPTIONS, "GUEST_PENDING_DEBUG_EXCEPTIONS"],
    [F.GUEST_IA32_SYSENTER_ESP, "GUEST_IA32_SYSENTER_ESP"],
    [F.GUEST_IA32_SYSENTER_EIP, "GUEST_IA32_SYSENTER_EIP"],
    [F.GUEST_IA32_S_CET, "GUEST_IA32_S_CET"],
    [F.GUEST_SSP, "GUEST_SSP"],
    [F.GUEST_IA32_INTERRUPT_SSP_TABLE_ADDR, "GUEST_IA32_INTERRUPT_SSP_TABLE_ADDR"],
  ]),
  section("natural", "host", [
    [F.HOST_CR0, "HOST_CR0"],
    [F.HOST_CR3, "HOST_CR3"],
    [F.HOST_CR4, "HOST_CR4"],
    [F.HOST_FS_BASE, "HOST_FS_BASE"],
    [F.HOST_GS_BASE, "HOST_GS_BASE"],
    [F.HOST_TR_BASE, "HOST_TR_BASE"],
    [F.HOST_GDTR_BASE, "HOST_GDTR_BASE"],
    [F.HOST_IDTR_BASE, "HOST_IDTR_BASE"],
    [F.HOST_IA32_SYSENTER_ESP, "HOST_IA32_SYSENTER_ESP"],
    [F.HOST_IA32_SYSENTER_EIP, "HOST_IA32_SYSENTER_EIP"],
    [F.HOST_RSP, "HOST_RSP"],
    [F.HOST_RIP, "HOST_RIP"],
    [F.HOST_IA32_S_CET, "HOST_IA32_S_CET"],
    [F.HOST_SSP, "HOST_SSP"],
    [F.HOST_IA32_INTERRUPT_SSP_TABLE_ADDR, "HOST_IA32_INTERRUPT_SSP_TABLE_ADDR"],
  ]),
];

/** Every field of Appendix B, sorted by encoding. */
export const VMCS_FIELDS: readonly VmcsField[] = Object.freeze(
  SECTIONS.flat().sort((a, b) => a.encoding - b.encoding));

const BY_ENCODING = new Map<number, VmcsField>(VMCS_FIELDS.map((f) => [f.encoding, f]));
const BY_NAME = new Map<string, VmcsField>(VMCS_FIELDS.map((f) => [f.name, f]));

/**
 * The highest index (bits 9:1) of any encoding in the table: the value IA32_VMX_VMCS_ENUM
 * reports in its bits 9:1 for a processor that supports every field here.
 */
export const MAX_FIELD_INDEX = VMCS_FIELDS.reduce((m, f) => Math.max(m, indexOf(f.encoding)), 0);

/**
 * Resolve a VMREAD/VMWRITE encoding. A 64-bit field is found by its full encoding (high: false) or
 * by encoding + 1 (high: true, bits 63:32 of the field). Returns undefined for any encoding that is
 * not a field here, including a high access to a field that is not 64 bits wide, reserved bits
 * set, or (for a bigint register operand) bits 63:32 set: VMREAD/VMWRITE then fail with
 * VM-instruction error 12.
 */
export function fieldInfo(encoding: number | bigint): { field: VmcsField; high: boolean } | undefined {
  let e: number;
  if (typeof encoding === "bigint") {
    if (encoding < 0n || encoding > 0xffffffffn) return undefined;
    e = Number(encoding);
  } else {
    if (!Number.isInteger(encoding) || encoding < 0 || encoding > 0xffffffff) return undefined;
    e = encoding;
  }
  const exact = BY_ENCODING.get(e);
  if (exact !== undefined) return { field: exact, high: false };
  if ((e & 1) !== 0) {
    const full = BY_ENCODING.get(e - 1);
    if (full !== undefined && full.width === 64) return { field: full, high: true };
  }
  return undefined;
}

/** The field with this name (an `F` member name), if any. */
export function fieldByName(name: string): VmcsField | undefined {
  return BY_NAME.get(name);
}

/** A name for dumps: the field name, `NAME_HIGH` for a high access, or `unknown(0x....)`. */
export function fieldName(encoding: number | bigint): string {
  const info = fieldInfo(encoding);
  if (info === undefined) return `unknown(0x${encoding.toString(16)})`;
  return info.high ? `${info.field.name}_HIGH` : info.field.name;
}
