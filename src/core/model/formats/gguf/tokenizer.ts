/**
 * A GGUF file's tokenizer metadata (tokenizer.ggml.*) as the Hugging Face files the tokenizer
 * library loads: a tokenizer.json object and a tokenizer_config.json object (special tokens,
 * add-BOS flag, chat template). Two vocabularies:
 *
 * - `llama` (SentencePiece BPE): tokens with scores and types. The merges are rebuilt from the
 *   scores as transformers' SentencePiece converter does: every split of a token into two tokens
 *   of the vocabulary is a merge ranked by the merged token's score (higher first; ties in id
 *   order). Normaliser "prepend ▁, spaces to ▁", byte fallback on <0xNN> tokens.
 * - `gpt2` (byte-level BPE): tokens and the merges list as stored; the pre-tokenizer split regex
 *   follows tokenizer.ggml.pre (llama-bpe / llama3, qwen2; otherwise GPT-2's own).
 *
 * Control, user-defined and unknown tokens become added tokens. Missing or malformed metadata is a
 * GgufError naming the key.
 */
import {GgufError} from '../../../errors.js';
import type {GgufValue} from './file.js';

type Json = Record<string, unknown>;

/** tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
const TOKEN_TYPE = {NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6} as const;

export const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
export const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export interface GgufTokenizer {
  tokenizerJson: Json;
  tokenizerConfig: Json;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** tokenizer.chat_template, kept for chat formatting (null when absent). */
  chatTemplate: string | null;
  vocabSize: number;
}

/** Reads the tokenizer metadata; throws GgufError naming the first missing or malformed key. */
export function ggufTokenizer(file: string, meta: ReadonlyMap<string, GgufValue>): GgufTokenizer {
  const get = (key: string) => meta.get(key);
  const model = get('tokenizer.ggml.model');
  if (model === undefined) throw new GgufError(file, 'has no tokenizer metadata (tokenizer.ggml.model); hire needs the vocabulary to read and write text');
  if (model !== 'llama' && model !== 'gpt2') throw new GgufError(file, `tokenizer.ggml.model is ${JSON.stringify(model)}; hire reads "llama" (SentencePiece) and "gpt2" (byte-level BPE) vocabularies`);
  const tokens = stringArray(file, get('tokenizer.ggml.tokens'), 'tokenizer.ggml.tokens');
  const n = tokens.length;
  const types = optionalNumbers(file, get('tokenizer.ggml.token_type'), 'tokenizer.ggml.token_type', n);
  const id = (key: string): number | null => {
    const v = get(key);
    if (v === undefined) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n) throw new GgufError(file, `${key} must be a token id below ${n}, got ${String(v)}`);
    return v;
  };
  const bos = id('tokenizer.ggml.bos_token_id');
  const eos = id('tokenizer.ggml.eos_token_id');
  const unk = id('tokenizer.ggml.unknown_token_id');
  const flag = (key: string, fallback: boolean) => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new GgufError(file, `${key} must be true or false, got ${String(v)}`);
    return v;
  };
  const addBos = flag('tokenizer.ggml.add_bos_token', model === 'llama') && bos !== null;
  const template = get('tokenizer.chat_template');
  if (template !== undefined && typeof template !== 'string') throw new GgufError(file, 'tokenizer.chat_template must be a string');
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (!(t in vocab)) vocab[t] = i;
  });
  const added = tokens.flatMap((content, i) => {
    const t = types?.[i] ?? TOKEN_TYPE.NORMAL;
    if (t !== TOKEN_TYPE.CONTROL && t !== TOKEN_TYPE.USER_DEFINED && t !== TOKEN_TYPE.UNKNOWN) return [];
    return [{id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: t === TOKEN_TYPE.USER_DEFINED, special: t !== TOKEN_TYPE.USER_DEFINED}];
  });
  const bpe =
    model === 'llama'
      ? {unk_token: unk === null ? null : tokens[unk], fuse_unk: true, byte_fallback: true, merges: spmMerges(file, meta, tokens, types, vocab)}
      : {unk_token: null, fuse_unk: false, byte_fallback: false, merges: stringArray(file, get('tokenizer.ggml.merges'), 'tokenizer.ggml.merges')};
  const tokenizerJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: model === 'llama' ? {type: 'Sequence', normalizers: [{type: 'Prepend', prepend: '▁'}, {type: 'Replace', pattern: {String: ' '}, content: '▁'}]} : null,
    pre_tokenizer: model === 'llama' ? null : byteLevelPreTokenizer(get('tokenizer.ggml.pre')),
    post_processor: addBos ? bosTemplate(tokens[bos!]!, bos!) : model === 'gpt2' ? {type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false} : null,
    decoder:
      model === 'llama'
        ? {type: 'Sequence', decoders: [{type: 'Replace', pattern: {String: '▁'}, content: ' '}, {type: 'ByteFallback'}, {type: 'Fuse'}, {type: 'Strip', content: ' ', start: 1, stop: 0}]}
        : {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true},
    model: {type: 'BPE', dropout: null, continuing_subword_prefix: null, end_of_word_suffix: null, ignore_merges: false, vocab, ...bpe},
  };
  const tokenizerConfig: Json = {
    add_bos_token: addBos,
    add_eos_token: flag('tokenizer.ggml.add_eos_token', false),
    bos_token: bos === null ? null : tokens[bos],
    eos_token: eos === null ? null : tokens[eos],
    unk_token: unk === null ? null : tokens[unk],
    clean_up_tokenization_spaces: false,
    ...(template === undefined ? {} : {chat_template: template}),
  };
  return {tokenizerJson, tokenizerConfig, bosTokenId: bos, eosTokenId: eos, chatTemplate: (template as string | undefined) ?? null, vocabSize: n};
}

function bosTemplate(token: string, id: number): Json {
  return {
    type: 'TemplateProcessing',
    single: [{SpecialToken: {id: token, type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}],
    pair: [{SpecialToken: {id: token, type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}, {SpecialToken: {id: token, type_id: 1}}, {Sequence: {id: 'B', type_id: 1}}],
    special_tokens: {[token]: {id: token, ids: [id], tokens: [token]}},
  };
}

function byteLevelPreTokenizer(pre: GgufValue | undefined): Json {
  const split = pre === 'llama-bpe' || pre === 'llama3' ? LLAMA3_SPLIT : pre === 'qwen2' ? QWEN2_SPLIT : null;
  if (split === null) return {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true};
  return {
    type: 'Sequence',
    pretokenizers: [
      {type: 'Split', pattern: {Regex: split}, behavior: 'Isolated', invert: false},
      {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false},
    ],
  };
}

/** SentencePiece merges from the scores (see the file comment), as "left right" strings. */
function spmMerges(file: string, meta: ReadonlyMap<string, GgufValue>, tokens: string[], types: number[] | null, vocab: Record<string, number>): string[] {
  const scores = optionalNumbers(file, meta.get('tokenizer.ggml.scores'), 'tokenizer.ggml.scores', tokens.length);
  if (scores === null) throw new GgufError(file, 'has a "llama" vocabulary without tokenizer.ggml.scores; the merges are built from them');
  const merges: Array<{pair: string; score: number}> = [];
  tokens.forEach((piece, i) => {
    const t = types?.[i] ?? TOKEN_TYPE.NORMAL;
    if (t !== TOKEN_TYPE.NORMAL && t !== TOKEN_TYPE.USER_DEFINED) return;
    const chars = Array.from(piece);
    const local: Array<[number, number, string]> = [];
    for (let k = 1; k < chars.length; k++) {
      const [l, r] = [chars.slice(0, k).join(''), chars.slice(k).join('')];
      if (l in vocab && r in vocab) local.push([vocab[l]!, vocab[r]!, `${l} ${r}`]);
    }
    local.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [, , pair] of local) merges.push({pair, score: scores[i]!});
  });
  // stable: equal scores keep the order above
  return merges
    .map((m, i) => ({...m, i}))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map((m) => m.pair);
}

function stringArray(file: string, v: GgufValue | undefined, key: string): string[] {
  if (v === undefined) throw new GgufError(file, `is missing ${key}`);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new GgufError(file, `${key} must be an array of strings`);
  if (v.length === 0) throw new GgufError(file, `${key} is empty`);
  return v as string[];
}

function optionalNumbers(file: string, v: GgufValue | undefined, key: string, n: number): number[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number')) {
    throw new GgufError(file, `${key} must be an array of ${n} numbers (one per token)`);
  }
  return v as number[];
}
