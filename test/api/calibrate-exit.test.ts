/**
 * calibrate() from code installs no signal handlers, so the caller's own handlers work as before;
 * when the process exits mid-calibration (here: the caller's handler calls process.exit), the
 * unfinished bundle directory is removed on the way out. Runs the built library in a child process.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {afterAll, expect, it} from 'vitest';
import {PROJECT_ROOT} from '../helpers/shared.js';
import {QUICK_OPTIONS, writeTinyModel} from '../helpers/bundle-fixtures.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-api-exit-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

const CHILD = `
import fs from 'node:fs';
import {calibrate} from ${JSON.stringify(pathToFileURL(path.join(PROJECT_ROOT, 'dist/index.js')).href)};
const [model, text, out, options] = process.argv.slice(2);
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
process.on('SIGTERM', () => process.exit(7));
const counts = () => signals.map((s) => process.listenerCount(s));
const before = counts();
await calibrate({
  model, data: [text], out, ...JSON.parse(options),
  onProgress: (e) => {
    if (e.done === undefined) return;
    console.log(JSON.stringify({before, during: counts(), entries: fs.readdirSync(${JSON.stringify(dir)})}));
    process.kill(process.pid, 'SIGTERM');
  },
});
console.log('finished');
`;

it('a process.exit from the caller\'s signal handler mid-calibration removes the temporary directory; no handlers are added', () => {
  const model = path.join(dir, 'model');
  writeTinyModel(model, path.join(dir, 'calib.txt'));
  const script = path.join(dir, 'child.mjs');
  fs.writeFileSync(script, CHILD);
  const out = path.join(dir, 'x.hire');
  // 300 tokens in sequences of 100: progress after each, so the signal arrives while work remains.
  const r = spawnSync(process.execPath, [script, model, path.join(dir, 'calib.txt'), out, JSON.stringify({...QUICK_OPTIONS, tokens: 300, seqLen: 100})], {encoding: 'utf8', timeout: 120_000});
  expect(r.stderr).toBe('');
  expect(r.status).toBe(7);
  const seen = JSON.parse(r.stdout.trim().split('\n')[0]!) as {before: number[]; during: number[]; entries: string[]};
  expect(seen.during).toEqual(seen.before);
  expect(seen.entries.filter((e) => e.startsWith('x.hire.')).map((e) => e.replace(/-[0-9a-f]{12}$/, ''))).toEqual([`x.hire.hire-tmp-${r.pid}`]);
  expect(r.stdout).not.toContain('finished');
  expect(fs.readdirSync(dir).sort()).toEqual(['calib.txt', 'child.mjs', 'model']);
});
