/**
 * The temporary directory a bundle is written into, and the swap that puts it at `out`, ordered so
 * that an interrupted run never loses a bundle and never leaves debris that a later run cannot
 * recognise.
 *
 * Names (in out's parent, next to out): `<out>.hire-tmp-<pid>-<hex>` is a bundle being written,
 * `<out>.hire-old-<pid>-<hex>` the bundle being replaced. Nothing else is ever created or removed.
 *
 * Swap (replacing with `force`): rename out -> old, rename tmp -> out, remove old. A complete bundle
 * exists at every instant: before the first rename the old one at out, between the renames the old
 * one at `old`, after the second the new one at out.
 *
 * Recovery (the sweep, run when a later calibration opens the same out): an entry of our naming
 * whose pid no longer runs is stale. If out is missing and a stale `old` exists, the process died
 * between the two renames: the most recently renamed `old` is renamed back to out. Every other stale
 * entry is removed: a stale tmp is unfinished (or finished but never put in place), a stale old was
 * already replaced. Entries of live processes (a concurrent run) are never touched.
 *
 * Signals: a staged directory is listed in a registry while it exists; removeStagedDirs() deletes
 * them synchronously, for the API and CLI layers to call from exit and signal handlers (core code
 * never installs handlers or exits). The swap itself is synchronous, so no handler runs inside it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {IoError} from '../../errors.js';
import {systemReason} from '../../io/read-file.js';
import {checkRealFileSystem, checkReplaceable, checkReplaceableFile, resolveOutPath, type OutPath, type ReplaceRule} from './out-dir.js';

export type TempKind = 'tmp' | 'old';
/** Points of the swap, for tests that simulate a crash at each. */
export type SwapStep = 'old-moved' | 'new-in-place' | 'old-removed';

const TEMP_PATTERN = /^(tmp|old)-(\d+)-[0-9a-f]{12}$/;

/** Staged directories of this process that exist now. */
const staged = new Set<string>();

/** Removes every staged directory of this process, synchronously (exit and signal handlers). */
export function removeStagedDirs(): void {
  for (const dir of staged) {
    try {
      fs.rmSync(dir, {recursive: true, force: true});
    } catch {
      // exiting: a later run's sweep removes what is left
    }
    staged.delete(dir);
  }
}

/** `<target>.hire-<kind>-<pid>-<12 hex>`. */
export function tempPath(target: string, kind: TempKind): string {
  return `${target}.hire-${kind}-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
}

/** A bundle directory being written: open() checks `out` and creates it; commit() or discard() ends it. */
export class StagedBundle {
  private done = false;

  private constructor(
    readonly out: OutPath,
    /** The temporary directory to write the bundle's files into. */
    readonly dir: string,
    private readonly rule: ReplaceRule,
    /** What the sweep of stale temporary directories did (for warnings). */
    readonly notes: string[],
  ) {}

  /**
   * Checks `out` (parent, file system, the replace rule), creates the temporary directory with one
   * non-recursive mkdir (which also proves the parent writable), and sweeps stale entries of our
   * naming for the same out. Throws IoError before anything else is done.
   */
  static open(out: string, rule: ReplaceRule): StagedBundle {
    const where = resolveOutPath(out);
    checkReplaceable(where, rule);
    checkRealFileSystem(where);
    const dir = tempPath(where.target, 'tmp');
    try {
      fs.mkdirSync(dir);
    } catch (error) {
      throw new IoError(where.abs, `cannot create a directory in ${where.parent}: ${writeReason(error)}`, {cause: error});
    }
    staged.add(dir);
    const bundle = new StagedBundle(where, dir, rule, []);
    try {
      bundle.notes.push(...sweepStale(where));
      checkReplaceable(where, rule);
    } catch (error) {
      bundle.discard();
      throw error;
    }
    return bundle;
  }

  /** Puts the written directory at out (replacing a bundle there when allowed, checked again now). */
  commit(onStep?: (step: SwapStep) => void): void {
    if (this.done) throw new Error('StagedBundle already committed or discarded');
    const {abs, target} = this.out;
    const replace = checkReplaceable(this.out, this.rule);
    if (!replace) {
      renameOrThrow(this.dir, target, abs, 'cannot move the bundle into place');
      this.finish();
      return;
    }
    const old = tempPath(target, 'old');
    renameOrThrow(target, old, abs, 'cannot move the existing bundle aside');
    onStep?.('old-moved');
    try {
      fs.renameSync(this.dir, target);
    } catch (error) {
      renameOrThrow(old, target, abs, `cannot move the new bundle into place (${systemReason(error)}), nor the old one back from ${old}`);
      throw new IoError(abs, `cannot move the new bundle into place (the old one is kept): ${systemReason(error)}`, {cause: error});
    }
    this.finish();
    onStep?.('new-in-place');
    try {
      fs.rmSync(old, {recursive: true, force: true});
    } catch {
      // The new bundle is in place; a later run's sweep removes what is left of the old one.
    }
    onStep?.('old-removed');
  }

  /** Removes the temporary directory unless committed; safe to call more than once. */
  discard(): void {
    if (this.done) return;
    fs.rmSync(this.dir, {recursive: true, force: true});
    this.finish();
  }

  private finish(): void {
    this.done = true;
    staged.delete(this.dir);
  }
}

/**
 * One output FILE being written (a GGUF file): `path` is `<out>.hire-tmp-<pid>-<hex>`, listed for
 * removeStagedDirs() while it exists; commit() renames it over out (one atomic rename, so out is
 * the old file or the new one at every instant), discard() removes it.
 */
export class StagedFile {
  private done = false;

  private constructor(
    readonly out: OutPath,
    readonly path: string,
    private readonly rule: Parameters<typeof checkReplaceableFile>[1],
  ) {}

  /** Checks `out` (parent, file system, the replace rule) before anything is written. */
  static open(out: string, rule: Parameters<typeof checkReplaceableFile>[1]): StagedFile {
    const where = resolveOutPath(out);
    checkReplaceableFile(where, rule);
    checkRealFileSystem(where);
    const file = new StagedFile(where, tempPath(where.target, 'tmp'), rule);
    staged.add(file.path);
    return file;
  }

  commit(): void {
    if (this.done) throw new Error('StagedFile already committed or discarded');
    checkReplaceableFile(this.out, this.rule);
    renameOrThrow(this.path, this.out.target, this.out.abs, 'cannot move the file into place');
    this.finish();
  }

  /** Removes the temporary file unless committed; safe to call more than once. */
  discard(): void {
    if (this.done) return;
    fs.rmSync(this.path, {force: true});
    this.finish();
  }

  private finish(): void {
    this.done = true;
    staged.delete(this.path);
  }
}

/** Applies the recovery rule (see the header) to stale entries for out; returns what it did. */
export function sweepStale(out: OutPath): string[] {
  const base = path.basename(out.target);
  const stale: Array<{path: string; kind: TempKind; pid: number; ctimeMs: number}> = [];
  let names: string[];
  try {
    names = fs.readdirSync(out.parent);
  } catch {
    return [];
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.hire-`)) continue;
    const m = TEMP_PATTERN.exec(name.slice(base.length + '.hire-'.length));
    if (!m || isAlive(Number(m[2]))) continue;
    const p = path.join(out.parent, name);
    const st = fs.lstatSync(p, {throwIfNoEntry: false});
    if (st?.isDirectory()) stale.push({path: p, kind: m[1] as TempKind, pid: Number(m[2]), ctimeMs: st.ctimeMs});
  }
  const notes: string[] = [];
  const olds = stale.filter((s) => s.kind === 'old').sort((a, b) => b.ctimeMs - a.ctimeMs);
  if (olds[0] && !fs.existsSync(out.target)) {
    const restore = olds[0];
    renameOrThrow(restore.path, out.target, out.abs, `cannot restore the bundle an interrupted replacement left at ${restore.path}`);
    stale.splice(stale.indexOf(restore), 1);
    notes.push(`${out.abs}: restored the bundle that an interrupted replacement (process ${restore.pid}) had moved to ${restore.path}`);
  }
  for (const s of stale) {
    try {
      fs.rmSync(s.path, {recursive: true, force: true});
      notes.push(`${out.abs}: removed ${s.path}, left behind by process ${s.pid}, which no longer runs`);
    } catch (error) {
      notes.push(`${out.abs}: cannot remove ${s.path}, left behind by process ${s.pid}: ${systemReason(error)}`);
    }
  }
  return notes;
}

/** Whether a process with this pid runs (ours always does; EPERM: it runs as another user). */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function renameOrThrow(from: string, to: string, abs: string, what: string): void {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    throw new IoError(abs, `${what}: ${systemReason(error)}`, {cause: error});
  }
}

/** Why a directory cannot be created, in words for the common cases. */
function writeReason(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EROFS':
      return 'it is on a read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (the directory is not writable)';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the device';
    default:
      return systemReason(error);
  }
}
