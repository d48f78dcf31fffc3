import { describe, expect, it } from "vitest";
import {
  CONTROL_NAMES, ENTRY_DEFAULT1, EXIT_DEFAULT1, EntryCtl, ExitCtl, PIN_DEFAULT1, PROC_DEFAULT1, PinCtl, Proc2Ctl,
  Proc3Ctl, ProcCtl, definedMask, describeControls, type ControlWord,
} from "../../src/vmx/controls.js";
import { constEnumMembers } from "./enum-source.js";

const ENUMS: Array<[ControlWord, string]> = [
  ["pin", "PinCtl"], ["proc", "ProcCtl"], ["proc2", "Proc2Ctl"], ["proc3", "Proc3Ctl"], ["exit", "ExitCtl"],
  ["entry", "EntryCtl"],
];

describe("control bits", () => {
  it.each(ENUMS)("the %s names table agrees with const enum %s, one bit per member", (word, name) => {
    const members = constEnumMembers("controls.ts", name);
    const table = CONTROL_NAMES[word];
    expect(members.map(([n, v]) => [n, v])).toEqual(table.map((c) => [c.name, 1 << c.bit]));
    for (const [, v] of members) expect(v & (v - 1)).toBe(0); // a single bit (1 << 31 included)
    expect(new Set(table.map((c) => c.bit)).size).toBe(table.length);
  });

  it("match Linux arch/x86/include/asm/vmx.h and vmxfeatures.h", () => {
    expect(PinCtl.EXTERNAL_INTERRUPT_EXITING).toBe(0x1);
    expect(PinCtl.NMI_EXITING).toBe(0x8);
    expect(PinCtl.VIRTUAL_NMIS).toBe(0x20);
    expect(PinCtl.ACTIVATE_PREEMPTION_TIMER).toBe(0x40);
    expect(PinCtl.PROCESS_POSTED_INTERRUPTS).toBe(0x80);
    expect(ProcCtl.INTERRUPT_WINDOW_EXITING).toBe(0x4);
    expect(ProcCtl.HLT_EXITING).toBe(0x80);
    expect(ProcCtl.CR3_LOAD_EXITING).toBe(0x8000);
    expect(ProcCtl.ACTIVATE_TERTIARY_CONTROLS).toBe(0x20000);
    expect(ProcCtl.USE_TPR_SHADOW).toBe(0x200000);
    expect(ProcCtl.UNCONDITIONAL_IO_EXITING).toBe(0x1000000);
    expect(ProcCtl.USE_IO_BITMAPS).toBe(0x2000000);
    expect(ProcCtl.MONITOR_TRAP_FLAG).toBe(0x8000000);
    expect(ProcCtl.USE_MSR_BITMAPS).toBe(0x10000000);
    expect(ProcCtl.ACTIVATE_SECONDARY_CONTROLS >>> 0).toBe(0x80000000);
    expect(Proc2Ctl.ENABLE_EPT).toBe(0x2);
    expect(Proc2Ctl.ENABLE_VPID).toBe(0x20);
    expect(Proc2Ctl.UNRESTRICTED_GUEST).toBe(0x80);
    expect(Proc2Ctl.VMCS_SHADOWING).toBe(0x4000);
    expect(Proc2Ctl.ENABLE_PML).toBe(0x20000);
    expect(Proc2Ctl.USE_TSC_SCALING).toBe(0x2000000);
    expect(Proc2Ctl.VMM_BUS_LOCK_DETECTION).toBe(0x40000000);
    expect(Proc2Ctl.INSTRUCTION_TIMEOUT >>> 0).toBe(0x80000000);
    expect(Proc3Ctl.IPI_VIRTUALIZATION).toBe(0x10);
    expect(ExitCtl.SAVE_DEBUG_CONTROLS).toBe(0x4);
    expect(ExitCtl.HOST_ADDRESS_SPACE_SIZE).toBe(0x200);
    expect(ExitCtl.ACKNOWLEDGE_INTERRUPT_ON_EXIT).toBe(0x8000);
    expect(ExitCtl.LOAD_IA32_EFER).toBe(0x200000);
    expect(ExitCtl.SAVE_PREEMPTION_TIMER_VALUE).toBe(0x400000);
    expect(ExitCtl.CLEAR_IA32_RTIT_CTL).toBe(0x2000000);
    expect(ExitCtl.ACTIVATE_SECONDARY_CONTROLS >>> 0).toBe(0x80000000);
    expect(EntryCtl.LOAD_DEBUG_CONTROLS).toBe(0x4);
    expect(EntryCtl.IA32E_MODE_GUEST).toBe(0x200);
    expect(EntryCtl.ENTRY_TO_SMM).toBe(0x400);
    expect(EntryCtl.DEACTIVATE_DUAL_MONITOR_TREATMENT).toBe(0x800);
    expect(EntryCtl.LOAD_IA32_PAT).toBe(0x4000);
    expect(EntryCtl.LOAD_IA32_EFER).toBe(0x8000);
    expect(EntryCtl.LOAD_IA32_RTIT_CTL).toBe(0x40000);
  });

  it("default1 classes match Linux *_ALWAYSON_WITHOUT_TRUE_MSR", () => {
    expect(PIN_DEFAULT1).toBe(0x00000016);
    expect(PROC_DEFAULT1).toBe(0x0401e172);
    expect(EXIT_DEFAULT1).toBe(0x00036dff);
    expect(ENTRY_DEFAULT1).toBe(0x000011ff);
    // no default1 bit is a defined control (they are the reserved bits that read as 1)
    expect(PIN_DEFAULT1 & definedMask("pin")).toBe(0);
    expect(ENTRY_DEFAULT1 & definedMask("entry")).toBe(EntryCtl.LOAD_DEBUG_CONTROLS);
    expect(EXIT_DEFAULT1 & definedMask("exit")).toBe(ExitCtl.SAVE_DEBUG_CONTROLS);
    expect((PROC_DEFAULT1 & definedMask("proc")) >>> 0)
      .toBe(ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING);
  });
});

describe("describeControls", () => {
  it("names set bits low first", () => {
    const proc = (ProcCtl.HLT_EXITING | ProcCtl.USE_IO_BITMAPS | ProcCtl.ACTIVATE_SECONDARY_CONTROLS) >>> 0;
    expect(describeControls("proc", proc)).toEqual(["HLT_EXITING", "USE_IO_BITMAPS", "ACTIVATE_SECONDARY_CONTROLS"]);
    expect(describeControls("entry", EntryCtl.IA32E_MODE_GUEST | EntryCtl.LOAD_IA32_EFER))
      .toEqual(["IA32E_MODE_GUEST", "LOAD_IA32_EFER"]);
    expect(describeControls("exit", 0)).toEqual([]);
  });

  it("shows undefined bits as BIT<n>, including default1 bits", () => {
    expect(describeControls("pin", PIN_DEFAULT1 | PinCtl.NMI_EXITING)).toEqual(["BIT1", "BIT2", "NMI_EXITING", "BIT4"]);
    expect(describeControls("proc2", 1 << 29)).toEqual(["BIT29"]);
  });

  it("reads the tertiary controls as 64 bits", () => {
    expect(describeControls("proc3", (1n << 40n) | 0x11n)).toEqual(["LOADIWKEY_EXITING", "IPI_VIRTUALIZATION", "BIT40"]);
    expect(describeControls("proc3", 0x80)).toEqual(["VIRTUALIZE_IA32_SPEC_CTRL"]);
  });
});
