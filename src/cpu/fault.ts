// Architectural exception vectors (SDM Vol. 3, 6.3.1) and the fault object the interpreter throws.
export const enum Vec {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
  TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19, VE = 20, CP = 21,
}

export const VECTOR_NAMES: Record<number, string> = {
  0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF",
  10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC",
  19: "#XM", 20: "#VE", 21: "#CP",
};

/** Vectors that push an error code (SDM Vol. 3, Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/** Contributory exceptions, for the double-fault rules (SDM Vol. 3, Table 6-4/6-5). */
export function isContributory(vector: number): boolean {
  return vector === 0 || (vector >= 10 && vector <= 13);
}

/** A guest-visible exception raised while executing an instruction. */
export class Fault {
  constructor(
    readonly vector: number,
    readonly errorCode: number = -1,
    /** Page-fault linear address, for CR2. */
    readonly address: number = 0,
    /** For traps and INT n: the RIP to push (the next instruction). NaN for faults. */
    readonly returnRip: number = NaN,
    /** INT n, INT3, INTO: gate DPL is checked and no error code is pushed. */
    readonly soft: boolean = false,
  ) {}
  /** Injected by VM entry: it never exits through the exception bitmap and keeps RF (SDM 26.6.1). */
  injected = false;
  /** Raised by INT n (CD nn): a software interrupt, never an exception (SDM 25.2), even for n = 3. */
  intN = false;
  get hasError(): boolean { return this.errorCode >= 0; }
  toString(): string {
    const n = VECTOR_NAMES[this.vector] ?? `vector ${this.vector}`;
    return this.errorCode >= 0 ? `${n}(${this.errorCode.toString(16)})` : n;
  }
}

/**
 * #GP(0) for a non-canonical linear address. The executor turns it into #SS(0) when the access
 * went through the SS segment (a stack instruction or an RSP/RBP-based operand), which the
 * memory path itself cannot see.
 */
export class CanonicalFault extends Fault {
  constructor(address: number) { super(Vec.GP, 0, address); }
}

/** Raise #UD or #GP(0) in the guest: the two faults most instruction checks end in. */
export function ud(): never { throw new Fault(Vec.UD); }
export function gp0(): never { throw new Fault(Vec.GP, 0); }

/**
 * The machine stops: triple fault, guest halt, a device asking to exit, the instruction limit.
 * Thrown through the interpreter to the run loop.
 */
export class Stop {
  constructor(readonly reason: StopReason, readonly message: string, readonly value = 0) {}
}
export type StopReason = "halt" | "exit-device" | "triple-fault" | "max-insns" | "internal" | "pause" | "breakpoint";
