// The emulated MSR file. RDMSR/WRMSR of an MSR not listed here raise #GP(0).
import { Cr0, Efer, EFER_WRITABLE } from "./control-regs.js";
import { gp0 } from "./fault.js";
import { Msr } from "./msr-index.js";
import { Seg } from "./regs.js";
import type { Cpu } from "./cpu.js";
import { capabilityMsr } from "../vmx/capabilities.js";
import { isCanonical } from "../mem/paging.js";

const gp = gp0;
const u64 = (v: number): bigint => BigInt.asUintN(64, BigInt(v));
const canonical = (v: bigint): number => {
  const s = Number(BigInt.asIntN(64, v));
  if (!isCanonical(s)) gp();
  return s;
};

export class MsrFile {
  apicBase = 0xfee00900n;
  pat = 0x0007040600070406n;
  sysenterCs = 0n; sysenterEsp = 0n; sysenterEip = 0n;
  star = 0n; lstar = 0n; cstar = 0n; fmask = 0n;
  kernelGsBase = 0;
  /** TSC = icount + tscOffset: deterministic, and monotonic like the real one. */
  tscOffset = 0n;
  featureControl = 0n;
  /** IA32_TSC_AUX: what RDTSCP returns in ECX (bits 31:0; the upper half is reserved). */
  tscAux = 0;
  /** IA32_DEBUGCTL: LBR (bit 0) and BTF (bit 1) are stored; branch tracing itself is not modelled. */
  debugctl = 0n;
  miscEnable = 1n;

  constructor(private readonly cpu: Cpu) {}

  tsc(): bigint { return BigInt.asUintN(64, BigInt(this.cpu.icount) + this.tscOffset); }

  /** True when this model has the MSR (RDMSR would not #GP). */
  has(index: number): boolean {
    try { this.read(index); return true; } catch { return false; }
  }

  read(index: number): bigint {
    const cpu = this.cpu;
    switch (index >>> 0) {
      case Msr.TSC: return this.tsc();
      case Msr.APIC_BASE: return this.apicBase;
      case Msr.FEATURE_CONTROL: return this.featureControl;
      case Msr.SYSENTER_CS: return this.sysenterCs;
      case Msr.SYSENTER_ESP: return this.sysenterEsp;
      case Msr.SYSENTER_EIP: return this.sysenterEip;
      case Msr.MISC_ENABLE: return this.miscEnable;
      case Msr.DEBUGCTL: return this.debugctl;
      case Msr.PAT: return this.pat;
      case Msr.EFER: return BigInt(cpu.efer >>> 0);
      case Msr.STAR: return this.star;
      case Msr.LSTAR: return this.lstar;
      case Msr.CSTAR: return this.cstar;
      case Msr.FMASK: return this.fmask;
      case Msr.FS_BASE: return u64(cpu.segBase[Seg.FS]);
      case Msr.GS_BASE: return u64(cpu.segBase[Seg.GS]);
      case Msr.KERNEL_GS_BASE: return u64(this.kernelGsBase);
      case Msr.TSC_AUX: return BigInt(this.tscAux >>> 0);
      default: return capabilityMsr(cpu.vmx.caps, index >>> 0) ?? gp();
    }
  }

  write(index: number, v: bigint): void {
    const cpu = this.cpu;
    v = BigInt.asUintN(64, v);
    switch (index >>> 0) {
      case Msr.TSC: this.tscOffset = v - BigInt(cpu.icount); return;
      case Msr.APIC_BASE:
        // Bits 7:0, 9 and 12+MAXPHYADDR.. are reserved; bit 8 (BSP) is read-only.
        if ((v & ~0x7ffffffd00n) !== 0n) gp();
        this.apicBase = (v & ~0x100n) | (this.apicBase & 0x100n);
        return;
      case Msr.FEATURE_CONTROL:
        // Lock (bit 0) and VMX outside SMX (bit 2); bit 1 needs SMX, which this model lacks.
        if (this.featureControl & 1n) gp();
        if (v & ~0x5n) gp();
        this.featureControl = v;
        return;
      case Msr.SYSENTER_CS: this.sysenterCs = v & 0xffffffffn; return;
      case Msr.SYSENTER_ESP: canonical(v); this.sysenterEsp = v; return;
      case Msr.SYSENTER_EIP: canonical(v); this.sysenterEip = v; return;
      case Msr.MISC_ENABLE: this.miscEnable = (v & 1n) | (this.miscEnable & ~1n); return;
      case Msr.DEBUGCTL: if (v & ~3n) gp(); this.debugctl = v; return;
      case Msr.PAT: {
        for (let i = 0n; i < 64n; i += 8n) {
          const t = (v >> i) & 0xffn;
          if (t === 2n || t === 3n || t > 7n) gp();
        }
        this.pat = v;
        return;
      }
      case Msr.EFER: {
        const n = Number(v & 0xffffffffn);
        if (v >> 32n || (n & ~(EFER_WRITABLE | Efer.LMA)) !== 0) gp();
        // Toggling LME while paging is on is a #GP (SDM Vol. 3, 10.8.5).
        if ((cpu.cr0 & Cr0.PG) !== 0 && ((n ^ cpu.efer) & Efer.LME) !== 0) gp();
        const next = (n & EFER_WRITABLE) | (cpu.efer & Efer.LMA);
        if (((next ^ cpu.efer) & Efer.NXE) !== 0) cpu.mmu.flush();
        cpu.efer = next;
        cpu.updateMode();
        return;
      }
      case Msr.STAR: this.star = v; return;
      case Msr.LSTAR: canonical(v); this.lstar = v; return;
      case Msr.CSTAR: canonical(v); this.cstar = v; return;
      case Msr.FMASK: this.fmask = v & 0xffffffffn; return;
      case Msr.FS_BASE: cpu.segBase[Seg.FS] = canonical(v); return;
      case Msr.GS_BASE: cpu.segBase[Seg.GS] = canonical(v); return;
      case Msr.KERNEL_GS_BASE: this.kernelGsBase = canonical(v); return;
      case Msr.TSC_AUX: if (v >> 32n) gp(); this.tscAux = Number(v); return;
      default: gp();
    }
  }
}
