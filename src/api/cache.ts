/**
 * listCache() / clearCache(): what hire keeps on disk (the synthetic checkpoints `bench` writes
 * for named shapes) and the models in the Hugging Face cache, with their sizes; and removing them.
 * Never prints.
 */
import {cacheDir} from '../core/tasks/bench/models.js';
import {listCacheEntries, removeCacheEntries, type CacheDirs, type CacheEntry} from '../core/tasks/cache.js';
import {hubCacheDir} from '../core/model/hub/env.js';

export type {CacheEntry} from '../core/tasks/cache.js';

export interface CacheOptions {
  /** hire's own cache (default: HIRE_CACHE_DIR, else ~/.cache/hire). */
  hireDir?: string;
  /** The Hugging Face hub cache (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  hubDir?: string;
}

export interface CacheListing {
  hireDir: string;
  hubDir: string;
  entries: CacheEntry[];
  /** All entries together. */
  bytes: number;
}

export interface CacheClearResult {
  removed: CacheEntry[];
  /** Bytes freed. */
  bytes: number;
}

function dirs(options: CacheOptions): CacheDirs {
  return {hire: options.hireDir ?? cacheDir(), hub: options.hubDir ?? hubCacheDir()};
}

const total = (entries: readonly CacheEntry[]) => entries.reduce((n, e) => n + e.bytes, 0);

/** Every cache entry with its size: hire's synthetic checkpoints, then the Hugging Face models. */
export function listCache(options: CacheOptions = {}): CacheListing {
  const d = dirs(options);
  const entries = listCacheEntries(d);
  return {hireDir: d.hire, hubDir: d.hub, entries, bytes: total(entries)};
}

/**
 * Removes the named entries (a synthetic checkpoint's folder name, or a Hub id org/name); with no
 * names, every synthetic checkpoint of hire's (Hugging Face models are removed only by name). An
 * unknown name is a UsageError and nothing is removed.
 */
export function clearCache(names: readonly string[] = [], options: CacheOptions = {}): CacheClearResult {
  const removed = removeCacheEntries(dirs(options), names);
  return {removed, bytes: total(removed)};
}
