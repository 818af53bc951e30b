/**
 * Predictor shards: a device's slice of a layer's FFN predictor ([W_gate; W_up] rows of its
 * neurons, or W_in rows) gives exactly the full predictor's values at those rows, for every kind.
 */
import {describe, expect, it} from 'vitest';
import {ReferenceBackend} from '../../../src/core/backends/reference/reference-backend.js';
import {syntheticPredictor} from '../../../src/core/hire/predictor/synthetic.js';
import {sliceFfnPredictor} from '../../../src/core/parallel/shard-predictor.js';
import {UploadedPredictor} from '../../../src/core/hire/predictor/uploaded.js';
import {SOFTMAX_KINDS} from '../../../src/core/hire/predictor/predictor.js';
import {rng} from '../../helpers/random.js';

const [hiddenDim, dim] = [24, 64];
const neurons = Int32Array.from([4, 5, 6, 7, 16, 17, 18, 19]);

describe('FFN predictor shards', () => {
  for (const kind of SOFTMAX_KINDS) {
    for (const gated of [true, false]) {
      it(`${kind}, ${gated ? 'gated' : 'ungated'}: the slice predicts the device's rows exactly`, async () => {
        const rows = gated ? 2 * hiddenDim : hiddenDim;
        const p = syntheticPredictor({kind, vocabSize: rows, dim, rank: 8, bits: 4, groupSize: kind === 'quant' ? 32 : 8, seed: 3});
        const slice = sliceFfnPredictor(p, neurons, hiddenDim, gated);
        expect(slice.vocabSize).toBe(gated ? 2 * neurons.length : neurons.length);
        const b = new ReferenceBackend();
        const rand = rng(5);
        const x = b.uploadVector(Float32Array.from({length: dim}, () => rand() - 0.5));
        const full = await new UploadedPredictor(b, p).predict(x);
        const part = await new UploadedPredictor(b, slice).predict(x);
        const want = [...neurons].map((n) => full[n]!);
        if (gated) want.push(...[...neurons].map((n) => full[hiddenDim + n]!));
        expect(Array.from(part)).toEqual(want);
        // B (low-rank kinds) is replicated, so the slice reads fewer bytes only in its row part
        expect(new UploadedPredictor(b, slice).bytes).toBeLessThan(new UploadedPredictor(b, p).bytes);
      });
    }
  }

  it('rejects a predictor of the wrong height', () => {
    const p = syntheticPredictor({kind: 'quant', vocabSize: hiddenDim, dim, rank: 8, bits: 4, groupSize: 32, seed: 3});
    expect(() => sliceFfnPredictor(p, neurons, hiddenDim, true)).toThrow(/48/);
  });
});
