import { describe, expect, it } from "vitest";
import {
  checkControls, checkGuestState, checkHostState, type EntryCheckEnv, type EntryFailure,
} from "../../src/vmx/entry-checks.js";
import { DEFAULT_CAPS, VMCS_REVISION, type VmxCapabilities } from "../../src/vmx/capabilities.js";
import { EntryCtl, ExitCtl, PinCtl, Proc2Ctl, ProcCtl } from "../../src/vmx/controls.js";
import { F } from "../../src/vmx/fields.js";

// A VMCS in a Map (encoding -> value) plus physical memory in a Map (dword address -> value).
interface State {
  vmcs: Map<number, bigint>;
  mem: Map<number, number>;
  caps: VmxCapabilities;
  hostIa32e?: boolean;
  currentVmcsPointer?: bigint;
}

const big = (v: number | bigint): bigint => (typeof v === "bigint" ? BigInt.asUintN(64, v) : BigInt(v >>> 0));
const set = (s: State, f: number, v: number | bigint): void => { s.vmcs.set(f, big(v)); };
const get = (s: State, f: number): bigint => s.vmcs.get(f) ?? 0n;
const or = (s: State, f: number, v: number | bigint): void => set(s, f, get(s, f) | big(v));
const clear = (s: State, f: number, v: number | bigint): void => set(s, f, get(s, f) & ~big(v));

function envOf(s: State): EntryCheckEnv {
  return {
    read: (e) => s.vmcs.get(e) ?? 0n,
    caps: s.caps,
    physBits: 39,
    readPhys32: (pa) => s.mem.get(pa) ?? 0,
    vmcsRevision: VMCS_REVISION,
    hostIa32e: s.hostIa32e,
    currentVmcsPointer: s.currentVmcsPointer,
  };
}

/** What VM entry reports first: controls, then host state, then guest state. */
function firstFailure(s: State): EntryFailure | undefined {
  const env = envOf(s);
  return checkControls(env) ?? checkHostState(env) ?? checkGuestState(env);
}

const PIN = (DEFAULT_CAPS.truePin.allowed0 | PinCtl.EXTERNAL_INTERRUPT_EXITING | PinCtl.NMI_EXITING) >>> 0;
const PROC = (DEFAULT_CAPS.trueProc.allowed0 | ProcCtl.HLT_EXITING | ProcCtl.USE_IO_BITMAPS | ProcCtl.USE_MSR_BITMAPS |
  ProcCtl.ACTIVATE_SECONDARY_CONTROLS) >>> 0;
const PROC2 = Proc2Ctl.DESCRIPTOR_TABLE_EXITING >>> 0;
const EXIT = (DEFAULT_CAPS.trueExit.allowed0 | ExitCtl.SAVE_DEBUG_CONTROLS | ExitCtl.HOST_ADDRESS_SPACE_SIZE |
  ExitCtl.ACKNOWLEDGE_INTERRUPT_ON_EXIT | ExitCtl.SAVE_IA32_PAT | ExitCtl.LOAD_IA32_PAT | ExitCtl.SAVE_IA32_EFER |
  ExitCtl.LOAD_IA32_EFER) >>> 0;
const ENTRY = (DEFAULT_CAPS.trueEntry.allowed0 | EntryCtl.LOAD_DEBUG_CONTROLS | EntryCtl.IA32E_MODE_GUEST |
  EntryCtl.LOAD_IA32_PAT | EntryCtl.LOAD_IA32_EFER) >>> 0;
const PAT = 0x0007040600070406n;
const LINK_VMCS = 0x20000;

/** A fully valid VMCS: 64-bit host, 64-bit guest at CPL 0. */
function valid64(): State {
  const s: State = { vmcs: new Map(), mem: new Map(), caps: structuredClone(DEFAULT_CAPS) };
  // Controls.
  set(s, F.PIN_BASED_CONTROLS, PIN);
  set(s, F.PRIMARY_PROC_CONTROLS, PROC);
  set(s, F.SECONDARY_PROC_CONTROLS, PROC2);
  set(s, F.VM_EXIT_CONTROLS, EXIT);
  set(s, F.VM_ENTRY_CONTROLS, ENTRY);
  set(s, F.CR3_TARGET_COUNT, 4);
  set(s, F.IO_BITMAP_A, 0x10000);
  set(s, F.IO_BITMAP_B, 0x11000);
  set(s, F.MSR_BITMAPS, 0x12000);
  set(s, F.VM_EXIT_MSR_STORE_COUNT, 2);
  set(s, F.VM_EXIT_MSR_STORE_ADDRESS, 0x13000);
  set(s, F.VM_EXIT_MSR_LOAD_COUNT, 2);
  set(s, F.VM_EXIT_MSR_LOAD_ADDRESS, 0x13020);
  set(s, F.VM_ENTRY_MSR_LOAD_COUNT, 1);
  set(s, F.VM_ENTRY_MSR_LOAD_ADDRESS, 0x13040);
  set(s, F.VM_ENTRY_INTERRUPTION_INFO, 0);
  // Host state.
  set(s, F.HOST_CR0, 0x80000031); // PG | NE | ET | PE
  set(s, F.HOST_CR3, 0x1000);
  set(s, F.HOST_CR4, 0x2020); // VMXE | PAE
  set(s, F.HOST_ES_SELECTOR, 0x10);
  set(s, F.HOST_CS_SELECTOR, 0x08);
  set(s, F.HOST_SS_SELECTOR, 0x10);
  set(s, F.HOST_DS_SELECTOR, 0x10);
  set(s, F.HOST_FS_SELECTOR, 0);
  set(s, F.HOST_GS_SELECTOR, 0);
  set(s, F.HOST_TR_SELECTOR, 0x18);
  set(s, F.HOST_FS_BASE, 0);
  set(s, F.HOST_GS_BASE, 0xffff800000010000n);
  set(s, F.HOST_TR_BASE, 0x3000);
  set(s, F.HOST_GDTR_BASE, 0x4000);
  set(s, F.HOST_IDTR_BASE, 0x5000);
  set(s, F.HOST_IA32_SYSENTER_CS, 0);
  set(s, F.HOST_IA32_SYSENTER_ESP, 0);
  set(s, F.HOST_IA32_SYSENTER_EIP, 0);
  set(s, F.HOST_IA32_PAT, PAT);
  set(s, F.HOST_IA32_EFER, 0x500); // LMA | LME
  set(s, F.HOST_RSP, 0x8000);
  set(s, F.HOST_RIP, 0xffffffff80100000n);
  // Guest state.
  set(s, F.GUEST_CR0, 0x80000031);
  set(s, F.GUEST_CR3, 0x2000);
  set(s, F.GUEST_CR4, 0x2020);
  set(s, F.GUEST_DR7, 0x400);
  set(s, F.GUEST_IA32_DEBUGCTL, 0);
  set(s, F.GUEST_CS_SELECTOR, 0x08);
  set(s, F.GUEST_CS_BASE, 0);
  set(s, F.GUEST_CS_LIMIT, 0xffffffff);
  set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa09b); // G | L | P | S | type 11
  for (const [sel, base, limit, ar] of [
    [F.GUEST_SS_SELECTOR, F.GUEST_SS_BASE, F.GUEST_SS_LIMIT, F.GUEST_SS_ACCESS_RIGHTS],
    [F.GUEST_DS_SELECTOR, F.GUEST_DS_BASE, F.GUEST_DS_LIMIT, F.GUEST_DS_ACCESS_RIGHTS],
    [F.GUEST_ES_SELECTOR, F.GUEST_ES_BASE, F.GUEST_ES_LIMIT, F.GUEST_ES_ACCESS_RIGHTS],
    [F.GUEST_FS_SELECTOR, F.GUEST_FS_BASE, F.GUEST_FS_LIMIT, F.GUEST_FS_ACCESS_RIGHTS],
    [F.GUEST_GS_SELECTOR, F.GUEST_GS_BASE, F.GUEST_GS_LIMIT, F.GUEST_GS_ACCESS_RIGHTS],
  ]) {
    set(s, sel, 0x10);
    set(s, base, 0);
    set(s, limit, 0xffffffff);
    set(s, ar, 0xc093); // G | D/B | P | S | type 3
  }
  set(s, F.GUEST_GS_BASE, 0xffff800000020000n);
  set(s, F.GUEST_TR_SELECTOR, 0x18);
  set(s, F.GUEST_TR_BASE, 0x3000);
  set(s, F.GUEST_TR_LIMIT, 0x67);
  set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x8b); // P | busy 64-bit TSS
  set(s, F.GUEST_LDTR_SELECTOR, 0);
  set(s, F.GUEST_LDTR_BASE, 0);
  set(s, F.GUEST_LDTR_LIMIT, 0);
  set(s, F.GUEST_LDTR_ACCESS_RIGHTS, 0x10000); // unusable
  set(s, F.GUEST_GDTR_BASE, 0x4000);
  set(s, F.GUEST_GDTR_LIMIT, 0x27);
  set(s, F.GUEST_IDTR_BASE, 0x5000);
  set(s, F.GUEST_IDTR_LIMIT, 0xfff);
  set(s, F.GUEST_RSP, 0x7ff0);
  set(s, F.GUEST_RIP, 0xffffffff80001000n);
  set(s, F.GUEST_RFLAGS, 0x2);
  set(s, F.GUEST_IA32_SYSENTER_CS, 0);
  set(s, F.GUEST_IA32_SYSENTER_ESP, 0);
  set(s, F.GUEST_IA32_SYSENTER_EIP, 0);
  set(s, F.GUEST_IA32_PAT, PAT);
  set(s, F.GUEST_IA32_EFER, 0x500);
  set(s, F.GUEST_ACTIVITY_STATE, 0);
  set(s, F.GUEST_INTERRUPTIBILITY_STATE, 0);
  set(s, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0);
  set(s, F.VMCS_LINK_POINTER, 0xffffffffffffffffn);
  // A VMCS region the link-pointer tests point at.
  s.mem.set(LINK_VMCS, VMCS_REVISION);
  return s;
}

/** A 32-bit protected-mode guest with PAE paging (host still 64-bit). */
function pae32(): State {
  const s = valid64();
  clear(s, F.VM_ENTRY_CONTROLS, EntryCtl.IA32E_MODE_GUEST);
  set(s, F.GUEST_IA32_EFER, 0);
  set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xc09b); // G | D | P | S | type 11
  set(s, F.GUEST_RIP, 0x1000);
  set(s, F.GUEST_GS_BASE, 0);
  set(s, F.GUEST_CR3, 0x6000);
  for (let i = 0; i < 4; i++) s.mem.set(0x6000 + i * 8, 0x7001 + i * 0x1000);
  return s;
}

/** A 32-bit host (outside IA-32e mode) entering a 32-bit PAE guest. */
function host32(): State {
  const s = pae32();
  s.hostIa32e = false;
  clear(s, F.VM_EXIT_CONTROLS, ExitCtl.HOST_ADDRESS_SPACE_SIZE);
  set(s, F.HOST_IA32_EFER, 0);
  set(s, F.HOST_RIP, 0x100000);
  set(s, F.HOST_GS_BASE, 0);
  return s;
}

/** Let a control be 1 in the capabilities (for dependency checks on controls the model never offers). */
function allow(s: State, word: "truePin" | "trueProc" | "proc2" | "trueExit" | "trueEntry", bits: number): void {
  s.caps[word].allowed1 = (s.caps[word].allowed1 | bits) >>> 0;
}

/** VM-entry interruption information: valid, type, vector, optional deliver-error-code. */
const inject = (type: number, vector: number, errorCode = false): number =>
  (0x80000000 | (type << 8) | vector | (errorCode ? 0x800 : 0)) >>> 0;

/** name, mutation, expected kind, SDM section the rule must start with, exit qualification, a phrase of the rule. */
type Mutation = [
  name: string, mutate: (s: State) => void, kind: EntryFailure["kind"], section: string, qualification?: number,
  phrase?: string,
];

// ---------------------------------------------------------------------------------------------

describe("VM-entry checks: valid states", () => {
  it("a complete 64-bit host and 64-bit guest passes all three", () => {
    const env = envOf(valid64());
    expect(checkControls(env)).toBeUndefined();
    expect(checkHostState(env)).toBeUndefined();
    expect(checkGuestState(env)).toBeUndefined();
  });

  const passes: Array<[string, () => State]> = [
    ["a 32-bit PAE guest with valid PDPTEs", pae32],
    ["a 32-bit host entering a 32-bit guest", host32],
    ["secondary controls are ignored when not activated", () => {
      const s = valid64();
      clear(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.ACTIVATE_SECONDARY_CONTROLS);
      set(s, F.SECONDARY_PROC_CONTROLS, Proc2Ctl.ENABLE_EPT | Proc2Ctl.UNRESTRICTED_GUEST);
      return s;
    }],
    ["I/O- and MSR-bitmap addresses are ignored when not used", () => {
      const s = valid64();
      clear(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.USE_IO_BITMAPS | ProcCtl.USE_MSR_BITMAPS);
      set(s, F.IO_BITMAP_A, 0x123);
      set(s, F.MSR_BITMAPS, 1n << 50n);
      return s;
    }],
    ["MSR-list addresses are ignored with count 0", () => {
      const s = valid64();
      set(s, F.VM_EXIT_MSR_STORE_COUNT, 0);
      set(s, F.VM_EXIT_MSR_STORE_ADDRESS, 0x7);
      return s;
    }],
    ["the TRUE capabilities allow CR3-load exiting and load debug controls to be 0", () => {
      const s = valid64();
      clear(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING);
      clear(s, F.VM_ENTRY_CONTROLS, EntryCtl.LOAD_DEBUG_CONTROLS);
      set(s, F.GUEST_DR7, 0x1_0000_0400n); // not checked without "load debug controls"
      return s;
    }],
    ["a null host SS with host address-space size 1", () => { const s = valid64(); set(s, F.HOST_SS_SELECTOR, 0); return s; }],
    ["an unusable DS may have any base, limit and type", () => {
      const s = valid64();
      set(s, F.GUEST_DS_ACCESS_RIGHTS, 0x10000);
      set(s, F.GUEST_DS_BASE, 0x1234_0000_0000n);
      set(s, F.GUEST_DS_LIMIT, 0x123);
      return s;
    }],
    ["injecting #PF with an error code", () => {
      const s = valid64(); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 14, true)); set(s, F.VM_ENTRY_EXCEPTION_ERROR_CODE, 2); return s;
    }],
    ["injecting #CP (21) without an error code on a processor without CET", () => {
      const s = valid64(); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 21)); return s;
    }],
    ["injecting an external interrupt with RFLAGS.IF 1", () => {
      const s = valid64(); set(s, F.GUEST_RFLAGS, 0x202); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(0, 0x20)); return s;
    }],
    ["injecting an NMI", () => { const s = valid64(); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(2, 2)); return s; }],
    ["injecting INT 0x80 with instruction length 2", () => {
      const s = valid64(); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(4, 0x80)); set(s, F.VM_ENTRY_INSTRUCTION_LENGTH, 2); return s;
    }],
    ["HLT activity state with an external interrupt injected", () => {
      const s = valid64();
      set(s, F.GUEST_ACTIVITY_STATE, 1);
      set(s, F.GUEST_RFLAGS, 0x202);
      set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(0, 0x30));
      return s;
    }],
    ["STI blocking with RFLAGS.IF 1 and TF 1 with BS pending", () => {
      const s = valid64();
      set(s, F.GUEST_RFLAGS, 0x302);
      set(s, F.GUEST_INTERRUPTIBILITY_STATE, 1);
      set(s, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x4000);
      return s;
    }],
    ["a VMCS link pointer to an ordinary VMCS", () => { const s = valid64(); set(s, F.VMCS_LINK_POINTER, LINK_VMCS); return s; }],
    ["a not-present PDPTE may set reserved bits", () => { const s = pae32(); s.mem.set(0x6008, 0x1e6); return s; }],
    ["a compatibility-mode CS with a 32-bit RIP", () => {
      const s = valid64(); set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xc09b); set(s, F.GUEST_RIP, 0x1000); return s;
    }],
    ["a conforming CS with DPL below SS DPL", () => {
      const s = valid64();
      set(s, F.GUEST_CS_SELECTOR, 0x0b); set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa09f); // type 15, DPL 0
      set(s, F.GUEST_SS_SELECTOR, 0x13); set(s, F.GUEST_SS_ACCESS_RIGHTS, 0xc0f3); // DPL 3
      for (const f of [F.GUEST_DS_SELECTOR, F.GUEST_ES_SELECTOR, F.GUEST_FS_SELECTOR, F.GUEST_GS_SELECTOR]) set(s, f, 0);
      for (const f of [F.GUEST_DS_ACCESS_RIGHTS, F.GUEST_ES_ACCESS_RIGHTS, F.GUEST_FS_ACCESS_RIGHTS, F.GUEST_GS_ACCESS_RIGHTS]) {
        set(s, f, 0x10000);
      }
      return s;
    }],
  ];
  it.each(passes)("%s", (_name, make) => {
    expect(firstFailure(make())).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------

const controlMutations: Mutation[] = [
  // 26.2.1.1 VM-execution controls.
  ["pin-based: a default1 bit cleared", (s) => clear(s, F.PIN_BASED_CONTROLS, 0x2), "control", "26.2.1.1"],
  ["pin-based: process posted interrupts (not allowed)", (s) => or(s, F.PIN_BASED_CONTROLS, PinCtl.PROCESS_POSTED_INTERRUPTS), "control", "26.2.1.1"],
  ["pin-based: preemption timer (not allowed)", (s) => or(s, F.PIN_BASED_CONTROLS, PinCtl.ACTIVATE_PREEMPTION_TIMER), "control", "26.2.1.1"],
  ["primary: a default1 bit cleared", (s) => clear(s, F.PRIMARY_PROC_CONTROLS, 1 << 1), "control", "26.2.1.1"],
  ["primary: use TPR shadow (not allowed)", (s) => or(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.USE_TPR_SHADOW), "control", "26.2.1.1"],
  ["primary: monitor trap flag (not allowed)", (s) => or(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.MONITOR_TRAP_FLAG), "control", "26.2.1.1"],
  ["primary: reserved bit 0 set", (s) => or(s, F.PRIMARY_PROC_CONTROLS, 1), "control", "26.2.1.1"],
  ["secondary: enable EPT (not allowed)", (s) => or(s, F.SECONDARY_PROC_CONTROLS, Proc2Ctl.ENABLE_EPT), "control", "26.2.1.1"],
  ["secondary: unrestricted guest (not allowed)", (s) => or(s, F.SECONDARY_PROC_CONTROLS, Proc2Ctl.UNRESTRICTED_GUEST), "control", "26.2.1.1"],
  ["CR3-target count 5 > 4", (s) => set(s, F.CR3_TARGET_COUNT, 5), "control", "26.2.1.1"],
  ["I/O bitmap A not 4K-aligned", (s) => set(s, F.IO_BITMAP_A, 0x10800), "control", "26.2.1.1"],
  ["I/O bitmap B beyond MAXPHYADDR", (s) => set(s, F.IO_BITMAP_B, 1n << 39n), "control", "26.2.1.1"],
  ["MSR bitmap not 4K-aligned", (s) => set(s, F.MSR_BITMAPS, 0x12008), "control", "26.2.1.1"],
  ["MSR bitmap beyond MAXPHYADDR", (s) => set(s, F.MSR_BITMAPS, 0x80_0000_0000n), "control", "26.2.1.1"],
  ["virtual NMIs without NMI exiting", (s) => {
    clear(s, F.PIN_BASED_CONTROLS, PinCtl.NMI_EXITING); or(s, F.PIN_BASED_CONTROLS, PinCtl.VIRTUAL_NMIS);
  }, "control", "26.2.1.1"],
  ["NMI-window exiting without virtual NMIs", (s) => {
    allow(s, "trueProc", ProcCtl.NMI_WINDOW_EXITING); or(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.NMI_WINDOW_EXITING);
  }, "control", "26.2.1.1"],
  ["TPR shadow: virtual-APIC address not 4K-aligned", (s) => {
    allow(s, "trueProc", ProcCtl.USE_TPR_SHADOW); or(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.USE_TPR_SHADOW);
    set(s, F.VIRTUAL_APIC_ADDRESS, 0x30010);
  }, "control", "26.2.1.1"],
  ["TPR shadow: TPR threshold bits 31:4", (s) => {
    allow(s, "trueProc", ProcCtl.USE_TPR_SHADOW); or(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.USE_TPR_SHADOW);
    set(s, F.VIRTUAL_APIC_ADDRESS, 0x30000); set(s, F.TPR_THRESHOLD, 0x10);
  }, "control", "26.2.1.1"],
  ["TPR shadow: TPR threshold above VTPR[7:4]", (s) => {
    allow(s, "trueProc", ProcCtl.USE_TPR_SHADOW); or(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.USE_TPR_SHADOW);
    set(s, F.VIRTUAL_APIC_ADDRESS, 0x30000); set(s, F.TPR_THRESHOLD, 5); s.mem.set(0x30080, 0x40);
  }, "control", "26.2.1.1"],
  ["virtualize x2APIC mode without TPR shadow", (s) => {
    allow(s, "proc2", Proc2Ctl.VIRTUALIZE_X2APIC_MODE); or(s, F.SECONDARY_PROC_CONTROLS, Proc2Ctl.VIRTUALIZE_X2APIC_MODE);
  }, "control", "26.2.1.1"],
  ["enable VPID with VPID 0", (s) => {
    allow(s, "proc2", Proc2Ctl.ENABLE_VPID); or(s, F.SECONDARY_PROC_CONTROLS, Proc2Ctl.ENABLE_VPID);
  }, "control", "26.2.1.1"],
  ["unrestricted guest without EPT", (s) => {
    allow(s, "proc2", Proc2Ctl.UNRESTRICTED_GUEST); or(s, F.SECONDARY_PROC_CONTROLS, Proc2Ctl.UNRESTRICTED_GUEST);
  }, "control", "26.2.1.1"],
  // 26.2.1.2 VM-exit controls.
  ["exit: a default1 bit cleared", (s) => clear(s, F.VM_EXIT_CONTROLS, 1 << 0), "control", "26.2.1.2"],
  ["exit: load IA32_PERF_GLOBAL_CTRL (not allowed)", (s) => or(s, F.VM_EXIT_CONTROLS, ExitCtl.LOAD_IA32_PERF_GLOBAL_CTRL), "control", "26.2.1.2"],
  ["exit: save preemption timer without the timer", (s) => {
    allow(s, "trueExit", ExitCtl.SAVE_PREEMPTION_TIMER_VALUE); or(s, F.VM_EXIT_CONTROLS, ExitCtl.SAVE_PREEMPTION_TIMER_VALUE);
  }, "control", "26.2.1.2"],
  ["exit MSR-store address not 16-byte aligned", (s) => set(s, F.VM_EXIT_MSR_STORE_ADDRESS, 0x13008), "control", "26.2.1.2"],
  ["exit MSR-store address beyond MAXPHYADDR", (s) => set(s, F.VM_EXIT_MSR_STORE_ADDRESS, 1n << 40n), "control", "26.2.1.2"],
  ["exit MSR-load list running past MAXPHYADDR", (s) => {
    set(s, F.VM_EXIT_MSR_LOAD_ADDRESS, (1n << 39n) - 16n); set(s, F.VM_EXIT_MSR_LOAD_COUNT, 2);
  }, "control", "26.2.1.2"],
  // 26.2.1.3 VM-entry controls.
  ["entry: a default1 bit cleared", (s) => clear(s, F.VM_ENTRY_CONTROLS, 1 << 12), "control", "26.2.1.3"],
  ["entry: load IA32_BNDCFGS (not allowed)", (s) => or(s, F.VM_ENTRY_CONTROLS, EntryCtl.LOAD_IA32_BNDCFGS), "control", "26.2.1.3"],
  ["entry: entry to SMM (not allowed)", (s) => or(s, F.VM_ENTRY_CONTROLS, EntryCtl.ENTRY_TO_SMM), "control", "26.2.1.3"],
  ["entry to SMM outside SMM (capabilities widened)", (s) => {
    allow(s, "trueEntry", EntryCtl.ENTRY_TO_SMM); or(s, F.VM_ENTRY_CONTROLS, EntryCtl.ENTRY_TO_SMM);
  }, "control", "26.2.1.3", 0, "outside SMM"],
  ["deactivate dual-monitor treatment outside SMM (capabilities widened)", (s) => {
    allow(s, "trueEntry", EntryCtl.DEACTIVATE_DUAL_MONITOR_TREATMENT);
    or(s, F.VM_ENTRY_CONTROLS, EntryCtl.DEACTIVATE_DUAL_MONITOR_TREATMENT);
  }, "control", "26.2.1.3", 0, "outside SMM"],
  ["entry MSR-load address not 16-byte aligned", (s) => set(s, F.VM_ENTRY_MSR_LOAD_ADDRESS, 0x13044), "control", "26.2.1.3"],
  ["inject: reserved interruption type 1", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(1, 0x20)), "control", "26.2.1.3"],
  ["inject: type 7 without monitor trap flag support", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(7, 0)), "control", "26.2.1.3"],
  ["inject: NMI with vector 3", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(2, 3)), "control", "26.2.1.3"],
  ["inject: hardware exception with vector 32", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 32)), "control", "26.2.1.3"],
  ["inject: #GP without deliver error code", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 13)), "control", "26.2.1.3"],
  ["inject: #DF without deliver error code", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 8)), "control", "26.2.1.3"],
  ["inject: #UD with deliver error code", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 6, true)), "control", "26.2.1.3"],
  ["inject: #CP with deliver error code on a processor without CET", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 21, true)), "control", "26.2.1.3", 0, "vector 21, which has none"],
  ["inject: #CP without deliver error code on a processor with CET", (s) => {
    s.caps.cr4Fixed1 = (s.caps.cr4Fixed1 | (1 << 23)) >>> 0; set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 21));
  }, "control", "26.2.1.3", 0, "vector 21 needs"],
  ["inject: external interrupt with deliver error code", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(0, 0x20, true)), "control", "26.2.1.3"],
  ["inject: software interrupt with deliver error code", (s) => {
    set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(4, 0x80, true)); set(s, F.VM_ENTRY_INSTRUCTION_LENGTH, 2);
  }, "control", "26.2.1.3"],
  ["inject: error code bits 31:16", (s) => {
    set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 13, true)); set(s, F.VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10000);
  }, "control", "26.2.1.3"],
  ["inject: reserved bits 30:12", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(2, 2) | 0x1000), "control", "26.2.1.3"],
  ["inject: software interrupt with length 0", (s) => {
    set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(4, 0x80)); set(s, F.VM_ENTRY_INSTRUCTION_LENGTH, 0);
  }, "control", "26.2.1.3"],
  ["inject: software exception (INT3) with length 16", (s) => {
    set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(6, 3)); set(s, F.VM_ENTRY_INSTRUCTION_LENGTH, 16);
  }, "control", "26.2.1.3"],
  ["inject: privileged software exception (INT1) with length 0", (s) => {
    set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(5, 1)); set(s, F.VM_ENTRY_INSTRUCTION_LENGTH, 0);
  }, "control", "26.2.1.3"],
];

const hostMutations: Mutation[] = [
  // 26.2.2 Host control registers and MSRs.
  ["host CR0.PG clear", (s) => clear(s, F.HOST_CR0, 0x80000000), "host", "26.2.2"],
  ["host CR0.NE clear", (s) => clear(s, F.HOST_CR0, 0x20), "host", "26.2.2"],
  ["host CR0 bit 32 set", (s) => or(s, F.HOST_CR0, 1n << 32n), "host", "26.2.2"],
  ["host CR4.VMXE clear", (s) => clear(s, F.HOST_CR4, 0x2000), "host", "26.2.2"],
  ["host CR4 unsupported bit (LA57)", (s) => or(s, F.HOST_CR4, 1 << 12), "host", "26.2.2"],
  ["host CR3 beyond MAXPHYADDR", (s) => set(s, F.HOST_CR3, (1n << 39n) | 0x1000n), "host", "26.2.2"],
  ["host SYSENTER_ESP not canonical", (s) => set(s, F.HOST_IA32_SYSENTER_ESP, 0x0000_8000_0000_0000n), "host", "26.2.2"],
  ["host SYSENTER_EIP not canonical", (s) => set(s, F.HOST_IA32_SYSENTER_EIP, 0xfff0_0000_0000_0000n), "host", "26.2.2"],
  ["host PAT with memory type 2", (s) => set(s, F.HOST_IA32_PAT, 0x0007040600070402n), "host", "26.2.2"],
  ["host PAT with memory type 8", (s) => set(s, F.HOST_IA32_PAT, 0x0807040600070406n), "host", "26.2.2"],
  ["host EFER reserved bit", (s) => or(s, F.HOST_IA32_EFER, 0x2), "host", "26.2.2"],
  ["host EFER.LMA 0 with host address-space size 1", (s) => set(s, F.HOST_IA32_EFER, 0x100), "host", "26.2.2"],
  ["host EFER.LME 0 with host address-space size 1", (s) => set(s, F.HOST_IA32_EFER, 0x400), "host", "26.2.2"],
  // 26.2.3 Host segment and descriptor-table registers.
  ["host CS selector RPL 3", (s) => set(s, F.HOST_CS_SELECTOR, 0x0b), "host", "26.2.3"],
  ["host DS selector TI", (s) => set(s, F.HOST_DS_SELECTOR, 0x14), "host", "26.2.3"],
  ["host GS selector RPL 1", (s) => set(s, F.HOST_GS_SELECTOR, 0x01), "host", "26.2.3"],
  ["host TR selector RPL", (s) => set(s, F.HOST_TR_SELECTOR, 0x1b), "host", "26.2.3"],
  ["host CS selector null", (s) => set(s, F.HOST_CS_SELECTOR, 0), "host", "26.2.3"],
  ["host TR selector null", (s) => set(s, F.HOST_TR_SELECTOR, 0), "host", "26.2.3"],
  ["host FS base not canonical", (s) => set(s, F.HOST_FS_BASE, 0x0001_0000_0000_0000n), "host", "26.2.3"],
  ["host GS base not canonical", (s) => set(s, F.HOST_GS_BASE, 0xff00_8000_0000_0000n), "host", "26.2.3"],
  ["host GDTR base not canonical", (s) => set(s, F.HOST_GDTR_BASE, 0x0000_8000_0000_0000n), "host", "26.2.3"],
  ["host IDTR base not canonical", (s) => set(s, F.HOST_IDTR_BASE, 0x0000_8000_0000_1000n), "host", "26.2.3"],
  ["host TR base not canonical", (s) => set(s, F.HOST_TR_BASE, 0x8000_0000_0000_0000n), "host", "26.2.3"],
  // 26.2.4 Address-space size.
  ["host address-space size 0 in IA-32e mode", (s) => {
    clear(s, F.VM_EXIT_CONTROLS, ExitCtl.HOST_ADDRESS_SPACE_SIZE); set(s, F.HOST_IA32_EFER, 0);
  }, "host", "26.2.4"],
  ["host CR4.PAE 0 with host address-space size 1", (s) => clear(s, F.HOST_CR4, 0x20), "host", "26.2.4"],
  ["host RIP not canonical", (s) => set(s, F.HOST_RIP, 0x0000_8000_0000_0000n), "host", "26.2.4"],
];

const host32Mutations: Mutation[] = [
  ["32-bit host: host address-space size 1", (s) => {
    or(s, F.VM_EXIT_CONTROLS, ExitCtl.HOST_ADDRESS_SPACE_SIZE); clear(s, F.VM_EXIT_CONTROLS, ExitCtl.LOAD_IA32_EFER);
  }, "host", "26.2.4"],
  ["32-bit host: IA-32e mode guest", (s) => or(s, F.VM_ENTRY_CONTROLS, EntryCtl.IA32E_MODE_GUEST), "host", "26.2.4"],
  ["32-bit host: host RIP bits 63:32", (s) => set(s, F.HOST_RIP, 0x1_0010_0000n), "host", "26.2.4"],
  ["32-bit host: host CR4.PCIDE (capabilities widened)", (s) => {
    s.caps.cr4Fixed1 = (s.caps.cr4Fixed1 | (1 << 17)) >>> 0; or(s, F.HOST_CR4, 1 << 17);
  }, "host", "26.2.4", 0, "PCIDE"],
  ["32-bit host: null SS", (s) => set(s, F.HOST_SS_SELECTOR, 0), "host", "26.2.3"],
  ["32-bit host: EFER.LMA 1", (s) => set(s, F.HOST_IA32_EFER, 0x500), "host", "26.2.2"],
];

const G1 = "26.3.1.1", G2 = "26.3.1.2", G3 = "26.3.1.3", G4 = "26.3.1.4", G5 = "26.3.1.5", G6 = "26.3.1.6";

const guestMutations: Mutation[] = [
  // 26.3.1.1 Control registers, debug registers, MSRs.
  ["guest CR0.PE clear", (s) => clear(s, F.GUEST_CR0, 1), "guest", G1, 0],
  ["guest CR0.PG clear", (s) => clear(s, F.GUEST_CR0, 0x80000000), "guest", G1, 0],
  ["guest CR0.NE clear", (s) => clear(s, F.GUEST_CR0, 0x20), "guest", G1, 0],
  ["guest CR0 bit 63", (s) => or(s, F.GUEST_CR0, 1n << 63n), "guest", G1, 0],
  ["guest CR4.VMXE clear", (s) => clear(s, F.GUEST_CR4, 0x2000), "guest", G1, 0],
  ["guest CR4.SMXE set (unsupported)", (s) => or(s, F.GUEST_CR4, 1 << 14), "guest", G1, 0],
  ["guest CR4.PCIDE without IA-32e mode guest (capabilities widened)", (s) => {
    s.caps.cr4Fixed1 = (s.caps.cr4Fixed1 | (1 << 17)) >>> 0;
    clear(s, F.VM_ENTRY_CONTROLS, EntryCtl.IA32E_MODE_GUEST | EntryCtl.LOAD_IA32_EFER);
    or(s, F.GUEST_CR4, 1 << 17);
  }, "guest", G1, 0, "PCIDE"],
  ["guest IA32_DEBUGCTL reserved bit", (s) => set(s, F.GUEST_IA32_DEBUGCTL, 1n << 32n), "guest", G1, 0],
  ["guest DR7 bits 63:32 with load debug controls", (s) => set(s, F.GUEST_DR7, 0x1_0000_0400n), "guest", G1, 0],
  ["IA-32e mode guest with CR4.PAE 0", (s) => set(s, F.GUEST_CR4, 0x2000), "guest", G1, 0],
  ["guest CR3 beyond MAXPHYADDR", (s) => set(s, F.GUEST_CR3, 1n << 45n), "guest", G1, 0],
  ["guest SYSENTER_ESP not canonical", (s) => set(s, F.GUEST_IA32_SYSENTER_ESP, 0x0000_8000_0000_0000n), "guest", G1, 0],
  ["guest SYSENTER_EIP not canonical", (s) => set(s, F.GUEST_IA32_SYSENTER_EIP, 0x1234_0000_0000_0000n), "guest", G1, 0],
  ["guest PAT memory type 3", (s) => set(s, F.GUEST_IA32_PAT, 0x0307040600070406n), "guest", G1, 0],
  ["guest EFER reserved bit", (s) => or(s, F.GUEST_IA32_EFER, 1 << 12), "guest", G1, 0],
  ["guest EFER.LMA 0 in an IA-32e mode guest", (s) => set(s, F.GUEST_IA32_EFER, 0x100), "guest", G1, 0],
  ["guest EFER.LME 0 with CR0.PG 1 in an IA-32e mode guest", (s) => set(s, F.GUEST_IA32_EFER, 0x400), "guest", G1, 0],
  // 26.3.1.2 Segment registers.
  ["TR selector TI", (s) => set(s, F.GUEST_TR_SELECTOR, 0x1c), "guest", G2, 0],
  ["usable LDTR selector TI", (s) => {
    set(s, F.GUEST_LDTR_SELECTOR, 0x24); set(s, F.GUEST_LDTR_ACCESS_RIGHTS, 0x82); set(s, F.GUEST_LDTR_LIMIT, 0xff);
  }, "guest", G2, 0],
  ["SS RPL differs from CS RPL", (s) => set(s, F.GUEST_SS_SELECTOR, 0x13), "guest", G2, 0, "SS RPL 3 differs from CS RPL 0"],
  ["TR base not canonical", (s) => set(s, F.GUEST_TR_BASE, 0x0000_8000_0000_0000n), "guest", G2, 0],
  ["FS base not canonical", (s) => set(s, F.GUEST_FS_BASE, 0x0010_0000_0000_0000n), "guest", G2, 0],
  ["usable LDTR base not canonical", (s) => {
    set(s, F.GUEST_LDTR_SELECTOR, 0x20); set(s, F.GUEST_LDTR_ACCESS_RIGHTS, 0x82);
    set(s, F.GUEST_LDTR_BASE, 0x0000_8000_0000_0000n);
  }, "guest", G2, 0],
  ["CS base bits 63:32", (s) => set(s, F.GUEST_CS_BASE, 0x1_0000_0000n), "guest", G2, 0],
  ["usable SS base bits 63:32", (s) => set(s, F.GUEST_SS_BASE, 0x1_0000_0000n), "guest", G2, 0],
  ["CS type 3 (data) without unrestricted guest", (s) => set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa093), "guest", G2, 0],
  ["CS type 10 (not accessed)", (s) => set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa09a), "guest", G2, 0],
  ["SS type 11 (code)", (s) => set(s, F.GUEST_SS_ACCESS_RIGHTS, 0xc09b), "guest", G2, 0],
  ["SS type 1 (read-only)", (s) => set(s, F.GUEST_SS_ACCESS_RIGHTS, 0xc091), "guest", G2, 0],
  ["DS not accessed", (s) => set(s, F.GUEST_DS_ACCESS_RIGHTS, 0xc092), "guest", G2, 0],
  ["ES execute-only code", (s) => set(s, F.GUEST_ES_ACCESS_RIGHTS, 0xc099), "guest", G2, 0],
  ["FS with S = 0", (s) => set(s, F.GUEST_FS_ACCESS_RIGHTS, 0xc083), "guest", G2, 0],
  ["non-conforming CS DPL differs from SS DPL", (s) => {
    set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa0bb); // DPL 1
  }, "guest", G2, 0, "non-conforming CS DPL 1"],
  ["conforming CS DPL above SS DPL", (s) => set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa0ff), "guest", G2, 0, "conforming CS DPL 3"],
  ["SS DPL differs from its RPL", (s) => {
    set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa09f); // conforming, DPL 0 <= SS DPL
    set(s, F.GUEST_SS_ACCESS_RIGHTS, 0xc0f3);
  }, "guest", G2, 0, "SS DPL 3 differs from SS RPL 0"],
  ["DS DPL below its RPL", (s) => set(s, F.GUEST_DS_SELECTOR, 0x13), "guest", G2, 0, "DS DPL 0 is less than its RPL 3"],
  ["GS not present", (s) => set(s, F.GUEST_GS_ACCESS_RIGHTS, 0xc013), "guest", G2, 0],
  ["CS not present", (s) => set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa01b), "guest", G2, 0],
  ["CS access-rights bit 8 (reserved)", (s) => set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa19b), "guest", G2, 0],
  ["CS L and D/B both set in an IA-32e mode guest", (s) => set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xe09b), "guest", G2, 0],
  ["CS G = 1 with limit bits 11:0 not all 1", (s) => set(s, F.GUEST_CS_LIMIT, 0xfffff000), "guest", G2, 0],
  ["SS G = 0 with limit bits 31:20 set", (s) => set(s, F.GUEST_SS_ACCESS_RIGHTS, 0x4093), "guest", G2, 0],
  ["ES access-rights bit 17 (reserved)", (s) => or(s, F.GUEST_ES_ACCESS_RIGHTS, 1 << 17), "guest", G2, 0],
  ["TR type 3 in an IA-32e mode guest", (s) => set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x83), "guest", G2, 0],
  ["TR type 9 (available TSS)", (s) => set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x89), "guest", G2, 0],
  ["TR with S = 1", (s) => set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x9b), "guest", G2, 0],
  ["TR not present", (s) => set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x0b), "guest", G2, 0],
  ["TR unusable", (s) => set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x1008b), "guest", G2, 0],
  ["TR G = 0 with limit bits 31:20 set", (s) => set(s, F.GUEST_TR_LIMIT, 0x100067), "guest", G2, 0],
  ["usable LDTR type 3", (s) => { set(s, F.GUEST_LDTR_SELECTOR, 0x20); set(s, F.GUEST_LDTR_ACCESS_RIGHTS, 0x83); }, "guest", G2, 0],
  ["usable LDTR not present", (s) => { set(s, F.GUEST_LDTR_SELECTOR, 0x20); set(s, F.GUEST_LDTR_ACCESS_RIGHTS, 0x02); }, "guest", G2, 0],
  // 26.3.1.3 Descriptor-table registers.
  ["GDTR base not canonical", (s) => set(s, F.GUEST_GDTR_BASE, 0x0000_8000_0000_0000n), "guest", G3, 0],
  ["IDTR limit above 0xffff", (s) => set(s, F.GUEST_IDTR_LIMIT, 0x10000), "guest", G3, 0],
  // 26.3.1.4 RIP and RFLAGS.
  ["RIP not canonical in 64-bit mode", (s) => set(s, F.GUEST_RIP, 0x0000_8000_0000_0000n), "guest", G4, 0],
  ["RIP bits 63:32 in compatibility mode", (s) => {
    set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xc09b); set(s, F.GUEST_RIP, 0x1_0000_1000n);
  }, "guest", G4, 0],
  ["RFLAGS bit 1 clear", (s) => set(s, F.GUEST_RFLAGS, 0), "guest", G4, 0],
  ["RFLAGS bit 3 set", (s) => set(s, F.GUEST_RFLAGS, 0xa), "guest", G4, 0],
  ["RFLAGS bit 15 set", (s) => set(s, F.GUEST_RFLAGS, 0x8002), "guest", G4, 0],
  ["RFLAGS bit 22 set", (s) => set(s, F.GUEST_RFLAGS, 0x400002), "guest", G4, 0],
  ["RFLAGS.VM in an IA-32e mode guest", (s) => set(s, F.GUEST_RFLAGS, 0x20002), "guest", G4, 0],
  ["RFLAGS.IF 0 while injecting an external interrupt", (s) => set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(0, 0x20)), "guest", G4, 0],
  // 26.3.1.5 Non-register state.
  ["activity state 2 (shutdown, unsupported)", (s) => set(s, F.GUEST_ACTIVITY_STATE, 2), "guest", G5, 0],
  ["activity state 4", (s) => set(s, F.GUEST_ACTIVITY_STATE, 4), "guest", G5, 0],
  ["HLT when the capabilities do not offer it", (s) => { s.caps.activityHlt = false; set(s, F.GUEST_ACTIVITY_STATE, 1); }, "guest", G5, 0],
  ["HLT with SS DPL 3", (s) => {
    set(s, F.GUEST_ACTIVITY_STATE, 1);
    set(s, F.GUEST_CS_SELECTOR, 0x0b); set(s, F.GUEST_CS_ACCESS_RIGHTS, 0xa0fb);
    set(s, F.GUEST_SS_SELECTOR, 0x13); set(s, F.GUEST_SS_ACCESS_RIGHTS, 0xc0f3);
    for (const f of [F.GUEST_DS_SELECTOR, F.GUEST_ES_SELECTOR, F.GUEST_FS_SELECTOR, F.GUEST_GS_SELECTOR]) set(s, f, 0x13);
    for (const f of [F.GUEST_DS_ACCESS_RIGHTS, F.GUEST_ES_ACCESS_RIGHTS, F.GUEST_FS_ACCESS_RIGHTS, F.GUEST_GS_ACCESS_RIGHTS]) {
      set(s, f, 0xc0f3);
    }
  }, "guest", G5, 0, "HLT with SS DPL 3"],
  ["HLT with blocking by MOV SS", (s) => { set(s, F.GUEST_ACTIVITY_STATE, 1); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 2); }, "guest", G5, 0, "not active"],
  ["HLT while injecting #GP", (s) => {
    set(s, F.GUEST_ACTIVITY_STATE, 1); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(3, 13, true));
  }, "guest", G5, 0],
  ["HLT while injecting a software interrupt", (s) => {
    set(s, F.GUEST_ACTIVITY_STATE, 1); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(4, 0x80));
    set(s, F.VM_ENTRY_INSTRUCTION_LENGTH, 2);
  }, "guest", G5, 0],
  ["interruptibility bit 5 (reserved)", (s) => set(s, F.GUEST_INTERRUPTIBILITY_STATE, 0x20), "guest", G5, 0],
  ["blocking by STI and MOV SS", (s) => { set(s, F.GUEST_RFLAGS, 0x202); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 3); }, "guest", G5, 0],
  ["blocking by STI with RFLAGS.IF 0", (s) => set(s, F.GUEST_INTERRUPTIBILITY_STATE, 1), "guest", G5, 0],
  ["external interrupt injected under blocking by MOV SS", (s) => {
    set(s, F.GUEST_RFLAGS, 0x202); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 2); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(0, 0x20));
  }, "guest", G5, 0],
  ["external interrupt injected under blocking by STI", (s) => {
    set(s, F.GUEST_RFLAGS, 0x202); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 1); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(0, 0x20));
  }, "guest", G5, 0],
  ["NMI injected under blocking by MOV SS", (s) => {
    set(s, F.GUEST_INTERRUPTIBILITY_STATE, 2); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(2, 2));
  }, "guest", G5, 0],
  ["NMI injected under blocking by STI", (s) => {
    set(s, F.GUEST_RFLAGS, 0x202); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 1); set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(2, 2));
  }, "guest", G5, 0, "NMI with blocking by STI"],
  ["NMI injected with virtual NMIs and blocking by NMI", (s) => {
    or(s, F.PIN_BASED_CONTROLS, PinCtl.VIRTUAL_NMIS); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 8);
    set(s, F.VM_ENTRY_INTERRUPTION_INFO, inject(2, 2));
  }, "guest", G5, 0],
  ["blocking by SMI outside SMM", (s) => set(s, F.GUEST_INTERRUPTIBILITY_STATE, 4), "guest", G5, 0],
  ["enclave interruption without SGX", (s) => set(s, F.GUEST_INTERRUPTIBILITY_STATE, 0x10), "guest", G5, 0],
  ["pending debug exceptions bit 4 (reserved)", (s) => set(s, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x10), "guest", G5, 0],
  ["pending debug exceptions bit 32 (reserved)", (s) => set(s, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 1n << 32n), "guest", G5, 0],
  ["pending debug exceptions RTM without RTM", (s) => set(s, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x11000), "guest", G5, 0],
  ["BS 1 with RFLAGS.TF 0 under blocking by STI", (s) => {
    set(s, F.GUEST_RFLAGS, 0x202); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 1); set(s, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x4000);
  }, "guest", G5, 0, "BS is 1"],
  ["BS 0 with RFLAGS.TF 1 under blocking by MOV SS", (s) => {
    set(s, F.GUEST_RFLAGS, 0x102); set(s, F.GUEST_INTERRUPTIBILITY_STATE, 2);
  }, "guest", G5, 0, "BS is 0"],
  ["BS 1 with BTF 1 in HLT", (s) => {
    set(s, F.GUEST_ACTIVITY_STATE, 1); set(s, F.GUEST_RFLAGS, 0x102); set(s, F.GUEST_IA32_DEBUGCTL, 2);
    set(s, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x4000);
  }, "guest", G5, 0, "BS is 1"],
  ["VMCS link pointer not 4K-aligned", (s) => set(s, F.VMCS_LINK_POINTER, LINK_VMCS + 8), "guest", G5, 4],
  ["VMCS link pointer beyond MAXPHYADDR", (s) => set(s, F.VMCS_LINK_POINTER, 1n << 39n), "guest", G5, 4],
  ["VMCS link pointer to a wrong revision", (s) => {
    set(s, F.VMCS_LINK_POINTER, LINK_VMCS); s.mem.set(LINK_VMCS, VMCS_REVISION + 1);
  }, "guest", G5, 4, "revision identifier"],
  ["VMCS link pointer to a shadow VMCS without VMCS shadowing", (s) => {
    set(s, F.VMCS_LINK_POINTER, LINK_VMCS); s.mem.set(LINK_VMCS, (VMCS_REVISION | 0x80000000) >>> 0);
  }, "guest", G5, 4, "shadow-VMCS indicator"],
  ["VMCS link pointer equal to the current VMCS", (s) => {
    set(s, F.VMCS_LINK_POINTER, LINK_VMCS); s.currentVmcsPointer = BigInt(LINK_VMCS);
  }, "guest", G5, 4, "current-VMCS pointer"],
];

const paeMutations: Mutation[] = [
  ["PDPTE0 bit 1 (reserved)", (s) => s.mem.set(0x6000, 0x7003), "guest", G6, 2],
  ["PDPTE2 bit 5 (reserved)", (s) => s.mem.set(0x6010, 0x9021), "guest", G6, 2],
  ["PDPTE3 above MAXPHYADDR", (s) => s.mem.set(0x601c, 0x80), "guest", G6, 2],
  ["PDPTE1 bit 63 (reserved, no XD in a PDPTE)", (s) => s.mem.set(0x600c, 0x80000000), "guest", G6, 2],
  ["32-bit guest: EFER.LMA 1 without IA-32e mode guest", (s) => set(s, F.GUEST_IA32_EFER, 0x500), "guest", G1, 0],
  ["32-bit guest: TR type 1 (available 16-bit TSS)", (s) => set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x81), "guest", G2, 0],
  ["32-bit guest: RIP bits 63:32", (s) => set(s, F.GUEST_RIP, 0x1_0000_0000n), "guest", G4, 0],
  ["32-bit guest: EFER.LME 1 with paging on", (s) => set(s, F.GUEST_IA32_EFER, 0x100), "guest", G1, 0],
  ["32-bit guest: RFLAGS.VM (virtual-8086 not supported)", (s) => set(s, F.GUEST_RFLAGS, 0x20002), "guest", G4, 0],
];

function expectFailure([, mutate, kind, section, qualification = 0, phrase]: Mutation, base: () => State): void {
  const s = base();
  mutate(s);
  const f = firstFailure(s);
  expect(f, "VM entry should fail").toBeDefined();
  expect(f!.kind).toBe(kind);
  expect(f!.rule.startsWith(`${section}: `), f!.rule).toBe(true);
  expect(f!.qualification).toBe(qualification);
  if (phrase !== undefined) expect(f!.rule).toContain(phrase);
}

describe("VM-entry checks on VMX controls (26.2.1)", () => {
  it.each(controlMutations)("%s", (...m) => expectFailure(m, valid64));
});

describe("VM-entry checks on host state (26.2.2-26.2.4)", () => {
  it.each(hostMutations)("%s", (...m) => expectFailure(m, valid64));
  it.each(host32Mutations)("%s", (...m) => expectFailure(m, host32));
});

describe("VM-entry checks on guest state (26.3.1)", () => {
  it.each(guestMutations)("%s", (...m) => expectFailure(m, valid64));
  it.each(paeMutations)("%s", (...m) => expectFailure(m, pae32));

  it("a 32-bit guest may have a busy 16-bit TSS", () => {
    const s = pae32();
    set(s, F.GUEST_TR_ACCESS_RIGHTS, 0x83);
    expect(firstFailure(s)).toBeUndefined();
  });

  it("reports the rule text --vmx-log prints", () => {
    const s = valid64();
    set(s, F.CR3_TARGET_COUNT, 5);
    expect(checkControls(envOf(s))).toEqual({ kind: "control", rule: "26.2.1.1: CR3-target count 5 > 4", qualification: 0 });
  });

  it("names the offending control bits", () => {
    const s = valid64();
    or(s, F.PRIMARY_PROC_CONTROLS, ProcCtl.USE_TPR_SHADOW);
    expect(checkControls(envOf(s))?.rule).toContain("USE_TPR_SHADOW");
  });

  it("checks the PDPTEs only for PAE paging outside IA-32e mode", () => {
    const s = valid64();
    set(s, F.GUEST_CR3, 0x6000);
    s.mem.set(0x6000, 0x7003); // would be a reserved-bit violation in a PAE guest
    expect(firstFailure(s)).toBeUndefined();
  });

  it("counts at least 60 single-field mutations", () => {
    const n = controlMutations.length + hostMutations.length + host32Mutations.length + guestMutations.length +
      paeMutations.length;
    expect(n).toBeGreaterThanOrEqual(60);
  });
});
