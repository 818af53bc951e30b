/**
 * The training ops tfjs does not provide in a form that runs (with gradients) on its wasm engine:
 * - `embedRows`: row lookup whose gradient is a scatter-add done in JS (tfjs's own gather
 *   gradient needs UnsortedSegmentSum, which the wasm engine lacks);
 * - `keepTopK`: the top-k FFN mask, with the mask held constant in the backward pass;
 * - `crossEntropy`: mean next-token loss from logits and integer labels, with the usual
 *   (softmax - onehot) / N gradient;
 * plus RMSNorm and the RoPE rotation, written the way Hugging Face Llama computes them.
 */
import * as tf from '@tensorflow/tfjs-core';
import {kthLargest} from '../../numeric/select.js';

type Forward = (x: tf.Tensor, save: tf.GradSaveFunc) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor;
};

/** A one-input op with a hand-written gradient (tf.customGrad, typed for one input). */
function unaryCustomGrad(forward: Forward): (x: tf.Tensor) => tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) =>
    forward(args[0] as tf.Tensor, args[1] as tf.GradSaveFunc),
  );
  return (x) => op(x);
}

/**
 * op(a) @ op(b), op = transpose when the flag is set, without ever asking the kernel to transpose:
 * tfjs-wasm multiplies plain operands about ten times faster than transposed ones. Of the two
 * equivalent forms, op(a) @ op(b) and (op(b)^T @ op(a)^T)^T, the one that moves fewer elements
 * through explicit transposes is used. Only the last two axes are transposed (batched matmul).
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const t = (x: tf.Tensor) => {
    const perm = x.shape.map((_, i) => i);
    perm[perm.length - 2] = perm.length - 1;
    perm[perm.length - 1] = perm.length - 2;
    return tf.transpose(x, perm);
  };
  const rows = a.shape[a.rank - (transposeA ? 1 : 2)]!;
  const cols = b.shape[b.rank - (transposeB ? 2 : 1)]!;
  const outSize = (a.size / (a.shape[a.rank - 1]! * a.shape[a.rank - 2]!)) * rows * cols;
  const direct = (transposeA ? a.size : 0) + (transposeB ? b.size : 0);
  const swapped = (transposeA ? 0 : a.size) + (transposeB ? 0 : b.size) + outSize;
  if (direct <= swapped) return tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b);
  // (op(b)^T @ op(a)^T)^T: op(b)^T is b itself when transposeB, else b transposed.
  return t(tf.matMul(transposeB ? b : t(b), transposeA ? a : t(a)));
}

/**
 * Batched op(a) @ op(b) over the leading axes of rank-3+ operands with equal leading shapes, as
 * one 2D product per slice: tfjs-wasm's batched kernel is about 4x slower than a loop of 2D
 * products at attention sizes. Carries its own gradient (the same loop on the backward pass).
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x, y]);
    const value = perSlice(x, y, transposeA, transposeB);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xa, yb] = saved as [tf.Tensor, tf.Tensor];
      if (!transposeA && !transposeB) return [perSlice(dy, yb, false, true), perSlice(xa, dy, true, false)];
      if (!transposeA && transposeB) return [perSlice(dy, yb, false, false), perSlice(dy, xa, true, false)];
      if (transposeA && !transposeB) return [perSlice(yb, dy, false, true), perSlice(xa, dy, false, false)];
      return [perSlice(yb, dy, true, true), perSlice(dy, xa, true, true)];
    };
    return {value, gradFunc};
  });
  return op(a, b);
}

/**
 * The per-slice loop. Slices travel through JS (dataSync, then new tensors): tfjs-wasm's Unpack,
 * Slice and Pack kernels cost more than the products themselves at these sizes.
 */
function perSlice(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  const n = lead.reduce((x, y) => x * y, 1);
  const [ra, ca] = [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [rb, cb] = [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  const rows = transposeA ? ca : ra;
  const cols = transposeB ? rb : cb;
  const ad = a.dataSync() as Float32Array;
  const bd = b.dataSync() as Float32Array;
  const out = new Float32Array(n * rows * cols);
  for (let i = 0; i < n; i++) {
    tf.tidy(() => {
      const x = tf.tensor2d(ad.subarray(i * ra * ca, (i + 1) * ra * ca), [ra, ca]);
      const y = tf.tensor2d(bd.subarray(i * rb * cb, (i + 1) * rb * cb), [rb, cb]);
      out.set(matMul(x, y, transposeA, transposeB).dataSync(), i * rows * cols);
    });
  }
  return tf.tensor(out, [...lead, rows, cols]);
}

/** table[ids] -> [ids.length, cols]; d table = scatter-add of the output gradient rows. */
export function embedRows(table: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
  const [rows, cols] = table.shape;
  const op = unaryCustomGrad((t) => {
    const value = tf.gather(t, tf.tensor1d(ids, 'int32')) as tf.Tensor2D;
    const gradFunc = (dy: tf.Tensor) => {
      const g = dy.dataSync() as Float32Array; // [ids.length, cols]
      const out = new Float32Array(rows * cols);
      for (let i = 0; i < ids.length; i++) {
        const src = i * cols;
        const dst = ids[i]! * cols;
        for (let j = 0; j < cols; j++) out[dst + j]! += g[src + j]!;
      }
      return tf.tensor2d(out, [rows, cols]);
    };
    return {value, gradFunc};
  });
  return op(table) as tf.Tensor2D;
}

/**
 * Keeps, in each row of `a` [n, hiddenDim], the k entries of largest |a| (or largest a when
 * `byMagnitude` is false) and zeros the rest. The threshold is the k-th largest key of the row and
 * entries equal to it are kept (exact ties are measure-zero except exact zeros, which contribute
 * nothing either way). Backward: the gradient passes through the kept entries only.
 */
export function keepTopK(a: tf.Tensor2D, k: number, byMagnitude: boolean): tf.Tensor2D {
  const [rows, n] = a.shape;
  if (k >= n) return a;
  const op = unaryCustomGrad((x, save) => {
    // In JS: a radix selection per row (kthLargest) beats tfjs-wasm's abs + TopK + broadcast compare.
    const values = x.dataSync() as Float32Array;
    const mask = new Float32Array(rows * n);
    const key = new Float32Array(n);
    for (let r = 0; r < rows; r++) {
      const row = values.subarray(r * n, (r + 1) * n);
      for (let j = 0; j < n; j++) key[j] = byMagnitude ? Math.abs(row[j]!) : row[j]!;
      const threshold = kthLargest(key, k);
      for (let j = 0; j < n; j++) mask[r * n + j] = (byMagnitude ? Math.abs(row[j]!) : row[j]!) >= threshold ? 1 : 0;
    }
    const m = tf.tensor2d(mask, [rows, n]);
    save([m]);
    return {value: tf.mul(x, m), gradFunc: (dy, saved) => tf.mul(dy, saved[0]!)};
  });
  return op(a) as tf.Tensor2D;
}

/** Mean over rows of -log softmax(logits)[label]; logits [n, vocabSize], labels [n]. */
export function crossEntropy(logits: tf.Tensor2D, labels: Int32Array): tf.Scalar {
  const [n, vocab] = logits.shape;
  const op = unaryCustomGrad((z, save) => {
    // One exp over the logits, shared by the loss and (as probabilities) the gradient.
    const max = tf.max(z, -1, true); // [n, 1]
    const e = tf.exp(tf.sub(z, max));
    const sum = tf.sum(e, -1, true); // [n, 1]
    const lse = tf.reshape(tf.add(tf.log(sum), max), [n]);
    const flat = new Int32Array(n);
    for (let i = 0; i < n; i++) flat[i] = i * vocab + labels[i]!;
    const picked = tf.gather(tf.reshape(z, [-1]), tf.tensor1d(flat, 'int32')); // [n]
    save([tf.div(e, sum)]);
    const value = tf.mean(tf.sub(lse, picked));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), vocab);
      return tf.mul(tf.sub(saved[0]!, onehot), tf.div(dy, n));
    };
    return {value, gradFunc};
  });
  return op(logits) as tf.Scalar;
}

/** x * rsqrt(mean(x^2) + eps) * weight over the last axis; x [n, dim], weight [dim]. */
export function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
}

/** cos and sin tables [contextLength, 1, headDim] for the HF rotate_half layout. */
export interface RopeTables {
  cos: tf.Tensor3D;
  sin: tf.Tensor3D;
  /** [headDim, headDim]: x @ rotateHalf = concat(-x2, x1). */
  rotateHalf: tf.Tensor2D;
}

/** inv_freq[i] = 1 / theta^(2i / headDim), rounded as HF rounds it (float32 at each step). */
export function ropeInvFreq(headDim: number, theta: number): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim))));
  return inv;
}

export function ropeTables(contextLength: number, headDim: number, theta: number): RopeTables {
  const half = headDim / 2;
  const inv = ropeInvFreq(headDim, theta);
  const cos = new Float32Array(contextLength * headDim);
  const sin = new Float32Array(contextLength * headDim);
  for (let t = 0; t < contextLength; t++) {
    for (let i = 0; i < headDim; i++) {
      const angle = Math.fround(t * inv[i % half]!);
      cos[t * headDim + i] = Math.cos(angle);
      sin[t * headDim + i] = Math.sin(angle);
    }
  }
  const rot = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    rot[(i + half) * headDim + i] = -1; // out[i] = -x[i + half]
    rot[i * headDim + i + half] = 1; // out[i + half] = x[i]
  }
  return {
    cos: tf.tensor3d(cos, [contextLength, 1, headDim]),
    sin: tf.tensor3d(sin, [contextLength, 1, headDim]),
    rotateHalf: tf.tensor2d(rot, [headDim, headDim]),
  };
}

/** Rotates x [batch, T, heads, headDim] by position (0..T-1): x cos + rotate_half(x) sin. */
export function applyRope(x: tf.Tensor4D, rope: RopeTables): tf.Tensor4D {
  const [b, t, h, d] = x.shape;
  const rotated = tf.reshape(matMul(tf.reshape(x, [b * t * h, d]), rope.rotateHalf), [b, t, h, d]);
  const cos = t === rope.cos.shape[0] ? rope.cos : tf.slice(rope.cos, [0, 0, 0], [t, 1, d]);
  const sin = t === rope.sin.shape[0] ? rope.sin : tf.slice(rope.sin, [0, 0, 0], [t, 1, d]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}
