/**
 * A byte-level BPE trainer (the GPT-2 scheme) whose output is a tokenizer.json that
 * @huggingface/tokenizers and the Rust tokenizers library both load.
 *
 * - Ids: the special tokens first (<|bos|> = 0, <|eos|> = 1 by default), then the 256 byte tokens
 *   in byte order, then one id per learned merge. Any UTF-8 text encodes (every byte has a token)
 *   and decodes back to itself, except that a literal special-token string in the text becomes
 *   that special token.
 * - Training: the text is split with the GPT-2 pattern, identical pieces are counted once with
 *   their frequency, and merges are learned greedily on the most frequent adjacent pair. Pair
 *   counts are kept up to date incrementally (only pieces that contain the merged pair are
 *   rescanned) and the best pair comes from a lazy max-heap, so a 1 MB corpus and 4096 tokens
 *   take a second or two.
 * - Deterministic: ties between pairs of equal count go to the pair with the smaller ids.
 */
import fs from 'node:fs';
import path from 'node:path';
import {UsageError} from '../../errors.js';
import {BYTE_TO_CHAR, countPieces} from './byte-level.js';

export interface BpeOptions {
  /** Final vocabulary size, special tokens included. */
  vocabSize: number;
  /** Special tokens, given the first ids in this order. Default ['<|bos|>', '<|eos|>']. */
  specialTokens?: readonly string[];
  /** Pairs seen fewer times than this are never merged (training may stop short). Default 2. */
  minFrequency?: number;
}

export interface BpeModel {
  /** id -> token string (byte-level characters; specials as given). */
  vocab: string[];
  /** Learned merges in rank order, as pairs of token strings. */
  merges: Array<[string, string]>;
  specialTokens: string[];
}

export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<|bos|>', '<|eos|>'];

/** Pair key: both ids below 2^16 (vocabularies here are far smaller). */
const KEY_BASE = 65536;

export function trainBpe(text: string, opts: BpeOptions): BpeModel {
  const specialTokens = [...(opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS)];
  const minFrequency = opts.minFrequency ?? 2;
  const base = specialTokens.length + 256;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < base || opts.vocabSize >= KEY_BASE) {
    throw new UsageError(`vocabulary size must be an integer in [${base}, ${KEY_BASE - 1}], got ${opts.vocabSize}`);
  }
  if (new Set(specialTokens).size !== specialTokens.length) throw new UsageError('special tokens must be distinct');

  const vocab: string[] = [...specialTokens, ...BYTE_TO_CHAR];
  const ids = new Map<string, number>();
  BYTE_TO_CHAR.forEach((c, b) => ids.set(c, specialTokens.length + b));
  const reserved = new Set(specialTokens);
  const merges: Array<[string, string]> = [];

  const words = WordTable.fromText(text, specialTokens.length);
  const banned = new Set<number>();
  while (vocab.length < opts.vocabSize) {
    const best = words.popBest(banned);
    if (best === null || best.count < minFrequency) break;
    const a = Math.floor(best.key / KEY_BASE);
    const b = best.key % KEY_BASE;
    const merged = vocab[a]! + vocab[b]!;
    if (reserved.has(merged)) {
      banned.add(best.key); // a merge that would spell a special token: never make it
      continue;
    }
    let id = ids.get(merged);
    if (id === undefined) {
      id = vocab.length;
      vocab.push(merged);
      ids.set(merged, id);
    }
    merges.push([vocab[a]!, vocab[b]!]);
    words.merge(best.key, id);
  }
  return {vocab, merges, specialTokens};
}

interface HeapEntry {
  count: number;
  key: number;
}

/** Distinct pieces as symbol-id sequences, with pair counts, a pair -> pieces index and a heap. */
class WordTable {
  private readonly pairCounts = new Map<number, number>();
  /** Pieces that contained the pair at some point (may be stale; checked on use). */
  private readonly pairWords = new Map<number, number[]>();
  private readonly heap: HeapEntry[] = [];
  /** Per piece: the last merge that visited it, to visit each piece once per merge. */
  private readonly stamp: Int32Array;
  private mergeCount = 0;

  private constructor(
    private readonly syms: number[][],
    private readonly freq: number[],
  ) {
    this.stamp = new Int32Array(syms.length).fill(-1);
    syms.forEach((s, w) => this.addPairs(s, freq[w]!, w, null));
    for (const [key, count] of this.pairCounts) this.push({count, key});
  }

  static fromText(text: string, byteOffset: number): WordTable {
    const encoder = new TextEncoder();
    const syms: number[][] = [];
    const freq: number[] = [];
    // Sorted so the table (and so tie-breaking order of equal-count pairs) is independent of Map order.
    const pieces = [...countPieces(text)].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    for (const [piece, count] of pieces) {
      syms.push(Array.from(encoder.encode(piece), (b) => b + byteOffset));
      freq.push(count);
    }
    return new WordTable(syms, freq);
  }

  /** The most frequent pair (ties: smaller key), removed from the heap; null when none is left. */
  popBest(banned: ReadonlySet<number>): HeapEntry | null {
    while (this.heap.length > 0) {
      const top = this.pop();
      if (this.pairCounts.get(top.key) === top.count && top.count > 0 && !banned.has(top.key)) return top;
    }
    return null;
  }

  /** Replaces every (a, b) with `id` in the pieces that hold it, updating counts and the heap. */
  merge(key: number, id: number): void {
    const a = Math.floor(key / KEY_BASE);
    const b = key % KEY_BASE;
    const stamp = this.mergeCount++;
    const changed = new Set<number>();
    for (const w of this.pairWords.get(key) ?? []) {
      if (this.stamp[w] === stamp) continue;
      this.stamp[w] = stamp;
      const old = this.syms[w]!;
      if (!containsPair(old, a, b)) continue;
      const next: number[] = [];
      for (let i = 0; i < old.length; i++) {
        if (i + 1 < old.length && old[i] === a && old[i + 1] === b) {
          next.push(id);
          i++;
        } else {
          next.push(old[i]!);
        }
      }
      this.addPairs(old, -this.freq[w]!, w, changed);
      this.addPairs(next, this.freq[w]!, w, changed);
      this.syms[w] = next;
    }
    this.pairWords.delete(key);
    for (const k of changed) {
      const count = this.pairCounts.get(k) ?? 0;
      if (count > 0) this.push({count, key: k});
      else this.pairCounts.delete(k);
    }
  }

  /** Adds `delta` to the count of every adjacent pair of `s`; indexes piece `w` under new pairs. */
  private addPairs(s: number[], delta: number, w: number, changed: Set<number> | null): void {
    for (let i = 0; i + 1 < s.length; i++) {
      const k = s[i]! * KEY_BASE + s[i + 1]!;
      this.pairCounts.set(k, (this.pairCounts.get(k) ?? 0) + delta);
      changed?.add(k);
      if (delta > 0) {
        const list = this.pairWords.get(k);
        if (list === undefined) this.pairWords.set(k, [w]);
        else if (list[list.length - 1] !== w) list.push(w);
      }
    }
  }

  private better(x: HeapEntry, y: HeapEntry): boolean {
    return x.count > y.count || (x.count === y.count && x.key < y.key);
  }

  private push(e: HeapEntry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): HeapEntry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.better(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.better(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function containsPair(s: number[], a: number, b: number): boolean {
  for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) return true;
  return false;
}

/** The tokenizer.json object (Hugging Face format, ByteLevel pre-tokenizer and decoder). */
export function tokenizerJson(model: BpeModel): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  model.vocab.forEach((token, id) => (vocab[token] = id));
  const byteLevel = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true};
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: model.specialTokens.map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      // "a b" strings: byte-level tokens never contain a space, and every reader accepts this form.
      merges: model.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * tokenizer_config.json: BOS/EOS named, and add_bos_token false because the model is trained on
 * windows cut from running text with no BOS in front.
 */
export function tokenizerConfigJson(model: BpeModel): Record<string, unknown> {
  const [bos, eos] = model.specialTokens;
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bos ?? null,
    eos_token: eos ?? null,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000,
  };
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (created if needed). */
export function writeTokenizerFiles(dir: string, model: BpeModel): void {
  fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerJson(model))}\n`);
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfigJson(model), null, 2)}\n`);
}
