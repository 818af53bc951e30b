/**
 * HiRE-FFN exactness: the neuron permutation (with W_out stored as neuron rows) leaves dense
 * outputs unchanged, and the sparse FFN equals the dense top-k FFN when k'_g covers every group,
 * for gated relu / silu Llama and GPT-2 (gelu, biases, Conv1D weights), on the reference and cpu
 * backends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {Session} from '../../../../src/core/engine/session.js';
import {logitsOver} from '../../../helpers/logits.js';
import {openModel} from '../../../../src/core/model/load.js';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../../src/core/model/synthetic.js';
import {writeSafetensors} from '../../../../src/core/model/formats/safetensors/index.js';
import {relayoutWeights} from '../../../../src/core/tasks/calibrate/ffn-bundle.js';
import {installFfnPlans} from '../../../../src/core/hire/ffn/setup.js';
import {syntheticFfnPlans} from '../../../../src/core/hire/ffn/synthetic-plans.js';
import {rng} from '../../../helpers/random.js';
import {quantizeModel} from '../../../../src/core/tasks/quantize.js';
import {costlyFfnLayers} from '../../../../src/core/tasks/calibrate/calibrate.js';
import type {FfnCalibration} from '../../../../src/core/tasks/calibrate/ffn-calibrate.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-ffn-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const SPECS: Record<string, SyntheticSpec> = {
  'llama relu (gated, trained top-k)': {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize: 90, maxSeqLen: 32, activation: 'relu', ffnTopK: 0.25, seed: 21},
  'llama silu with mlp bias, bf16': {family: 'llama', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 48, vocabSize: 80, maxSeqLen: 32, mlpBias: true, dtype: 'BF16', seed: 22},
  'gpt2 gelu with biases': {family: 'gpt2', dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, vocabSize: 70, maxSeqLen: 32, seed: 23},
};

const TOKENS = [3, 17, 5, 40, 2, 33, 8, 11];

const logits = (dir: string, backend: string, setup?: (s: Session) => Promise<void>, neuronRows?: boolean) =>
  logitsOver(dir, backend, TOKENS, {setup, open: {ffnNeuronRows: neuronRows}});

function expectClose(a: Float32Array[], b: Float32Array[], rel: number): void {
  for (let p = 0; p < a.length; p++) {
    const scale = Math.max(...a[p]!.map(Math.abs));
    let worst = 0;
    for (let i = 0; i < a[p]!.length; i++) worst = Math.max(worst, Math.abs(a[p]![i]! - b[p]![i]!));
    expect(worst / scale).toBeLessThan(rel);
  }
}

function shuffled(n: number, rand: () => number): Int32Array {
  const p = Int32Array.from({length: n}, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

describe('HiRE-FFN exactness', () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    const dir = path.join(tmp, name.replace(/\W+/g, '-'));
    writeSyntheticCheckpoint(dir, spec);

    it(`${name}: permuting neurons and storing W_out as neuron rows leaves the logits unchanged`, async () => {
      const source = openModel(dir);
      const rand = rng(5);
      const perms = Array.from({length: spec.nLayers}, () => shuffled(spec.hiddenDim, rand));
      const permuted = path.join(tmp, `${path.basename(dir)}-permuted`);
      fs.mkdirSync(permuted, {recursive: true});
      try {
        writeSafetensors(path.join(permuted, 'model.safetensors'), relayoutWeights(source, perms).tensors, {format: 'pt'});
      } finally {
        source.checkpoint.close();
      }
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      fs.writeFileSync(path.join(permuted, 'config.json'), JSON.stringify({...config, hire_ffn_layout: 'neuron-rows'}));
      const before = await logits(dir, 'reference');
      const after = await logits(permuted, 'reference');
      expectClose(before, after, 1e-6);
      // and a wrong permutation is caught by the same comparison (the test can fail)
      const wrong = path.join(tmp, `${path.basename(dir)}-wrong`);
      fs.mkdirSync(wrong, {recursive: true});
      const src2 = openModel(dir);
      const tensors = relayoutWeights(src2, perms).tensors;
      src2.checkpoint.close();
      const downName = [...tensors.keys()].find((k) => /(^|\.)0\.mlp\.(down_proj|c_proj)\.weight$/.test(k))!;
      const down = tensors.get(downName)!;
      const src = down.data as Float32Array | Uint16Array;
      const data = src.slice();
      const cols = spec.dim;
      const rows = spec.hiddenDim;
      // W_out^T rows in reverse order: the permutation no longer matches W_in's
      for (let r = 0; r < rows; r++) data.set(src.subarray(r * cols, (r + 1) * cols), (rows - 1 - r) * cols);
      tensors.set(downName, {...down, data});
      writeSafetensors(path.join(wrong, 'model.safetensors'), tensors, {format: 'pt'});
      fs.writeFileSync(path.join(wrong, 'config.json'), JSON.stringify({...config, hire_ffn_layout: 'neuron-rows'}));
      const bad = await logits(wrong, 'reference');
      expect(() => expectClose(before, bad, 1e-6)).toThrow();
    });

    for (const backend of ['reference', 'cpu']) {
      it(`${name}, ${backend}: one sequence gives what a batch of two copies of it (the union path, masks, owners) gives it`, async () => {
        // read 0.25: fewer neurons computed than top-k keeps, and (relu) exact zeros among them
        const topK = spec.ffnTopK ?? 0.25;
        const s = await Session.open(dir, {tokenizer: 'none', backend, ffnNeuronRows: true});
        try {
          const sparse = await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 8, topK, read: 0.25}), topK);
          const rand = rng(7);
          const b = s.backend;
          for (const layer of sparse.layers) {
            for (let trial = 0; trial < 4; trial++) {
              const x = b.createVector(s.config.dim);
              b.write(x, Float32Array.from({length: s.config.dim}, () => rand() * 2 - 1));
              const [one, a, c] = [0, 1, 2].map(() => b.createVector(s.config.dim));
              const info = await layer.run([x], [one!]);
              await layer.run([x, x], [a!, c!]);
              const [want, got] = [await b.read(a!), await b.read(one!)];
              expect(Array.from(await b.read(c!))).toEqual(Array.from(want));
              const scale = Math.max(...want.map(Math.abs));
              for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * scale);
              expect(info.bytes).toBeLessThanOrEqual(layer.bytesPerToken);
            }
          }
        } finally {
          s.dispose();
        }
      });
    }

    for (const backend of ['reference', 'cpu']) {
      it(`${name}, ${backend}: the sparse FFN reading every group equals the dense top-k FFN`, async () => {
        const topK = spec.ffnTopK ?? 0.25;
        const dense = await logits(dir, backend, async (s) => s.model.setFfnTopK(topK));
        for (const kind of ['quant', 'lowrank+quant'] as const) {
          const sparse = await logits(
            dir,
            backend,
            async (s) => {
              const sparse = await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind, bits: 8, groupSize: 8, topK, read: 1}), topK);
              // every group read: install falls back to the dense FFN; force the sparse path to test it
              expect(sparse.overrides.every((o) => o === null)).toBe(true);
              s.model.ffnOverride = sparse.layers;
            },
            true,
          );
          expectClose(dense, sparse, 1e-5);
        }
        // reading too few groups changes the output (so the comparison above is not vacuous)
        const partial = await logits(
          dir,
          backend,
          async (s) => {
            await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 8, topK, read: 0.25}), topK);
          },
          true,
        );
        expect(() => expectClose(dense, partial, 1e-5)).toThrow();
      });
    }
  }
});

describe('HiRE-FFN layers that would read more than the dense FFN', () => {
  it('run dense (no override), and say so, where the predictor and rows read at least the dense bytes; a small predictor stays sparse', async () => {
    const f32 = path.join(tmp, 'costly-f32');
    const q4 = path.join(tmp, 'costly-q4_0');
    writeSyntheticCheckpoint(f32, {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 90, maxSeqLen: 16, seed: 31});
    await quantizeModel({model: f32, to: 'q4_0', out: q4});
    const s = await Session.open(q4, {tokenizer: 'none', backend: 'cpu', threads: 1, ffnNeuronRows: true});
    try {
      // an int8 predictor of [W_gate; W_up] reads 2 bytes per neuron and column, their q4_0 rows 1.125
      const big = await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'quant', bits: 8, groupSize: 8, topK: 0.25, read: 0.25}), 0.25);
      expect(big.layers.every((l) => !l.readsAll && l.runsDense && l.sparseBytes >= big.denseBytesPerToken / 2)).toBe(true);
      expect(big.overrides).toEqual([null, null]);
      expect(big.bytesPerToken).toBe(big.denseBytesPerToken);
      expect(big.describe).toContain('2 of 2 layers run dense: predictor + rows >= dense bytes');
      const small = await installFfnPlans(s.model, syntheticFfnPlans(s.config, {kind: 'lowrank+quant', bits: 4, rank: 8, groupSize: 8, topK: 0.25, read: 0.25}), 0.25);
      expect(small.overrides.every((o) => o !== null)).toBe(true);
      expect(small.bytesPerToken).toBeLessThan(small.denseBytesPerToken);
      expect(small.describe).not.toContain('run dense');
    } finally {
      s.dispose();
    }
  });

  it('calibration names them: costlyFfnLayers', () => {
    const record = (nStatic: number, kp: number | null, predictorBytes: number) =>
      ({predictor: {bytesPerToken: predictorBytes}, nStatic, kPrime: {'0.99': kp}}) as unknown as FfnCalibration['records'][number];
    const ffn = {groupSize: 8, records: [record(1, 2, 100), record(0, 3, 1000), record(2, 14, 5000), record(0, null, 5000)]} as unknown as FfnCalibration;
    // 16 groups of 8 rows of 10 bytes: dense 1280; layer 0 reads 100 + 24 rows = 340, layer 1 1000 + 240,
    // layer 2 reads every group (reported apart), layer 3 never reaches the target
    expect(costlyFfnLayers(ffn, 10, 128, 0.99)).toEqual([]);
    ffn.records[1] = record(0, 4, 1000); // 1000 + 320 = 1320 >= 1280
    expect(costlyFfnLayers(ffn, 10, 128, 0.99)).toEqual([[1, 1320, 1280]]);
  });
});
