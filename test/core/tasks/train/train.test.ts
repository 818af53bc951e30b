/**
 * Training end to end on a tiny model: the loss falls, the run is reproducible, and the written
 * Hugging Face directory loads with Session.open and gives, through our reference backend, the
 * logits of the tfjs training forward pass (dense FFN and top-k FFN): the tensor layout, the RoPE
 * convention and the top-k semantics match the decoder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {acquireEngine, type Engine} from '../../../../src/core/backends/tfjs/engine.js';
import {Session} from '../../../../src/core/engine/session.js';
import {UsageError} from '../../../../src/core/errors.js';
import {trainBpe, writeTokenizerFiles} from '../../../../src/core/tasks/train/bpe.js';
import {llamaConfig, writeModelDir} from '../../../../src/core/tasks/train/checkpoint.js';
import {TrainModel, type ModelShape} from '../../../../src/core/tasks/train/model.js';
import {parseTrainArgs} from '../../../../src/core/tasks/train/options.js';
import {sampleText} from '../../../../src/core/tasks/train/pipeline.js';
import {DEFAULT_TRAIN, trainModel, type TrainOptions} from '../../../../src/core/tasks/train/train.js';

const TEXT = 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n';

let engine: Engine;
let tokDir: string;
let ids: Int32Array;
let vocabSize: number;
const tmpDirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-train-'));
  tmpDirs.push(dir);
  return dir;
}

beforeAll(async () => {
  engine = await acquireEngine();
  tokDir = tempDir();
  const bpe = trainBpe(TEXT.repeat(4), {vocabSize: 300});
  writeTokenizerFiles(tokDir, bpe);
  vocabSize = bpe.vocab.length;
  const {HireTokenizer} = await import('../../../../src/core/model/tokenizer.js');
  ids = Int32Array.from(HireTokenizer.load(tokDir).encode(TEXT.repeat(20)));
});
afterAll(() => {
  engine?.release();
  for (const d of tmpDirs) fs.rmSync(d, {recursive: true, force: true});
});

function tinyOptions(ffnTopK: number | null, steps = 20): TrainOptions {
  const shape: ModelShape = {
    vocabSize, dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, contextLength: 16, ffnTopK, ropeTheta: 10000, normEps: 1e-5,
  };
  return {...DEFAULT_TRAIN, shape, steps, minutes: 5, batchSize: 4, peakLr: 1e-2, warmupSteps: 2, evalEvery: 10, evalWindows: 4, evalBatch: 4};
}

/** Logits of every position of `tokens` from our decoder (reference backend, KV cache). */
async function decoderLogits(dir: string, tokens: number[]): Promise<Float32Array[]> {
  const session = await Session.open(dir, {backend: 'reference'});
  try {
    const cache = session.model.createCache();
    const out: Float32Array[] = [];
    for (let pos = 0; pos < tokens.length; pos++) out.push(await session.backend.read(await session.model.forward(tokens[pos]!, pos, cache)));
    return out;
  } finally {
    session.dispose();
  }
}

describe('training a tiny model', () => {
  const runs = new Map<string, Awaited<ReturnType<typeof trainModel>>>();
  const run = async (ffnTopK: number | null) => {
    const key = String(ffnTopK);
    if (!runs.has(key)) runs.set(key, await trainModel({train: ids, validation: ids}, tinyOptions(ffnTopK)));
    return runs.get(key)!;
  };

  it('lowers the loss, dense and top-k', async () => {
    for (const ffnTopK of [null, 0.25]) {
      const {log} = await run(ffnTopK);
      expect(log.stepsDone).toBe(20);
      expect(log.trainLoss).toHaveLength(20);
      const first = log.trainLoss[0]!;
      const last = log.trainLoss[19]!;
      expect(first).toBeGreaterThan(Math.log(vocabSize) - 0.5);
      expect(last).toBeLessThan(first - 1.5);
      expect(log.final.loss).toBeLessThan(log.evals[0]!.loss);
      expect(log.evals.map((e) => e.step)).toEqual([10, 20]);
    }
  });

  it('is reproducible: same seed, same losses and weights', async () => {
    const again = await trainModel({train: ids, validation: ids}, tinyOptions(0.25));
    const first = await run(0.25);
    expect(again.log.trainLoss).toEqual(first.log.trainLoss);
    expect(again.params.get('model.norm.weight')!.data).toEqual(first.params.get('model.norm.weight')!.data);
  });

  for (const ffnTopK of [null, 0.25]) {
    it(`writes a directory whose decoder logits match the training forward pass (FFN ${ffnTopK ?? 'dense'})`, async () => {
      const {params} = await run(ffnTopK);
      const opts = tinyOptions(ffnTopK);
      const dir = path.join(tempDir(), 'model');
      writeModelDir(dir, {shape: opts.shape, special: {bosTokenId: 0, eosTokenId: 1}, params, tokenizerDir: tokDir, extra: {'log.json': '{}'}});
      expect(fs.readdirSync(dir).sort()).toEqual(
        ['config.json', 'generation_config.json', 'log.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'],
      );
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(config.hire_ffn_topk).toBe(ffnTopK ?? undefined);
      expect(config.hidden_act).toBe('relu');

      const tokens = Array.from(ids.subarray(3, 3 + opts.shape.contextLength));
      const model = new TrainModel(opts.shape, 0);
      model.load(new Map([...params].map(([name, t]) => [name, t.data])));
      const ours = tf.tidy(() => model.logits(Int32Array.from(tokens), 1).arraySync() as number[][]);
      model.dispose();
      const theirs = await decoderLogits(dir, tokens);
      let worst = 0;
      for (let pos = 0; pos < tokens.length; pos++) {
        for (let v = 0; v < vocabSize; v++) worst = Math.max(worst, Math.abs(ours[pos]![v]! - theirs[pos]![v]!));
      }
      expect(worst).toBeLessThan(1e-4);

      const text = await sampleText(dir, 'To be', {maxTokens: 8, seed: 1, sampling: {temperature: 0, topK: 0, topP: 1}});
      expect(text.startsWith('To be')).toBe(true);
      expect(text.length).toBeGreaterThan('To be'.length);
    });
  }

  it('replaces an existing model directory in one step', async () => {
    const {params} = await run(null);
    const opts = tinyOptions(null);
    const dir = path.join(tempDir(), 'model');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'old');
    writeModelDir(dir, {shape: opts.shape, special: {bosTokenId: 0, eosTokenId: 1}, params, tokenizerDir: tokDir});
    expect(fs.existsSync(path.join(dir, 'stale.txt'))).toBe(false);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['model']); // no temporary leftovers
  });

  it('sizes the run from the time budget when no step count is given', async () => {
    const {log} = await trainModel({train: ids, validation: ids}, {...tinyOptions(null), steps: null, minutes: 0.05, warmupSteps: 8});
    expect(log.totalSteps).toBeGreaterThan(8);
    expect(log.stepsDone).toBeLessThanOrEqual(log.totalSteps);
    expect(log.seconds.total).toBeLessThan(0.05 * 60 + 2);
  });
});

describe('config and options', () => {
  it('writes the Llama keys our loader reads, and hire_ffn_topk only for top-k models', () => {
    const shape: ModelShape = {vocabSize: 4096, dim: 128, nLayers: 4, nHeads: 4, hiddenDim: 512, contextLength: 128, ffnTopK: 0.1, ropeTheta: 10000, normEps: 1e-5};
    const c = llamaConfig(shape, {bosTokenId: 0, eosTokenId: 1});
    expect(c).toMatchObject({
      architectures: ['LlamaForCausalLM'], hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4,
      num_key_value_heads: 4, head_dim: 32, vocab_size: 4096, max_position_embeddings: 128, hidden_act: 'relu',
      tie_word_embeddings: true, hire_ffn_topk: 0.1,
    });
    expect('hire_ffn_topk' in llamaConfig({...shape, ffnTopK: null}, {bosTokenId: 0, eosTokenId: 1})).toBe(false);
  });

  it('parses training flags and rejects bad ones', () => {
    const o = parseTrainArgs(['--out', 'x', '--tokenizer', 't', '--dense', '--steps', '50', '--dim', '64', '--lr', '0.001']);
    expect(o.shape.ffnTopK).toBeNull();
    expect(o.shape.dim).toBe(64);
    expect(o.steps).toBe(50);
    expect(o.peakLr).toBe(0.001);
    expect(parseTrainArgs(['--out', 'x', '--tokenizer', 't']).steps).toBeNull();
    expect(() => parseTrainArgs(['--out', 'x', '--tokenizer', 't', '--steps', '1.5'])).toThrow(UsageError);
    expect(() => parseTrainArgs(['--out', 'x', '--tokenizer', 't', '--dense', '--ffn-topk', '0.2'])).toThrow(UsageError);
    expect(() => parseTrainArgs(['--out', 'x', '--tokenizer', 't', '--bogus', '1'])).toThrow(/unknown option --bogus/);
    expect(() => parseTrainArgs(['--out', 'x'])).toThrow(/required/);
  });
});
