// hyperstep's own process exit statuses. They are all even, so they never collide with the odd
// statuses a guest selects through isa-debug-exit ((v << 1) | 1).
export const enum ExitStatus {
  /** The guest executed HLT with nothing left to wake it. */
  HALTED = 0,
  /** Bad command line or a file that cannot be loaded. */
  BAD_INPUT = 2,
  /** A triple fault shut the CPU down. */
  TRIPLE_FAULT = 4,
  /** --max-insns was reached. */
  MAX_INSNS = 6,
  /** An emulator bug or an unimplemented path that is not a guest-visible fault. */
  INTERNAL = 8,
}
