/**
 * The byte-level BPE trainer: the tokenizer.json it writes loads in @huggingface/tokenizers
 * (through HireTokenizer), round-trips any UTF-8 text, has exactly the requested vocabulary, and
 * training is deterministic.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {DEFAULT_CORPUS, splitText} from '../../../../src/core/tasks/corpus.js';
import {UsageError} from '../../../../src/core/errors.js';
import {HireTokenizer} from '../../../../src/core/model/tokenizer.js';
import {BYTE_TO_CHAR, countPieces} from '../../../../src/core/tasks/train/byte-level.js';
import {tokenizerJson, trainBpe, writeTokenizerFiles, type BpeModel} from '../../../../src/core/tasks/train/bpe.js';
import {Rng} from '../../../../src/core/tasks/train/rng.js';

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, {recursive: true, force: true});
});

function written(model: BpeModel): HireTokenizer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-bpe-'));
  tmpDirs.push(dir);
  writeTokenizerFiles(dir, model);
  return HireTokenizer.load(dir);
}

const corpus = fs.readFileSync(DEFAULT_CORPUS, 'utf8');
const shakespeare = trainBpe(splitText(corpus, 'train'), {vocabSize: 4096});
const tokenizer = written(shakespeare);

/** Random strings over ASCII, Latin-1, CJK, emoji (surrogate pairs, ZWJ sequences), whitespace, controls. */
function randomText(rng: Rng, length: number): string {
  const pools = [
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
    "0123456789 .,;:!?'\"-()[]{}<>|/\\@#$%^&*_+=~`",
    ' \t\n\r\u000b\u000c\u00a0\u2028\u3000',
    'éüñøßçÆŒ¿¡«»€£¥©®°±µ¶·',
    '日本語のテキスト中文字符한국어',
    '\u0000\u0001\u0007\u001b\u007f\u0085\ufeff',
  ];
  const emoji = ['👋🏽', '👩‍👩‍👧‍👦', '🇫🇷', '😀', '𝄞', '❤️', '🤖'];
  let out = '';
  for (let i = 0; i < length; i++) {
    const pick = rng.int(pools.length + 1);
    if (pick === pools.length) out += emoji[rng.int(emoji.length)];
    else out += [...pools[pick]!][rng.int([...pools[pick]!].length)];
  }
  return out;
}

describe('byte-level BPE on Tiny Shakespeare', () => {
  it('has exactly the requested vocabulary: 2 specials, 256 bytes, then merges', () => {
    expect(shakespeare.vocab.length).toBe(4096);
    expect(tokenizer.vocabSize).toBe(4096);
    expect(shakespeare.vocab.slice(0, 2)).toEqual(['<|bos|>', '<|eos|>']);
    expect(shakespeare.vocab.slice(2, 258)).toEqual([...BYTE_TO_CHAR]);
    expect(new Set(shakespeare.vocab).size).toBe(4096);
    expect(tokenizer.special.bosTokenId).toBe(0);
    expect(tokenizer.special.eosTokenIds).toEqual([1]);
    expect(tokenizer.special.addBos).toBe(false);
  });

  it('round-trips the whole validation split and compresses it', () => {
    const text = splitText(corpus, 'validation');
    const ids = tokenizer.encode(text);
    expect(tokenizer.decode(ids)).toBe(text);
    expect(text.length / ids.length).toBeGreaterThan(2.5);
  });

  it('round-trips arbitrary UTF-8 text, emoji and control characters included', () => {
    const rng = new Rng(7);
    const fixed = ['', ' ', '  \n\n  ', 'Hello 👋🏽 world — ünïcödé\t\n  x', "it's we'll 123 4567", '\u0000', '🤖'.repeat(20)];
    for (const text of [...fixed, ...Array.from({length: 200}, (_, i) => randomText(rng, 1 + (i % 60)))]) {
      const ids = tokenizer.encode(text);
      expect(ids.every((id) => id >= 2 && id < 4096)).toBe(true);
      expect(tokenizer.decode(ids)).toBe(text);
    }
  });

  it('learns common words as single tokens, and the library applies the merges as trained', () => {
    for (const word of [' the', ' and', 'ROMEO', ' thou']) {
      expect(tokenizer.encode(word)).toEqual([shakespeare.vocab.indexOf(word.replace(/ /g, 'Ġ'))]);
    }
  });

  it('is deterministic', () => {
    const again = trainBpe(splitText(corpus, 'train'), {vocabSize: 4096});
    expect(JSON.stringify(tokenizerJson(again))).toBe(JSON.stringify(tokenizerJson(shakespeare)));
  });
});

describe('byte-level BPE on small inputs', () => {
  it('splits text into pieces that join back to it', () => {
    const text = "Hello,  world!\n\nIt's 2024 — ok?  ";
    const pieces: string[] = [];
    for (const [piece, n] of countPieces(text)) for (let i = 0; i < n; i++) pieces.push(piece);
    expect(pieces.join('').length).toBe(text.length);
    expect(countPieces('a a a').get(' a')).toBe(2);
  });

  it('stops early when no pair is frequent enough, and still round-trips', () => {
    const model = trainBpe('abc abd', {vocabSize: 400});
    expect(model.merges.length).toBeLessThan(10);
    const tok = written(model);
    expect(tok.decode(tok.encode('abcd xyz ✓'))).toBe('abcd xyz ✓');
  });

  it('accepts custom special tokens and never merges into one', () => {
    const model = trainBpe('<s> <s> <s> hello hello', {vocabSize: 300, specialTokens: ['<s>', '</s>', '<pad>']});
    expect(model.vocab.slice(0, 3)).toEqual(['<s>', '</s>', '<pad>']);
    expect(model.vocab.indexOf('<s>')).toBe(0);
    expect(model.vocab.lastIndexOf('<s>')).toBe(0);
  });

  it('rejects impossible sizes', () => {
    expect(() => trainBpe('x', {vocabSize: 100})).toThrow(UsageError);
    expect(() => trainBpe('x', {vocabSize: 70000})).toThrow(UsageError);
  });
});
