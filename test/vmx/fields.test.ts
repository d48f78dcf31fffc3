import { describe, expect, it } from "vitest";
import {
  ENCODING_RESERVED_MASK, F, MAX_FIELD_INDEX, VMCS_FIELDS, fieldByName, fieldInfo, fieldName, groupOf,
  indexOf, isHighAccess, makeEncoding, widthOf, type FieldGroup, type FieldWidth,
} from "../../src/vmx/fields.js";
import { constEnumMembers } from "./enum-source.js";

describe("VMCS field table", () => {
  it("has every Appendix B field, once", () => {
    expect(VMCS_FIELDS.length).toBe(181);
    expect(new Set(VMCS_FIELDS.map((f) => f.encoding)).size).toBe(VMCS_FIELDS.length);
    expect(new Set(VMCS_FIELDS.map((f) => f.name)).size).toBe(VMCS_FIELDS.length);
  });

  it("is sorted by encoding", () => {
    for (let i = 1; i < VMCS_FIELDS.length; i++) {
      expect(VMCS_FIELDS[i].encoding).toBeGreaterThan(VMCS_FIELDS[i - 1].encoding);
    }
  });

  it("gives each field the width and type its encoding bits name", () => {
    for (const f of VMCS_FIELDS) {
      expect(widthOf(f.encoding), f.name).toBe(f.width);
      expect(groupOf(f.encoding), f.name).toBe(f.group);
    }
  });

  it("lists full encodings only: access type 0, no reserved bits", () => {
    for (const f of VMCS_FIELDS) {
      expect(f.encoding & 1, f.name).toBe(0);
      expect(f.encoding & ENCODING_RESERVED_MASK, f.name).toBe(0);
    }
    expect(VMCS_FIELDS.filter((f) => f.width === 64).every((f) => f.encoding % 2 === 0)).toBe(true);
  });

  it("agrees member for member with the const enum F", () => {
    const members = constEnumMembers("fields.ts", "F");
    expect(members.length).toBe(VMCS_FIELDS.length);
    for (const [name, value] of members) {
      expect(fieldByName(name)?.encoding, name).toBe(value);
    }
    // and the enum itself is sorted, section by section as Appendix B lists them
    const values = members.map(([, v]) => v);
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it("counts fields per width and type", () => {
    const count = (w: FieldWidth, g: FieldGroup): number =>
      VMCS_FIELDS.filter((f) => f.width === w && f.group === g).length;
    expect([count(16, "control"), count(16, "exit-info"), count(16, "guest"), count(16, "host")]).toEqual([5, 0, 11, 7]);
    expect([count(64, "control"), count(64, "exit-info"), count(64, "guest"), count(64, "host")]).toEqual([37, 1, 13, 4]);
    expect([count(32, "control"), count(32, "exit-info"), count(32, "guest"), count(32, "host")]).toEqual([19, 8, 23, 1]);
    expect([count("natural", "control"), count("natural", "exit-info"), count("natural", "guest"),
      count("natural", "host")]).toEqual([8, 6, 23, 15]);
  });
});

describe("encodings match Linux arch/x86/include/asm/vmx.h (enum vmcs_field)", () => {
  // [our F member, Linux name, Linux value]
  const cases: Array<[number, string, number]> = [
    [F.VIRTUAL_PROCESSOR_ID, "VIRTUAL_PROCESSOR_ID", 0x0000],
    [F.POSTED_INTERRUPT_NOTIFICATION_VECTOR, "POSTED_INTR_NV", 0x0002],
    [F.LAST_PID_POINTER_INDEX, "LAST_PID_POINTER_INDEX", 0x0008],
    [F.GUEST_ES_SELECTOR, "GUEST_ES_SELECTOR", 0x0800],
    [F.GUEST_TR_SELECTOR, "GUEST_TR_SELECTOR", 0x080e],
    [F.GUEST_INTERRUPT_STATUS, "GUEST_INTR_STATUS", 0x0810],
    [F.PML_INDEX, "GUEST_PML_INDEX", 0x0812],
    [F.HOST_TR_SELECTOR, "HOST_TR_SELECTOR", 0x0c0c],
    [F.IO_BITMAP_A, "IO_BITMAP_A", 0x2000],
    [F.MSR_BITMAPS, "MSR_BITMAP", 0x2004],
    [F.PML_ADDRESS, "PML_ADDRESS", 0x200e],
    [F.TSC_OFFSET, "TSC_OFFSET", 0x2010],
    [F.VIRTUAL_APIC_ADDRESS, "VIRTUAL_APIC_PAGE_ADDR", 0x2012],
    [F.POSTED_INTERRUPT_DESC_ADDRESS, "POSTED_INTR_DESC_ADDR", 0x2016],
    [F.EPT_POINTER, "EPT_POINTER", 0x201a],
    [F.EOI_EXIT_BITMAP3, "EOI_EXIT_BITMAP3", 0x2022],
    [F.EPTP_LIST_ADDRESS, "EPTP_LIST_ADDRESS", 0x2024],
    [F.VMREAD_BITMAP_ADDRESS, "VMREAD_BITMAP", 0x2026],
    [F.VMWRITE_BITMAP_ADDRESS, "VMWRITE_BITMAP", 0x2028],
    [F.VE_INFO_ADDRESS, "VE_INFORMATION_ADDRESS", 0x202a],
    [F.XSS_EXITING_BITMAP, "XSS_EXIT_BITMAP", 0x202c],
    [F.ENCLS_EXITING_BITMAP, "ENCLS_EXITING_BITMAP", 0x202e],
    [F.TSC_MULTIPLIER, "TSC_MULTIPLIER", 0x2032],
    [F.TERTIARY_PROC_CONTROLS, "TERTIARY_VM_EXEC_CONTROL", 0x2034],
    [F.PID_POINTER_TABLE_ADDRESS, "PID_POINTER_TABLE", 0x2042],
    [F.GUEST_PHYSICAL_ADDRESS, "GUEST_PHYSICAL_ADDRESS", 0x2400],
    [F.VMCS_LINK_POINTER, "VMCS_LINK_POINTER", 0x2800],
    [F.GUEST_IA32_EFER, "GUEST_IA32_EFER", 0x2806],
    [F.GUEST_IA32_PERF_GLOBAL_CTRL, "GUEST_IA32_PERF_GLOBAL_CTRL", 0x2808],
    [F.GUEST_PDPTE0, "GUEST_PDPTR0", 0x280a],
    [F.GUEST_PDPTE3, "GUEST_PDPTR3", 0x2810],
    [F.GUEST_IA32_BNDCFGS, "GUEST_BNDCFGS", 0x2812],
    [F.GUEST_IA32_RTIT_CTL, "GUEST_IA32_RTIT_CTL", 0x2814],
    [F.HOST_IA32_PERF_GLOBAL_CTRL, "HOST_IA32_PERF_GLOBAL_CTRL", 0x2c04],
    [F.PIN_BASED_CONTROLS, "PIN_BASED_VM_EXEC_CONTROL", 0x4000],
    [F.PRIMARY_PROC_CONTROLS, "CPU_BASED_VM_EXEC_CONTROL", 0x4002],
    [F.VM_EXIT_CONTROLS, "VM_EXIT_CONTROLS", 0x400c],
    [F.VM_ENTRY_CONTROLS, "VM_ENTRY_CONTROLS", 0x4012],
    [F.VM_ENTRY_INTERRUPTION_INFO, "VM_ENTRY_INTR_INFO_FIELD", 0x4016],
    [F.SECONDARY_PROC_CONTROLS, "SECONDARY_VM_EXEC_CONTROL", 0x401e],
    [F.PLE_WINDOW, "PLE_WINDOW", 0x4022],
    [F.INSTRUCTION_TIMEOUT_CONTROL, "NOTIFY_WINDOW", 0x4024],
    [F.VM_INSTRUCTION_ERROR, "VM_INSTRUCTION_ERROR", 0x4400],
    [F.EXIT_REASON, "VM_EXIT_REASON", 0x4402],
    [F.IDT_VECTORING_INFO, "IDT_VECTORING_INFO_FIELD", 0x4408],
    [F.VM_EXIT_INSTRUCTION_INFO, "VMX_INSTRUCTION_INFO", 0x440e],
    [F.GUEST_TR_ACCESS_RIGHTS, "GUEST_TR_AR_BYTES", 0x4822],
    [F.GUEST_INTERRUPTIBILITY_STATE, "GUEST_INTERRUPTIBILITY_INFO", 0x4824],
    [F.GUEST_ACTIVITY_STATE, "GUEST_ACTIVITY_STATE", 0x4826],
    [F.GUEST_IA32_SYSENTER_CS, "GUEST_SYSENTER_CS", 0x482a],
    [F.VMX_PREEMPTION_TIMER_VALUE, "VMX_PREEMPTION_TIMER_VALUE", 0x482e],
    [F.HOST_IA32_SYSENTER_CS, "HOST_IA32_SYSENTER_CS", 0x4c00],
    [F.CR0_GUEST_HOST_MASK, "CR0_GUEST_HOST_MASK", 0x6000],
    [F.CR0_READ_SHADOW, "CR0_READ_SHADOW", 0x6004],
    [F.CR3_TARGET_VALUE3, "CR3_TARGET_VALUE3", 0x600e],
    [F.EXIT_QUALIFICATION, "EXIT_QUALIFICATION", 0x6400],
    [F.GUEST_LINEAR_ADDRESS, "GUEST_LINEAR_ADDRESS", 0x640a],
    [F.GUEST_CR0, "GUEST_CR0", 0x6800],
    [F.GUEST_RSP, "GUEST_RSP", 0x681c],
    [F.GUEST_RIP, "GUEST_RIP", 0x681e],
    [F.GUEST_PENDING_DEBUG_EXCEPTIONS, "GUEST_PENDING_DBG_EXCEPTIONS", 0x6822],
    [F.GUEST_IA32_SYSENTER_EIP, "GUEST_SYSENTER_EIP", 0x6826],
    [F.HOST_CR0, "HOST_CR0", 0x6c00],
    [F.HOST_RSP, "HOST_RSP", 0x6c14],
    [F.HOST_RIP, "HOST_RIP", 0x6c16],
  ];
  it.each(cases.map(([ours, linux, value]) => [linux, value.toString(16), ours, value] as const))(
    "%s = 0x%s", (_linux, _hex, ours, value) => {
      expect(ours).toBe(value);
    });
});

describe("newer fields (Bochs cpu/vmx.h, VirtualBox hm_vmx.h)", () => {
  it.each([
    [F.EPTP_INDEX, 0x0004], [F.HLAT_PREFIX_SIZE, 0x0006], [F.GUEST_UINV, 0x0814],
    [F.EXECUTIVE_VMCS_POINTER, 0x200c], [F.SPP_TABLE_POINTER, 0x2030], [F.ENCLV_EXITING_BITMAP, 0x2036],
    [F.PCONFIG_EXITING_BITMAP, 0x203e], [F.HLAT_POINTER, 0x2040], [F.SECONDARY_VM_EXIT_CONTROLS, 0x2044],
    [F.IA32_SPEC_CTRL_MASK, 0x204a], [F.IA32_SPEC_CTRL_SHADOW, 0x204c], [F.GUEST_IA32_LBR_CTL, 0x2816],
    [F.GUEST_IA32_PKRS, 0x2818], [F.HOST_IA32_PKRS, 0x2c06], [F.GUEST_SMBASE, 0x4828],
    [F.IO_RCX, 0x6402], [F.IO_RIP, 0x6408], [F.GUEST_IA32_S_CET, 0x6828], [F.GUEST_SSP, 0x682a],
    [F.GUEST_IA32_INTERRUPT_SSP_TABLE_ADDR, 0x682c], [F.HOST_IA32_S_CET, 0x6c18], [F.HOST_SSP, 0x6c1a],
    [F.HOST_IA32_INTERRUPT_SSP_TABLE_ADDR, 0x6c1c],
  ].map(([ours, value]) => [value.toString(16), ours, value] as const))("0x%s", (_hex, ours, value) => {
    expect(ours).toBe(value);
  });
});

describe("encoding helpers", () => {
  it("read width and type from bits 14:13 and 11:10", () => {
    expect(widthOf(F.VIRTUAL_PROCESSOR_ID)).toBe(16);
    expect(widthOf(F.TSC_OFFSET)).toBe(64);
    expect(widthOf(F.TSC_OFFSET + 1)).toBe(64);
    expect(widthOf(F.EXIT_REASON)).toBe(32);
    expect(widthOf(F.GUEST_RIP)).toBe("natural");
    expect(groupOf(F.PIN_BASED_CONTROLS)).toBe("control");
    expect(groupOf(F.EXIT_QUALIFICATION)).toBe("exit-info");
    expect(groupOf(F.GUEST_CR3)).toBe("guest");
    expect(groupOf(F.HOST_IA32_EFER)).toBe("host");
    expect(indexOf(F.GUEST_RIP)).toBe(0x0f);
    expect(isHighAccess(F.EPT_POINTER + 1)).toBe(true);
  });

  it("makeEncoding inverts them for every field", () => {
    for (const f of VMCS_FIELDS) {
      expect(makeEncoding(f.width, f.group, indexOf(f.encoding))).toBe(f.encoding);
    }
    expect(makeEncoding(64, "control", 8, true)).toBe(F.TSC_OFFSET + 1);
    expect(() => makeEncoding(32, "guest", 1, true)).toThrow(RangeError);
    expect(() => makeEncoding(16, "guest", 0x200)).toThrow(RangeError);
  });

  it("MAX_FIELD_INDEX is the highest index in the table", () => {
    expect(MAX_FIELD_INDEX).toBe(indexOf(F.IA32_SPEC_CTRL_SHADOW));
    expect(MAX_FIELD_INDEX).toBe(0x26);
  });
});

describe("fieldInfo", () => {
  it("finds a field by its full encoding", () => {
    expect(fieldInfo(F.GUEST_RIP)).toEqual({ field: fieldByName("GUEST_RIP"), high: false });
    expect(fieldInfo(0x4402)?.field.name).toBe("EXIT_REASON");
  });

  it("resolves the high half of every 64-bit field to that field", () => {
    for (const f of VMCS_FIELDS.filter((x) => x.width === 64)) {
      expect(fieldInfo(f.encoding + 1)).toEqual({ field: f, high: true });
    }
    expect(fieldInfo(0x2011)?.field.name).toBe("TSC_OFFSET");
  });

  it("has no high half for 16-bit, 32-bit or natural-width fields", () => {
    for (const f of VMCS_FIELDS.filter((x) => x.width !== 64)) {
      expect(fieldInfo(f.encoding + 1), f.name).toBeUndefined();
    }
  });

  it("rejects unsupported encodings", () => {
    expect(fieldInfo(0x0001)).toBeUndefined();
    expect(fieldInfo(0x2046)).toBeUndefined(); // an unused 64-bit control index
    expect(fieldInfo(0x482c)).toBeUndefined(); // between SYSENTER_CS and the preemption timer
    expect(fieldInfo(F.GUEST_RIP | 0x1000)).toBeUndefined(); // reserved bit 12
    expect(fieldInfo(F.GUEST_RIP + 0x10000)).toBeUndefined(); // reserved bits 31:15
    expect(fieldInfo(-1)).toBeUndefined();
    expect(fieldInfo(1.5)).toBeUndefined();
  });

  it("takes a 64-bit register operand as a bigint; bits 63:32 must be clear", () => {
    expect(fieldInfo(0x681en)?.field.name).toBe("GUEST_RIP");
    expect(fieldInfo(0x2801n)).toEqual({ field: fieldByName("VMCS_LINK_POINTER"), high: true });
    expect(fieldInfo((1n << 32n) | 0x681en)).toBeUndefined();
  });

  it("fieldName names full, high and unknown encodings", () => {
    expect(fieldName(F.HOST_RIP)).toBe("HOST_RIP");
    expect(fieldName(F.EPT_POINTER + 1)).toBe("EPT_POINTER_HIGH");
    expect(fieldName(0x1234)).toBe("unknown(0x1234)");
  });
});
