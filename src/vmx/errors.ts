// VM-instruction error numbers (SDM Vol. 3C 31.4 "VM Instruction Error Numbers", Table 31-1;
// 30.4 / Table 30-1 in older editions), written once as typed data. VMfailValid stores one of these
// in the VM-instruction error field (F.VM_INSTRUCTION_ERROR). Numbers 14, 21 and 27 are not used.

export const enum VmInstructionError {
  VMCALL_IN_VMX_ROOT = 1,
  VMCLEAR_INVALID_ADDRESS = 2,
  VMCLEAR_VMXON_POINTER = 3,
  VMLAUNCH_NONCLEAR_VMCS = 4,
  VMRESUME_NONLAUNCHED_VMCS = 5,
  VMRESUME_AFTER_VMXOFF = 6,
  ENTRY_INVALID_CONTROL_FIELDS = 7,
  ENTRY_INVALID_HOST_STATE = 8,
  VMPTRLD_INVALID_ADDRESS = 9,
  VMPTRLD_VMXON_POINTER = 10,
  VMPTRLD_INCORRECT_REVISION = 11,
  UNSUPPORTED_VMCS_COMPONENT = 12,
  VMWRITE_READ_ONLY_COMPONENT = 13,
  VMXON_IN_VMX_ROOT = 15,
  ENTRY_INVALID_EXECUTIVE_VMCS_POINTER = 16,
  ENTRY_NONLAUNCHED_EXECUTIVE_VMCS = 17,
  ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON = 18,
  VMCALL_NONCLEAR_VMCS = 19,
  VMCALL_INVALID_VM_EXIT_CONTROLS = 20,
  VMCALL_INCORRECT_MSEG_REVISION = 22,
  VMXOFF_DUAL_MONITOR = 23,
  VMCALL_INVALID_SMM_MONITOR_FEATURES = 24,
  ENTRY_INVALID_VM_EXECUTION_CONTROLS_IN_EXECUTIVE_VMCS = 25,
  ENTRY_EVENTS_BLOCKED_BY_MOV_SS = 26,
  INVALID_OPERAND_TO_INVEPT_INVVPID = 28,
}

/** The member name of each error number. */
export const VM_INSTRUCTION_ERROR_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: "VMCALL_IN_VMX_ROOT",
  2: "VMCLEAR_INVALID_ADDRESS",
  3: "VMCLEAR_VMXON_POINTER",
  4: "VMLAUNCH_NONCLEAR_VMCS",
  5: "VMRESUME_NONLAUNCHED_VMCS",
  6: "VMRESUME_AFTER_VMXOFF",
  7: "ENTRY_INVALID_CONTROL_FIELDS",
  8: "ENTRY_INVALID_HOST_STATE",
  9: "VMPTRLD_INVALID_ADDRESS",
  10: "VMPTRLD_VMXON_POINTER",
  11: "VMPTRLD_INCORRECT_REVISION",
  12: "UNSUPPORTED_VMCS_COMPONENT",
  13: "VMWRITE_READ_ONLY_COMPONENT",
  15: "VMXON_IN_VMX_ROOT",
  16: "ENTRY_INVALID_EXECUTIVE_VMCS_POINTER",
  17: "ENTRY_NONLAUNCHED_EXECUTIVE_VMCS",
  18: "ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON",
  19: "VMCALL_NONCLEAR_VMCS",
  20: "VMCALL_INVALID_VM_EXIT_CONTROLS",
  22: "VMCALL_INCORRECT_MSEG_REVISION",
  23: "VMXOFF_DUAL_MONITOR",
  24: "VMCALL_INVALID_SMM_MONITOR_FEATURES",
  25: "ENTRY_INVALID_VM_EXECUTION_CONTROLS_IN_EXECUTIVE_VMCS",
  26: "ENTRY_EVENTS_BLOCKED_BY_MOV_SS",
  28: "INVALID_OPERAND_TO_INVEPT_INVVPID",
});

/** The SDM's description of each error number (Table 31-1), for messages and dumps. */
export const VM_INSTRUCTION_ERROR_MESSAGES: Readonly<Record<number, string>> = Object.freeze({
  1: "VMCALL executed in VMX root operation",
  2: "VMCLEAR with invalid physical address",
  3: "VMCLEAR with VMXON pointer",
  4: "VMLAUNCH with non-clear VMCS",
  5: "VMRESUME with non-launched VMCS",
  6: "VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)",
  7: "VM entry with invalid control field(s)",
  8: "VM entry with invalid host-state field(s)",
  9: "VMPTRLD with invalid physical address",
  10: "VMPTRLD with VMXON pointer",
  11: "VMPTRLD with incorrect VMCS revision identifier",
  12: "VMREAD/VMWRITE from/to unsupported VMCS component",
  13: "VMWRITE to read-only VMCS component",
  15: "VMXON executed in VMX root operation",
  16: "VM entry with invalid executive-VMCS pointer",
  17: "VM entry with non-launched executive VMCS",
  18: "VM entry with executive-VMCS pointer not VMXON pointer (when attempting to deactivate the "
    + "dual-monitor treatment of SMIs and SMM)",
  19: "VMCALL with non-clear VMCS (when attempting to activate the dual-monitor treatment of SMIs and SMM)",
  20: "VMCALL with invalid VM-exit control fields",
  22: "VMCALL with incorrect MSEG revision identifier (when attempting to activate the dual-monitor "
    + "treatment of SMIs and SMM)",
  23: "VMXOFF under dual-monitor treatment of SMIs and SMM",
  24: "VMCALL with invalid SMM-monitor features (when attempting to activate the dual-monitor treatment "
    + "of SMIs and SMM)",
  25: "VM entry with invalid VM-execution control fields in executive VMCS (when attempting to return "
    + "from SMM)",
  26: "VM entry with events blocked by MOV SS",
  28: "Invalid operand to INVEPT/INVVPID",
});

/** "error 7: VM entry with invalid control field(s)", or "error N: unknown" for an unused number. */
export function vmInstructionErrorMessage(n: number): string {
  return `error ${n}: ${VM_INSTRUCTION_ERROR_MESSAGES[n] ?? "unknown"}`;
}
