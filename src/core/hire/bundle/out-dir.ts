/**
 * Where calibrate may write a bundle, checked before any work starts. `out` must sit in an existing,
 * writable directory on a real file system; with `force` it may replace only an existing directory
 * that is itself a hire bundle and is neither the source model (or a directory holding it) nor the
 * current directory (or one holding it). Paths are compared after resolving symbolic links, `..`
 * and trailing slashes, so no spelling of a path dodges the rule. Nothing here writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import {IoError} from '../../errors.js';
import {systemReason} from '../../io/read-file.js';
import {BUNDLE_FORMAT, MANIFEST_FILE} from './names.js';


/** statfs magic numbers of Linux pseudo file systems (proc, sysfs, cgroup, debugfs, ...). */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x73636673: 'securityfs',
  0xcafe4a11: 'bpf',
  0x62656570: 'configfs',
  0x6165676c: 'pstore',
  0xde5e81e4: 'efivarfs',
  0xf97cff8c: 'selinuxfs',
  0x43415d53: 'smackfs',
  0x65735543: 'fusectl',
  0x19800202: 'mqueue',
  0x42494e4d: 'binfmt_misc',
  0x6e736673: 'nsfs',
};

/** Kernel and device trees refused by path, whatever statfs says (/dev is devtmpfs, which reads as tmpfs). */
const PSEUDO_ROOTS: Record<string, string> = {'/proc': 'proc', '/sys': 'sysfs', '/dev': 'devtmpfs'};
/** Real memory-backed storage under a refused root. */
const ALLOWED_UNDER_PSEUDO = ['/dev/shm'];

export interface OutPath {
  /** `out` made absolute, as the user spelled it (for messages and the result). */
  abs: string;
  /** The parent directory with symbolic links resolved. */
  parent: string;
  /** The bundle path itself: parent (resolved) + the last component of `out`. */
  target: string;
}

/**
 * Resolves `out` and checks its parent: it exists and is a directory (not a path under a regular
 * file). Throws IoError naming `out` and the problem.
 */
export function resolveOutPath(out: string): OutPath {
  const abs = path.resolve(out);
  const base = path.basename(abs);
  if (base === '') throw new IoError(abs, 'is the root directory; choose a new directory for out');
  const parentAbs = path.dirname(abs);
  const parent = existingParent(abs, parentAbs);
  return {abs, parent, target: path.join(parent, base)};
}

/** IoError when the parent lies on a pseudo file system (/proc, /sys, /dev, cgroup, ...). */
export function checkRealFileSystem(out: OutPath): void {
  const pseudo = pseudoFileSystem(out.parent);
  if (pseudo) throw new IoError(out.abs, `${out.parent} is on a pseudo file system (${pseudo}), not a disk; choose another out`);
}

/** The resolved parent directory, or IoError when it is missing or is not a directory. */
function existingParent(abs: string, parentAbs: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(parentAbs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new IoError(abs, `cannot read its parent directory ${parentAbs}: ${systemReason(error)}`, {cause: error});
    const blocker = nearestExisting(parentAbs);
    if (blocker && !blocker.isDir) throw new IoError(abs, `${blocker.path} is ${describeKind(blocker.stats)}, not a directory, so nothing can be created under it`);
    throw new IoError(abs, `parent directory ${parentAbs} does not exist; create it first or choose another out`);
  }
  if (!st.isDirectory()) throw new IoError(abs, `${parentAbs} is ${describeKind(st)}, not a directory, so nothing can be created under it`);
  return fs.realpathSync(parentAbs);
}

/** The deepest existing ancestor of p (following links), or null when none can be read. */
function nearestExisting(p: string): {path: string; stats: fs.Stats; isDir: boolean} | null {
  for (let dir = p; ; dir = path.dirname(dir)) {
    try {
      const stats = fs.statSync(dir);
      return {path: dir, stats, isDir: stats.isDirectory()};
    } catch {
      if (dir === path.dirname(dir)) return null;
    }
  }
}

/** The pseudo file system a resolved directory lies on (by path, then by statfs on Linux), or null. */
export function pseudoFileSystem(dir: string): string | null {
  const under = (root: string) => dir === root || dir.startsWith(`${root}/`);
  if (!ALLOWED_UNDER_PSEUDO.some(under)) {
    const root = Object.keys(PSEUDO_ROOTS).find(under);
    if (root) return PSEUDO_ROOTS[root]!;
  }
  if (process.platform !== 'linux') return null;
  try {
    return PSEUDO_FS[fs.statfsSync(dir).type >>> 0] ?? null;
  } catch {
    return null;
  }
}

export interface ReplaceRule {
  /** Replace an existing bundle (the `force` option). */
  force: boolean;
  /** The source model directory: never replaced, nor any directory holding it. */
  sourceDir: string;
  /** The current directory: never replaced, nor any directory holding it (default process.cwd()). */
  cwd?: string;
  /**
   * What `force` may replace (default: a hire bundle, hasBundleManifest): `test` says whether a
   * directory is one, `what` names it in the refusal, e.g. "model directories written by hire quantize".
   */
  replaceable?: {test: (dir: string) => boolean; what: string};
}

/**
 * Checks what exists at the target now. Returns true when a bundle is there that `force` may
 * replace, false when nothing is there; throws IoError for anything else.
 */
export function checkReplaceable(out: OutPath, rule: ReplaceRule): boolean {
  const {abs, target} = out;
  const st = existingEntry(out);
  if (st === null) return false;
  if (!rule.force) throw new IoError(abs, 'already exists; choose another out, or set force to replace it (only a hire bundle can be replaced)');
  if (!st.isDirectory()) throw new IoError(abs, `is ${describeKind(st)}, not a directory; force replaces only a hire bundle directory`);
  const source = realOrResolved(rule.sourceDir);
  if (target === source) throw new IoError(abs, 'is the source model directory; force never replaces it, choose another out');
  if (isAncestor(target, source)) throw new IoError(abs, `holds the source model ${source}; force never replaces it, choose another out`);
  const cwd = realOrResolved(rule.cwd ?? process.cwd());
  if (target === cwd) throw new IoError(abs, 'is the current directory; force never replaces it, choose another out');
  if (isAncestor(target, cwd)) throw new IoError(abs, `holds the current directory ${cwd}; force never replaces it, choose another out`);
  if (rule.replaceable) {
    if (!rule.replaceable.test(target)) throw new IoError(abs, `is not one of the ${rule.replaceable.what}; force replaces only those`);
    return true;
  }
  if (!hasBundleManifest(target)) {
    throw new IoError(abs, `is not a hire bundle (no ${MANIFEST_FILE} with "format": "${BUNDLE_FORMAT}"); force replaces only bundles written by hire calibrate`);
  }
  return true;
}

/**
 * checkReplaceable for a single output FILE (a GGUF file): true when a file is there that `force`
 * may replace (a regular file, not the source model, one that `rule.replaceable` accepts), false
 * when nothing is there; IoError for anything else.
 */
export function checkReplaceableFile(out: OutPath, rule: ReplaceRule & {replaceable: {test: (file: string) => boolean; what: string}}): boolean {
  const {abs, target} = out;
  const st = existingEntry(out);
  if (st === null) return false;
  if (!rule.force) throw new IoError(abs, `already exists; choose another out, or set force to replace it (only one of the ${rule.replaceable.what})`);
  if (!st.isFile()) throw new IoError(abs, `is ${describeKind(st)}, not a regular file; force replaces only one of the ${rule.replaceable.what}`);
  if (target === realOrResolved(rule.sourceDir)) throw new IoError(abs, 'is the source model; force never replaces it, choose another out');
  if (!rule.replaceable.test(target)) throw new IoError(abs, `is not one of the ${rule.replaceable.what}; force replaces only those`);
  return true;
}

/** What is at the target now (not following a link), or null when nothing is; IoError when it cannot be read. */
function existingEntry(out: OutPath): fs.Stats | null {
  try {
    return fs.lstatSync(out.target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new IoError(out.abs, `cannot read it: ${systemReason(error)}`, {cause: error});
  }
}

/** True when dir/hire.json is a regular file that parses as JSON with format "hire-bundle". */
export function hasBundleManifest(dir: string): boolean {
  const file = path.join(dir, MANIFEST_FILE);
  try {
    if (!fs.lstatSync(file).isFile()) return false;
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return json !== null && typeof json === 'object' && (json as {format?: unknown}).format === BUNDLE_FORMAT;
  } catch {
    return false;
  }
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** True when `dir` strictly contains `p` (both absolute and resolved). */
function isAncestor(dir: string, p: string): boolean {
  const prefix = dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`;
  return p.startsWith(prefix);
}

function describeKind(st: fs.Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'an unknown kind of file';
}
