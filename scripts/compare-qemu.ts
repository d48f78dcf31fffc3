/**
 * compare:qemu — run every guest image in guests/build/*.elf under QEMU and under
 * hyperstep, and compare the serial output (stdout bytes) and the exit status.
 *
 *   npm run compare:qemu [-- name ...]      (names filter the guests, e.g. "hello")
 *
 * Prints one line per guest: "PASS name", "FAIL name: <reason>" or "SKIP name: <reason>",
 * and exits with status 1 if any guest failed. Skips everything (exit 0) when
 * qemu-system-x86_64 is not installed.
 *
 * Guests without guests/expected/<name>.status are skipped: they do not exit through
 * isa-debug-exit (e.g. third-party kernels that end in cli;hlt), so QEMU would only stop at
 * the timeout.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeStatus, findOnPath, lastLines, run } from './process.js';

const TIMEOUT_MS = 120_000;
const QEMU = 'qemu-system-x86_64';

/** dist/scripts/compare-qemu.js -> repo root (../..). */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const buildDir = join(repoRoot, 'guests', 'build');
const expectedDir = join(repoRoot, 'guests', 'expected');

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return i;
  }
  return a.length === b.length ? -1 : n;
}

function snippet(buf: Buffer, at: number): string {
  return JSON.stringify(buf.subarray(Math.max(0, at - 16), at + 24).toString('latin1'));
}

async function main(): Promise<number> {
  const qemu = findOnPath(QEMU);
  if (!qemu) {
    console.log(`compare:qemu: skipped: ${QEMU} not found (apt-get install -y qemu-system-x86)`);
    return 0;
  }
  if (!existsSync(buildDir)) {
    console.log(`compare:qemu: no ${buildDir}; run "npm run guests" first`);
    return 1;
  }
  const filter = process.argv.slice(2);
  const guests = readdirSync(buildDir)
    .filter((f) => f.endsWith('.elf'))
    .map((f) => f.slice(0, -'.elf'.length))
    .filter((name) => filter.length === 0 || filter.includes(name))
    .sort();
  if (guests.length === 0) {
    console.log(`compare:qemu: no guests/build/*.elf found; run "npm run guests" first`);
    return 1;
  }

  const hyperstep = join(repoRoot, 'bin', 'hyperstep.js');
  let failed = 0;
  let skipped = 0;
  for (const name of guests) {
    // Relative to the repository root (both run there): the kernel's file name is on the
    // Multiboot command line, so the recorded output depends on it.
    const elf = `guests/build/${name}.elf`;
    const statusFile = join(expectedDir, `${name}.status`);
    if (name.startsWith('vmx-')) {
      // QEMU's TCG has no VMX: these guests are compared with Bochs (npm run compare:bochs).
      console.log(`SKIP ${name}: needs VMX, which QEMU TCG lacks (see npm run compare:bochs)`);
      skipped++;
      continue;
    }
    if (!existsSync(statusFile)) {
      console.log(`SKIP ${name}: no guests/expected/${name}.status (does not exit via isa-debug-exit)`);
      skipped++;
      continue;
    }
    const qemuArgs = [
      '-nodefaults', '-accel', 'tcg', '-cpu', 'max', '-m', '256', '-display', 'none',
      '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x4', '-kernel', elf,
    ];
    const [q, h] = await Promise.all([
      run(qemu, qemuArgs, repoRoot, TIMEOUT_MS),
      // The same RAM size as QEMU's -m 256, so the Multiboot memory map matches too.
      run(process.execPath, [hyperstep, 'run', elf, '--mem', '256'], repoRoot, TIMEOUT_MS),
    ]);

    // Sanity: QEMU itself should still match the recorded expectation.
    const expOut = join(expectedDir, `${name}.out`);
    if (existsSync(expOut)) {
      const exp = readFileSync(expOut);
      const expStatus = readFileSync(statusFile, 'utf8').trim();
      if (!exp.equals(q.stdout) || String(q.code) !== expStatus) {
        console.log(`note: ${name}: QEMU output/status differs from guests/expected/${name}.{out,status}`);
      }
    }

    const reasons: string[] = [];
    if (q.error !== undefined || q.timedOut || q.code === null) {
      reasons.push(`QEMU did not exit normally: ${describeStatus(q)}`);
    }
    if (q.code !== h.code || q.timedOut !== h.timedOut || h.error !== undefined) {
      reasons.push(`status mismatch: qemu ${describeStatus(q)}, hyperstep ${describeStatus(h)}`);
    }
    const off = firstDifference(q.stdout, h.stdout);
    if (off >= 0) {
      reasons.push(
        `output differs at byte ${off} (qemu ${q.stdout.length} bytes, hyperstep ${h.stdout.length} bytes): ` +
          `qemu ${snippet(q.stdout, off)} vs hyperstep ${snippet(h.stdout, off)}`,
      );
    }
    if (reasons.length === 0) {
      console.log(`PASS ${name}`);
    } else {
      failed++;
      console.log(`FAIL ${name}: ${reasons.join('; ')}`);
      if (h.stderr.length > 0) {
        console.log(`  hyperstep stderr (last lines):\n${lastLines(h.stderr, 5).replace(/^/gm, '    ')}`);
      }
    }
  }
  const compared = guests.length - skipped;
  console.log(
    `compare:qemu: ${compared - failed}/${compared} guests match` +
      (skipped ? `, ${skipped} skipped` : '') +
      (failed ? `, ${failed} failed` : ''),
  );
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  },
);
