// Every instruction family, one file each. compile.ts builds its dispatch table from this list.
import type { Mnemonic } from "iced-x86";
import type { Compiler } from "../context.js";
import { ALU } from "./alu.js";
import { MOV } from "./mov.js";
import { CONTROL } from "./control.js";
import { SYSTEM } from "./system.js";
import { MULDIV } from "./muldiv.js";
import { SHIFT } from "./shift.js";
import { BITS } from "./bits.js";
import { STRING } from "./string.js";
import { CC } from "./cc.js";
import { FLAGOPS } from "./flagops.js";
import { VMX } from "../../vmx/instructions.js";

export const FAMILIES: ReadonlyArray<ReadonlyArray<[Mnemonic, Compiler]>> = [
  ALU, MOV, CONTROL, SYSTEM, MULDIV, SHIFT, BITS, STRING, CC, FLAGOPS, VMX,
];
