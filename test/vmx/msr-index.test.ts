import { describe, expect, it } from "vitest";
import {
  EptVpidCap, FeatureControl, VMX_MSR_NAMES, VmcsMemoryType, VmxMsr, allowed0Of, allowed1Of, controlsAllowed,
  ctlsMsr, decodeVmxBasic, decodeVmxMisc, encodeVmcsEnum, encodeVmxBasic, encodeVmxMisc, fixedBitsOk,
  hasCapability, vmcsEnumHighestIndex, type VmxBasic, type VmxMisc,
} from "../../src/vmx/msr-index.js";
import { MAX_FIELD_INDEX } from "../../src/vmx/fields.js";
import { PIN_DEFAULT1, PinCtl } from "../../src/vmx/controls.js";
import { constEnumMembers } from "./enum-source.js";

describe("VMX MSR numbers", () => {
  it("run 0x480..0x492 in SDM order", () => {
    const members = constEnumMembers("msr-index.ts", "VmxMsr");
    expect(members.map(([, v]) => v)).toEqual(Array.from({ length: 19 }, (_, i) => 0x480 + i));
    for (const [name, v] of members) expect(VMX_MSR_NAMES[v]).toBe(`IA32_VMX_${name}`);
    expect(VmxMsr.BASIC).toBe(0x480);
    expect(VmxMsr.PROCBASED_CTLS2).toBe(0x48b);
    expect(VmxMsr.EPT_VPID_CAP).toBe(0x48c);
    expect(VmxMsr.TRUE_ENTRY_CTLS).toBe(0x490);
    expect(VmxMsr.PROCBASED_CTLS3).toBe(0x492);
  });

  it("IA32_FEATURE_CONTROL: lock 0, VMX inside SMX 1, VMX outside SMX 2", () => {
    expect([FeatureControl.LOCK, FeatureControl.VMX_INSIDE_SMX, FeatureControl.VMX_OUTSIDE_SMX]).toEqual([1, 2, 4]);
  });
});

describe("IA32_VMX_BASIC", () => {
  const basic: VmxBasic = {
    revision: 0x12, regionSize: 0x1000, physAddr32: false, dualMonitor: true, memoryType: VmcsMemoryType.WB,
    insOutsInfo: true, trueControls: true, anyErrorCodeInjection: true,
  };
  it("places each field where A.1 says", () => {
    // 0x12 | 0x1000 << 32 | 1 << 49 | 6 << 50 | 1 << 54 | 1 << 55 | 1 << 56
    expect(encodeVmxBasic(basic)).toBe(0x01da100000000012n);
    expect(decodeVmxBasic(0x01da100000000012n)).toEqual(basic);
    expect(decodeVmxBasic(1n << 48n).physAddr32).toBe(true);
    expect(decodeVmxBasic(0xffffffffn).revision).toBe(0x7fffffff); // bit 31 is not part of it
  });
  it("rejects fields that do not fit", () => {
    expect(() => encodeVmxBasic({ ...basic, revision: 2 ** 31 })).toThrow(RangeError);
    expect(() => encodeVmxBasic({ ...basic, regionSize: 0x2000 })).toThrow(RangeError);
    expect(() => encodeVmxBasic({ ...basic, memoryType: 16 })).toThrow(RangeError);
  });
});

describe("IA32_VMX_MISC", () => {
  it("round-trips every field", () => {
    const misc: VmxMisc = {
      preemptionTimerRate: 5, storesLma: true, activityHlt: true, activityShutdown: false, activityWaitForSipi: true,
      processorTrace: false, rdmsrSmbaseInSmm: true, cr3TargetCount: 4, maxMsrListCode: 0, smmMonitorCtlBit2: false,
      vmwriteAnyField: true, zeroLengthInjection: true, msegRevision: 0,
    };
    // 5 | 1<<5 | 1<<6 | 1<<8 | 1<<15 | 4<<16 | 1<<29 | 1<<30
    expect(encodeVmxMisc(misc)).toBe(0x60048165n);
    expect(decodeVmxMisc(0x60048165n)).toEqual(misc);
    expect(decodeVmxMisc(0x1234567800000000n).msegRevision).toBe(0x12345678);
    expect(decodeVmxMisc(7n << 25n).maxMsrListCode).toBe(7);
  });
});

describe("control capability MSRs", () => {
  const pin = ctlsMsr(PIN_DEFAULT1, PIN_DEFAULT1 | PinCtl.EXTERNAL_INTERRUPT_EXITING | PinCtl.NMI_EXITING
    | PinCtl.VIRTUAL_NMIS);
  it("split into allowed-0 and allowed-1 settings", () => {
    expect(pin).toBe(0x0000003f00000016n);
    expect(allowed0Of(pin)).toBe(0x16);
    expect(allowed1Of(pin)).toBe(0x3f);
    expect(allowed1Of(ctlsMsr(0, 0xffffffff))).toBe(0xffffffff);
  });
  it("check a control word against them", () => {
    expect(controlsAllowed(0x16, pin)).toBe(true);
    expect(controlsAllowed(0x16 | PinCtl.NMI_EXITING, pin)).toBe(true);
    expect(controlsAllowed(0x12, pin)).toBe(false); // bit 2 must be 1
    expect(controlsAllowed(0x16 | PinCtl.ACTIVATE_PREEMPTION_TIMER, pin)).toBe(false); // may not be 1
    expect(controlsAllowed(-1, ctlsMsr(0, 0xffffffff))).toBe(true);
  });
  it("check CR0/CR4 against FIXED0/FIXED1", () => {
    const fixed0 = 0x80000021n, fixed1 = 0xffffffffn; // PE, NE, PG must be 1; high bits must be 0
    expect(fixedBitsOk(0x80000031n, fixed0, fixed1)).toBe(true);
    expect(fixedBitsOk(0x80000011n, fixed0, fixed1)).toBe(false);
    expect(fixedBitsOk(0x180000021n, fixed0, fixed1)).toBe(false);
  });
});

describe("IA32_VMX_VMCS_ENUM and IA32_VMX_EPT_VPID_CAP", () => {
  it("VMCS_ENUM carries the highest field index in bits 9:1", () => {
    expect(encodeVmcsEnum(MAX_FIELD_INDEX)).toBe(BigInt(MAX_FIELD_INDEX << 1));
    expect(vmcsEnumHighestIndex(0x4cn)).toBe(0x26);
  });
  it("EPT_VPID_CAP bit positions match Linux VMX_EPT_* / VMX_VPID_*", () => {
    expect(EptVpidCap.EXECUTE_ONLY).toBe(0);
    expect(EptVpidCap.PAGE_WALK_4).toBe(6);
    expect(EptVpidCap.PAGE_WALK_5).toBe(7);
    expect(EptVpidCap.MEMORY_TYPE_UC).toBe(8);
    expect(EptVpidCap.MEMORY_TYPE_WB).toBe(14);
    expect(EptVpidCap.PDE_2MB).toBe(16);
    expect(EptVpidCap.PDPTE_1GB).toBe(17);
    expect(EptVpidCap.INVEPT).toBe(20);
    expect(EptVpidCap.ACCESSED_DIRTY).toBe(21);
    expect(EptVpidCap.INVEPT_SINGLE_CONTEXT).toBe(25);
    expect(EptVpidCap.INVEPT_ALL_CONTEXT).toBe(26);
    expect(EptVpidCap.INVVPID).toBe(32);
    expect(EptVpidCap.INVVPID_INDIVIDUAL_ADDRESS).toBe(40);
    expect(EptVpidCap.INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS).toBe(43);
    const cap = (1n << 6n) | (1n << 14n) | (1n << 32n) | (1n << 41n);
    expect(hasCapability(cap, EptVpidCap.PAGE_WALK_4)).toBe(true);
    expect(hasCapability(cap, EptVpidCap.INVVPID_SINGLE_CONTEXT)).toBe(true);
    expect(hasCapability(cap, EptVpidCap.INVEPT)).toBe(false);
  });
});
