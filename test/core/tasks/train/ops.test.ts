/**
 * The training ops and gradients on the tfjs wasm engine: matMul/batchMatMul against plain tfjs,
 * the top-k mask against the decoder's keepTopKHost, RoPE against a direct rotate_half, every
 * registered kernel gradient against finite differences, and the whole model's gradient as a
 * descent direction.
 */
import * as tf from '@tensorflow/tfjs-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {acquireEngine, type Engine} from '../../../../src/core/backends/tfjs/engine.js';
import {keepTopKHost} from '../../../../src/core/backends/host/host-kernels.js';
import {registerTrainingGradients} from '../../../../src/core/tasks/train/gradients.js';
import {TrainModel, type ModelShape} from '../../../../src/core/tasks/train/model.js';
import {applyRope, batchMatMul, crossEntropy, keepTopK, matMul, ropeInvFreq, ropeTables} from '../../../../src/core/tasks/train/ops.js';
import {Rng} from '../../../../src/core/tasks/train/rng.js';

let engine: Engine;
beforeAll(async () => {
  engine = await acquireEngine();
  registerTrainingGradients();
});
afterAll(() => engine?.release());

function random(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(new Rng(seed).normalArray(n, 1), shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('matrix products', () => {
  it('matMul matches tfjs for every transpose combination and both evaluation orders', () => {
    tf.tidy(() => {
      for (const [m, k, n] of [[5, 3, 4], [64, 8, 2], [2, 8, 64]]) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const a = random(ta ? [k!, m!] : [m!, k!], 1);
            const b = random(tb ? [n!, k!] : [k!, n!], 2);
            expect(maxAbsDiff(matMul(a, b, ta, tb), tf.matMul(a, b, ta, tb))).toBeLessThan(1e-5);
          }
        }
      }
    });
  });

  it('batchMatMul matches tfjs, values and gradients', () => {
    tf.tidy(() => {
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        const a = random(ta ? [2, 3, 4, 5] : [2, 3, 5, 4], 3);
        const b = random(tb ? [2, 3, 6, 4] : [2, 3, 4, 6], 4);
        const w = random([2, 3, 5, 6], 5);
        expect(maxAbsDiff(batchMatMul(a, b, ta, tb), tf.matMul(a, b, ta, tb))).toBeLessThan(1e-5);
        const ours = tf.grads((x, y) => tf.sum(tf.mul(batchMatMul(x!, y!, ta, tb), w)))([a, b]);
        // The reference gradient, written out: d<w, op(a) op(b)>.
        const opB = tb ? tf.transpose(b, [0, 1, 3, 2]) : b;
        const opA = ta ? tf.transpose(a, [0, 1, 3, 2]) : a;
        const dOpA = tf.matMul(w, opB, false, true);
        const dOpB = tf.matMul(opA, w, true, false);
        expect(maxAbsDiff(ours[0]!, ta ? tf.transpose(dOpA, [0, 1, 3, 2]) : dOpA)).toBeLessThan(1e-4);
        expect(maxAbsDiff(ours[1]!, tb ? tf.transpose(dOpB, [0, 1, 3, 2]) : dOpB)).toBeLessThan(1e-4);
      }
    });
  });
});

describe('top-k FFN mask', () => {
  it('keeps what the decoder keeps (keepTopKHost), by magnitude and by value', () => {
    const rows = 7;
    const n = 40;
    for (const byMagnitude of [true, false]) {
      for (const k of [1, 4, 13, 40]) {
        const x = random([rows, n], 10 + k);
        const ours = tf.tidy(() => keepTopK(x as tf.Tensor2D, k, byMagnitude).dataSync());
        const data = x.dataSync();
        for (let r = 0; r < rows; r++) {
          const row = Array.from(data.subarray(r * n, (r + 1) * n));
          keepTopKHost(row, k, byMagnitude);
          expect(Array.from(ours.subarray(r * n, (r + 1) * n), (v) => v + 0)).toEqual(row.map((v) => Math.fround(v) + 0)); // +0: -0 -> 0
        }
        x.dispose();
      }
    }
  });

  it('passes the gradient through the kept entries only', () => {
    tf.tidy(() => {
      const x = random([3, 10], 20);
      const w = random([3, 10], 21);
      const g = tf.grad((a) => tf.sum(tf.mul(keepTopK(a as tf.Tensor2D, 3, true), w)))(x);
      const kept = keepTopK(x as tf.Tensor2D, 3, true).dataSync();
      const gd = g.dataSync();
      const wd = w.dataSync();
      for (let i = 0; i < 30; i++) expect(gd[i]! + 0).toBe(kept[i] !== 0 ? wd[i] : 0); // +0: -0 -> 0
    });
  });
});

describe('RoPE and the loss', () => {
  it('rotates pairs (i, i + headDim/2) by position * inv_freq (HF rotate_half)', () => {
    const [b, t, h, d] = [1, 5, 2, 8];
    const rope = ropeTables(t, d, 10000);
    const x = random([b, t, h, d], 30);
    const ours = tf.tidy(() => applyRope(x as tf.Tensor4D, rope).dataSync());
    const xd = x.dataSync();
    const inv = ropeInvFreq(d, 10000);
    for (let p = 0; p < t; p++) {
      for (let head = 0; head < h; head++) {
        const o = (p * h + head) * d;
        for (let i = 0; i < d / 2; i++) {
          const angle = p * inv[i]!;
          const [x1, x2] = [xd[o + i]!, xd[o + i + d / 2]!];
          expect(ours[o + i]).toBeCloseTo(x1 * Math.cos(angle) - x2 * Math.sin(angle), 5);
          expect(ours[o + i + d / 2]).toBeCloseTo(x2 * Math.cos(angle) + x1 * Math.sin(angle), 5);
        }
      }
    }
    for (const z of [rope.cos, rope.sin, rope.rotateHalf, x]) z.dispose();
  });

  it('crossEntropy is the mean -log softmax of the label, with the softmax - onehot gradient', () => {
    tf.tidy(() => {
      const z = random([4, 6], 40);
      const labels = Int32Array.from([0, 5, 2, 2]);
      const expected = tf.mean(tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(tf.tensor1d(labels, 'int32'), 6)), -1)));
      expect(crossEntropy(z as tf.Tensor2D, labels).dataSync()[0]).toBeCloseTo(expected.dataSync()[0]!, 5);
      const g = tf.grad((x) => crossEntropy(x as tf.Tensor2D, labels))(z);
      const want = tf.div(tf.sub(tf.softmax(z), tf.oneHot(tf.tensor1d(labels, 'int32'), 6)), 4);
      expect(maxAbsDiff(g, want)).toBeLessThan(1e-6);
    });
  });
});

/**
 * Directional finite difference of f at xs along a random direction per input, against the
 * autodiff gradient: (f(x + e d) - f(x - e d)) / 2e ~ <grad, d>.
 */
function checkGradient(name: string, f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[]): void {
  tf.tidy(() => {
    const grads = tf.grads((...args: tf.Tensor[]) => f(...args))(xs);
    const eps = 1e-3;
    xs.forEach((x, i) => {
      const dir = random(x.shape, 100 + i);
      const shifted = (s: number) => f(...xs.map((y, j) => (j === i ? tf.add(y, tf.mul(dir, s)) : y))).dataSync()[0]!;
      const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
      const analytic = tf.sum(tf.mul(grads[i]!, dir)).dataSync()[0]!;
      expect(Math.abs(numeric - analytic), `${name} input ${i}: numeric ${numeric}, analytic ${analytic}`).toBeLessThan(
        5e-3 * Math.max(1, Math.abs(analytic)),
      );
    });
  });
}

describe('registered kernel gradients', () => {
  const w = (shape: number[]) => random(shape, 99);
  const dot = (y: tf.Tensor) => tf.sum(tf.mul(y, w(y.shape))) as tf.Scalar;

  it('BatchMatMul, 2D and batched, every transpose combination', () => {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      checkGradient(`matMul ${ta} ${tb}`, (a, b) => dot(tf.matMul(a!, b!, ta, tb)), [random(ta ? [4, 3] : [3, 4], 1), random(tb ? [5, 4] : [4, 5], 2)]);
      checkGradient(`batched ${ta} ${tb}`, (a, b) => dot(tf.matMul(a!, b!, ta, tb)), [random(ta ? [2, 4, 3] : [2, 3, 4], 3), random(tb ? [2, 5, 4] : [2, 4, 5], 4)]);
    }
  });

  it('Add, Sub, Multiply with broadcasting', () => {
    for (const [sa, sb] of [[[3, 4], [3, 4]], [[3, 4], [4]], [[3, 4], [3, 1]], [[2, 3, 4], [3, 1]]]) {
      checkGradient(`add ${sa} ${sb}`, (a, b) => dot(tf.add(a!, b!)), [random(sa!, 5), random(sb!, 6)]);
      checkGradient(`sub ${sa} ${sb}`, (a, b) => dot(tf.sub(a!, b!)), [random(sa!, 5), random(sb!, 6)]);
      checkGradient(`mul ${sa} ${sb}`, (a, b) => dot(tf.mul(a!, b!)), [random(sa!, 5), random(sb!, 6)]);
    }
  });

  it('Reshape, Transpose, Softmax, Square, Rsqrt, Relu, Mean, Sum', () => {
    const x = random([2, 3, 4], 7);
    checkGradient('reshape', (a) => dot(tf.reshape(a!, [6, 4])), [x]);
    checkGradient('transpose', (a) => dot(tf.transpose(a!, [1, 2, 0])), [x]);
    checkGradient('softmax', (a) => dot(tf.softmax(a!)), [x]);
    checkGradient('square', (a) => dot(tf.square(a!)), [x]);
    const positive = tf.tidy(() => tf.add(tf.abs(x), 0.5));
    checkGradient('rsqrt', (a) => dot(tf.rsqrt(a!)), [positive]);
    // relu away from its kink: every |x| >= 0.2
    const away = tf.tidy(() => tf.add(x, tf.mul(tf.sign(x), 0.2)));
    checkGradient('relu', (a) => dot(tf.relu(a!)), [away]);
    checkGradient('mean', (a) => dot(tf.mean(a!, -1, true)), [x]);
    checkGradient('mean all', (a) => tf.mean(tf.square(a!)) as tf.Scalar, [x]);
    checkGradient('sum', (a) => dot(tf.sum(a!, [0, 2])), [x]);
    tf.dispose([away, positive, x]);
  });
});

describe('model gradient', () => {
  const shape: ModelShape = {
    vocabSize: 23, dim: 8, nLayers: 2, nHeads: 2, hiddenDim: 12, contextLength: 6, ffnTopK: null, ropeTheta: 10000, normEps: 1e-5,
  };

  for (const ffnTopK of [null, 0.25]) {
    it(`is a descent direction with the expected slope (FFN ${ffnTopK === null ? 'dense' : `top-k ${ffnTopK}`})`, () => {
      const model = new TrainModel({...shape, ffnTopK}, 3);
      const rng = new Rng(5);
      model.load(new Map([...model.params].map(([name, v]) => [name, rng.normalArray(v.size, 0.3)])));
      const rngIds = new Rng(9);
      const inputs = Int32Array.from({length: 12}, () => rngIds.int(23));
      const targets = Int32Array.from({length: 12}, () => rngIds.int(23));
      const loss = () => tf.tidy(() => model.loss(inputs, targets, 2).dataSync()[0]!);
      const vars = [...model.params.values()];
      const {value, grads} = tf.variableGrads(() => model.loss(inputs, targets, 2), vars);
      const before = value.dataSync()[0]!;
      const norm2 = vars.reduce((s, v) => s + tf.tidy(() => tf.sum(tf.square(grads[v.name]!)).dataSync()[0]!), 0);
      // Step of length eta along -grad/|grad|: the loss drops by about eta |grad|.
      const eta = 1e-3;
      for (const v of vars) v.assign(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name]!, eta / Math.sqrt(norm2)))));
      const slope = (before - loss()) / eta;
      expect(slope / Math.sqrt(norm2)).toBeGreaterThan(0.9);
      expect(slope / Math.sqrt(norm2)).toBeLessThan(1.1);
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
    });
  }
});
