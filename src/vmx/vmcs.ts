// The current VMCS, cached in a typed store (one lo/hi dword pair per field), and its layout in
// guest physical memory. The in-memory layout is this implementation's own, as the SDM allows:
//   +0 revision identifier (bit 31: shadow-VMCS indicator), +4 VMX-abort indicator,
//   +8 launch state (hyperstep's), +16 field i at 16 + 8*i.
// VMPTRLD loads the store from memory; VMCLEAR writes it back.
import { VMCS_FIELDS, type VmcsField } from "./fields.js";
import type { PhysicalMemory } from "../mem/physical.js";

const INDEX = new Int16Array(0x10000).fill(-1);
VMCS_FIELDS.forEach((f, i) => { INDEX[f.encoding] = i; });
const COUNT = VMCS_FIELDS.length;
const GUEST_RIP = 0x681e, GUEST_RSP = 0x681c;

export const VMCS_DATA_OFFSET = 16;
export const VMCS_LAUNCH_OFFSET = 8;
/**
 * Launch state of a VMCS. AFTER_VMXOFF marks one that was launched and still active when VMXOFF
 * ran: VMRESUME of it fails with error 6 until VMCLEAR (SDM 31.4, Table 31-1).
 */
export const enum LaunchState { CLEAR = 0, LAUNCHED = 1, AFTER_VMXOFF = 2 }

/** Dense index of a field encoding, or -1. */
export function fieldIndex(encoding: number): number {
  return encoding >= 0 && encoding < 0x10000 ? INDEX[encoding] : -1;
}

export class VmcsStore {
  readonly lo = new Int32Array(COUNT);
  readonly hi = new Int32Array(COUNT);
  launch = LaunchState.CLEAR;
  /**
   * Bumped by every write to a control field (encoding type 0) or a host-state field (type 3),
   * so that VM entry can skip re-checking groups that have not changed since they last passed.
   */
  controlVersion = 0;
  hostVersion = 0;

  clear(): void { this.lo.fill(0); this.hi.fill(0); this.launch = LaunchState.CLEAR; this.touchAll(); this.guestChangedAll = true; }

  /** Record a direct write to lo/hi (VMWRITE's fast path). */
  touchField(encoding: number): void { this.touch(encoding); this.noteSoftwareWrite(encoding); }

  private touch(encoding: number): void {
    const type = (encoding >> 10) & 3;
    if (type === 0) this.controlVersion++;
    else if (type === 3) this.hostVersion++;
  }
  private touchAll(): void { this.controlVersion++; this.hostVersion++; }

  /** The full value of a field (64-bit and natural-width fields as 64 bits). */
  read(encoding: number): bigint {
    const i = INDEX[encoding];
    if (i < 0) throw new RangeError(`no VMCS field 0x${encoding.toString(16)}`);
    return (BigInt(this.hi[i] >>> 0) << 32n) | BigInt(this.lo[i] >>> 0);
  }

  /** Write a field from outside the processor (software, tests): guest fields count as changed. */
  write(encoding: number, v: bigint): void {
    this.set64(encoding, v);
    this.noteSoftwareWrite(encoding);
  }

  /** Write a field as the processor does at a VM exit (the saved state needs no re-check). */
  set64(encoding: number, v: bigint): void {
    const i = INDEX[encoding];
    if (i < 0) throw new RangeError(`no VMCS field 0x${encoding.toString(16)}`);
    const f = VMCS_FIELDS[i];
    v = BigInt.asUintN(f.width === 16 ? 16 : f.width === 32 ? 32 : 64, v);
    this.lo[i] = Number(v & 0xffffffffn) | 0;
    this.hi[i] = Number(v >> 32n) | 0;
    this.touch(encoding);
  }

  /**
   * Guest-state fields written by software since the last VM entry passed its checks:
   * GUEST_RIP and GUEST_RSP are tracked one by one (an exit handler advancing RIP is the common
   * case), anything else makes the whole guest state "changed".
   */
  guestChangedAll = true;
  guestRipWritten = false;
  noteSoftwareWrite(encoding: number): void {
    if (((encoding >> 10) & 3) !== 2) return;
    if (encoding === GUEST_RIP) this.guestRipWritten = true;
    else if (encoding !== GUEST_RSP) this.guestChangedAll = true;
  }
  guestChecked(): void { this.guestChangedAll = false; this.guestRipWritten = false; }

  /** Low 32 bits of a field, as an unsigned number. */
  u32(encoding: number): number { return this.lo[INDEX[encoding]] >>> 0; }
  setU32(encoding: number, v: number): void {
    const i = INDEX[encoding];
    this.lo[i] = v | 0; this.hi[i] = 0;
    this.touch(encoding);
  }

  /** A natural-width or 64-bit field as a signed double (exact for canonical addresses). */
  num(encoding: number): number { const i = INDEX[encoding]; return this.hi[i] * 4294967296 + (this.lo[i] >>> 0); }
  setNum(encoding: number, v: number): void {
    const i = INDEX[encoding];
    this.lo[i] = v | 0;
    this.hi[i] = Math.floor(v / 4294967296) | 0;
    this.touch(encoding);
  }
  /** A 64-bit field as an unsigned double (physical addresses). */
  unum(encoding: number): number { const i = INDEX[encoding]; return (this.hi[i] >>> 0) * 4294967296 + (this.lo[i] >>> 0); }

  loadFrom(mem: PhysicalMemory, pa: number): void {
    for (let i = 0; i < COUNT; i++) {
      this.lo[i] = mem.read32(pa + VMCS_DATA_OFFSET + i * 8);
      this.hi[i] = mem.read32(pa + VMCS_DATA_OFFSET + i * 8 + 4);
    }
    const state = mem.read32(pa + VMCS_LAUNCH_OFFSET);
    this.launch = state === LaunchState.LAUNCHED || state === LaunchState.AFTER_VMXOFF ? state : LaunchState.CLEAR;
    this.touchAll();
    this.guestChangedAll = true;
  }

  storeTo(mem: PhysicalMemory, pa: number): void {
    for (let i = 0; i < COUNT; i++) {
      mem.write32(pa + VMCS_DATA_OFFSET + i * 8, this.lo[i]);
      mem.write32(pa + VMCS_DATA_OFFSET + i * 8 + 4, this.hi[i]);
    }
    mem.write32(pa + VMCS_LAUNCH_OFFSET, this.launch);
  }

  fields(): readonly VmcsField[] { return VMCS_FIELDS; }
}
