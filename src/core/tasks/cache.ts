/**
 * What hire keeps on disk between runs, and removing it: the synthetic checkpoints `bench` writes
 * for named shapes (<hire cache>/bench/, gigabytes for the larger shapes) and the models in the
 * Hugging Face cache. Clearing without names removes hire's own synthetic checkpoints only; a
 * Hugging Face model (shared with the Python tools) goes only when it is named.
 */
import fs from 'node:fs';
import path from 'node:path';
import {UsageError} from '../errors.js';
import {diskUsage} from '../io/disk-usage.js';
import {scanHubCache} from '../model/hub/cache-scan.js';
import {quantTag} from '../model/hub/gguf-files.js';
import {repoFolderName} from '../model/hub/repo.js';

export interface CacheEntry {
  /** 'bench': a synthetic checkpoint of hire's; 'hub': a model in the Hugging Face cache. */
  kind: 'bench' | 'hub';
  /** What names it: the folder name under bench/, or the Hub id org/name. */
  name: string;
  path: string;
  bytes: number;
  /** One line about it. */
  about: string;
}

export interface CacheDirs {
  /** hire's own cache (synthetic checkpoints under bench/). */
  hire: string;
  /** The Hugging Face hub cache. */
  hub: string;
}

/** bench/<name>.tmp-<pid>-<time>: a synthetic checkpoint being written (or left by a killed run). */
const UNFINISHED = /\.tmp-(\d+)-\d+$/;
const SHAPE = /^(.+)-(f32|bf16|f16)-seed(\d+)$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function benchEntries(hireDir: string): CacheEntry[] {
  const root = path.join(hireDir, 'bench');
  let names: string[];
  try {
    names = fs.readdirSync(root).sort();
  } catch {
    return [];
  }
  return names
    .filter((name) => fs.lstatSync(path.join(root, name)).isDirectory())
    .map((name) => {
      const p = path.join(root, name);
      const tmp = UNFINISHED.exec(name);
      const shape = SHAPE.exec(name);
      const about = tmp
        ? processAlive(Number(tmp[1])) ? `being written by process ${tmp[1]}` : 'left unfinished by a stopped run'
        : shape ? `synthetic ${shape[1]} (${shape[2]}, seed ${shape[3]}) for bench` : 'not written by this version of hire';
      return {kind: 'bench' as const, name, path: p, bytes: diskUsage(p), about};
    });
}

function hubEntries(hubDir: string): CacheEntry[] {
  return scanHubCache(hubDir).map((r) => {
    const refs = Object.entries(r.refs).map(([ref, commit]) => `${ref} ${commit.slice(0, 7)}`);
    // a repo of GGUF files: the tags that `org/name:TAG` loads from the cache
    const gguf = r.gguf.length ? `; GGUF ${[...new Set(r.gguf.map((f) => quantTag(f) ?? f))].join(', ')}` : '';
    const about = `Hugging Face model; ${refs.length ? refs.join(', ') : 'no refs'}; ${r.snapshots.length} snapshot${r.snapshots.length === 1 ? '' : 's'}${gguf}`;
    return {kind: 'hub' as const, name: r.id, path: r.dir, bytes: r.bytes, about};
  });
}

/** Every entry of both caches: hire's synthetic checkpoints first, then the Hub models. */
export function listCacheEntries(dirs: CacheDirs): CacheEntry[] {
  return [...benchEntries(dirs.hire), ...hubEntries(dirs.hub)];
}

/**
 * Removes the named entries (bench folder names or Hub ids), or with no names every synthetic
 * checkpoint of hire's except those another process is writing. Every name is checked before
 * anything is removed. Each entry is renamed aside first, so a removal cut short never leaves a
 * half-deleted folder under its usable name.
 */
export function removeCacheEntries(dirs: CacheDirs, names: readonly string[] = []): CacheEntry[] {
  const entries = listCacheEntries(dirs);
  let chosen: CacheEntry[];
  if (names.length === 0) {
    chosen = entries.filter((e) => e.kind === 'bench' && !e.about.startsWith('being written'));
  } else {
    chosen = names.map((name) => {
      const entry = entries.find((e) => e.name === name);
      if (!entry) {
        const known = entries.map((e) => e.name);
        throw new UsageError(`"${name}" is not in the cache; entries: ${known.length ? known.join(', ') : 'none'}`, {option: 'names'});
      }
      return entry;
    });
  }
  for (const entry of new Set(chosen)) removeFolder(entry.path);
  if (names.length > 0) {
    for (const e of chosen) if (e.kind === 'hub') fs.rmSync(path.join(dirs.hub, '.locks', repoFolderName(e.name)), {recursive: true, force: true});
  }
  return [...new Set(chosen)];
}

function removeFolder(dir: string): void {
  const aside = `${dir}.removing-${process.pid}`;
  fs.renameSync(dir, aside);
  fs.rmSync(aside, {recursive: true, force: true});
}
