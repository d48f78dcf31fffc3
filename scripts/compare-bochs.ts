// Compare the VMX guests' port-0xE9 output under Bochs with hyperstep's (npm run compare:bochs).
//
// QEMU's TCG has no VMX, so guests/build/vmx-*.elf are checked against Bochs 2.7 instead
// (cpu corei7_skylake_x). Bochs runs through run-bochs.sh (../shared/tools/bochs/run-bochs.sh
// next to the repository, or env BOCHS_RUNNER), which prints the guest's port-0xE9 bytes on
// stdout. hyperstep runs with `--mem 256 --debugcon FILE` and the file is compared with that,
// line by line. Bochs cannot show the isa-debug-exit status, so hyperstep's exit status is
// checked against guests/expected/<name>.status where that file exists.
//
// Usage: node dist/scripts/compare-bochs.js [guest...]   (default: every guests/build/vmx-*.elf)
// Environment: BOCHS_RUNNER (path to run-bochs.sh), BOCHS_TIMEOUT (seconds, default 300).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeStatus, findOnPath, isExecutable, lastLines, run } from './process.js';

/** dist/scripts/compare-bochs.js -> repo root (../..). */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const buildDir = join(repoRoot, 'guests', 'build');
const expectedDir = join(repoRoot, 'guests', 'expected');

const SKIP_MESSAGE = 'compare:bochs: skipped: bochs not found (apt-get install -y bochs bochsbios vgabios nasm)';

/** Places where Bochs 2.7 and hyperstep differ on purpose; the guests print the same either way. */
const KNOWN_DEVIATIONS = [
  'Bochs sets IA32_VMX_MISC bit 29 (VMWRITE to read-only VM-exit information fields succeeds); ' +
    'hyperstep does not (VMfailValid, error 13)',
];

/**
 * Lines where Bochs 2.7 disagrees with the SDM. guests/expected/<name>.out holds the SDM's
 * answer (checked by hand); Bochs may differ from it on these lines only.
 */
const BOCHS_BUGS: Record<string, Array<{ line: RegExp; why: string }>> = {
  'vmx-fail': [
    {
      line: /^vmcall in vmx root operation: /,
      why: 'Bochs 2.7 answers VMCALL in VMX root operation with error 19 (and panics with a clear VMCS); ' +
        'without dual-monitor treatment the SDM gives VMfailValid(1)',
    },
    { line: /^vmx-fail: /, why: 'the summary counts the line above' },
  ],
};

/** The first line where Bochs' output differs from the expected one other than on a known Bochs bug. */
function bochsUnexpectedDifference(name: string, bochs: string, expected: string): string | undefined {
  const b = bochs.split('\n'), e = expected.split('\n');
  const bugs = BOCHS_BUGS[name] ?? [];
  for (let i = 0; i < Math.max(b.length, e.length); i++) {
    if (b[i] === e[i]) continue;
    if (e[i] !== undefined && bugs.some((x) => x.line.test(e[i]))) continue;
    return `line ${i + 1}: bochs ${JSON.stringify(b[i] ?? '')} vs expected ${JSON.stringify(e[i] ?? '')}`;
  }
  return undefined;
}

/** The first line (1-based) where a and b differ, with both lines; undefined if they are equal. */
function firstDifferentLine(a: string, b: string): { line: number; a: string; b: string } | undefined {
  if (a === b) return undefined;
  const la = a.split('\n');
  const lb = b.split('\n');
  const n = Math.max(la.length, lb.length);
  for (let i = 0; i < n; i++) {
    if (la[i] !== lb[i]) {
      // Past the last line: "<end of output>" (after a final "\n") or "<end of output, no final newline>".
      const show = (lines: string[], j: number): string =>
        j >= lines.length
          ? '<end of output, no final newline>'
          : j === lines.length - 1 && lines[j] === ''
            ? '<end of output>'
            : JSON.stringify(lines[j]);
      return { line: i + 1, a: show(la, i), b: show(lb, i) };
    }
  }
  return { line: n, a: '<differs>', b: '<differs>' };
}

/** "run-bochs: X.elf: wall 2.15 s, ticks ..., stopped by ..." -> the summary after the name. */
function bochsSummary(stderr: Buffer): string | undefined {
  const m = /run-bochs: [^:]*: (wall .*)$/m.exec(stderr.toString('utf8'));
  return m?.[1];
}

function guestName(arg: string): string {
  let name = basename(arg);
  for (const ext of ['.elf64', '.elf']) {
    if (name.endsWith(ext)) name = name.slice(0, -ext.length);
  }
  return name;
}

async function main(): Promise<number> {
  const runner = resolve(process.env.BOCHS_RUNNER ?? join(repoRoot, '..', 'shared', 'tools', 'bochs', 'run-bochs.sh'));
  if (!findOnPath('bochs') || !existsSync(runner)) {
    console.log(SKIP_MESSAGE);
    return 0;
  }
  const timeoutS = Number(process.env.BOCHS_TIMEOUT ?? 300);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    console.log(`compare:bochs: BOCHS_TIMEOUT must be a positive number of seconds, got ${process.env.BOCHS_TIMEOUT}`);
    return 1;
  }
  if (!existsSync(buildDir)) {
    console.log(`compare:bochs: no ${buildDir}; run "npm run guests" first`);
    return 1;
  }

  const args = process.argv.slice(2);
  let guests: string[];
  if (args.length > 0) {
    guests = args.map(guestName);
    const missing = guests.filter((g) => !existsSync(join(buildDir, `${g}.elf`)));
    if (missing.length > 0) {
      console.log(`compare:bochs: not built: ${missing.map((g) => `guests/build/${g}.elf`).join(', ')} (bash guests/build.sh ${missing.join(' ')})`);
      return 1;
    }
  } else {
    guests = readdirSync(buildDir)
      .filter((f) => f.startsWith('vmx-') && f.endsWith('.elf'))
      .map((f) => f.slice(0, -'.elf'.length))
      .sort();
    if (guests.length === 0) {
      console.log('compare:bochs: no guests/build/vmx-*.elf found; run "npm run guests" first');
      return 1;
    }
  }

  const runnerCmd = isExecutable(runner) ? runner : 'bash';
  const runnerArgs = (elf: string): string[] => (isExecutable(runner) ? [elf] : [runner, elf]);
  const bochsEnv = { ...process.env, BOCHS_TIMEOUT: String(timeoutS) };
  // run-bochs.sh kills Bochs after BOCHS_TIMEOUT; this is a backstop (it also waits for the
  // lock that serialises Bochs runs). hyperstep gets the same limit.
  const bochsLimitMs = (timeoutS + 60) * 1000;
  const hyperstepLimitMs = timeoutS * 1000;
  const hyperstep = join(repoRoot, 'bin', 'hyperstep.js');
  const tmp = mkdtempSync(join(tmpdir(), 'compare-bochs-'));

  console.log(`compare:bochs: known Bochs deviations (the guests print the same line either way): ${KNOWN_DEVIATIONS.join('; ')}`);
  let failed = 0;
  try {
    for (const name of guests) {
      // Relative to the repository root, as compare:qemu does (the name is on the Multiboot command line).
      const elf = `guests/build/${name}.elf`;
      const debugcon = join(tmp, `${name}.e9`);
      const [b, h] = await Promise.all([
        run(runnerCmd, runnerArgs(elf), repoRoot, bochsLimitMs, bochsEnv),
        run(process.execPath, [hyperstep, 'run', elf, '--mem', '256', '--debugcon', debugcon], repoRoot, hyperstepLimitMs),
      ]);
      const bochsOut = b.stdout.toString('latin1');
      const hsOut = existsSync(debugcon) ? readFileSync(debugcon).toString('latin1') : '';

      const reasons: string[] = [];
      if (b.code !== 0) {
        // run-bochs.sh: 0 = stopped through the shutdown port, 124 = timeout, 2 = floppy, 1 = other.
        const why = b.code === 124 ? `timeout after ${timeoutS} s` : describeStatus(b);
        reasons.push(`Bochs did not stop through the shutdown port (${why})`);
      }
      if (h.error !== undefined || h.timedOut || h.code === null) {
        reasons.push(`hyperstep did not exit normally: ${h.timedOut ? `timeout after ${timeoutS} s` : describeStatus(h)}`);
      } else {
        const statusFile = join(expectedDir, `${name}.status`);
        if (existsSync(statusFile)) {
          const want = readFileSync(statusFile, 'utf8').trim();
          if (String(h.code) !== want) reasons.push(`hyperstep exit status ${h.code}, expected ${want} (guests/expected/${name}.status)`);
        }
      }
      const expOut = join(expectedDir, `${name}.out`);
      if (existsSync(expOut)) {
        // hyperstep must match the expected output exactly; Bochs may differ only where it is
        // known to be wrong (BOCHS_BUGS).
        const expected = readFileSync(expOut, 'latin1');
        const diff = firstDifferentLine(expected, hsOut);
        if (diff) reasons.push(`hyperstep differs from guests/expected/${name}.out at line ${diff.line}: expected ${diff.a} vs hyperstep ${diff.b}`);
        const bdiff = b.code === 0 ? bochsUnexpectedDifference(name, bochsOut, expected) : undefined;
        if (bdiff) reasons.push(`Bochs differs from guests/expected/${name}.out at ${bdiff}`);
        for (const bug of BOCHS_BUGS[name] ?? []) {
          if (expected.split('\n').some((l) => bug.line.test(l)) && !bochsOut.split('\n').some((l) => l === expected.split('\n').find((x) => bug.line.test(x)))) {
            console.log(`note: ${name}: known Bochs bug: ${bug.why}`);
          }
        }
      } else {
        const diff = firstDifferentLine(bochsOut, hsOut);
        if (diff) reasons.push(`output differs at line ${diff.line}: bochs ${diff.a} vs hyperstep ${diff.b}`);
      }

      const times = `bochs ${bochsSummary(b.stderr) ?? `${b.seconds.toFixed(2)} s`}; hyperstep ${h.seconds.toFixed(2)} s`;
      if (reasons.length === 0) {
        console.log(`PASS ${name} (${times})`);
      } else {
        failed++;
        console.log(`FAIL ${name}: ${reasons.join('; ')} (${times})`);
        if (b.code !== 0 && b.stderr.length > 0) {
          console.log(`  run-bochs stderr (last lines):\n${lastLines(b.stderr, 5).replace(/^/gm, '    ')}`);
        }
        if (h.stderr.length > 0) {
          console.log(`  hyperstep stderr (last lines):\n${lastLines(h.stderr, 5).replace(/^/gm, '    ')}`);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(
    `compare:bochs: ${guests.length - failed}/${guests.length} guests match` + (failed ? `, ${failed} failed` : ''),
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
