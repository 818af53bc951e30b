/**
 * The one place a model reference becomes a directory (or GGUF file), offline: a path (a checkpoint
 * or bundle directory, a GGUF file, or a models--org--name cache folder, which stands for its main
 * snapshot), or a Hugging Face id `org/name[@revision][:TAG]` looked up in the cache (with a tag, or
 * in a snapshot of GGUF files only: the GGUF file in the snapshot that gguf-files.ts picks). Nothing
 * here touches the network; a reference the cache cannot serve comes back as 'absent' for the
 * caller to download or report.
 */
import fs from 'node:fs';
import path from 'node:path';
import {HubError} from '../../errors.js';
import {INDEX_FILE_NAME, SINGLE_FILE_NAME} from '../formats/safetensors/index.js';
import {chooseGguf, describeSelector, isGgufModelFile, matchGguf} from './gguf-files.js';
import {formatRepoRef, parseRepoRef, repoFolderName, repoIdOfFolder, type RepoRef} from './repo.js';
import {findSnapshot, folderSnapshot, isRepoFolder, missingModelFiles} from './snapshot.js';

export type ModelLocation =
  /** A directory on disk, used as it is. */
  | {kind: 'path'; dir: string}
  /** A complete snapshot in the cache (dir), or the GGUF file in it (dir: the file's path). */
  | {kind: 'cached'; dir: string; repo: RepoRef; commit: string}
  /** A Hugging Face id the cache does not hold, or holds without `missing` files. */
  | {kind: 'absent'; repo: RepoRef; cacheDir: string; snapshot: string | null; missing: string[]};

export function locateModel(ref: string, cacheDir: string): ModelLocation {
  if (fs.existsSync(ref)) return isRepoFolder(ref) ? locateFolder(ref) : {kind: 'path', dir: ref};
  const repo = parseRepoRef(ref);
  if (!repo) return {kind: 'path', dir: ref}; // not an id: the loaders say what is wrong with the path
  const snap = findSnapshot(path.join(cacheDir, repoFolderName(repo.id)), repo.revision);
  if (!snap) return {kind: 'absent', repo, cacheDir, snapshot: null, missing: []};
  const ggufs = presentFiles(snap.dir).filter(isGgufModelFile);
  const cached = (file?: string) => ({kind: 'cached' as const, dir: file === undefined ? snap.dir : path.join(snap.dir, file), repo, commit: snap.commit});
  if (repo.tag !== undefined) {
    if (matchGguf(ggufs, repo.tag).length === 0) return {kind: 'absent', repo, cacheDir, snapshot: snap.dir, missing: [describeSelector(repo.tag)]};
    return cached(chooseGguf(repo, ggufs));
  }
  const missing = missingModelFiles(snap.dir);
  if (missing.length === 0) return cached();
  const gguf = untaggedGguf(repo, snap.dir);
  return gguf === null ? {kind: 'absent', repo, cacheDir, snapshot: snap.dir, missing} : cached(gguf);
}

/** A snapshot's files whose content is there (a link whose blob is gone counts as missing). */
function presentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => fs.existsSync(path.join(dir, n)));
}

/** The GGUF file an id without a tag stands for in a snapshot without safetensors weights; null when it holds no GGUF file. */
function untaggedGguf(repo: RepoRef, dir: string): string | null {
  const present = presentFiles(dir);
  const ggufs = present.filter(isGgufModelFile);
  if (ggufs.length === 0 || present.includes(SINGLE_FILE_NAME) || present.includes(INDEX_FILE_NAME)) return null;
  return chooseGguf(repo, ggufs);
}

/** A models--org--name folder given as a path: its main snapshot (or its only one), or the GGUF file in it. */
function locateFolder(folder: string): ModelLocation {
  const snap = folderSnapshot(folder);
  const id = repoIdOfFolder(path.basename(path.resolve(folder)));
  if (!snap) {
    const how = id ? `; download it with \`hire pull ${id}\`` : '';
    throw new HubError(folder, `is a Hugging Face cache folder with no snapshot for main (refs/main names none in snapshots/)${how}`);
  }
  const repo = {id: id ?? folder, revision: 'main'};
  const gguf = untaggedGguf(repo, snap.dir);
  return {kind: 'cached', dir: gguf === null ? snap.dir : path.join(snap.dir, gguf), repo, commit: snap.commit};
}

/** The error for a reference the cache cannot serve when downloads are off. */
export function notCachedError(loc: Extract<ModelLocation, {kind: 'absent'}>, offline: boolean): HubError {
  const ref = formatRepoRef(loc.repo);
  const where = loc.snapshot
    ? `the cached snapshot ${loc.snapshot} lacks ${loc.missing.join(', ')}`
    : `not in the Hugging Face cache ${loc.cacheDir} (and no directory of that name here)`;
  if (offline) {
    return new HubError(ref, `${where}, and HF_HUB_OFFLINE is set, so it cannot be downloaded; unset HF_HUB_OFFLINE to download it, or copy its ${repoFolderName(loc.repo.id)} folder into the cache`);
  }
  return new HubError(ref, `${where}; download it first with \`hire pull ${ref}\``, {option: 'download'});
}
