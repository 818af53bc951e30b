/**
 * A HiRE predictor cut to one device's rows: rows of A (lowrank), of the quantised A
 * (lowrank+quant) or of the quantised W with their scales (quant), and of the error norms; B is
 * replicated. The result is an ordinary SoftmaxPredictor over the device's rows (in its local
 * order), so HireSoftmaxHead and UploadedPredictor run it as is.
 *
 *   softmax   the device's vocabulary rows (slicePredictor)
 *   FFN       the device's neurons: rows ids of W_gate~ then rows hiddenDim + ids of W_up~ for a
 *             gated FFN ([W_gate; W_up] predictor, 2 * hiddenDim rows), rows ids of W_in~ otherwise
 *             (sliceFfnPredictor); the slice is again [gate~; up~], so neuronScores reads it as is
 */
import {quantRowBytes} from '../numeric/quant.js';
import type {QuantMatrix} from '../numeric/quant.js';
import type {SoftmaxPredictor} from '../hire/predictor/predictor.js';
import {sliceIds, type VocabSlice} from './shard-plan.js';

export function slicePredictor(p: SoftmaxPredictor, slice: VocabSlice): SoftmaxPredictor {
  return predictorRows(p, sliceIds(slice));
}

/** A layer's FFN predictor cut to the listed neurons (global ids, the device's local order). */
export function sliceFfnPredictor(p: SoftmaxPredictor, neurons: Int32Array, hiddenDim: number, gated: boolean): SoftmaxPredictor {
  const expected = gated ? 2 * hiddenDim : hiddenDim;
  if (p.vocabSize !== expected) throw new RangeError(`FFN predictor has ${p.vocabSize} rows, the layer needs ${expected}`);
  if (!gated) return predictorRows(p, neurons);
  const rows = new Int32Array(2 * neurons.length);
  rows.set(neurons);
  neurons.forEach((n, i) => (rows[neurons.length + i] = hiddenDim + n));
  return predictorRows(p, rows);
}

/** The predictor restricted to rows `ids`, in that order. */
export function predictorRows(p: SoftmaxPredictor, ids: Int32Array): SoftmaxPredictor {
  return {
    ...p,
    vocabSize: ids.length,
    A: p.A ? gather(p.A, p.rank!, ids) : null,
    Q: p.Q ? gatherQuantRows(p.Q, ids) : null,
    errNorms: gather(p.errNorms, 1, ids),
  };
}

export function gatherQuantRows(q: QuantMatrix, ids: Int32Array): QuantMatrix {
  const rowBytes = quantRowBytes(q.bits, q.cols);
  const groups = Math.ceil(q.cols / q.groupSize);
  return {...q, rows: ids.length, data: gather(q.data, rowBytes, ids), scales: gather(q.scales, groups, ids)};
}

/** Rows `ids` of a row-major array with `width` elements per row. */
function gather<T extends Float32Array | Uint8Array>(src: T, width: number, ids: Int32Array): T {
  const out = new (src.constructor as new (n: number) => T)(ids.length * width);
  ids.forEach((r, i) => out.set(src.subarray(r * width, (r + 1) * width), i * width));
  return out;
}
