/**
 * What the Hugging Face cache holds: one entry per models--org--name folder, with its size on disk,
 * the revisions its refs/ point at and the GGUF files its snapshots hold. Read-only and offline.
 */
import fs from 'node:fs';
import path from 'node:path';
import {diskUsage} from '../../io/disk-usage.js';
import {isGgufModelFile} from './gguf-files.js';
import {repoIdOfFolder} from './repo.js';

export interface CachedRepo {
  /** org/name. */
  id: string;
  /** The models--org--name folder. */
  dir: string;
  bytes: number;
  /** Branch or tag -> commit, from refs/. */
  refs: Record<string, string>;
  /** Commits with a snapshot folder. */
  snapshots: string[];
  /** The GGUF model files in its snapshots (each name once, sorted): `org/name:TAG` picks one. */
  gguf: string[];
}

function readRefs(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) Object.assign(out, readRefs(p, `${prefix}${e.name}/`));
    else if (e.isFile() && fs.statSync(p).size <= 256) out[`${prefix}${e.name}`] = fs.readFileSync(p, 'utf8').trim();
  }
  return out;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The model repos in a hub cache folder (none when it does not exist), sorted by id. */
export function scanHubCache(cacheDir: string): CachedRepo[] {
  const repos: CachedRepo[] = [];
  for (const name of listDir(cacheDir)) {
    const id = repoIdOfFolder(name);
    const dir = path.join(cacheDir, name);
    if (id === null || !fs.lstatSync(dir).isDirectory()) continue;
    const refsDir = path.join(dir, 'refs');
    const refs = fs.existsSync(refsDir) ? readRefs(refsDir) : {};
    const snapshots = listDir(path.join(dir, 'snapshots'));
    const gguf = [...new Set(snapshots.flatMap((s) => listDir(path.join(dir, 'snapshots', s)).filter(isGgufModelFile)))].sort();
    repos.push({id, dir, bytes: diskUsage(dir), refs, snapshots, gguf});
  }
  return repos.sort((a, b) => a.id.localeCompare(b.id));
}
