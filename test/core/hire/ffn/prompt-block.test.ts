/**
 * HiRE-FFN on a prompt block: the block runs the dense (top-k) FFN where the union of its rows'
 * groups (found by the predictor) reads at least the dense FFN's bytes, and the sparse FFN over
 * that union otherwise; single decode steps and batches of sequences always run the sparse FFN.
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

type Outcome = {rows: number; sparse: boolean};

async function sparseSession(read: number): Promise<{s: Session; layers: SparseFfnLayer[]; calls: Outcome[]}> {
  const s = await Session.open(dir, {backend: 'cpu', threads: 1, tokenizer: 'none', ffnNeuronRows: true});
  const sparse = await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 4, topK: 0.2, read}), 0.2);
  const calls: Outcome[] = [];
  // record the rows each sparse run sees and whether it kept them or declined (null: dense FFN)
  s.model.ffnOverride = sparse.layers.map((layer) => ({
    run: async (xs, outs, opts) => {
      const info = await layer.run(xs, outs, opts);
      calls.push({rows: xs.length, sparse: info !== null});
      return info;
    },
  }));
  return {s, layers: sparse.layers, calls};
}

describe('HiRE-FFN on a prompt block', () => {
  it('a block whose union of groups is every group runs the dense top-k FFN; decode steps stay sparse', async () => {
    // 58 of 64 groups a row: any union of 8 rows, padded to whole 8-group blocks, is all 64
    const {s, calls} = await sparseSession(0.9);
    try {
      const cache = s.model.createCache(PROMPT.length + 1);
      const h = await s.backend.read(await s.model.prefill(PROMPT, 0, cache));
      expect(calls).toEqual([
        {rows: 8, sparse: false},
        {rows: 8, sparse: false},
      ]);
      // the same block with the sparse FFN removed: the dense top-k FFN, the same result
      const overrides = s.model.ffnOverride;
      s.model.ffnOverride = null;
      const plain = s.model.createCache(PROMPT.length);
      expect(await s.backend.read(await s.model.prefill(PROMPT, 0, plain))).toEqual(h);
      s.model.ffnOverride = overrides;
      calls.length = 0;
      await s.model.hidden(5, PROMPT.length, cache);
      expect(calls).toEqual([
        {rows: 1, sparse: true},
        {rows: 1, sparse: true},
      ]); // one decode step: each layer's sparse FFN on one row
    } finally {
      s.dispose();
    }
  });

  it('a block whose rows share their groups keeps the union, though independent rows would cover every group', async () => {
    // eight copies of one token: every layer's FFN inputs are equal, so the union is one row's
    // 26 of 64 groups (8 independent rows at this share would read about 63); the layers run as
    // installed (no recording wrapper)
    const s = await Session.open(dir, {backend: 'cpu', threads: 1, tokenizer: 'none', ffnNeuronRows: true});
    try {
      await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 4, topK: 0.2, read: 0.4}), 0.2);
      const same = Array.from({length: 8}, () => 7);
      const cache = s.model.createCache(same.length);
      await s.backend.read(await s.model.prefill(same, 0, cache));
      const st = s.model.stats();
      expect(st.unionGroups).toBeLessThan(40);
      expect(st.unionGroups! - st.groupsPerRow!).toBeLessThan(8); // the union is one row's groups, padded to whole blocks
    } finally {
      s.dispose();
    }
  });

  it('a batch of sequences decoding together is never declined (each keeps its own sparse FFN)', async () => {
    const {s, calls} = await sparseSession(0.9);
    try {
      const caches = [s.model.createCache(2), s.model.createCache(2)];
      await s.backend.read((await s.model.run({tokens: [4, 9], positions: [0, 0], caches}))[0]!);
      expect(calls).toEqual([
        {rows: 2, sparse: true},
        {rows: 2, sparse: true},
      ]);
    } finally {
      s.dispose();
    }
  });
});
