/**
 * Hugging Face model references and the cache's names for them: `org/name[@revision][:TAG]`
 * (revision: a branch, a tag or a 40-hex commit; default main; TAG: which GGUF file of a repo of
 * GGUF files, as llama.cpp and ollama users write it: a quant tag such as Q4_K_M, or a file name)
 * and the cache folder `models--org--name`.
 */
import {UsageError} from '../../errors.js';

export interface RepoRef {
  /** `org/name`. */
  id: string;
  /** Branch, tag or commit hash (default 'main'). */
  revision: string;
  /** The GGUF file to take from a repo of GGUF files: a quant tag (Q4_0) or a file name; absent: the default. */
  tag?: string;
}

/** A 40-hex commit hash: snapshots/ folders are named by these. */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** One part of a repo id as the Hub allows it: letters, digits, '-', '_', '.', no '--' or '..'. */
const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

/** A revision: branch or tag names may hold '/', never a '..' segment. */
const REVISION = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

function validPart(part: string): boolean {
  return PART.test(part) && !part.includes('--') && !part.includes('..');
}

/** A GGUF selector: a quant tag (Q4_K_M, IQ4_XS, F16) or a file name (letters, digits, '.', '_', '-'; no '..'). */
const TAG = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/;

function parseIdRevision(text: string): RepoRef | null {
  const at = text.indexOf('@');
  const id = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? 'main' : text.slice(at + 1);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every(validPart)) return null;
  if (!REVISION.test(revision) || revision.split('/').some((s) => s === '..' || s === '.')) return null;
  return {id, revision};
}

/**
 * `org/name`, `org/name@revision`, either with `:TAG`, as a RepoRef; null for anything else (a
 * path, say). An id whose part after ':' is not a tag is a UsageError (option `model`): the text
 * is plainly meant as an id, so "no such file" would not help.
 */
export function parseRepoRef(text: string): RepoRef | null {
  const colon = text.indexOf(':');
  if (colon < 0) return parseIdRevision(text);
  const ref = parseIdRevision(text.slice(0, colon));
  if (!ref) return null;
  const tag = text.slice(colon + 1);
  if (!TAG.test(tag) || tag.includes('..')) {
    throw new UsageError(
      `model "${text}": ${JSON.stringify(tag.slice(0, 80))} after ':' is not a GGUF quant tag (such as Q4_0 or Q4_K_M) or a .gguf file name; give it as org/name[@revision]:TAG`,
      {option: 'model'},
    );
  }
  return {...ref, tag};
}

/** The reference as text: `org/name`, with `@revision` when the revision is not main, and `:TAG` when it has one. */
export function formatRepoRef(ref: RepoRef): string {
  const base = ref.revision === 'main' ? ref.id : `${ref.id}@${ref.revision}`;
  return ref.tag === undefined ? base : `${base}:${ref.tag}`;
}

/** org/name -> models--org--name. */
export function repoFolderName(id: string): string {
  return `models--${id.split('/').join('--')}`;
}

/** models--org--name -> org/name; null for a folder name of another kind. */
export function repoIdOfFolder(folder: string): string | null {
  const m = /^models--(.+?)--(.+)$/.exec(folder);
  if (!m) return null;
  const id = `${m[1]}/${m[2]}`;
  return parseIdRevision(id)?.id === id ? id : null;
}
