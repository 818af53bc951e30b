/**
 * The text a generation returns and streams: the prompt left out, the first token's leading space
 * kept (SentencePiece tokenizers), the same for generate() and every sequence of generateBatch();
 * and what a bad prompt or option says from the library (option names, never flags).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {generate, generateBatch, loadModel, UsageError, type HireModel} from '../../src/index.js';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {writeMetaspaceTokenizer} from '../helpers/metaspace-tokenizer.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../helpers/shared.js';

/** decode(prompt + generated) with decode(prompt) taken off the front: what `text` must be. */
function afterPrompt(model: HireModel, prompt: number[], generated: number[]): string {
  const whole = model.decode([...prompt, ...generated]);
  const head = model.decode(prompt);
  expect(whole.startsWith(head)).toBe(true);
  return whole.slice(head.length);
}

describe.runIf(HAVE_SHARED)('generated text on llama2xs', () => {
  let model: HireModel;
  beforeAll(async () => {
    model = await loadModel(LLAMA2XS_DIR, {threads: 1});
  });
  afterAll(() => model.dispose());

  it('keeps the space before the first generated word: "Once upon a" -> " time"', async () => {
    const gen = generate(model, 'Once upon a', {maxTokens: 6, temperature: 0});
    let streamed = '';
    for await (const chunk of gen) streamed += chunk.text;
    const r = gen.result!;
    expect(r.text.startsWith(' time')).toBe(true);
    expect(streamed).toBe(r.text);
    expect(r.text).toBe(afterPrompt(model, r.promptTokenIds, r.tokenIds));
  });

  it('gives every batch sequence the text generate() gives', async () => {
    const alone = await generate(model, 'Once upon a', {maxTokens: 6, temperature: 0}).complete();
    const batch = await generateBatch(model, ['Once upon a', 'Once upon a'], {maxTokens: 6, temperature: 0});
    expect(batch.sequences.map((s) => s.text)).toEqual([alone.text, alone.text]);
  });
});

describe('generated text with a Metaspace (SentencePiece) tokenizer', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-text-'));
  let model: HireModel;
  beforeAll(async () => {
    const vocabSize = writeMetaspaceTokenizer(dir);
    writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize, maxSeqLen: 32, tied: false, seed: 21});
    model = await loadModel(dir, {threads: 1});
  });
  afterAll(() => {
    model.dispose();
    fs.rmSync(dir, {recursive: true, force: true});
  });

  for (const prompt of ['Once upon a', 'Once upon a ']) {
    it(`is decode(prompt + tokens) minus decode(prompt), streamed and batched alike: ${JSON.stringify(prompt)}`, async () => {
      const options = {maxTokens: 5, temperature: 1, topK: 0, topP: 1, stopOnEos: false};
      const seeds = Array.from({length: 32}, (_, i) => i + 1);
      let spaced = 0;
      for (const seed of seeds) {
        const gen = generate(model, prompt, {...options, seed});
        let streamed = '';
        for await (const chunk of gen) streamed += chunk.text;
        const r = gen.result!;
        // the chunks carry it all but a character left incomplete at the very end (U+FFFD)
        expect(r.text.startsWith(streamed)).toBe(true);
        expect(r.text.slice(streamed.length)).toMatch(/^\uFFFD*$/);
        expect(r.text).toBe(afterPrompt(model, r.promptTokenIds, r.tokenIds));
        if (model.decode([...r.promptTokenIds, r.tokenIds[0]!]).length > model.decode(r.promptTokenIds).length + model.decode([r.tokenIds[0]!]).length) spaced++;
      }
      // some first tokens carried a leading space that decoding them alone would drop
      expect(spaced).toBeGreaterThan(0);
      const batch = await generateBatch(model, seeds.slice(0, 8).map(() => prompt), {...options, seed: 1});
      for (const [b, seq] of batch.sequences.entries()) {
        expect(seq.text).toBe((await generate(model, prompt, {...options, seed: 1 + b}).complete()).text);
      }
    });
  }

  it('rejects a prompt that is neither text nor token ids with a UsageError naming what it got', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /got null$/],
      [undefined, /got undefined$/],
      [42, /got number 42$/],
      [{text: 'hi'}, /got an object$/],
      [[1, 2.5], /got an array holding number 2\.5 at index 1$/],
      [[1, '2'], /got an array holding the string "2" at index 1$/],
    ];
    for (const [prompt, got] of cases) {
      let error: unknown;
      try {
        generate(model, prompt as string);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toMatch(/^prompt must be a string, an array of token ids or an array of {role, content} messages, /);
      expect((error as UsageError).message).toMatch(got);
    }
    expect(generateBatch(model, ['hi', null as unknown as string])).rejects.toThrow(/^prompts\[1\] must be a string, an array of token ids or an array of {role, content} messages, got null$/);
    expect(generateBatch(model, 'hi' as unknown as string[])).rejects.toThrow(/^prompts must be an array of prompts, got the string "hi"$/);
  });

  it('checks the prompt when generate() is called, before any token', () => {
    expect(() => generate(model, 'Once upon a time '.repeat(20))).toThrow(/the prompt has \d+ tokens; this model's context is 32/);
  });

  it("names options as the library spells them, and says which in UsageError.option", () => {
    const cases: Array<[Parameters<typeof generate>[2], string]> = [
      [{maxTokens: 0}, 'maxTokens'],
      [{temperature: -1}, 'temperature'],
      [{topK: 1.5}, 'topK'],
      [{topP: 2}, 'topP'],
      [{certify: true, temperature: 0}, 'certify'],
    ];
    for (const [options, option] of cases) {
      let error: unknown;
      try {
        generate(model, [1, 2], options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).option).toBe(option);
      expect((error as UsageError).message.startsWith(`${option} `)).toBe(true);
      expect((error as UsageError).message).not.toMatch(/--/);
    }
  });
});
