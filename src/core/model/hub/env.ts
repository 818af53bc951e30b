/**
 * Where the Hugging Face cache lives, which hub to talk to, with which token, and whether to talk
 * at all: read from the same environment variables, with the same defaults, as the Python
 * huggingface_hub library, so that a model downloaded by either tool is found by the other.
 *
 *   cache     HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE (older name), else $HF_HOME/hub, where
 *             HF_HOME defaults to $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface
 *   endpoint  HF_ENDPOINT, else https://huggingface.co
 *   token     HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the file HF_TOKEN_PATH or $HF_HOME/token
 *   offline   HF_HUB_OFFLINE=1 (or true, yes, on): never send a request
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** The Hugging Face home folder (holds hub/ and the login token). */
export function hfHome(env: Env = process.env): string {
  if (env['HF_HOME']) return env['HF_HOME'];
  const cache = env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
  return path.join(cache, 'huggingface');
}

/** The hub cache folder: models--org--name/ folders live here. */
export function hubCacheDir(env: Env = process.env): string {
  return env['HF_HUB_CACHE'] || env['HUGGINGFACE_HUB_CACHE'] || path.join(hfHome(env), 'hub');
}

/** The hub's base URL, without a trailing slash. */
export function hubEndpoint(env: Env = process.env): string {
  return (env['HF_ENDPOINT'] || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** True when HF_HUB_OFFLINE forbids every request. */
export function hubOffline(env: Env = process.env): boolean {
  return ['1', 'true', 'yes', 'on'].includes((env['HF_HUB_OFFLINE'] ?? '').trim().toLowerCase());
}

/** Longest token file read; a token is under 100 characters. */
const TOKEN_FILE_MAX = 4096;

/** The access token for gated and private models, or undefined (anonymous). */
export function hubToken(env: Env = process.env): string | undefined {
  const fromEnv = env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'];
  if (fromEnv) return fromEnv.trim();
  const file = env['HF_TOKEN_PATH'] || path.join(hfHome(env), 'token');
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > TOKEN_FILE_MAX) return undefined;
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined; // no login: anonymous requests
  }
}
