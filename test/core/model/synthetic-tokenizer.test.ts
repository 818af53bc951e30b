import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {ensureSyntheticTokenizer} from '../../../src/core/model/synthetic-tokenizer.js';
import {HireTokenizer} from '../../../src/core/model/tokenizer.js';
import {BENCH_SEED, ensureSyntheticModel} from '../../../src/core/tasks/bench/models.js';
import {SYNTHETIC_SHAPES, syntheticConfig} from '../../../src/core/model/synthetic.js';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-syntok-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

function load(vocabSize: number, bos: number | null, eos: number | null): HireTokenizer {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({vocab_size: vocabSize, bos_token_id: bos, eos_token_id: eos}));
  expect(ensureSyntheticTokenizer(dir, {vocabSize, bosTokenId: bos, eosTokenId: eos})).toBe(true);
  return HireTokenizer.load(dir);
}

describe('synthetic tokenizer', () => {
  it('has exactly the vocabulary size, and every id decodes', () => {
    const tok = load(1000, 1, 2);
    expect(tok.vocabSize).toBe(1000);
    for (let id = 0; id < 1000; id++) expect(typeof tok.decode([id])).toBe('string');
    expect(tok.decode([3 + 256 + 1 + 10, 900])).toBe("t270 t900");
  });

  it('encodes any text to ids inside the vocabulary that decode back, BOS first', () => {
    const tok = load(600, 1, 2);
    const text = 'ROMEO: héllo, wörld ✓';
    const ids = tok.encode(text);
    expect(ids[0]).toBe(1);
    expect(ids.every((id) => id >= 0 && id < 600)).toBe(true);
    expect(tok.decode(ids, {skipSpecialTokens: true})).toBe(text);
    expect(tok.special.eosTokenIds).toEqual([2]);
  });

  it('places the special tokens at the config ids (one token when BOS and EOS share an id)', () => {
    const tok = load(50257, 50256, 50256);
    expect(tok.special.bosTokenId).toBe(50256);
    expect(tok.special.eosTokenIds).toEqual([50256]);
    expect(tok.decode([50255])).toBe('t50255');
  });

  it('a bench shape cached without a tokenizer gets one (and a present one is left alone)', () => {
    const root = tmpDir();
    const dir = path.join(root, 'bench', `llama-15m-f32-seed${BENCH_SEED}`);
    fs.mkdirSync(dir, {recursive: true});
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(syntheticConfig({...SYNTHETIC_SHAPES['llama-15m']!, seed: BENCH_SEED})));
    expect(ensureSyntheticModel('llama-15m', 'f32', root)).toEqual({dir, created: false});
    expect(HireTokenizer.load(dir).vocabSize).toBe(32000);
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(ensureSyntheticTokenizer(dir, {vocabSize: 32000, bosTokenId: 1, eosTokenId: 2})).toBe(false);
  });
});
