// Control-register and EFER bits (SDM Vol. 3, 2.5 and 2.2.1), written once as typed data.
export const enum Cr0 {
  PE = 1 << 0, MP = 1 << 1, EM = 1 << 2, TS = 1 << 3, ET = 1 << 4, NE = 1 << 5,
  WP = 1 << 16, AM = 1 << 18, NW = 1 << 29, CD = 1 << 30, PG = 1 << 31,
}
/** CR0 bits that exist; writing 1 to any other bit of the low 32 raises #GP. */
export const CR0_DEFINED = (Cr0.PE | Cr0.MP | Cr0.EM | Cr0.TS | Cr0.ET | Cr0.NE | Cr0.WP | Cr0.AM | Cr0.NW | Cr0.CD | Cr0.PG) >>> 0;

export const enum Cr4 {
  VME = 1 << 0, PVI = 1 << 1, TSD = 1 << 2, DE = 1 << 3, PSE = 1 << 4, PAE = 1 << 5,
  MCE = 1 << 6, PGE = 1 << 7, PCE = 1 << 8, OSFXSR = 1 << 9, OSXMMEXCPT = 1 << 10, UMIP = 1 << 11,
  LA57 = 1 << 12, VMXE = 1 << 13, SMXE = 1 << 14, FSGSBASE = 1 << 16, PCIDE = 1 << 17,
  OSXSAVE = 1 << 18, SMEP = 1 << 20, SMAP = 1 << 21, PKE = 1 << 22, CET = 1 << 23,
}
/** The CR4 bits this CPU model implements; setting any other raises #GP. */
export const CR4_SUPPORTED = Cr4.DE | Cr4.PSE | Cr4.PAE | Cr4.MCE | Cr4.PGE | Cr4.PCE | Cr4.OSFXSR | Cr4.OSXMMEXCPT | Cr4.TSD | Cr4.VMXE;

export const enum Efer {
  SCE = 1 << 0, LME = 1 << 8, LMA = 1 << 10, NXE = 1 << 11,
}
export const EFER_WRITABLE = Efer.SCE | Efer.LME | Efer.NXE;
