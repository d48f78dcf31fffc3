// The VMX capability MSRs (SDM Vol. 3, Appendix A) of the default CPU model. They advertise only
// controls that hyperstep implements: every allowed-1 bit here works. EPT, VPID, unrestricted
// guest, the preemption timer and MTF stay 0 until they exist.
import { Cr0, Cr4 } from "../cpu/control-regs.js";
import { CR4_SUPPORTED } from "../cpu/control-regs.js";
import { EntryCtl, ExitCtl, PinCtl, Proc2Ctl, ProcCtl, ENTRY_DEFAULT1, EXIT_DEFAULT1, PIN_DEFAULT1, PROC_DEFAULT1 } from "./controls.js";
import { MAX_FIELD_INDEX } from "./fields.js";
import { ctlsMsr, encodeVmcsEnum, encodeVmxBasic, encodeVmxMisc, VmcsMemoryType, VmxMsr } from "./msr-index.js";

/** VMCS revision identifier of this model (bits 30:0 of IA32_VMX_BASIC). */
export const VMCS_REVISION = 0x4879_7073; // "Hyps" read as a little-endian dword, bit 31 clear
export const VMCS_REGION_SIZE = 4096;

export interface ControlCaps { allowed0: number; allowed1: number }

export interface VmxCapabilities {
  pin: ControlCaps; proc: ControlCaps; proc2: ControlCaps; exit: ControlCaps; entry: ControlCaps;
  /** The non-TRUE MSRs report the default1 bits as fixed to 1. */
  truePin: ControlCaps; trueProc: ControlCaps; trueExit: ControlCaps; trueEntry: ControlCaps;
  cr0Fixed0: number; cr0Fixed1: number; cr4Fixed0: number; cr4Fixed1: number;
  cr3TargetCount: number;
  /** Guest activity states beyond active that VM entry accepts: HLT. */
  activityHlt: boolean;
}

const PIN_ALLOWED1 = PIN_DEFAULT1 | PinCtl.EXTERNAL_INTERRUPT_EXITING | PinCtl.NMI_EXITING | PinCtl.VIRTUAL_NMIS;
const PROC_ALLOWED1 = (PROC_DEFAULT1 | ProcCtl.HLT_EXITING | ProcCtl.INVLPG_EXITING | ProcCtl.RDTSC_EXITING |
  ProcCtl.USE_TSC_OFFSETTING | ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING | ProcCtl.CR8_LOAD_EXITING |
  ProcCtl.CR8_STORE_EXITING | ProcCtl.UNCONDITIONAL_IO_EXITING | ProcCtl.USE_IO_BITMAPS | ProcCtl.USE_MSR_BITMAPS |
  ProcCtl.PAUSE_EXITING | ProcCtl.ACTIVATE_SECONDARY_CONTROLS | ProcCtl.INTERRUPT_WINDOW_EXITING) >>> 0;
const PROC2_ALLOWED1 = Proc2Ctl.DESCRIPTOR_TABLE_EXITING | Proc2Ctl.ENABLE_RDTSCP | Proc2Ctl.WBINVD_EXITING;
const EXIT_ALLOWED1 = (EXIT_DEFAULT1 | ExitCtl.HOST_ADDRESS_SPACE_SIZE | ExitCtl.ACKNOWLEDGE_INTERRUPT_ON_EXIT |
  ExitCtl.SAVE_IA32_PAT | ExitCtl.LOAD_IA32_PAT | ExitCtl.SAVE_IA32_EFER | ExitCtl.LOAD_IA32_EFER) >>> 0;
const ENTRY_ALLOWED1 = (ENTRY_DEFAULT1 | EntryCtl.IA32E_MODE_GUEST | EntryCtl.LOAD_IA32_PAT | EntryCtl.LOAD_IA32_EFER) >>> 0;

/** Default1 bits the TRUE MSRs allow to be 0 (SDM A.2): the "load/save debug controls" and CR3 exiting. */
const PROC_TRUE_ALLOWED0 = (PROC_DEFAULT1 & ~(ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING)) >>> 0;
const EXIT_TRUE_ALLOWED0 = (EXIT_DEFAULT1 & ~ExitCtl.SAVE_DEBUG_CONTROLS) >>> 0;
const ENTRY_TRUE_ALLOWED0 = (ENTRY_DEFAULT1 & ~EntryCtl.LOAD_DEBUG_CONTROLS) >>> 0;

export const DEFAULT_CAPS: VmxCapabilities = {
  pin: { allowed0: PIN_DEFAULT1, allowed1: PIN_ALLOWED1 },
  proc: { allowed0: PROC_DEFAULT1, allowed1: PROC_ALLOWED1 },
  proc2: { allowed0: 0, allowed1: PROC2_ALLOWED1 },
  exit: { allowed0: EXIT_DEFAULT1, allowed1: EXIT_ALLOWED1 },
  entry: { allowed0: ENTRY_DEFAULT1, allowed1: ENTRY_ALLOWED1 },
  truePin: { allowed0: PIN_DEFAULT1, allowed1: PIN_ALLOWED1 },
  trueProc: { allowed0: PROC_TRUE_ALLOWED0, allowed1: PROC_ALLOWED1 },
  trueExit: { allowed0: EXIT_TRUE_ALLOWED0, allowed1: EXIT_ALLOWED1 },
  trueEntry: { allowed0: ENTRY_TRUE_ALLOWED0, allowed1: ENTRY_ALLOWED1 },
  // PE, NE and PG must be 1 in VMX operation (no unrestricted guest); any CR0 bit may be 1.
  cr0Fixed0: (Cr0.PE | Cr0.NE | Cr0.PG) >>> 0,
  cr0Fixed1: 0xffffffff,
  cr4Fixed0: Cr4.VMXE,
  cr4Fixed1: CR4_SUPPORTED | Cr4.VMXE,
  cr3TargetCount: 4,
  activityHlt: true,
};

/** The value RDMSR returns for capability MSR `index`, or undefined when it is not one. */
export function capabilityMsr(caps: VmxCapabilities, index: number): bigint | undefined {
  switch (index) {
    case VmxMsr.BASIC:
      return encodeVmxBasic({
        revision: VMCS_REVISION, regionSize: VMCS_REGION_SIZE, physAddr32: false, dualMonitor: false,
        memoryType: VmcsMemoryType.WB, insOutsInfo: false, trueControls: true, anyErrorCodeInjection: false,
      });
    case VmxMsr.PINBASED_CTLS: return ctlsMsr(caps.pin.allowed0, caps.pin.allowed1);
    case VmxMsr.PROCBASED_CTLS: return ctlsMsr(caps.proc.allowed0, caps.proc.allowed1);
    case VmxMsr.EXIT_CTLS: return ctlsMsr(caps.exit.allowed0, caps.exit.allowed1);
    case VmxMsr.ENTRY_CTLS: return ctlsMsr(caps.entry.allowed0, caps.entry.allowed1);
    case VmxMsr.MISC:
      return encodeVmxMisc({
        preemptionTimerRate: 0, storesLma: true, activityHlt: caps.activityHlt, activityShutdown: false,
        activityWaitForSipi: false, processorTrace: false, rdmsrSmbaseInSmm: false,
        cr3TargetCount: caps.cr3TargetCount, maxMsrListCode: 0, smmMonitorCtlBit2: false,
        vmwriteAnyField: false, zeroLengthInjection: false, msegRevision: 0,
      });
    case VmxMsr.CR0_FIXED0: return BigInt(caps.cr0Fixed0 >>> 0);
    case VmxMsr.CR0_FIXED1: return BigInt(caps.cr0Fixed1 >>> 0);
    case VmxMsr.CR4_FIXED0: return BigInt(caps.cr4Fixed0 >>> 0);
    case VmxMsr.CR4_FIXED1: return BigInt(caps.cr4Fixed1 >>> 0);
    case VmxMsr.VMCS_ENUM: return encodeVmcsEnum(MAX_FIELD_INDEX);
    case VmxMsr.PROCBASED_CTLS2: return ctlsMsr(caps.proc2.allowed0, caps.proc2.allowed1);
    case VmxMsr.EPT_VPID_CAP: return 0n;
    case VmxMsr.TRUE_PINBASED_CTLS: return ctlsMsr(caps.truePin.allowed0, caps.truePin.allowed1);
    case VmxMsr.TRUE_PROCBASED_CTLS: return ctlsMsr(caps.trueProc.allowed0, caps.trueProc.allowed1);
    case VmxMsr.TRUE_EXIT_CTLS: return ctlsMsr(caps.trueExit.allowed0, caps.trueExit.allowed1);
    case VmxMsr.TRUE_ENTRY_CTLS: return ctlsMsr(caps.trueEntry.allowed0, caps.trueEntry.allowed1);
    case VmxMsr.VMFUNC: return 0n;
    default: return undefined;
  }
}
