/**
 * bench on ggml block weights: bytes per token from the real block bytes, weight operations per
 * second beside them, and the compute probe (the backend's matvec on an in-cache matrix).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {createBackend} from '../../../../src/core/backends/index.js';
import {Session} from '../../../../src/core/engine/session.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {COMPUTE_PROBE_SHAPE, denseWeightOps, mainWeightDtype, measureComputeOps} from '../../../../src/core/tasks/bench/compute-probe.js';
import {runBench} from '../../../../src/core/tasks/bench/run.js';
import {quantizeModel} from '../../../../src/core/tasks/quantize.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-bench-blocks-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const f32 = path.join(tmp, 'f32');
writeSyntheticCheckpoint(f32, {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 1000, maxSeqLen: 64, seed: 2});
const LAYER_WEIGHTS = 4 * 64 * 64 + 3 * 128 * 64; // q, k, v, o + gate, up, down
const WEIGHTS = 2 * LAYER_WEIGHTS + 1000 * 64; // layers + the tied output layer

describe('bench on q8_0 / q4_0 weights', () => {
  for (const [format, blockBytes] of [['q4_0', 18], ['q8_0', 34]] as const) {
    it(`${format}: bytes per token are the real block bytes; GOP/s is 2 per weight per token`, async () => {
      const dir = path.join(tmp, format);
      await quantizeModel({model: f32, to: format, out: dir});
      const r = await runBench({model: dir, backend: 'cpu', threads: 1, tokens: 3, promptTokens: 2, probe: false, hire: {kind: 'lowrank+quant', rank: 8, bits: 4, kPrime: 50}, ffn: {kind: 'lowrank', bits: 4, groupSize: 8, topK: 0.25, read: 0.5}});
      expect(r.dtype.split('+')).toContain(format);
      expect(r.rows.map((row) => row.mode)).toEqual(['dense', 'hire-softmax', 'hire-ffn', 'hire-both']);
      const perWeight = blockBytes / 32;
      // One embedding row, the layers and the tied output layer, every matrix in blocks; with the
      // synthetic FFN W_out is held as Q8_0 neuron rows (its blocks run along the other axis).
      const wOut = 2 * 64 * 128 * (34 / 32 - perWeight);
      expect(r.rows[0]!.weightBytesPerToken).toBeCloseTo(64 * perWeight + WEIGHTS * perWeight + wOut, 6);
      const dense = r.rows[0]!;
      expect(dense.weightOpsPerSecond).toBeCloseTo(2 * WEIGHTS * dense.decodeTokensPerSecond, 3);
      for (const row of r.rows.slice(1)) {
        expect(row.weightOpsPerSecond).toBeCloseTo((2 * WEIGHTS * row.decodeTokensPerSecond * row.weightBytesPerToken) / dense.weightBytesPerToken, 3);
      }
      expect(r.computeProbe).toBeNull();
      // the dense row sums W_out's block rows (slower than a plain dense run): the report says so
      expect(r.notes.filter((n) => n.includes(`held as q8_0 neuron rows`))).toHaveLength(1);
    });
  }

  it('says nothing of the dense row where W_out is not held as block rows (f32, or no FFN rows)', async () => {
    const common = {backend: 'cpu', threads: 1, tokens: 2, promptTokens: 2, probe: false, hire: null} as const;
    const f32Run = await runBench({...common, model: f32, ffn: {kind: 'lowrank', bits: 4, groupSize: 8, topK: 0.25, read: 0.5}});
    const q4 = path.join(tmp, 'q4_0-plain');
    await quantizeModel({model: f32, to: 'q4_0', out: q4});
    const plain = await runBench({...common, model: q4, ffn: null});
    expect(f32Run.rows.map((row) => row.mode)).toEqual(['dense', 'hire-ffn']);
    expect([...f32Run.notes, ...plain.notes].filter((n) => n.includes('neuron rows'))).toEqual([]);
  });

  it('denseWeightOps counts 2 per weight of every matrix read whole; mainWeightDtype names the block format', async () => {
    const dir = path.join(tmp, 'q8-main');
    await quantizeModel({model: f32, to: 'q8_0', out: dir});
    const session = await Session.open(dir, {backend: 'reference', tokenizer: 'none'});
    try {
      expect(denseWeightOps(session.model.weights)).toBe(2 * WEIGHTS);
      expect(mainWeightDtype(session.model.weights)).toBe('q8_0');
    } finally {
      session.dispose();
    }
  });

  it('the compute probe times the matvec kernel of each format on the in-cache matrix', async () => {
    const backend = await createBackend('cpu', {threads: 1});
    try {
      for (const dtype of ['f32', 'bf16', 'f16', 'q8_0', 'q4_0'] as const) {
        const p = await measureComputeOps(backend, dtype, 1, 2);
        expect(p).toMatchObject({dtype, ...COMPUTE_PROBE_SHAPE});
        expect(Number.isFinite(p.opsPerSecond) && p.opsPerSecond > 0).toBe(true);
      }
    } finally {
      backend.dispose();
    }
  });
});
