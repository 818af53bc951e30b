/**
 * The per-device FFN step and its HiRE-FFN hook: a selector that returns every row gives the dense
 * shard's output, and a selector that returns some rows gives the FFN with the other neurons
 * switched off (what per-device group selection will do).
 */
import {describe, expect, it} from 'vitest';
import {ReferenceBackend} from '../../../src/core/backends/reference/reference-backend.js';
import {ffnShardStep, type FfnShardContext} from '../../../src/core/parallel/shard-ffn.js';
import type {ShardLayer} from '../../../src/core/parallel/shard-weights.js';
import {rng} from '../../helpers/random.js';

const [n, dim] = [12, 8];
const rand = rng(17);
const mat = (rows: number, cols: number) => Float32Array.from({length: rows * cols}, () => rand() - 0.5);
const gate = mat(n, dim);
const up = mat(n, dim);
const downT = mat(n, dim);
const x = mat(1, dim);
const bGate = mat(1, n);
const bUp = mat(1, n);

/** y = sum over rows r in keep of silu(gate_r . x + bg_r) * (up_r . x + bu_r) * downT_r. */
function expected(keep: number[], biased = false): Float64Array {
  const y = new Float64Array(dim);
  for (const r of keep) {
    let g = biased ? bGate[r]! : 0;
    let u = biased ? bUp[r]! : 0;
    for (let j = 0; j < dim; j++) {
      g += gate[r * dim + j]! * x[j]!;
      u += up[r * dim + j]! * x[j]!;
    }
    const h = (g / (1 + Math.exp(-g))) * u;
    for (let j = 0; j < dim; j++) y[j] += h * downT[r * dim + j]!;
  }
  return y;
}

async function run(select: Int32Array | null, biased = false): Promise<Float32Array> {
  const b = new ReferenceBackend();
  const layer = {
    wGate: b.uploadMatrix({dtype: 'f32', rows: n, cols: dim, data: gate}),
    wUp: b.uploadMatrix({dtype: 'f32', rows: n, cols: dim, data: up}),
    wDownT: b.uploadMatrix({dtype: 'f32', rows: n, cols: dim, data: downT}),
    ...(biased ? {bGate: b.uploadVector(bGate), bUp: b.uploadVector(bUp)} : {}),
  } as ShardLayer;
  const ctx: FfnShardContext = {
    backend: b,
    activation: 'silu',
    hiddenDim: 2 * n,
    ids: Int32Array.from({length: n}, (_, i) => 100 + i),
    selector: select === null ? null : {select: () => select},
    topK: null,
  };
  const out = b.createVector(dim);
  await ffnShardStep(ctx, 0, layer, b.uploadVector(x), out);
  return b.read(out);
}

describe('per-device FFN step', () => {
  it('computes the dense shard without a selector, and the same with a selector of every row', async () => {
    const all = Array.from({length: n}, (_, i) => i);
    const dense = await run(null);
    dense.forEach((v, j) => expect(v).toBeCloseTo(expected(all)[j]!, 5));
    expect(Array.from(await run(Int32Array.from(all)))).toEqual(Array.from(dense));
  });

  it('with a selector, computes only the selected rows (the HiRE-FFN hook)', async () => {
    const keep = [1, 4, 5, 11];
    const y = await run(Int32Array.from(keep));
    y.forEach((v, j) => expect(v).toBeCloseTo(expected(keep)[j]!, 5));
  });

  it('with a selector and FFN biases, adds the biases of the selected rows (gathered)', async () => {
    const keep = [0, 3, 4, 9];
    const y = await run(Int32Array.from(keep), true);
    y.forEach((v, j) => expect(v).toBeCloseTo(expected(keep, true)[j]!, 5));
    const all = Array.from({length: n}, (_, i) => i);
    const dense = await run(null, true);
    dense.forEach((v, j) => expect(v).toBeCloseTo(expected(all, true)[j]!, 5));
  });
});
