/**
 * HiRE-FFN on a prompt block: the block runs the dense (top-k) FFN where that reads fewer bytes
 * than the union of its rows' groups plus the predictor (from a few rows on), and the sparse FFN
 * otherwise; single decode steps always run the sparse FFN.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {Session} from '../../../../src/core/engine/session.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {installFfnPlans} from '../../../../src/core/hire/ffn/setup.js';
import {syntheticFfnPlans} from '../../../../src/core/hire/ffn/synthetic-plans.js';
import type {SparseFfnLayer} from '../../../../src/core/hire/ffn/sparse-layer.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-ffn-block-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const dir = path.join(tmp, 'model');
writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 256, vocabSize: 60, maxSeqLen: 32, activation: 'relu', ffnTopK: 0.2, seed: 7});
const PROMPT = [4, 9, 13, 2, 40, 7, 7, 21];

async function sparseSession(read: number): Promise<{s: Session; layers: SparseFfnLayer[]; calls: number[]}> {
  const s = await Session.open(dir, {backend: 'cpu', threads: 1, tokenizer: 'none', ffnNeuronRows: true});
  const sparse = await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 4, topK: 0.2, read}), 0.2);
  const calls: number[] = [];
  // count the rows each sparse run sees, keeping the layer's own block decision
  s.model.ffnOverride = sparse.layers.map((layer) => ({
    run: (xs, outs) => {
      calls.push(xs.length);
      return layer.run(xs, outs);
    },
    denseForBlock: (n: number) => layer.denseForBlock(n),
  }));
  return {s, layers: sparse.layers, calls};
}

describe('HiRE-FFN on a prompt block', () => {
  it('a block whose rows together read about every group runs the dense top-k FFN; decode steps stay sparse', async () => {
    const {s, layers, calls} = await sparseSession(0.4);
    try {
      expect(layers[0]!.expectedUnionGroups(1)).toBeCloseTo(0.4 * 64, 0);
      expect(layers[0]!.expectedUnionGroups(8)).toBeGreaterThan(0.97 * 64);
      expect(layers[0]!.denseForBlock(8)).toBe(true);
      const cache = s.model.createCache(PROMPT.length + 1);
      const h = await s.backend.read(await s.model.prefill(PROMPT, 0, cache));
      expect(calls).toEqual([]); // no sparse run for the block
      // the same block with the sparse FFN removed: the dense top-k FFN, the same result
      const overrides = s.model.ffnOverride;
      s.model.ffnOverride = null;
      const plain = s.model.createCache(PROMPT.length);
      expect(await s.backend.read(await s.model.prefill(PROMPT, 0, plain))).toEqual(h);
      s.model.ffnOverride = overrides;
      await s.model.hidden(5, PROMPT.length, cache);
      expect(calls).toEqual([1, 1]); // one decode step: each layer's sparse FFN on one row
    } finally {
      s.dispose();
    }
  });

  it('a block of few rows over a layer read sparsely keeps the union of its groups', async () => {
    const {s, layers, calls} = await sparseSession(0.05);
    try {
      expect(layers[0]!.denseForBlock(2)).toBe(false);
      const cache = s.model.createCache(2);
      await s.backend.read(await s.model.prefill(PROMPT.slice(0, 2), 0, cache));
      expect(calls).toEqual([2, 2]);
    } finally {
      s.dispose();
    }
  });
});
