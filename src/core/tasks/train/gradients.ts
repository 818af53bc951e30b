/**
 * Gradients for the tfjs kernels the training forward pass records.
 *
 * tfjs-core alone ships no gradient definitions in its Node bundle (the union package
 * @tensorflow/tfjs registers them from ES modules that Node cannot import), so autodiff fails with
 * "gradient function not found". These are the textbook derivatives for exactly the kernels
 * model.ts uses on the tape; ops.ts's custom-gradient ops bring their own. A kernel that already
 * has a gradient (someone loaded @tensorflow/tfjs in the same process) keeps it.
 * test/core/train/gradients.test.ts checks each against finite differences.
 */
import * as tf from '@tensorflow/tfjs-core';
import {matMul} from './ops.js';

type Grads = Record<string, () => tf.Tensor>;

/** Sums dy over the axes along which an input of `shape` was broadcast to dy's shape. */
function unbroadcast(dy: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const out = dy.shape;
  const axes: number[] = [];
  for (let i = 0; i < out.length; i++) {
    const inDim = shape[shape.length - out.length + i];
    if (inDim === undefined || (inDim === 1 && out[i]! > 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return tf.reshape(summed, [...shape]);
}

/** x's shape with the reduced axes set to 1, and how many elements each output summed. */
function keptShape(x: tf.Tensor, axis: number | number[] | null | undefined): {shape: number[]; count: number} {
  const axes = axis === null || axis === undefined ? x.shape.map((_, i) => i) : (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + x.rank : a));
  return {shape: x.shape.map((n, i) => (axes.includes(i) ? 1 : n)), count: axes.reduce((n, a) => n * x.shape[a]!, 1)};
}

const CONFIGS: tf.GradConfig[] = [
  {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs): Grads => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const {transposeA, transposeB} = attrs as unknown as {transposeA: boolean; transposeB: boolean};
      const d = dy as tf.Tensor;
      if (!transposeA && !transposeB) return {a: () => matMul(d, b, false, true), b: () => matMul(a, d, true, false)};
      if (!transposeA && transposeB) return {a: () => matMul(d, b, false, false), b: () => matMul(d, a, true, false)};
      if (transposeA && !transposeB) return {a: () => matMul(b, d, false, true), b: () => matMul(a, d, false, false)};
      return {a: () => matMul(b, d, true, true), b: () => matMul(d, a, true, true)};
    },
  },
  {
    kernelName: 'Add',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved): Grads => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const d = dy as tf.Tensor;
      return {a: () => unbroadcast(d, a.shape), b: () => unbroadcast(d, b.shape)};
    },
  },
  {
    kernelName: 'Sub',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved): Grads => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const d = dy as tf.Tensor;
      return {a: () => unbroadcast(d, a.shape), b: () => tf.neg(unbroadcast(d, b.shape))};
    },
  },
  {
    kernelName: 'Multiply',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved): Grads => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const d = dy as tf.Tensor;
      return {a: () => unbroadcast(tf.mul(d, b), a.shape), b: () => unbroadcast(tf.mul(d, a), b.shape)};
    },
  },
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, saved): Grads => {
      const [x] = saved as [tf.Tensor];
      return {x: () => tf.reshape(dy as tf.Tensor, x.shape)};
    },
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs): Grads => {
      const {perm} = attrs as unknown as {perm: number[]};
      const inverse = new Array<number>(perm.length);
      perm.forEach((p, i) => (inverse[p] = i));
      return {x: () => tf.transpose(dy as tf.Tensor, inverse)};
    },
  },
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs): Grads => {
      const [y] = saved as [tf.Tensor];
      const {dim} = attrs as unknown as {dim: number};
      const d = dy as tf.Tensor;
      return {logits: () => tf.mul(y, tf.sub(d, tf.sum(tf.mul(d, y), [dim], true)))};
    },
  },
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved): Grads => {
      const [x] = saved as [tf.Tensor];
      return {x: () => tf.mul(dy as tf.Tensor, tf.step(x))};
    },
  },
  {
    kernelName: 'Square',
    inputsToSave: ['x'],
    gradFunc: (dy, saved): Grads => {
      const [x] = saved as [tf.Tensor];
      return {x: () => tf.mul(dy as tf.Tensor, tf.mul(x, 2))};
    },
  },
  {
    kernelName: 'Rsqrt',
    inputsToSave: ['x'],
    gradFunc: (dy, saved): Grads => {
      const [x] = saved as [tf.Tensor];
      // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 rsqrt(x) / x
      return {x: () => tf.mul(dy as tf.Tensor, tf.div(tf.mul(tf.rsqrt(x), -0.5), x))};
    },
  },
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs): Grads => {
      const [x] = saved as [tf.Tensor];
      const {axis} = attrs as unknown as {axis: number | number[] | null};
      const kept = keptShape(x, axis);
      return {x: () => tf.mul(tf.reshape(dy as tf.Tensor, kept.shape), tf.onesLike(x))};
    },
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs): Grads => {
      const [x] = saved as [tf.Tensor];
      const {axis} = attrs as unknown as {axis: number | number[] | null};
      const kept = keptShape(x, axis);
      // mul by a filled tensor, not broadcastTo: tfjs-wasm's Tile is slow
      return {x: () => tf.mul(tf.reshape(dy as tf.Tensor, kept.shape), tf.fill(x.shape, 1 / kept.count))};
    },
  },
];

let registered = false;

/** Registers the gradients above (once per process; existing registrations win). */
export function registerTrainingGradients(): void {
  if (registered) return;
  registered = true;
  for (const config of CONFIGS) {
    if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}
