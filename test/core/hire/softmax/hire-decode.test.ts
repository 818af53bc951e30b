/**
 * HiRE-Softmax end to end: calibrate writes a bundle, decoding with it matches dense decoding
 * (token for token in certified mode), and bad bundles or options get clear errors.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Session} from '../../../../src/core/engine/session.js';
import {BundleError, DataError, IoError, UsageError} from '../../../../src/core/errors.js';
import {readManifest, readPredictor} from '../../../../src/core/hire/bundle/bundle.js';
import {calibrate} from '../../../../src/core/tasks/calibrate/calibrate.js';
import {chooseHead, type HeadOptions} from '../../../../src/core/hire/softmax/choose-head.js';
import type {SamplingOptions} from '../../../../src/core/decode/sampler.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../../../helpers/shared.js';
import {writeTinyTokenizer} from '../../../helpers/tiny-tokenizer.js';
import {greedyIds} from '../../../helpers/greedy.js';
import {configOf} from '../../../helpers/bundles.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-decode-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const GREEDY: SamplingOptions = {temperature: 0, topK: 0, topP: 1};

/** A random Llama with the tiny byte-level tokenizer, and a calibration text file. */
function randomModel(): {dir: string; text: string} {
  const dir = path.join(tmp, 'random');
  writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize: 300, maxSeqLen: 128, seed: 9});
  writeTinyTokenizer(dir);
  const text = path.join(tmp, 'calib.txt');
  fs.writeFileSync(text, 'the quick brown fox jumps over the lazy dog; hi hi, a chat about hills. '.repeat(40));
  return {dir, text};
}

async function decode(dir: string, backend: string, prompt: number[], n: number, head: HeadOptions): Promise<{ids: number[]; widened: number}> {
  const s = await Session.open(dir, {backend, tokenizer: 'none', threads: 1});
  try {
    const c = s.config;
    const {head: h} = chooseHead(dir, {backend: s.backend, lmHead: s.model.weights.lmHead, config: c}, GREEDY, head);
    const ids = await greedyIds(s, prompt, n, h);
    return {ids, widened: h.stats().widenings};
  } finally {
    s.dispose();
  }
}

describe('HiRE-Softmax on a random checkpoint', () => {
  let bundle: string;
  let model: {dir: string; text: string};
  beforeAll(async () => {
    model = randomModel();
    bundle = path.join(tmp, 'random.hire');
    await calibrate({model: model.dir, data: [model.text], out: bundle, tokens: 1500, rank: 8, seqLen: 64, threads: 1});
  });

  it('writes a bundle that is also a plain checkpoint, with the k\' table', async () => {
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'hire.json', 'hire.safetensors']) {
      expect(fs.existsSync(path.join(bundle, f))).toBe(true);
    }
    const m = readManifest(bundle, configOf(bundle));
    expect(m.softmax!.predictors.map((p) => p.kind).sort()).toEqual(['lowrank', 'lowrank', 'lowrank+quant', 'quant']);
    for (const p of m.softmax!.predictors) {
      // Recall at k' = V is 1, and k' for a target is monotone in the target.
      const last = p.recall.kPrimes.length - 1;
      expect(p.recall.kPrimes[last]).toBe(300);
      for (const row of p.recall.mean) expect(row[last]).toBe(1);
      const k1 = (t: string) => p.kPrime[t]!['1'] ?? Infinity;
      expect(k1('0.9')).toBeLessThanOrEqual(k1('0.999'));
    }
    // The round trip gives back the tensors calibrate stored, shapes checked.
    const p = readPredictor(bundle, m, m.softmax!.selected);
    expect(p.errNorms.length).toBe(300);
    expect(p.errNorms.every((e) => e >= 0 && Number.isFinite(e))).toBe(true);
  });

  for (const backend of ['reference', 'cpu']) {
    it(`${backend}: certified greedy decoding equals dense decoding token for token`, async () => {
      const prompt = [1, 100, 120, 140];
      const dense = await decode(bundle, backend, prompt, 40, {dense: true});
      // A tiny k' forces the certificate to fail and widen on most steps.
      const certified = await decode(bundle, backend, prompt, 40, {certify: true, kPrime: 2});
      expect(certified.ids).toEqual(dense.ids);
      expect(certified.widened).toBeGreaterThan(0);
      // Every predictor, not just the selected one.
      const m = readManifest(bundle, configOf(bundle));
      for (const p of m.softmax!.predictors) {
        expect((await decode(bundle, backend, prompt, 20, {certify: true, predictor: p.name})).ids).toEqual(dense.ids.slice(0, 20));
      }
    });
  }

  it('plain HiRE with k\' = V is dense decoding', async () => {
    const prompt = [1, 50, 60];
    const dense = await decode(bundle, 'cpu', prompt, 30, {dense: true});
    expect((await decode(bundle, 'cpu', prompt, 30, {kPrime: 300})).ids).toEqual(dense.ids);
  });

  it('rejects k\' outside 1..V, unknown predictors, and --certify on a plain checkpoint', async () => {
    await expect(decode(bundle, 'reference', [1], 1, {kPrime: 301})).rejects.toThrow(UsageError);
    await expect(decode(bundle, 'reference', [1], 1, {kPrime: 301})).rejects.toThrow(/kPrime 301 must be an integer from 1 to the vocabulary size 300/);
    await expect(decode(bundle, 'reference', [1], 1, {predictor: 'nope'})).rejects.toThrow(BundleError);
    await expect(decode(model.dir, 'reference', [1], 1, {certify: true})).rejects.toThrow(/needs a HiRE bundle/);
  });

  it('rejects a bundle of another format version, or made for another model', () => {
    const copy = path.join(tmp, 'bad.hire');
    fs.cpSync(bundle, copy, {recursive: true});
    const file = path.join(copy, 'hire.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({...m, version: 99}));
    expect(() => readManifest(copy, configOf(copy))).toThrow(/version 99 is not supported/);
    fs.writeFileSync(file, JSON.stringify(m));
    expect(() => readManifest(copy, {...configOf(copy), vocabSize: 301})).toThrow(/made for vocabulary 300 and width 32/);
    // A predictor whose recorded rank does not match its tensors.
    const lr = m.softmax.predictors.find((p: {kind: string}) => p.kind === 'lowrank');
    lr.rank = 16;
    fs.writeFileSync(file, JSON.stringify(m));
    expect(() => readPredictor(copy, readManifest(copy, configOf(copy)), lr.name)).toThrow(/has shape \[8, 32\], expected \[16, 32\]/);
    fs.rmSync(file);
    expect(() => readManifest(copy, configOf(copy))).toThrow(/hire calibrate/);
  });

  it('rejects a rank above the width, empty text, and an existing --out; writes nothing then', async () => {
    const out = path.join(tmp, 'never.hire');
    await expect(calibrate({model: model.dir, data: [model.text], out, rank: 64})).rejects.toThrow(UsageError);
    const empty = path.join(tmp, 'empty.txt');
    fs.writeFileSync(empty, '  \n');
    await expect(calibrate({model: model.dir, data: [empty], out})).rejects.toThrow(DataError);
    await expect(calibrate({model: model.dir, data: [model.text], out: bundle, tokens: 200})).rejects.toThrow(IoError);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => /\.(hire-)?tmp-/.test(f))).toEqual([]);
  });
});

describe.runIf(HAVE_SHARED)('HiRE-Softmax on llama2xs', () => {
  it('certified greedy decoding reproduces dense decoding on the real checkpoint', async () => {
    const bundle = path.join(tmp, 'llama2xs.hire');
    await calibrate({model: LLAMA2XS_DIR, out: bundle, tokens: 1200, threads: 1});
    const prompt = [1, 403, 407, 261, 378];
    const dense = await decode(bundle, 'cpu', prompt, 64, {dense: true});
    expect((await decode(bundle, 'cpu', prompt, 64, {certify: true})).ids).toEqual(dense.ids);
    expect((await decode(bundle, 'reference', prompt, 64, {certify: true})).ids).toEqual(dense.ids);
  });
});
