/**
 * Picking the one GGUF file hire loads from a Hugging Face repo of GGUF files. Most local-LLM
 * repos ship one file per quantisation (name.Q4_0.gguf, name.Q8_0.gguf, name.Q4_K_M.gguf), and
 * llama.cpp and ollama users pick one with a tag: `org/name:Q4_K_M`. The tag is matched,
 * case-insensitively, against the quant tag that ends each file name, or, when it ends in .gguf,
 * against the whole file name. Without a tag a repo with one GGUF file gives that file. Files split
 * in parts (name-00001-of-00003.gguf) are refused; vision projectors (mmproj-*.gguf) are not
 * models. The same rules serve the Hub's file listing (download.ts) and a cached snapshot
 * (locate.ts), so a pulled id resolves offline to the file it downloaded.
 */
import {HubError} from '../../errors.js';
import {formatRepoRef, type RepoRef} from './repo.js';

const GGUF = /\.gguf$/i;
const SPLIT = /-\d{5}-of-(\d{5})$/;
/** The quant tag ending a file name's stem: Q4_0, Q4_K_M, IQ4_XS, TQ1_0, F16, BF16, F32. */
const QUANT = /(?:^|[-._])((?:I|T)?Q\d+(?:_[A-Za-z0-9]+)*|BF16|F16|F32|F64)$/i;

/** Whether a file name is a GGUF model file (not a vision projector). */
export function isGgufModelFile(name: string): boolean {
  return GGUF.test(name) && !/^mmproj/i.test(name);
}

/** A file name without .gguf and without a split part's -0000i-of-0000n. */
function stemOf(name: string): string {
  return name.replace(GGUF, '').replace(SPLIT, '');
}

/** The quant tag in a GGUF file's name, spelt as the name spells it; null when it has none. */
export function quantTag(name: string): string | null {
  return QUANT.exec(stemOf(name))?.[1] ?? null;
}

/** The files a selector names: by whole name when it ends in .gguf, else by quant tag. */
export function matchGguf(names: readonly string[], tag: string): string[] {
  const want = tag.toLowerCase();
  const byName = GGUF.test(tag);
  return names.filter((n) => isGgufModelFile(n) && (byName ? n.toLowerCase() === want : quantTag(n)?.toLowerCase() === want));
}

/** What a selector asks for, in a message. */
export function describeSelector(tag: string): string {
  return GGUF.test(tag) ? tag : `a GGUF file tagged ${tag}`;
}

/** The models among GGUF file names, each as its files: the parts of one split file count once. */
function models(names: readonly string[]): string[][] {
  const byStem = new Map<string, string[]>();
  for (const n of names) byStem.set(stemOf(n), [...(byStem.get(stemOf(n)) ?? []), n]);
  return [...byStem.values()];
}

/** ":Q4_0, :Q8_0 or :Q4_K_M": each model's tag (its file name where it has none, or shares it). */
function choices(names: readonly string[]): string {
  const firsts = models(names).map((files) => files[0]!);
  const tags = firsts.map((f) => quantTag(f)?.toLowerCase());
  const unique = (t: string | undefined) => t !== undefined && tags.filter((u) => u === t).length === 1;
  const items = firsts.map((f, i) => `:${unique(tags[i]) ? quantTag(f) : f}`);
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/**
 * The GGUF file to load among a repo's (or a snapshot's) file names for `repo.tag` (absent: the
 * only one). A HubError names the choices when there is no single file to take.
 */
export function chooseGguf(repo: RepoRef, names: readonly string[]): string {
  const ref = formatRepoRef(repo);
  const ggufs = names.filter(isGgufModelFile);
  const picked = models(repo.tag === undefined ? ggufs : matchGguf(ggufs, repo.tag));
  if (picked.length === 1) {
    const files = picked[0]!;
    const split = SPLIT.exec(files[0]!.replace(GGUF, ''));
    if (split) {
      throw new HubError(ref, `${files[0]} is one part of a GGUF file split in ${Number(split[1])} parts; hire loads single-file GGUF only (llama.cpp's gguf-split --merge joins the parts)`);
    }
    return files[0]!;
  }
  if (ggufs.length === 0) throw new HubError(ref, `holds no GGUF files${repo.tag === undefined ? '' : `, so :${repo.tag} picks nothing`}`);
  if (repo.tag === undefined) throw new HubError(ref, `holds several GGUF files: add ${choices(ggufs)} to the id`);
  if (picked.length === 0) throw new HubError(ref, `holds no GGUF file ${GGUF.test(repo.tag) ? 'of that name' : `tagged ${repo.tag}`}; its GGUF files: ${choices(ggufs)}`);
  const files = picked.map((m) => m[0]).join(', ');
  throw new HubError(ref, `:${repo.tag} matches several GGUF files (${files}); give one file's name after ':' instead`);
}

/**
 * The GGUF file to fetch from the Hub's listing of a repo, or null for its safetensors checkpoint:
 * without a tag, a repo with safetensors weights (or without GGUF files) keeps that route. A tag
 * on a repo without GGUF files is a HubError.
 */
export function ggufToFetch(repo: RepoRef, names: readonly string[], hasSafetensors: boolean): string | null {
  const ggufs = names.filter(isGgufModelFile);
  if (repo.tag === undefined && (hasSafetensors || ggufs.length === 0)) return null;
  if (ggufs.length === 0 && hasSafetensors) {
    const plain = formatRepoRef({id: repo.id, revision: repo.revision});
    throw new HubError(formatRepoRef(repo), `holds safetensors weights and no GGUF files, so :${repo.tag} picks nothing; give it as ${plain} to download the checkpoint`);
  }
  return chooseGguf(repo, ggufs);
}
