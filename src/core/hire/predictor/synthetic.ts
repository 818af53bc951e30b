/**
 * Predictors with random tensors of a chosen kind and size, for speed measurements on synthetic
 * shapes: a step's cost does not depend on the values, only on the shapes and k'.
 */
import {createRng} from '../../numeric/rng.js';
import {quantize, type QuantBits} from '../../numeric/quant.js';
import {predictorName, type SoftmaxKind, type SoftmaxPredictor} from './predictor.js';

export interface SyntheticPredictorSpec {
  kind: SoftmaxKind;
  vocabSize: number;
  dim: number;
  rank: number;
  bits: QuantBits;
  groupSize: number;
  seed: number;
}

function randomArray(n: number, scale: number, rng: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng() * 2 - 1) * scale;
  return out;
}

export function syntheticPredictor(s: SyntheticPredictorSpec): SoftmaxPredictor {
  const rng = createRng(s.seed);
  const base = {vocabSize: s.vocabSize, dim: s.dim, errNorms: new Float32Array(s.vocabSize), A: null, B: null, Q: null};
  switch (s.kind) {
    case 'lowrank':
      return {
        ...base,
        name: predictorName('lowrank', {rank: s.rank, fit: 'svd'}),
        kind: 'lowrank',
        fit: 'svd',
        rank: s.rank,
        bits: null,
        groupSize: null,
        A: randomArray(s.vocabSize * s.rank, 1, rng),
        B: randomArray(s.rank * s.dim, 1 / Math.sqrt(s.dim), rng),
      };
    case 'quant':
      return {
        ...base,
        name: predictorName('quant', {bits: s.bits, groupSize: s.groupSize}),
        kind: 'quant',
        fit: null,
        rank: null,
        bits: s.bits,
        groupSize: s.groupSize,
        Q: quantize(randomArray(s.vocabSize * s.dim, 1, rng), s.vocabSize, s.dim, s.bits, s.groupSize),
      };
    case 'lowrank+quant':
      return {
        ...base,
        name: predictorName('lowrank+quant', {rank: s.rank, fit: 'svd', bits: s.bits}),
        kind: 'lowrank+quant',
        fit: 'svd',
        rank: s.rank,
        bits: s.bits,
        groupSize: s.rank,
        B: randomArray(s.rank * s.dim, 1 / Math.sqrt(s.dim), rng),
        Q: quantize(randomArray(s.vocabSize * s.rank, 1, rng), s.vocabSize, s.rank, s.bits, s.rank),
      };
  }
}
