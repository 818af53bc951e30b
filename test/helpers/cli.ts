/** Runs the built CLI (bin/run.js) as a user would, capturing stdout, stderr and the exit code. */
import {spawnSync} from 'node:child_process';
import path from 'node:path';
import {PROJECT_ROOT} from './shared.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `timeoutMs` (default 300 s) kills a command that hangs, and runCli then throws. */
export function runCli(args: string[], opts: {cwd?: string; env?: Record<string, string>; timeoutMs?: number} = {}): CliResult {
  const result = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), ...args], {
    cwd: opts.cwd ?? PROJECT_ROOT,
    env: {...process.env, ...opts.env, NO_COLOR: '1'},
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
  });
  if (result.error) throw result.error;
  return {code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr};
}
