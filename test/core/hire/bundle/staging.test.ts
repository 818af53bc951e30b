/**
 * The bundle's temporary directory and the swap: one directory of our naming, made without creating
 * parents; the sweep removes only stale entries of our naming and restores a bundle an interrupted
 * replacement moved aside; a crash at any point of the swap leaves a complete bundle at out, or one
 * the next run restores; a failed swap keeps the old bundle.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest';
import {writeBundle, type HireManifest, type WriteStep} from '../../../../src/core/hire/bundle/bundle.js';
import {resolveOutPath} from '../../../../src/core/hire/bundle/out-dir.js';
import {removeStagedDirs, StagedBundle, sweepStale} from '../../../../src/core/hire/bundle/staging.js';
import {deadPid, tempEntries, treeSnapshot, writeTinyModel} from '../../../helpers/bundle-fixtures.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-staging-'));
afterAll(() => fs.rmSync(root, {recursive: true, force: true}));
afterEach(() => vi.restoreAllMocks());
const model = path.join(root, 'model');
const FILES = ['config.json', 'hire.json', 'hire.safetensors', 'model.safetensors', 'tokenizer.json'];
let dir: string;
let n = 0;

beforeAll(() => writeTinyModel(model, path.join(root, 'calib.txt')));
/** A fresh empty directory for one test. */
function freshDir(): string {
  dir = path.join(root, `case-${n++}`);
  fs.mkdirSync(dir);
  return dir;
}

/** Writes a bundle whose hire.json carries `marker` as createdAt. */
async function writeMarked(out: string, marker: string, force: boolean, onStep?: (step: WriteStep) => void): Promise<void> {
  const staged = StagedBundle.open(out, {force, sourceDir: model});
  try {
    const manifest = {format: 'hire-bundle', version: 1, createdAt: marker, source: {weights: []}} as unknown as HireManifest;
    await writeBundle({sourceDir: model, staged, manifest, predictors: [], onStep});
  } finally {
    staged.discard();
  }
}

/** The marker of the complete bundle at out (every file present), or null. */
function bundleAt(out: string): string | null {
  if (!FILES.every((f) => fs.existsSync(path.join(out, f)))) return null;
  return (JSON.parse(fs.readFileSync(path.join(out, 'hire.json'), 'utf8')) as {createdAt: string}).createdAt;
}

/** Makes a directory `<base>.hire-<kind>-<pid>-<hex>` holding a marked bundle. */
function plant(parent: string, base: string, kind: 'tmp' | 'old', pid: number, marker: string): string {
  const p = path.join(parent, `${base}.hire-${kind}-${pid}-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`);
  fs.mkdirSync(p);
  for (const f of FILES) fs.writeFileSync(path.join(p, f), f === 'hire.json' ? JSON.stringify({format: 'hire-bundle', createdAt: marker}) : 'x');
  return p;
}

describe('the temporary directory', () => {
  it('is one directory <out>.hire-tmp-<pid>-<hex> beside out; discard and removeStagedDirs remove it', () => {
    const parent = freshDir();
    const a = StagedBundle.open(path.join(parent, 'a.hire'), {force: false, sourceDir: model});
    expect(fs.readdirSync(parent)).toEqual([path.basename(a.dir)]);
    expect(path.basename(a.dir)).toMatch(new RegExp(`^a\\.hire\\.hire-tmp-${process.pid}-[0-9a-f]{12}$`));
    expect(fs.readdirSync(a.dir)).toEqual([]);
    a.discard();
    a.discard();
    expect(fs.readdirSync(parent)).toEqual([]);
    const b = StagedBundle.open(path.join(parent, 'b.hire'), {force: false, sourceDir: model});
    fs.writeFileSync(path.join(b.dir, 'partial'), 'x');
    removeStagedDirs();
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it('is never made with its parents', () => {
    const parent = freshDir();
    expect(() => StagedBundle.open(path.join(parent, 'no/such/x.hire'), {force: false, sourceDir: model})).toThrow(/does not exist/);
    expect(fs.readdirSync(parent)).toEqual([]);
  });
});

describe('the sweep of stale entries', () => {
  it('removes only directories of our naming, for this out, of processes that no longer run', () => {
    const parent = freshDir();
    const dead = deadPid();
    fs.mkdirSync(path.join(parent, 'x.hire'));
    fs.writeFileSync(path.join(parent, 'x.hire/hire.json'), '{"format": "hire-bundle"}');
    const staleTmp = plant(parent, 'x.hire', 'tmp', dead, 'new');
    const staleOld = plant(parent, 'x.hire', 'old', dead, 'old');
    // Kept: live processes (ours, our parent), other outs, other names, non-directories.
    plant(parent, 'x.hire', 'tmp', process.pid, 'ours');
    plant(parent, 'x.hire', 'old', process.ppid, 'parent');
    plant(parent, 'y.hire', 'tmp', dead, 'other out');
    plant(parent, 'xx.hire', 'tmp', dead, 'other out');
    for (const name of ['x.hire.tmp-1-2', `x.hire.hire-tmp-${dead}`, `x.hire.hire-tmp-${dead}-zzzzzzzzzzzz`, `x.hire.hire-new-${dead}-000000000000`, 'notes']) {
      fs.mkdirSync(path.join(parent, name));
    }
    fs.writeFileSync(path.join(parent, `x.hire.hire-tmp-${dead}-0123456789ab`), 'a file');
    fs.symlinkSync(model, path.join(parent, `x.hire.hire-old-${dead}-0123456789ab`));
    const kept = treeSnapshot(parent).filter((l) => !l.startsWith(path.basename(staleTmp)) && !l.startsWith(path.basename(staleOld)));

    const notes = sweepStale(resolveOutPath(path.join(parent, 'x.hire')));
    expect(treeSnapshot(parent)).toEqual(kept);
    expect(notes.sort()).toEqual([
      `${path.join(parent, 'x.hire')}: removed ${staleOld}, left behind by process ${dead}, which no longer runs`,
      `${path.join(parent, 'x.hire')}: removed ${staleTmp}, left behind by process ${dead}, which no longer runs`,
    ].sort());
  });

  it('restores the most recently moved-aside bundle when out is missing, and removes the rest', async () => {
    const parent = freshDir();
    const dead = deadPid();
    const older = plant(parent, 'x.hire', 'old', dead, 'older');
    await new Promise((r) => setTimeout(r, 20));
    const newer = plant(parent, 'x.hire', 'old', dead, 'newer');
    plant(parent, 'x.hire', 'tmp', dead, 'unfinished');
    const staged = StagedBundle.open(path.join(parent, 'x.hire'), {force: true, sourceDir: model});
    staged.discard();
    expect(bundleAt(path.join(parent, 'x.hire'))).toBe('newer');
    expect(fs.readdirSync(parent)).toEqual(['x.hire']);
    expect(staged.notes[0]).toMatch(new RegExp(`restored the bundle that an interrupted replacement \\(process ${dead}\\) had moved to ${newer}`));
    expect(staged.notes.slice(1).join('\n')).toContain(older);
  });
});

describe('the swap', () => {
  it('at every point of writing and swapping, a crash leaves a complete bundle at out or one the next run restores', async () => {
    const parent = freshDir();
    const out = path.join(parent, 'b.hire');
    await writeMarked(out, 'old', false);
    expect(bundleAt(out)).toBe('old');
    const dead = deadPid();
    const seen: Array<[WriteStep, string | null, string | null]> = [];
    await writeMarked(out, 'new', true, (step) => {
      // The crash image: the parent as a killed process would leave it (its pid no longer running).
      const image = path.join(root, `crash-${n++}`);
      fs.cpSync(parent, image, {recursive: true});
      for (const name of tempEntries(image)) fs.renameSync(path.join(image, name), path.join(image, name.replace(`-${process.pid}-`, `-${dead}-`)));
      const atOut = bundleAt(out);
      const next = StagedBundle.open(path.join(image, 'b.hire'), {force: true, sourceDir: model});
      next.discard();
      expect(fs.readdirSync(image)).toEqual(['b.hire']);
      seen.push([step, atOut, bundleAt(path.join(image, 'b.hire'))]);
    });
    // [step, the bundle at out then, the bundle at out after the next run's sweep]
    expect(seen).toEqual([
      ['written', 'old', 'old'],
      ['old-moved', null, 'old'],
      ['new-in-place', 'new', 'new'],
      ['old-removed', 'new', 'new'],
    ]);
    expect(fs.readdirSync(parent)).toEqual(['b.hire']);
  });

  it('checks out again when it commits: a plain directory made there meanwhile is refused and kept', async () => {
    const parent = freshDir();
    const out = path.join(parent, 'c.hire');
    const staged = StagedBundle.open(out, {force: true, sourceDir: model});
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'mine.txt'), 'mine');
    expect(() => staged.commit()).toThrow(/is not a hire bundle/);
    staged.discard();
    expect(fs.readdirSync(parent)).toEqual(['c.hire']);
    expect(fs.readdirSync(out)).toEqual(['mine.txt']);
  });

  it('when the new bundle cannot be moved into place, the old one is moved back', async () => {
    const parent = freshDir();
    const out = path.join(parent, 'd.hire');
    await writeMarked(out, 'old', false);
    const rename = fs.renameSync;
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (String(to) === out && String(from).includes('.hire-tmp-')) throw Object.assign(new Error('EXDEV: simulated'), {code: 'EXDEV'});
      rename(from, to);
    });
    await expect(writeMarked(out, 'new', true)).rejects.toThrow(/cannot move the new bundle into place \(the old one is kept\)/);
    expect(bundleAt(out)).toBe('old');
    expect(fs.readdirSync(parent)).toEqual(['d.hire']);
  });
});
