/**
 * Why: file names read from JSON (the shard names of a safetensors index) are joined to the model
 * directory and then opened, hashed, linked and copied. A name such as "../victim.txt" or
 * "/etc/passwd" would reach outside the directory, so every such name must be one plain path
 * segment. Hugging Face writes shard names as "model-00001-of-00002.safetensors" beside the index
 * (transformers and huggingface_hub join the bare name to the checkpoint folder and never write a
 * subfolder), so no separator is allowed at all. Symlinks are fine: the name is checked, not where
 * the link points; the reader then insists the opened target is a regular file.
 */
import type {MakeError} from './read-file.js';

/** Why `name` is not a single plain file name, or null when it is one. */
export function plainFileNameProblem(name: string): string | null {
  if (name === '') return 'it is empty';
  if (name === '.' || name === '..') return `"${name}" names a directory`;
  if (name.includes('\0')) return 'it contains a NUL character';
  if (name.startsWith('/')) return 'it is an absolute path';
  if (name.includes('/') || name.includes('\\')) return 'it has a path separator; only a file beside it is allowed';
  if (/^[A-Za-z]:/.test(name)) return 'it starts with a drive letter';
  return null;
}

/**
 * Throws `makeError(file, ...)` unless `name` (read from `file`, at `where`, e.g. `weight_map entry
 * "lm_head.weight"`) is a single plain file name; returns it otherwise.
 */
export function checkPlainFileName(name: string, file: string, where: string, makeError: MakeError): string {
  const problem = plainFileNameProblem(name);
  if (problem !== null) {
    throw makeError(file, `${where} names the file ${shortQuote(name)}, which must be a plain file name in the same directory (${problem})`);
  }
  return name;
}

/** A JSON-quoted name cut to a readable length. */
function shortQuote(name: string): string {
  const q = JSON.stringify(name);
  return q.length > 80 ? `${q.slice(0, 76)}..."` : q;
}
