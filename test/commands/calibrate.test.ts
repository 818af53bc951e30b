/**
 * hire calibrate's --out and --force, run as a user would: every path it must refuse gets one clear
 * line and exit 1 before any work, with nothing changed anywhere; --force replaces a bundle and
 * nothing else; the weights are hard-linked unless --copy-weights; SIGTERM leaves nothing behind.
 */
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {PROJECT_ROOT} from '../helpers/shared.js';
import {QUICK_FLAGS, tempEntries, treeSnapshot, writeTinyModel} from '../helpers/bundle-fixtures.js';

// sandbox/ models/tiny (the model), calib.txt, notes.txt, plain/ (not a bundle), fake/ (hire.json of
// another format), work/ (the current directory), work/tiny.hire (a bundle), work/deep/, link -> models/tiny.
const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-calibrate-cmd-'));
afterAll(() => fs.rmSync(sandbox, {recursive: true, force: true}));
const model = path.join(sandbox, 'models/tiny');
const text = path.join(sandbox, 'calib.txt');
const work = path.join(sandbox, 'work');
const bundle = path.join(work, 'tiny.hire');

function calibrateCli(out: string[], opts: {cwd?: string; timeout?: number} = {}) {
  return runCli(['calibrate', model, '--data', text, ...QUICK_FLAGS, ...out], {cwd: opts.cwd ?? work, timeoutMs: opts.timeout});
}

/** One line on stderr naming the path, exit 1, and not a file or directory changed in the sandbox. */
function expectRefused(out: string[], shown: string, problem: RegExp, opts: {cwd?: string; timeout?: number} = {}): void {
  const before = treeSnapshot(sandbox);
  const r = calibrateCli(out, opts);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(new RegExp(`^hire: ${shown.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
  expect(r.stderr).toMatch(problem);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(treeSnapshot(sandbox)).toEqual(before);
}

beforeAll(() => {
  writeTinyModel(model, text);
  fs.writeFileSync(path.join(sandbox, 'notes.txt'), 'my notes\n');
  fs.mkdirSync(path.join(sandbox, 'plain'));
  fs.writeFileSync(path.join(sandbox, 'plain/keep.txt'), 'keep me\n');
  fs.mkdirSync(path.join(sandbox, 'fake'));
  fs.writeFileSync(path.join(sandbox, 'fake/hire.json'), '{"format": "not-hire"}\n');
  fs.mkdirSync(path.join(work, 'deep'), {recursive: true});
  fs.symlinkSync(model, path.join(sandbox, 'link'));
  const r = calibrateCli(['--out', 'tiny.hire']);
  expect(r.stderr).toMatch(TEXT_LINE);
  expect(r.code).toBe(0);
});

/** The one line calibrate prints on stderr: which part of which file it read. */
const TEXT_LINE = /^calibrate: read the first 90% \(train split\) of \S*calib\.txt: \d+ tokens; calibrated on the first 100\n$/;

describe('hire calibrate --force refuses everything but a bundle', () => {
  it('the current directory (--out .) and its parent (--out ..)', () => {
    expectRefused(['--out', '.', '--force'], work, /is the current directory/);
    expectRefused(['--out', '..', '--force'], work, /holds the current directory/, {cwd: path.join(work, 'deep')});
    expectRefused(['--out', `${work}/`, '--force'], work, /is the current directory/);
  });

  it('the source model directory, however spelled, and a directory holding it', () => {
    expectRefused(['--out', model, '--force'], model, /is the source model directory/);
    expectRefused(['--out', `${model}//`, '--force'], model, /is the source model directory/);
    expectRefused(['--out', '../models/x/../tiny', '--force'], model, /is the source model directory/);
    expectRefused(['--out', path.join(sandbox, 'models'), '--force'], path.join(sandbox, 'models'), /holds the source model/);
    // A link to the model is not a directory: --force never replaces it (nor follows it).
    expectRefused(['--out', '../link', '--force'], path.join(sandbox, 'link'), /is a symbolic link, not a directory/);
  });

  it('a regular file, /dev/null, a plain directory and a directory whose hire.json is not ours', () => {
    expectRefused(['--out', '../notes.txt', '--force'], path.join(sandbox, 'notes.txt'), /is a regular file, not a directory/);
    expectRefused(['--out', '/dev/null', '--force'], '/dev/null', /is a character device, not a directory/);
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    expectRefused(['--out', '../plain', '--force'], path.join(sandbox, 'plain'), /is not a hire bundle/);
    expectRefused(['--out', '../fake', '--force'], path.join(sandbox, 'fake'), /is not a hire bundle/);
  });

  it('an existing bundle without --force', () => {
    expectRefused(['--out', 'tiny.hire'], bundle, /already exists; .*force/);
  });
});

describe('hire calibrate checks --out before any work', () => {
  it('/proc/x: a clear error, not a hang', () => {
    expectRefused(['--out', '/proc/x'], '/proc/x', /pseudo file system \(proc\)/, {timeout: 60_000});
    expectRefused(['--out', '/sys/fs/cgroup/x.hire'], '/sys/fs/cgroup/x.hire', /pseudo file system/, {timeout: 60_000});
  });

  it('a missing parent is not created, and a path under a regular file is refused', () => {
    expectRefused(['--out', '../missing/deeper/x.hire'], path.join(sandbox, 'missing/deeper/x.hire'), /parent directory .*missing\/deeper does not exist/);
    expectRefused(['--out', '../notes.txt/x.hire'], path.join(sandbox, 'notes.txt/x.hire'), /notes\.txt is a regular file, not a directory/);
    expectRefused(['--out', '../notes.txt/a/b.hire'], path.join(sandbox, 'notes.txt/a/b.hire'), /notes\.txt is a regular file, not a directory/);
  });

  const root = process.getuid?.() === 0;
  if (root) console.warn('[skip] read-only parent by chmod 0555: running as root, where chmod does not stop writes (test/core/hire/bundle-out.test.ts covers EACCES and EROFS)');
  it.runIf(!root)('a parent that is not writable', () => {
    const locked = path.join(sandbox, 'locked');
    fs.mkdirSync(locked, {mode: 0o555});
    try {
      expectRefused(['--out', '../locked/x.hire'], path.join(locked, 'x.hire'), /not writable/);
    } finally {
      fs.rmdirSync(locked);
    }
  });
});

describe('hire calibrate writes', () => {
  it('--force replaces a bundle; the weights are hard-linked by default and copied with --copy-weights', () => {
    const inode = (f: string) => fs.statSync(f).ino;
    const weights = (dir: string) => path.join(dir, 'model.safetensors');
    expect(inode(weights(bundle))).toBe(inode(weights(model)));
    const before = fs.readFileSync(path.join(bundle, 'hire.json'), 'utf8');
    const r = calibrateCli(['--out', 'tiny.hire', '--force', '--copy-weights']);
    expect(r.stderr).toMatch(TEXT_LINE);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(bundle, 'hire.json'), 'utf8')).not.toBe(before);
    expect(inode(weights(bundle))).not.toBe(inode(weights(model)));
    expect(fs.readFileSync(weights(bundle)).equals(fs.readFileSync(weights(model)))).toBe(true);
    expect(fs.readdirSync(work).sort()).toEqual(['deep', 'tiny.hire']);
  });

  it('--split all reads the whole file, says so on stderr and records it in hire.json', () => {
    const r = calibrateCli(['--out', 'split.hire', '--split', 'all', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^calibrate: read the whole file of \S*calib\.txt: \d+ tokens; calibrated on the first 100\n$/);
    const manifest = JSON.parse(r.stdout);
    expect(manifest.calibration.split).toBe('all');
    expect(manifest.calibration.corpus).toBeUndefined();
    fs.rmSync(path.join(work, 'split.hire'), {recursive: true});
  });

  it('--help says the weights are hard-linked and offers --copy-weights', () => {
    const r = runCli(['calibrate', '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/hard-links the source's weight files when the file system allows .* editing either edits both; --copy-weights copies them/);
    expect(help).toMatch(/--copy-weights Copy the model's weight files into the bundle \(default: hard-link them/);
    expect(help).toMatch(/--force Replace an existing bundle at --out: only a directory holding a hire bundle/);
  });

  it('SIGTERM while calibrating: exit 143, the temporary directory removed, nothing at --out', async () => {
    // The demo model on 8192 tokens calibrates for many seconds; the signal comes as soon as the
    // temporary directory exists (before the model is even loaded).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-sigterm-'));
    try {
      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), 'calibrate', '--out', path.join(dir, 'demo.hire'), '--tokens', '8192', '--threads', '1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let running = true;
      void exited.then(() => (running = false));
      let seen: string[] = [];
      while (running && seen.length === 0) {
        await new Promise((r) => setTimeout(r, 20));
        seen = tempEntries(dir);
      }
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(new RegExp(`^demo\\.hire\\.hire-tmp-${child.pid}-[0-9a-f]{12}$`));
      child.kill('SIGTERM');
      expect(await exited).toBe(143);
      expect(stderr).toBe('hire: stopped by SIGTERM\n');
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });
});
