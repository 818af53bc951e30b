/**
 * HiRE-FFN on a prompt block: every row gets its own sparse FFN (the union of the block's groups
 * read once, each row masked to its own), never the dense top-k FFN, so a prompt's hidden states
 * do not depend on how it is split into blocks; decode steps and batches run the same way.
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
import type {Vec} from '../../../../src/core/backends/backend.js';
import {generateBatch} from '../../../../src/core/decode/batch-generate.js';

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
    run: async (xs: Vec[], outs: Vec[]) => {
      const info = await layer.run(xs, outs);
      calls.push({rows: xs.length, sparse: info !== null});
      return info;
    },
  }));
  return {s, layers: sparse.layers, calls};
}

describe('HiRE-FFN on a prompt block', () => {
  it("a block whose union is every group still runs each row's own sparse FFN: the same hidden state at once, in chunks and token by token", async () => {
    // 58 of 64 groups a row: any union of 8 rows, padded to whole 8-group blocks, is all 64
    const {s, calls} = await sparseSession(0.9);
    try {
      const whole = s.model.createCache(PROMPT.length + 1);
      const h = await s.backend.read(await s.model.prefill(PROMPT, 0, whole));
      // layer 0 runs the block's 8 rows; the last layer runs on past attention only for the row
      // whose state the prefill returns (StepRows.outputs)
      expect(calls).toEqual([
        {rows: 8, sparse: true},
        {rows: 1, sparse: true},
      ]);
      const chunked = s.model.createCache(PROMPT.length);
      await s.model.prefill(PROMPT.slice(0, 3), 0, chunked);
      const hc = await s.backend.read(await s.model.prefill(PROMPT.slice(3), 3, chunked));
      const single = s.model.createCache(PROMPT.length);
      let last = null;
      for (let t = 0; t < PROMPT.length; t++) last = await s.model.hidden(PROMPT[t]!, t, single);
      const h1 = await s.backend.read(last!);
      for (let i = 0; i < h.length; i++) {
        expect(hc[i]!).toBeCloseTo(h[i]!, 4);
        expect(h1[i]!).toBeCloseTo(h[i]!, 4);
      }
      // the dense top-k FFN gives another state (recall below 1): the block did not run it
      const overrides = s.model.ffnOverride;
      s.model.ffnOverride = null;
      const dense = await s.backend.read(await s.model.prefill(PROMPT, 0, s.model.createCache(PROMPT.length)));
      s.model.ffnOverride = overrides;
      expect(Math.max(...Array.from(dense, (v, i) => Math.abs(v - h[i]!)))).toBeGreaterThan(1e-3);
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

  it("a batch of sequences decoding together runs each one's own sparse FFN", async () => {
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

  it('a batch whose union is every group reads the whole matrices with the dense kernels, and each sequence decodes what it decodes alone', async () => {
    const {s, layers} = await sparseSession(0.9);
    try {
      const prompts = [[4, 9], [13, 2, 40], [7], [7, 21, 3], [5, 5], [1, 2, 3, 4], [30], [11, 12]];
      const opts = {maxTokens: 6, sampling: {temperature: 0, topK: 0, topP: 1}, eosTokenIds: [], head: s.denseHead()};
      const before = layers.map((l) => l.stats().fullSteps);
      const batch = await generateBatch(s, prompts, {...opts, seed: 1});
      // 5 steps of 8 rows, each layer's union padded to every group
      layers.forEach((l, i) => expect(l.stats().fullSteps - before[i]!).toBeGreaterThanOrEqual(5));
      for (const [b, p] of prompts.entries()) {
        const alone = await generateBatch(s, [p], {...opts, seed: 1 + b});
        expect(alone.tokens[0]).toEqual(batch.tokens[b]);
      }
      // and the hidden states of a batched step match each row alone
      const rows = [4, 9, 13, 2, 40, 7, 21, 3];
      const caches = rows.map(() => s.model.createCache(2));
      const hs = await s.model.run({tokens: rows, positions: rows.map(() => 0), caches});
      const together = await Promise.all(hs.map((h) => s.backend.read(h)));
      for (const [i, t] of rows.entries()) {
        const h1 = await s.backend.read(await s.model.hidden(t, 0, s.model.createCache(2)));
        for (let j = 0; j < h1.length; j++) expect(together[i]![j]!).toBeCloseTo(h1[j]!, 4);
      }
    } finally {
      s.dispose();
    }
  });
});
