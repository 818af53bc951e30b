import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, describe, expect, it} from 'vitest';
import {tinyTokenizerJson} from '../../helpers/tiny-tokenizer.js';
import {ConfigError, TokenizerError} from '../../../src/core/errors.js';
import {HireTokenizer, resolveSpecialTokens} from '../../../src/core/model/tokenizer.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const llamaDir = path.resolve(projectRoot, '../shared/models/llama2xs');
const haveLlama = fs.existsSync(path.join(llamaDir, 'tokenizer.json'));
if (!haveLlama) console.warn(`skipping llama2xs tokenizer tests: ${llamaDir} is absent`);

interface Reference {
  prompt: string;
  prompt_token_ids: number[];
  greedy_token_ids: number[];
  greedy_text: string;
}

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, {recursive: true, force: true});
});

/** A temp model dir holding the given files (objects are written as JSON, strings verbatim). */
function modelDir(files: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-tok-'));
  tmpDirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

describe.skipIf(!haveLlama)('HireTokenizer on llama2xs', () => {
  const ref = haveLlama
    ? (JSON.parse(fs.readFileSync(path.join(llamaDir, 'REFERENCE.json'), 'utf8')) as Reference)
    : null;

  it('encodes the prompt to the reference ids, BOS included exactly once', () => {
    const tok = HireTokenizer.load(llamaDir);
    expect(tok.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(tok.encode(ref!.prompt)).toEqual(ref!.prompt_token_ids);
    expect(tok.encode('Once upon a time', {addSpecialTokens: false})).toEqual([403, 407, 261, 378]);
  });

  it('decodes the reference greedy ids to the reference text', () => {
    const tok = HireTokenizer.load(llamaDir);
    expect(tok.decode(ref!.greedy_token_ids)).toBe(ref!.greedy_text);
    expect(tok.decode(ref!.greedy_token_ids, {skipSpecialTokens: false})).toBe(`<s> ${ref!.greedy_text}`);
    expect(tok.decode([])).toBe('');
  });

  it('resolves special tokens and vocabulary size', () => {
    const tok = HireTokenizer.load(llamaDir);
    expect(tok.special).toEqual({bosTokenId: 1, eosTokenIds: [2], padTokenId: null, addBos: true});
    expect(resolveSpecialTokens(llamaDir)).toEqual(tok.special);
    expect(tok.vocabSize).toBe(512);
    expect(tok.idToToken(13)).toBe('<0x0A>');
    expect(() => tok.decode([512])).toThrow(TokenizerError);
  });

  it('round-trips text with byte-fallback characters', () => {
    const tok = HireTokenizer.load(llamaDir);
    const text = 'Hi 😀 there, naïve café\nend';
    expect(tok.decode(tok.encode(text))).toBe(text);
  });
});

describe('BOS policy', () => {
  const text = 'hi a';
  const body = [265, 259, 260]; // ▁hi ▁ a

  it('keeps the post-processor BOS once when the template adds it', () => {
    const dir = modelDir({'tokenizer.json': tinyTokenizerJson(true), 'config.json': {bos_token_id: 1, eos_token_id: 2}});
    const tok = HireTokenizer.load(dir);
    expect(tok.special.addBos).toBe(true);
    expect(tok.encode(text)).toEqual([1, ...body]);
    expect(tok.encode(text, {addSpecialTokens: false})).toEqual(body);
  });

  it('prepends BOS itself when add_bos_token is true but nothing in tokenizer.json adds it', () => {
    const dir = modelDir({
      'tokenizer.json': tinyTokenizerJson(false),
      'tokenizer_config.json': {add_bos_token: true, bos_token: '<s>', eos_token: '</s>'},
    });
    const tok = HireTokenizer.load(dir);
    expect(tok.special).toEqual({bosTokenId: 1, eosTokenIds: [2], padTokenId: null, addBos: true});
    expect(tok.encode(text)).toEqual([1, ...body]);
    expect(tok.encode(text, {addSpecialTokens: false})).toEqual(body);
  });

  it('drops the template BOS when add_bos_token is explicitly false', () => {
    const dir = modelDir({
      'tokenizer.json': tinyTokenizerJson(true),
      'tokenizer_config.json': {add_bos_token: false, bos_token: '<s>'},
    });
    const tok = HireTokenizer.load(dir);
    expect(tok.special.addBos).toBe(false);
    expect(tok.encode(text)).toEqual(body);
  });

  it('adds no BOS when neither the template nor tokenizer_config asks for it', () => {
    const dir = modelDir({'tokenizer.json': tinyTokenizerJson(false), 'config.json': {bos_token_id: 1}});
    const tok = HireTokenizer.load(dir);
    expect(tok.special.addBos).toBe(false);
    expect(tok.encode(text)).toEqual(body);
  });
});

describe('resolveSpecialTokens', () => {
  it('returns nothing for a directory without any of the files', () => {
    expect(resolveSpecialTokens(modelDir({}))).toEqual({bosTokenId: null, eosTokenIds: [], padTokenId: null, addBos: false});
  });

  it('lets generation_config override config, and accepts an eos list', () => {
    const dir = modelDir({
      'config.json': {bos_token_id: 1, eos_token_id: 2, pad_token_id: 0},
      'generation_config.json': {bos_token_id: 5, eos_token_id: [7, 8, 7]},
    });
    expect(resolveSpecialTokens(dir)).toEqual({bosTokenId: 5, eosTokenIds: [7, 8], padTokenId: 0, addBos: false});
  });

  it('reads an eos list from config.json and falls back to it when generation_config is silent', () => {
    const dir = modelDir({'config.json': {eos_token_id: [2, 3]}, 'generation_config.json': {do_sample: true}});
    expect(resolveSpecialTokens(dir).eosTokenIds).toEqual([2, 3]);
  });

  it('maps tokenizer_config token strings and {content} objects through tokenizer.json', () => {
    const dir = modelDir({
      'tokenizer.json': tinyTokenizerJson(false),
      'tokenizer_config.json': {bos_token: {content: '<s>', special: true}, eos_token: '</s>', pad_token: '<unk>', add_bos_token: true},
    });
    expect(resolveSpecialTokens(dir)).toEqual({bosTokenId: 1, eosTokenIds: [2], padTokenId: 0, addBos: true});
  });

  it('prefers config ids over tokenizer_config strings', () => {
    const dir = modelDir({
      'tokenizer.json': tinyTokenizerJson(false),
      'config.json': {eos_token_id: 9},
      'tokenizer_config.json': {eos_token: '</s>'},
    });
    expect(resolveSpecialTokens(dir).eosTokenIds).toEqual([9]);
  });

  it('throws a ConfigError naming a file with invalid JSON', () => {
    const dir = modelDir({'config.json': {eos_token_id: 2}, 'generation_config.json': '{"eos_token_id": 2,'});
    const file = path.join(dir, 'generation_config.json');
    expect(() => resolveSpecialTokens(dir)).toThrow(ConfigError);
    expect(() => resolveSpecialTokens(dir)).toThrow(file);
  });

  it('throws a ConfigError for a malformed id or an unknown token string', () => {
    const badId = modelDir({'config.json': {eos_token_id: 'two'}});
    expect(() => resolveSpecialTokens(badId)).toThrow(`${path.join(badId, 'config.json')}: eos_token_id must be`);
    const unknown = modelDir({'tokenizer.json': tinyTokenizerJson(false), 'tokenizer_config.json': {eos_token: '<eot>'}});
    expect(() => resolveSpecialTokens(unknown)).toThrow(/tokenizer_config\.json: eos_token "<eot>" is not in/);
  });
});

describe('HireTokenizer.load errors', () => {
  it('names the missing tokenizer.json and says how to go on without it', () => {
    const dir = modelDir({'config.json': {}});
    const expected = path.join(dir, 'tokenizer.json');
    expect(() => HireTokenizer.load(dir)).toThrow(TokenizerError);
    expect(() => HireTokenizer.load(dir)).toThrow(`${expected}: not found`);
    expect(() => HireTokenizer.load(dir)).toThrow('give the prompt as token ids');
  });

  it('names a tokenizer.json with invalid JSON', () => {
    const dir = modelDir({'tokenizer.json': '{not json'});
    expect(() => HireTokenizer.load(dir)).toThrow(`${path.join(dir, 'tokenizer.json')}: invalid JSON`);
  });
});
