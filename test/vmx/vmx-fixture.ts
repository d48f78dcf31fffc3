// A VMX set-up for tests: the harness's 64-bit machine in VMX root operation with a current VMCS
// whose guest is the same flat 64-bit world (same CR3, GDT, segments) at GUEST_CODE, and whose
// host continues at HOST_CODE. Tests put code at those addresses and adjust fields.
import { Cr0, Cr4 } from "../../src/cpu/control-regs.js";
import type { Cpu } from "../../src/cpu/cpu.js";
import { Seg } from "../../src/cpu/regs.js";
import { VMCS_REVISION } from "../../src/vmx/capabilities.js";
import { EntryCtl, ExitCtl, PIN_DEFAULT1, PROC_DEFAULT1, ProcCtl, EXIT_DEFAULT1, ENTRY_DEFAULT1 } from "../../src/vmx/controls.js";
import { F } from "../../src/vmx/fields.js";

export const VMXON_REGION = 0x210000;
export const VMCS_REGION = 0x211000;
export const HOST_CODE = 0x101000;
export const GUEST_CODE = 0x102000;
export const GUEST_STACK = 0x70000;
export const HOST_STACK = 0x60000;
const TSS = 0x5000;

export function enterVmxRoot(cpu: Cpu, configure?: (w: (enc: number, v: bigint | number) => void) => void): void {
  const dv = cpu.mem.dv;
  // A 64-bit TSS descriptor at GDT selector 0x20 (the harness GDT has 4 entries).
  dv.setBigUint64(0x3020, 0x00008b0000000067n | (BigInt(TSS & 0xffff) << 16n) | (BigInt((TSS >> 16) & 0xff) << 32n), true);
  dv.setBigUint64(0x3028, 0n, true);
  cpu.gdtrLimit = 0x2f;
  cpu.tr = { sel: 0x20, base: TSS, limit: 0x67, attr: 0x8b };
  cpu.cr4 |= Cr4.VMXE;
  cpu.cr0 |= Cr0.NE;
  cpu.msr.featureControl = 5n;
  dv.setUint32(VMXON_REGION, VMCS_REVISION, true);
  dv.setUint32(VMCS_REGION, VMCS_REVISION, true);
  const vmx = cpu.vmx;
  vmx.on = true;
  vmx.vmxonPtr = VMXON_REGION;
  vmx.current = VMCS_REGION;
  vmx.vmcs.clear();
  const w = (enc: number, v: bigint | number) => vmx.vmcs.write(enc, BigInt(v));
  w(F.PIN_BASED_CONTROLS, PIN_DEFAULT1);
  w(F.PRIMARY_PROC_CONTROLS, PROC_DEFAULT1 & ~(ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING) | ProcCtl.HLT_EXITING);
  w(F.VM_EXIT_CONTROLS, EXIT_DEFAULT1 | ExitCtl.HOST_ADDRESS_SPACE_SIZE);
  w(F.VM_ENTRY_CONTROLS, ENTRY_DEFAULT1 | EntryCtl.IA32E_MODE_GUEST);
  w(F.VMCS_LINK_POINTER, 0xffffffffffffffffn);
  for (const [guest, host] of [[F.GUEST_CR0, F.HOST_CR0], [F.GUEST_CR3, F.HOST_CR3], [F.GUEST_CR4, F.HOST_CR4]] as const) {
    const v = guest === F.GUEST_CR0 ? cpu.cr0 : guest === F.GUEST_CR3 ? cpu.cr3 : cpu.cr4;
    w(guest, v >>> 0); w(host, v >>> 0);
  }
  for (let s = 0; s < 6; s++) {
    const sel = s === Seg.CS ? 0x08 : 0x10;
    w(F.GUEST_ES_SELECTOR + 2 * s, sel);
    w(F.GUEST_ES_LIMIT + 2 * s, 0xffffffff);
    w(F.GUEST_ES_ACCESS_RIGHTS + 2 * s, s === Seg.CS ? 0xa09b : 0xc093);
    w(F.GUEST_ES_BASE + 2 * s, 0);
    w(F.HOST_ES_SELECTOR + 2 * s, sel);
  }
  w(F.GUEST_LDTR_ACCESS_RIGHTS, 0x10000);
  w(F.GUEST_TR_SELECTOR, 0x20); w(F.GUEST_TR_BASE, TSS); w(F.GUEST_TR_LIMIT, 0x67); w(F.GUEST_TR_ACCESS_RIGHTS, 0x8b);
  w(F.HOST_TR_SELECTOR, 0x20); w(F.HOST_TR_BASE, TSS);
  w(F.GUEST_GDTR_BASE, cpu.gdtrBase); w(F.GUEST_GDTR_LIMIT, cpu.gdtrLimit);
  w(F.GUEST_IDTR_BASE, cpu.idtrBase); w(F.GUEST_IDTR_LIMIT, cpu.idtrLimit);
  w(F.HOST_GDTR_BASE, cpu.gdtrBase); w(F.HOST_IDTR_BASE, cpu.idtrBase);
  w(F.GUEST_RFLAGS, 2); w(F.GUEST_RSP, GUEST_STACK); w(F.GUEST_RIP, GUEST_CODE);
  w(F.HOST_RSP, HOST_STACK); w(F.HOST_RIP, HOST_CODE);
  configure?.(w);
}
