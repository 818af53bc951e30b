/**
 * The checks on calibrate's `out`, in process: they run before any work (no progress event arrives
 * before the error), compare resolved paths (links, `..`, trailing slashes), name the read-only and
 * permission cases clearly, and recognise pseudo file systems and hire bundles.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest';
import {IoError} from '../../../../src/core/errors.js';
import {checkReplaceable, hasBundleManifest, pseudoFileSystem, resolveOutPath} from '../../../../src/core/hire/bundle/out-dir.js';
import {StagedBundle} from '../../../../src/core/hire/bundle/staging.js';
import {calibrate} from '../../../../src/core/tasks/calibrate/calibrate.js';
import {QUICK_OPTIONS, tempEntries, treeSnapshot, writeTinyModel} from '../../../helpers/bundle-fixtures.js';

const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-bundle-out-'));
afterAll(() => fs.rmSync(sandbox, {recursive: true, force: true}));
afterEach(() => vi.restoreAllMocks());
const model = path.join(sandbox, 'models/tiny');
const text = path.join(sandbox, 'calib.txt');
const bundle = path.join(sandbox, 'tiny.hire');

beforeAll(async () => {
  writeTinyModel(model, text);
  fs.writeFileSync(path.join(sandbox, 'notes.txt'), 'notes\n');
  fs.symlinkSync(path.join(sandbox, 'models'), path.join(sandbox, 'alias'));
  await calibrate({model, data: [text], out: bundle, ...QUICK_OPTIONS});
});

/** Runs core calibrate, expecting an IoError matching `message` before any progress event, and nothing changed. */
async function expectRefusedBeforeWork(out: string, force: boolean, message: RegExp): Promise<void> {
  const before = treeSnapshot(sandbox);
  const events: string[] = [];
  const run = calibrate({model, data: [text], out, force, ...QUICK_OPTIONS, onProgress: (stage) => events.push(stage)});
  await expect(run).rejects.toThrow(IoError);
  await expect(run).rejects.toThrow(message);
  expect(events).toEqual([]);
  expect(treeSnapshot(sandbox)).toEqual(before);
}

describe('calibrate checks out before any work', () => {
  it('refuses the source model, a file, a plain directory, a missing parent and an existing bundle without force', async () => {
    await expectRefusedBeforeWork(model, true, /is the source model directory/);
    await expectRefusedBeforeWork(path.join(sandbox, 'notes.txt'), true, /is a regular file, not a directory/);
    await expectRefusedBeforeWork(path.join(sandbox, 'models'), true, /holds the source model/);
    await expectRefusedBeforeWork(path.join(sandbox, 'nope/x.hire'), false, /parent directory .*nope does not exist/);
    await expectRefusedBeforeWork(path.join(sandbox, 'notes.txt/x.hire'), false, /notes\.txt is a regular file/);
    await expectRefusedBeforeWork(bundle, false, /already exists/);
    await expectRefusedBeforeWork('/proc/x.hire', false, /pseudo file system \(proc\)/);
  });

  it('a read-only file system or a parent without write permission: one clear line, nothing left', async () => {
    for (const [code, words] of [['EROFS', 'it is on a read-only file system'], ['EACCES', 'permission denied (the directory is not writable)']]) {
      vi.spyOn(fs, 'mkdirSync').mockImplementation(() => {
        throw Object.assign(new Error(`${code}: simulated, mkdir`), {code});
      });
      const out = path.join(sandbox, 'ro.hire');
      await expectRefusedBeforeWork(out, false, new RegExp(`^${out}: cannot create a directory in ${sandbox}: ${words.replace(/[()]/g, '\\$&')}$`));
      vi.restoreAllMocks();
    }
  });
});

describe('the replace rule compares resolved paths', () => {
  const rule = {force: true, sourceDir: model, cwd: sandbox};

  it('a link in the parent, `..` and trailing slashes do not hide the source model', () => {
    for (const spelled of [path.join(sandbox, 'alias/tiny'), `${model}/`, `${model}/.`, path.join(sandbox, 'alias/../models/tiny')]) {
      expect(() => checkReplaceable(resolveOutPath(spelled), rule)).toThrow(/is the source model directory/);
    }
    // A source given through the link is the same directory.
    expect(() => checkReplaceable(resolveOutPath(model), {...rule, sourceDir: path.join(sandbox, 'alias/tiny')})).toThrow(/is the source model directory/);
  });

  it('the current directory, given through a link, and its ancestors', () => {
    const cwd = path.join(sandbox, 'alias/tiny');
    expect(() => checkReplaceable(resolveOutPath(model), {force: true, sourceDir: bundle, cwd})).toThrow(/is the current directory/);
    expect(() => checkReplaceable(resolveOutPath(path.join(sandbox, 'models')), {force: true, sourceDir: bundle, cwd})).toThrow(/holds the current directory/);
  });

  it('a hire bundle elsewhere may be replaced; nothing at out is fine', () => {
    expect(checkReplaceable(resolveOutPath(bundle), rule)).toBe(true);
    expect(checkReplaceable(resolveOutPath(path.join(sandbox, 'new.hire')), rule)).toBe(false);
    const staged = StagedBundle.open(bundle, rule);
    staged.discard();
    expect(tempEntries(sandbox)).toEqual([]);
  });
});

describe('what counts as a bundle and as a pseudo file system', () => {
  it('hire.json must be a regular file of JSON with format "hire-bundle"', () => {
    expect(hasBundleManifest(bundle)).toBe(true);
    const dir = path.join(sandbox, 'fakes');
    const cases: Array<[string, (d: string) => void]> = [
      ['none', () => {}],
      ['not JSON', (d) => fs.writeFileSync(path.join(d, 'hire.json'), '{"format": "hire-bundle"')],
      ['other format', (d) => fs.writeFileSync(path.join(d, 'hire.json'), '{"format": "hire-bundle-2"}')],
      ['null', (d) => fs.writeFileSync(path.join(d, 'hire.json'), 'null')],
      ['a directory', (d) => fs.mkdirSync(path.join(d, 'hire.json'))],
      ['a link to a real manifest', (d) => fs.symlinkSync(path.join(bundle, 'hire.json'), path.join(d, 'hire.json'))],
    ];
    for (const [name, make] of cases) {
      const d = path.join(dir, name.replace(/ /g, '-'));
      fs.mkdirSync(d, {recursive: true});
      make(d);
      expect([name, hasBundleManifest(d)]).toEqual([name, false]);
    }
  });

  it('/proc, /sys (and what is mounted under it) and /dev are pseudo; /dev/shm and the temp directory are not', () => {
    expect(pseudoFileSystem('/proc')).toBe('proc');
    expect(pseudoFileSystem('/proc/self')).toBe('proc');
    expect(pseudoFileSystem('/sys')).toBe('sysfs');
    expect(pseudoFileSystem('/sys/fs/cgroup')).toBe('sysfs');
    expect(pseudoFileSystem('/dev')).toBe('devtmpfs');
    expect(pseudoFileSystem('/device')).toBe(null);
    expect(pseudoFileSystem(fs.realpathSync(os.tmpdir()))).toBe(null);
    if (fs.existsSync('/dev/shm')) expect(pseudoFileSystem('/dev/shm')).toBe(null);
  });
});
