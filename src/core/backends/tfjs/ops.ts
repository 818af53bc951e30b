/** Small tfjs helpers of the tfjs backend: a row tensor over host values, and the activations as tfjs ops. */
import * as tf from '@tensorflow/tfjs-core';
import type {Activation} from '../../model/config.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** A [1, n] tensor over `values` (which the cpu engine keeps without copying: pass a fresh array). */
export function row(values: Float32Array): tf.Tensor2D {
  return tf.tensor2d(values, [1, values.length]);
}

/** act(x) as tfjs ops (call inside tf.tidy). */
export function activate(kind: Activation, x: tf.Tensor): tf.Tensor {
  switch (kind) {
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'relu':
      return tf.relu(x);
    case 'gelu': // exact: 0.5 x (1 + erf(x / sqrt 2))
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'gelu_tanh': // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      return tf.mul(
        tf.mul(x, 0.5),
        tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), SQRT_2_OVER_PI))),
      );
  }
}
