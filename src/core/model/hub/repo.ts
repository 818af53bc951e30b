/**
 * Hugging Face model references and the cache's names for them: `org/name[@revision]` (revision: a
 * branch, a tag or a 40-hex commit; default main) and the cache folder `models--org--name`.
 */

export interface RepoRef {
  /** `org/name`. */
  id: string;
  /** Branch, tag or commit hash (default 'main'). */
  revision: string;
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

/** `org/name` or `org/name@revision` as a RepoRef; null for anything else (a path, say). */
export function parseRepoRef(text: string): RepoRef | null {
  const at = text.indexOf('@');
  const id = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? 'main' : text.slice(at + 1);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every(validPart)) return null;
  if (!REVISION.test(revision) || revision.split('/').some((s) => s === '..' || s === '.')) return null;
  return {id, revision};
}

/** The reference as text: `org/name`, or `org/name@revision` when the revision is not main. */
export function formatRepoRef(ref: RepoRef): string {
  return ref.revision === 'main' ? ref.id : `${ref.id}@${ref.revision}`;
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
  return parseRepoRef(id) ? id : null;
}
