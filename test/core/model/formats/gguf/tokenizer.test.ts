/**
 * Tokenizers built from GGUF metadata: llama2xs's SentencePiece vocabulary, stored as a GGUF file
 * stores it (tokens, scores, types; no merges), encodes text exactly as its own tokenizer.json;
 * a byte-level BPE ("gpt2") vocabulary with merges and the llama-bpe pre-tokenizer round-trips
 * text and applies its merges.
 */
import fs from 'node:fs';
import {describe, expect, it} from 'vitest';
import {ggufTokenizer} from '../../../../../src/core/model/formats/gguf/index.js';
import {HireTokenizer} from '../../../../../src/core/model/tokenizer.js';
import type {GgufValue} from '../../../../../src/core/model/formats/gguf/index.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../../../../helpers/shared.js';
import {byteLevelGgufMeta} from '../../../../helpers/byte-level-vocab.js';

const TEXTS = ['Once upon a time, there was a little girl.', 'hello  world\n\nThe END! 123', 'ÿ€ émigré', ' leading space'];

describe('GGUF tokenizers', () => {
  it.runIf(HAVE_SHARED)('llama2xs: scores and token types give the same encodings as its tokenizer.json', () => {
    const json = JSON.parse(fs.readFileSync(`${LLAMA2XS_DIR}/tokenizer.json`, 'utf8'));
    const vocab = json.model.vocab as Record<string, number>;
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
    // a GGUF "llama" vocabulary ranks pieces by score: the merge that makes a piece earlier -> higher score
    const rank = new Map<string, number>();
    (json.model.merges as Array<string | [string, string]>).forEach((m, r) => {
      const [a, b] = typeof m === 'string' ? m.split(' ') : m;
      if (!rank.has(a! + b!)) rank.set(a! + b!, r);
    });
    const scores = tokens.map((t) => -(rank.get(t) ?? 1e6));
    const types = tokens.map((t, i) => (i === 0 ? 2 : i < 3 ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1));
    const meta = new Map<string, GgufValue>([
      ['tokenizer.ggml.model', 'llama'],
      ['tokenizer.ggml.tokens', tokens],
      ['tokenizer.ggml.scores', scores],
      ['tokenizer.ggml.token_type', types],
      ['tokenizer.ggml.bos_token_id', 1],
      ['tokenizer.ggml.eos_token_id', 2],
      ['tokenizer.ggml.unknown_token_id', 0],
    ]);
    const g = ggufTokenizer('llama2xs.gguf', meta);
    const ours = HireTokenizer.fromObjects('llama2xs.gguf', g.tokenizerJson, g.tokenizerConfig, null);
    const theirs = HireTokenizer.load(LLAMA2XS_DIR);
    for (const text of TEXTS) {
      expect(ours.encode(text), text).toEqual(theirs.encode(text));
      expect(ours.decode(ours.encode(text))).toBe(theirs.decode(theirs.encode(text)));
    }
  });

  it('gpt2 byte-level BPE with merges and the llama-bpe split', () => {
    const {meta, tokens} = byteLevelGgufMeta();
    const g = ggufTokenizer('byte-level.gguf', meta);
    const tok = HireTokenizer.fromObjects('byte-level.gguf', g.tokenizerJson, g.tokenizerConfig, null);
    const ids = tok.encode('hello world');
    expect(ids[0]).toBe(tokens.length - 1);
    expect(ids.slice(1, 2)).toEqual([tokens.indexOf('hello')]);
    expect(tok.decode(ids)).toBe('hello world');
    expect(tok.decode(tok.encode('naïve 42'))).toBe('naïve 42');
  });
});
