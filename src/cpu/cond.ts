// Condition codes (SDM Vol. 1, Appendix B) evaluated from the lazy flags.
import { ConditionCode } from "iced-x86";

/** Source text of condition `cc` over a LazyFlags named `f`, for op templates. */
export function conditionSource(cc: ConditionCode): string {
  switch (cc) {
    case ConditionCode.o: return "f.of() === 1";
    case ConditionCode.no: return "f.of() === 0";
    case ConditionCode.b: return "f.cf() === 1";
    case ConditionCode.ae: return "f.cf() === 0";
    case ConditionCode.e: return "f.zf() === 1";
    case ConditionCode.ne: return "f.zf() === 0";
    case ConditionCode.be: return "(f.cf() | f.zf()) === 1";
    case ConditionCode.a: return "(f.cf() | f.zf()) === 0";
    case ConditionCode.s: return "f.sf() === 1";
    case ConditionCode.ns: return "f.sf() === 0";
    case ConditionCode.p: return "f.pf() === 1";
    case ConditionCode.np: return "f.pf() === 0";
    case ConditionCode.l: return "f.lt()";
    case ConditionCode.ge: return "!f.lt()";
    case ConditionCode.le: return "(f.lt() || f.zf() === 1)";
    case ConditionCode.g: return "(!f.lt() && f.zf() === 0)";
    default: throw new Error(`no condition code ${cc}`);
  }
}
