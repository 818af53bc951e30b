/** Runs the built CLI (bin/run.js) as a user would, capturing stdout, stderr and the exit code. */
import {spawnSync} from 'node:child_process';
import path from 'node:path';
import {PROJECT_ROOT} from './shared.js';

/**
 * Longest one spawned process may run. Below vitest's 120 s test timeout on purpose: spawnSync
 * blocks the test's event loop, so vitest's own timeout cannot fire while a child runs, and a hung
 * child would otherwise hold the test far past it. The slowest spawn in the suite takes a few
 * seconds on an idle machine.
 */
export const SPAWN_TIMEOUT_MS = 100_000;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `timeoutMs` (default SPAWN_TIMEOUT_MS) kills a command that hangs, and runCli then throws. */
export function runCli(args: string[], opts: {cwd?: string; env?: Record<string, string>; timeoutMs?: number} = {}): CliResult {
  const result = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), ...args], {
    cwd: opts.cwd ?? PROJECT_ROOT,
    env: {...process.env, ...opts.env, NO_COLOR: '1'},
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? SPAWN_TIMEOUT_MS,
  });
  throwIfFailedToRun(result, `hire ${args.join(' ')}`);
  return {code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr};
}

/** Throws one clear line when a spawned process could not run or ran past SPAWN_TIMEOUT_MS. */
export function throwIfFailedToRun(result: {error?: Error; stderr?: string}, what: string): void {
  if (!result.error) return;
  if ((result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    throw new Error(`${what} did not finish in time (killed); stderr so far:\n${result.stderr ?? ''}`);
  }
  throw result.error;
}
