/**
 * Models as users name them: a directory, a GGUF file, a Hugging Face cache folder, or a Hub id
 * `org/name[@revision]` found in the standard Hugging Face cache (the one the Python tools use;
 * HF_HUB_CACHE / HF_HOME move it); `org/name:TAG` picks one GGUF file of a repo of GGUF files
 * (`:Q4_0`, `:Q4_K_M`: the quant tag in its name). Resolution is offline first: a cached snapshot
 * is used without any request. Downloads happen only when asked for (`download: true`, or
 * pullModel()).
 */
import path from 'node:path';
import {hubCacheDir, hubEndpoint, hubOffline, hubToken} from '../core/model/hub/env.js';
import {locateModel, notCachedError} from '../core/model/hub/locate.js';
import {pullRepo, type PullResult} from '../core/model/hub/download.js';
import {parseRepoRef} from '../core/model/hub/repo.js';
import {HubError, UsageError} from '../core/errors.js';
import {throwIfAborted, type TaskOptions} from './progress.js';

export type {PullResult, PulledFile} from '../core/model/hub/download.js';

/** Where the Hugging Face cache and Hub are; each defaults to the environment, as in the Python tools. */
export interface HubOptions {
  /** The hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** The Hub's URL (default: HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Access token for gated or private models (default: HF_TOKEN, else the saved login token). */
  token?: string;
}

export interface ResolveOptions extends HubOptions, TaskOptions {
  /**
   * Download a Hub id the cache does not hold (or holds in part). Default false: such an id is a
   * HubError saying how to get it. HF_HUB_OFFLINE=1 forbids downloads.
   */
  download?: boolean;
}

export interface ResolvedModel {
  /** What to load: the reference itself, a snapshot folder in the cache, or the GGUF file in one. */
  dir: string;
  /** The Hub repo it came from (null for a plain directory). */
  repo: {id: string; revision: string; commit: string} | null;
  /** Whether files were downloaded to resolve it. */
  downloaded: boolean;
}

/** Download progress as the API's progress events: one stage per file, done/total in bytes. */
function fileProgress(options: TaskOptions) {
  return (file: string, done: number, total: number) => options.onProgress?.({stage: `downloading ${file}`, file, done, total});
}

/** A model reference as a directory to load; downloads only with `download: true`. */
export async function resolveModel(ref: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const loc = locateModel(ref, cacheDir);
  if (loc.kind === 'path') return {dir: loc.dir, repo: null, downloaded: false};
  if (loc.kind === 'cached') return {dir: loc.dir, repo: {id: loc.repo.id, revision: loc.repo.revision, commit: loc.commit}, downloaded: false};
  const offline = hubOffline();
  if (!options.download || offline) throw notCachedError(loc, offline);
  const pulled = await pullModel(ref, options);
  const dir = pulled.gguf === undefined ? pulled.dir : path.join(pulled.dir, pulled.gguf);
  return {dir, repo: {id: pulled.repo, revision: pulled.revision, commit: pulled.commit}, downloaded: pulled.files.some((f) => f.downloaded)};
}

/**
 * Downloads a Hub model (`org/name[@revision]`) into the Hugging Face cache: the files hire loads
 * (configs, tokenizer, safetensors weights, a HiRE bundle's files; from a repo of GGUF files only
 * the one GGUF file `:TAG` picks, or its only one, named in `gguf`), each checked against the Hub's
 * hash. Files already cached are kept; an interrupted file resumes on the next call. Always asks
 * the Hub which commit the revision names. `onProgress` gets `{stage, file, done, total}` (bytes).
 */
export async function pullModel(ref: string, options: HubOptions & TaskOptions = {}): Promise<PullResult> {
  const repo = parseRepoRef(ref);
  if (!repo) throw new UsageError(`model "${ref}" is not a Hugging Face id; give it as org/name or org/name@revision, with :TAG to pick a GGUF file (org/name:Q4_0)`, {option: 'model'});
  throwIfAborted(`download of ${ref}`, options.signal);
  const cacheDir = options.cacheDir ?? hubCacheDir();
  if (hubOffline()) {
    throw new HubError(ref, `HF_HUB_OFFLINE is set, so nothing is downloaded; unset it to download, or copy the model's folder into ${cacheDir}`);
  }
  return pullRepo(repo, {
    cacheDir,
    endpoint: options.endpoint ?? hubEndpoint(),
    token: options.token ?? hubToken(),
    signal: options.signal,
    onFile: fileProgress(options),
  });
}
