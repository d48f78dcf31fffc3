// The default CPU model's CPUID leaves. It advertises only what hyperstep implements.

/** CPUID.01H:EDX feature bits (SDM Vol. 2, Table 3-11). */
export const enum Cpuid1Edx {
  FPU = 1 << 0, VME = 1 << 1, DE = 1 << 2, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6,
  MCE = 1 << 7, CX8 = 1 << 8, APIC = 1 << 9, SEP = 1 << 11, MTRR = 1 << 12, PGE = 1 << 13, MCA = 1 << 14,
  CMOV = 1 << 15, PAT = 1 << 16, PSE36 = 1 << 17, CLFSH = 1 << 19, MMX = 1 << 23, FXSR = 1 << 24,
  SSE = 1 << 25, SSE2 = 1 << 26,
}
/** CPUID.01H:ECX feature bits (SDM Vol. 2, Table 3-10). */
export const enum Cpuid1Ecx {
  SSE3 = 1 << 0, VMX = 1 << 5, SSSE3 = 1 << 9, CX16 = 1 << 13, SSE41 = 1 << 19, SSE42 = 1 << 20,
  MOVBE = 1 << 22, POPCNT = 1 << 23, XSAVE = 1 << 26, OSXSAVE = 1 << 27, HYPERVISOR = 1 << 31,
}
/** CPUID.80000001H feature bits. */
export const enum CpuidExtEcx { LAHF_SAHF = 1 << 0, LZCNT = 1 << 5 }
export const enum CpuidExtEdx { SYSCALL = 1 << 11, NX = 1 << 20, PAGE1GB = 1 << 26, RDTSCP = 1 << 27, LM = 1 << 29 }

export type CpuidResult = [eax: number, ebx: number, ecx: number, edx: number];

const MAX_BASIC = 0x7;
const MAX_EXT = 0x80000008;
const BRAND = "hyperstep virtual CPU";

function str4(s: string, i: number): number {
  let v = 0;
  for (let k = 3; k >= 0; k--) v = (v << 8) | (s.charCodeAt(i + k) || 0);
  return v >>> 0;
}

export class CpuidModel {
  /** Family 6, model 0x55, stepping 4: a Skylake-server signature. */
  signature = 0x00050654;
  edx1 = Cpuid1Edx.PSE | Cpuid1Edx.TSC | Cpuid1Edx.MSR | Cpuid1Edx.PAE | Cpuid1Edx.CX8 | Cpuid1Edx.PGE | Cpuid1Edx.CMOV | Cpuid1Edx.PAT;
  ecx1 = Cpuid1Ecx.CX16 | Cpuid1Ecx.POPCNT | Cpuid1Ecx.VMX;
  extEcx = CpuidExtEcx.LAHF_SAHF;
  extEdx = CpuidExtEdx.NX | CpuidExtEdx.PAGE1GB | CpuidExtEdx.RDTSCP | CpuidExtEdx.LM;
  physBits = 39;
  linearBits = 48;

  query(leaf: number, subleaf: number): CpuidResult {
    leaf >>>= 0;
    // Leaves past the maximum return the highest basic leaf, as Intel parts do.
    if ((leaf < 0x80000000 && leaf > MAX_BASIC) || leaf > MAX_EXT) leaf = MAX_BASIC;
    switch (leaf) {
      case 0: return [MAX_BASIC, str4("Genu", 0), str4("ntel", 0), str4("ineI", 0)];
      case 1: return [this.signature, (1 << 16) | (8 << 8), this.ecx1 >>> 0, this.edx1 >>> 0];
      case 7: return subleaf === 0 ? [0, 0, 0, 0] : [0, 0, 0, 0];
      case 0x80000000: return [MAX_EXT, 0, 0, 0];
      case 0x80000001: return [0, 0, this.extEcx >>> 0, this.extEdx >>> 0];
      case 0x80000002: case 0x80000003: case 0x80000004: {
        const s = BRAND.padEnd(48, "\0");
        const o = (leaf - 0x80000002) * 16;
        return [str4(s, o), str4(s, o + 4), str4(s, o + 8), str4(s, o + 12)];
      }
      case 0x80000008: return [this.physBits | (this.linearBits << 8), 0, 0, 0];
      default: return [0, 0, 0, 0];
    }
  }
}
