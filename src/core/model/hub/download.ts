/**
 * Downloading a model from the Hugging Face Hub into the standard cache layout, so the Python
 * tools and hire share one copy. @huggingface/hub asks the Hub which commit a revision names, lists
 * the commit's files and serves each file's bytes; this module picks the files hire loads (the
 * configs, the tokenizer, a HiRE bundle's files and the safetensors weights: model.safetensors, or
 * the index and the shards it lists; from a repo of GGUF files, only the one GGUF file chosen, which
 * holds the tokenizer and chat template too), writes each through blob.ts (verified, resumable),
 * links it into snapshots/<commit>/, and points refs/<revision> at the commit last.
 */
import path from 'node:path';
import type {ListFileEntry} from '@huggingface/hub';
import {AbortError, HubError} from '../../errors.js';
import {INDEX_FILE_NAME, SINGLE_FILE_NAME, readIndex} from '../formats/safetensors/index.js';
import {ensureBlob, linkIntoSnapshot, writeAtomic, type BlobSpec} from './blob.js';
import {hubFailure, type FailureContext} from './failures.js';
import {ggufToFetch} from './gguf-files.js';
import {COMMIT_HASH, formatRepoRef, repoFolderName, type RepoRef} from './repo.js';

type HubLibrary = typeof import('@huggingface/hub');

/**
 * Files hire reads beside the weights, when the repo has them. hire.json and hire.safetensors are
 * a HiRE bundle's (their names live in hire/bundle/names.ts, a floor above this one).
 */
const MODEL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'hire.json', 'hire.safetensors'];

export interface PullOptions {
  /** The hub cache folder (models--org--name/ go here). */
  cacheDir: string;
  /** The Hub's base URL. */
  endpoint: string;
  /** Access token for gated and private models. */
  token?: string;
  signal?: AbortSignal;
  /** Bytes of one file present so far: from where it starts (0, or a resumed part) to its size. */
  onFile?: (file: string, done: number, total: number) => void;
}

export interface PulledFile {
  file: string;
  bytes: number;
  /** False when the cache already held it. */
  downloaded: boolean;
}

export interface PullResult {
  /** org/name. */
  repo: string;
  revision: string;
  commit: string;
  /** The snapshot folder: a model directory, or the folder of the GGUF file. */
  dir: string;
  /** From a repo of GGUF files: the one GGUF file downloaded (its name in dir), the model to load. */
  gguf?: string;
  files: PulledFile[];
}

/** Downloads what the cache lacks of `repo` at its revision; always asks the Hub which commit that is. */
export async function pullRepo(repo: RepoRef, o: PullOptions): Promise<PullResult> {
  const ref = formatRepoRef(repo);
  const ctx: FailureContext = {ref, endpoint: o.endpoint, cacheDir: o.cacheDir, folder: repoFolderName(repo.id), token: o.token !== undefined, signal: o.signal};
  if (o.token !== undefined && !o.token.startsWith('hf_')) {
    throw new HubError(ref, 'the token in HF_TOKEN (or the saved login) is not a Hugging Face access token (those start with hf_)');
  }
  const hub = (await import('@huggingface/hub')) as HubLibrary;
  const fetchWithSignal: typeof fetch = (input, init) => fetch(input, {...init, signal: o.signal});
  const common = {repo: {type: 'model' as const, name: repo.id}, hubUrl: o.endpoint, accessToken: o.token, fetch: fetchWithSignal};
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (o.signal?.aborted) throw new AbortError(`download of ${ref}`, {cause: o.signal.reason});
    try {
      return await fn();
    } catch (err) {
      throw hubFailure(err, ctx);
    }
  };

  const commit = COMMIT_HASH.test(repo.revision)
    ? repo.revision
    : await guard(async () => (await hub.modelInfo({...common, name: repo.id, revision: repo.revision, additionalFields: ['sha']})).sha);
  if (typeof commit !== 'string' || !COMMIT_HASH.test(commit)) throw new HubError(ref, `${o.endpoint} named no commit for revision ${repo.revision}`);
  const listing = await guard(async () => {
    const entries: ListFileEntry[] = [];
    for await (const e of hub.listFiles({...common, revision: commit})) if (e.type === 'file') entries.push(e);
    return new Map(entries.map((e) => [e.path, e]));
  });

  const repoDir = path.join(o.cacheDir, repoFolderName(repo.id));
  const dir = path.join(repoDir, 'snapshots', commit);
  const files: PulledFile[] = [];
  const fetchOne = async (name: string) => {
    const entry = listing.get(name)!;
    const spec: BlobSpec = {file: name, etag: entry.lfs?.oid ?? entry.oid ?? '', size: entry.lfs?.size ?? entry.size, lfs: entry.lfs !== undefined};
    const downloaded = await guard(() =>
      ensureBlob(ref, path.join(repoDir, 'blobs'), spec, {
        open: async (offset) => {
          const blob = await hub.downloadFile({...common, path: name, revision: commit, xet: false});
          if (!blob) throw new HubError(ref, `${o.endpoint} listed ${name} at ${commit} but does not serve it`);
          return (offset > 0 ? blob.slice(offset) : blob).stream() as unknown as AsyncIterable<Uint8Array>;
        },
        onBytes: (done, total) => o.onFile?.(name, done, total),
        signal: o.signal,
      }),
    );
    linkIntoSnapshot(path.join(repoDir, 'blobs', spec.etag), path.join(dir, name));
    files.push({file: name, bytes: spec.size, downloaded});
  };

  const gguf = ggufToFetch(repo, [...listing.keys()], listing.has(SINGLE_FILE_NAME) || listing.has(INDEX_FILE_NAME));
  if (gguf !== null) {
    await fetchOne(gguf);
  } else {
    if (!listing.has('config.json')) throw new HubError(ref, `holds no config.json at ${commit}: not a model checkpoint hire can load`);
    if (!listing.has(SINGLE_FILE_NAME) && !listing.has(INDEX_FILE_NAME)) {
      throw new HubError(ref, `holds neither ${SINGLE_FILE_NAME} nor ${INDEX_FILE_NAME} nor a GGUF file: hire loads safetensors weights or GGUF files only`);
    }
    for (const name of MODEL_FILES) if (listing.has(name)) await fetchOne(name);
    for (const name of await weightFiles(ref, listing, dir, fetchOne)) await fetchOne(name);
  }
  if (!COMMIT_HASH.test(repo.revision)) writeAtomic(path.join(repoDir, 'refs', ...repo.revision.split('/')), commit);
  return {repo: repo.id, revision: repo.revision, commit, dir, ...(gguf === null ? {} : {gguf}), files};
}

/** The weight files to fetch: model.safetensors, else the index (fetched here) and its shards. */
async function weightFiles(ref: string, listing: Map<string, ListFileEntry>, dir: string, fetchOne: (name: string) => Promise<void>): Promise<string[]> {
  if (listing.has(SINGLE_FILE_NAME)) return [SINGLE_FILE_NAME];
  await fetchOne(INDEX_FILE_NAME);
  const shards = readIndex(path.join(dir, INDEX_FILE_NAME)).shards;
  const absent = shards.filter((s) => !listing.has(s));
  if (absent.length > 0) throw new HubError(ref, `${INDEX_FILE_NAME} lists shards the repo does not hold: ${absent.slice(0, 3).join(', ')}`);
  return shards;
}
