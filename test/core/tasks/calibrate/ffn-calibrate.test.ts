/**
 * HiRE-FFN calibration end to end on the demo model (trained with top-k FFN): the bundle's
 * re-laid-out weights decode exactly like the source, the FFN tables are sane, the sparse FFN
 * reads fewer bytes, and bad requests fail before any work.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Session} from '../../../../src/core/engine/session.js';
import {UsageError} from '../../../../src/core/errors.js';
import {calibrate} from '../../../../src/core/tasks/calibrate/calibrate.js';
import type {HireManifest} from '../../../../src/core/hire/bundle/bundle.js';
import {DEMO_MODEL_DIR} from '../../../../src/core/model/defaults.js';
import {greedyIds} from '../../../helpers/greedy.js';
import {TINY_VOCAB_SIZE, writeTinyTokenizer} from '../../../helpers/tiny-tokenizer.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-ffn-cal-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

describe('calibrate --ffn on the demo model', () => {
  const out = path.join(tmp, 'demo.hire');
  let manifest: HireManifest;
  beforeAll(async () => {
    manifest = (await calibrate({model: DEMO_MODEL_DIR, out, tokens: 1536, softmax: ['quant'], ffn: {groupSize: 8}, threads: 1})).manifest;
  }, 120_000);

  it('writes an FFN section: per-layer predictors, static groups first, k\'_g per recall target', () => {
    const f = manifest.ffn!;
    expect(f.layout).toBe('neuron-rows');
    expect(f.groupSize).toBe(8);
    expect(f.topK).toBe(0.1); // the model's own hire_ffn_topk
    expect(f.layers).toHaveLength(4);
    for (const l of f.layers) {
      // f32 weights: the default kinds are the quant predictor's (int4 and int8) only
      expect(l.tried.map((t) => t.name).sort()).toEqual(['quant-int4-g64', 'quant-int8-g64']);
      expect(l.groupActivity).toHaveLength(64);
      // static groups are the ones active on more than the threshold, and they come first
      l.groupActivity.forEach((a, i) => expect(a > f.staticThreshold).toBe(i < l.nStatic));
      // recall grows with k'_g and reaches 1 when every group is read
      for (let k = 1; k < l.recall.length; k++) expect(l.recall[k]!).toBeGreaterThanOrEqual(l.recall[k - 1]!);
      expect(l.recall[l.recall.length - 1]).toBeCloseTo(1, 9);
      const k99 = l.kPrime['0.99'];
      expect(k99).not.toBeNull();
      expect(l.recall[k99!]!).toBeGreaterThanOrEqual(0.99);
      if (k99! > 0) expect(l.recall[k99! - 1]!).toBeLessThan(0.99); // the smallest such k'_g
    }
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).hire_ffn_layout).toBe('neuron-rows');
  });

  it('the permuted, re-laid-out bundle decodes exactly like the source with the sparse FFN off', async () => {
    const prompt = [1, 200, 31, 7];
    const src = await Session.open(DEMO_MODEL_DIR, {backend: 'cpu', tokenizer: 'none'});
    const bundle = await Session.open(out, {backend: 'cpu', tokenizer: 'none', ffn: 'off'});
    try {
      expect(bundle.sparseFfn).toBeNull();
      expect(await greedyIds(bundle, prompt, 32)).toEqual(await greedyIds(src, prompt, 32));
    } finally {
      src.dispose();
      bundle.dispose();
    }
  });

  it('decodes with the sparse FFN by default, reading fewer weight bytes', async () => {
    const s = await Session.open(out, {backend: 'cpu', tokenizer: 'none'});
    try {
      const ffn = s.sparseFfn!;
      expect(ffn.layers).toHaveLength(4);
      expect(ffn.bytesPerToken).toBeLessThan(ffn.denseBytesPerToken);
      const ids = await greedyIds(s, [1, 200, 31, 7], 16);
      expect(ids).toHaveLength(16);
      expect(ffn.layers[0]!.stats().steps).toBeGreaterThan(16);
      // a higher recall target reads more groups
      const more = await Session.open(out, {backend: 'cpu', tokenizer: 'none', ffnRecall: 0.999});
      try {
        expect(more.sparseFfn!.bytesPerToken).toBeGreaterThan(ffn.bytesPerToken);
      } finally {
        more.dispose();
      }
    } finally {
      s.dispose();
    }
  });

  it('rejects a group size that does not divide the FFN width, and writes nothing', async () => {
    const bad = path.join(tmp, 'bad.hire');
    await expect(calibrate({model: DEMO_MODEL_DIR, out: bad, tokens: 256, ffn: {groupSize: 7}})).rejects.toThrow(UsageError);
    await expect(calibrate({model: DEMO_MODEL_DIR, out: bad, tokens: 256, ffn: {groupSize: 7}})).rejects.toThrow(/ffn\.groupSize 7 .* divides the FFN width 512/);
    expect(fs.existsSync(bad)).toBe(false);
  });
});

describe('calibrate --ffn on GPT-2 and OPT (non-gated FFNs with biases, Conv1D and fc layouts)', () => {
  for (const family of ['gpt2', 'opt'] as const) {
    it(`${family}: the re-laid-out bundle decodes like the source, and the sparse FFN reading every group too`, async () => {
      const dir = path.join(tmp, `${family}-src`);
      writeSyntheticCheckpoint(dir, {family, dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, vocabSize: TINY_VOCAB_SIZE, maxSeqLen: 64, seed: 41});
      writeTinyTokenizer(dir);
      const text = path.join(tmp, `${family}.txt`);
      fs.writeFileSync(text, 'the quick brown fox jumps over the lazy dog; a chat about hills and rivers. '.repeat(30));
      const out = path.join(tmp, `${family}.hire`);
      const {manifest} = await calibrate({model: dir, out, data: [text], tokens: 600, softmax: ['quant'], ffn: {groupSize: 4, topK: 0.25}});
      expect(manifest.ffn!.layers).toHaveLength(2);
      const prompt = [3, 17, 40, 5];
      const src = await Session.open(dir, {backend: 'cpu', tokenizer: 'none'});
      const dense = await Session.open(out, {backend: 'cpu', tokenizer: 'none', ffn: 'off'});
      const sparseAll = await Session.open(out, {backend: 'cpu', tokenizer: 'none', ffnKPrime: 16}); // 16 of 16 groups
      try {
        src.model.setFfnTopK(0.25);
        dense.model.setFfnTopK(0.25);
        const want = await greedyIds(src, prompt, 16);
        expect(await greedyIds(dense, prompt, 16)).toEqual(want);
        sparseAll.model.ffnOverride = sparseAll.sparseFfn!.layers; // every group read: force the sparse path
        expect(await greedyIds(sparseAll, prompt, 16)).toEqual(want);
      } finally {
        src.dispose();
        dense.dispose();
        sparseAll.dispose();
      }
    }, 60_000);
  }
});
