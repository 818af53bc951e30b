/**
 * Batched decoding (dynamic overlap) gives every sequence exactly what it gets decoded alone:
 * dense and sparse FFN, dense and HiRE softmax, prompts of different lengths, sequences that stop
 * early; and the union of the batch's groups is what is read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {generateBatch} from '../../../src/core/decode/batch-generate.js';
import {padGroups} from '../../../src/core/hire/ffn/groups.js';
import {generateTokens} from '../../../src/core/decode/generate.js';
import {Session} from '../../../src/core/engine/session.js';
import {writeSyntheticCheckpoint} from '../../../src/core/model/synthetic.js';
import {installFfnPlans} from '../../../src/core/hire/ffn/setup.js';
import {syntheticFfnPlans} from '../../../src/core/hire/ffn/synthetic-plans.js';
import {syntheticPredictor} from '../../../src/core/hire/predictor/synthetic.js';
import {HireSoftmaxHead} from '../../../src/core/hire/softmax/head.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-batch-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const dir = path.join(tmp, 'model');
writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 128, vocabSize: 120, maxSeqLen: 64, activation: 'relu', ffnTopK: 0.2, seed: 31});

const PROMPTS = [[5, 9, 14], [100], [7, 7, 7, 7, 3], [42, 1]];
const SAMPLING = {temperature: 0.9, topK: 20, topP: 0.95};

describe('batched decoding', () => {
  for (const backend of ['reference', 'cpu']) {
    for (const sparse of [false, true]) {
      for (const hire of [false, true]) {
        it(`${backend}, ${sparse ? 'sparse' : 'dense'} FFN, ${hire ? 'HiRE' : 'dense'} softmax: each sequence equals its one-by-one decode`, async () => {
          const s = await Session.open(dir, {backend, tokenizer: 'none', ffnNeuronRows: true});
          try {
            if (sparse) await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 4, topK: 0.2, read: 0.4}), 0.2);
            const head = hire
              ? new HireSoftmaxHead(s.backend, s.model.weights.lmHead, syntheticPredictor({kind: 'quant', vocabSize: 120, dim: 32, rank: 8, bits: 8, groupSize: 32, seed: 3}), {kPrime: 24, certifyK: null})
              : undefined;
            const eos = [17];
            const batch = await generateBatch(s, PROMPTS, {maxTokens: 12, sampling: SAMPLING, seed: 100, eosTokenIds: eos, head});
            for (let b = 0; b < PROMPTS.length; b++) {
              const alone: number[] = [];
              for await (const t of generateTokens(s, PROMPTS[b]!, {maxTokens: 12, sampling: SAMPLING, seed: 100 + b, eosTokenIds: eos, head})) alone.push(t.id);
              expect(batch.tokens[b]).toEqual(alone);
            }
            expect(batch.steps).toBeGreaterThan(0);
            if (sparse) {
              // the union over the batch is at least one sequence's groups and at most their sum
              expect(batch.unionGroups!).toBeGreaterThanOrEqual(batch.groupsPerSequence!);
              expect(batch.unionGroups!).toBeLessThanOrEqual(batch.groupsPerSequence! * PROMPTS.length + 8);
            } else {
              expect(batch.unionGroups).toBeNull();
            }
          } finally {
            s.dispose();
          }
        });
      }
    }
  }

  it("cpu: a step mixing one sequence's prompt block with other sequences' single rows attends those rows in one call, bit for bit what one call per sequence gives", async () => {
    const s = await Session.open(dir, {backend: 'cpu', tokenizer: 'none'});
    try {
      const joint: number[] = [];
      const attentionSeqs = s.backend.attentionSeqs!.bind(s.backend);
      const prefixes = [[5, 9, 14], [100, 3], [8, 8, 8, 8]];
      const step = async (together: boolean) => {
        s.backend.attentionSeqs = together
          ? (...args) => {
              joint.push(args[0].length);
              return attentionSeqs(...args);
            }
          : undefined;
        const caches = prefixes.map(() => s.model.createCache(16));
        for (const [i, p] of prefixes.entries()) await s.backend.read(await s.model.prefill(p, 0, caches[i]!));
        const a = s.model.createCache(16);
        // a's prompt block at 0..3, then one row of each prefilled sequence
        const hs = await s.model.run({tokens: [7, 7, 2, 9, 42, 8, 61], positions: [0, 1, 2, 3, 3, 2, 4], caches: [a, a, a, a, ...caches], outputs: [3, 4, 5, 6]});
        const rows = await Promise.all(hs.map(async (h) => Array.from(await s.backend.read(h))));
        const kv = await Promise.all([a, ...caches].map((c, i) => s.backend.readKvCache(c, 1, [4, 4, 3, 5][i]!)));
        return {rows, kv: kv.map((c) => [Array.from(c.keys), Array.from(c.values)])};
      };
      const [one, each] = [await step(true), await step(false)];
      expect(joint).toEqual([3, 3]); // one call a layer, for the three single rows
      expect(one).toEqual(each);
      // and close to each row decoded alone (the batched products sum in another order)
      const alone = prefixes.map(() => s.model.createCache(16));
      for (const [i, p] of prefixes.entries()) await s.backend.read(await s.model.prefill(p, 0, alone[i]!));
      const want = [
        await s.backend.read(await s.model.prefill([7, 7, 2, 9], 0, s.model.createCache(16))),
        await s.backend.read(await s.model.hidden(42, 3, alone[0]!)),
        await s.backend.read(await s.model.hidden(8, 2, alone[1]!)),
        await s.backend.read(await s.model.hidden(61, 4, alone[2]!)),
      ];
      one.rows.forEach((h, i) => h.forEach((x, j) => expect(x, `row ${i}`).toBeCloseTo(want[i]![j]!, 5)));
    } finally {
      s.dispose();
    }
  });

  it('reads shared weights once: bytes per token fall as the batch grows', async () => {
    const s = await Session.open(dir, {backend: 'cpu', tokenizer: 'none', ffnNeuronRows: true});
    try {
      await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 4, topK: 0.2, read: 0.3}), 0.2);
      const one = await generateBatch(s, [[1, 2]], {maxTokens: 6, sampling: SAMPLING, seed: 1, eosTokenIds: []});
      const four = await generateBatch(s, [[1, 2], [3], [4, 5], [6]], {maxTokens: 6, sampling: SAMPLING, seed: 1, eosTokenIds: []});
      // four sequences read the dense matrices once and the union of their FFN groups (here most of
      // the layer): well under one sequence's bytes per token, though not a quarter
      expect(four.bytesPerToken).toBeLessThan(one.bytesPerToken * 0.7);
      expect(four.unionGroups!).toBeGreaterThan(four.groupsPerSequence!);
    } finally {
      s.dispose();
    }
  });

  it('counts a backend whose batched kernels loop as reading every weight once per sequence', async () => {
    const s = await Session.open(dir, {backend: 'reference', tokenizer: 'none'});
    try {
      expect(s.backend.supports('sharedBatch')).toBe(false);
      const one = await generateBatch(s, [[1, 2]], {maxTokens: 4, sampling: SAMPLING, seed: 1, eosTokenIds: []});
      const three = await generateBatch(s, [[1, 2], [3], [4, 5]], {maxTokens: 4, sampling: SAMPLING, seed: 1, eosTokenIds: []});
      expect(three.bytesPerToken).toBeCloseTo(one.bytesPerToken, 6);
    } finally {
      s.dispose();
    }
  });

  it('pads a group list with the lowest free groups to a multiple', () => {
    expect(Array.from(padGroups(Int32Array.from([2, 5, 6]), 10, 4))).toEqual([0, 2, 5, 6]);
    expect(Array.from(padGroups(Int32Array.from([0, 1, 2, 3]), 10, 4))).toEqual([0, 1, 2, 3]);
    expect(Array.from(padGroups(Int32Array.from([1]), 3, 8))).toEqual([0, 1, 2]); // capped at nGroups
  });
});
