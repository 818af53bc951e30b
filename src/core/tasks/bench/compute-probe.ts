/**
 * The compute side of a bench report, beside the bandwidth probe: how many weight operations per
 * second the backend's matvec kernel sustains on a matrix small enough to stay in cache (so memory
 * bandwidth does not limit it), in the model's main weight format. A decode row whose GOP/s comes
 * close to this is compute-bound (the kernel, not memory, sets its speed); one whose bytes/s comes
 * close to the bandwidth probe is memory-bound. One operation is a multiply or an add: a matvec on
 * a [rows, cols] matrix is 2 rows cols operations.
 */
import type {Backend, MatDtype} from '../../backends/backend.js';
import type {ModelWeights} from '../../decode/weights.js';
import type {HostMatrix} from '../../model/weights.js';
import {halfBits, isBlockFormat, quantizeBlocks} from '../../numeric/ggml-quant.js';
import {createRng} from '../../numeric/rng.js';

/** The in-cache matrix of the probe: 1024 x 512 weights (2 MB in f32, 288 kB in q4_0). */
export const COMPUTE_PROBE_SHAPE = {rows: 1024, cols: 512} as const;

export interface ComputeProbe {
  /** The weight format timed (the model's largest matrix's). */
  dtype: MatDtype;
  rows: number;
  cols: number;
  /** Best of the timed rounds: 2 rows cols operations per matvec. */
  opsPerSecond: number;
}

/** Weight operations of one dense decode step: 2 per weight of every matrix read whole, 0 for embedding lookups. */
export function denseWeightOps(w: ModelWeights): number {
  let weights = 0;
  for (const m of [w.projectIn, w.projectOut, w.lmHead]) if (m) weights += m.rows * m.cols;
  for (const l of w.layers) {
    for (const m of [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown, l.wDownT]) if (m) weights += m.rows * m.cols;
  }
  return 2 * weights;
}

/** A random matrix of this dtype in host memory (values do not change the timing). */
function probeMatrix(dtype: MatDtype, rows: number, cols: number): HostMatrix {
  const rng = createRng(7);
  const values = Float32Array.from({length: rows * cols}, () => (rng() - 0.5) * 0.1);
  if (isBlockFormat(dtype)) return {dtype, rows, cols, data: quantizeBlocks(dtype, values, rows, cols)};
  if (dtype === 'f32') return {dtype, rows, cols, data: values};
  const u32 = new Uint32Array(values.buffer);
  const half = dtype === 'f16' ? Uint16Array.from(values, (v) => halfBits(v)) : Uint16Array.from(u32, (u) => u >>> 16);
  if (dtype !== 'f16' && dtype !== 'bf16') throw new RangeError(`compute probe: no host matrix of dtype ${dtype}`);
  return {dtype, rows, cols, data: half};
}

/**
 * Times `rounds` rounds of `perRound` matvecs on the in-cache matrix and keeps the fastest round.
 * The matrix and vectors are the backend's, so the figure includes its per-call overhead (thread
 * hand-off on cpu), as decoding does.
 */
export async function measureComputeOps(backend: Backend, dtype: MatDtype, rounds = 5, perRound = 40): Promise<ComputeProbe> {
  const {rows, cols} = COMPUTE_PROBE_SHAPE;
  const w = backend.uploadMatrix(probeMatrix(dtype, rows, cols));
  const x = backend.uploadVector(Float32Array.from({length: cols}, (_, i) => Math.sin(i)));
  const out = backend.createVector(rows);
  backend.matvec(w, x, out);
  await backend.read(out); // warm-up: JIT, threads awake, matrix in cache
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRound; i++) backend.matvec(w, x, out);
    await backend.read(out);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return {dtype, rows, cols, opsPerSecond: (2 * rows * cols * perRound) / best};
}

/** The main weight format of a model: the dtype of its layers' largest matrix (the lm head's for a model without layers). */
export function mainWeightDtype(w: ModelWeights): MatDtype {
  const l = w.layers[0];
  const mats = l ? [l.wq, l.wUp, l.wGate, l.wDown].filter((m) => m !== undefined) : [];
  mats.sort((a, b) => b.rows * b.cols - a.rows * a.cols);
  return (mats[0] ?? w.lmHead).dtype;
}
