/**
 * The library fills missing options from DEFAULTS, the object the CLI flags read: calibrate()
 * calibrates on as many tokens as `hire calibrate` does; bench() and benchOutputLayer() take
 * every option `hire bench` has (device rows, the output layer alone).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {bench, benchOutputLayer} from '../../src/api/bench.js';
import {DEFAULTS} from '../../src/api/defaults.js';
import {calibrate, GENERATE_DEFAULTS, loadModel, UsageError} from '../../src/index.js';
import {quantizeModel} from '../../src/core/tasks/quantize.js';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {writeTinyModel} from '../helpers/bundle-fixtures.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-api-defaults-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));
const model = path.join(dir, 'tiny');
const text = path.join(dir, 'long.txt');

beforeAll(() => {
  writeTinyModel(model, path.join(dir, 'short.txt'));
  // more train-split tokens than either default asks for (the tiny tokenizer is about one token per byte)
  fs.writeFileSync(text, 'the quick brown fox jumps over the lazy dog; hi hi, a chat about hills. '.repeat(200));
});

describe('DEFAULTS', () => {
  it('calibrate() without tokens calibrates on DEFAULTS.calibrate.tokens, as hire calibrate does', async () => {
    const r = await calibrate({model, data: [text], out: path.join(dir, 'c.hire'), softmax: ['quant'], bits: 8, ks: [1], threads: 1});
    expect(r.manifest.calibration.tokens).toBe(DEFAULTS.calibrate.tokens);
    expect(r.manifest.calibration.seqLen).toBe(DEFAULTS.calibrate.seqLen);
  });

  it('GENERATE_DEFAULTS is the flat view of DEFAULTS for generate()', () => {
    expect(GENERATE_DEFAULTS).toEqual({...DEFAULTS.sampling, maxTokens: DEFAULTS.maxTokens, recall: DEFAULTS.recall, stopOnEos: DEFAULTS.stopOnEos, logprobsTail: DEFAULTS.logprobsTail, backend: DEFAULTS.backend});
    expect(Object.isFrozen(DEFAULTS.sampling)).toBe(true);
  });
});

describe('bench() options', () => {
  it('times device rows for each merge mode asked for, and refuses an unknown one naming devices.merge', async () => {
    const o = {model, tokens: 2, promptTokens: 2, probe: false, threads: 1, hire: {kPrime: 16}};
    const r = await bench({...o, devices: {counts: [1], merge: ['dat']}});
    expect(r.devices!.rows.map((row) => [row.devices, row.topk])).toEqual([[1, 'dat']]);
    const e = await bench({...o, devices: {counts: [1], merge: ['best' as 'dat']}}).catch((error: unknown) => error);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).option).toBe('devices.merge');
  });

  it('benchOutputLayer() times the output layer alone with the DEFAULTS predictor', async () => {
    const r = await benchOutputLayer({vocabSize: 300, dim: 32, kPrime: 16, threads: 1, steps: 2});
    expect(r.rows).toHaveLength(2);
    expect(r.kPrime).toBe(16);
    expect(r.predictor).toMatch(/int4/); // DEFAULTS.bench.hire: lowrank+quant, 4 bits
  });
});

describe('block activations', () => {
  it('loadModel multiplies ggml block weights with DEFAULTS.blockActivations (int8; int16 without relaxed SIMD) unless told f32', async () => {
    const f32 = path.join(dir, 'blocks-src');
    const q4 = path.join(dir, 'blocks-q4');
    writeSyntheticCheckpoint(f32, {family: 'llama', dim: 64, nLayers: 1, nHeads: 2, hiddenDim: 96, vocabSize: 100, maxSeqLen: 16, seed: 9});
    await quantizeModel({model: f32, to: 'q4_0', out: q4});
    const byDefault = await loadModel(q4, {threads: 1});
    const exact = await loadModel(q4, {threads: 1, blockActivations: 'f32'});
    try {
      expect(DEFAULTS.blockActivations).toBe('int8');
      expect(byDefault.backendInfo).toMatch(byDefault.backendInfo.includes('relaxed simd') ? /; int8 activations/ : /; int16 activations/);
      expect(exact.backendInfo).not.toMatch(/activations/);
    } finally {
      byDefault.dispose();
      exact.dispose();
    }
  });
});
