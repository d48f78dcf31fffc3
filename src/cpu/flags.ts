// RFLAGS bits (SDM Vol. 1, 3.4.3) and the lazy arithmetic flags.
export const enum Fl {
  CF = 1 << 0, FIXED1 = 1 << 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7,
  TF = 1 << 8, IF = 1 << 9, DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14,
  RF = 1 << 16, VM = 1 << 17, AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21,
}
export const ARITH_FLAGS = Fl.CF | Fl.PF | Fl.AF | Fl.ZF | Fl.SF | Fl.OF;
/** Bits software may change with POPF/IRET at CPL 0 (the rest are reserved). */
export const WRITABLE_FLAGS = ARITH_FLAGS | Fl.TF | Fl.IF | Fl.DF | Fl.IOPL | Fl.NT | Fl.RF | Fl.AC | Fl.ID;

/** Operand-size index used in lazy-flag kinds: 8, 16, 32, 64 bits. */
export const enum Sz { B = 0, W = 1, D = 2, Q = 3 }

/**
 * A lazy-flags kind is (operation << 2) | size. The producing instruction stores its operands and
 * result; flags are computed only when something reads them (the Bochs and v86 technique).
 */
export const enum Lf {
  NONE = 0, ADD = 1 << 2, ADC = 2 << 2, SUB = 3 << 2, SBB = 4 << 2, LOGIC = 5 << 2,
  INC = 6 << 2, DEC = 7 << 2,
  /** SF, ZF, PF from the result; CF in `cin`, OF in `b`, AF clear (shifts). */
  RES = 8 << 2,
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let v = i; v; v >>= 1) p ^= v & 1;
  PARITY[i] = p;
}

const SIGN_SHIFT = [7, 15, 31, 31];

export class LazyFlags {
  /** Kind: Lf | Sz. */
  op = 0;
  a = 0; b = 0; r = 0;
  ah = 0; bh = 0; rh = 0;
  /** Carry into ADC/SBB, the preserved CF for INC/DEC, the explicit CF for RES. */
  cin = 0;
  /** The arithmetic flags, valid when op is NONE. */
  bits = 0;

  cf(): number {
    const op = this.op;
    switch (op >> 2) {
      case 0: return this.bits & 1;
      case 1: return op === (Lf.ADD | Sz.Q) ? ltu64(this.rh, this.r, this.ah, this.a) : (this.r >>> 0) < (this.a >>> 0) ? 1 : 0;
      case 2:
        if (op === (Lf.ADC | Sz.Q)) return this.cin ? leu64(this.rh, this.r, this.ah, this.a) : ltu64(this.rh, this.r, this.ah, this.a);
        return (this.cin ? (this.r >>> 0) <= (this.a >>> 0) : (this.r >>> 0) < (this.a >>> 0)) ? 1 : 0;
      case 3: return op === (Lf.SUB | Sz.Q) ? ltu64(this.ah, this.a, this.bh, this.b) : (this.a >>> 0) < (this.b >>> 0) ? 1 : 0;
      case 4:
        if (op === (Lf.SBB | Sz.Q)) return this.cin ? leu64(this.ah, this.a, this.bh, this.b) : ltu64(this.ah, this.a, this.bh, this.b);
        return (this.cin ? (this.a >>> 0) <= (this.b >>> 0) : (this.a >>> 0) < (this.b >>> 0)) ? 1 : 0;
      case 5: return 0;
      default: return this.cin;
    }
  }

  zf(): number {
    const op = this.op;
    if (op === 0) return (this.bits >> 6) & 1;
    if ((op & 3) === Sz.Q) return (this.r | this.rh) === 0 ? 1 : 0;
    return this.r === 0 ? 1 : 0;
  }

  sf(): number {
    const op = this.op;
    if (op === 0) return (this.bits >> 7) & 1;
    const sz = op & 3;
    return sz === Sz.Q ? this.rh >>> 31 : (this.r >>> SIGN_SHIFT[sz]) & 1;
  }

  pf(): number {
    if (this.op === 0) return (this.bits >> 2) & 1;
    return PARITY[this.r & 0xff];
  }

  af(): number {
    const base = this.op >> 2;
    if (base === 0) return (this.bits >> 4) & 1;
    if (base === 5 || base === 8) return 0;
    return ((this.a ^ this.b ^ this.r) >> 4) & 1;
  }

  of(): number {
    const op = this.op;
    const base = op >> 2;
    const sz = op & 3;
    const sh = SIGN_SHIFT[sz];
    switch (base) {
      case 0: return (this.bits >> 11) & 1;
      case 1: case 2: case 6:
        return sz === Sz.Q ? (((this.ah ^ this.rh) & (this.bh ^ this.rh)) >>> 31)
          : (((this.a ^ this.r) & (this.b ^ this.r)) >>> sh) & 1;
      case 3: case 4: case 7:
        return sz === Sz.Q ? (((this.ah ^ this.bh) & (this.ah ^ this.rh)) >>> 31)
          : (((this.a ^ this.b) & (this.a ^ this.r)) >>> sh) & 1;
      case 5: return 0;
      default: return this.b;
    }
  }

  /** SF != OF. After a 32-bit CMP/SUB that is exactly a signed compare of the operands. */
  lt(): boolean {
    if (this.op === (Lf.SUB | Sz.D)) return this.a < this.b;
    return this.sf() !== this.of();
  }

  /** The six arithmetic flags as RFLAGS bits. */
  read(): number {
    if (this.op === 0) return this.bits;
    return this.cf() | (this.pf() << 2) | (this.af() << 4) | (this.zf() << 6) | (this.sf() << 7) | (this.of() << 11);
  }

  write(bits: number): void {
    this.bits = bits & ARITH_FLAGS;
    this.op = 0;
  }

  /** Replace only the flags in `mask`, keeping the others as they are now. */
  merge(mask: number, bits: number): void {
    this.bits = (this.read() & ~mask) | (bits & mask);
    this.op = 0;
  }

  setLogic(sz: Sz, r: number, rh: number): void {
    this.op = Lf.LOGIC | sz; this.r = r; this.rh = rh;
  }
}

function ltu64(ah: number, al: number, bh: number, bl: number): number {
  const x = ah >>> 0, y = bh >>> 0;
  return x < y || (x === y && (al >>> 0) < (bl >>> 0)) ? 1 : 0;
}
function leu64(ah: number, al: number, bh: number, bl: number): number {
  const x = ah >>> 0, y = bh >>> 0;
  return x < y || (x === y && (al >>> 0) <= (bl >>> 0)) ? 1 : 0;
}

export { PARITY };
