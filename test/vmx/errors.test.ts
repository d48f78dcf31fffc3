import { describe, expect, it } from "vitest";
import {
  VM_INSTRUCTION_ERROR_MESSAGES, VM_INSTRUCTION_ERROR_NAMES, VmInstructionError, vmInstructionErrorMessage,
} from "../../src/vmx/errors.js";
import { constEnumMembers } from "./enum-source.js";

describe("VM-instruction error numbers (SDM 31.4, Table 31-1)", () => {
  it("match Linux enum vm_instruction_error_number", () => {
    // [ours, Linux VMXERR_* name, Linux value]
    const linux: Array<[number, string, number]> = [
      [VmInstructionError.VMCALL_IN_VMX_ROOT, "VMCALL_IN_VMX_ROOT_OPERATION", 1],
      [VmInstructionError.VMCLEAR_INVALID_ADDRESS, "VMCLEAR_INVALID_ADDRESS", 2],
      [VmInstructionError.VMCLEAR_VMXON_POINTER, "VMCLEAR_VMXON_POINTER", 3],
      [VmInstructionError.VMLAUNCH_NONCLEAR_VMCS, "VMLAUNCH_NONCLEAR_VMCS", 4],
      [VmInstructionError.VMRESUME_NONLAUNCHED_VMCS, "VMRESUME_NONLAUNCHED_VMCS", 5],
      [VmInstructionError.VMRESUME_AFTER_VMXOFF, "VMRESUME_AFTER_VMXOFF", 6],
      [VmInstructionError.ENTRY_INVALID_CONTROL_FIELDS, "ENTRY_INVALID_CONTROL_FIELD", 7],
      [VmInstructionError.ENTRY_INVALID_HOST_STATE, "ENTRY_INVALID_HOST_STATE_FIELD", 8],
      [VmInstructionError.VMPTRLD_INVALID_ADDRESS, "VMPTRLD_INVALID_ADDRESS", 9],
      [VmInstructionError.VMPTRLD_VMXON_POINTER, "VMPTRLD_VMXON_POINTER", 10],
      [VmInstructionError.VMPTRLD_INCORRECT_REVISION, "VMPTRLD_INCORRECT_VMCS_REVISION_ID", 11],
      [VmInstructionError.UNSUPPORTED_VMCS_COMPONENT, "UNSUPPORTED_VMCS_COMPONENT", 12],
      [VmInstructionError.VMWRITE_READ_ONLY_COMPONENT, "VMWRITE_READ_ONLY_VMCS_COMPONENT", 13],
      [VmInstructionError.VMXON_IN_VMX_ROOT, "VMXON_IN_VMX_ROOT_OPERATION", 15],
      [VmInstructionError.ENTRY_INVALID_EXECUTIVE_VMCS_POINTER, "ENTRY_INVALID_EXECUTIVE_VMCS_POINTER", 16],
      [VmInstructionError.ENTRY_NONLAUNCHED_EXECUTIVE_VMCS, "ENTRY_NONLAUNCHED_EXECUTIVE_VMCS", 17],
      [VmInstructionError.ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON, "ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON_POINTER", 18],
      [VmInstructionError.VMCALL_NONCLEAR_VMCS, "VMCALL_NONCLEAR_VMCS", 19],
      [VmInstructionError.VMCALL_INVALID_VM_EXIT_CONTROLS, "VMCALL_INVALID_VM_EXIT_CONTROL_FIELDS", 20],
      [VmInstructionError.VMCALL_INCORRECT_MSEG_REVISION, "VMCALL_INCORRECT_MSEG_REVISION_ID", 22],
      [VmInstructionError.VMXOFF_DUAL_MONITOR, "VMXOFF_UNDER_DUAL_MONITOR_TREATMENT_OF_SMIS_AND_SMM", 23],
      [VmInstructionError.VMCALL_INVALID_SMM_MONITOR_FEATURES, "VMCALL_INVALID_SMM_MONITOR_FEATURES", 24],
      [VmInstructionError.ENTRY_INVALID_VM_EXECUTION_CONTROLS_IN_EXECUTIVE_VMCS,
        "ENTRY_INVALID_VM_EXECUTION_CONTROL_FIELDS_IN_EXECUTIVE_VMCS", 25],
      [VmInstructionError.ENTRY_EVENTS_BLOCKED_BY_MOV_SS, "ENTRY_EVENTS_BLOCKED_BY_MOV_SS", 26],
      [VmInstructionError.INVALID_OPERAND_TO_INVEPT_INVVPID, "INVALID_OPERAND_TO_INVEPT_INVVPID", 28],
    ];
    for (const [ours, name, value] of linux) expect(ours, name).toBe(value);
  });

  it("has a name and a message for every number, and none for 14, 21, 27", () => {
    const members = constEnumMembers("errors.ts", "VmInstructionError");
    expect(members.length).toBe(25);
    expect(Object.keys(VM_INSTRUCTION_ERROR_NAMES).length).toBe(25);
    expect(Object.keys(VM_INSTRUCTION_ERROR_MESSAGES).length).toBe(25);
    for (const [name, value] of members) {
      expect(VM_INSTRUCTION_ERROR_NAMES[value], name).toBe(name);
      expect(VM_INSTRUCTION_ERROR_MESSAGES[value], name).toMatch(/\S/);
    }
    for (const n of [0, 14, 21, 27, 29]) {
      expect(VM_INSTRUCTION_ERROR_NAMES[n]).toBeUndefined();
      expect(VM_INSTRUCTION_ERROR_MESSAGES[n]).toBeUndefined();
    }
  });

  it("words the messages as the SDM does", () => {
    expect(VM_INSTRUCTION_ERROR_MESSAGES[VmInstructionError.VMLAUNCH_NONCLEAR_VMCS]).toBe("VMLAUNCH with non-clear VMCS");
    expect(VM_INSTRUCTION_ERROR_MESSAGES[VmInstructionError.UNSUPPORTED_VMCS_COMPONENT])
      .toBe("VMREAD/VMWRITE from/to unsupported VMCS component");
    expect(VM_INSTRUCTION_ERROR_MESSAGES[VmInstructionError.VMWRITE_READ_ONLY_COMPONENT])
      .toBe("VMWRITE to read-only VMCS component");
    expect(vmInstructionErrorMessage(7)).toBe("error 7: VM entry with invalid control field(s)");
    expect(vmInstructionErrorMessage(8)).toBe("error 8: VM entry with invalid host-state field(s)");
    expect(vmInstructionErrorMessage(14)).toBe("error 14: unknown");
  });
});
