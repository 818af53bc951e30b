/**
 * GGUF export of tokenizers (vocab-out.ts) against the reader (tokenizer.ts): a byte-level BPE
 * vocabulary written out and read back is the same tokenizer (tokens, types, merges, split, BOS);
 * vocabularies GGUF cannot hold are one clear TokenizerError naming the file.
 */
import {describe, expect, it} from 'vitest';
import {ggufTokenizer} from '../../../../../src/core/model/formats/gguf/index.js';
import {ggufVocabulary} from '../../../../../src/core/model/formats/gguf/vocab-out.js';
import type {GgufValue} from '../../../../../src/core/model/formats/gguf/index.js';
import {HireTokenizer} from '../../../../../src/core/model/tokenizer.js';
import {TokenizerError} from '../../../../../src/core/errors.js';
import {caught} from '../../../../helpers/caught.js';
import {byteLevelGgufMeta} from '../../../../helpers/byte-level-vocab.js';

const NONE = {bosTokenId: null, eosTokenIds: [], addBos: false};
const asMap = (meta: ReturnType<typeof ggufVocabulary>) => new Map<string, GgufValue>(meta.map(([k, v]) => [k, v.value as GgufValue]));

describe('GGUF vocabulary export', () => {
  it('a byte-level BPE vocabulary survives the trip: same metadata, same encodings', () => {
    const {meta, tokens} = byteLevelGgufMeta();
    const first = ggufTokenizer('in.gguf', meta);
    const a = HireTokenizer.fromObjects('in.gguf', first.tokenizerJson, first.tokenizerConfig, null);
    const written = asMap(ggufVocabulary({file: 'tokenizer.json', tokenizerJson: first.tokenizerJson, special: a.special, chatTemplate: null, vocabSize: tokens.length}));
    expect(written.get('tokenizer.ggml.model')).toBe('gpt2');
    expect(written.get('tokenizer.ggml.pre')).toBe('llama-bpe');
    expect(written.get('tokenizer.ggml.tokens')).toEqual(tokens);
    expect(written.get('tokenizer.ggml.merges')).toEqual(meta.get('tokenizer.ggml.merges'));
    expect(written.get('tokenizer.ggml.token_type')).toEqual(meta.get('tokenizer.ggml.token_type'));
    expect(written.get('tokenizer.ggml.bos_token_id')).toBe(tokens.length - 1);
    expect(written.get('tokenizer.ggml.add_bos_token')).toBe(true);
    const second = ggufTokenizer('out.gguf', written);
    const b = HireTokenizer.fromObjects('out.gguf', second.tokenizerJson, second.tokenizerConfig, null);
    for (const text of ['hello world', 'naïve 42 <|begin|>', '  hellohello\n']) expect(b.encode(text), text).toEqual(a.encode(text));
  });

  it('pads the vocabulary to the embedding rows with unused control tokens', () => {
    const {meta, tokens} = byteLevelGgufMeta();
    const g = ggufTokenizer('in.gguf', meta);
    const special = HireTokenizer.fromObjects('in.gguf', g.tokenizerJson, g.tokenizerConfig, null).special;
    const written = asMap(ggufVocabulary({file: 'tokenizer.json', tokenizerJson: g.tokenizerJson, special, chatTemplate: '{{ x }}', vocabSize: tokens.length + 2}));
    expect((written.get('tokenizer.ggml.tokens') as string[]).slice(-2)).toEqual([`[PAD${tokens.length}]`, `[PAD${tokens.length + 1}]`]);
    expect((written.get('tokenizer.ggml.token_type') as number[]).slice(-2)).toEqual([3, 3]);
    expect(written.get('tokenizer.chat_template')).toBe('{{ x }}');
  });

  it('refuses what GGUF cannot hold, naming the file', () => {
    const wordPiece = {model: {type: 'WordPiece', vocab: {a: 0}}};
    const e1 = caught(() => ggufVocabulary({file: '/m/tokenizer.json', tokenizerJson: wordPiece, special: NONE, chatTemplate: null, vocabSize: 1}));
    expect(e1).toBeInstanceOf(TokenizerError);
    expect(e1.message).toMatch(/^\/m\/tokenizer\.json: has a WordPiece tokenizer; GGUF export writes BPE vocabularies only/);
    const tooMany = {model: {type: 'BPE', vocab: {a: 0, b: 5}, merges: []}, pre_tokenizer: {type: 'ByteLevel'}};
    const e2 = caught(() => ggufVocabulary({file: '/m/tokenizer.json', tokenizerJson: tooMany, special: NONE, chatTemplate: null, vocabSize: 3}));
    expect(e2.message).toMatch(/token "b" has id 5, past the model's 3 embedding rows/);
  });
});
