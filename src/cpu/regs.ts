// General-purpose registers in SDM encoding order, so that a ModRM/qualification register field
// indexes the register file directly.
export const enum Gpr {
  RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
  R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15,
}

export const GPR_NAMES = [
  "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
] as const;
export type GprName = (typeof GPR_NAMES)[number];

// Segment registers in SDM encoding order (ES, CS, SS, DS, FS, GS).
export const enum Seg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5 }
export const SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"] as const;

/** 2^32 as a double: the factor that joins a hi:lo register pair. */
export const TWO32 = 4294967296;
