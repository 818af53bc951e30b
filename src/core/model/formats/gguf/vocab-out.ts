/**
 * A Hugging Face checkpoint's tokenizer.json, with the special tokens and chat template the loaded
 * tokenizer resolved (HireTokenizer), as GGUF tokenizer metadata (tokenizer.ggml.*), for
 * `hire quantize --out model.gguf`. The inverse of tokenizer.ts, for the two vocabularies it reads:
 *
 * - SentencePiece-style BPE (byte fallback, a normaliser that turns spaces into ▁) -> "llama":
 *   tokens by id with scores and types. GGUF keeps no merges for this vocabulary: a reader rebuilds
 *   them from the scores, ranking every split of a token by the token's score. So a token's score
 *   is minus the rank of the first merge in tokenizer.json that makes it (merges made earlier rank
 *   higher); tokens no merge makes (characters, bytes, specials) score below every merge.
 * - Byte-level BPE -> "gpt2": tokens, the merges as "left right" strings, types, and
 *   tokenizer.ggml.pre naming the split regex when it is one tokenizer.ts knows (llama-bpe, qwen2),
 *   else "gpt2" (the ByteLevel pre-tokenizer's own regex).
 *
 * Added tokens become CONTROL (special) or USER_DEFINED tokens, <0xNN> pieces of a byte-fallback
 * vocabulary BYTE. Anything else (WordPiece, Unigram, an unknown split regex) is a TokenizerError that
 * names the file and says what GGUF export supports.
 */
import {TokenizerError} from '../../../errors.js';
import {LLAMA3_SPLIT, QWEN2_SPLIT} from './tokenizer.js';
import type {MetaValue} from './writer.js';

type Json = Record<string, unknown>;

/** llama.cpp's token types (tokenizer.ggml.token_type). */
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const USER_DEFINED = 4;
const BYTE = 6;

const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

export interface VocabSource {
  /** For messages: the file the tokenizer came from. */
  file: string;
  tokenizerJson: Json;
  /** BOS, EOS and whether encoding adds BOS, as the loaded tokenizer resolved them (HireTokenizer.special). */
  special: {bosTokenId: number | null; eosTokenIds: readonly number[]; addBos: boolean};
  /** The chat template's source (HireTokenizer.chatTemplate), or null. */
  chatTemplate: string | null;
  /** Rows of the embedding: the vocabulary is padded to it with unused tokens, never cut. */
  vocabSize: number;
}

/** The tokenizer.* metadata for a GGUF file; throws TokenizerError for a vocabulary GGUF cannot hold. */
export function ggufVocabulary(src: VocabSource): Array<[string, MetaValue]> {
  const model = (src.tokenizerJson['model'] ?? {}) as Json;
  if (model['type'] !== 'BPE') throw new TokenizerError(src.file, `has a ${String(model['type'])} tokenizer; GGUF export writes BPE vocabularies only (SentencePiece-style with byte fallback, or byte-level)`);
  const tokens = tokenList(src, model);
  const added = new Map<number, Json>();
  for (const a of (src.tokenizerJson['added_tokens'] ?? []) as Json[]) added.set(a['id'] as number, a);
  const spm = isSentencePiece(src.tokenizerJson, model);
  const merges = mergeList(src.file, model);
  const types = tokens.map((t, id) => {
    const a = added.get(id);
    if (a) return a['special'] === false ? USER_DEFINED : t === model['unk_token'] ? UNKNOWN : CONTROL;
    if (t === null) return CONTROL;
    return spm && BYTE_PIECE.test(t) ? BYTE : NORMAL;
  });
  const names = tokens.map((t, id) => t ?? `[PAD${id}]`);
  const meta: Array<[string, MetaValue]> = [['tokenizer.ggml.model', {type: 'string', value: spm ? 'llama' : 'gpt2'}]];
  if (!spm) meta.push(['tokenizer.ggml.pre', {type: 'string', value: preTokenizerName(src.file, src.tokenizerJson)}]);
  meta.push(['tokenizer.ggml.tokens', {type: 'strings', value: names}]);
  if (spm) meta.push(['tokenizer.ggml.scores', {type: 'f32s', value: spmScores(names, merges)}]);
  meta.push(['tokenizer.ggml.token_type', {type: 'i32s', value: types}]);
  if (!spm) meta.push(['tokenizer.ggml.merges', {type: 'strings', value: merges}]);
  const {bosTokenId: bos, eosTokenIds, addBos} = src.special;
  const eos = eosTokenIds[0] ?? null;
  const unk = typeof model['unk_token'] === 'string' ? names.indexOf(model['unk_token']) : -1;
  if (bos !== null) meta.push(['tokenizer.ggml.bos_token_id', {type: 'u32', value: bos}]);
  if (eos !== null) meta.push(['tokenizer.ggml.eos_token_id', {type: 'u32', value: eos}]);
  if (unk >= 0) meta.push(['tokenizer.ggml.unknown_token_id', {type: 'u32', value: unk}]);
  meta.push(['tokenizer.ggml.add_bos_token', {type: 'bool', value: bos !== null && addBos}]);
  if (src.chatTemplate !== null) meta.push(['tokenizer.chat_template', {type: 'string', value: src.chatTemplate}]);
  return meta;
}

/** Token strings by id (model vocab and added tokens), padded with null up to vocabSize. */
function tokenList(src: VocabSource, model: Json): Array<string | null> {
  const vocab = (model['vocab'] ?? {}) as Record<string, number>;
  const out: Array<string | null> = new Array(src.vocabSize).fill(null);
  const put = (t: string, id: number) => {
    if (!Number.isInteger(id) || id < 0) throw new TokenizerError(src.file, `token "${t}" has id ${id}`);
    if (id >= src.vocabSize) throw new TokenizerError(src.file, `token "${t}" has id ${id}, past the model's ${src.vocabSize} embedding rows`);
    out[id] = t;
  };
  for (const [t, id] of Object.entries(vocab)) put(t, id);
  for (const a of (src.tokenizerJson['added_tokens'] ?? []) as Json[]) put(a['content'] as string, a['id'] as number);
  return out;
}

/** tokenizer.json's merges as "left right" strings (either of its two spellings). */
function mergeList(file: string, model: Json): string[] {
  const merges = (model['merges'] ?? []) as unknown[];
  return merges.map((m) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && m.every((s) => typeof s === 'string')) return `${m[0]} ${m[1]}`;
    throw new TokenizerError(file, `has a merge that is neither "a b" nor ["a", "b"]: ${JSON.stringify(m).slice(0, 40)}`);
  });
}

/** Byte fallback and a normaliser that writes spaces as ▁: SentencePiece converted to BPE. */
function isSentencePiece(tok: Json, model: Json): boolean {
  if (model['byte_fallback'] !== true) return false;
  return JSON.stringify(tok['normalizer'] ?? null).includes('▁') || JSON.stringify(tok['pre_tokenizer'] ?? null).includes('▁');
}

/** Scores for a "llama" vocabulary (see the file comment). */
function spmScores(tokens: string[], merges: string[]): number[] {
  const made = new Map<string, number>();
  merges.forEach((m, rank) => {
    const piece = m.replace(' ', '');
    if (!made.has(piece)) made.set(piece, rank);
  });
  const floor = -(merges.length + 1);
  return tokens.map((t) => {
    const rank = made.get(t);
    return rank === undefined ? floor : -rank;
  });
}

/** tokenizer.ggml.pre for a byte-level vocabulary, from its split regex. */
function preTokenizerName(file: string, tok: Json): string {
  const text = JSON.stringify(tok['pre_tokenizer'] ?? null);
  if (!text.includes('ByteLevel')) throw new TokenizerError(file, 'has a BPE tokenizer that is neither SentencePiece-style (byte fallback) nor byte-level; GGUF export cannot write it');
  const regex = /"Regex":"((?:[^"\\]|\\.)*)"/.exec(text);
  if (!regex) return 'gpt2';
  const pattern = JSON.parse(`"${regex[1]}"`) as string;
  if (pattern === LLAMA3_SPLIT) return 'llama-bpe';
  if (pattern === QWEN2_SPLIT) return 'qwen2';
  throw new TokenizerError(file, 'splits text with a regex GGUF export does not know (it knows the Llama 3 and Qwen2 ones)');
}
