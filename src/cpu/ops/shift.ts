import type { Mnemonic } from "iced-x86";
import type { Compiler } from "../context.js";

export const SHIFT: Array<[Mnemonic, Compiler]> = [];
