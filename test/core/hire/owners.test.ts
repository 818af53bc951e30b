/**
 * Batched HiRE passes `owners` to the backend, so that a sequence's work covers only its own rows:
 * the FFN's masks as one bit per sequence (ownersOf), the softmax head's candidates per union slot;
 * and whole batched decodes (greedy, HiRE softmax and FFN, odd and even batch sizes, unions of
 * some groups and of every group) still give each sequence the tokens it gets decoded alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it, vi} from 'vitest';
import type {Owners} from '../../../src/core/backends/backend.js';
import {generateBatch} from '../../../src/core/decode/batch-generate.js';
import {generateTokens} from '../../../src/core/decode/generate.js';
import {Session} from '../../../src/core/engine/session.js';
import {writeSyntheticCheckpoint} from '../../../src/core/model/synthetic.js';
import {ownersOf} from '../../../src/core/hire/ffn/sparse-layer.js';
import {installFfnPlans} from '../../../src/core/hire/ffn/setup.js';
import {syntheticFfnPlans} from '../../../src/core/hire/ffn/synthetic-plans.js';
import {syntheticPredictor} from '../../../src/core/hire/predictor/synthetic.js';
import {HireSoftmaxHead} from '../../../src/core/hire/softmax/head.js';
import {rng} from '../../helpers/random.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-owners-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const dir = path.join(tmp, 'model');
writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 128, vocabSize: 120, maxSeqLen: 64, activation: 'silu', ffnTopK: 0.2, seed: 41});

const GREEDY = {temperature: 0, topK: 0, topP: 1};

describe('ownersOf (the batched FFN)', () => {
  it('sets bit b of a union row exactly where mask b is 1, and gives no owners above 32 sequences', () => {
    const random = rng(4);
    const [g, nGroups] = [4, 12];
    const own = Array.from({length: 7}, () => Int32Array.from([...new Set(Array.from({length: 4}, () => Math.floor(random() * nGroups)))].sort((a, b) => a - b)));
    const rows = Int32Array.from([0, 1, 2, 3, 9, 10, 11, 20, 21, 47]);
    const {masks, owners} = ownersOf(own, rows, g, nGroups);
    expect(owners).toBeDefined();
    for (let j = 0; j < rows.length; j++) {
      for (let b = 0; b < own.length; b++) {
        const mine = own[b]!.includes(Math.floor(rows[j]! / g));
        expect(masks[b]![j]).toBe(mine ? 1 : 0);
        expect((owners![j]! >>> b) & 1).toBe(mine ? 1 : 0);
      }
    }
    // 33 sequences: masks only (a 33rd bit would wrap onto sequence 0's)
    const many = Array.from({length: 33}, (_, b) => Int32Array.from([b === 32 ? 5 : b % nGroups]));
    const wide = ownersOf(many, rows, g, nGroups);
    expect(wide.owners).toBeUndefined();
    expect(Array.from(wide.masks[32]!)).toEqual(Array.from(rows, (r) => (Math.floor(r / g) === 5 ? 1 : 0)));
    expect(Array.from(wide.masks[0]!)).toEqual(Array.from(rows, (r) => (Math.floor(r / g) === 0 ? 1 : 0)));
  });
});

describe('batched HiRE passes owners', () => {
  it("the softmax head: bit i of a union slot is set exactly for state i's candidates", async () => {
    const s = await Session.open(dir, {backend: 'cpu', tokenizer: 'none'});
    try {
      const predictor = syntheticPredictor({kind: 'quant', vocabSize: 120, dim: 32, rank: 8, bits: 8, groupSize: 32, seed: 3});
      const head = new HireSoftmaxHead(s.backend, s.model.weights.lmHead, predictor, {kPrime: 16, certifyK: null});
      const random = rng(8);
      const hs = Array.from({length: 5}, () => s.backend.uploadVector(Float32Array.from({length: 32}, () => random() * 2 - 1)));
      const spy = vi.spyOn(s.backend, 'matvecRowsBatch');
      const {results} = await head.nextBatch(hs);
      expect(spy).toHaveBeenCalledTimes(1);
      const [, union, , , owners] = spy.mock.calls[0]! as unknown as [unknown, Int32Array, unknown, unknown, Owners];
      expect(owners).toBeInstanceOf(Uint32Array);
      expect(owners.length).toBe(union.length);
      for (let j = 0; j < union.length; j++) {
        for (let i = 0; i < hs.length; i++) expect((owners[j]! >>> i) & 1).toBe(results[i]!.ids!.includes(union[j]!) ? 1 : 0);
      }
      // each state's exact logits are its own candidates' rows (within the batched kernels' rounding)
      for (let i = 0; i < hs.length; i++) {
        const alone = await head.next(hs[i]!);
        expect(Array.from(results[i]!.ids!)).toEqual(Array.from(alone.ids!));
        results[i]!.logits.forEach((v, k) => expect(v).toBeCloseTo(alone.logits[k]!, 5));
      }
    } finally {
      s.dispose();
    }
  });

  for (const [read, n] of [[0.3, 4], [0.3, 5], [0.7, 7]] as const) {
    it(`greedy decode of ${n} sequences (FFN read ${read}): each equals its decode alone, and the FFN and head passed owners`, async () => {
      const s = await Session.open(dir, {backend: 'cpu', tokenizer: 'none', ffnNeuronRows: true});
      try {
        await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 4, topK: 0.2, read}), 0.2);
        const predictor = syntheticPredictor({kind: 'quant', vocabSize: 120, dim: 32, rank: 8, bits: 8, groupSize: 32, seed: 3});
        const head = new HireSoftmaxHead(s.backend, s.model.weights.lmHead, predictor, {kPrime: 24, certifyK: null});
        const prompts = Array.from({length: n}, (_, b) => [(b * 37 + 5) % 120, (b * 11 + 1) % 120, b + 2].slice(0, 1 + (b % 3)));
        const seen = {rows: 0, all: 0, accumulate: 0};
        const b = s.backend;
        const spy = (name: 'matvecRowsBatch' | 'matvecBatch' | 'accumulateRowsBatch', key: keyof typeof seen, at: number) => {
          const orig = b[name].bind(b) as (...args: unknown[]) => void;
          vi.spyOn(b, name).mockImplementation(((...args: unknown[]) => {
            if (args[at] instanceof Uint32Array) seen[key]++;
            orig(...args);
          }) as never);
        };
        spy('matvecRowsBatch', 'rows', 4);
        spy('matvecBatch', 'all', 4);
        spy('accumulateRowsBatch', 'accumulate', 5);
        const batch = await generateBatch(s, prompts, {maxTokens: 10, sampling: GREEDY, seed: 1, eosTokenIds: [], head});
        expect(seen.rows).toBeGreaterThan(0);
        expect(seen.accumulate).toBeGreaterThan(0);
        if (read > 0.5) expect(seen.all).toBeGreaterThan(0); // unions of every group go through matvecBatch
        vi.restoreAllMocks();
        for (let i = 0; i < n; i++) {
          const alone: number[] = [];
          for await (const t of generateTokens(s, prompts[i]!, {maxTokens: 10, sampling: GREEDY, seed: 1, eosTokenIds: [], head})) alone.push(t.id);
          expect(batch.tokens[i]).toEqual(alone);
        }
      } finally {
        s.dispose();
      }
    });
  }
});
