// VMX operation of one logical processor: root/non-root state, the current VMCS, and the two
// transitions: VM entry (SDM Vol. 3, chapter 26) and VM exit (chapter 27).
import { Cr0, Cr4, Efer } from "../cpu/control-regs.js";
import type { Cpu } from "../cpu/cpu.js";
import { Fault, Stop, Vec } from "../cpu/fault.js";
import { Fl } from "../cpu/flags.js";
import { Msr } from "../cpu/msr-index.js";
import { Seg } from "../cpu/regs.js";
import { isCanonical, loadPdptes } from "../mem/paging.js";
import { Ar } from "../cpu/segments.js";
import { DEFAULT_CAPS, VMCS_REVISION, type VmxCapabilities } from "./capabilities.js";
import { EntryCtl, ExitCtl, Proc2Ctl, ProcCtl } from "./controls.js";
import { checkControls, checkGuestState, checkHostState, type EntryFailure } from "./entry-checks.js";
import { VmInstructionError } from "./errors.js";
import { F } from "./fields.js";
import { ExitReason, exitReasonName } from "./reasons.js";
import { fieldIndex, LaunchState, VmcsStore } from "./vmcs.js";

export const INVALID_VMCS = -1;

/** VMX-abort indicators (SDM 28.7). */
export const enum VmxAbort { GUEST_MSR_STORE = 1, HOST_PDPTE = 2, VMCS_CORRUPTED = 3, MSR_LOAD = 4, MACHINE_CHECK = 5, HOST_NOT_LONG = 6 }

/** Thrown by an op after a VM entry or exit switched the CPU to other code: the block ends. */
export class ContextSwitch {
  constructor(readonly kind: "entry" | "exit", readonly retired: boolean) {}
}

/** Exit information an instruction intercept supplies (SDM 27.2). */
export interface ExitInfo {
  /** Guest RIP to save: the exiting instruction. Defaults to cpu.rip (exceptions set it). */
  rip?: number;
  /** Save RFLAGS.RF = 1: an exit for a fault-class exception saves what its frame would hold (SDM 28.3.3). */
  rf?: boolean;
  qualification?: number | bigint;
  instructionLength?: number;
  instructionInfo?: number;
  guestLinear?: number;
  interruptionInfo?: number;
  interruptionError?: number;
}

// Per segment register (ES, CS, SS, DS, FS, GS, LDTR, TR): the guest-state field encodings.
const SEL = (s: number) => F.GUEST_ES_SELECTOR + 2 * s;
const LIMIT = (s: number) => F.GUEST_ES_LIMIT + 2 * s;
const AR = (s: number) => F.GUEST_ES_ACCESS_RIGHTS + 2 * s;
const BASE = (s: number) => F.GUEST_ES_BASE + 2 * s;
const LDTR = 6, TR = 7;

export class Vmx {
  /** In VMX operation (after VMXON). */
  on = false;
  /** In VMX non-root operation (between VM entry and VM exit). */
  nonRoot = false;
  vmxonPtr = INVALID_VMCS;
  /** Physical address of the current VMCS, or INVALID_VMCS. */
  current = INVALID_VMCS;
  /** VMCS regions made active by VMPTRLD and not cleared since (VMXOFF marks the launched ones). */
  readonly active = new Set<number>();
  /** The current VMCS's contents (written back by VMCLEAR). */
  readonly vmcs = new VmcsStore();
  caps: VmxCapabilities = DEFAULT_CAPS;
  readonly revision = VMCS_REVISION;
  // Versions of the control and host field groups that last passed the VM-entry checks.
  private passedControls = -1;
  private passedHost = -1;
  private passedHostIa32e = false;
  private passedVmcs = INVALID_VMCS;
  /** --vmx-log: every failed VM-entry check and every VM entry and exit. */
  log: ((line: string) => void) | undefined;
  readonly stats = { entries: 0, exits: 0, exitsByReason: new Map<number, number>() };

  // Controls of the running guest, decoded at VM entry for the intercept checks.
  pin = 0; proc = 0; proc2 = 0; exitCtl = 0; entryCtl = 0;
  exceptionBitmap = 0;
  cr0Mask = 0; cr0Shadow = 0; cr4Mask = 0; cr4Shadow = 0;
  constructor(private readonly cpu: Cpu) {}

  get currentValid(): boolean { return this.current !== INVALID_VMCS; }

  // ---- instruction outcomes (SDM 31.2) ----
  succeed(): void { this.cpu.f.merge(0x8d5, 0); }
  failInvalid(): void { this.cpu.f.merge(0x8d5, Fl.CF); }
  failValid(error: VmInstructionError): void {
    this.vmcs.setU32(F.VM_INSTRUCTION_ERROR, error);
    this.cpu.f.merge(0x8d5, Fl.ZF);
  }
  fail(error: VmInstructionError): void {
    if (this.currentValid) this.failValid(error); else this.failInvalid();
  }

  // ---- VM entry ----
  /** VMLAUNCH/VMRESUME after the instruction checks: returns false if it failed (VMfail set). */
  enter(launch: boolean): boolean {
    const cpu = this.cpu;
    const v = this.vmcs;
    const env = {
      read: (e: number) => v.read(e), caps: this.caps, physBits: cpu.cpuid.physBits,
      readPhys32: (pa: number) => cpu.mem.read32(pa), vmcsRevision: this.revision,
      hostIa32e: (cpu.efer & Efer.LMA) !== 0, currentVmcsPointer: BigInt(this.current),
      readU32: (e: number) => v.u32(e),
    };
    // Control and host checks depend only on their own field groups (and, for event injection,
    // on guest CR0): skip them when nothing in those groups changed since they last passed.
    const injecting = (v.u32(F.VM_ENTRY_INTERRUPTION_INFO) & 0x80000000) !== 0;
    const hostIa32e = (cpu.efer & Efer.LMA) !== 0;
    const controlsKnownGood = !injecting && this.passedControls === v.controlVersion && this.passedVmcs === this.current;
    if (!controlsKnownGood) {
      const control = checkControls(env);
      if (control) { this.logFailure(control); this.failValid(VmInstructionError.ENTRY_INVALID_CONTROL_FIELDS); return false; }
    }
    const hostKnownGood = controlsKnownGood && this.passedHost === v.hostVersion && this.passedHostIa32e === hostIa32e;
    if (!hostKnownGood) {
      const host = checkHostState(env);
      if (host) { this.logFailure(host); this.failValid(VmInstructionError.ENTRY_INVALID_HOST_STATE); return false; }
    }
    this.passedControls = injecting ? -1 : v.controlVersion;
    this.passedHost = v.hostVersion;
    this.passedHostIa32e = hostIa32e;
    this.passedVmcs = this.current;
    // The guest state a VM exit saved passes the checks by construction (every instruction that
    // changes it validates like the checks do), so after a passing entry only what software
    // wrote since needs checking; the common exit-handler write, GUEST_RIP, is checked alone.
    // Event injection, a VMCS link pointer and PAE guests (PDPTEs in memory) always get the
    // full checks.
    const guestKnownGood = controlsKnownGood && !v.guestChangedAll && this.passedGuestVmcs === this.current &&
      v.unum(F.VMCS_LINK_POINTER) === 2 ** 64 - 1 && !this.paeGuest();
    const guest = guestKnownGood ? (v.guestRipWritten ? this.checkGuestRip() : undefined) : checkGuestState(env);
    if (guest) {
      this.logFailure(guest);
      this.entryFailure(ExitReason.ENTRY_FAIL_GUEST_STATE, guest.qualification);
      return true;
    }
    v.guestChecked();
    this.passedGuestVmcs = this.current;
    this.loadGuestState();
    const msrFail = this.loadMsrList(F.VM_ENTRY_MSR_LOAD_ADDRESS, F.VM_ENTRY_MSR_LOAD_COUNT);
    if (msrFail > 0) {
      this.log?.(`VM entry: MSR-load entry ${msrFail} failed`);
      this.entryFailure(ExitReason.ENTRY_FAIL_MSR_LOADING, msrFail);
      return true;
    }
    if (launch) v.launch = LaunchState.LAUNCHED;
    this.nonRoot = true;
    this.stats.entries++;
    this.log?.(`VM entry (${launch ? "VMLAUNCH" : "VMRESUME"}) to RIP 0x${BigInt.asUintN(64, BigInt(cpu.rip)).toString(16)}`);
    this.injectEvent();
    // Activity state HLT: only an injected event wakes the guest, and this machine raises no
    // interrupts or NMIs, so an HLT-state entry without one waits forever.
    if (v.u32(F.GUEST_ACTIVITY_STATE) === 1 && this.pendingInjection === undefined) {
      throw new Stop("halt", `guest halted in VMX non-root operation (activity state HLT) at RIP 0x${BigInt.asUintN(64, BigInt(cpu.rip)).toString(16)}`);
    }
    return true;
  }

  private passedGuestVmcs = INVALID_VMCS;

  private paeGuest(): boolean {
    const v = this.vmcs;
    return (v.u32(F.GUEST_CR0) & Cr0.PG) !== 0 && (v.u32(F.GUEST_CR4) & Cr4.PAE) !== 0 &&
      (v.u32(F.VM_ENTRY_CONTROLS) & EntryCtl.IA32E_MODE_GUEST) === 0;
  }

  /** The RIP rules of SDM 26.3.1.4, for a guest state that is otherwise known to pass. */
  private checkGuestRip(): EntryFailure | undefined {
    const v = this.vmcs;
    const long = (v.u32(F.VM_ENTRY_CONTROLS) & EntryCtl.IA32E_MODE_GUEST) !== 0 && (v.u32(F.GUEST_CS_ACCESS_RIGHTS) & Ar.L) !== 0;
    const rip = v.num(F.GUEST_RIP);
    if (long ? !isCanonical(rip) : v.hi[fieldIndex(F.GUEST_RIP)] !== 0) {
      return { kind: "guest", rule: long ? "26.3.1.4: RIP is not canonical" : "26.3.1.4: RIP bits 63:32 are not 0 outside 64-bit mode", qualification: 0 };
    }
    return undefined;
  }

  private logFailure(f: EntryFailure): void {
    this.log?.(`VM entry failed (${f.kind} state): ${f.rule}`);
  }

  /** A VM entry that fails after the processor state checks: a VM exit with bit 31 set (SDM 26.8). */
  private entryFailure(reason: number, qualification: number): void {
    const v = this.vmcs;
    v.setU32(F.EXIT_REASON, (reason | 0x80000000) >>> 0);
    v.setNum(F.EXIT_QUALIFICATION, qualification);
    this.stats.exits++;
    this.loadHostState();
    // SDM 26.8: the VM-exit MSR-load area is processed too.
    const fail = this.loadMsrList(F.VM_EXIT_MSR_LOAD_ADDRESS, F.VM_EXIT_MSR_LOAD_COUNT);
    if (fail > 0) this.abort(VmxAbort.MSR_LOAD, `VM-exit MSR-load entry ${fail} failed`);
  }

  private loadGuestState(): void {
    const cpu = this.cpu;
    const v = this.vmcs;
    this.pin = v.u32(F.PIN_BASED_CONTROLS);
    this.proc = v.u32(F.PRIMARY_PROC_CONTROLS);
    this.proc2 = (this.proc & ProcCtl.ACTIVATE_SECONDARY_CONTROLS) !== 0 ? v.u32(F.SECONDARY_PROC_CONTROLS) : 0;
    this.exitCtl = v.u32(F.VM_EXIT_CONTROLS);
    this.entryCtl = v.u32(F.VM_ENTRY_CONTROLS);
    this.exceptionBitmap = v.u32(F.EXCEPTION_BITMAP);
    this.cr0Mask = v.u32(F.CR0_GUEST_HOST_MASK); this.cr0Shadow = v.u32(F.CR0_READ_SHADOW);
    this.cr4Mask = v.u32(F.CR4_GUEST_HOST_MASK); this.cr4Shadow = v.u32(F.CR4_READ_SHADOW);

    const ia32e = (this.entryCtl & EntryCtl.IA32E_MODE_GUEST) !== 0;
    cpu.cr0 = v.u32(F.GUEST_CR0);
    cpu.cr3 = v.unum(F.GUEST_CR3);
    cpu.cr4 = v.u32(F.GUEST_CR4);
    if (this.entryCtl & EntryCtl.LOAD_IA32_EFER) cpu.efer = v.u32(F.GUEST_IA32_EFER) & (Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE);
    else {
      let e = cpu.efer & ~(Efer.LMA | Efer.LME);
      if (ia32e) e |= Efer.LMA | ((cpu.cr0 & Cr0.PG) ? Efer.LME : 0);
      cpu.efer = e;
    }
    if (this.entryCtl & EntryCtl.LOAD_IA32_PAT) cpu.msr.pat = v.read(F.GUEST_IA32_PAT);
    if (this.entryCtl & EntryCtl.LOAD_DEBUG_CONTROLS) {
      cpu.dr7 = v.u32(F.GUEST_DR7);
      cpu.msr.debugctl = v.read(F.GUEST_IA32_DEBUGCTL) & 3n;
    }
    cpu.msr.sysenterCs = BigInt(v.u32(F.GUEST_IA32_SYSENTER_CS));
    cpu.msr.sysenterEsp = v.read(F.GUEST_IA32_SYSENTER_ESP);
    cpu.msr.sysenterEip = v.read(F.GUEST_IA32_SYSENTER_EIP);
    for (let s = 0; s < 6; s++) {
      const attr = v.u32(AR(s));
      cpu.segSel[s] = v.u32(SEL(s)) & 0xffff;
      cpu.segBase[s] = s >= Seg.FS ? v.num(BASE(s)) : v.u32(BASE(s));
      cpu.segLimit[s] = v.u32(LIMIT(s));
      cpu.segAttr[s] = attr;
    }
    cpu.ldtr = { sel: v.u32(SEL(LDTR)) & 0xffff, base: v.num(BASE(LDTR)), limit: v.u32(LIMIT(LDTR)), attr: v.u32(AR(LDTR)) };
    cpu.tr = { sel: v.u32(SEL(TR)) & 0xffff, base: v.num(BASE(TR)), limit: v.u32(LIMIT(TR)), attr: v.u32(AR(TR)) };
    cpu.gdtrBase = v.num(F.GUEST_GDTR_BASE); cpu.gdtrLimit = v.u32(F.GUEST_GDTR_LIMIT) & 0xffff;
    cpu.idtrBase = v.num(F.GUEST_IDTR_BASE); cpu.idtrLimit = v.u32(F.GUEST_IDTR_LIMIT) & 0xffff;
    // A PAE guest gets its PDPTEs from guest CR3 (checked by the guest-state checks, SDM 26.3.1.6).
    if ((cpu.cr0 & Cr0.PG) && (cpu.cr4 & Cr4.PAE) && !(cpu.efer & Efer.LMA)) loadPdptes(cpu.mem, cpu);
    cpu.setRsp(v.num(F.GUEST_RSP));
    cpu.setRflags(v.u32(F.GUEST_RFLAGS));
    cpu.cpl = (cpu.segAttr[Seg.SS] >> 5) & 3;
    cpu.mmu.flush();
    cpu.updateMode();
    cpu.onModeChange();
    cpu.rip = cpu.mode === 64 ? v.num(F.GUEST_RIP) : v.u32(F.GUEST_RIP);
    cpu.interruptShadow = (v.u32(F.GUEST_INTERRUPTIBILITY_STATE) & 3) !== 0;
  }

  /** Event injection through the VM-entry interruption-information field (SDM 26.6). */
  private injectEvent(): void {
    const v = this.vmcs;
    const info = v.u32(F.VM_ENTRY_INTERRUPTION_INFO);
    if ((info & 0x80000000) === 0) return;
    const vector = info & 0xff;
    const type = (info >> 8) & 7;
    const error = (info & 0x800) !== 0 ? v.u32(F.VM_ENTRY_EXCEPTION_ERROR_CODE) : -1;
    const len = v.u32(F.VM_ENTRY_INSTRUCTION_LENGTH);
    // Types 4-6 (software interrupt and exceptions) push RIP + instruction length.
    const soft = type === 4 || type === 6 || type === 5;
    const ret = soft ? this.cpu.rip + len : NaN;
    this.pendingInjection = new Fault(vector, error, 0, ret, type === 4 || type === 6);
    this.pendingInjection.injected = true;
    // Bit 31 of the field is cleared by the VM exit that follows (SDM 27.2.5), not here.
  }
  /** An event to deliver before the guest's first instruction (the executor delivers it). */
  pendingInjection: Fault | undefined;
  /** The event whose delivery is in progress when a nested event may cause a VM exit. */
  vectoring: Fault | undefined;

  // ---- VM exit ----
  /** Leave non-root operation with `reason` (SDM 27), and end the running code with ContextSwitch. */
  exit(reason: number, info: ExitInfo = {}): never {
    this.performExit(reason, info);
    throw new ContextSwitch("exit", false);
  }

  /**
   * The VM exit without unwinding: the caller returns at once. The executor sees cpu.switched
   * (RIP already points at the host) — cheaper than a throw on the hot exits.
   */
  exitInPlace(reason: number, info: ExitInfo = {}): void {
    this.switchTo(false);
    this.performExit(reason, info);
  }

  /** Flag a switch to other code for the executor (see compile.ts). */
  switchTo(retired: boolean): void {
    const cpu = this.cpu;
    cpu.switched = true;
    cpu.switchRetired = retired;
    cpu.abortBlock = true;
  }

  private performExit(reason: number, info: ExitInfo): void {
    const v = this.vmcs;
    const cpu = this.cpu;
    v.setU32(F.EXIT_REASON, reason);
    const q = info.qualification ?? 0;
    if (typeof q === "number" && q >= 0) v.setNum(F.EXIT_QUALIFICATION, q);
    else v.set64(F.EXIT_QUALIFICATION, BigInt.asUintN(64, BigInt(q)));
    v.setU32(F.VM_EXIT_INSTRUCTION_LENGTH, info.instructionLength ?? 0);
    v.setU32(F.VM_EXIT_INSTRUCTION_INFO, info.instructionInfo ?? 0);
    v.setNum(F.GUEST_LINEAR_ADDRESS, info.guestLinear ?? 0);
    v.setU32(F.VM_EXIT_INTERRUPTION_INFO, info.interruptionInfo ?? 0);
    v.setU32(F.VM_EXIT_INTERRUPTION_ERROR_CODE, info.interruptionError ?? 0);
    const vec = this.vectoring;
    this.vectoring = undefined;
    if (vec !== undefined) {
      // The exit happened while delivering `vec` through the guest IDT (SDM 27.2.4).
      const type = vec.intN ? 4 : vec.soft ? 6 : 3;
      const err = vec.errorCode >= 0 && !vec.soft;
      v.setU32(F.IDT_VECTORING_INFO, (0x80000000 | (type << 8) | vec.vector | (err ? 0x800 : 0)) >>> 0);
      v.setU32(F.IDT_VECTORING_ERROR_CODE, err ? vec.errorCode : 0);
    } else {
      v.setU32(F.IDT_VECTORING_INFO, 0);
    }
    const entryInfo = v.u32(F.VM_ENTRY_INTERRUPTION_INFO);
    if (entryInfo & 0x80000000) v.setU32(F.VM_ENTRY_INTERRUPTION_INFO, entryInfo & 0x7fffffff);
    if (info.rip !== undefined) cpu.rip = info.rip;
    this.saveGuestState(info.rf === true);
    this.storeMsrList();
    this.stats.exits++;
    this.stats.exitsByReason.set(reason, (this.stats.exitsByReason.get(reason) ?? 0) + 1);
    this.log?.(`VM exit: reason ${reason} (${exitReasonName(reason)}) qualification 0x${BigInt.asUintN(64, BigInt(info.qualification ?? 0)).toString(16)} at guest RIP 0x${BigInt.asUintN(64, BigInt(cpu.rip)).toString(16)}`);
    this.loadHostState();
    const fail = this.loadMsrList(F.VM_EXIT_MSR_LOAD_ADDRESS, F.VM_EXIT_MSR_LOAD_COUNT);
    if (fail > 0) this.abort(VmxAbort.MSR_LOAD, `VM-exit MSR-load entry ${fail} failed`);
  }

  private saveGuestState(rf: boolean): void {
    const cpu = this.cpu;
    const v = this.vmcs;
    v.setU32(F.GUEST_CR0, cpu.cr0);
    v.setNum(F.GUEST_CR3, cpu.cr3);
    v.setU32(F.GUEST_CR4, cpu.cr4);
    v.setNum(F.GUEST_RSP, cpu.reg(4));
    v.setNum(F.GUEST_RIP, cpu.rip);
    v.setU32(F.GUEST_RFLAGS, (cpu.getRflags() & ~Fl.RF) | (rf ? Fl.RF : 0));
    for (let s = 0; s < 6; s++) {
      v.setU32(SEL(s), cpu.segSel[s]);
      v.setNum(BASE(s), cpu.segBase[s]);
      v.setU32(LIMIT(s), cpu.segLimit[s]);
      v.setU32(AR(s), cpu.segAttr[s]);
    }
    v.setU32(SEL(LDTR), cpu.ldtr.sel); v.setNum(BASE(LDTR), cpu.ldtr.base); v.setU32(LIMIT(LDTR), cpu.ldtr.limit); v.setU32(AR(LDTR), cpu.ldtr.attr);
    v.setU32(SEL(TR), cpu.tr.sel); v.setNum(BASE(TR), cpu.tr.base); v.setU32(LIMIT(TR), cpu.tr.limit); v.setU32(AR(TR), cpu.tr.attr);
    v.setNum(F.GUEST_GDTR_BASE, cpu.gdtrBase); v.setU32(F.GUEST_GDTR_LIMIT, cpu.gdtrLimit);
    v.setNum(F.GUEST_IDTR_BASE, cpu.idtrBase); v.setU32(F.GUEST_IDTR_LIMIT, cpu.idtrLimit);
    v.setU32(F.GUEST_IA32_SYSENTER_CS, Number(cpu.msr.sysenterCs));
    v.set64(F.GUEST_IA32_SYSENTER_ESP, cpu.msr.sysenterEsp);
    v.set64(F.GUEST_IA32_SYSENTER_EIP, cpu.msr.sysenterEip);
    if (this.exitCtl & ExitCtl.SAVE_IA32_PAT) v.set64(F.GUEST_IA32_PAT, cpu.msr.pat);
    if (this.exitCtl & ExitCtl.SAVE_DEBUG_CONTROLS) {
      v.setU32(F.GUEST_DR7, cpu.dr7);
      v.set64(F.GUEST_IA32_DEBUGCTL, cpu.msr.debugctl);
    }
    if (this.exitCtl & ExitCtl.SAVE_IA32_EFER) v.setU32(F.GUEST_IA32_EFER, cpu.efer);
    v.setU32(F.GUEST_INTERRUPTIBILITY_STATE, cpu.interruptShadow ? 1 : 0);
    v.setU32(F.GUEST_ACTIVITY_STATE, 0);
    v.setU32(F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0);
    // IA32_VMX_MISC bit 5: the IA-32e mode guest control records EFER.LMA.
    const entry = v.u32(F.VM_ENTRY_CONTROLS);
    const updated = ((cpu.efer & Efer.LMA) ? entry | EntryCtl.IA32E_MODE_GUEST : entry & ~EntryCtl.IA32E_MODE_GUEST) >>> 0;
    if (updated !== entry) v.setU32(F.VM_ENTRY_CONTROLS, updated);
  }

  /** Load the host state (SDM 27.5); also the end of a failed VM entry. */
  private loadHostState(): void {
    const cpu = this.cpu;
    const v = this.vmcs;
    const exitCtl = v.u32(F.VM_EXIT_CONTROLS);
    const host64 = (exitCtl & ExitCtl.HOST_ADDRESS_SPACE_SIZE) !== 0;
    // CR0: bits that are fixed in VMX operation and the reserved bits keep their values.
    cpu.cr0 = (v.u32(F.HOST_CR0) | Cr0.ET) >>> 0;
    cpu.cr3 = v.unum(F.HOST_CR3);
    cpu.cr4 = v.u32(F.HOST_CR4);
    if (exitCtl & ExitCtl.LOAD_IA32_EFER) cpu.efer = v.u32(F.HOST_IA32_EFER) & (Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE);
    else cpu.efer = host64 ? (cpu.efer | Efer.LMA | Efer.LME) : (cpu.efer & ~(Efer.LMA | Efer.LME));
    if (exitCtl & ExitCtl.LOAD_IA32_PAT) cpu.msr.pat = v.read(F.HOST_IA32_PAT);
    // SDM 27.5.1: DR7 is set to 400H and IA32_DEBUGCTL cleared on every VM exit.
    cpu.dr7 = 0x400;
    cpu.msr.debugctl = 0n;
    cpu.msr.sysenterCs = BigInt(v.u32(F.HOST_IA32_SYSENTER_CS));
    cpu.msr.sysenterEsp = v.read(F.HOST_IA32_SYSENTER_ESP);
    cpu.msr.sysenterEip = v.read(F.HOST_IA32_SYSENTER_EIP);
    const sel = (s: number) => v.u32(F.HOST_ES_SELECTOR + 2 * s) & 0xffff;
    // Host segments: flat, with the access rights SDM 27.5.2 gives them.
    const csAttr = 0x9b | Ar.S | Ar.P | Ar.G | (host64 ? Ar.L : Ar.DB);
    cpu.setSegment(Seg.CS, sel(Seg.CS), 0, 0xffffffff, csAttr);
    for (const s of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) {
      const sl = sel(s);
      const base = s === Seg.FS ? v.num(F.HOST_FS_BASE) : s === Seg.GS ? v.num(F.HOST_GS_BASE) : 0;
      const unusable = sl === 0 && !(s === Seg.SS && host64) ? Ar.UNUSABLE : 0;
      cpu.setSegment(s, sl, base, 0xffffffff, 0x93 | Ar.DB | Ar.G | unusable);
    }
    cpu.tr = { sel: v.u32(F.HOST_TR_SELECTOR) & 0xffff, base: v.num(F.HOST_TR_BASE), limit: 0x67, attr: 0x8b };
    cpu.ldtr = { sel: 0, base: 0, limit: 0, attr: Ar.UNUSABLE };
    cpu.gdtrBase = v.num(F.HOST_GDTR_BASE); cpu.gdtrLimit = 0xffff;
    cpu.idtrBase = v.num(F.HOST_IDTR_BASE); cpu.idtrLimit = 0xffff;
    // A 32-bit PAE host gets its PDPTEs from host CR3; a bad one is VMX abort 2 (SDM 27.5.4).
    if (!host64 && (cpu.cr0 & Cr0.PG) && (cpu.cr4 & Cr4.PAE) && !loadPdptes(cpu.mem, cpu)) {
      this.abort(VmxAbort.HOST_PDPTE, "the host's PDPTEs are invalid");
    }
    cpu.setRsp(v.num(F.HOST_RSP));
    cpu.setRflags(Fl.FIXED1);
    cpu.cpl = 0;
    cpu.interruptShadow = false;
    this.nonRoot = false;
    this.pendingInjection = undefined;
    cpu.mmu.flush();
    cpu.updateMode();
    cpu.onModeChange();
    cpu.rip = host64 ? v.num(F.HOST_RIP) : v.u32(F.HOST_RIP);
  }

  /** Load an MSR list (entry or exit). Returns 0, or the 1-based index of the entry that failed. */
  private loadMsrList(addrField: number, countField: number): number {
    const v = this.vmcs;
    const count = v.u32(countField);
    const base = v.unum(addrField);
    const mem = this.cpu.mem;
    for (let i = 0; i < count; i++) {
      const e = base + i * 16;
      const index = mem.read32(e) >>> 0;
      if (mem.read32(e + 4) !== 0 || (index >>> 8) === 0x8 || index === Msr.FS_BASE || index === Msr.GS_BASE) return i + 1;
      const value = (BigInt(mem.read32(e + 12) >>> 0) << 32n) | BigInt(mem.read32(e + 8) >>> 0);
      try { this.cpu.msr.write(index, value); } catch { return i + 1; }
    }
    return 0;
  }

  private storeMsrList(): void {
    const v = this.vmcs;
    const count = v.u32(F.VM_EXIT_MSR_STORE_COUNT);
    const base = v.unum(F.VM_EXIT_MSR_STORE_ADDRESS);
    const mem = this.cpu.mem;
    for (let i = 0; i < count; i++) {
      const e = base + i * 16;
      const index = mem.read32(e) >>> 0;
      let value: bigint;
      // Bits 63:32 set, the x2APIC range, or an MSR RDMSR cannot read: VMX abort (SDM 28.4).
      if (mem.read32(e + 4) !== 0 || (index >>> 8) === 0x8) this.abort(VmxAbort.GUEST_MSR_STORE, `VM-exit MSR-store entry ${i + 1} is invalid`);
      try { value = this.cpu.msr.read(index); } catch { return this.abort(VmxAbort.GUEST_MSR_STORE, `VM-exit MSR-store entry ${i + 1}: MSR 0x${index.toString(16)} cannot be read`); }
      mem.write32(e + 8, Number(value & 0xffffffffn) | 0);
      mem.write32(e + 12, Number(value >> 32n) | 0);
    }
  }

  /**
   * VMX abort (SDM 28.7): the indicator goes into the VMCS region and the processor shuts down.
   */
  abort(code: VmxAbort, why: string): never {
    if (this.current !== INVALID_VMCS) this.cpu.mem.write32(this.current + 4, code);
    throw new Stop("triple-fault", `VMX abort ${code} (${why}): the processor shuts down`);
  }

  // ---- intercept tests used by instructions in non-root operation ----
  procCtl(bit: ProcCtl): boolean { return (this.proc & bit) !== 0; }
  proc2Ctl(bit: Proc2Ctl): boolean { return (this.proc2 & bit) !== 0; }

  /** Whether an access to I/O ports [port, port+size) exits (SDM 25.1.3). */
  ioExits(port: number, size: number): boolean {
    if (this.proc & ProcCtl.USE_IO_BITMAPS) {
      for (let p = port; p < port + size; p++) {
        if (p > 0xffff) return true;
        const bitmap = p < 0x8000 ? this.vmcs.unum(F.IO_BITMAP_A) : this.vmcs.unum(F.IO_BITMAP_B);
        const bit = p & 0x7fff;
        if ((this.cpu.mem.read8(bitmap + (bit >> 3)) >> (bit & 7)) & 1) return true;
      }
      return false;
    }
    return (this.proc & ProcCtl.UNCONDITIONAL_IO_EXITING) !== 0;
  }

  /** Whether RDMSR (write=false) or WRMSR of `index` exits (SDM 25.1.3). */
  msrExits(index: number, write: boolean): boolean {
    if (!(this.proc & ProcCtl.USE_MSR_BITMAPS)) return true;
    let off: number;
    if (index <= 0x1fff) off = 0;
    else if (index >= 0xc0000000 && index <= 0xc0001fff) off = 1024;
    else return true;
    if (write) off += 2048;
    const bit = index & 0x1fff;
    return ((this.cpu.mem.read8(this.vmcs.unum(F.MSR_BITMAPS) + off + (bit >> 3)) >> (bit & 7)) & 1) !== 0;
  }

  /** Whether an exception of `vector` (and #PF error code) exits instead of being delivered. */
  exceptionExits(vector: number, errorCode: number): boolean {
    if (vector >= 32 || !((this.exceptionBitmap >>> vector) & 1)) {
      if (vector !== Vec.PF) return false;
    }
    if (vector === Vec.PF) {
      const mask = this.vmcs.u32(F.PAGE_FAULT_ERROR_CODE_MASK), match = this.vmcs.u32(F.PAGE_FAULT_ERROR_CODE_MATCH);
      const bit = ((this.exceptionBitmap >>> Vec.PF) & 1) !== 0;
      return ((errorCode & mask) === match) === bit;
    }
    return true;
  }

  /** CR0/CR4 as the guest reads them: shadow bits where the guest/host mask is set. */
  readShadowed(cr: 0 | 4, value: number): number {
    const mask = cr === 0 ? this.cr0Mask : this.cr4Mask;
    const shadow = cr === 0 ? this.cr0Shadow : this.cr4Shadow;
    return ((value & ~mask) | (shadow & mask)) >>> 0;
  }
}

