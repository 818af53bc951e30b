import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, describe, expect, it} from 'vitest';
import {writeMetaspaceTokenizer} from '../../helpers/metaspace-tokenizer.js';
import {writeTinyTokenizer} from '../../helpers/tiny-tokenizer.js';
import {CONTEXT_TOKENS, streamedText, TextStreamer} from '../../../src/core/decode/streamer.js';
import {HireTokenizer} from '../../../src/core/model/tokenizer.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const llamaDir = path.resolve(projectRoot, '../shared/models/llama2xs');
const haveLlama = fs.existsSync(path.join(llamaDir, 'tokenizer.json'));
if (!haveLlama) console.warn(`skipping llama2xs streamer tests: ${llamaDir} is absent`);

const REPLACEMENT = '\uFFFD';

/** Streams ids one at a time; returns every push() result and the flush() result. */
function stream(tok: HireTokenizer, ids: number[]): {pieces: string[]; text: string} {
  const streamer = new TextStreamer((window) => tok.decode(window));
  const pieces = ids.map((id) => streamer.push(id));
  pieces.push(streamer.flush());
  return {pieces, text: pieces.join('')};
}

/** A temp dir holding the tiny byte-fallback tokenizer ("€" and emoji become byte tokens). */
function tinyTokenizerDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-streamer-'));
  writeTinyTokenizer(dir, {bosTemplate: false});
  return dir;
}

const tinyDir = tinyTokenizerDir();
afterAll(() => fs.rmSync(tinyDir, {recursive: true, force: true}));

describe('TextStreamer with byte fallback (tiny tokenizer)', () => {
  const tok = HireTokenizer.load(tinyDir);
  const euroBytes = [0xe2, 0x82, 0xac].map((b) => b + 3); // <0xE2> <0x82> <0xAC>

  it('holds back a split 3-byte character and emits it once complete', () => {
    const ids = tok.encode('hi €a');
    expect(ids).toEqual([1, 265, 259, ...euroBytes, 260]);
    const {pieces, text} = stream(tok, ids);
    expect(pieces).toEqual(['', 'hi', ' ', '', '', '€', 'a', '']);
    expect(text).toBe(tok.decode(ids));
  });

  it('never emits U+FFFD for a 4-byte emoji spread over four tokens', () => {
    const ids = tok.encode('hi 😀😀 a€hi');
    const {pieces, text} = stream(tok, ids);
    for (const p of pieces) expect(p).not.toContain(REPLACEMENT);
    expect(text).toBe('hi 😀😀 a€hi');
    expect(pieces.filter((p) => p.includes('😀')).length).toBeGreaterThanOrEqual(1);
  });

  it('emits a character the moment its last byte arrives', () => {
    const ids = tok.encode('😀', {addSpecialTokens: false}); // ▁ <0xF0> <0x9F> <0x98> <0x80>
    expect(ids).toHaveLength(5);
    const streamer = new TextStreamer((w) => tok.decode(w));
    const out = ids.map((id) => streamer.push(id));
    expect(out.slice(0, 4).join('')).not.toContain('😀');
    expect(out[4]).toContain('😀');
    expect(out.join('') + streamer.flush()).toBe(tok.decode(ids));
  });

  it('flushes an incomplete tail as U+FFFD, matching decode()', () => {
    const ids = [265, 259, euroBytes[0]!, euroBytes[1]!];
    const {pieces, text} = stream(tok, ids);
    expect(pieces.slice(0, -1).join('')).toBe('hi ');
    expect(text).toBe(tok.decode(ids));
    expect(text.endsWith(REPLACEMENT)).toBe(true);
  });

  it('starts afresh after flush', () => {
    const streamer = new TextStreamer((w) => tok.decode(w));
    streamer.push(265);
    expect(streamer.flush()).toBe('');
    expect(streamer.push(265)).toBe('hi'); // first token again: no leading space
  });
});

describe.skipIf(!haveLlama)('TextStreamer on llama2xs', () => {
  const ref = haveLlama
    ? (JSON.parse(fs.readFileSync(path.join(llamaDir, 'REFERENCE.json'), 'utf8')) as {greedy_token_ids: number[]})
    : {greedy_token_ids: []};

  it('streams the reference greedy ids to exactly decode(all ids)', () => {
    const tok = HireTokenizer.load(llamaDir);
    const {pieces, text} = stream(tok, ref.greedy_token_ids);
    expect(text).toBe(tok.decode(ref.greedy_token_ids));
    expect(pieces.slice(0, 3)).toEqual(['', 'Once', ' upon']);
  });

  it('streams text with emoji (byte-fallback tokens) without U+FFFD', () => {
    const tok = HireTokenizer.load(llamaDir);
    const ids = tok.encode('She saw 😀 and 🎉!\nThe end €.');
    expect(ids.some((id) => tok.idToToken(id) === '<0xF0>')).toBe(true);
    const {pieces, text} = stream(tok, ids);
    for (const p of pieces) expect(p).not.toContain(REPLACEMENT);
    expect(text).toBe(tok.decode(ids));
    expect(text).toBe('She saw 😀 and 🎉!\nThe end €.');
  });

  it('keeps the decode window short (O(window) per token)', () => {
    const tok = HireTokenizer.load(llamaDir);
    const lengths: number[] = [];
    const streamer = new TextStreamer((w) => {
      lengths.push(w.length);
      return tok.decode(w);
    });
    const ids = [...ref.greedy_token_ids, ...ref.greedy_token_ids.slice(1), ...ref.greedy_token_ids.slice(1)];
    for (const id of ids) streamer.push(id);
    streamer.flush();
    expect(Math.max(...lengths)).toBeLessThanOrEqual(4);
  });
});

/** Streams `generated` after `prompt` with the streamer seeded by the prompt; returns the pieces and their sum. */
function streamAfter(tok: HireTokenizer, prompt: number[], generated: number[]): {pieces: string[]; text: string} {
  const streamer = new TextStreamer((w) => tok.decode(w), prompt);
  const pieces = generated.map((id) => streamer.push(id));
  pieces.push(streamer.flush());
  return {pieces, text: pieces.join('')};
}

describe('TextStreamer seeded with the prompt (Metaspace tokenizer)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-metaspace-'));
  afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));
  writeMetaspaceTokenizer(dir);
  const tok = HireTokenizer.load(dir);
  const id = (piece: string) => tok.tokenToId(piece)!;

  it('keeps the leading space of the first generated token (prompt without a trailing space)', () => {
    const prompt = tok.encode('Once upon a');
    const {pieces, text} = streamAfter(tok, prompt, [id('▁time'), id(','), id('▁there')]);
    expect(pieces.slice(0, 3)).toEqual([' time', ',', ' there']);
    expect(text).toBe(' time, there');
    expect(tok.decode(prompt) + text).toBe(tok.decode([...prompt, id('▁time'), id(','), id('▁there')]));
  });

  it('adds nothing of its own after a prompt that ends with a space', () => {
    const prompt = tok.encode('Once upon a ');
    expect(tok.decode(prompt)).toBe('Once upon a ');
    const generated = [id('t'), id('i'), id('m'), id('e'), id('▁was')];
    const {text} = streamAfter(tok, prompt, generated);
    expect(text).toBe('time was');
    expect(tok.decode(prompt) + text).toBe(tok.decode([...prompt, ...generated]));
  });

  it('streamedText gives decode(prompt + generated) minus decode(prompt)', () => {
    for (const p of ['Once upon a', 'Once upon a ', 'hi', 'hi €', 'a']) {
      const prompt = tok.encode(p);
      const generated = [id('▁upon'), id('ly'), id('▁a'), id('<0xE2>'), id('<0x82>'), id('<0xAC>'), id('▁hi')];
      const whole = tok.decode([...prompt, ...generated]);
      expect(streamedText((w) => tok.decode(w), prompt, generated)).toBe(whole.slice(tok.decode(prompt).length));
    }
  });

  it('prints a character split between the prompt and the generation once it is complete', () => {
    const prompt = [...tok.encode('hi'), id('<0xE2>'), id('<0x82>')]; // "hi" and two bytes of "€"
    const {pieces, text} = streamAfter(tok, prompt, [id('<0xAC>'), id('a')]);
    expect(pieces).toEqual(['€', 'a', '']);
    expect(text).toBe('€a');
    // nothing generated: the prompt's partial character is not output
    expect(new TextStreamer((w) => tok.decode(w), prompt).flush()).toBe('');
  });

  it('is not thrown off by a context window that starts inside a multi-byte character', () => {
    const prompt = tok.encode('hi €€€a');
    expect(prompt.length).toBeGreaterThan(CONTEXT_TOKENS + 3);
    const {text} = streamAfter(tok, prompt, [id('▁hi'), id('<0xE2>'), id('<0x82>'), id('<0xAC>')]);
    expect(text).toBe(' hi€');
  });
});
