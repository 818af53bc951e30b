/**
 * Reading the Hugging Face cache layout, offline:
 *
 *   <cache>/models--org--name/
 *     refs/main               the commit hash a branch or tag pointed at when it was downloaded
 *     snapshots/<commit>/...  the files of that commit, symlinks into ../../blobs/
 *     blobs/<etag>            file contents, named by sha256 (LFS files) or git sha1
 *
 * and telling whether a snapshot holds what loading a model needs.
 */
import fs from 'node:fs';
import path from 'node:path';
import {INDEX_FILE_NAME, SINGLE_FILE_NAME, readIndex} from '../formats/safetensors/index.js';
import {COMMIT_HASH} from './repo.js';

export interface CachedSnapshot {
  /** The models--org--name folder. */
  repoDir: string;
  commit: string;
  /** snapshots/<commit>. */
  dir: string;
}

function isDir(p: string): boolean {
  return fs.statSync(p, {throwIfNoEntry: false})?.isDirectory() ?? false;
}

/** A ref file's commit hash, or null when the file is missing or holds something else. */
function readRef(file: string): string | null {
  const st = fs.statSync(file, {throwIfNoEntry: false});
  if (!st?.isFile() || st.size > 256) return null;
  const text = fs.readFileSync(file, 'utf8').trim();
  return COMMIT_HASH.test(text) ? text : null;
}

/**
 * The snapshot of `revision` (a branch or tag through refs/, or a commit hash) in a repo folder,
 * or null when the cache does not hold it.
 */
export function findSnapshot(repoDir: string, revision: string): CachedSnapshot | null {
  const snapshots = path.join(repoDir, 'snapshots');
  const commit = COMMIT_HASH.test(revision) ? revision : readRef(path.join(repoDir, 'refs', ...revision.split('/')));
  if (commit === null) return null;
  const dir = path.join(snapshots, commit);
  return isDir(dir) ? {repoDir, commit, dir} : null;
}

/** Whether `dir` is a cache folder of a model repo (models--org--name with a snapshots/ folder). */
export function isRepoFolder(dir: string): boolean {
  return path.basename(path.resolve(dir)).startsWith('models--') && isDir(path.join(dir, 'snapshots'));
}

/** The snapshot a repo folder given as a path stands for: main's, else its only snapshot. */
export function folderSnapshot(repoDir: string): CachedSnapshot | null {
  const main = findSnapshot(repoDir, 'main');
  if (main) return main;
  const commits = fs.readdirSync(path.join(repoDir, 'snapshots')).filter((c) => COMMIT_HASH.test(c) && isDir(path.join(repoDir, 'snapshots', c)));
  return commits.length === 1 ? {repoDir, commit: commits[0]!, dir: path.join(repoDir, 'snapshots', commits[0]!)} : null;
}

/**
 * The files a model directory lacks for loading: config.json and the weights (model.safetensors,
 * or the index and every shard it lists). A link whose blob is gone counts as missing. An index
 * that cannot be read counts as present: loading then names its problem.
 */
export function missingModelFiles(dir: string): string[] {
  const has = (name: string) => fs.existsSync(path.join(dir, name));
  const missing = has('config.json') ? [] : ['config.json'];
  if (has(SINGLE_FILE_NAME)) return missing;
  if (!has(INDEX_FILE_NAME)) return [...missing, SINGLE_FILE_NAME];
  try {
    return [...missing, ...readIndex(path.join(dir, INDEX_FILE_NAME)).shards.filter((s) => !has(s))];
  } catch {
    return missing;
  }
}
