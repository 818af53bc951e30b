/**
 * The output layer alone: dense z = W h against HiRE-Softmax (predictor, top-k', exact rows) on
 * the same random W [vocabSize, dim], timed in the same run.
 */
import {createBackend} from '../../backends/index.js';
import {DenseHead, type OutputHead} from '../../decode/output-head.js';
import {createRng} from '../../numeric/rng.js';
import {UsageError} from '../../errors.js';
import {HireSoftmaxHead} from '../../hire/softmax/head.js';
import {predictorBytes, type SoftmaxKind} from '../../hire/predictor/predictor.js';
import type {QuantBits} from '../../numeric/quant.js';
import {syntheticPredictor} from '../../hire/predictor/synthetic.js';

export interface OutputLayerBenchOptions {
  vocabSize: number;
  dim: number;
  kPrime: number;
  kind: SoftmaxKind;
  rank: number;
  bits: QuantBits;
  backend: string;
  threads?: number;
  /** Timed steps per head. */
  steps: number;
  onProgress?: (stage: string) => void;
}

export interface OutputLayerRow {
  head: string;
  msPerStep: number;
  bytesPerStep: number;
  speedup: number;
}

export interface OutputLayerReport {
  vocabSize: number;
  dim: number;
  kPrime: number;
  backend: string;
  predictor: string;
  predictorBytes: number;
  rows: OutputLayerRow[];
}

export async function benchOutputLayer(o: OutputLayerBenchOptions): Promise<OutputLayerReport> {
  if (o.kPrime < 1 || o.kPrime > o.vocabSize) throw new UsageError(`kPrime must be in 1..${o.vocabSize}`, {option: 'kPrime'});
  if (o.rank < 1 || o.rank > o.dim) throw new UsageError(`rank must be in 1..${o.dim}`, {option: 'rank'});
  const backend = await createBackend(o.backend, {threads: o.threads});
  try {
    o.onProgress?.(`building a random [${o.vocabSize}, ${o.dim}] output layer and a ${o.kind} predictor`);
    const rng = createRng(7);
    const w = new Float32Array(o.vocabSize * o.dim);
    for (let i = 0; i < w.length; i++) w[i] = rng() - 0.5;
    const lmHead = backend.uploadMatrix({dtype: 'f32', rows: o.vocabSize, cols: o.dim, data: w});
    const groupSize = o.dim % 64 === 0 ? 64 : o.dim;
    const predictor = syntheticPredictor({kind: o.kind, vocabSize: o.vocabSize, dim: o.dim, rank: o.rank, bits: o.bits, groupSize, seed: 3});
    const heads: OutputHead[] = [
      new DenseHead(backend, lmHead),
      new HireSoftmaxHead(backend, lmHead, predictor, {kPrime: o.kPrime, certifyK: null}),
    ];
    const h = backend.createVector(o.dim);
    const hs = Array.from({length: 8}, () => Float32Array.from({length: o.dim}, () => rng() - 0.5));
    const times: number[] = [];
    for (const head of heads) {
      o.onProgress?.(`timing ${head.describe()}`);
      for (let i = 0; i < 3; i++) await head.next(h); // warm up
      const t0 = performance.now();
      for (let i = 0; i < o.steps; i++) {
        backend.write(h, hs[i % hs.length]!);
        await head.next(h);
      }
      times.push((performance.now() - t0) / o.steps);
    }
    return {
      vocabSize: o.vocabSize,
      dim: o.dim,
      kPrime: o.kPrime,
      backend: backend.describe(),
      predictor: predictor.name,
      predictorBytes: predictorBytes(predictor),
      rows: heads.map((head, i) => ({head: head.describe(), msPerStep: times[i]!, bytesPerStep: head.bytesPerToken, speedup: times[0]! / times[i]!})),
    };
  } finally {
    backend.dispose();
  }
}
