// Running a child process for the comparison scripts: captured output, a timeout, the time taken.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RunResult {
  stdout: Buffer;
  stderr: Buffer;
  /** Exit code, or null if the process was killed / failed to start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  seconds: number;
  error?: string;
}

export function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, cmd);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function run(cmd: string, args: string[], cwd: string, timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((done) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done({
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        code,
        signal,
        timedOut,
        seconds: (performance.now() - t0) / 1000,
        ...(error !== undefined ? { error } : {}),
      });
    };
    child.on('error', (e) => finish(null, null, e.message));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

export function describeStatus(r: RunResult): string {
  if (r.error !== undefined) return `error (${r.error})`;
  if (r.timedOut) return 'killed after the timeout';
  if (r.code !== null) return `status ${r.code}`;
  return `signal ${r.signal ?? '?'}`;
}

export function lastLines(buf: Buffer | string, n: number): string {
  const lines = buf.toString().trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}
