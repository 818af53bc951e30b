/**
 * generate() from code gives the tokens `hire generate` gives for the same seed and options
 * (the CLI calls the same function; this runs the built CLI as a user would), and its chunks
 * carry per-token statistics that add up to the result.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {demo, generate, loadBundle, loadModel, type HireModel, type TokenChunk} from '../../src/index.js';
import {runCli} from '../helpers/cli.js';

function cliJson(args: string[]) {
  const r = runCli(['generate', ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {text: string; tokenIds: number[]; promptTokenIds: number[]; output: {kind: string; describe: string}};
}

describe('generate (library API)', () => {
  let model: HireModel;
  beforeAll(async () => {
    model = await loadModel(demo.bundle);
  });
  afterAll(() => model.dispose());

  const cases: Array<{name: string; cli: string[]; api: Parameters<typeof generate>[2]}> = [
    {name: 'defaults (sampled, HiRE from the bundle)', cli: [], api: {}},
    {name: 'seeded sampling with top-p and a recall target', cli: ['--temperature', '1.1', '--top-k', '0', '--top-p', '0.9', '--seed', '5', '--recall', '0.999'], api: {temperature: 1.1, topK: 0, topP: 0.9, seed: 5, recall: 0.999}},
    {name: 'certified greedy', cli: ['--temperature', '0', '--certify'], api: {temperature: 0, certify: true}},
    {name: "explicit k' and no eos", cli: ['--k-prime', '64', '--seed', '9', '--no-eos'], api: {kPrime: 64, seed: 9, stopOnEos: false}},
    {name: 'dense', cli: ['--dense', '--seed', '3'], api: {dense: true, seed: 3}},
  ];
  for (const c of cases) {
    it(`gives the CLI's tokens and text: ${c.name}`, async () => {
      const cli = cliJson([demo.bundle, '--prompt', 'ROMEO:', '--max-tokens', '40', ...c.cli]);
      const gen = generate(model, 'ROMEO:', {maxTokens: 40, ...c.api});
      expect(gen.output.describe).toBe(cli.output.describe);
      const chunks: TokenChunk[] = [];
      for await (const chunk of gen) chunks.push(chunk);
      const r = gen.result!;
      expect(r.promptTokenIds).toEqual(cli.promptTokenIds);
      expect(r.tokenIds).toEqual(cli.tokenIds);
      expect(r.text).toBe(cli.text);
      expect(chunks.map((ch) => ch.id)).toEqual(r.tokenIds);
    });
  }

  it('accepts token ids and plain checkpoints, like --tokens', async () => {
    const plain = await loadModel(demo.model, {threads: 1, tokenizer: 'none'});
    try {
      const cli = cliJson([demo.model, '--tokens', '5,6,7', '--max-tokens', '12', '--seed', '11']);
      const r = await generate(plain, [5, 6, 7], {maxTokens: 12, seed: 11}).complete();
      expect(r.tokenIds).toEqual(cli.tokenIds);
      expect(r.output.kind).toBe('dense');
      expect(r.text).toBe(r.tokenIds.map((id) => `${id} `).join(''));
    } finally {
      plain.dispose();
    }
  });

  it('says what is wrong with a bad call before decoding anything', async () => {
    const plain = await loadModel(demo.model, {threads: 1, tokenizer: 'none'});
    try {
      expect(() => generate(plain, 'ROMEO:')).toThrow(expect.objectContaining({code: 'E_TOKENIZER'}));
      expect(() => generate(plain, [1, 2], {certify: true})).toThrow(expect.objectContaining({code: 'E_USAGE'}));
      expect(() => generate(plain, [1, 2], {maxTokens: 0})).toThrow(expect.objectContaining({code: 'E_USAGE'}));
      expect(() => generate(plain, [99999])).toThrow(expect.objectContaining({code: 'E_USAGE'}));
      await expect(loadBundle(demo.model)).rejects.toMatchObject({code: 'E_BUNDLE'});
    } finally {
      plain.dispose();
    }
  });

  it('streams text chunks and per-token statistics that add up to the result', async () => {
    const gen = generate(model, 'ROMEO:', {maxTokens: 20, temperature: 0, certify: true});
    const chunks: TokenChunk[] = [];
    for await (const chunk of gen) chunks.push(chunk);
    const r = gen.result!;
    expect(chunks.map((c) => c.text).join('')).toBe(r.text);
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
    expect(chunks[0]!.pos).toBe(r.promptTokenIds.length);
    for (const c of chunks) {
      expect(c.ms).toBeGreaterThan(0);
      expect(c.candidates).toBeGreaterThanOrEqual(1);
      expect(c.candidates).toBeLessThan(model.config.vocabSize);
    }
    // every head step of the generation is a chunk, except a final step that chose eos
    const sum = chunks.reduce((a, c) => a + c.candidates, 0);
    expect(r.output.steps).toBeGreaterThanOrEqual(chunks.length);
    if (r.output.steps === chunks.length) expect(r.output.meanCandidates * r.output.steps).toBeCloseTo(sum, 6);
    expect(r.output.widenings).toBeGreaterThanOrEqual(chunks.reduce((a, c) => a + c.widenings, 0));
    expect(r.stats.generatedTokens).toBe(chunks.length);
    expect(r.weightBytesPerToken).toBeLessThan(model.denseBytesPerToken);
  });

  it('repeated generations with the same options give the same tokens (fresh KV cache, reused head)', async () => {
    const a = await generate(model, 'KING:', {maxTokens: 16, seed: 1}).complete();
    const b = await generate(model, 'KING:', {maxTokens: 16, seed: 1}).complete();
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(b.output.steps).toBe(a.output.steps); // per-generation statistics, not the shared head's totals
  });

  it('interleaves two generations on one model without mixing them', async () => {
    const solo = await generate(model, 'KING:', {maxTokens: 12, seed: 2}).complete();
    const other = await generate(model, 'QUEEN:', {maxTokens: 12, seed: 4}).complete();
    const [a, b] = await Promise.all([generate(model, 'KING:', {maxTokens: 12, seed: 2}).complete(), generate(model, 'QUEEN:', {maxTokens: 12, seed: 4}).complete()]);
    expect(a.tokenIds).toEqual(solo.tokenIds);
    expect(b.tokenIds).toEqual(other.tokenIds);
  });
});
